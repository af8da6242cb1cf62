"""One benchmark under perf: the command behind `./run.sh profile`.

    ./run.sh profile BACKEND WORKLOAD [THREADS] [--stat|--record|--c2c] [--time S]
                     [-- KREFBENCH_ARGS...]

One repetition of a --time S window (default 2 s), no floors:
  --stat    (default) perf stat: hardware events where the PMU counts them,
            software events otherwise (and a note says so)
  --record  perf record -g (on cpu-clock without a PMU); the full report and
            the top 20 functions by self time
  --c2c     perf c2c: needs load/store sampling (Intel PEBS, AMD IBS, Arm SPE)
THREADS defaults to 2, or the PU count if less. The output folder is
$KREFBENCH_PROFILE_DIR (default results/profiles)/<backend>-<workload>-t<threads>-<UTC>/
with krefbench's CSV and sidecar beside perf's files.

Environment: KREFBENCH_BIN, the krefbench to profile (run.sh builds and sets
it); KREFBENCH_PERF, the perf binary (default perf). Exit 2: bad input, or
what perf needs is missing (the one line printed says what to do); else the
profiled run's own exit status.
"""
import csv
import datetime
import os
import re
import subprocess
import sys

from . import cli, names

USAGE = ("usage: ./run.sh profile BACKEND WORKLOAD [THREADS] [--stat|--record|--c2c] "
         "[--time S] [-- KREFBENCH_ARGS...]")
HW_EVENTS = "cycles,instructions,branches,branch-misses,cache-references,cache-misses"
SW_EVENTS = "task-clock,context-switches,cpu-migrations,page-faults"
# After --, nothing may change what is profiled or where its output goes.
FIXED_OPTIONS = ("--backends", "--workloads", "--threads", "--plan", "--out", "--results-dir",
                 "--print-path-to", "--reps", "--retries", "--help", "-h", "--topology", "--list")
TIMED_COLUMNS = ("ns_per_op", "task_clock_ns_per_op", "context_switches_per_op",
                 "cycles_per_op", "instructions_per_op")


def fail(msg):
    """One 'run.sh: ' line (the user typed ./run.sh profile) and exit 2."""
    print(f"run.sh: {msg}", file=sys.stderr)
    sys.exit(cli.EXIT_BAD_INPUT)


def parse(argv):
    mode, time_s, pos, extra = "stat", "2", [], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--stat", "--record", "--c2c"):
            mode = a[2:]
        elif a == "--time":
            if i + 1 >= len(argv):
                fail(USAGE)
            time_s, i = argv[i + 1], i + 1
        elif a == "--":
            extra = argv[i + 1:]
            break
        elif a in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        elif a.startswith("-"):
            fail(f"unknown profile option '{a}' ({USAGE})")
        else:
            pos.append(a)
        i += 1
    if not 2 <= len(pos) <= 3:
        fail(USAGE)
    for a in extra:
        if a.split("=", 1)[0] in FIXED_OPTIONS:
            fail(f"profile: '{a}' after -- would profile something else than BACKEND WORKLOAD "
                 f"[THREADS] (give those as arguments)")
    if len(pos) == 3 and not re.fullmatch(r"[1-9][0-9]*", pos[2]):
        fail(f"THREADS must be one number, not '{pos[2]}'")
    return mode, time_s, pos, extra


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def check_perf(perf, mode):
    """Exits with one line unless perf is there and may count; True when a
    hardware PMU counts cycles."""
    try:
        ok = run([perf, "--version"]).returncode == 0
    except OSError:
        ok = False
    if not ok:
        fail(f"perf is not installed for this kernel ({os.uname().release}); as root: "
             f"apt-get update && apt-get install -y linux-perf")
    probe = run([perf, "stat", "-x,", "-e", "task-clock", "--", "true"])
    if probe.returncode != 0:
        if os.getuid() != 0:
            try:
                with open("/proc/sys/kernel/perf_event_paranoid") as f:
                    paranoid = f.read().strip()
            except OSError:
                paranoid = "unknown"
            fail(f"perf may not count here: kernel.perf_event_paranoid = {paranoid} and you are "
                 f"not root; as root run: sysctl -w kernel.perf_event_paranoid=1")
        fail(f"perf stat fails here: {(probe.stderr.strip().splitlines() or [''])[0]}")
    if mode == "c2c":
        lst = run([perf, "c2c", "record", "-e", "list"])
        text = lst.stdout + lst.stderr
        if ": available" not in text:
            first = (text.strip().splitlines() or [""])[0]
            fail(f"perf c2c needs a hardware PMU with load/store sampling (Intel PEBS load "
                 f"latency, AMD IBS, Arm SPE); this machine has none ({first})")
    cycles = run([perf, "stat", "-x,", "-e", "cycles", "--", "true"]).stderr
    return re.search(r"(^|\n)[0-9]+,[^,]*,[^,]*cycles", cycles) is not None


def default_threads(binary):
    plan = run([binary, "--plan"]).stdout
    m = re.search(r"^placement [a-z]*, ([0-9]+) threads$", plan, re.M)
    return str(min(2, int(m.group(1)))) if m else "2"


