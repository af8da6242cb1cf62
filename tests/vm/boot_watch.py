#!/usr/bin/python3
"""Boots the vm flavour's guest under a watchdog (tests/vm/run_vm.sh runs it).

    boot_watch.py run   --console LOG --bound S [--attempts N] [--budget S]
                        [--kernel-log LOG] [--monitor SOCK] [--stderr FILE] -- QEMU ARGS...
    boot_watch.py stats --boots N --console LOG --bound S [...] -- QEMU ARGS...
    boot_watch.py --self-test

QEMU ARGS is the emulator's command line. Its standard output (the guest's
console, where /init writes "@kbvm ..." lines) goes to --console; --kernel-log
names the file the command writes the kernel's own messages to (a second serial
port), quoted when a boot stalls; --monitor names the command's qemu monitor
socket, asked for the vCPUs' registers when a boot stalls (kept as
LOG.attemptK.vcpus, summed up in the line: how many are halted, where the
others spin).

run: boots; if the console has not shown the marker ("@kbvm shape", the line
in which the guest states its CPUs and nodes) within --bound seconds of the
start, kills the emulator's process group, keeps that attempt's console and
kernel log beside the originals (LOG -> LOG with ".attemptK" before the
extension), says so in one line, and boots again: at most --attempts boots in
all. A boot that showed the marker has until --budget seconds from its own
start to exit, then is killed. Exit status: the emulator's own when it exited
by itself (also when it exited before the marker: that is a failed boot to
report, not a stall to retry), 124 when the budget ran out, 3 when no attempt
showed the marker in time.

stats: N watched boots (each as in run, retries included), each stopped as soon
as the marker shows; prints each boot's time to the marker and then boots,
hangs (attempts that showed nothing within the bound), retries and the
min/median/max time to the marker. Exit 0 when every boot reached the marker.

Every exit path (a signal to this process included) leaves no emulator running.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MARKER = b"@kbvm shape"
# Status when no attempt showed the marker within the bound.
NO_LIFE = 3
# As timeout(1): the budget ran out.
BUDGET = 124
# Seconds between SIGTERM and SIGKILL of the emulator's process group.
KILL_GRACE = 5


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, _frame):
    raise Interrupted(signum)


def kill_group(proc, grace=KILL_GRACE):
    """Ends proc and everything in its process group (SIGTERM, SIGKILL after
    grace seconds); returns its status."""
    if proc.poll() is not None:
        return proc.returncode
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.returncode


def kept_name(path, tag):
    """console.log, "attempt1" -> console.attempt1.log."""
    root, ext = os.path.splitext(path)
    return "%s.%s%s" % (root, tag, ext)


def last_line(path, limit=160):
    """The last non-empty line of a file, printable ASCII only, at most limit characters."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            data = f.read()
    except OSError:
        return ""
    for raw in reversed(data.splitlines()):
        line = re.sub(rb"[^\x20-\x7e]", b"", raw).decode("ascii").strip()
        if line:
            return line[:limit]
    return ""


def ask_monitor(path, command, wait=3.0):
    """A qemu human monitor's answer to one command on its unix socket ("" if none)."""
    import socket
    out = b""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(wait)
            s.connect(path)
            s.sendall(command.encode() + b"\n")
            end = time.monotonic() + wait
            while time.monotonic() < end:
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    break
                if not data:
                    break
                out += data
                # The prompt after the answer.
                if out.count(b"(qemu)") >= 2:
                    break
    except OSError:
        return ""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", out.decode("utf-8", "replace"))


def vcpu_summary(text):
    """'info registers -a' in a few words: how many vCPUs are halted, where the others are."""
    cpus = re.findall(r"CPU#(\d+)\n.*?[RE]IP=([0-9a-f]+).*?HLT=(\d)", text, re.S)
    if not cpus:
        return ""
    halted = sum(1 for c in cpus if c[2] == "1")
    pcs = {}
    for c in cpus:
        if c[2] != "1":
            pcs[c[1]] = pcs.get(c[1], 0) + 1
    top = sorted(pcs.items(), key=lambda kv: -kv[1])[:3]
    return "%d of %d vCPUs halted%s" % (halted, len(cpus), "".join(
        ", %d at rip %s" % (n, pc) for pc, n in top))


