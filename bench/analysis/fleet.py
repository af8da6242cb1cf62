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
An option is matched whole: an abbreviation of a refused one (--ou) is
refused too, since krefbench would read it as the option itself.

What the fleet trusts: the inventory, as Ansible does (a file or a
directory of them). Not the host names in it, nor anything a host returns:
  - each inventory name is mapped here to a folder name (outputs.safe_name);
    a name that is not plain (letters, digits, '.', '_', '-'; at most 100
    bytes; not '..', 'all' or 'ungrouped') is named as failed and never
    handed to Ansible as a host to run, so no name reaches a path, a
    command or a template;
  - a host returns its CSV, sidecar and Google Benchmark JSON, each at
    most MAX_FILE_BYTES, into its own folder, at most MAX_HOST_FILES
    files; a host over either limit, or whose files cannot be read as
    results, is named as failed and the report of the others is written;
  - two fleets on one controller take turns (an flock on LOCK_PATH), for
    the whole run including the removal of the shipped tree.

Exit: 0 every host ran and the report is written; 1 at least one host failed
(the others' results and report are kept) or none succeeded; 2 bad input
(one "fleet: " line).
"""

import contextlib
import argparse
import datetime
import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile

from . import cli, outputs, report, results
from .cli import InputError

PLAYBOOK = os.path.join(os.path.dirname(os.path.realpath(__file__)), "fleet.yml")
RESERVED = ("--out", "--results-dir", "--print-path-to", "--plan", "--help", "-h")
PLAIN_HOST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
NOT_HOSTS = ("all", "ungrouped")
# The fleet's own files in its folder: no host folder may take their names.
OWN_NAMES = ("tree.tar.gz", "vars.json", "ansible.log", "report.html", "report.md",
             "hosts-norm", outputs.MARKER)
# A results CSV of a long sweep is a few MiB (KREFBENCH_FLEET_MAX_BYTES
# lowers the limit, for the tests).
MAX_FILE_BYTES = int(os.environ.get("KREFBENCH_FLEET_MAX_BYTES") or 256 << 20)
MAX_HOST_FILES = 16             # a host's folder: 3 results files, sweep.log, error.txt
LOCK_PATH = os.path.join(tempfile.gettempdir(), f"krefbench-fleet-controller.{os.getuid()}.lock")
EXCLUDED_TOP = ("build", "results", ".git")


def die(msg, code=2):
    print(f"fleet: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def parse_args(argv):
    p = cli.Parser(prog="fleet.py", add_help=True, allow_abbrev=False,
                   description="krefbench on every host of an Ansible inventory",
                   epilog="Every other option is the sweep's, passed to each host "
                          "(./run.sh bench --help).")
    # run.sh passes its own tree; not an option for users.
    p.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.realpath(__file__)))), help=argparse.SUPPRESS)
    p.add_argument("--rev", help="ship this git revision (git archive) instead of the working tree")
    p.add_argument("--remote-dir", default="~/krefbench-fleet",
                   help="where the tree goes on each host (default ~/krefbench-fleet)")
    p.add_argument("inventory")
    args, bench = p.parse_known_args(argv)
    for a in bench:
        name = a.split("=", 1)[0]
        if name in RESERVED or (name.startswith("--") and len(name) > 2 and
                                any(r.startswith(name) for r in RESERVED)):
            raise InputError(f"'{cli.plain(a)}' is for the playbook to set (results go to "
                             f"results/fleet-<UTC>/<host>/)")
    if not os.path.exists(args.inventory):
        raise InputError(f"inventory {args.inventory}: no such file or directory")
    return args, bench


def inventory_hosts(inventory):
    """The inventory's host names, as ansible-inventory reads them."""
    proc = subprocess.run(["ansible-inventory", "-i", inventory, "--list"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        raise InputError(f"inventory {inventory}: {lines[-1] if lines else 'unreadable'}")
    # ansible-inventory lists what it read before a source failed, and only
    # warns: a fleet never runs half an inventory.
    unparsed = [l.strip() for l in proc.stderr.splitlines() if "Unable to parse" in l]
    if unparsed:
        raise InputError(f"inventory {inventory}: ansible-inventory: {cli.plain(unparsed[0])}")
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
            lines = [l.strip() for l in proc.stderr.splitlines() if l.strip()]
            why = lines[-1] if lines else f"git archive exited {proc.returncode}"
            raise InputError(f"--rev {rev}: git says: {why.removeprefix('fatal: ')}")
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


def host_folders(hosts):
    """({plain name: folder}, {other name: why}): folder names made here,
    never the name itself when it could mean anything but a folder."""
    folders, refused = {}, {}
    for h in hosts:
        if not PLAIN_HOST.fullmatch(h) or ".." in h or h in NOT_HOSTS:
            refused[h] = ("its inventory name is not a plain host name (letters, digits, "
                          "'.', '_', '-'; at most 100 bytes), so it was not run")
            continue
        folder = outputs.safe_name(h)
        if folder in OWN_NAMES or folder.startswith("hosts-norm") or \
                folder in folders.values():
            folder = outputs.safe_name(h + "\0")   # the same name with its hash
        folders[h] = folder
    return folders, refused


def shown(host):
    """An inventory name for a message: control characters as '?', cut short."""
    text = cli.plain(host)
    return text if len(text) <= 60 else text[:57] + "..."


def check_host(d, folder):
    """(the host's results CSV, None) when what it returned is within bounds
    and its sidecar reads, else (None, why)."""
    try:
        entries = os.listdir(d)
    except OSError:
        return None, None
    if len(entries) > MAX_HOST_FILES:
        return None, f"returned {len(entries)} files, more than {MAX_HOST_FILES}"
    for name in entries:
        st = os.lstat(os.path.join(d, name))
        if not stat.S_ISREG(st.st_mode):
            continue    # the report's chart folders
        if st.st_size > MAX_FILE_BYTES:
            return None, (f"returned {name}, {st.st_size} bytes, over the limit of "
                          f"{MAX_FILE_BYTES >> 20} MiB")
    csv_path = os.path.join(d, folder + ".csv")
    if not os.path.isfile(csv_path) or os.path.islink(csv_path):
        return None, None
    _, _, problem = results.load_sidecar(csv_path)
    if problem:
        return None, f"its sidecar is unusable: {problem}"
    return csv_path, None


def read_error(path):
    with open(path, "rb") as f:
        text = f.read(4096).decode("utf-8", "replace")
    return cli.plain(" ".join(text.split()))


@contextlib.contextmanager
def fleet_lock():
    """This controller's fleet lock, held for the whole run (two fleets on
    one machine take turns); O_NOFOLLOW, so a planted symlink is refused."""
    try:
        fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise InputError(f"cannot open the fleet lock {LOCK_PATH}: {e.strerror or e}")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"fleet: another fleet runs on this machine; waiting for it ({LOCK_PATH})",
                  flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def run_playbook(args, bench, fleet_dir, tarball, folders):
    extra = {"kb_tarball": os.path.abspath(tarball), "kb_local": os.path.abspath(fleet_dir),
             "kb_bench_args": bench, "kb_remote_base": args.remote_dir,
             "kb_limit": ",".join(folders), "kb_folders": folders,
             "kb_run_id": os.path.basename(fleet_dir), "kb_max_bytes": MAX_FILE_BYTES}
    vars_file = os.path.join(fleet_dir, "vars.json")
    outputs.write_text(vars_file, json.dumps(extra, indent=1))
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING=os.environ.get("ANSIBLE_HOST_KEY_CHECKING", "False"),
               ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    cmd = ["ansible-playbook", "-i", args.inventory, PLAYBOOK, "-e", f"@{vars_file}"]
    log_path = os.path.join(fleet_dir, "ansible.log")
    print(f"fleet: {cli.plain(' '.join(cmd))}", flush=True)
    with outputs.created(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, errors="replace")
        for line in proc.stdout:
            sys.stdout.write(cli.plain(line.rstrip("\n")) + "\n")
            log.write(line)
        rc = proc.wait()
    with open(log_path, errors="replace") as f:
        return rc, f.read()


def main(argv=None):
    try:
        args, bench = parse_args(sys.argv[1:] if argv is None else argv)
        if not shutil.which("ansible-playbook"):
            raise InputError("ansible-playbook not found (Debian package ansible; "
                             "./run.sh fleet installs it)")
        with fleet_lock():
            hosts = inventory_hosts(args.inventory)
            if args.rev:
                check_rev(args.repo, args.rev)
            return fleet(args, bench, hosts)
    except InputError as e:
        die(cli.plain(e))


def check_rev(repo, rev):
    """InputError with git's own words unless rev names a commit."""
    proc = subprocess.run(["git", "-C", repo, "rev-parse", "--verify", "--quiet", "--end-of-options",
                           f"{rev}^{{commit}}"], capture_output=True, text=True)
    if proc.returncode != 0:
        why = subprocess.run(["git", "-C", repo, "rev-parse", "--verify", "--end-of-options", rev],
                             capture_output=True, text=True).stderr
        lines = [l.strip() for l in why.splitlines() if l.strip()]
        raise InputError(f"--rev {rev}: git says: "
                         f"{(lines[-1] if lines else 'not a commit').removeprefix('fatal: ')}")


def fleet(args, bench, hosts):
    folders, refused = host_folders(hosts)
    if not folders:
        for h, why in refused.items():
            print(f"fleet: {shown(h)}: FAILED: {why}", file=sys.stderr, flush=True)
        die("no host of the inventory can be run (no fleet folder made)", 1)
    fleet_dir = new_fleet_dir(args.repo)
    try:
        outputs.mark(fleet_dir, ["fleet", "report"])
        tarball = os.path.join(fleet_dir, "tree.tar.gz")
        pack_tree(args.repo, args.rev, tarball)
        shipped = describe_tree(args.repo, args.rev)
    except (InputError, cli.WriteError):
        shutil.rmtree(fleet_dir, ignore_errors=True)   # made just now, by this run
        raise
    print(f"fleet: {len(hosts)} host(s): {', '.join(shown(h) for h in hosts)}; "
          f"results in {fleet_dir}", flush=True)
    rc, log_text = 0, ""
    if folders:
        try:
            rc, log_text = run_playbook(args, bench, fleet_dir, tarball, folders)
        except KeyboardInterrupt:
            die(f"interrupted; what was fetched is in {fleet_dir}", 130)
        except (OSError, cli.WriteError) as e:
            die(f"cannot run ansible-playbook: {e}", 1)
    os.unlink(tarball)

    unreachable = unreachable_hosts(log_text)
    good, failed = [], dict(refused)
    for h, folder in folders.items():
        d = os.path.join(fleet_dir, folder)
        csv_path, why = check_host(d, folder)
        err = os.path.join(d, "error.txt")
        if os.path.isfile(err) and not os.path.islink(err):
            failed[h] = read_error(err)
        elif h in unreachable:
            failed[h] = unreachable[h]
        elif why:
            failed[h] = why
        elif not csv_path:
            failed[h] = f"no results fetched (ansible-playbook exit {rc}; see {fleet_dir}/ansible.log)"
        if h not in failed:
            good.append(csv_path)
    for h, why in failed.items():
        print(f"fleet: {shown(h)}: FAILED: {cli.plain(why)}", file=sys.stderr, flush=True)
    for path in good:
        print(f"fleet: {os.path.basename(os.path.dirname(path))}: {path}", flush=True)
    if not good:
        die(f"no host produced results (ansible.log in {fleet_dir})", 1)
    # --keep-going: a host whose every repetition was disturbed is named in
    # the report (it ran, but measured nothing clean) instead of losing the others.
    notes = [f"Fleet run: ./run.sh fleet {' '.join([args.inventory] + raw_args(args, bench))}; "
             f"the tree shipped: {shipped}; {len(good)} of {len(hosts)} hosts returned results."]
    notes += [f"{shown(h)}: FAILED: {why}" for h, why in failed.items()]
    status = report.main(["--keep-going", *good, "--out", fleet_dir,
                          *[f"--note={n}" for n in notes]])
    if status != 0:
        die(f"the report failed (exit {status}); results are in {fleet_dir}", 1)
    print(f"fleet: {len(good)} of {len(hosts)} host(s) ran; report: {fleet_dir}/report.html",
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
