#!/usr/bin/python3
"""Measures the regression gate's power on this machine: K gates of the same
binary against itself and K gates against a build whose atomic put is N%
slower (-DKREFBENCH_TEST_SLOW_PUT_PCT=N), taking turns (A/A, A/B, A/A, ...)
so that the machine's drift falls on both kinds alike.

    .ci/gate_power.py [--k 20] [--pct 10] [--src DIR] [--build-dir DIR] [--out DIR]
                        [--max-gate-seconds 180] [--min-detect 0.95] [--load N]
                        [-- GATE OPTIONS]

It builds both binaries itself (Release, krefbench only) from this source
tree, runs each gate as a user would (`./run.sh compare --bin A --bin B`,
with GATE OPTIONS if given, else the gate's defaults) and prints one line a
gate, then the summary:

  false alarms   A/A gates that did not exit 0 (exit 1: a "slower" verdict;
                 exit 2: undecided)
  detections     A/B gates that exited 1 naming atomic and only atomic
  seconds        per gate, median and worst
  effect         the atomic rows' measured B/A over the A/B gates (median of
                 the gates' Hodges-Lehmann estimates) and the median
                 smallest-detectable change of each row

--load N starts N competing busy processes (a loop of a shell, at normal
priority, as a build beside the tests on a CI runner) before the first gate
and stops them after the last, so the figures are those of a busy machine.

Exit 0 when every A/A gate exited 0, at least --min-detect of the A/B gates
detected (rounded up: 19 of 20, 2 of 2), and no gate took longer than
--max-gate-seconds; 1 otherwise; 2 bad arguments or a build that failed;
130 interrupted. No figure here is asserted by ./run.sh test: timing targets
live in this script, which .ci/run runs with a small K.
"""

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time

from analysis import cli, gate  # PYTHONPATH=bench (.ci/run, tests/CMakeLists.txt)

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir))


def say(msg):
    print(f"gate_power: {msg}", flush=True)


def build(src, pct, build_dir):
    """build_dir/bench/krefbench from src with the given injection (the
    gate's own build, the project's one recipe); exits 2 on failure."""
    try:
        return gate.build(src, build_dir, build_dir + ".log",
                          [f"KREFBENCH_TEST_SLOW_PUT_PCT={pct}"])
    except cli.InputError as e:
        print(f"gate_power: building with KREFBENCH_TEST_SLOW_PUT_PCT={pct} failed: {e}",
              file=sys.stderr)
        sys.exit(2)


def one_gate(kind, i, bin_a, bin_b, out, gate_opts):
    """Runs one gate; a dict of what it found."""
    d = os.path.join(out, f"{kind}-{i:02d}")
    cmd = [os.path.join(REPO, "run.sh"), "compare", "--bin", bin_a, "--bin", bin_b,
           "--out", d, "--format", "json"] + gate_opts
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = child.communicate()
    except BaseException:
        # Interrupted (^C, SIGTERM): the gate removes its worktrees and
        # staged copies on SIGTERM; wait for it to have done so.
        child.send_signal(signal.SIGTERM)
        child.communicate()
        raise
    r = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    seconds = time.monotonic() - t0
    with open(d + ".err", "w") as f:
        f.write(r.stderr)
    if r.returncode in (130, 143):
        raise KeyboardInterrupt
    named = sorted({line.split()[2] for line in r.stderr.splitlines()
                    if line.startswith("compare: regression: ")})
    rows = {}
    try:
        doc = json.loads(r.stdout)
        for b in doc["benchmarks"]:
            rows[(b["backend"], b["workload"], b["threads"])] = b
    except (ValueError, KeyError):
        doc = None
    pairs = min((b["n_pairs"] for b in rows.values() if b.get("n_pairs") is not None), default=0)
    return {"kind": kind, "i": i, "exit": r.returncode, "named": named, "seconds": seconds,
            "rows": rows, "pairs": pairs, "dir": d,
            "why": "" if doc else (r.stderr.strip().splitlines() or ["no output"])[-1]}


def describe(g):
    def row(b, w, t):
        x = g["rows"].get((b, w, t))
        if not x:
            return f"{b} {w}@{t} -"
        lo, hi = x.get("ci_low"), x.get("ci_high")
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else ""
        return f"{b} {w}@{t} {x['ratio']:.3f}{ci}"
    named = ",".join(g["named"]) or "-"
    extra = f" ({g['why']})" if g["why"] else ""
    return (f"{g['kind']} {g['i']:2d}: exit {g['exit']}, named {named:<16} {g['seconds']:5.0f} s, "
            f"{g['pairs']:3d} pairs; {row('atomic', 'private', 1)}; "
            f"{row('atomic', 'hammer', 2)}{extra}")


def start_load(n):
    """n busy processes at this process's priority (normal): shells that
    loop without end, each in its own session so that a ^C to the gates
    does not stop them first; stop_load ends them."""
    procs = []
    for _ in range(n):
        procs.append(subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"],
                                      start_new_session=True))
    if n:
        say(f"load: {n} busy process(es) started (pids "
            f"{', '.join(str(p.pid) for p in procs)})")
    return procs


