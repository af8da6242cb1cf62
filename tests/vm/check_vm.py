#!/usr/bin/python3
"""Judges what the vm flavour's guest sent back (tests/vm/run_vm.sh boots it).

    check_vm.py --console LOG --out DIR --cpus N --packages P --nodes M --smt S [--timing k=v,...]
    check_vm.py --self-test

Reads the guest's console (lines "@kbvm ..." from tests/vm/guest_init.sh),
unpacks each step's files into DIR/guest/<step>/ and checks:

- the guest's shape as its kernel reports it (/sys), against the one asked of qemu;
- every step ran and exited 0; each test program ends "N passed, 0 failed";
- placement: hwloc's packages, NUMA nodes and cores are the kernel's (sysfs
  package ids, node directories, thread_siblings_list); compact, cores,
  scatter and an explicit list plan what each policy promises on this
  topology; the CPUs the threads ran on (the CSV's cpus column) equal the plan;
- the quick sweep: every backend and workload at every thread count, every
  self-check ok, each row's threads on the CPUs the default placement plans;
  the sidecar's topology is the guest's;
- then prints the default sweep's thread counts and its timed windows on this
  shape (benchmarks x repetitions x window, as krefbench stated them when the
  guest started the default sweep), where the time went, and
  "vm: N passed, M failed".

Timing figures of an emulated guest mean nothing and are never judged.
Results CSVs are read by column name (old and new measurement-model columns).
Exit 0 when every check passed, 1 otherwise, 2 on bad arguments.
"""
import argparse
import base64
import csv
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile

# The policies the guest plans and runs (guest_init.sh) and the plan's line format
# (shims/placement.c kb_place_print_plan).
POLICIES = ("compact", "cores", "scatter", "list")
# A line of a file the guest sends (anything else, e.g. a kernel message, is skipped).
BASE64_LINE = re.compile(r"^[A-Za-z0-9+/=]+$")
PLAN_LINE = re.compile(r"^thread (\d+) -> PU (\d+) \(core (\d+), package (\d+), NUMA (-?\d+)\)$")
# The benchmark's workloads and backends that the sweep must cover: as
# `krefbench --help` lists them, these where it is not given.
WORKLOADS = ("hammer", "private", "spread", "handoff", "lookup_rcu", "lookup_mutex", "readside")
BACKENDS = ("atomic", "refcount", "percpu", "mutex", "null", "urcu_ref", "rcuref", "percpu_atomic")
TEST_STEPS = ("test_placement", "test_percpu", "test_rseq", "test_percpu_numa", "test_percpu_all_cpus")


class Checks:
    """Collects named checks; prints each as it is made."""

    def __init__(self, quiet=False):
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.quiet = quiet

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(what)
        if not self.quiet:
            print("%s %s" % ("ok  " if ok else "FAIL", what), flush=True)
        return ok


# ---- the console ----------------------------------------------------------

def parse_console(text, dest):
    """The guest's report: shape, steps and files (unpacked under dest)."""
    got = {"shape": None, "steps": {}, "order": [], "files": [], "done": False, "bad_files": []}
    name, chunks = None, []
    for raw in text.splitlines():
        at = raw.find("@kbvm ")
        if at >= 0:
            words = raw[at + 6:].split()
            kind = words[0] if words else ""
            if kind == "shape":
                got["shape"] = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            elif kind == "begin" and len(words) > 1:
                got["steps"].setdefault(words[1], {"rc": None, "s": None})
                got["order"].append(words[1])
            elif kind == "end" and len(words) > 1:
                fields = dict(w.split("=", 1) for w in words[2:] if "=" in w)
                got["steps"][words[1]] = {"rc": int(fields.get("rc", "-1")),
                                          "s": float(fields.get("s", "nan"))}
            elif kind == "file" and len(words) > 1:
                name, chunks = words[1], []
            elif kind == "endfile" and name:
                try:
                    blob = base64.b64decode("".join(chunks), validate=True)
                    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
                        for member in tar.getmembers():
                            # Only files under the step's own directory.
                            if not (member.isfile() or member.isdir()) or \
                               os.path.isabs(member.name) or ".." in member.name.split("/"):
                                raise ValueError("unexpected member %s" % member.name)
                        tar.extractall(dest)
                    got["files"].append(name)
                except (ValueError, tarfile.TarError, EOFError, OSError) as e:
                    got["bad_files"].append("%s (%s)" % (name, e))
                name = None
            elif kind == "done":
                got["done"] = True
            continue
        if name is not None and BASE64_LINE.match(raw.strip()):
            chunks.append(raw.strip())
    return got


# ---- the guest's topology as its kernel reports it ------------------------

