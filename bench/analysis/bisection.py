"""Which commit made it slower: `git bisect run` with the regression gate as
the predicate.

    ./run.sh bisect GOOD BAD [--threshold PCT] [--log DIR] [gate options]

Each tested commit X is gated against GOOD exactly as `./run.sh compare
--rev GOOD --rev X` would (bench/analysis/gate.py: both built in temporary
worktrees, the rows of what X's change touches added, process pairs, the
paired analysis) and answers git bisect:

    0    good: the gate exits 0 (nothing slower than GOOD)
    1    bad: the gate exits 1 (a regression beyond --threshold)
    125  skip: the gate is undecided (exit 2: too few clean pairs) or X
         does not build
    130  interrupted: git bisect run stops

BAD is gated first: when the gate does not find BAD slower than GOOD there
is nothing to look for (exit 0 with a note; 2 when it is undecided). The
bisection runs with `git bisect start --no-checkout` (the commit under test
is BISECT_HEAD; the gate builds it in its own worktree), so the working
tree is never changed, and `git bisect reset` runs however it ends (done,
error, ^C, SIGTERM). It prints the first bad commit and the gate's table
for it; every step's gate files are in the log directory
(results/bisect-<UTC>/ unless --log DIR), one folder per commit. Each gate
appends both its sides to the history (bench/analysis/history.py).

Exit: 0 done (a first bad commit found, or BAD not slower); 1 git bisect
could not name one commit (only skipped commits left: their range is
printed); 2 bad input or no answer; 130/143 interrupted.
"""

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time

from . import cli, gate

PROG = "bisect"
InputError = cli.InputError
SKIP = 125
REFUSED = ("--rev", "--bin", "--out", "--repo")
# In the log directory while it runs. STEP_LOCK is held by the step of git
# bisect run in progress, its pid inside: on ^C git dies at once while its
# step goes on stopping its gate, so the bisection waits for this lock, not
# only for git. STOP_FLAG, once the bisection is interrupted, makes any step
# that starts after it stop git bisect run (exit 130) before gating.
STEP_LOCK = ".step.lock"
STOP_FLAG = ".stop"


def say(msg):
    print(f"bisect: {msg}", file=sys.stderr, flush=True)


