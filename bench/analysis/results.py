"""Reading and validating a krefbench results CSV and its sidecar JSON: the
one loader of every analysis command and plots/plot.py (standard library only).

    load(path, purpose)   the CSV                  -> Results, or InputError
    load_sidecar(path)    <stem>.json beside it    -> (path, dict or None, problem or None)
    benchmark_key(row)    a row's benchmark key (compare groups by it)

The file: UTF-8 (a BOM is allowed), CSV records with a header naming at
least REQUIRED_COLUMNS, each name once. A header repeated further down
(concatenated files) and blank records are skipped. Every other record has
as many fields as the header; a short last record is reported as truncated,
and a last record without a trailing newline is a warning.

A row: backend and workload not empty; threads an integer of at least 1;
objects and rep integers of at least 0; work_ns, iterations, ops_per_s
finite numbers of at least 0; ns_per_op a finite positive number; norm,
fairness and writer_rate the same or empty. Columns added after the first
schema (OPTIONAL_KEY_DEFAULTS, OPTIONAL_DEFAULTS) read as their default when
absent, so older files load: a file without `disturbed` is all clean, one
without `attempt` has one attempt per repetition.

What the rows become (Results.rows): only clean repetitions. Rows whose
check is neither "ok" nor empty are counted and set aside; so are disturbed
attempts (a non-empty `disturbed`: the run retried them, each attempt is its
own row) -- counted, with the repetitions that never got a clean attempt.

Each (benchmark key, pair, process, rep, attempt) is one measurement (`pair`
is the process pair of a gate's joined files, bench/analysis/gate.py; `process` the
process of a run that spread its repetitions over several, 1..P; both empty
elsewhere). A
row repeated byte for byte (a file concatenated with itself) is dropped and
counted; the same measurement with different figures is an error, since it
would count one repetition twice.

The messages name the file and line; the caller adds its own prefix
("compare: ", "plot: ").
"""

import csv
import json
import math
import os
import statistics

REQUIRED_COLUMNS = ("backend", "workload", "threads", "placement", "objects",
                    "work_ns", "rep", "iterations", "ns_per_op", "ops_per_s",
                    "norm", "fairness", "cpus", "check")
# Columns that describe a configuration (as opposed to a measurement); their
# values are kept as stripped strings.
CONFIG_COLUMNS = ("placement", "objects", "work_ns", "variant", "writer_rate")
KEY_COLUMNS = ("backend", "workload", "threads") + CONFIG_COLUMNS
# Key columns added after the first schema: their value when absent.
OPTIONAL_KEY_DEFAULTS = {"variant": "", "writer_rate": "0"}
# Measurement columns added later (the measurement model; bench/analysis/gate.py's
# joined files): their value when absent, which means "clean, one attempt".
OPTIONAL_DEFAULTS = {"attempt": "0", "disturbed": "", "canary_ns": "", "fast_path": "",
                     "pair": "", "voluntary_switches_per_op": "", "cpu_busy": "",
                     "outside_pct": "", "process": ""}
FLOOR_BACKEND = "floor"
# The lookup workloads' hits and misses (bench/measure/results_writer.h); empty elsewhere
# and in files written before them.
LOOKUP_COLUMNS = ("lookup_hits", "lookup_misses", "lookup_mostly_missed")


def mostly_missed(row):
    """True for a lookup row most of whose lookups got no reference
    (lookup_misses > lookup_hits): its ns_per_op is the cost of failing,
    which is cheaper than a lookup, so it must never be ranked as one."""
    return str(row.get("lookup_mostly_missed", "")).strip() == "1"
# Every figure of a row is 0 or within these bounds (ns per op, ops per
# second, counts, ratios): a subnormal or a 1e308 is no measurement, and
# would overflow or vanish in the ratios and logarithms downstream.
MEASURABLE = (1e-12, 1e15)
# A sidecar is a few KiB; one larger than this is not krefbench's and is
# ignored (with a warning) rather than read into memory.
SIDECAR_LIMIT = 1 << 20


from .cli import InputError  # noqa: F401  (the loader's errors are the package's)


