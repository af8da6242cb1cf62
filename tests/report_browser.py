#!/usr/bin/python3
"""Open a report.html in headless Debian chromium and check it as a reader
would see it; print "ok - ..." / "FAIL - ..." lines (tests/check.sh's pycheck
counts them) and exit non-zero on any failure.

    tests/report_browser.py REPORT.html SCREENSHOT.png [--expect-hosts N] [--compare] [--hostile]
                            [--security-only] [--width PX]

chromium runs with the flags this machine needs (no sandbox as root, no GPU,
no background networking: see README) and a fresh profile, and is driven
over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in, fd 4
out), so no port, driver or extra package is needed. Checks:
  - the page loads (load event) with no console error, no uncaught exception
    and no error in the browser log;
  - no request but the page itself (every script and chart is inline);
  - every chart div is drawn by plotly (an SVG with traces), at least one;
  - a decision table (table.decision or table.wins) with rows is present;
  - hovering a point shows a hover label; unticking a backend in the filter
    hides its traces, ticking it again shows them (interactive);
  - with --expect-hosts N: N host sections; a screenshot of the top of the
    page is written, and one of the first chart (<stem>-chart.png);
  - with --width PX (a phone: 420): the page is laid out PX wide (a mobile
    viewport) and nothing widens it (document scrollWidth <= PX), every table
    sits in a scroll box (div.table-scroll) no wider than the page, and every
    chart's legend lies inside its chart; the screenshot is PX wide;
  - with --hostile (a report of crafted data, tests/test_hostile_data.sh): no
    injected script ran (each would set data-pwned on an element: none has
    it), the only scripts are the page's two (plotly.js, its own), no link
    leads anywhere, and the page's Content-Security-Policy is in force.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
         "--remote-debugging-pipe"]
TIMEOUT = float(os.environ.get("KB_BROWSER_TIMEOUT", "180"))


class Browser:
    def __init__(self, chromium, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)
        self.proc = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={profile}",
                                      "--window-size=1280,1600", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     pass_fds=(3, 4), preexec_fn=fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None
        self.deadline = time.monotonic() + TIMEOUT

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        return self.wait(lambda m: m.get("id") == self.next_id, what=method)

    def read_one(self):
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if not r:
                continue
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe (did it start?)")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def wait(self, pred, what):
        for i, m in enumerate(self.events):
            if pred(m):
                return self.events.pop(i)
        while True:
            m = self.read_one()
            if pred(m):
                if "error" in m:
                    raise RuntimeError(f"{what}: {m['error'].get('message')}")
                return m
            self.events.append(m)

    def evaluate(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        res = r["result"]
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate failed: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def close(self):
        try:
            os.write(self.to_chrome, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


CHECK_JS = r"""
(() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const drawn = plots.filter(gd => gd.querySelector('svg.main-svg') &&
      gd.querySelectorAll('.trace, .boxlayer path, .barlayer path, .scatterlayer path').length > 0);
  const tables = [...document.querySelectorAll('table.decision, table.wins')];
  return {
    charts: plots.length, drawn: drawn.length,
    chartDivs: document.querySelectorAll('div.chart').length,
    decisionRows: tables.reduce((n, t) => n + t.querySelectorAll('tbody tr').length, 0),
    hosts: document.querySelectorAll('section[data-host]').length,
    title: document.title,
  };
})()
"""

HOVER_JS = r"""
(async () => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !window.Plotly) return 0;
  const c = gd.data.findIndex(t => t.visible !== false && (t.x || []).length > 0);
  Plotly.Fx.hover(gd, [{curveNumber: c, pointNumber: 0}]);
  await new Promise(r => setTimeout(r, 300));
  return gd.querySelectorAll('.hoverlayer .hovertext').length;
})()
"""

FILTER_JS = r"""
(async () => {
  const box = document.querySelector('#filter input[data-kind=backend]');
  if (!box) return {error: 'no backend filter'};
  const name = box.value;
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const traces = () => plots.flatMap(gd => gd.data.filter(t => (t.meta || {}).backend === name));
  const before = traces().length;
  box.checked = false; box.dispatchEvent(new Event('change'));
  await new Promise(r => setTimeout(r, 200));
  const hidden = traces().filter(t => t.visible === false).length;
  const rows = document.querySelectorAll('[data-backend="' + CSS.escape(name) + '"]');
  const rowsHidden = [...rows].filter(r => r.style.display === 'none').length;
  box.checked = true; box.dispatchEvent(new Event('change'));
  await new Promise(r => setTimeout(r, 200));
  const shown = traces().filter(t => t.visible !== false).length;
  return {name, before, hidden, shown, rows: rows.length, rowsHidden};
})()
"""


NARROW_JS = r"""
(() => {
  const w = document.documentElement.clientWidth;
  const tables = [...document.querySelectorAll('table')];
  const loose = tables.filter(t => !t.parentElement.classList.contains('table-scroll')).length;
  const boxes = [...document.querySelectorAll('div.table-scroll')];
  const wideBoxes = boxes.filter(b => b.getBoundingClientRect().right > w + 1).length;
  const scrolling = boxes.filter(b => b.scrollWidth > b.clientWidth + 1).length;
  const cut = [];
  document.querySelectorAll('.js-plotly-plot').forEach((gd, i) => {
    const items = [...gd.querySelectorAll('g.legend g.traces text, g.legend .legendtitletext')];
    const c = gd.getBoundingClientRect();
    items.forEach(t => {
      const r = t.getBoundingClientRect();
      if (r.width > 0 && (r.left < c.left - 1 || r.right > c.right + 1 || r.right > w + 1))
        cut.push([i, t.textContent.slice(0, 40), Math.round(r.right), Math.round(c.right)]);
    });
  });
  return {scrollWidth: document.documentElement.scrollWidth, clientWidth: w,
          tables: tables.length, loose, boxes: boxes.length, wideBoxes, scrolling, cut};
})()
"""


HOSTILE_JS = r"""
(() => ({
  pwned: document.querySelectorAll('[data-pwned]').length,
  scripts: [...document.scripts].filter(s => !s.type || /javascript/i.test(s.type)).length,
  links: [...document.querySelectorAll('a[href], area[href], iframe, object, embed, img')]
    .map(a => a.outerHTML.slice(0, 80)),
  csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {}).content || '',
  window_pwned: typeof window.kbPwned !== 'undefined',
}))()
"""


def main(argv):
    if len(argv) < 2:
        print("usage: report_browser.py REPORT.html SCREENSHOT.png [--expect-hosts N] [--compare]")
        return 2
    page, shot = os.path.abspath(argv[0]), argv[1]
    expect_hosts = int(argv[argv.index("--expect-hosts") + 1]) if "--expect-hosts" in argv else None
    compare = "--compare" in argv
    hostile = "--hostile" in argv or "--security-only" in argv
    # --security-only: a page whose content depends on a busy machine (a
    # fleet's report may have no clean figures): only load, console,
    # requests and --hostile's checks.
    security_only = "--security-only" in argv
    width = int(argv[argv.index("--width") + 1]) if "--width" in argv else 1280
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    failed = 0

    def check(ok, text):
        nonlocal failed
        print(("ok - " if ok else "FAIL - ") + text, flush=True)
        failed += 0 if ok else 1

    profile = tempfile.mkdtemp(prefix="kb-chromium-")
    b = Browser(chromium, profile)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"}, session=False)
        att = b.send("Target.attachToTarget", {"targetId": target["result"]["targetId"],
                                               "flatten": True}, session=False)
        b.session = att["result"]["sessionId"]
        for m in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable"):
            b.send(m)
        b.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 1500,
                                                      "deviceScaleFactor": 1,
                                                      "mobile": width < 800})
        url = "file://" + page
        start = time.monotonic()
        b.send("Page.navigate", {"url": url})
        b.wait(lambda m: m.get("method") == "Page.loadEventFired", "load")
        time.sleep(1.0)  # responsive plots settle; late console errors arrive
        b.evaluate("1")  # drain events that arrived meanwhile into b.events
        check(True, f"report loads in chromium ({time.monotonic() - start:.1f} s, "
                    f"{os.path.getsize(page)} bytes)")
        info = b.evaluate(CHECK_JS)
        hover = b.evaluate(HOVER_JS)
        filt = None if compare else b.evaluate(FILTER_JS)
        bad = b.evaluate(HOSTILE_JS) if hostile else None
        narrow = b.evaluate(NARROW_JS) if "--width" in argv else None
        shot_data = b.send("Page.captureScreenshot", {"format": "png", "clip": {
            "x": 0, "y": 0, "width": width, "height": 1500, "scale": 0.75 if width > 800 else 1}})
        with open(shot, "wb") as f:
            f.write(base64.b64decode(shot_data["result"]["data"]))
        # And the first chart on its own, beside it (<stem>-chart.png).
        rect = b.evaluate("(() => { const c = document.querySelector('div.chart'); if (!c) return null;"
                          " const r = c.getBoundingClientRect();"
                          " return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; })()")
        if rect:
            chart = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                      "clip": {"x": rect["x"], "y": rect["y"],
                                                               "width": rect["w"], "height": rect["h"],
                                                               "scale": 0.75}})
            with open(os.path.splitext(shot)[0] + "-chart.png", "wb") as f:
                f.write(base64.b64decode(chart["result"]["data"]))
    except (TimeoutError, EOFError, RuntimeError, OSError, KeyError) as e:
        err = b.proc.stderr.read(2000).decode(errors="replace") if b.proc.poll() is not None else ""
        check(False, f"driving chromium: {e} {err.strip()[:300]}")
        b.close()
        shutil.rmtree(profile, ignore_errors=True)
        return 1
    b.close()
    shutil.rmtree(profile, ignore_errors=True)

    ev = b.events
    errors = [m["params"] for m in ev if m.get("method") == "Runtime.consoleAPICalled"
              and m["params"].get("type") in ("error", "assert")]
    exceptions = [m["params"] for m in ev if m.get("method") == "Runtime.exceptionThrown"]
    logs = [m["params"]["entry"] for m in ev if m.get("method") == "Log.entryAdded"
            and m["params"]["entry"].get("level") == "error"]
    check(not errors and not exceptions and not logs,
          f"no console error, exception or error log ({len(errors)}, {len(exceptions)}, {len(logs)})"
          + "".join(f"\n  {json.dumps(x)[:300]}" for x in (errors + exceptions + logs)[:5]))
    requests = [m["params"]["request"]["url"] for m in ev
                if m.get("method") == "Network.requestWillBeSent"]
    others = [u for u in requests if u != url and not u.startswith(("data:", "blob:", "about:"))]
    check(url in requests, "the page itself was the one request seen (the network domain works)")
    check(not others, f"no other request: {others[:5]}")
    if security_only:
        check(info["drawn"] == info["charts"] == info["chartDivs"],
              f"every chart there drawn: {info['drawn']} of {info['chartDivs']} chart divs")
    else:
        check(info["charts"] >= 1 and info["drawn"] == info["charts"] == info["chartDivs"],
              f"every chart drawn: {info['drawn']} of {info['charts']} plotly charts "
              f"({info['chartDivs']} chart divs)")
        check(info["decisionRows"] >= 1, f"decision table present ({info['decisionRows']} rows)")
        check(hover >= 1, f"hovering a point shows its figures ({hover} hover label)")
    if filt is not None and not security_only:
        check(filt.get("before", 0) > 0 and filt["hidden"] == filt["before"] == filt["shown"]
              and filt["rowsHidden"] == filt["rows"],
              f"filter: unticking {filt.get('name')} hides its {filt.get('before')} traces "
              f"and {filt.get('rows')} table rows, ticking shows them again ({filt})")
    if bad is not None:
        check(bad["pwned"] == 0 and not bad["window_pwned"],
              f"no injected script ran ({bad['pwned']} element(s) with data-pwned)")
        check(bad["scripts"] == 2, f"the page's two scripts and no other ({bad['scripts']})")
        check(not bad["links"], f"no link, frame, object or image from data: {bad['links'][:3]}")
        check("script-src 'sha256-" in bad["csp"] and "default-src 'none'" in bad["csp"]
              and "unsafe-inline' " not in bad["csp"].split("style-src")[0],
              "the Content-Security-Policy allows only the page's own scripts")
    if narrow is not None:
        check(narrow["scrollWidth"] <= width,
              f"at {width} px nothing widens the page (scrollWidth {narrow['scrollWidth']}, "
              f"viewport {narrow['clientWidth']})")
        check(narrow["tables"] >= 1 and narrow["loose"] == 0 and narrow["wideBoxes"] == 0,
              f"at {width} px every table is in a scroll box no wider than the page "
              f"({narrow['tables']} tables, {narrow['loose']} outside a box, "
              f"{narrow['wideBoxes']} boxes wider; {narrow['scrolling']} scroll inside)")
        check(not narrow["cut"], f"at {width} px no chart's legend is cut off (charts {narrow['cut']})")
    if expect_hosts is not None:
        check(info["hosts"] == expect_hosts, f"{info['hosts']} host sections, expected {expect_hosts}")
    check(os.path.getsize(shot) > 10000, f"screenshot {shot} ({os.path.getsize(shot)} bytes)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
