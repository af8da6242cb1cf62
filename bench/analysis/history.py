"""The results history: every run, by commit and host, in one SQLite
database (results/history.sqlite), and what it answers over time.

    ./run.sh history                          the runs, newest last
    ./run.sh history --benchmark 'atomic hammer 2'   that benchmark's series
    ./run.sh history --changes [--alpha A] [--min-change PCT] [--min-size N]
                                              change points (analysis/changepoint.py)
    ./run.sh history --import results/*.csv   load files made before the database
    ./run.sh history --merge OTHER.sqlite     another host's runs (a fleet's)
    ./run.sh history --format bmf|github-action-benchmark [--run ID]
                                              the newest (or the given) run, as CI services read it
    (internal) history record CSV --kind sweep|bench|gate-a|gate-b [--commit SHA --dirty 0|1]

The database: $KREFBENCH_HISTORY, else results/history.sqlite of this tree
(--db PATH overrides both; KREFBENCH_HISTORY=off records nothing). Python's
sqlite3 in WAL mode with a busy timeout, so two runs that finish together
both land and a reader never blocks a writer. A run is written in one
transaction: its row and all its measurements, or nothing (a writer killed
half-way leaves no trace). A run's id is a hash of its CSV's and its
sidecar's bytes: recording, importing or merging the same run twice adds
nothing.

The schema carries its version (table schema_version); MIGRATIONS holds
one function per version, each taking the database from the version before
to its own, applied in one transaction when a database is opened. A
database from a newer krefbench is refused, never rewritten.

What a run holds: kind (sweep: ./run.sh; bench: ./run.sh bench; gate-a and
gate-b: the two sides of a gate; import), commit and whether the tree was
dirty (the sidecar's git_commit, or what the gate built), host, the
sidecar's environment (JSON, bounded), when it ran, the file it came from,
and its clean repetitions (results.load: check ok, not disturbed): one
measurement row each.

Series are per host, per benchmark key and per kind of run (sweeps, bench
runs and imports together; gates apart, whose short windows measure
differently); a run's level is the median of its clean repetitions.
--changes searches the sweep series only: a gate's two sides alternate
between two commits, so its series has no level over time.
"""

import datetime
import hashlib
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile

from . import cli, export, results

PROG = "history"
InputError = cli.InputError
TOP_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
DEFAULT_DB = os.path.join(TOP_DIR, "results", "history.sqlite")
KINDS = ("sweep", "bench", "gate-a", "gate-b", "import")
MAX_ENV_BYTES = 64 * 1024
MAX_TEXT = 200          # host, commit, source: longer is cut
BUSY_TIMEOUT_S = 60


# ---------------------------------------------------------------- schema

def _schema_v1(db):
    """The first schema: runs and their measurements."""
    db.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, commit_sha TEXT NOT NULL, "
               "host TEXT NOT NULL, started TEXT NOT NULL, source TEXT NOT NULL)")
    db.execute("CREATE TABLE measurements (run_id TEXT NOT NULL REFERENCES runs(id), "
               "backend TEXT NOT NULL, workload TEXT NOT NULL, threads INTEGER NOT NULL, "
               "placement TEXT NOT NULL, objects INTEGER NOT NULL, work_ns TEXT NOT NULL, "
               "variant TEXT NOT NULL, writer_rate TEXT NOT NULL, rep INTEGER NOT NULL, "
               "attempt INTEGER NOT NULL, pair INTEGER, ns_per_op REAL NOT NULL, "
               "ops_per_s REAL NOT NULL)")


def _schema_v2(db):
    """Kind of run, dirty flag, environment, when recorded; a series index."""
    db.execute("ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'import'")
    db.execute("ALTER TABLE runs ADD COLUMN dirty INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE runs ADD COLUMN environment TEXT NOT NULL DEFAULT '{}'")
    db.execute("ALTER TABLE runs ADD COLUMN recorded TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX measurements_run ON measurements(run_id)")
    db.execute("CREATE INDEX measurements_series ON measurements(backend, workload, threads)")