def read_sys_topology(path):
    """cpus.txt: "cpu package core_id node siblings" per CPU -> {cpu: dict}."""
    cpus = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cpu, pkg, core, node, sib = line.split()
            cpus[int(cpu)] = {"package": int(pkg), "core_id": int(core), "node": int(node),
                              "siblings": tuple(parse_cpu_list(sib))}
    return cpus


def parse_cpu_list(text):
    out = []
    for part in text.strip().split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def sys_summary(cpus):
    """The shape in krefbench's sidecar words ("2 packages, 4 NUMA nodes, 32 cores, 64 PUs (SMT2)")."""
    packages = len({c["package"] for c in cpus.values()})
    nodes = len({c["node"] for c in cpus.values()})
    cores = len({c["siblings"] for c in cpus.values()})
    smts = sorted({len(c["siblings"]) for c in cpus.values()})
    smt = "no SMT" if smts == [1] else "SMT%d" % smts[0] if len(smts) == 1 else \
        "SMT%d-%d" % (smts[0], smts[-1])
    return "%d package%s, %d NUMA node%s, %d cores, %d PUs (%s)" % (
        packages, "" if packages == 1 else "s", nodes, "" if nodes == 1 else "s", cores, len(cpus), smt)


def check_shape(c, shape, cpus, want):
    """The guest kernel's shape equals the one qemu was asked for."""
    if not c.check(shape is not None and bool(cpus), "the guest reported its topology"):
        return
    packages = len({x["package"] for x in cpus.values()})
    nodes = len({x["node"] for x in cpus.values()})
    smt = max(len(x["siblings"]) for x in cpus.values())
    c.check(len(cpus) == want["cpus"] and int(shape.get("cpus", -1)) == want["cpus"],
            "guest kernel has %d CPUs (asked %d)" % (len(cpus), want["cpus"]))
    c.check(packages == want["packages"], "guest kernel has %d packages (asked %d)" % (packages, want["packages"]))
    c.check(nodes == want["nodes"] and int(shape.get("nodes", -1)) == want["nodes"],
            "guest kernel has %d NUMA nodes (asked %d)" % (nodes, want["nodes"]))
    c.check(all(len(x["siblings"]) == want["smt"] for x in cpus.values()),
            "every CPU has %d SMT siblings in thread_siblings_list (SMT %d)" % (want["smt"], smt))
    same = all(cpus[s]["package"] == x["package"] and cpus[s]["node"] == x["node"] and s in cpus
               for x in cpus.values() for s in x["siblings"])
    c.check(same, "SMT siblings share their package and NUMA node")
    per_node = {}
    for cpu, x in cpus.items():
        per_node.setdefault(x["node"], []).append(cpu)
    c.check(len({len(v) for v in per_node.values()}) == 1,
            "every NUMA node has the same number of CPUs (%s)" %
            ", ".join("node %d: %d" % (n, len(v)) for n, v in sorted(per_node.items())))


# ---- placement ------------------------------------------------------------

def read_plan(path):
    """krefbench --plan output -> [(pu, core, package, numa)] in thread order."""
    plan = []
    with open(path) as f:
        for line in f:
            m = PLAN_LINE.match(line.strip())
            if m:
                t, pu, core, pkg, numa = map(int, m.groups())
                if t != len(plan):
                    raise ValueError("%s: thread %d out of order" % (path, t))
                plan.append((pu, core, pkg, numa))
    return plan


def same_partition(pairs):
    """pairs: [(a, b)]; True when a and b name the same grouping (a bijection)."""
    ab, ba = {}, {}
    for a, b in pairs:
        if ab.setdefault(a, b) != b or ba.setdefault(b, a) != a:
            return False
    return True


def check_plan_matches_kernel(c, policy, plan, cpus):
    """hwloc's package, NUMA node and core of each PU are the kernel's."""
    known = all(pu in cpus for pu, _, _, _ in plan)
    c.check(known and len(plan) > 0, "%s: plan of %d threads names only CPUs the guest has" % (policy, len(plan)))
    if not known:
        return
    c.check(same_partition([(pkg, cpus[pu]["package"]) for pu, _, pkg, _ in plan]),
            "%s: hwloc's packages are the kernel's physical_package_id" % policy)
    c.check(same_partition([(numa, cpus[pu]["node"]) for pu, _, _, numa in plan]),
            "%s: hwloc's NUMA nodes are the kernel's nodes" % policy)
    c.check(same_partition([(core, cpus[pu]["siblings"]) for pu, core, _, _ in plan]),
            "%s: hwloc's cores are the kernel's SMT sibling groups" % policy)