class Results:
    """One validated results file.

    path           as given
    columns        the header's names, in file order
    rows           the rows whose check is ok (or empty), in file order: dicts
                   of column -> text, except threads (int), ns_per_op and
                   ops_per_s (float), norm (float or None); backend, workload,
                   check and CONFIG_COLUMNS stripped; OPTIONAL_KEY_DEFAULTS
                   filled in when the file lacks them
                   (the measurement columns too), disturbed attempts left out;
                   attempt, pair and process (int or None) converted,
                   canary_ns float or None
    n_rows         data rows in the file, set aside ones included
    skipped_check  rows set aside because their check is not ok
    disturbed      attempts set aside because they were disturbed
    attempts       attempts whose check is ok, clean or disturbed
    lost_reps      repetitions (key, pair, process, rep) without any clean attempt
    duplicates     rows dropped because they repeat an earlier row exactly
    measured       benchmark keys with an attempt whose check is ok, clean or
                   not (a key here and not in rows was never measured cleanly)
    paired         every row has a pair number (a gate's joined file)
    warnings       texts to show the user (e.g. no trailing newline)
    """

    def __init__(self, path, columns):
        self.path = path
        self.columns = columns
        self.rows = []
        self.n_rows = 0
        self.skipped_check = 0
        self.disturbed = 0
        self.attempts = 0
        self.lost_reps = 0
        self.duplicates = 0
        self.measured = set()
        self.paired = False
        self.warnings = []

    def dropped_text(self):
        """'3 of 40 attempts disturbed (1 repetition without a clean one)',
        or '' when nothing was disturbed."""
        if not self.disturbed:
            return ""
        lost = (f" ({self.lost_reps} repetition{'s' if self.lost_reps != 1 else ''} "
                f"without a clean one)" if self.lost_reps else "")
        return f"{self.disturbed} of {self.attempts} attempts disturbed{lost}"

    @property
    def mostly_disturbed(self):
        return self.attempts > 0 and self.disturbed * 2 > self.attempts

    @property
    def floors(self):
        return [r for r in self.rows if r["backend"] == FLOOR_BACKEND]

    @property
    def benches(self):
        return [r for r in self.rows if r["backend"] != FLOOR_BACKEND]


# ---------------------------------------------------------------- fields

def number(text, column, where, allow_empty=False, positive=False):
    """A finite number of at least 0 (above 0 if positive); None for an empty
    field when allow_empty."""
    text = text.strip()
    if text == "" and allow_empty:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {column} {text!r} is not a number")
    if not math.isfinite(value):
        raise InputError(f"{where}: {column} {text!r} is not a finite number")
    if value < 0:
        raise InputError(f"{where}: {column} {text!r} is negative")
    if value != 0 and not MEASURABLE[0] <= value <= MEASURABLE[1]:
        raise InputError(f"{where}: {column} {text!r} is outside the range any measurement "
                         f"has ({MEASURABLE[0]:g} to {MEASURABLE[1]:g}, or 0)")
    if positive and value == 0:
        raise InputError(f"{where}: {column} {text!r} is not positive")
    return value


def integer(text, column, where, minimum):
    value = number(text, column, where)
    if value != int(value) or value < minimum:
        raise InputError(f"{where}: {column} {text.strip()!r} is not an integer "
                         f"of at least {minimum}")
    return int(value)


def canonical(value):
    """A number as the key spells it: 1000 and 1000.0 and 1e3 are one key."""
    return str(int(value)) if value == int(value) else repr(value)


def parse_row(row, where):
    """Validate one row (a dict of the header's names to the fields' text) and
    convert it in place as Results.rows describes; returns its benchmark key."""
    for defaults in (OPTIONAL_KEY_DEFAULTS, OPTIONAL_DEFAULTS):
        for col, default in defaults.items():
            if col not in row:
                row[col] = default
    backend, workload = row["backend"].strip(), row["workload"].strip()
    if not backend:
        raise InputError(f"{where}: empty backend")
    if not workload:
        raise InputError(f"{where}: empty workload")
    threads = integer(row["threads"], "threads", where, 1)
    integer(row["objects"], "objects", where, 0)
    number(row["work_ns"], "work_ns", where)
    number(row["writer_rate"], "writer_rate", where, allow_empty=True)
    integer(row["rep"], "rep", where, 0)
    number(row["iterations"], "iterations", where)
    ns_per_op = number(row["ns_per_op"], "ns_per_op", where, positive=True)
    ops_per_s = number(row["ops_per_s"], "ops_per_s", where)
    norm = number(row["norm"], "norm", where, allow_empty=True)
    number(row["fairness"], "fairness", where, allow_empty=True)
    attempt = integer(row["attempt"], "attempt", where, 0) if row["attempt"].strip() else 0
    pair = integer(row["pair"], "pair", where, 0) if row["pair"].strip() else None
    process = integer(row["process"], "process", where, 0) if row["process"].strip() else None
    canary = number(row["canary_ns"], "canary_ns", where, allow_empty=True, positive=True)

    row["attempt"], row["pair"], row["canary_ns"] = attempt, pair, canary
    row["process"] = process
    row["disturbed"] = row["disturbed"].strip()
    row["fast_path"] = row["fast_path"].strip()
    row["backend"], row["workload"], row["threads"] = backend, workload, threads
    row["ns_per_op"], row["ops_per_s"], row["norm"] = ns_per_op, ops_per_s, norm
    row["check"] = row["check"].strip()
    for col in CONFIG_COLUMNS:
        row[col] = row[col].strip()
    return benchmark_key(row)


