"""What a change touches, as rows for the gate: the backends whose files the
diff between two revisions changes, and the workloads whose file changes.

    touched(repo, base_sha, other_sha or None) -> (backends, workloads)
        each a dict name -> the reason ("core/backends/percpu.c changed")

A backend's files: core/backends/<header>.h and core/backends/<header>.c,
where core/backends.list says which header each backend uses (`<name>
[<header>]`, the header defaulting to the name): a change to percpu.c
touches percpu and percpu_atomic. A line of core/backends.list that
changes touches its backend. A workload's file is bench/workloads/<name>.c
for a workload of that name. Only names both revisions know are returned
(a backend added by the change has nothing to be compared with). other_sha
None means the working tree, uncommitted changes included.
"""

import os
import subprocess

from .cli import InputError

LIST = "core/backends.list"


def git(repo, *argv):
    r = subprocess.run(["git", "-C", repo, *argv], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise InputError(f"git {' '.join(argv)} failed: "
                         f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return r.stdout


def show(repo, rev, path):
    """A file's text at rev (None: the working tree), or None when absent."""
    if rev is None:
        try:
            with open(os.path.join(repo, path), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return None
    r = subprocess.run(["git", "-C", repo, "show", f"{rev}:{path}"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, errors="replace")
    return r.stdout if r.returncode == 0 else None


def backend_lines(text):
    """core/backends.list's text -> {backend: (header, the line)}."""
    out = {}
    for line in (text or "").splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            out[words[0]] = (words[1] if len(words) > 1 else words[0], " ".join(words))
    return out


def workload_names(repo, rev):
    """The workloads a revision has a file for: bench/workloads/<name>.c
    holding a workload descriptor (`struct kb_workload`)."""
    if rev is None:
        d = os.path.join(repo, "bench", "workloads")
        files = sorted(f for f in os.listdir(d) if f.endswith(".c")) if os.path.isdir(d) else []
    else:
        files = [os.path.basename(f) for f in git(repo, "ls-tree", "--name-only", rev,
                                                   "bench/workloads/").splitlines()
                 if f.endswith(".c")]
    out = set()
    for f in files:
        text = show(repo, rev, f"bench/workloads/{f}") or ""
        if "struct kb_workload" in text and f"\"{f[:-2]}\"" in text:
            out.add(f[:-2])
    return out


def touched(repo, base, other):
    args = ["diff", "--name-only", base] + ([other] if other else []) + ["--"]
    changed = sorted(set(git(repo, *args).split("\n")) - {""})
    old, new = backend_lines(show(repo, base, LIST)), backend_lines(show(repo, other, LIST))
    both = set(old) & set(new)
    backends, workloads = {}, {}
    for name in sorted(both):
        header = new[name][0]
        for ext in (".h", ".c"):
            path = f"core/backends/{header}{ext}"
            if path in changed:
                backends.setdefault(name, f"{path} changed"
                                    + ("" if header == name else f" (its header is {header})"))
        if old[name] != new[name]:
            backends.setdefault(name, f"its line in {LIST} changed")
    wl_changed = [p for p in changed if p.startswith("bench/workloads/") and p.endswith(".c")]
    if wl_changed:
        known = workload_names(repo, base) & workload_names(repo, other)
        for path in wl_changed:
            name = os.path.basename(path)[:-2]
            if name in known:
                workloads[name] = f"{path} changed"
    return backends, workloads


def guard(args, sweep, revs):
    """The gate's sweep (a krefbench argument list) with the touched
    backends and workloads added to --backends/--workloads, when the user
    did not give those; and one line per row group saying why it is in."""
    base = revs[0][0]
    other = revs[1][0] if len(revs) == 2 else None
    backends, workloads = touched(args.repo, base, other)
    given = {a.split("=", 1)[0] for a in args.after}
    why = []
    for opt, found, attr in (("--backends", backends, "bench_backends"),
                             ("--workloads", workloads, "bench_workloads")):
        i = sweep.index(opt) + 1
        current = sweep[i].split(",")
        if getattr(args, attr) is not None or opt in given:
            why.append(f"{opt[2:]} {sweep[i]}: given")
            if found:
                why.append(f"{opt[2:]} not added although the change touches them (the "
                           f"{opt[2:]} were given): "
                           + "; ".join(f"{n} ({r})" for n, r in sorted(found.items())))
            continue
        why.append(f"{opt[2:]} {sweep[i]}: the gate's default rows")
        added = [n for n in sorted(found) if n not in current]
        for n in added:
            why.append(f"{opt[2:]} {n}: the change touches it ({found[n]})")
        for n in sorted(set(found) - set(added)):
            why.append(f"{opt[2:]} {n}: a default row, and the change touches it ({found[n]})")
        sweep = sweep[:i] + [",".join(current + added)] + sweep[i + 1:]
    return sweep, why
