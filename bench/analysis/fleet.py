#!/usr/bin/python3
"""The sweep on every host of an Ansible inventory, then one report of them all.

    bench/analysis/fleet.py --repo TOP INVENTORY [--rev REV] [--remote-dir DIR] [bench options ...]
    (./run.sh fleet INVENTORY [...] passes --repo)

1. Packs the project's tree (the working tree as it is, uncommitted changes
   and new files included, without build/ and results/; or `git archive REV`
   with --rev) into results/fleet-<UTC>/tree.tar.gz.
2. Runs bench/analysis/fleet.yml with ansible-playbook over INVENTORY: each host gets
   the tree in <remote dir>/<inventory name> (default ~/krefbench-fleet), and
   its own ./run.sh bench installs what is missing (as root, or the host
   fails with the apt-get line), builds and runs the sweep with the bench
   options given here; one sweep at a time per machine (an flock). Each
   host's CSV, sidecar and Google Benchmark JSON land in
   results/fleet-<UTC>/<host>/. ansible-playbook's output is shown and kept
   in results/fleet-<UTC>/ansible.log.
3. Names every host that failed, with its error (the failed task and the
   last lines of its error; an unreachable host, ssh's message), and writes
   the cross-host report of the others with bench/analysis/report.py into
   results/fleet-<UTC>/ (report.html, report.md).

The inventory is Ansible's own (INI or YAML), e.g.

    [bench]
    laptop   ansible_connection=local
    server1  ansible_host=10.0.0.5 ansible_user=root
    arm64    ansible_host=arm.example.org ansible_user=me ansible_become=true
    big      ansible_host=10.0.0.9 krefbench_dir=/scratch/krefbench

Bench options are ./run.sh bench's (krefbench --help), except those that
choose the output (--out, --results-dir, --print-path-to): the playbook does.

Exit: 0 every host ran and the report is written; 1 at least one host failed
(the others' results and report are kept) or none succeeded; 2 bad input
(one "fleet: " line).
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

from . import cli, report
from .cli import InputError

PLAYBOOK = os.path.join(os.path.dirname(os.path.realpath(__file__)), "fleet.yml")
RESERVED = ("--out", "--results-dir", "--print-path-to", "--plan", "--help", "-h")
EXCLUDED_TOP = ("build", "results", ".git")


def die(msg, code=2):
    print(f"fleet: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def parse_args(argv):
    p = cli.Parser(prog="fleet.py", add_help=True,
                                description="krefbench on every host of an Ansible inventory")
    p.add_argument("--repo", required=True, help="the project's top directory")
    p.add_argument("--rev", help="ship this git revision (git archive) instead of the working tree")
    p.add_argument("--remote-dir", default="~/krefbench-fleet",
                   help="where the tree goes on each host (default ~/krefbench-fleet)")
    p.add_argument("inventory")
    args, bench = p.parse_known_args(argv)
    for a in bench:
        if a.split("=", 1)[0] in RESERVED:
            raise InputError(f"'{a}' is for the playbook to set (results go to "
                             f"results/fleet-<UTC>/<host>/)")
    if not os.path.isfile(args.inventory):
        raise InputError(f"inventory {args.inventory}: no such file")
    return args, bench


def inventory_hosts(inventory):
    """The inventory's host names, as ansible-inventory reads them."""
    proc = subprocess.run(["ansible-inventory", "-i", inventory, "--list"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        raise InputError(f"inventory {inventory}: {lines[-1] if lines else 'unreadable'}")
    try:
        inv = json.loads(proc.stdout)
    except ValueError:
        raise InputError(f"inventory {inventory}: ansible-inventory printed no JSON")
    hosts = sorted(set(inv.get("_meta", {}).get("hostvars", {})) |
                   {h for g in inv.values() if isinstance(g, dict) for h in g.get("hosts", [])})
    if not hosts:
        # ansible-inventory warns and lists nothing for a file it cannot parse.
        why = [l for l in proc.stderr.splitlines() if "WARNING" in l]
        raise InputError(f"inventory {inventory}: no hosts" + (f" ({why[-1].strip()})" if why else ""))
    return hosts


def tree_files(repo):
    """Files of the working tree: git's tracked and untracked-not-ignored
    files (as they are now), or every file outside build/, results/, .git."""
    proc = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached", "--others",
                           "--exclude-standard"], capture_output=True)
    if proc.returncode == 0:
        names = [n for n in proc.stdout.decode().split("\0") if n]
    else:
        names = []
        for root, dirs, files in os.walk(repo):
            rel = os.path.relpath(root, repo)
            if rel == ".":
                dirs[:] = [d for d in dirs if d not in EXCLUDED_TOP]
            names += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return sorted(n for n in set(names)
                  if n.split("/", 1)[0] not in EXCLUDED_TOP and
                  os.path.isfile(os.path.join(repo, n)))


