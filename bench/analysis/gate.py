#!/usr/bin/python3
"""The regression gate: did B make a benchmark slower than A, on this machine?

    bench/analysis/gate.py --rev BASE [--rev OTHER]       build both sides, then the gate
    bench/analysis/gate.py --bin A/krefbench --bin B/krefbench
        [--pairs N] [--max-seconds S] [--max-pairs N] [--seed N] [--out DIR]
        [--threshold PCT] [--alpha A] [--adjust none|holm|bh] [--format table|csv|json]
        [krefbench sweep options: --backends --workloads --threads --time --reps ...
         --placement --objects --writer-rate --rcu-flavor --variant --work-ns
         --quick --no-floors --hot --oversubscribe; anything after -- too]

(./run.sh compare --rev/--bin execs this.) With no options it runs the gate
as README "Did a change make it slower?" describes and CI proves:

  * A and B take turns in many short process pairs (GATE_SWEEP, one short
    window per row), the order inside each pair decided by a coin (seeded,
    the seed is reported), after one warm-up pair that is not counted. A
    shared VM's speed drifts by tens of percent between minutes; two
    processes a second apart see nearly the same machine, and the coin puts
    whatever drift remains on either side alike, so "A and B are the same"
    stays exactly true for the test however the machine moves.
  * Pairs run until every row has --pairs clean pairs (both sides'
    repetition of the row undisturbed), or --max-seconds of pairs have
    passed, or --max-pairs pairs ran. Stopping on the count of clean pairs,
    never on what they measured, leaves the test exact; on a quiet machine
    the gate is short, on a busy one it gathers clean pairs for longer, and
    when it cannot, the rows without enough are "undecided" (exit 2).
    Every process has a time limit: a krefbench run still going at
    --max-seconds plus PROCESS_MARGIN_S (30 s) after the warm-up began is
    killed, and the gate stops with one line (exit 2).
  * Both sides run under `setarch -R` (no address-space randomisation) from
    copies at paths of equal length, with equal arguments and environment:
    neither gets a different stack or heap layout, and a rebuild while the
    gate runs cannot change what runs.
  * Each side's rows are joined into DIR/a.csv and DIR/b.csv with two more
    columns, `pair` and `position` (1 ran first); bench/analysis/compare.py then runs
    the paired analysis on them (signed rank per row, Holm over the rows,
    Hodges-Lehmann ratio and interval, the smallest detectable change), on
    clean repetitions only. `./run.sh compare DIR/a.csv DIR/b.csv` redoes it.

--rev: BASE (and OTHER) are checked out with `git worktree add --detach`
into a temporary directory and built there (Release, krefbench only);
without a second --rev, B is the working tree as it is, uncommitted changes
included, built in build/compare. Worktrees, builds and staged copies are
removed however the gate ends.

Every option is checked before anything is built, run or created. Paths
mean what the caller's shell means (relative to the current directory).

Exit: 0 every benchmark compared with enough clean pairs, none slower; 1 a
regression ("compare: regression: <backend> ..." on stderr); 2 bad input,
a build or a krefbench run that failed, or no answer (too few clean pairs);
130/143 interrupted (SIGINT/SIGTERM), everything temporary removed.
"""

import argparse
import contextlib
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import cli, compare, history, results, touched
from .outputs import csv_cell

InputError = cli.InputError
EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT = 0, 1, 2

# The gate's default sweep: the rows whose regressions it is meant to catch,
# uncontended and contended, kept small so that many pairs fit in a gate.
# One repetition of a short window per row and process: more pairs beat
# longer windows when the machine drifts (pairs are what the test counts).
GATE_SWEEP = {"--backends": "atomic,refcount", "--workloads": "hammer,private",
              "--threads": "1,2", "--reps": "1", "--time": "0.02"}