MIGRATIONS = ((1, _schema_v1), (2, _schema_v2))
SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(db):
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                      "name = 'schema_version'").fetchone():
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(db, path, upto=SCHEMA_VERSION):
    """Bring db to version `upto`, one migration per version, in one
    transaction (a concurrent opener waits, then finds it done)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                          "name = 'schema_version'").fetchone():
            db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        have = schema_version(db)
        if have > SCHEMA_VERSION:
            raise InputError(f"{path}: schema version {have} is newer than this krefbench's "
                             f"({SCHEMA_VERSION}); use a newer krefbench")
        for version, step in MIGRATIONS:
            if have < version <= upto:
                step(db)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def open_db(path, upto=SCHEMA_VERSION, create=True):
    """The database at path, migrated, in WAL mode; InputError when it
    cannot be opened or is not a history database."""
    if not create and not os.path.isfile(path):
        raise InputError(f"{path}: no such history database")
    if os.path.islink(path):
        raise InputError(f"{path} is a symbolic link (the history is never written through one)")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db, path, upto)
    except sqlite3.DatabaseError as e:
        raise InputError(f"{path}: not a usable history database ({e})")
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror or e}")
    if mode.lower() != "wal":
        cli.warn(PROG, f"{path}: journal mode {mode}, not WAL (a file system without shared memory?)")
    return db


def db_path(given=None):
    """--db, else $KREFBENCH_HISTORY, else results/history.sqlite; None: off."""
    if given:
        return os.path.abspath(given)
    env = os.environ.get("KREFBENCH_HISTORY", "")
    if env == "off":
        return None
    return os.path.abspath(env) if env else DEFAULT_DB


# ---------------------------------------------------------------- recording

def clip(text, n=MAX_TEXT):
    text = str(text)
    return text if len(text) <= n else text[:n]


def commit_of(meta):
    """(commit, dirty) from a sidecar's git_commit ('<sha>' or '<sha>-dirty')."""
    c = str((meta or {}).get("git_commit") or "unknown").strip()
    if c.endswith("-dirty"):
        return clip(c[:-len("-dirty")]), 1
    return clip(c or "unknown"), 0


def started_of(path, meta):
    """When the run ran: the UTC stamp of its file name
    (<host>-<YYYYmmddTHHMMSSZ>.csv), else the file's modification time."""
    m = re.search(r"(\d{8}T\d{6}Z)", os.path.basename(path))
    if m:
        try:
            t = datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ")
            return t.strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            pass
    t = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_id(csv_path):
    """A hash of the CSV's bytes and its sidecar's."""
    h = hashlib.sha256()
    for path in (csv_path, os.path.splitext(csv_path)[0] + ".json"):
        try:
            with open(path, "rb") as f:
                h.update(f.read())
        except FileNotFoundError:
            pass
        h.update(b"\0")
    return h.hexdigest()[:32]


