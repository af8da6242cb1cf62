#!/usr/bin/python3
"""Tests of the results history (bench/analysis/history.py), the change-point
detector (changepoint.py) and the CI exports (export.py), on constructed
files and series:

  * the schema: a v1 database is migrated (its runs kept), a newer one is
    refused, WAL mode;
  * a run is one transaction: a writer killed (SIGKILL) half-way through its
    measurements leaves no run and no measurement; two writers at once both
    land;
  * recording, --import and --merge are idempotent (the second adds nothing),
    a merge reads an older database without changing it;
  * a run carries commit, dirty flag, host, environment and its clean
    repetitions only;
  * series, --changes on a history with a step at a known commit (its
    commit range printed), none on a flat one;
  * change points on constructed series: single and double steps, noise,
    outliers, the minimum size of change; false-alarm rate and power
    through .ci/changepoint_power.py;
  * bmf and github-action-benchmark output validated against the formats'
    published schema and example (written down here, not fetched), hostile
    names included.

    tests/test_history.py SRC_DIR    "ok - ..." / "FAIL - ..." lines, "N passed, N failed"
"""

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

if len(sys.argv) != 2:
    print("usage: tests/test_history.py SRC_DIR", file=sys.stderr)
    sys.exit(2)
SRC = os.path.realpath(sys.argv[1])
from analysis import changepoint, cli, export, history  # PYTHONPATH=bench (tests/CMakeLists.txt)

passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok - " if ok else "FAIL - ") + what, flush=True)
    if ok:
        passed += 1
    else:
        failed += 1


TMP = tempfile.mkdtemp(prefix="test_history.")
COLS = ["backend", "workload", "threads", "placement", "objects", "work_ns", "rep", "iterations",
        "ns_per_op", "ops_per_s", "norm", "fairness", "cpus", "check", "variant", "writer_rate",
        "attempt", "disturbed"]


def make_csv(name, level=10.0, reps=5, commit="abc1234", host="hostA", disturbed_rep=None,
             backends=("atomic", "refcount"), stamp="20260101T000000Z", extra_rows=0):
    """A results file with its sidecar: ns_per_op = level x threads (+ rep/100)."""
    path = os.path.join(TMP, f"{host}-{stamp}-{name}.csv")
    with open(path, "w") as f:
        f.write(",".join(COLS) + "\n")
        for b in backends:
            for t in (1, 2):
                for rep in range(reps):
                    ns = level * t + rep / 100
                    dist = "task_clock 0.5" if rep == disturbed_rep else ""
                    f.write(f"{b},hammer,{t},cores,1,0,{rep},1000,{ns},{1e9 / ns},,1,0,ok,,0,0,{dist}\n")
        for i in range(extra_rows):
            f.write(f"atomic,private,1,cores,1,0,{i},1000,{level},{1e9 / level},,1,0,ok,,0,0,\n")
    with open(path[:-4] + ".json", "w") as f:
        json.dump({"host": host, "git_commit": commit, "cpu_model": "Test CPU",
                   "kernel": "Linux test"}, f)
    return path