GATE_FLAGS = ("--no-floors",)
DEFAULT_PAIRS = 50              # clean pairs wanted for every row
DEFAULT_MAX_SECONDS = 150.0
DEFAULT_MAX_PAIRS = 400
# A busy machine: when, after this many pairs, at least this share of the
# row attempts were disturbed, krefbench runs with --retries 0 from the next
# pair on (a disturbed attempt is used rather than measured again, so the
# pairs come faster). Both sides of a pair always run with the same options.
BUSY_PROBE_PAIRS = 3
BUSY_SHARE = 0.5
# Every process the gate starts has a time limit; past it, it is killed and
# the gate stops with one line. A krefbench run may end at most this long
# after --max-seconds of pairs (a sweep of pairs is never cut short by the
# gate itself, only one that hangs); git and the build get their own bounds.
PROCESS_MARGIN_S = 30.0
GIT_TIMEOUT_S = 300.0
BUILD_TIMEOUT_S = 3600.0

# krefbench options the gate passes through (value-taking, then flags); a
# given one replaces the default sweep's.
BENCH_VALUE_OPTIONS = ("--backends", "--workloads", "--threads", "--placement", "--objects",
                       "--writer-rate", "--rcu-flavor", "--variant", "--work-ns", "--time",
                       "--reps")
BENCH_FLAGS = ("--quick", "--no-floors", "--hot", "--oversubscribe")
# Options that would send krefbench's output elsewhere than the gate reads.
BENCH_REFUSED = ("--out", "--results-dir", "--print-path-to", "--plan")