def git(repo, *argv, check=True):
    r = subprocess.run(["git", "-C", repo, *argv], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise InputError(f"git {' '.join(argv)} failed: "
                         f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return r


def parse_args(argv):
    p = cli.Parser(prog=PROG, description="git bisect run with the regression gate as the "
                   "predicate: the first commit the gate finds slower than GOOD.",
                   epilog="Gate options (--pairs, --max-seconds, --alpha, --backends, ...) "
                   "are passed to every gate. Exit: 0 done; 1 only skipped commits left; "
                   "2 bad input or no answer; 130/143 interrupted. README.md, 'Results over time'.")
    p.add_argument("good", metavar="GOOD")
    p.add_argument("bad", metavar="BAD")
    p.add_argument("--threshold", default="5", metavar="PCT",
                   help="slower by more than this is bad (default 5)")
    p.add_argument("--log", metavar="DIR", help="the gates' files (default results/bisect-<UTC>/)")
    p.add_argument("--repo", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--predicate", action="store_true", help=argparse.SUPPRESS)
    args, gate_opts = p.parse_known_args(argv)
    for o in gate_opts:
        if o.split("=", 1)[0] in REFUSED:
            raise InputError(f"{o.split('=', 1)[0]} is not an option here (the bisection "
                             f"chooses the revisions and where the gates' files go)")
    args.gate_opts = gate_opts
    args.repo = os.path.realpath(args.repo or os.path.join(
        os.path.dirname(os.path.realpath(__file__)), os.pardir, os.pardir))
    return args


def resolve(repo, rev):
    r = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if r.returncode != 0:
        raise InputError(f"'{rev}' is not a revision of this repository")
    return r.stdout.strip()


def subject(repo, sha):
    return git(repo, "log", "-1", "--format=%h %s", sha).stdout.strip()


def gate_once(args, sha, log):
    """The gate GOOD vs sha, its table in log/<sha12>/table.txt; its exit."""
    out = os.path.join(log, sha[:12])
    n = 2
    while os.path.exists(out):
        out = os.path.join(log, f"{sha[:12]}-{n}")
        n += 1
    cmd = [sys.executable, "-m", "analysis.gate", "--repo", args.repo, "--rev", args.good,
           "--rev", sha, "--out", out, "--threshold", args.threshold] + args.gate_opts
    os.makedirs(log, exist_ok=True)
    table = out + ".table.txt"
    with open(table, "x") as f:
        rc = wait_for(subprocess.Popen(cmd, stdout=f))
    with open(os.path.join(log, "steps.tsv"), "a") as f:
        f.write(f"{sha}\t{rc}\t{table}\n")
    return rc, table


def wait_for(child):
    """child's exit status. On ^C (which reached child too: one process
    group) child is waited for, so that it removes its worktrees and
    temporary files; on SIGTERM (to this process alone) it is passed on
    first. Then the interruption goes on."""
    try:
        return child.wait()
    except KeyboardInterrupt:
        settle(child, None)
        raise
    except BaseException:
        settle(child, signal.SIGTERM)
        raise


def settle(child, sig):
    if sig and child.poll() is None:
        child.send_signal(sig)
    while child.poll() is None:
        try:
            child.wait()
        except (KeyboardInterrupt, Interrupted):
            continue


def hold_step_lock(log):
    """Held until this process exits (the descriptor is never closed)."""
    fd = os.open(os.path.join(log, STEP_LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


def stop_steps(log, sig):
    """No step starts a gate from now on, and the step in progress (if any)
    gets sig. A step checks the flag after writing its pid, so either it
    sees the flag or its pid is read here."""
    with open(os.path.join(log, STOP_FLAG), "w"):
        pass
    if sig is None:
        return
    try:
        fd = os.open(os.path.join(log, STEP_LOCK), os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return                                  # no step in progress
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if pid.isdigit():
            try:
                os.kill(int(pid), sig)
            except ProcessLookupError:
                pass
    finally:
        os.close(fd)


def wait_for_steps(log):
    """Returns once no step is in progress (one may outlive git), then
    removes the lock and the flag."""
    path = os.path.join(log, STEP_LOCK)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        fd = None
    if fd is not None:
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    break
                except (KeyboardInterrupt, Interrupted):
                    continue
            os.unlink(path)
        finally:
            os.close(fd)
    try:
        os.unlink(os.path.join(log, STOP_FLAG))
    except FileNotFoundError:
        pass


def predicate(args):
    """One step of git bisect run: the commit under test is BISECT_HEAD."""
    hold_step_lock(args.log)
    if os.path.exists(os.path.join(args.log, STOP_FLAG)):
        return 130
    sha = git(args.repo, "rev-parse", "BISECT_HEAD").stdout.strip()
    say(f"gating {subject(args.repo, sha)} against GOOD {args.good[:12]}")
    rc, _ = gate_once(args, sha, args.log)
    if rc in (130, 143):
        return 130
    verdict = {0: (0, "good"), 1: (1, "bad")}.get(rc, (SKIP, f"skip (gate exit {rc})"))
    say(f"{sha[:12]}: {verdict[1]}")
    return verdict[0]


class Interrupted(Exception):
    def __init__(self, status):
        super().__init__(status)
        self.status = status


def bisect(args):
    repo = args.repo
    git(repo, "rev-parse", "--git-dir")
    args.good, args.bad = resolve(repo, args.good), resolve(repo, args.bad)
    if args.good == args.bad:
        raise InputError("GOOD and BAD are the same commit")
    if git(repo, "merge-base", "--is-ancestor", args.good, args.bad, check=False).returncode != 0:
        raise InputError(f"GOOD {args.good[:12]} is not an ancestor of BAD {args.bad[:12]}")
    try:
        float(args.threshold)
    except ValueError:
        raise InputError(f"--threshold {args.threshold!r} is not a number")
    # The gate judges its own options before anything is built.
    gate.parse_args(["--rev", args.good, "--rev", args.bad, "--threshold", args.threshold]
                    + args.gate_opts)
    bisect_log = git(repo, "rev-parse", "--git-path", "BISECT_LOG").stdout.strip()
    if os.path.exists(os.path.join(repo, bisect_log)):
        raise InputError("a git bisect is already in progress here (git bisect reset ends it)")
    args.log = os.path.abspath(args.log or os.path.join(
        repo, "results", "bisect-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())))
    if os.path.exists(args.log) and os.listdir(args.log):
        raise InputError(f"--log {args.log} exists and is not empty")

    say(f"GOOD {subject(repo, args.good)}; BAD {subject(repo, args.bad)}; files in {args.log}")
    say("first, is BAD slower than GOOD?")
    rc, table = gate_once(args, args.bad, args.log)
    if rc in (130, 143):
        raise Interrupted(rc)
    if rc == 0:
        sys.stdout.write(open(table).read())
        say("the gate finds BAD no slower than GOOD: nothing to bisect")
        return cli.EXIT_OK
    if rc != 1:
        say(f"the gate of BAD against GOOD gave no answer (exit {rc}): nothing to bisect "
            f"(see {table[:-len('.table.txt')]})")
        return cli.EXIT_BAD_INPUT
    first_tables = {args.bad: table}

    child = None
    try:
        git(repo, "bisect", "start", "--no-checkout", args.bad, args.good)
        cmd = ["git", "-C", repo, "bisect", "run", sys.executable, "-m", "analysis.bisection",
               "--predicate", "--repo", repo, "--log", args.log, "--threshold", args.threshold,
               args.good, args.bad] + args.gate_opts
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        lines = []
        for line in child.stdout:
            lines.append(line)
            sys.stdout.write(line)
            sys.stdout.flush()
        rc = child.wait()
        child = None
        text = "".join(lines)
        if "is the first bad commit" in text:
            first = git(repo, "rev-parse", "refs/bisect/bad").stdout.strip()
            steps = {}
            with open(os.path.join(args.log, "steps.tsv")) as f:
                for line in f:
                    sha, code, path = line.rstrip("\n").split("\t")
                    steps[sha] = path
            steps.update(first_tables)
            print(f"\nfirst bad commit: {subject(repo, first)} ({first})")
            if first in steps:
                print(f"the gate of it against GOOD {args.good[:12]} ({steps[first]}):")
                sys.stdout.write(open(steps[first]).read())
            return cli.EXIT_OK
        if "only 'skip'ped commits left" in text:
            say("git bisect could not name one commit: only skipped commits left (above)")
            return cli.EXIT_FOUND
        if rc in (130, 143) or "exit code 130" in text or "exit code 143" in text:
            raise Interrupted(130)
        raise InputError(f"git bisect run ended with exit {rc} without a first bad commit")
    except BaseException as e:
        # ^C reached git and its step too (one process group); anything else
        # stops the step, whose exit 143 ends git bisect run. Git itself is
        # not signalled: `git bisect` is a shell script whose death would
        # leave its helper running the next step.
        stop_steps(args.log, None if isinstance(e, KeyboardInterrupt) else signal.SIGTERM)
        if child is not None:
            child.stdout.close()            # nothing more is read from git
            settle(child, None)
        raise
    finally:
        wait_for_steps(args.log)
        git(repo, "bisect", "reset", check=False)
        say("git bisect reset: the working tree and HEAD are as they were")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv

    def on_term(signum, frame):
        raise Interrupted(143)

    def command():
        args = parse_args(argv)
        try:
            return predicate(args) if args.predicate else bisect(args)
        except Interrupted as e:
            # A step's 130 or 143 (not 1 to 127) makes git bisect run stop.
            say("interrupted")
            return e.status
    signal.signal(signal.SIGTERM, on_term)
    return cli.guarded(PROG, command)


if __name__ == "__main__":
    sys.exit(main())