class Attempt:
    """One boot: starts the command, watches its console for the marker."""

    def __init__(self, cmd, console, stderr_path=None, marker=MARKER, grace=KILL_GRACE):
        self.marker = marker
        self.grace = grace
        self.console = console
        out = open(console, "wb")
        err = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL
        try:
            self.start = time.monotonic()
            # A session of its own: the kill reaches whatever the command started.
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True)
        finally:
            out.close()
            if err is not subprocess.DEVNULL:
                err.close()
        self.reader = open(console, "rb")
        self.tail = b""
        self.seen = None  # seconds from start to the marker

    def elapsed(self):
        return time.monotonic() - self.start

    def poll_marker(self):
        """Reads what the console gained; True once the marker has shown."""
        if self.seen is None:
            data = self.reader.read()
            if data:
                buf = self.tail + data
                if self.marker in buf:
                    self.seen = self.elapsed()
                # Enough to find a marker split across two reads.
                self.tail = buf[-len(self.marker):]
        return self.seen is not None

    def close(self):
        status = kill_group(self.proc, self.grace)
        self.reader.close()
        return status


def watch(cmd, console, bound, attempts=3, budget=None, kernel_log=None, stderr_path=None,
          stop_at_marker=False, tag="", say=print, poll=0.2, grace=KILL_GRACE, monitor=None):
    """Boots cmd up to `attempts` times until one shows the marker within `bound` s.

    Returns (status, attempts) with status "exited" (the command ended by itself;
    rc in attempts[-1]), "marker" (stop_at_marker: killed once it showed),
    "budget" (killed after `budget` s) or "no_life"; attempts is a list of
    dicts: seen (seconds to the marker or None), rc, kept (files kept).
    monitor: the command's qemu monitor socket; a stalled boot's vCPU registers
    (two samples a second apart: halted, or spinning where) are kept beside its console.
    """
    done = []
    for k in range(1, attempts + 1):
        if kernel_log:
            # A stale log would be quoted as this boot's.
            try:
                os.unlink(kernel_log)
            except FileNotFoundError:
                pass
        a = Attempt(cmd, console, stderr_path, grace=grace)
        info = {"seen": None, "rc": None, "kept": []}
        done.append(info)
        try:
            while True:
                seen = a.poll_marker()
                if a.proc.poll() is not None:
                    a.poll_marker()
                    info.update(seen=a.seen, rc=a.close())
                    return "exited", done
                if seen and stop_at_marker:
                    info.update(seen=a.seen, rc=a.close())
                    return "marker", done
                if seen and budget is not None and a.elapsed() >= budget:
                    info.update(seen=a.seen, rc=a.close())
                    return "budget", done
                if not seen and a.elapsed() >= bound:
                    break
                time.sleep(poll)
            cpus = ""
            if monitor:
                cpus = ask_monitor(monitor, "info registers -a")
                time.sleep(1)
                cpus += ask_monitor(monitor, "info registers -a")
        except BaseException:
            a.close()
            raise
        info["rc"] = a.close()
        if cpus:
            dest = kept_name(console, "%sattempt%d.vcpus" % (tag, k))
            with open(dest, "w") as f:
                f.write(cpus)
            info["kept"].append(dest)
        for path in (console, kernel_log):
            if path and os.path.exists(path):
                dest = kept_name(path, "%sattempt%d" % (tag, k))
                os.replace(path, dest)
                info["kept"].append(dest)
        where = ", ".join(info["kept"]) or "nothing"
        stopped = last_line(kept_name(kernel_log, "%sattempt%d" % (tag, k))) if kernel_log else ""
        # The second sample: the one nearer the kill.
        vcpus = vcpu_summary(cpus.split("monitor - type")[-1]) if cpus else ""
        say("vm: boot attempt %d gave no sign of life in %s s (kept: %s%s%s); %s" % (
            k, "%g" % bound, where, "; last kernel message: %s" % stopped if stopped else
            "; no kernel message" if kernel_log else "", "; %s" % vcpus if vcpus else "",
            "retrying" if k < attempts else "no attempts left"), flush=True)
    return "no_life", done


def run(a):
    status, done = watch(a.cmd, a.console, a.bound, a.attempts, a.budget, a.kernel_log, a.stderr,
                         monitor=a.monitor)
    last = done[-1]
    if status == "exited":
        # Killed by a signal: as a shell reports it.
        return last["rc"] if last["rc"] >= 0 else 128 - last["rc"]
    if status == "budget":
        return BUDGET
    return NO_LIFE