def stop_load(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def on_term(signum, frame):
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, on_term)
    p = argparse.ArgumentParser(prog="gate_power", description=__doc__.split("\n\n")[0])
    p.add_argument("--k", type=int, default=20, help="gates of each kind (default 20)")
    p.add_argument("--pct", type=int, default=10, help="injected slowdown, percent (default 10)")
    p.add_argument("--src", default=REPO, help="the source tree to build (default this one)")
    p.add_argument("--build-dir", default=os.path.join(REPO, "build", "gate-power"),
                   help="where the two builds go (default build/gate-power)")
    p.add_argument("--out", help="where the gates' files go (default <build-dir>/run-<UTC>)")
    p.add_argument("--max-gate-seconds", type=float, default=180.0)
    p.add_argument("--min-detect", type=float, default=0.95,
                   help="share of A/B gates that must detect (default 0.95)")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="competing busy processes at normal priority during the gates (default 0)")
    argv = sys.argv[1:]
    gate_opts = []
    if "--" in argv:
        i = argv.index("--")
        argv, gate_opts = argv[:i], argv[i + 1:]
    args = p.parse_args(argv)
    if args.k < 1 or not 1 <= args.pct <= 99 or not 0 < args.min_detect <= 1 or \
            not 0 <= args.load <= 64:
        print("gate_power: --k must be 1 or more, --pct 1 to 99, --min-detect in (0, 1], "
              "--load 0 to 64", file=sys.stderr)
        return 2
    build_dir = os.path.abspath(args.build_dir)
    out = os.path.abspath(args.out or os.path.join(
        build_dir, "run-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    if os.path.exists(out) and os.listdir(out):
        print(f"gate_power: --out {out} exists and is not empty", file=sys.stderr)
        return 2
    os.makedirs(build_dir, exist_ok=True)
    os.makedirs(out, exist_ok=True)

    say(f"building normal and {args.pct}%-slower-put krefbench in {build_dir}")
    normal = build(args.src, 0, os.path.join(build_dir, "p0"))
    slower = build(args.src, args.pct, os.path.join(build_dir, f"p{args.pct}"))
    say(f"{args.k} A/A and {args.k} A/B gates, taking turns; gate options: "
        f"{' '.join(gate_opts) or '(defaults)'}; files in {out}")
    gates = []
    load = start_load(args.load)
    try:
        for i in range(1, args.k + 1):
            for kind, b in (("A/A", normal), ("A/B", slower)) if i % 2 else \
                    (("A/B", slower), ("A/A", normal)):
                g = one_gate(kind.replace("/", "").lower(), i, normal, b, out, gate_opts)
                g["kind"] = kind
                gates.append(g)
                print(describe(g), flush=True)
    except KeyboardInterrupt:
        print("gate_power: interrupted", file=sys.stderr)
        return 130
    finally:
        stop_load(load)

    aa = [g for g in gates if g["kind"] == "A/A"]
    ab = [g for g in gates if g["kind"] == "A/B"]
    false_alarms = [g for g in aa if g["exit"] == 1]
    undecided = [g for g in aa if g["exit"] not in (0, 1)]
    detected = [g for g in ab if g["exit"] == 1 and g["named"] == ["atomic"]]
    secs = [g["seconds"] for g in gates]
    need = math.ceil(args.min_detect * args.k - 1e-9)
    print()
    say(f"KREFBENCH_TEST_SLOW_PUT_PCT={args.pct}, K = {args.k}, "
        f"gate options: {' '.join(gate_opts) or '(defaults)'}, "
        f"load: {args.load} competing busy process(es) at normal priority")
    say(f"same vs same: exit 0 in {len(aa) - len(false_alarms) - len(undecided)} of {len(aa)} "
        f"(false alarms, exit 1: {len(false_alarms)}; undecided, exit 2: {len(undecided)})")
    say(f"same vs {args.pct}% slower: atomic and only atomic named, exit 1, in "
        f"{len(detected)} of {len(ab)}")
    say(f"seconds per gate: median {statistics.median(secs):.0f}, worst {max(secs):.0f}")
    for key in (("atomic", "private", 1), ("atomic", "hammer", 2)):
        ratios = [g["rows"][key]["ratio"] for g in ab if key in g["rows"]]
        aa_ratios = [g["rows"][key]["ratio"] for g in aa if key in g["rows"]]
        det = [g["rows"][key]["detectable_pct"] for g in gates
               if key in g["rows"] and g["rows"][key].get("detectable_pct") is not None]
        if ratios:
            say(f"{key[0]} {key[1]}@{key[2]}: A/B ratio median {statistics.median(ratios):.3f} "
                f"(range {min(ratios):.3f}-{max(ratios):.3f}); A/A ratio median "
                f"{statistics.median(aa_ratios) if aa_ratios else float('nan'):.3f} (range "
                f"{min(aa_ratios, default=float('nan')):.3f}-{max(aa_ratios, default=float('nan')):.3f}); "
                f"detectable change median {statistics.median(det) if det else float('nan'):.1f}%")
    ok = (not false_alarms and not undecided and len(detected) >= need
          and max(secs) <= args.max_gate_seconds)
    say(("PASS" if ok else "FAIL") + f": required A/A exit 0 in {len(aa)} of {len(aa)}, "
        f"detection in >= {need} of {len(ab)}, every gate <= {args.max_gate_seconds:g} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