def count(db, table):
    return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def captured(main, argv):
    """A command's main with stdout captured: (status, text)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(argv)
    return rc, out.getvalue()


def cli_run(argv):
    return captured(history.main, argv)


# ---------------------------------------------------------------- schema

v1 = os.path.join(TMP, "v1.sqlite")
db = history.open_db(v1, upto=1)
check(history.schema_version(db) == 1, "a database made at schema version 1")
db.execute("INSERT INTO runs VALUES ('r1', 'deadbeef', 'old-host', '2025-01-01T00:00:00Z', 'old.csv')")
db.execute("INSERT INTO measurements VALUES ('r1', 'atomic', 'hammer', 1, 'cores', 1, '0', '', '0', "
           "0, 0, NULL, 12.5, 8e7)")
db.close()
v1_copy = os.path.join(TMP, "v1-copy.sqlite")
src = sqlite3.connect(v1)
dst = sqlite3.connect(v1_copy)
src.backup(dst)
src.close()
dst.close()
db = history.open_db(v1)
cols = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
check(history.schema_version(db) == history.SCHEMA_VERSION == 2,
      f"opened: migrated to version {history.SCHEMA_VERSION}")
check({"kind", "dirty", "environment", "recorded"} <= cols, "v2 columns added (kind, dirty, environment, recorded)")
row = db.execute("SELECT host, kind, dirty FROM runs WHERE id = 'r1'").fetchone()
check(row == ("old-host", "import", 0) and count(db, "measurements") == 1,
      f"the v1 run and its measurement kept, with the new columns' defaults ({row})")
check(db.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "WAL mode")
check([r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")] == [1, 2],
      "schema_version holds each version applied")
db.close()
db = history.open_db(v1)
check([r[0] for r in db.execute("SELECT version FROM schema_version")] == [1, 2],
      "opening again migrates nothing")
db.execute("INSERT INTO schema_version VALUES (99)")
db.close()
try:
    history.open_db(v1)
    check(False, "a database of a newer schema is refused")
except cli.InputError as e:
    check("newer than this krefbench" in str(e), f"a database of a newer schema is refused ({e})")
junk = os.path.join(TMP, "junk.sqlite")
with open(junk, "w") as f:
    f.write("this is not a database\n" * 100)
try:
    history.open_db(junk)
    check(False, "a file that is not a database: InputError")
except cli.InputError as e:
    check("not a usable history database" in str(e), "a file that is not a database: one clear error")

# ---------------------------------------------------------------- recording

main_db = os.path.join(TMP, "main.sqlite")
db = history.open_db(main_db)
a = make_csv("a", commit="1111111111111111111111111111111111111111-dirty", disturbed_rep=2)
rid, n = history.record(db, a, "sweep")
run = db.execute("SELECT commit_sha, dirty, host, kind, environment FROM runs").fetchone()
check(n == 16 and count(db, "measurements") == 16,
      f"only clean repetitions recorded: 4 benchmarks x 5 reps, the disturbed rep 2 of each left out ({n})")
check(run[0] == "1" * 40 and run[1] == 1 and run[2] == "hostA" and run[3] == "sweep",
      f"commit and dirty flag from the sidecar's git_commit, host, kind ({run[:4]})")
check(json.loads(run[4]).get("cpu_model") == "Test CPU", "the sidecar's environment kept")
check(history.record(db, a, "sweep")[1] is None and count(db, "runs") == 1,
      "recording the same file again adds nothing")
rc, text = cli_run(["--db", main_db, "--import", a])
check(rc == 0 and "recorded already" in text and count(db, "runs") == 1,
      "--import of a recorded file adds nothing")

allbusy = make_csv("allbusy", reps=1, disturbed_rep=0, stamp="20260101T000001Z")
check(history.record(db, allbusy, "bench")[1] == 0 and count(db, "runs") == 2,
      "a run with no clean repetition (a busy machine) is recorded, with no measurement")
db.execute("DELETE FROM runs WHERE kind = 'bench'")

# A writer killed half-way through: nothing of its run is left.
big = make_csv("big", extra_rows=3000, stamp="20260102T000000Z")
marker = os.path.join(TMP, "half-way")
writer = subprocess.Popen([sys.executable, "-c", """
import os, sys, time
from analysis import history
db = history.open_db(sys.argv[1])
def on_row(i):
    if i == 1500:
        open(sys.argv[3], "w").close()
        time.sleep(60)