def benchmark_key(row):
    """The benchmark key of a row as parse_row leaves it (Results.rows):
    (backend, workload, threads, placement, objects, work_ns, variant,
    writer_rate), numbers spelled by canonical()."""
    writer = float(row["writer_rate"]) if row["writer_rate"] else 0.0
    return (row["backend"], row["workload"], row["threads"], row["placement"],
            int(float(row["objects"])), canonical(float(row["work_ns"])),
            row["variant"], canonical(writer))


# ---------------------------------------------------------------- the file

def _records(path, f):
    """The file's non-blank CSV records as (line, fields, is_last), read as a
    stream: one record of lookahead, so memory stays what the caller keeps."""
    reader = csv.reader(f)
    pending = None
    try:
        for fields in reader:
            if not fields or not any(x.strip() for x in fields):
                continue
            if pending is not None:
                yield pending + (False,)
            pending = (reader.line_num, fields)
    except csv.Error as e:
        raise InputError(f"{path}: malformed CSV: {e}")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text (is this a results CSV?)")
    if pending is not None:
        yield pending + (True,)


def _ends_cleanly(path):
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) in (b"\n", b"\r")


def _digest(fields):
    """A row's stripped fields as one int (a repeated row is told apart by
    this, not by keeping every row's text)."""
    return hash(tuple(x.strip() for x in fields))


def _ident(row, key):
    """What one measurement is: (key, pair, process, rep, attempt)."""
    return (key, row["pair"], row["process"], int(row["rep"]), row["attempt"])