def stats(a):
    times, uptimes, hangs, retries, failed = [], [], 0, 0, 0
    for b in range(1, a.boots + 1):
        status, done = watch(a.cmd, a.console, a.bound, a.attempts, None, a.kernel_log, a.stderr,
                             stop_at_marker=True, tag="boot%d." % b, monitor=a.monitor)
        stalls = sum(1 for d in done if d["seen"] is None and d["kept"])
        hangs += stalls
        retries += len(done) - 1
        if status == "marker":
            times.append(done[-1]["seen"])
            m = re.search(rb"@kbvm shape .*?uptime=([0-9.]+)", open(a.console, "rb").read())
            if m:
                uptimes.append(float(m.group(1)))
            print("boot %d: shape after %.1f s (guest uptime %s s), attempt %d" % (
                b, times[-1], m.group(1).decode() if m else "?", len(done)), flush=True)
        else:
            failed += 1
            print("boot %d: %s after %d attempt(s), exit %s" % (
                b, "no sign of life" if status == "no_life" else "exited before its shape",
                len(done), done[-1]["rc"]), flush=True)

    def mmm(xs):
        if not xs:
            return "none"
        return "min %.1f s, median %.1f s, max %.1f s" % (min(xs), statistics.median(xs), max(xs))

    print("boot stats: %d boots, %d hangs (attempts with no shape in %g s), %d retries, %d boots failed; "
          "host time to shape %s; guest uptime at shape %s" % (
              a.boots, hangs, a.bound, retries, failed, mmm(times), mmm(uptimes)), flush=True)
    return 1 if failed else 0


# ---- self-test: fake emulators, no qemu -----------------------------------