def new_out_dir(backend, workload, threads):
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    root = os.environ.get("KREFBENCH_PROFILE_DIR") or os.path.join(top, "results", "profiles")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    try:
        os.makedirs(root, exist_ok=True)
        out = os.path.join(root, f"{backend}-{workload}-t{threads}-{stamp}")
        if os.path.exists(out):
            out += f"-{os.getpid()}"
        os.mkdir(out)
    except OSError as e:
        fail(f"cannot create a profile folder under {root}: {e.strerror or e}")
    return out


def perf_command(perf, mode, pmu, out, kb):
    if mode == "stat":
        if not pmu:
            print("note: no hardware PMU here: software events only")
        events = f"{HW_EVENTS},{SW_EVENTS}" if pmu else SW_EVENTS
        return [perf, "stat", "-e", events, "-o", f"{out}/perf-stat.txt", "--", *kb]
    if mode == "record":
        if not pmu:
            print("note: no hardware PMU here: sampling on cpu-clock (a software timer), not cycles")
        return [perf, "record", "-q", "-g", *([] if pmu else ["-e", "cpu-clock"]),
                "-o", f"{out}/perf.data", "--", *kb]
    return [perf, "c2c", "record", "-o", f"{out}/perf.data", "--", *kb]


def show(perf, mode, out, binary):
    """What perf wrote, summarised on stdout."""
    stat = f"{out}/perf-stat.txt"
    if mode == "stat" and os.path.exists(stat) and os.path.getsize(stat):
        with open(stat) as f:
            print(re.sub(r"\n{3,}", "\n\n", f.read()).rstrip("\n"))
    data = f"{out}/perf.data"
    if mode == "stat" or not (os.path.exists(data) and os.path.getsize(data)):
        return
    if mode == "c2c":
        rep = run([perf, "c2c", "report", "--stdio", "-i", data]).stdout
        with open(f"{out}/c2c-report.txt", "w") as f:
            f.write(rep)
        print("\n".join(rep.splitlines()[:60]))
        return
    with open(f"{out}/perf-report.txt", "w") as f:
        f.write(run([perf, "report", "--stdio", "-i", data]).stdout)
    # The benchmark's own samples (perf also follows the git that records the commit).
    own = run([perf, "report", "--stdio", "--no-children", "-g", "none", "-F", "overhead,dso,sym",
               "--comms", os.path.basename(binary)[:15], "-i", data]).stdout
    top = [l.rstrip() for l in own.splitlines() if l.strip() and not l.startswith("#")][:20]
    with open(f"{out}/perf-report-top20.txt", "w") as f:
        f.write("".join(l + "\n" for l in top))
    print(f"top 20 by self time (full report with call graphs: {out}/perf-report.txt):")
    print("\n".join(top))


def timed_loop(csv_path):
    """The timed loop's own figures, from krefbench's CSV (empty: not counted here)."""
    try:
        with open(csv_path, newline="") as f:
            for r in csv.DictReader(f):
                variant = " " + r["variant"] if r.get("variant") else ""
                print(f"timed loop: {r['backend']} {r['workload']}{variant} t{r['threads']}: "
                      + ", ".join(f"{c} {r.get(c) or '-'}" for c in TIMED_COLUMNS))
    except (OSError, KeyError, csv.Error):
        pass


def main(argv=None):
    mode, time_s, pos, extra = parse(sys.argv[1:] if argv is None else argv)
    perf = os.environ.get("KREFBENCH_PERF") or "perf"
    pmu = check_perf(perf, mode)
    binary = names.binary()
    threads = pos[2] if len(pos) == 3 else default_threads(binary)
    kb = [binary, "--backends", pos[0], "--workloads", pos[1], "--threads", threads,
          "--no-floors", "--reps", "1", "--retries", "0", "--time", time_s, "--writer-rate", "0",
          "--variant", "unless_zero", "--no-idle-profile", *extra]
    # krefbench judges the names and the thread count itself (its own line, exit 2).
    if subprocess.run(kb + ["--plan"], stdout=subprocess.DEVNULL).returncode != 0:
        sys.exit(cli.EXIT_BAD_INPUT)
    out = new_out_dir(pos[0], pos[1], threads)
    kb += ["--out", f"{out}/krefbench.csv"]
    with open(f"{out}/krefbench.out", "w") as o, open(f"{out}/krefbench.err", "w") as e:
        sys.stdout.flush()
        rc = subprocess.run(perf_command(perf, mode, pmu, out, kb), stdout=o, stderr=e).returncode
    show(perf, mode, out, binary)
    with open(f"{out}/krefbench.err", errors="replace") as f:
        err = f.read().splitlines()
    if rc != 0:
        sys.stderr.write("".join(l + "\n" for l in err[-20:]))
        print(f"run.sh: the profiled run exited {rc} (output kept in {out})", file=sys.stderr)
        return rc
    for line in err:
        if line.startswith("krefbench: perf counters"):
            print(line)
    timed_loop(f"{out}/krefbench.csv")
    print(f"profile: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