def _first_line(path, header, ident):
    """The line of the first row measuring ident: read again, for the message
    of the rare file that repeats a measurement (rows are not kept for it)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        for line, fields, _ in _records(path, f):
            if len(fields) == len(header) and [x.strip() for x in fields] != header:
                row = dict(zip(header, fields))
                if _ident(row, parse_row(row, "")) == ident:
                    return line
    return "?"


def load(path, purpose="compare", require_clean=True):
    """Parse and validate a results CSV, streaming its records: memory is the
    rows kept plus about 100 bytes a row (to tell a repeated measurement).
    Raises InputError, also when no row passed its check or every repetition
    was disturbed ("... nothing to <purpose>") unless require_clean is False
    (the history records such a run, with no clean repetition)."""
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a results CSV")
    try:
        f = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file")
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}")
    with f:
        try:
            ends_cleanly = _ends_cleanly(path)
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror or e}")
        return _load(path, purpose, _records(path, f), ends_cleanly, require_clean)


def _load(path, purpose, records, ends_cleanly, require_clean):
    first = next(records, None)
    if first is None:
        raise InputError(f"{path}: empty file (no header, no rows)")
    header = [h.strip() for h in first[1]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}: header lacks required column(s) "
                         f"{', '.join(missing)} (is this a krefbench results CSV?)")
    if len(set(header)) != len(header):
        raise InputError(f"{path}: header repeats a column name")
    res = Results(path, header)
    seen = {}           # hash of (key, pair, process, rep, attempt) -> _digest of its fields
    clean_reps = set()  # (key, pair, process, rep) with a clean attempt
    all_reps = set()
    unpaired = False    # a row without a pair number
    for line, fields, is_last in records:
        where = f"{path} line {line}"
        if [x.strip() for x in fields] == header:
            continue            # a repeated header (concatenated files)
        if len(fields) != len(header):
            if is_last and len(fields) < len(header):
                raise InputError(f"{path}: truncated last row (line {line}: "
                                 f"{len(fields)} of {len(header)} fields"
                                 f"{'' if ends_cleanly else ', no trailing newline'})")
            raise InputError(f"{where}: {len(fields)} fields, header has {len(header)}")
        if is_last and not ends_cleanly:
            res.warnings.append(f"{path}: the last row has no trailing newline "
                                f"(was the file cut short?)")
        row = dict(zip(header, fields))
        key = parse_row(row, where)
        ident = _ident(row, key)
        if hash(ident) in seen:
            if seen[hash(ident)] == _digest(fields):
                res.duplicates += 1
                continue
            pair = f"pair {row['pair']}, " if row["pair"] is not None else ""
            pair += f"process {row['process']}, " if row["process"] is not None else ""
            raise InputError(f"{where}: repeats the measurement of line "
                             f"{_first_line(path, header, ident)} "
                             f"({' '.join(str(k) for k in key[:3])}, {pair}rep {row['rep']}, "
                             f"attempt {row['attempt']}) with other figures (two runs in "
                             f"one file? compare one run per file)")
        seen[hash(ident)] = _digest(fields)
        res.n_rows += 1
        unpaired = unpaired or row["pair"] is None
        if row["check"] not in ("", "ok"):
            res.skipped_check += 1
            continue
        res.attempts += 1
        res.measured.add(key)
        rep = ident[:4]
        all_reps.add(rep)
        if row["disturbed"]:
            res.disturbed += 1
            continue
        clean_reps.add(rep)
        res.rows.append(row)
    if res.duplicates:
        res.warnings.append(f"{path}: {res.duplicates} row(s) repeat an earlier row exactly "
                            f"(a file joined with itself?); each is counted once")
    res.lost_reps = len(all_reps - clean_reps)
    res.paired = res.n_rows > 0 and not unpaired
    if res.n_rows == 0:
        raise InputError(f"{path}: no data rows")
    if not res.rows and res.skipped_check == res.n_rows and require_clean:
        raise InputError(f"{path}: every row failed its self-check (check != ok); "
                         f"nothing to {purpose}")
    if not res.rows and require_clean:
        raise InputError(f"{path}: every repetition was disturbed: {res.dropped_text()}; "
                         f"nothing clean to {purpose} (a busy machine: rerun when it is quieter)")
    return res


def load_sidecar(csv_path):
    """(path, dict or None, problem or None) for <stem>.json: None and None
    when there is none, None and the text of a warning when it is unusable."""
    path = os.path.splitext(csv_path)[0] + ".json"
    if not os.path.isfile(path):
        return path, None, None
    try:
        with open(path, "rb") as f:
            data = f.read(SIDECAR_LIMIT + 1)
        if len(data) > SIDECAR_LIMIT:
            return path, None, (f"ignoring sidecar {path}: larger than {SIDECAR_LIMIT // 1024} KiB "
                                f"(krefbench writes a few KiB)")
        meta = json.loads(data.decode("utf-8"))
    except RecursionError:
        return path, None, f"ignoring sidecar {path}: nested too deeply to be krefbench's"
    except (OSError, ValueError) as e:
        return path, None, f"ignoring sidecar {path}: {e}"
    if not isinstance(meta, dict):
        return path, None, f"ignoring sidecar {path}: not a JSON object"
    return path, meta, None


# ---------------------------------------------------------------- rows of a chart or table

def median_stats(values):
    """(median, min, max, n) of the non-None values, or None if none."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals), len(vals)


def varying_config(rows, columns):
    """The config columns (and churn's `uses`) that take several values for
    one backend, workload and thread count: they split a series (lookup
    variants, writer rates). A column that changes only with the thread
    count (`objects` of private) does not."""
    out = []
    for col in CONFIG_COLUMNS + ("uses",):
        if col not in columns:
            continue
        seen = {}
        for r in rows:
            seen.setdefault((r["backend"], r["workload"], r["threads"]), set()).add(r.get(col, ""))
        if any(len(v) > 1 for v in seen.values()):
            out.append(col)
    return out


def config_of(row, cols):
    return tuple((c, row.get(c, "")) for c in cols)


SHORT_CONFIG_NAMES = {"writer_rate": "w", "variant": "", "work_ns": "work", "objects": "K",
                      "uses": "uses"}


def config_label(cfg, sep=", "):
    """Short labels ("put_mutex, w=1000"): bar groups and legends are narrow."""
    parts = []
    for c, v in cfg:
        name = SHORT_CONFIG_NAMES.get(c, c)
        part = f"{name}={v or '-'}" if name else (v or "-")
        if part not in parts:  # churn's variant already reads "uses=16"
            parts.append(part)
    return sep.join(parts)