def self_test():
    tmp = tempfile.mkdtemp(prefix="boot_watch.")
    results = []

    def fake(name, body):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
        return path

    def check(ok, what):
        results.append(bool(ok))
        print("%s %s" % ("ok  " if ok else "FAIL", what), flush=True)

    said = []

    def say(line, flush=True):
        said.append(line)

    con = os.path.join(tmp, "console.log")
    klog = os.path.join(tmp, "kernel.log")
    # Writes a kernel message, then never says anything on the console.
    silent = fake("silent", 'echo "[    0.5] smpboot: stuck here" >"%s"; exec sleep 60' % klog)
    at_once = fake("at_once", 'echo "@kbvm shape cpus=64 uptime=1.0"; exec sleep 60')
    # The marker split across two writes, after a delay.
    late = fake("late", 'sleep 0.6; printf "@kbvm sh"; sleep 0.3; echo "ape cpus=64 uptime=2.0"; exit 7')
    exits = fake("exits", 'echo "firmware"; exit 1')
    # Boots silently until a flag file exists (made by the first attempt): one stall, then success.
    flag = os.path.join(tmp, "flag")
    flaky = fake("flaky", 'if [ -e "%s" ]; then echo "@kbvm shape cpus=64 uptime=3.0"; exit 0; fi; '
                          'touch "%s"; echo "[    1.0] last words" >"%s"; exec sleep 60' % (flag, flag, klog))
    # A child that ignores SIGTERM: the kill must still reach it.
    stubborn = fake("stubborn", 'trap "" TERM; sleep 60 & echo $! >"%s/child"; wait' % tmp)
    try:
        t0 = time.monotonic()
        status, done = watch([silent], con, 0.5, attempts=3, kernel_log=klog, say=say, poll=0.05)
        took = time.monotonic() - t0
        check(status == "no_life" and len(done) == 3, "a guest that never speaks: 3 attempts, then no_life")
        # Generous: the host may be busy; without the watchdog this would take 3 x 60 s.
        check(took < 15, "each silent attempt is killed at its bound (%.1f s for 3)" % took)
        check(len(said) == 3 and said[0].startswith("vm: boot attempt 1 gave no sign of life in 0.5 s")
              and said[0].endswith("; retrying") and said[2].endswith("no attempts left"),
              "each stall is said in one line: %s" % (said[:1],))
        check("smpboot: stuck here" in said[0], "the line quotes the kernel's last message")
        check(all(os.path.exists(kept_name(p, "attempt%d" % k)) for k in (1, 2, 3) for p in (con, klog)),
              "every stalled attempt's console and kernel log are kept")

        said.clear()
        status, done = watch([at_once], con, 5, stop_at_marker=True, say=say, poll=0.05)
        check(status == "marker" and done[0]["seen"] is not None and done[0]["seen"] < 5 and not said,
              "a guest that speaks at once: marker on the first attempt, no retry")

        status, done = watch([late], con, 5, say=say, poll=0.05)
        check(status == "exited" and done[0]["rc"] == 7 and done[0]["seen"] is not None
              and done[0]["seen"] >= 0.8, "a marker split over two writes after a delay is found; exit status kept")

        status, done = watch([late], con, 0.3, say=say, poll=0.05)
        check(status == "no_life" and len(said) == 3, "a guest slower than the bound counts as no sign of life")

        said.clear()
        status, done = watch([exits], con, 5, say=say, poll=0.05)
        check(status == "exited" and done[0]["rc"] == 1 and len(done) == 1 and not said,
              "a guest that exits before its shape is not retried")

        status, done = watch([flaky], con, 3, kernel_log=klog, say=say, poll=0.05)
        check(status == "exited" and len(done) == 2 and done[1]["rc"] == 0 and len(said) == 1
              and "last words" in said[0], "one stall, then a good boot: one retry line, then success")

        status, done = watch([at_once], con, 5, budget=0.5, say=say, poll=0.05)
        check(status == "budget", "a guest that outlives its budget is killed after the marker")

        t0 = time.monotonic()
        status, done = watch([stubborn], con, 2, attempts=1, say=say, poll=0.05, grace=0.5)
        # Gone, or a zombie waiting for whoever reaps orphans. SIGKILL is
        # delivered at once but takes effect when the process next runs: on
        # a loaded machine (the sanitizer flavours run tests side by side)
        # allow it a second to get there.
        deadline, alive = time.monotonic() + 1.0, True
        while alive:
            try:
                with open(os.path.join(tmp, "child")) as f:
                    child = int(f.read())
                with open("/proc/%d/stat" % child) as f:
                    alive = f.read().rsplit(")", 1)[1].split()[0] != "Z"
            except (FileNotFoundError, ValueError):
                alive = False
            if alive and time.monotonic() > deadline:
                break
            if alive:
                time.sleep(0.02)
        check(status == "no_life" and not alive, "a process group that ignores SIGTERM is killed (%.1f s)" % (
            time.monotonic() - t0))

        regs = "".join("CPU#%d\nRAX=0 RBX=0\nRIP=%s RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=%d\n" % (
            n, rip, hlt) for n, rip, hlt in ((0, "ffffffff81a0c2f1", 0), (1, "ffffffff8103be2e", 1),
                                              (2, "ffffffff81a0c2f1", 0)))
        check(vcpu_summary(regs) == "1 of 3 vCPUs halted, 2 at rip ffffffff81a0c2f1",
              "'info registers -a' summarised: %s" % vcpu_summary(regs))
        check(ask_monitor(os.path.join(tmp, "no.sock"), "info cpus") == "", "no monitor: no answer, no error")

        # The command line, as run_vm.sh uses it.
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "run", "--console", con, "--bound", "0.3",
                            "--attempts", "2", "--", silent], capture_output=True, text=True)
        check(r.returncode == NO_LIFE and r.stdout.count("gave no sign of life") == 2,
              "run: exit %d after 2 silent attempts" % r.returncode)
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "stats", "--boots", "3", "--console", con,
                            "--bound", "5", "--", at_once], capture_output=True, text=True)
        check(r.returncode == 0 and "boot stats: 3 boots, 0 hangs" in r.stdout and "0 retries" in r.stdout,
              "stats: 3 boots, 0 hangs, 0 retries: %s" % r.stdout.strip().split("\n")[-1])
    finally:
        shutil.rmtree(tmp)
    failed = results.count(False)
    print("boot_watch self-test: %d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("run", "stats"))
    ap.add_argument("--console", required=True, help="where the command's standard output goes")
    ap.add_argument("--bound", type=float, required=True, help="seconds a boot has to show the marker")
    ap.add_argument("--attempts", type=int, default=3, help="boots in all (default 3)")
    ap.add_argument("--budget", type=float, help="run: seconds from a good boot's start to its end")
    ap.add_argument("--boots", type=int, default=20, help="stats: watched boots (default 20)")
    ap.add_argument("--kernel-log", help="the file the command writes kernel messages to")
    ap.add_argument("--stderr", help="append the command's standard error here")
    ap.add_argument("--monitor", help="the command's qemu monitor socket (asked where a stalled boot's vCPUs are)")
    # Everything after "--" is the command, never read as options here.
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    a.cmd = argv[cut + 1:]
    if not a.cmd or a.attempts < 1 or a.bound <= 0 or a.boots < 1:
        ap.error("needs a command after --, --attempts >= 1, --bound > 0, --boots >= 1")
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    try:
        return run(a) if a.mode == "run" else stats(a)
    except Interrupted as e:
        return 128 + e.signum


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
