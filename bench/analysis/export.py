"""A results file (or a history run) in the formats CI services read,
printed on stdout:

    ./run.sh export --format bmf FILE.csv
    ./run.sh export --format github-action-benchmark FILE.csv
    (./run.sh history --format F: the newest run of the history)

bmf: Bencher Metric Format (bencher.dev/docs/reference/bencher-metric-format):
one object per benchmark, keyed by its name, holding Bencher's built-in
measures `latency` (ns_per_op, nanoseconds) and `throughput` (ops_per_s,
operations per second), each {value: median of the clean repetitions,
lower_value: the smallest, upper_value: the largest}. For
`bencher run --adapter json`.

github-action-benchmark: the "customSmallerIsBetter" input of
benchmark-action/github-action-benchmark: a list of {name, unit: "ns/op",
value: median ns_per_op, range: "± half the spread (max - min) / 2",
extra: the repetitions, the spread and the throughput}.

A benchmark's name: backend/workload[/variant]/t<threads>, then the key
parts that are not the default (w<writer rate>, K<objects> unless 1,
work<ns>, the placement unless cores), e.g. `atomic/hammer/t2`,
`percpu/lookup_rcu/memb/t2/w1000`. The values are the clean repetitions
(results.load: check ok, not disturbed), floors included (backend `floor`);
a file without any clean repetition exports its disturbed attempts, with a
warning on stderr (and "disturbed" in github-action-benchmark's extra).
Names come from the file: they are JSON strings here, escaped by the
encoder, never markup.
"""

import csv
import io
import json
import statistics
import sys

from . import cli, results

PROG = "export"
FORMATS = ("bmf", "github-action-benchmark")


def bench_name(key):
    backend, workload, threads, placement, objects, work_ns, variant, writer = key
    parts = [backend, workload] + ([variant] if variant else []) + [f"t{threads}"]
    if str(writer) != "0":
        parts.append(f"w{writer}")
    if str(objects) != "1":
        parts.append(f"K{objects}")
    if str(work_ns) != "0":
        parts.append(f"work{work_ns}")
    if placement != "cores":
        parts.append(placement)
    return "/".join(str(p) for p in parts)


def render(samples, fmt, note=""):
    """samples: {benchmark key: [(ns_per_op, ops_per_s), ...]} -> the JSON
    text; note goes into github-action-benchmark's extra."""
    if not samples:
        raise cli.InputError("nothing to export (no clean repetitions)")
    names = {}
    for key in samples:
        name = bench_name(key)
        if name in names and names[name] != key:
            name = name + "/" + "/".join(str(k) for k in key[3:])
        names[name] = key
    if fmt == "bmf":
        doc = {}
        for name, key in sorted(names.items()):
            ns = [v[0] for v in samples[key]]
            ops = [v[1] for v in samples[key]]
            doc[name] = {
                "latency": {"value": statistics.median(ns), "lower_value": min(ns),
                            "upper_value": max(ns)},
                "throughput": {"value": statistics.median(ops), "lower_value": min(ops),
                               "upper_value": max(ops)}}
    elif fmt == "github-action-benchmark":
        doc = []
        for name, key in sorted(names.items()):
            ns = [v[0] for v in samples[key]]
            ops = statistics.median(v[1] for v in samples[key])
            doc.append({"name": name, "unit": "ns/op", "value": statistics.median(ns),
                        "range": f"± {(max(ns) - min(ns)) / 2:.4g}",
                        "extra": f"{len(ns)} {note or 'clean repetitions'}, {min(ns):.4g}-"
                                 f"{max(ns):.4g} ns/op; {ops:.4g} ops/s (all threads)"})
    else:
        raise cli.InputError(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def samples_of(rows):
    out = {}
    for r in rows:
        out.setdefault(results.benchmark_key(r), []).append((r["ns_per_op"], r["ops_per_s"]))
    return out


def disturbed_rows(path):
    """Every attempt whose check is ok, disturbed or not, validated as
    results.load validates them: what a file without a clean repetition
    has to export."""
    # results.load() has read and validated the file; read it again, streamed.
    with open(path, encoding="utf-8-sig", newline="") as f:
        return _ok_rows(path, csv.reader(f))


def _ok_rows(path, reader):
    header = None
    out = []
    for fields in reader:
        if not fields or not any(x.strip() for x in fields):
            continue
        if header is None:
            header = [h.strip() for h in fields]
            continue
        if [x.strip() for x in fields] == header or len(fields) != len(header):
            continue
        row = dict(zip(header, fields))
        results.parse_row(row, f"{path} line {reader.line_num}")
        if row["check"] in ("", "ok"):
            out.append(row)
    return out


def run(argv):
    p = cli.Parser(prog=PROG, description="A results file in a CI service's format, on stdout.",
                   epilog="README.md, 'Exporting to CI services'.")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("csv", metavar="FILE.csv")
    args = p.parse_args(argv)
    res = results.load(args.csv, purpose="export", require_clean=False)
    for w in res.warnings:
        cli.warn(PROG, w)
    rows, note = res.rows, ""
    if not rows and res.attempts:
        cli.warn(PROG, f"{args.csv}: no clean repetition ({res.dropped_text()}; a busy machine): "
                       f"exporting the disturbed attempts")
        rows, note = disturbed_rows(args.csv), "disturbed attempts"
    if not rows:
        raise cli.InputError(f"{args.csv}: every row failed its self-check; nothing to export")
    sys.stdout.write(render(samples_of(rows), args.format, note))
    return cli.EXIT_OK


def main(argv=None):
    return cli.guarded(PROG, lambda: run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