def check_policy(c, policy, plan, cpus, want_list=None):
    """What each policy promises, on the real topology."""
    n = len(plan)
    pus = [p[0] for p in plan]
    c.check(len(set(pus)) == n, "%s: %d threads on %d distinct CPUs" % (policy, n, len(set(pus))))
    sib = {cpu: x["siblings"] for cpu, x in cpus.items()}
    ncores = len(set(sib.values()))
    smt = max(len(s) for s in sib.values())
    if policy == "compact":
        ok = all(sib[pus[i]] == sib[pus[i - i % smt]] for i in range(n))
        c.check(ok, "compact: threads fill each core's SMT siblings before the next core")
        first_pkg = cpus[pus[0]]["package"]
        per_pkg = n // len({x["package"] for x in cpus.values()})
        c.check(all(cpus[p]["package"] == first_pkg for p in pus[:per_pkg]),
                "compact: the first %d threads fill one package" % per_pkg)
    elif policy == "cores":
        first = pus[:min(n, ncores)]
        c.check(len({sib[p] for p in first}) == len(first),
                "cores: the first %d threads on %d distinct cores" % (len(first), len(first)))
        if n > ncores:
            c.check(sib[pus[ncores]] == sib[pus[0]] and pus[ncores] != pus[0],
                    "cores: thread %d is the SMT sibling of thread 0 (CPUs %d, %d)" % (ncores, pus[ncores], pus[0]))
    elif policy == "scatter":
        npk = len({x["package"] for x in cpus.values()})
        nnodes = len({x["node"] for x in cpus.values()})
        c.check(all(cpus[pus[i]]["package"] != cpus[pus[i + 1]]["package"] for i in range(min(n, 8) - 1))
                or npk == 1, "scatter: consecutive threads alternate packages")
        c.check(len({cpus[p]["node"] for p in pus[:nnodes]}) == min(n, nnodes),
                "scatter: the first %d threads on %d distinct NUMA nodes" % (nnodes, nnodes))
        first = pus[:min(n, ncores)]
        c.check(len({sib[p] for p in first}) == len(first),
                "scatter: no SMT sibling shared until all %d cores have a thread" % ncores)
    elif policy == "list":
        c.check(want_list is not None and pus == want_list[:n],
                "list: the plan is the list given (%s)" % ",".join(map(str, want_list or [])))


def read_csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def row_cpus(row):
    return [int(x) for x in (row.get("cpus") or "").replace('"', "").split(",") if x.strip() != ""]


def check_run_on_plan(c, policy, rows, plan):
    """The threads of the benchmark ran where the plan put them."""
    pus = [p[0] for p in plan]
    if not c.check(len(rows) > 0, "%s: the pinned run wrote rows" % policy):
        return
    bad = [r for r in rows if row_cpus(r) != pus]
    c.check(not bad, "%s: every thread ran on its planned CPU (%d rows%s)" % (
        policy, len(rows), "" if not bad else "; first differs: ran on %s" % bad[0].get("cpus")))
    c.check(all((r.get("check") or "") == "ok" for r in rows), "%s: the run's self-check is ok" % policy)


def check_placement(c, pdir, cpus, want_list):
    plans = {}
    for policy in POLICIES:
        path = os.path.join(pdir, "plan-%s.txt" % policy)
        if not c.check(os.path.exists(path), "%s: plan written by krefbench --plan" % policy):
            continue
        try:
            plan = read_plan(path)
        except ValueError as e:
            c.check(False, str(e))
            continue
        plans[policy] = plan
        check_plan_matches_kernel(c, policy, plan, cpus)
        check_policy(c, policy, plan, cpus, want_list)
        run = os.path.join(pdir, "run-%s.csv" % policy)
        if c.check(os.path.exists(run), "%s: pinned run wrote %s" % (policy, os.path.basename(run))):
            check_run_on_plan(c, policy, read_csv_rows(run), plan)
    return plans


# ---- the sweep ------------------------------------------------------------

def help_names(help_text, option, fallback):
    """The names `krefbench --help` lists for an option ("comma-separated, or 'all' (a, b, c)")."""
    for line in help_text.splitlines():
        if line.strip().startswith(option + " "):
            m = re.search(r"'all' \(([^)]*)\)", line)
            if m:
                return tuple(x.strip() for x in m.group(1).split(",") if x.strip())
    return fallback