history.record(db, sys.argv[2], "bench", on_row=on_row)
""", main_db, big, marker])
for _ in range(300):
    if os.path.exists(marker):
        break
    time.sleep(0.05)
in_flight = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
writer.send_signal(signal.SIGKILL)
writer.wait()
check(os.path.exists(marker), "the writer was killed after inserting 1500 of its measurements")
check(in_flight == 1, "while it wrote, a reader saw only the committed run (WAL: no blocking, no half run)")
db.close()
db = history.open_db(main_db)
check(count(db, "runs") == 1 and count(db, "measurements") == 16,
      f"after SIGKILL: no trace of the killed run ({count(db, 'runs')} runs, "
      f"{count(db, 'measurements')} measurements)")
check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check ok after the kill")
check(history.record(db, big, "bench")[1] == 3020, "the same run recorded afterwards, whole")

# Two writers at once: both land.
w = [make_csv(f"w{i}", level=10 + i, stamp=f"2026010{3 + i}T000000Z") for i in range(2)]
procs = [subprocess.Popen([sys.executable, "-m", "analysis.history", "record", f, "--kind", "bench",
                           "--db", main_db], stderr=subprocess.DEVNULL) for f in w]
check(all(p.wait() == 0 for p in procs) and count(db, "runs") == 4,
      f"two writers at once: both runs recorded ({count(db, 'runs')} runs)")

# ---------------------------------------------------------------- merge

other_db = os.path.join(TMP, "other.sqlite")
odb = history.open_db(other_db)
history.record(odb, a, "sweep")                                 # also in main
history.record(odb, make_csv("o", host="hostB", stamp="20260110T000000Z"), "sweep")
odb.close()
before = count(db, "runs"), count(db, "measurements")
rc, text = cli_run(["--db", main_db, "--merge", other_db])
after = count(db, "runs"), count(db, "measurements")
check(rc == 0 and "1 run(s) added, 1 already here" in text and after == (before[0] + 1, before[1] + 20),
      f"--merge: the other host's new run added with its measurements, the shared one not ({text.strip()})")
rc, text = cli_run(["--db", main_db, "--merge", other_db])
check(rc == 0 and "0 run(s) added, 2 already here" in text and count(db, "runs") == after[0],
      "--merge twice adds nothing")
rc, text = cli_run(["--db", main_db, "--merge", v1_copy])
check(rc == 0 and "1 run(s) added" in text, "--merge of a version-1 database: its run added")
c = sqlite3.connect(v1_copy)
check(c.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1,
      "the merged version-1 file itself is left unchanged")
c.close()
rc, text = cli_run(["--db", main_db])
check(rc == 0 and "hostB" in text and "1111111111+dirty" in text and text.count("\n") >= 7,
      "history lists the runs: host, commit with +dirty")

# ---------------------------------------------------------------- series and changes

step_db = os.path.join(TMP, "step.sqlite")
sdb = history.open_db(step_db)
commits = [f"{i:02d}" + "c" * 38 for i in range(14)]
for i, sha in enumerate(commits):
    level = 10.0 * (1.10 if i >= 8 else 1.0) * (1 + 0.01 * ((i * 7) % 3 - 1))
    history.record(sdb, make_csv(f"s{i}", level=level, commit=sha, host="hostS",
                                 stamp=f"202602{i + 1:02d}T000000Z"), "sweep")
sdb.close()
rc, text = cli_run(["--db", step_db, "--benchmark", "atomic hammer 1"])
lines = [x for x in text.splitlines() if x.startswith("  2026")]
check(rc == 0 and len(lines) == 14 and text.startswith("atomic hammer threads=1"),
      f"--benchmark 'atomic hammer 1': one series, 14 runs in time order ({len(lines)})")
rc, text = cli_run(["--db", step_db, "--changes"])
cp_lines = [x for x in text.splitlines() if ": change at run " in x]
check(rc == 1 and len(cp_lines) == 4 and all(f"commits {commits[7][:10]}..{commits[8][:10]}" in x
                                             for x in cp_lines),
      f"--changes: the step found in all 4 series, at the commit range 07..08, exit 1 ({len(cp_lines)})")
check(all("x1.1" in x and "p = " in x and "median " in x for x in cp_lines),
      "each change point printed with before/after medians, ratio and p")
rc, text = cli_run(["--db", step_db, "--changes", "--min-change", "15"])
check(rc == 0 and ": change at run " not in text, "--min-change 15: a 10% step is not reported, exit 0")
rc, text = cli_run(["--db", main_db, "--changes"])
check(rc == 0 and "0 change point(s)" in text, "--changes on runs without a step: none, exit 0")
rc, text = cli_run(["--db", step_db, "--benchmark", "nosuch hammer"])
check(rc == 2, "--benchmark of nothing recorded: exit 2")
rc, text = cli_run(["--db", step_db, "--changes", "--import", a])
check(rc == 2, "two actions at once: exit 2")

# ---------------------------------------------------------------- change points

rng = __import__("numpy").random.default_rng(11)


def noisy(levels, sd=0.02):
    return [v * rng.lognormal(0, sd) for v in levels]


cps = changepoint.detect(noisy([10] * 15 + [11] * 15))
check([c.index for c in cps] == [15] and 1.07 < cps[0].ratio < 1.13 and cps[0].p < 0.05,
      f"one 10% step at 15 of 30, 2% noise: found there ({[(c.index, round(c.ratio, 3)) for c in cps]})")
cps = changepoint.detect(noisy([10] * 12 + [12] * 12 + [10.5] * 12))
check([c.index for c in cps] == [12, 24] and cps[0].ratio > 1.15 and cps[1].ratio < 0.92,
      f"up 20% then down: both steps, in order ({[(c.index, round(c.ratio, 3)) for c in cps]})")
flat = noisy([10] * 30)
flat[7] *= 1.8
flat[21] *= 1.5
check(changepoint.detect(flat) == [], "flat with two outliers (x1.8, x1.5): no change point")
stepped = noisy([10] * 15 + [11] * 15)
stepped[3] *= 1.8
stepped[25] *= 0.6
check([c.index for c in changepoint.detect(stepped)] == [15], "a step with outliers on both sides: found")
check(changepoint.detect(noisy([10] * 15 + [10.3] * 15, 0.001)) == [],
      "a 3% step below the 5% minimum size of change: not reported, however clear")
check([c.index for c in changepoint.detect(noisy([10] * 15 + [10.3] * 15, 0.001), min_change=0.01)]
      == [15], "the same 3% step with a 1% minimum: reported")
check(changepoint.detect([10, 11, 12]) == [], "too short a series: nothing")
r = subprocess.run([sys.executable, os.path.join(SRC, ".ci", "changepoint_power.py"), "--series", "100"],
                   capture_output=True, text=True)
print("\n".join("  " + x for x in r.stdout.splitlines()))
check(r.returncode == 0, "changepoint_power on 100 + 100 constructed series: false-alarm rate and "
      "power within the script's bounds")

# ---------------------------------------------------------------- exports

# Bencher Metric Format, bencher.dev/docs/reference/bencher-metric-format
# (its JSON Schema, draft-07, and its example, as published):
BMF_SCHEMA = {
    "$id": "https://bencher.dev/bmf.json", "$schema": "http://json-schema.org/draft-07/schema",
    "type": "object",
    "patternProperties": {".+": {
        "type": "object",
        "patternProperties": {".+": {
            "type": "object",
            "properties": {"value": {"type": "number"}, "lower_value": {"type": "number"},
                           "upper_value": {"type": "number"}},
            "required": ["value"]}}}}}
BMF_EXAMPLE = {
    "benchmark_name": {"latency": {"value": 88.0, "lower_value": 87.42, "upper_value": 88.88},
                       "throughput": {"value": 5.55, "lower_value": 3.14, "upper_value": 6.30}},
    "/bin/sh -c ./my_build_script.sh": {"build-time": {"value": 87.0}},
    "my_binary": {"file-size": {"value": 42.0}}}
# github-action-benchmark's README, "customSmallerIsBetter": a list of
# {name, unit, value} with optional range and extra (strings), as its example:
GAB_EXAMPLE = [
    {"name": "My Custom Smaller Is Better Benchmark - CPU Load", "unit": "Percent", "value": 50},
    {"name": "My Custom Smaller Is Better Benchmark - Memory Used", "unit": "Megabytes",
     "value": 100, "range": "3", "extra": "Value for Tooltip: 25\nOptional Num #2: 100\nAnything Else!"}]


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def valid_json_schema(doc, schema):
    """The subset of JSON Schema BMF_SCHEMA uses: type, properties,
    patternProperties (".+": any non-empty key), required."""
    t = schema.get("type")
    if t == "object" and not isinstance(doc, dict):
        return False
    if t == "number" and not is_number(doc):
        return False
    if isinstance(doc, dict):
        for k in schema.get("required", ()):
            if k not in doc:
                return False
        for k, v in doc.items():
            if k in schema.get("properties", {}) and not valid_json_schema(v, schema["properties"][k]):
                return False
            sub = schema.get("patternProperties", {}).get(".+")
            if sub is not None and (not k or not valid_json_schema(v, sub)):
                return False
    return True


def valid_gab(doc):
    return isinstance(doc, list) and all(
        isinstance(e, dict) and set(e) <= {"name", "unit", "value", "range", "extra"}
        and isinstance(e.get("name"), str) and isinstance(e.get("unit"), str) and is_number(e.get("value"))
        and all(isinstance(e[k], str) for k in ("range", "extra") if k in e) for e in doc)


check(valid_json_schema(BMF_EXAMPLE, BMF_SCHEMA) and valid_gab(GAB_EXAMPLE),
      "the validators accept the formats' published examples")
check(not valid_json_schema({"x": {"latency": {"lower_value": 1}}}, BMF_SCHEMA) and
      not valid_gab([{"name": "x", "value": 1}]), "and refuse what lacks a required field")


def export_of(argv):
    return captured(export.main, argv)


rc, text = export_of(["--format", "bmf", a])
bmf = json.loads(text)
check(rc == 0 and valid_json_schema(bmf, BMF_SCHEMA) and len(bmf) == 4,
      "export --format bmf: valid against the BMF schema, one benchmark per key")
m = bmf.get("atomic/hammer/t2", {}).get("latency", {})
check(abs(m.get("value", 0) - 20.02) < 1e-9 and m.get("lower_value") == 20.0 and m.get("upper_value") == 20.04,
      f"bmf latency = median ns/op of the clean reps, lower/upper = min/max ({m})")
check("throughput" in bmf["atomic/hammer/t2"], "bmf throughput (ops/s) beside latency")
rc, text = export_of(["--format", "github-action-benchmark", a])
gab = json.loads(text)
check(rc == 0 and valid_gab(gab) and len(gab) == 4 and all(e["unit"] == "ns/op" for e in gab),
      "export --format github-action-benchmark: the customSmallerIsBetter shape, unit ns/op")
hostile = os.path.join(TMP, "hostile.csv")
with open(hostile, "w") as f:
    f.write(",".join(COLS) + "\n")
    f.write('"evil""\n</script>\x1b[31m",hammer,1,cores,1,0,0,1000,5,2e8,,1,0,ok,,0,0,\n')
rc, text = export_of(["--format", "bmf", hostile])
doc = json.loads(text)
check(rc == 0 and "\x1b" not in text and list(doc)[0].startswith('evil"\n</script>'),
      "a hostile backend name: escaped by the JSON encoder, read back exactly")
rc, text = export_of(["--format", "github-action-benchmark", allbusy])
doc = json.loads(text)
check(rc == 0 and valid_gab(doc) and len(doc) == 4 and all("disturbed" in e["extra"] for e in doc),
      "a file without a clean repetition: its disturbed attempts exported, said so")
rc, _ = export_of(["--format", "xml", a])
check(rc == 2, "an unknown --format: exit 2")
rc, text = cli_run(["--db", step_db, "--format", "bmf"])
doc = json.loads(text)
check(rc == 0 and valid_json_schema(doc, BMF_SCHEMA) and
      abs(doc["atomic/hammer/t1"]["latency"]["value"] - 11.0) < 0.3,
      "history --format bmf: the newest run, valid")
rc, text = cli_run(["--db", step_db, "--format", "github-action-benchmark"])
check(rc == 0 and valid_gab(json.loads(text)), "history --format github-action-benchmark: valid")

import shutil  # noqa: E402
shutil.rmtree(TMP, ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