def pack_tree(repo, rev, tarball):
    if rev:
        proc = subprocess.run(["git", "-C", repo, "archive", "--format=tar.gz", "-o",
                               os.path.abspath(tarball), rev, "--", ".",
                               ":(exclude)results", ":(exclude)build"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise InputError(f"--rev {rev}: {proc.stderr.strip().splitlines()[-1:]}")
        return
    files = tree_files(repo)
    if "run.sh" not in files:
        raise InputError(f"{repo} holds no run.sh: not the krefbench tree")
    with tarfile.open(tarball, "w:gz") as tar:
        for name in files:
            tar.add(os.path.join(repo, name), arcname=name, recursive=False)


def describe_tree(repo, rev):
    """'git a1b2c3d (the working tree, with uncommitted changes)' or the like."""
    def git(*a):
        p = subprocess.run(["git", "-C", repo, *a], capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else ""
    if rev:
        return f"git {git('rev-parse', '--short', rev) or rev} (--rev {rev})"
    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "the working tree (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"the working tree at git {head}" + (", with uncommitted changes" if dirty else "")


def raw_args(args, bench):
    extra = [f"--rev {args.rev}"] if args.rev else []
    if args.remote_dir != "~/krefbench-fleet":
        extra.append(f"--remote-dir {args.remote_dir}")
    return extra + bench


def new_fleet_dir(repo):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = os.path.join(repo, "results", f"fleet-{stamp}")
    path, n = base, 1
    while True:
        try:
            os.makedirs(path)
            return path
        except FileExistsError:  # never into an earlier run's folder
            n += 1
            path = f"{base}-{n}"


UNREACHABLE = re.compile(r"^fatal: \[([^\]]+)\]: UNREACHABLE! => (\{.*\})\s*$")


def unreachable_hosts(log_text):
    """{host: message} for the hosts ansible could not reach (no task ran, so
    the playbook's rescue could not write their error)."""
    out = {}
    for line in log_text.splitlines():
        m = UNREACHABLE.match(line)
        if m:
            try:
                msg = json.loads(m.group(2)).get("msg", "unreachable")
            except ValueError:
                msg = "unreachable"
            out[m.group(1)] = f"unreachable: {' '.join(str(msg).split())}"
    return out


def run_playbook(args, bench, fleet_dir, tarball):
    extra = {"kb_tarball": os.path.abspath(tarball), "kb_local": os.path.abspath(fleet_dir),
             "kb_bench_args": bench, "kb_remote_base": args.remote_dir}
    vars_file = os.path.join(fleet_dir, "vars.json")
    with open(vars_file, "w") as f:
        json.dump(extra, f, indent=1)
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING=os.environ.get("ANSIBLE_HOST_KEY_CHECKING", "False"),
               ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    cmd = ["ansible-playbook", "-i", args.inventory, PLAYBOOK, "-e", f"@{vars_file}"]
    log_path = os.path.join(fleet_dir, "ansible.log")
    print(f"fleet: {' '.join(cmd)}", flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        rc = proc.wait()
    with open(log_path) as f:
        return rc, f.read()


def main(argv=None):
    try:
        args, bench = parse_args(sys.argv[1:] if argv is None else argv)
        if not shutil.which("ansible-playbook"):
            raise InputError("ansible-playbook not found (Debian package ansible; "
                             "./run.sh fleet installs it)")
        hosts = inventory_hosts(args.inventory)
        fleet_dir = new_fleet_dir(args.repo)
        tarball = os.path.join(fleet_dir, "tree.tar.gz")
        pack_tree(args.repo, args.rev, tarball)
        shipped = describe_tree(args.repo, args.rev)
    except InputError as e:
        die(str(e))
    print(f"fleet: {len(hosts)} host(s): {', '.join(hosts)}; results in {fleet_dir}", flush=True)
    try:
        rc, log_text = run_playbook(args, bench, fleet_dir, tarball)
    except KeyboardInterrupt:
        die(f"interrupted; what was fetched is in {fleet_dir}", 130)
    except OSError as e:
        die(f"cannot run ansible-playbook: {e}", 1)
    os.unlink(tarball)

    unreachable = unreachable_hosts(log_text)
    good, failed = [], {}
    for h in hosts:
        d = os.path.join(fleet_dir, h)
        csvs = sorted(f for f in os.listdir(d) if f.endswith(".csv")) if os.path.isdir(d) else []
        err = os.path.join(d, "error.txt")
        if os.path.isfile(err):
            with open(err, errors="replace") as f:
                failed[h] = " ".join(f.read().split())
        elif h in unreachable:
            failed[h] = unreachable[h]
        elif not csvs:
            failed[h] = f"no results fetched (ansible-playbook exit {rc}; see {fleet_dir}/ansible.log)"
        if h not in failed and csvs:
            good.append(os.path.join(d, csvs[0]))
    for h, why in failed.items():
        print(f"fleet: {h}: FAILED: {why}", file=sys.stderr, flush=True)
    for path in good:
        print(f"fleet: {os.path.basename(os.path.dirname(path))}: {path}", flush=True)
    if not good:
        die(f"no host produced results (ansible.log in {fleet_dir})", 1)
    # --keep-going: a host whose every repetition was disturbed is named in
    # the report (it ran, but measured nothing clean) instead of losing the others.
    notes = [f"Fleet run: ./run.sh fleet {' '.join([args.inventory] + raw_args(args, bench))}; "
             f"the tree shipped: {shipped}; {len(good)} of {len(hosts)} hosts returned results."]
    notes += [f"{h}: FAILED: {why}" for h, why in failed.items()]
    status = report.main(["--keep-going", *good, "--out", fleet_dir,
                          *[x for n in notes for x in ("--note", n)]])
    if status != 0:
        die(f"the report failed (exit {status}); results are in {fleet_dir}", 1)
    print(f"fleet: {len(good)} of {len(hosts)} host(s) ran; report: {fleet_dir}/report.html",
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