def check_sweep(c, rows, threads, cores_plan, backends=BACKENDS, workloads=WORKLOADS, size=None):
    """Every backend and every workload at every thread count, every benchmark
    krefbench planned (size: as its log stated it) written, every self-check
    ok, threads where the default placement (cores) puts them."""
    if not c.check(len(rows) > 0, "sweep: %d rows" % len(rows)):
        return
    seen = {}
    for r in rows:
        seen.setdefault(int(r["threads"]), set()).add((r["backend"], r["workload"]))
    c.check(sorted(seen) == sorted(threads), "sweep: thread counts %s (asked %s)" % (
        ",".join(map(str, sorted(seen))), ",".join(map(str, threads))))
    for t in sorted(threads):
        have = seen.get(t, set())
        # Not every pair exists (a backend may not offer a workload); every name does.
        missing = [b for b in backends if not any(hb == b for hb, _ in have)] + \
                  [w for w in workloads if not any(hw == w for _, hw in have)]
        c.check(not missing, "sweep: every backend and every workload at %d threads%s" % (
            t, "" if not missing else " (missing %s)" % ", ".join(missing[:6])))
    first = [r for r in rows if (r.get("attempt") or "0") == "0"]
    if size is not None:
        c.check(len(first) == size[0] * size[1], "sweep: every benchmark krefbench planned was written "
                "(%d first attempts; planned %d benchmarks x %d repetitions)" % (len(first), size[0], size[1]))
    bad = [r for r in rows if (r.get("check") or "") != "ok"]
    c.check(not bad, "sweep: every self-check ok (%d rows%s)" % (len(rows), "" if not bad else
            "; %d not: %s" % (len(bad), "; ".join("%s/%s/%s: %s" % (r["backend"], r["workload"], r["threads"],
                                                                      r.get("check")) for r in bad[:3]))))
    if rows and "fast_path" in rows[0]:
        # The guest kernel has rseq: percpu must have run its rseq section.
        slow = [r for r in rows if r["backend"] == "percpu" and r.get("fast_path") != "rseq"]
        c.check(not slow, "sweep: every percpu row ran the rseq fast path%s" % (
            "" if not slow else " (%d rows not; first: %s)" % (len(slow), slow[0].get("fast_path"))))
    if cores_plan:
        pus = [p[0] for p in cores_plan]
        off = [r for r in rows if (r.get("placement") or "cores") == "cores" and row_cpus(r)
               and row_cpus(r) != pus[:int(r["threads"])]]
        c.check(not off, "sweep: every row's threads ran on the CPUs placement 'cores' plans%s" % (
            "" if not off else " (%d rows not; first %s/%s/%s on %s)" % (
                len(off), off[0]["backend"], off[0]["workload"], off[0]["threads"], off[0].get("cpus"))))


def check_sidecar(c, path, cpus, what=""):
    try:
        with open(path) as f:
            side = json.load(f)
    except (OSError, ValueError) as e:
        c.check(False, "%ssidecar %s loads: %s" % (what, path, e))
        return None
    want = sys_summary(cpus)
    c.check(side.get("topology") == want, "%ssidecar topology \"%s\" is the guest's \"%s\"" % (
        what, side.get("topology"), want))
    c.check(side.get("pus") == len(cpus), "%ssidecar pus %s = the guest's %d CPUs" % (what, side.get("pus"), len(cpus)))
    if "possible_cpus" in side:
        c.check(side["possible_cpus"] == len(cpus), "%ssidecar possible_cpus %s = %d" % (
            what, side["possible_cpus"], len(cpus)))
    per_object = side.get("bytes_per_object") or {}
    if "percpu" in per_object:
        # An 8-byte slot for every possible CPU, on top of the object itself.
        c.check(per_object["percpu"] >= 8 * len(cpus), "%ssidecar: a percpu object takes %s bytes at %d CPUs "
                "(at least 8 per CPU)" % (what, per_object["percpu"], len(cpus)))
    return side


def default_threads(npus):
    """bench/options.c default_threads: 1, powers of two below the PU count, the PU count."""
    out, t = [], 1
    while t < npus:
        out.append(t)
        t *= 2
    return out + [npus]


SWEEP_SIZE = re.compile(r"(\d+) benchmarks x (\d+) repetitions(?: of ([0-9.]+) s windows)?")


def default_sweep_size(text, help_text):
    """(benchmarks, repetitions, window s) of the default sweep, as krefbench
    stated them when it started it in the guest; None if it did not."""
    m = SWEEP_SIZE.search(text)
    if not m:
        return None
    window = float(m.group(3)) if m.group(3) else None
    if window is None:
        hm = re.search(r"^\s*--time S .*\(default ([0-9.]+)", help_text, re.M)
        window = float(hm.group(1)) if hm else 0.1
    return int(m.group(1)), int(m.group(2)), window


# ---- the whole report -----------------------------------------------------