class Interrupted(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


def say(msg):
    print(f"compare: {cli.plain(msg)}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- options

def positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive integer")
    if v < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive integer")
    return v


def positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number")
    if not (v > 0 and v < 1e9):
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of seconds")
    return v


def parse_args(argv):
    if "--" in argv:
        i = argv.index("--")
        argv, after = argv[:i], argv[i + 1:]
    else:
        after = []
    p = cli.Parser(prog="compare", description="The regression gate: A and B (krefbench "
                "binaries or git revisions) run in short process pairs; paired analysis.",
                epilog="Exit: 0 no regression; 1 regression; 2 bad input or no answer; "
                       "130/143 interrupted. README.md, 'Did a change make it slower?'.")
    p.add_argument("--rev", action="append", default=[], metavar="REV")
    p.add_argument("--bin", action="append", default=[], metavar="KREFBENCH")
    p.add_argument("--pairs", type=positive_int, default=DEFAULT_PAIRS,
                   help=f"clean process pairs wanted for every row (default {DEFAULT_PAIRS})")
    p.add_argument("--max-pairs", type=positive_int, default=DEFAULT_MAX_PAIRS,
                   help=f"never more pairs than this (default {DEFAULT_MAX_PAIRS})")
    p.add_argument("--max-seconds", type=positive_float, default=DEFAULT_MAX_SECONDS,
                   metavar="S", help="stop starting pairs after S seconds of pairs "
                   f"(default {DEFAULT_MAX_SECONDS:g}); the report says how many ran")
    p.add_argument("--seed", type=int, help="seed of the order coin (default: random)")
    p.add_argument("--clean-only", dest="use_disturbed", action="store_false",
                   help="never analyse disturbed pairs: a row short of clean pairs when the "
                        "pairs stop leaves the gate undecided (exit 2)")
    p.add_argument("--use-disturbed", dest="use_disturbed", action="store_true",
                   help=argparse.SUPPRESS)     # the default since disturbed pairs are exact
    p.set_defaults(use_disturbed=True)
    p.add_argument("--out", metavar="DIR",
                   help="where the joined files go (default results/compare-<UTC>/)")
    p.add_argument("--repo", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--rounds", help=argparse.SUPPRESS)
    compare.add_analysis_options(p)
    for opt in BENCH_VALUE_OPTIONS:
        p.add_argument(opt, dest="bench_" + opt[2:].replace("-", "_"), metavar="VALUE")
    for opt in BENCH_FLAGS:
        p.add_argument(opt, dest="bench_" + opt[2:].replace("-", "_"), action="store_true")
    args = p.parse_args(argv)
    compare.check_analysis_options(args)
    if args.rounds is not None:
        raise InputError("--rounds is gone: the gate runs --pairs N process pairs "
                         f"(default {DEFAULT_PAIRS})")
    if not args.rev and not args.bin:
        raise InputError("give --rev BASE [--rev OTHER], or --bin A --bin B")
    if len(args.rev) > 2 or (args.bin and len(args.bin) != 2) or (args.rev and args.bin):
        raise InputError("give --rev BASE [--rev OTHER], or --bin A --bin B")
    for a in after:
        for bad in BENCH_REFUSED:
            if a == bad or a.startswith(bad + "="):
                raise InputError(f"{bad} is not a krefbench option here (the gate's files "
                                 f"go to --out DIR)")
    args.after = after
    args.repo = os.path.realpath(args.repo or os.path.join(os.path.dirname(
        os.path.realpath(__file__)), os.pardir))
    return args


def sweep_of(args):
    """krefbench's arguments for one gate process (without --out), and
    whether they differ from the gate's default sweep."""
    values = dict(GATE_SWEEP)
    flags = list(GATE_FLAGS)
    if args.bench_quick:        # --quick brings its own repetitions and window
        del values["--reps"], values["--time"]
    given = bool(args.after) or args.bench_quick
    for opt in BENCH_VALUE_OPTIONS:
        v = getattr(args, "bench_" + opt[2:].replace("-", "_"))
        if v is not None:
            values[opt] = v
            given = True
    for opt in BENCH_FLAGS:
        if getattr(args, "bench_" + opt[2:].replace("-", "_")) and opt not in flags:
            flags.append(opt)
            given = True
    out = []
    for opt, v in values.items():
        out += [opt, v]
    return out + flags + args.after, given


def check_bins(paths):
    out = []
    for path in paths:
        full = os.path.abspath(path)
        if not os.path.isfile(full) or not os.access(full, os.X_OK):
            raise InputError(f"{path} is not an executable file")
        out.append(os.path.realpath(full))
    return out


def git(repo, *argv, check=True):
    r = bounded(["git", "-C", repo, *argv], GIT_TIMEOUT_S, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise InputError(f"git {' '.join(argv)} failed: {r.stderr.strip().splitlines()[-1:]}")
    return r


def resolve_revs(repo, revs):
    out = []
    for rev in revs:
        r = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if r.returncode != 0:
            raise InputError(f"'{rev}' is not a revision of this repository")
        sha = r.stdout.strip()
        subject = git(repo, "log", "-1", "--format=%h %s", sha).stdout.strip()[:60]
        out.append((sha, f"{rev} ({subject})"))
    return out


def out_dir_of(args):
    """The output directory, checked (not created)."""
    if args.out is None:
        base = os.path.join(args.repo, "results",
                            "compare-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
        out = base
        while os.path.exists(out):
            out += "-x"
        return out
    out = os.path.abspath(args.out)
    if os.path.islink(out):
        raise InputError(f"--out {args.out} is a symlink; an output folder is never reached "
                         f"through one")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise InputError(f"--out {args.out} exists and is not an empty directory (a "
                         f"comparison never overwrites one)")
    return out


# ---------------------------------------------------------------- building

def bounded(cmd, timeout, **kw):
    """subprocess.run with a time limit: the process is killed past it and
    InputError names it."""
    try:
        return subprocess.run(cmd, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise InputError(f"{os.path.basename(cmd[0])} {' '.join(cmd[1:3])} ... did not finish "
                         f"within {timeout:g} s; stopped it")


def run_logged(cmd, log, cwd=None, timeout=GIT_TIMEOUT_S):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        return bounded(cmd, timeout, stdout=f, stderr=subprocess.STDOUT, cwd=cwd).returncode


PRESETS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__)))), "CMakePresets.json")


def build(src, build_dir, log, defines=()):
    """A krefbench (no tests) from src with the project's one recipe, the
    release preset of CMakePresets.json, plus -D defines; its path, or
    InputError. A revision older than the presets is built with this tree's
    recipe (the file is copied into its worktree)."""
    jobs = str(os.cpu_count() or 2)
    if not os.path.exists(os.path.join(src, "CMakePresets.json")):
        shutil.copy(PRESETS, os.path.join(src, "CMakePresets.json"))
    ok = (run_logged(["cmake", "--preset", "release", "-S", src, "-B", build_dir,
                      "-DKREFBENCH_TESTS=OFF", *[f"-D{d}" for d in defines]], log,
                     timeout=BUILD_TIMEOUT_S) == 0 and
          run_logged(["cmake", "--build", build_dir, "-j", jobs, "--target", "krefbench"],
                     log, timeout=BUILD_TIMEOUT_S) == 0)
    binary = os.path.join(build_dir, "bench", "krefbench")
    if not ok or not os.access(binary, os.X_OK):
        with open(log, errors="replace") as f:
            tail = f.read().splitlines()[-30:]
        sys.stderr.write("\n".join(tail) + "\n")
        raise InputError(f"building {src} failed (log: {log})")
    return binary


class Workspace:
    """The temporary directory, the worktrees in it, and their removal."""

    def __init__(self, repo):
        self.repo = repo
        self.tmp = tempfile.mkdtemp(prefix="krefbench-compare.",
                                    dir=os.environ.get("TMPDIR") or "/tmp")
        self.worktrees = []

    def worktree(self, name, sha, log):
        path = os.path.join(self.tmp, name)
        if run_logged(["git", "-C", self.repo, "worktree", "add", "--detach", "--quiet",
                       path, sha], log) != 0:
            raise InputError(f"git worktree add failed (log: {log})")
        self.worktrees.append(path)
        return path

    def cleanup(self):
        for wt in self.worktrees:
            with contextlib.suppress(InputError):
                bounded(["git", "-C", self.repo, "worktree", "remove", "--force", wt],
                        GIT_TIMEOUT_S, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.worktrees:
            with contextlib.suppress(InputError):
                bounded(["git", "-C", self.repo, "worktree", "prune"], GIT_TIMEOUT_S,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- the pairs

def setarch_prefix():
    """['setarch', '-R'] when this system lets a process turn address-space
    randomisation off, else [] and the reason."""
    exe = shutil.which("setarch")
    if exe is None:
        return [], "setarch (util-linux) is not installed"
    try:
        r = bounded([exe, "-R", "true"], 30, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE, text=True)
    except InputError as e:
        return [], str(e)
    if r.returncode != 0:
        return [], f"setarch -R fails here: {r.stderr.strip()[:100]}"
    return [exe, "-R"], None


class Side:
    """One side of the gate: its staged binary, its joined CSV and log."""

    def __init__(self, name, binary, out_dir, stage_dir):
        self.name = name                    # "a" or "b"
        self.binary = binary                # staged copy
        self.csv = os.path.join(out_dir, f"{name}.csv")
        self.log = os.path.join(out_dir, f"{name}.log")
        self.sidecar = os.path.join(out_dir, f"{name}.json")
        self.scratch = os.path.join(stage_dir, f"{name}.csv")   # equal length for a and b
        self.header = None
        self.rows = 0
        self.deadline = None                # time.monotonic() past which a run is killed

    def run(self, prefix, sweep, pair, position, keep):
        """One krefbench process; its rows joined into self.csv when keep.
        Returns the benchmark keys it measured, and those it measured
        cleanly (two sets)."""
        for ext in (".csv", ".json", ".gbench.json"):
            try:
                os.unlink(self.scratch[:-4] + ext)
            except FileNotFoundError:
                pass
        cmd = prefix + [self.binary] + sweep + ["--out", self.scratch]
        with open(self.log, "a") as log:
            log.write(f"--- pair {pair} position {position}: {' '.join(cmd)}\n")
            log.flush()
            left = None if self.deadline is None else max(1.0, self.deadline - time.monotonic())
            try:
                rc = subprocess.run(cmd, stdout=log, stderr=log, timeout=left).returncode
            except subprocess.TimeoutExpired:
                raise InputError(f"krefbench of {self.name.upper()} did not finish in pair "
                                 f"{pair} within --max-seconds plus {PROCESS_MARGIN_S:g} s; "
                                 f"stopped it (log: {self.log})")
        if rc in (130, 143, -signal.SIGINT, -signal.SIGTERM):
            raise Interrupted(130 if rc in (130, -signal.SIGINT) else 143)
        side = self.name.upper()
        if rc not in (0, 1):
            raise InputError(f"krefbench of {side} failed in pair {pair} (exit {rc}): "
                             f"{last_line(self.log)} (log: {self.log})")
        if not os.path.isfile(self.scratch) or os.path.getsize(self.scratch) == 0:
            raise InputError(f"{side}'s binary wrote no results CSV (exit {rc}; is it a "
                             f"krefbench?) (log: {self.log})")
        if rc == 1:
            say(f"warning: pair {pair}, {side}: a benchmark failed or failed its check "
                f"(log: {self.log})")
        measured = clean = set()
        if keep:
            measured, clean = self.join(pair, position)
            if not os.path.exists(self.sidecar) and os.path.isfile(self.scratch[:-4] + ".json"):
                shutil.copyfile(self.scratch[:-4] + ".json", self.sidecar)
        return measured, clean

    def join(self, pair, position):
        with open(self.scratch, newline="", encoding="utf-8", errors="replace") as f:
            records = list(csv.reader(f))
        if not records:
            raise InputError(f"{self.name.upper()}'s results CSV of pair {pair} is empty")
        header, rows = records[0], records[1:]
        if self.header is None:
            self.header = header
            with open(self.csv, "x", newline="") as f:
                csv.writer(f, lineterminator="\n").writerow(header + ["pair", "position"])
        elif header != self.header:
            raise InputError(f"{self.name.upper()}'s CSV columns changed in pair {pair}")
        # Which rows were measured cleanly: check ok, not disturbed (the
        # columns by name; a file without `disturbed` is clean).
        col = {name.strip(): i for i, name in enumerate(header)}
        key_cols = [col[c] for c in results.KEY_COLUMNS if c in col]
        measured, clean = set(), set()
        with open(self.csv, "a", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            for row in rows:
                if not row:
                    continue
                w.writerow([csv_cell(x) for x in row] + [pair, position])
                self.rows += 1
                if len(row) != len(header):
                    continue
                key = tuple(row[i].strip() for i in key_cols)
                measured.add(key)
                ok = row[col["check"]].strip() in ("", "ok") if "check" in col else True
                if ok and ("disturbed" not in col or not row[col["disturbed"]].strip()):
                    clean.add(key)
        return measured, clean


def last_line(path):
    try:
        with open(path, errors="replace") as f:
            lines = [x for x in f.read().splitlines() if x.strip() and not x.startswith("---")]
        return lines[-1].strip() if lines else "(no output)"
    except OSError:
        return "(no log)"


def warm_up(sides, prefix, sweep):
    """Pair 0, not counted: caches and page tables warm, and proof that both
    binaries run with these options and write a results CSV."""
    for side in sides:
        side.run(prefix, sweep, 0, 0, keep=False)


def run_pairs(sides, prefix, sweep, want, max_seconds, max_pairs, rng, busy_retries):
    """Pairs until every row has `want` clean pairs, max_seconds of pairs
    passed or max_pairs ran. Returns the orders ('ab'/'ba' per pair), the
    seconds taken, the clean pairs per row (dict key -> count) and the pair
    from which krefbench ran with --retries 0 (None: never). busy_retries:
    whether a busy machine may switch retries off (see BUSY_SHARE)."""
    orders = []
    clean_pairs = {}
    attempts = clean_attempts = 0
    retries_off_from = None
    start = last_note = time.monotonic()
    stop = ""
    for pair in range(1, max_pairs + 1):
        if (busy_retries and retries_off_from is None and pair > BUSY_PROBE_PAIRS
                and attempts and attempts - clean_attempts >= BUSY_SHARE * attempts):
            retries_off_from = pair
            sweep = sweep + ["--retries", "0"]
            say(f"note: {attempts - clean_attempts} of {attempts} row attempts of the first "
                f"{pair - 1} pairs were disturbed (a busy machine): --retries 0 from pair "
                f"{pair} on, a disturbed attempt is used rather than measured again")
        order = list(sides) if rng.random() < 0.5 else list(reversed(sides))
        clean = {}
        for position, side in enumerate(order, start=1):
            measured, clean[side.name] = side.run(prefix, sweep, pair, position, keep=True)
            attempts += len(measured)
            clean_attempts += len(clean[side.name])
            for key in measured:
                clean_pairs.setdefault(key, 0)
        for key in clean["a"] & clean["b"]:
            clean_pairs[key] += 1
        orders.append("".join(s.name for s in order))
        fewest = min(clean_pairs.values(), default=0)
        now = time.monotonic()
        if clean_pairs and fewest >= want:
            break
        if now - last_note >= 15:
            say(f"pair {pair}: {now - start:.0f} s, clean pairs of the scarcest row {fewest}/{want}")
            last_note = now
        if now - start >= max_seconds:
            stop = f"--max-seconds {max_seconds:g} reached"
            break
    else:
        stop = f"--max-pairs {max_pairs} reached"
    seconds = time.monotonic() - start
    if stop:
        short = sorted((n, " ".join(k[:3])) for k, n in clean_pairs.items() if n < want)
        say(f"note: stopped after {len(orders)} pairs ({stop}) with fewer than {want} clean "
            f"pairs for {len(short)} row(s): " + ", ".join(f"{name} {n}" for n, name in short)
            + " (disturbed: the machine is busy)")
    return orders, seconds, clean_pairs, retries_off_from


# ---------------------------------------------------------------- main

def with_disturbed(paths, short):
    """Copies of the joined files (<side>.with-disturbed.csv)
    in which the rows of the keys in `short` count as clean, disturbed or
    not, and are figured by the CPU time per op (task_clock_ns_per_op: the
    time the benchmark threads ran, which a competitor taking the CPU does
    not inflate as it does the wall clock) when every such row of both
    files has it. The order of each pair was a coin flip and the figure is
    chosen without looking at A or B, so under "A and B are the same" every
    difference is as likely positive as negative whatever disturbed it: the
    signed-rank test stays exact. The original files keep their marks; the
    note names the rows and the figure."""
    if not short:
        return paths
    files = []
    for path in paths:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            records = list(csv.reader(f))
        col = {name.strip(): i for i, name in enumerate(records[0])}
        key_cols = [col[c] for c in results.KEY_COLUMNS if c in col]
        rows = [(r, len(r) == len(records[0]) and tuple(r[i].strip() for i in key_cols) in short)
                for r in records[1:]]
        files.append((path, records[0], col, rows))

    def cpu_time(col, row):
        try:
            v = float(row[col["task_clock_ns_per_op"]])
        except (KeyError, ValueError):
            return None
        return v if v > 0 and v == v and v != float("inf") else None
    use_cpu = all(cpu_time(col, r) is not None for _, _, col, rows in files
                  for r, hit in rows if hit)
    out = []
    for path, header, col, rows in files:
        copy = path[:-4] + ".with-disturbed.csv"
        if os.path.isfile(path[:-4] + ".json"):     # the run's sidecar goes with it
            shutil.copyfile(path[:-4] + ".json", copy[:-4] + ".json")
        with open(copy, "x", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            for row, hit in rows:
                if hit:
                    row = list(row)
                    if "disturbed" in col:
                        row[col["disturbed"]] = ""
                    if use_cpu:
                        row[col["ns_per_op"]] = row[col["task_clock_ns_per_op"]].strip()
                w.writerow(row)
        out.append(copy)
    figure = ("CPU time per op (task_clock_ns_per_op) in place of the wall clock" if use_cpu else
              "the wall clock (no task_clock_ns_per_op in every row: perf counters off?)")
    say(f"note: {len(short)} row(s) short of clean pairs analysed on all their "
        f"pairs, disturbed ones included, by {figure}: "
        + ", ".join(sorted(" ".join(k[:3]) for k in short)))
    return out


def gate(args):
    sweep, custom = sweep_of(args)
    out = out_dir_of(args)
    bins = check_bins(args.bin) if args.bin else []
    revs = resolve_revs(args.repo, args.rev) if args.rev else []
    why_rows = []
    if revs:        # the rows of what the change touches join the default ones
        sweep, why_rows = touched.guard(args, sweep, revs)
        for line in why_rows:
            say(f"rows: {line}")
    prefix, why_not = setarch_prefix()
    rng_seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 31)

    ws = Workspace(args.repo)
    try:
        os.makedirs(out)
        if revs:
            labels = [revs[0][1]]
            src_a = ws.worktree("a", revs[0][0], os.path.join(out, "a.build.log"))
            say(f"building A = {labels[0]}")
            bin_a = build(src_a, os.path.join(src_a, "build"), os.path.join(out, "a.build.log"))
            if len(revs) == 2:
                labels.append(revs[1][1])
                src_b = ws.worktree("b", revs[1][0], os.path.join(out, "b.build.log"))
                say(f"building B = {labels[1]}")
                bin_b = build(src_b, os.path.join(src_b, "build"),
                              os.path.join(out, "b.build.log"))
            else:
                dirty = git(args.repo, "status", "--porcelain", "--untracked-files=no").stdout
                head = git(args.repo, "rev-parse", "--short", "HEAD").stdout.strip()
                labels.append(f"working tree (HEAD {head}{' + uncommitted changes' if dirty.strip() else ''})")
                say(f"building B = {labels[1]} in build/compare")
                bin_b = build(args.repo, os.path.join(args.repo, "build", "compare"),
                              os.path.join(out, "b.build.log"))
        else:
            bin_a, bin_b = bins
            labels = [bin_a, bin_b]
        # Copies at paths of equal length (run/a/krefbench, run/b/krefbench).
        stage = os.path.join(ws.tmp, "run")
        sides = []
        for name, binary in (("a", bin_a), ("b", bin_b)):
            os.makedirs(os.path.join(stage, name))
            staged = os.path.join(stage, name, "krefbench")
            shutil.copy2(binary, staged)
            sides.append(Side(name, staged, out, stage))
        if why_not:
            say(f"warning: address-space randomisation stays on ({why_not}): layouts vary "
                f"between processes, which adds noise (not bias)")
        deadline = time.monotonic() + args.max_seconds + PROCESS_MARGIN_S
        for side in sides:
            side.deadline = deadline
        warm_up(sides, prefix, sweep)
        rng = random.Random(rng_seed)
        say(f"pairs of krefbench {' '.join(sweep)} until every row has {args.pairs} clean "
            f"pairs (seed {rng_seed}{', ASLR off' if prefix else ''}) -> {out}")
        busy_retries = args.use_disturbed and not any(
            a.split("=", 1)[0] == "--retries" for a in args.after)
        orders, seconds, clean_pairs, retries_off_from = run_pairs(
            sides, prefix, sweep, args.pairs, args.max_seconds, args.max_pairs, rng,
            busy_retries)
        with open(os.path.join(out, "gate.json"), "x") as f:
            json.dump({"a": labels[0], "b": labels[1], "sweep": sweep, "seed": rng_seed,
                       "clean_pairs_wanted": args.pairs, "pairs_run": len(orders),
                       "clean_pairs": {" ".join(str(x) for x in k): n
                                       for k, n in sorted(clean_pairs.items())},
                       "orders": orders, "seconds": round(seconds, 1),
                       "retries_off_from_pair": retries_off_from,
                       "disturbed_pairs_used": args.use_disturbed,
                       "aslr_off": bool(prefix), "custom_sweep": custom,
                       "rows": why_rows}, f, indent=1)
            f.write("\n")
        say(f"{len(orders)} pairs in {seconds:.0f} s")
    finally:
        ws.cleanup()

    paths = [side.csv for side in sides]
    if args.use_disturbed:      # the default; --clean-only leaves short rows undecided
        paths = with_disturbed(paths, {k for k, n in clean_pairs.items() if n < args.pairs})
    a = compare.load_results(paths[0])
    b = compare.load_results(paths[1])
    args.label_a = args.label_a or labels[0]
    args.label_b = args.label_b or labels[1]
    status = compare.analyse(a, b, args)
    history.record_gate(sides[0].csv, sides[1].csv, revs, args.repo)
    say(f"pairs in {out} (again: ./run.sh compare {paths[0]} {paths[1]}; chart: "
        f"./run.sh plot --compare {paths[0]} {paths[1]})")
    return status


def main(argv=None):
    def on_term(signum, frame):
        raise Interrupted(143)

    def command():
        try:
            return gate(parse_args(sys.argv[1:] if argv is None else argv))
        except Interrupted as e:
            print("compare: interrupted", file=sys.stderr)
            return e.status
    signal.signal(signal.SIGTERM, on_term)
    return compare.guarded(command)


if __name__ == "__main__":
    sys.exit(main())