def record(db, csv_path, kind, commit=None, dirty=None, on_row=None):
    """Record one results file as a run; returns (run id, measurements
    added), None added when the run was there already (0: a run without a
    clean repetition, recorded). One transaction: the
    run and every measurement, or nothing. on_row(i) is called after each
    measurement is inserted (the tests interrupt the writer there)."""
    if kind not in KINDS:
        raise InputError(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    res = results.load(csv_path, purpose="record", require_clean=False)
    rid = run_id(csv_path)
    _, meta, problem = results.load_sidecar(csv_path)
    if problem:
        cli.warn(PROG, problem)
    sc_commit, sc_dirty = commit_of(meta)
    commit = clip(commit) if commit else sc_commit
    dirty = sc_dirty if dirty is None else int(bool(dirty))
    host = clip((meta or {}).get("host") or os.path.basename(csv_path).split("-")[0] or "unknown")
    env = json.dumps(meta or {}, sort_keys=True)
    if len(env) > MAX_ENV_BYTES:
        env = json.dumps({"note": f"sidecar of {len(env)} bytes not kept (over {MAX_ENV_BYTES})"})
    rows = [(rid, r["backend"], r["workload"], r["threads"], r["placement"],
             int(float(r["objects"])), results.canonical(float(r["work_ns"])), r["variant"],
             results.canonical(float(r["writer_rate"]) if r["writer_rate"] else 0.0),
             int(r["rep"]), r["attempt"], r["pair"], r["ns_per_op"], r["ops_per_s"])
            for r in res.rows]
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("SELECT 1 FROM runs WHERE id = ?", (rid,)).fetchone():
            db.execute("ROLLBACK")
            return rid, None
        db.execute("INSERT INTO runs (id, commit_sha, host, started, source, kind, dirty, "
                   "environment, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (rid, commit, host, started_of(csv_path, meta),
                    clip(os.path.abspath(csv_path), 1000), kind, dirty, env, now_utc()))
        for i, row in enumerate(rows):
            db.execute("INSERT INTO measurements (run_id, backend, workload, threads, placement, "
                       "objects, work_ns, variant, writer_rate, rep, attempt, pair, ns_per_op, "
                       "ops_per_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            if on_row:
                on_row(i)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return rid, len(rows)


def merge(db, other_path):
    """Add the runs of another history database that this one lacks (by
    id); returns (runs added, runs already here). The other file is read
    through a migrated copy, never changed."""
    if not os.path.isfile(other_path):
        raise InputError(f"{other_path}: no such history database")
    tmp = tempfile.mkdtemp(prefix="krefbench-merge.")
    try:
        copy = os.path.join(tmp, "other.sqlite")
        try:
            src = sqlite3.connect(f"file:{other_path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
            dst = sqlite3.connect(copy)
            src.backup(dst)
            src.close()
            dst.close()
        except sqlite3.DatabaseError as e:
            raise InputError(f"{other_path}: not a usable history database ({e})")
        other = open_db(copy)
        runs = other.execute("SELECT id, commit_sha, host, started, source, kind, dirty, "
                             "environment, recorded FROM runs").fetchall()
        added = same = 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for run in runs:
                if db.execute("SELECT 1 FROM runs WHERE id = ?", (run[0],)).fetchone():
                    same += 1
                    continue
                db.execute("INSERT INTO runs (id, commit_sha, host, started, source, kind, dirty, "
                           "environment, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", run)
                db.executemany(
                    "INSERT INTO measurements (run_id, backend, workload, threads, placement, "
                    "objects, work_ns, variant, writer_rate, rep, attempt, pair, ns_per_op, "
                    "ops_per_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    other.execute("SELECT run_id, backend, workload, threads, placement, objects, "
                                  "work_ns, variant, writer_rate, rep, attempt, pair, ns_per_op, "
                                  "ops_per_s FROM measurements WHERE run_id = ?", (run[0],)))
                added += 1
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        other.close()
        return added, same
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def record_quietly(csv_path, kind, commit=None, dirty=None, db_file=None):
    """What run.sh and the gate call after a run: record it, say so in one
    line on stderr; a failure is a warning (the run itself succeeded)."""
    path = db_path(db_file)
    if path is None:
        return
    try:
        db = open_db(path)
        try:
            rid, n = record(db, csv_path, kind, commit, dirty)
        finally:
            db.close()
        print(f"history: {kind} run {rid[:10]} recorded in {path} ({n} measurements)"
              if n is not None else f"history: {csv_path} was recorded already", file=sys.stderr)
    except (InputError, sqlite3.Error, OSError) as e:
        cli.warn(PROG, f"not recorded in the history: {e}")


def record_gate(a_csv, b_csv, revs, repo):
    """The gate's two sides as runs gate-a and gate-b: each side's commit is
    the revision it was built from (--rev), the working tree's HEAD and
    whether it was dirty (one --rev), or what the binary's sidecar says
    (--bin)."""
    commits = [(None, None), (None, None)]
    if revs:
        commits[0] = (revs[0][0], 0)
        if len(revs) == 2:
            commits[1] = (revs[1][0], 0)
        else:
            head = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True,
                                  text=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain",
                                    "--untracked-files=no"], capture_output=True,
                                   text=True).stdout.strip()
            commits[1] = (head or None, 1 if dirty else 0)
    for path, kind, (commit, dirty) in ((a_csv, "gate-a", commits[0]),
                                        (b_csv, "gate-b", commits[1])):
        if os.path.isfile(path):
            record_quietly(path, kind, commit, dirty)