def judge(out, console_text, want, help_text="", timing=None, c=None):
    c = c or Checks()
    guest = os.path.join(out, "guest")
    shutil.rmtree(guest, ignore_errors=True)
    os.makedirs(guest)
    got = parse_console(console_text, guest)
    c.check(not got["bad_files"], "every file the guest sent unpacks%s" % (
        "" if not got["bad_files"] else ": " + "; ".join(got["bad_files"])))
    topo = os.path.join(guest, "topology", "cpus.txt")
    cpus = read_sys_topology(topo) if os.path.exists(topo) else {}
    shape = got["shape"]
    if shape and cpus:
        print("guest: %d vCPUs, %d packages, %d NUMA nodes, SMT %d (as its kernel reports them in /sys; "
              "kernel %s; online %s; /init started %s s after boot)" % (
                  len(cpus), len({x["package"] for x in cpus.values()}), len({x["node"] for x in cpus.values()}),
                  max(len(x["siblings"]) for x in cpus.values()),
                  read_text(os.path.join(guest, "topology", "kernel.txt")), shape.get("online", "?"),
                  shape.get("uptime", "?")))
        nodes_txt = read_text(os.path.join(guest, "topology", "nodes.txt"))
        if nodes_txt:
            print("guest NUMA nodes (node cpus MemTotal-kB): " + "; ".join(nodes_txt.splitlines()))
    check_shape(c, shape, cpus, want)

    for step in ["placement"] + list(TEST_STEPS) + ["default_sweep", "sweep"]:
        st = got["steps"].get(step)
        c.check(st is not None and st["rc"] == 0, "%s ran in the guest and exited 0%s" % (
            step, "" if st is None else " (exit %s)" % st["rc"] if st["rc"] != 0 else ""))
    for step in TEST_STEPS:
        log = read_text(os.path.join(guest, step, "log"))
        m = re.findall(r"^(\d+) passed, (\d+) failed$", log, re.M)
        c.check(bool(m) and m[-1][1] == "0" and int(m[-1][0]) > 0, "%s: %s" % (
            step, "%s passed, %s failed" % m[-1] if m else "no 'N passed, M failed' line"))
        # "64 CPUs allowed" (the per-CPU tests); test_placement: "64 allowed PUs"
        # in its "-- this machine" part (its synthetic topologies come first).
        here = log[log.find("-- this machine"):] if step == "test_placement" else log
        allowed = re.search(r"(\d+) CPUs allowed|(\d+) allowed PUs", here)
        n = int(allowed.group(1) or allowed.group(2)) if allowed else -1
        c.check(n == want["cpus"], "%s ran with all %d CPUs allowed (it says %d)" % (step, want["cpus"], n))
    numa_log = read_text(os.path.join(guest, "test_percpu_numa", "log"))
    c.check("NOTE: move_pages" not in numa_log and "one node here" not in numa_log and bool(numa_log),
            "test_percpu_numa: move_pages answered, and the CPUs span several nodes (the page-node checks were made)")
    rseq_log = read_text(os.path.join(guest, "test_rseq", "log"))
    c.check("rseq registered: yes" in rseq_log, "test_rseq: glibc registered rseq in the guest")

    pdir = os.path.join(guest, "placement")
    want_list = [int(x) for x in read_text(os.path.join(pdir, "list.txt")).split(",") if x.strip()]
    plans = check_placement(c, pdir, cpus, want_list) if cpus else {}
    default_plan = read_text(os.path.join(pdir, "plan-default.txt"))
    m = re.search(r"^placement (\w+), (\d+) threads$", default_plan, re.M)
    c.check(m is not None and int(m.group(2)) == len(cpus),
            "krefbench's default plan uses all %d CPUs (%s)" % (len(cpus), m.group(0) if m else "no plan"))

    # The sweep's parts (guest_init.sh sweep()), each its own CSV, sidecar and log.
    sdir = os.path.join(guest, "sweep")
    parts = re.findall(r"^sweep part (\w+): krefbench", read_text(os.path.join(sdir, "log")), re.M)
    c.check(len(parts) > 0, "the sweep started its parts (%s)" % ", ".join(parts))
    rows, planned = [], 0
    for part in parts:
        csv_path, side = (os.path.join(sdir, "sweep-%s.%s" % (part, ext)) for ext in ("csv", "json"))
        if not c.check(os.path.exists(csv_path) and os.path.exists(side),
                       "sweep part %s: results CSV and sidecar copied out of the guest" % part):
            planned = None
            continue
        rows += read_csv_rows(csv_path)
        size = default_sweep_size(read_text(os.path.join(sdir, "sweep-%s.log" % part)), help_text)
        if c.check(size is not None, "sweep part %s: krefbench stated its size" % part) and planned is not None:
            planned += size[0] * size[1]
        else:
            planned = None
        if cpus:
            check_sidecar(c, side, cpus, "sweep part %s: " % part)
    # Rows run in a random order (an order-dependent bug shows in some runs only): the seeds repeat it.
    seeds = ["%s %s" % (part, m.group(1)) for part in parts for m in
             [re.search(r"\(seed (\d+)\)", read_text(os.path.join(sdir, "sweep-%s.log" % part)))] if m]
    if seeds:
        print("sweep seeds (krefbench --seed N repeats a part's order): " + ", ".join(seeds))
    threads = [int(x) for x in read_text(os.path.join(sdir, "threads.txt")).split(",") if x.strip()]
    check_sweep(c, rows, threads, plans.get("cores"), help_names(help_text, "--backends", BACKENDS),
                help_names(help_text, "--workloads", WORKLOADS), None if planned is None else (planned, 1))
    size = default_sweep_size(read_text(os.path.join(guest, "default_sweep", "default.out")), help_text)
    if c.check(size is not None and len(cpus) > 0, "krefbench stated the size of its default sweep in the guest"):
        n, reps, window = size
        secs = n * reps * window
        print("default sweep on this shape: threads %s; %d benchmarks x %d repetitions x %g s = %.0f s "
              "(%.1f min) of timed windows, before warm-ups, retries and setup" % (
                  ",".join(map(str, default_threads(len(cpus)))), n, reps, window, secs, secs / 60))
    c.check(got["done"], "the guest finished and powered off")

    steps = ", ".join("%s %.1f s" % (s, got["steps"][s]["s"]) for s in got["order"]
                      if got["steps"][s].get("s") is not None)
    if timing or steps:
        print("vm: where the time went: %s%s(guest, emulated: %s)" % (
            ", ".join("%s %s s" % kv for kv in (timing or {}).items()), "; " if timing else "", steps or "none"))
    return c


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


# ---- self-test: the checks above on hand-made guests ---------------------

def fake_guest(cpus=16, packages=2, nodes=4, smt=2, mutate=None):
    """A console as guest_init.sh would write it for a 'Linux-numbered' machine
    of the given shape, with runs exactly on plan; mutate(files) may break it."""
    per_node = cpus // nodes
    topo = ["# cpu package core_id node thread_siblings_list"]
    for cpu in range(cpus):
        first = cpu - cpu % smt
        topo.append("%d %d %d %d %d-%d" % (cpu, cpu * packages // cpus, (cpu % (cpus // packages)) // smt,
                                           cpu // per_node, first, first + smt - 1))
    ncores = cpus // smt

    def plan_text(pus):
        lines = ["%d packages, %d NUMA nodes, %d cores, %d PUs (SMT%d)" % (packages, nodes, ncores, cpus, smt)]
        for t, pu in enumerate(pus):
            lines.append("thread %d -> PU %d (core %d, package %d, NUMA %d)" % (
                t, pu, pu // smt, pu * packages // cpus, pu // per_node))
        return "\n".join(lines) + "\n"

    compact = list(range(cpus))
    cores = [c * smt + s for s in range(smt) for c in range(ncores)]
    # Packages alternate, then nodes within a package, then cores; siblings last.
    cores_per_node = ncores // nodes
    nodes_per_pkg = nodes // packages
    scatter = []
    for s in range(smt):
        for k in range(cores_per_node):
            for n in range(nodes_per_pkg):
                for p in range(packages):
                    core = (p * nodes_per_pkg + n) * cores_per_node + k
                    scatter.append(core * smt + s)
    lst = [cpus - 1, 0, cpus // 2, 1]
    header = "backend,workload,threads,placement,objects,work_ns,rep,iterations,ns_per_op,ops_per_s,norm," \
             "fairness,cpus,check,variant,writer_rate,attempt,disturbed,window_ns,fast_path\n"

    def run_csv(pus, threads=None, placement="cores", backend="null", workload="hammer", check="ok"):
        threads = threads or len(pus)
        fast = {"percpu": "rseq", "percpu_atomic": "atomic"}.get(backend, "n/a")
        return '%s,%s,%d,"%s",1,0,0,10,1.0,1,,1,"%s",%s,,0,0,canary 1.3,1000,%s\n' % (
            backend, workload, threads, placement, ",".join(map(str, pus[:threads])), check, fast)

    files = {
        "topology/cpus.txt": "\n".join(topo) + "\n",
        "topology/kernel.txt": "6.1.0-fake\n",
        "topology/nodes.txt": "".join("%d %d-%d 1000\n" % (n, n * per_node, (n + 1) * per_node - 1)
                                      for n in range(nodes)),
        "placement/list.txt": ",".join(map(str, lst)) + "\n",
        "placement/plan-default.txt": "placement cores, %d threads\n" % cpus,
        "sweep/threads.txt": "1,%d\n" % cpus,
        "sweep/log": "sweep part all: krefbench --backends all --workloads all\n",
        "sweep/sweep-all.log": "krefbench: %d benchmarks x 1 repetitions of 0.002 s windows\n" % (
            2 * (1 + len(BACKENDS) * len(WORKLOADS))),
        "default_sweep/default.out": "krefbench: 665 benchmarks x 5 repetitions of 0.1 s windows, in rounds\n"
                                     "krefbench: interrupted; the results file keeps every finished row\n",
    }
    for name, pus in (("compact", compact), ("cores", cores), ("scatter", scatter), ("list", lst)):
        files["placement/plan-%s.txt" % name] = plan_text(pus)
        files["placement/run-%s.csv" % name] = header + run_csv(
            pus, placement=",".join(map(str, lst)) if name == "list" else name)
    sweep = header
    for t in (1, cpus):
        sweep += "floor,local,%d,cores,1,0,0,1,1,1,,1,\"%s\",ok,,0,0,,1,n/a\n" % (t, ",".join(map(str, cores[:t])))
        for b in BACKENDS:
            for w in WORKLOADS:
                sweep += run_csv(cores, t, backend=b, workload=w)
    files["sweep/sweep-all.csv"] = sweep
    files["sweep/sweep-all.json"] = json.dumps({"topology": "%d packages, %d NUMA nodes, %d cores, %d PUs (SMT%d)" % (
        packages, nodes, ncores, cpus, smt), "pus": cpus, "possible_cpus": cpus,
        "bytes_per_object": {"atomic": 4, "percpu": 16 + 8 * cpus}})
    for step in TEST_STEPS:
        files["%s/log" % step] = "%s: %d CPUs allowed\nrseq registered: yes\n12 passed, 0 failed\n" % (step, cpus)
    files["test_placement/log"] = "ok   256 PUs\n-- this machine\nok   %d allowed PUs\n12 passed, 0 failed\n" % cpus
    if mutate:
        mutate(files)
    steps = {}
    for path, text in files.items():
        steps.setdefault(path.split("/")[0], {})[path] = text
    out = ["SeaBIOS noise", "\x1b[2J@kbvm shape cpus=%d packages=%d nodes=%d smt=%d online=0-%d uptime=1.0" % (
        cpus, packages, nodes, smt, cpus - 1)]
    for step in ["topology", "placement"] + list(TEST_STEPS) + ["default_sweep", "sweep"]:
        if step != "topology":
            out.append("@kbvm begin %s" % step)
            out.append("[   1.0] a kernel message in between")
            out.append("@kbvm end %s rc=0 s=1.0" % step)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for path, text in steps.get(step, {}).items():
                data = text.encode()
                info = tarfile.TarInfo(path)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out.append("@kbvm file %s" % step)
        b64 = base64.b64encode(buf.getvalue()).decode()
        out.extend(b64[i:i + 76] for i in range(0, len(b64), 76))
        out.append("@kbvm endfile %s" % step)
    out.append("@kbvm done")
    return "\n".join(out) + "\n"


def self_test():
    want = {"cpus": 16, "packages": 2, "nodes": 4, "smt": 2}
    results = []

    def run(name, expect_fail, mutate=None, console=None, **shape):
        tmp = tempfile.mkdtemp(prefix="check_vm.")
        try:
            w = dict(want, **shape.pop("want", {}))
            text = console if console is not None else fake_guest(mutate=mutate, **shape)
            stdout = sys.stdout
            sys.stdout = io.StringIO()
            try:
                c = judge(tmp, text, w, c=Checks(quiet=True))
            finally:
                sys.stdout = stdout
            ok = (c.failed > 0) == bool(expect_fail) and (not expect_fail or
                                                           any(expect_fail in f for f in c.failures))
            results.append(ok)
            print("%s self-test: %s -> %d passed, %d failed%s" % (
                "ok  " if ok else "FAIL", name, c.passed, c.failed,
                "" if not c.failures else " (%s)" % c.failures[0]))
        finally:
            shutil.rmtree(tmp)

    def edit(path, old, new):
        def m(files):
            files[path] = files[path].replace(old, new, 1)
        return m

    def drop(path):
        def m(files):
            del files[path]
        return m

    run("a correct guest passes", False)
    run("a guest with fewer CPUs than asked", "guest kernel has", want={"cpus": 32})
    run("no SMT siblings", "SMT siblings in thread_siblings_list", smt=1,
        want={"smt": 2})
    run("a thread ran off its planned CPU", "every thread ran on its planned CPU",
        mutate=edit("placement/run-scatter.csv", '"0,', '"1,'))
    run("hwloc's node differs from the kernel's", "hwloc's NUMA nodes are the kernel's",
        mutate=edit("placement/plan-cores.txt", "NUMA 0)", "NUMA 3)"))
    run("compact that does not fill siblings", "fill each core's SMT siblings",
        mutate=lambda f: f.update({"placement/plan-compact.txt": f["placement/plan-cores.txt"],
                                   "placement/run-compact.csv": f["placement/run-cores.csv"].replace(
                                       ",cores,", ",compact,")}))
    run("a failed self-check in the sweep", "every self-check ok",
        mutate=edit("sweep/sweep-all.csv", ",ok,", ",count 2 != 1,"))
    run("a workload missing from the sweep", "every backend and every workload",
        mutate=lambda f: f.update({"sweep/sweep-all.csv": "\n".join(
            l for l in f["sweep/sweep-all.csv"].split("\n") if ",readside," not in l)}))
    run("a benchmark missing from the sweep", "every benchmark krefbench planned was written",
        mutate=lambda f: f.update({"sweep/sweep-all.csv": "\n".join(
            l for l in f["sweep/sweep-all.csv"].split("\n") if not l.startswith("rcuref,readside,"))}))
    run("a sweep part that wrote no CSV", "sweep part backends: results CSV and sidecar",
        mutate=edit("sweep/log", "\n", "\nsweep part backends: krefbench --workloads hammer\n"))
    run("sidecar topology not the guest's", "sidecar topology",
        mutate=edit("sweep/sweep-all.json", "4 NUMA nodes", "1 NUMA node"))
    run("per-CPU memory that does not grow with the CPUs", "a percpu object takes",
        mutate=edit("sweep/sweep-all.json", '"percpu": %d' % (16 + 8 * 16), '"percpu": 80'))
    run("krefbench never stated the default sweep's size", "stated the size of its default sweep",
        mutate=edit("default_sweep/default.out", "665 benchmarks", "no benchmarks"))
    run("a test that failed inside", "test_rseq: 12 passed, 1 failed",
        mutate=edit("test_rseq/log", "0 failed", "1 failed"))
    run("move_pages refused in the guest", "move_pages answered",
        mutate=edit("test_percpu_numa/log", "12 passed", "NOTE: move_pages: Operation not permitted\n12 passed"))
    run("a guest that stopped before the sweep", "sweep ran in the guest",
        console=fake_guest().split("@kbvm begin sweep")[0])
    run("a garbled file", "every file the guest sent unpacks",
        console=fake_guest().replace("@kbvm file sweep\n", "@kbvm file sweep\nAAAA\n"))
    run("a kernel message between the lines of a file", False,
        console=fake_guest().replace("@kbvm file sweep\n", "@kbvm file sweep\n[   12.5] rcu: stall?\n"))
    run("a list placement written unquoted (columns shift)", "list: every thread ran on its planned CPU",
        mutate=lambda f: f.update({"placement/run-list.csv": re.sub(r'^(null,hammer,\d+,)"([^"]*)"', r"\1\2",
                                                                    f["placement/run-list.csv"], flags=re.M)}))
    run("percpu fell back to atomic adds", "ran the rseq fast path",
        mutate=edit("sweep/sweep-all.csv", ",rseq\n", ",atomic\n"))
    run("old results CSV columns (no attempt, disturbed, fast_path)", False,
        mutate=lambda f: f.update({k: "\n".join(",".join(l.split(",")[:-4]) if l else l for l in v.split("\n"))
                                   for k, v in f.items() if k.endswith(".csv")}))
    names = help_names("  --backends LIST     comma-separated, or 'all' (atomic, snzi)\n", "--backends", ())
    print("backends from --help: %s" % (names,))
    results.append(names == ("atomic", "snzi"))
    print("default_threads(64) = %s" % default_threads(64))
    results.append(default_threads(64) == [1, 2, 4, 8, 16, 32, 64] and default_threads(2) == [1, 2])
    size = default_sweep_size("krefbench: 380 benchmarks x 1 repetitions -> sweep.csv", "  --time S  x (default 0.2)")
    print("default sweep size from an older binary's line: %s" % (size,))
    results.append(size == (380, 1, 0.2))
    failed = results.count(False)
    print("check_vm self-test: %d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--console")
    ap.add_argument("--out")
    ap.add_argument("--cpus", type=int)
    ap.add_argument("--packages", type=int)
    ap.add_argument("--nodes", type=int)
    ap.add_argument("--smt", type=int)
    ap.add_argument("--help-text", help="a file with krefbench --help (for the default sweep's reps and time)")
    ap.add_argument("--timing", default="", help="k=v,... seconds spent on the host, for the report")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    if not all([a.console, a.out, a.cpus, a.packages, a.nodes, a.smt]):
        print("check_vm: --console, --out, --cpus, --packages, --nodes and --smt are required", file=sys.stderr)
        return 2
    try:
        with open(a.console, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        print("vm: cannot read the console log: %s" % e)
        return 1
    timing = dict(kv.split("=", 1) for kv in a.timing.split(",") if "=" in kv)
    c = judge(a.out, text, {"cpus": a.cpus, "packages": a.packages, "nodes": a.nodes, "smt": a.smt},
              read_text(a.help_text) if a.help_text else "", timing)
    print("vm: %d passed, %d failed" % (c.passed, c.failed))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