# ---------------------------------------------------------------- reading

def shown(text):
    """Data as terminal text: control and non-printable characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def short_commit(sha, dirty):
    return (sha[:10] if re.fullmatch(r"[0-9a-f]{7,64}", sha) else sha[:20]) + \
        ("+dirty" if dirty else "")


def list_runs(db, out):
    runs = db.execute("SELECT r.id, r.started, r.kind, r.host, r.commit_sha, r.dirty, r.source, "
                      "COUNT(m.run_id), COUNT(DISTINCT m.backend || ' ' || m.workload || ' ' || "
                      "m.threads) FROM runs r LEFT JOIN measurements m ON m.run_id = r.id "
                      "GROUP BY r.id ORDER BY r.started, r.rowid").fetchall()
    if not runs:
        out.write("history: no runs recorded yet (./run.sh records every sweep; "
                  "./run.sh history --import results/*.csv loads older files)\n")
        return
    out.write(f"{'run':<10}  {'started (UTC)':<20}  {'kind':<6}  {'host':<16}  "
              f"{'commit':<16}  {'benchmarks':>10}  {'reps':>6}  source\n")
    for rid, started, kind, host, sha, dirty, source, n, nb in runs:
        out.write(f"{rid[:10]:<10}  {shown(started):<20}  {shown(kind):<6}  {shown(host)[:16]:<16}  "
                  f"{shown(short_commit(sha, dirty)):<16}  {nb:>10}  {n:>6}  "
                  f"{shown(os.path.basename(source))}\n")
    out.write(f"{len(runs)} run(s) in {db_path_of(db)}\n")


def db_path_of(db):
    return db.execute("PRAGMA database_list").fetchone()[2]


def parse_spec(spec):
    """'atomic hammer 2' (backend, workload, threads; later parts may be
    left out) -> a WHERE clause and its values."""
    parts = spec.split()
    if not 1 <= len(parts) <= 3:
        raise InputError(f"--benchmark {spec!r}: give 'BACKEND [WORKLOAD [THREADS]]', "
                         f"e.g. 'atomic hammer 2'")
    cols = ["backend", "workload", "threads"]
    vals = list(parts)
    if len(parts) == 3:
        if not parts[2].isdigit():
            raise InputError(f"--benchmark {spec!r}: THREADS {parts[2]!r} is not a number")
        vals[2] = int(parts[2])
    return " AND ".join(f"m.{c} = ?" for c in cols[:len(parts)]), vals


SERIES_KEY = ("host", "family", "backend", "workload", "threads", "placement", "objects",
              "work_ns", "variant", "writer_rate")


def series(db, spec=None):
    """{series key: [point, ...]} ordered by run time; a point is a dict:
    run, started, commit, dirty, values (ns_per_op of its clean reps)."""
    where, vals = parse_spec(spec) if spec else ("1", [])
    q = ("SELECT r.host, CASE WHEN r.kind LIKE 'gate-%' THEN 'gate' ELSE 'sweep' END, "
         "m.backend, m.workload, m.threads, m.placement, m.objects, m.work_ns, m.variant, "
         "m.writer_rate, r.id, r.started, r.commit_sha, r.dirty, r.recorded, m.ns_per_op "
         f"FROM measurements m JOIN runs r ON r.id = m.run_id WHERE {where} "
         "ORDER BY r.started, r.rowid")
    out = {}
    for row in db.execute(q, vals):
        key = tuple(row[:10])
        pts = out.setdefault(key, [])
        if not pts or pts[-1]["run"] != row[10]:
            pts.append({"run": row[10], "started": row[11], "commit": row[12],
                        "dirty": row[13], "values": []})
        pts[-1]["values"].append(row[15])
    return out


def series_label(key):
    host, family, backend, workload, threads, placement, objects, work_ns, variant, writer = key
    parts = [backend, workload + (f"/{variant}" if variant else ""), f"threads={threads}"]
    if writer != "0":
        parts.append(f"w={writer}")
    if placement != "cores":
        parts.append(f"placement={placement}")
    if work_ns != "0":
        parts.append(f"work_ns={work_ns}")
    parts.append(f"objects={objects}")
    return shown(" ".join(parts)) + f" on {shown(host)} ({family} runs)"


def print_series(db, spec, out):
    found = series(db, spec)
    if not found:
        raise InputError(f"no benchmark matches --benchmark {spec!r} in {db_path_of(db)}")
    for key in sorted(found):
        out.write(series_label(key) + "\n")
        out.write(f"  {'started (UTC)':<20}  {'commit':<16}  {'n':>3}  {'median ns/op':>12}  "
                  f"{'min':>10}  {'max':>10}  run\n")
        for p in found[key]:
            v = p["values"]
            out.write(f"  {shown(p['started']):<20}  {shown(short_commit(p['commit'], p['dirty'])):<16}  "
                      f"{len(v):>3}  {statistics.median(v):>12.3f}  {min(v):>10.3f}  "
                      f"{max(v):>10.3f}  {p['run'][:10]}\n")


def print_changes(db, args, out):
    from . import changepoint      # NumPy: only here, so that recording never needs it
    # A gate's sides alternate between its base and its candidate, and a
    # bisection's candidates jump between commits: no level over time.
    everything = series(db, args.benchmark)
    found = {k: v for k, v in everything.items() if k[1] != "gate"}
    total = 0
    tested = 0
    for key in sorted(found):
        pts = found[key]
        if len(pts) < 2 * args.min_size:
            continue
        tested += 1
        levels = [statistics.median(p["values"]) for p in pts]
        cps = changepoint.detect(levels, alpha=args.alpha, min_size=args.min_size,
                                 min_change=args.min_change / 100, permutations=args.permutations,
                                 seed=args.seed)
        for cp in cps:
            total += 1
            before, after = pts[cp.index - 1], pts[cp.index]
            rng = (f"{shown(short_commit(before['commit'], before['dirty']))}.."
                   f"{shown(short_commit(after['commit'], after['dirty']))}")
            out.write(f"{series_label(key)}: change at run {cp.index + 1} of {len(pts)} "
                      f"({shown(after['started'])}): median {cp.before:.3f} -> {cp.after:.3f} ns/op, "
                      f"x{cp.ratio:.3f} ({(cp.ratio - 1) * 100:+.1f}%), p = {cp.p:.3g}, "
                      f"commits {rng}\n")
    out.write(f"history: {total} change point(s) in {tested} series with at least "
              f"{2 * args.min_size} runs (E-divisive means, permutation test "
              f"{args.permutations}x, alpha {args.alpha:g}, minimum change {args.min_change:g}%, "
              f"minimum {args.min_size} runs a side); "
              f"{len(found) - tested} series too short; {len(everything) - len(found)} "
              f"series of gate runs not searched\n")
    return cli.EXIT_FOUND if total else cli.EXIT_OK


def export_run(db, args, out):
    if args.run:
        rows = db.execute("SELECT id FROM runs WHERE id LIKE ? || '%'", (args.run,)).fetchall()
        if len(rows) != 1:
            raise InputError(f"--run {args.run!r} matches {len(rows)} runs (give more of its id)")
        rid = rows[0][0]
    else:
        row = db.execute("SELECT id FROM runs ORDER BY started DESC, rowid DESC LIMIT 1").fetchone()
        if not row:
            raise InputError(f"{db_path_of(db)}: no runs to export")
        rid = row[0]
    samples = {}
    for r in db.execute("SELECT backend, workload, threads, placement, objects, work_ns, variant, "
                        "writer_rate, ns_per_op, ops_per_s FROM measurements WHERE run_id = ?",
                        (rid,)):
        samples.setdefault(tuple(r[:8]), []).append((r[8], r[9]))
    out.write(export.render(samples, args.format))


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = cli.Parser(prog=PROG, description="The results history (results/history.sqlite): "
                   "runs, series, change points, import and merge.",
                   epilog="Exit: 0 done (--changes: none found); 1 --changes found change "
                          "points; 2 bad input.")
    p.add_argument("--db", metavar="PATH", help="the database (default $KREFBENCH_HISTORY, "
                   "else results/history.sqlite)")
    p.add_argument("--benchmark", metavar="'BACKEND [WORKLOAD [THREADS]]'",
                   help="print this benchmark's series (with --changes: only its)")
    p.add_argument("--changes", action="store_true", help="change points of every series")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="permutation test level (default 0.05)")
    p.add_argument("--min-change", type=float, default=5.0, metavar="PCT",
                   help="smallest change reported, percent (default 5)")
    p.add_argument("--min-size", type=int, default=3, metavar="N",
                   help="runs on each side of a change, at least (default 3)")
    p.add_argument("--permutations", type=int, default=199,
                   help="of the permutation test (default 199)")
    p.add_argument("--seed", type=int, default=1, help="of the permutations (default 1)")
    p.add_argument("--import", dest="imports", nargs="+", metavar="CSV",
                   help="record results files made before the database")
    p.add_argument("--merge", nargs="+", metavar="OTHER.sqlite",
                   help="add another database's runs (twice adds nothing)")
    p.add_argument("--format", choices=export.FORMATS, help="print the newest run (or --run) "
                   "in a CI service's format")
    p.add_argument("--run", metavar="ID", help="with --format: this run (a prefix of its id)")
    args = p.parse_args(argv)
    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha {args.alpha:g} must be between 0 and 1")
    if args.min_size < 2:
        raise InputError("--min-size must be 2 or more")
    if args.permutations < 19:
        raise InputError("--permutations must be 19 or more")
    if not 0 <= args.min_change < 1000:
        raise InputError("--min-change must be a percentage of at least 0")
    actions = sum(bool(x) for x in (args.changes, args.imports, args.merge, args.format))
    if actions > 1:
        raise InputError("give one of --changes, --import, --merge, --format")
    if args.run and not args.format:
        raise InputError("--run goes with --format")
    return args


def parse_record(argv):
    p = cli.Parser(prog=PROG)
    p.add_argument("csv")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--commit")
    p.add_argument("--dirty", type=int, choices=(0, 1))
    p.add_argument("--db")
    return p.parse_args(argv)


def run(argv):
    if argv[:1] == ["record"]:
        a = parse_record(argv[1:])
        record_quietly(a.csv, a.kind, a.commit, a.dirty, a.db)
        return cli.EXIT_OK
    args = parse_args(argv)
    path = db_path(args.db)
    if path is None:
        raise InputError("KREFBENCH_HISTORY=off: no history database")
    readonly = not (args.imports or args.merge)
    if readonly and not os.path.isfile(path):
        if args.format:
            raise InputError(f"{path}: no history yet (nothing to export)")
        sys.stdout.write(f"history: no runs recorded yet ({path} does not exist; ./run.sh "
                         f"records every sweep, --import loads older files)\n")
        return cli.EXIT_OK
    db = open_db(path)
    out = sys.stdout
    if args.imports:
        for f in args.imports:
            rid, n = record(db, f, "import")
            out.write(f"history: {shown(f)}: " + (f"run {rid[:10]}, {n} measurements\n"
                                                 if n is not None else "recorded already\n"))
        return cli.EXIT_OK
    if args.merge:
        for f in args.merge:
            added, same = merge(db, f)
            out.write(f"history: {shown(f)}: {added} run(s) added, {same} already here\n")
        return cli.EXIT_OK
    if args.format:
        export_run(db, args, out)
        return cli.EXIT_OK
    if args.changes:
        return print_changes(db, args, out)
    if args.benchmark:
        print_series(db, args.benchmark, out)
        return cli.EXIT_OK
    list_runs(db, out)
    return cli.EXIT_OK


def main(argv=None):
    return cli.guarded(PROG, lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
