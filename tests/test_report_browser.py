"""The report in a real browser: headless Chromium (Debian ``chromium``) opens report.html from disk.

Checked: no JavaScript error while the page loads and draws, and every
figure drew its plot (Plotly's rendered SVG layers and traces inside each
``.plotly-graph-div``). A screenshot of each report is kept in the test's
tmp folder and copied to ``$GNNNAS_SCREENSHOTS`` (default
/tmp/report_screens) for a person to look at. Skipped where chromium is
not installed, except on CI (env ``CI`` set), where it must be.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from optuna.trial import TrialState
from report_studies import rich_study, study_with, trial

from gnnnas.report import write_report

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
if BROWSER is None and os.environ.get("CI"):
    pytest.fail("chromium is not installed (CI installs it: apt-get install chromium)", pytrace=False)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="headless Chromium (Debian package chromium) not installed")

# Flags from ../shared/ENVIRONMENT.md: without the background-networking ones it keeps trying to reach the
# network; software WebGL (parallel coordinates) must be opted into on a machine without a GPU.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-unsafe-swiftshader", "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]

# Injected into a copy of the report: collect errors from the first script on, then (after the page has
# drawn) write what was found into the DOM, where --dump-dom shows it.
PROBE = """<script>window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
window.addEventListener('unhandledrejection', function (e) { window.__errors.push('rejection: ' + e.reason); });
var __log = console.error; console.error = function () {
  window.__errors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  __log.apply(console, arguments); };
</script>"""
COLLECT = """<script>setTimeout(function () {
  var out = {errors: window.__errors, figures: []};
  document.querySelectorAll('.plotly-graph-div').forEach(function (d) {
    out.figures.push({id: d.id, svg: d.querySelectorAll('svg.main-svg').length,
                      traces: d.querySelectorAll('g.trace, g.parcoords, g.shapelayer path, g.annotation').length,
                      width: d.getBoundingClientRect().width});
  });
  var table = document.querySelector('table.sortable');
  out.rows = table ? table.tBodies[0].rows.length : 0;
  out.count = (document.querySelector('[id$=-count]') || {}).textContent || '';
  if (table) {  /* use the table as a reader would: filter, pick a status, sort by trial both ways */
    var filter = document.getElementById(table.dataset.filter), status = document.getElementById(table.dataset.status);
    var visible = function () { return Array.prototype.filter.call(table.tBodies[0].rows,
      function (r) { return r.style.display !== 'none'; }).length; };
    filter.value = 'gat'; filter.dispatchEvent(new Event('input')); out.filtered = visible();
    filter.value = ''; filter.dispatchEvent(new Event('input'));
    status.value = 'complete'; status.dispatchEvent(new Event('change')); out.complete = visible();
    status.value = ''; status.dispatchEvent(new Event('change'));
    var col = Array.prototype.findIndex.call(table.tHead.rows[0].cells,
                                             function (c) { return c.textContent === 'trial'; });
    var first = function () { return table.tBodies[0].rows[0].cells[col].textContent; };
    table.tHead.rows[0].cells[col].click(); out.sortedAsc = first();
    table.tHead.rows[0].cells[col].click(); out.sortedDesc = first();
  }
  var pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 2500);</script>"""


def chromium(args: list[str], profile: Path, timeout: int = 90) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args],
                          capture_output=True, text=True, timeout=timeout)


def open_in_browser(report: Path, tmp: Path, name: str) -> dict:
    """Load ``report`` in Chromium; the probe's findings, and a screenshot saved for inspection."""
    probed = tmp / f"{name}-probed.html"
    text = report.read_text(encoding="utf-8")
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1).replace("</body>", COLLECT + "</body>", 1),
                      encoding="utf-8")
    done = chromium(["--dump-dom", probed.as_uri()], tmp / "profile-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page never finished drawing; chromium said:\n{done.stderr[-3000:]}"
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                        .replace("&gt;", ">"))
    shot = tmp / f"{name}.png"
    chromium(["--window-size=1400,6000", f"--screenshot={shot}", report.as_uri()], tmp / "profile-shot")
    assert shot.is_file() and shot.stat().st_size > 10_000, "no screenshot"
    keep = Path(os.environ.get("GNNNAS_SCREENSHOTS", "/tmp/report_screens"))
    try:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, keep / shot.name)
    except OSError:
        pass  # the copy is a convenience; the screenshot in tmp is the test's
    return result


def check_drawn(result: dict, expected: int) -> None:
    assert result["errors"] == [], result["errors"]
    assert len(result["figures"]) == expected, result["figures"]
    for fig in result["figures"]:
        # a drawn Plotly figure has its main SVG layers and at least one rendered trace, shape or annotation
        assert fig["svg"] >= 2 and fig["traces"] >= 1 and fig["width"] > 300, fig


def test_rich_report_draws_every_figure_without_errors(tmp_path):
    report = write_report(rich_study(), tmp_path / "report.html")
    result = open_in_browser(report, tmp_path, "report-rich")
    check_drawn(result, expected=8)
    assert result["rows"] == 7 and result["count"] == "7 of 7 trials shown"  # the table script ran
    assert result["filtered"] == 2 and result["complete"] == 4  # "gat": trials 1 and 3; four completed
    assert (result["sortedAsc"], result["sortedDesc"]) == ("0", "6")


def test_edge_case_reports_open_cleanly(tmp_path):
    failed = study_with([trial(i, TrialState.FAIL, error="ValueError: boom", start=3 * i, seconds=2)
                         for i in range(2)])
    result = open_in_browser(write_report(failed, tmp_path / "failed.html"), tmp_path, "report-failed-only")
    check_drawn(result, expected=1)  # only the timeline has something to draw; the rest are messages
    one = study_with([trial(0, TrialState.COMPLETE, [0.3], [(1, 0.2), (2, 0.3)], "max_epochs")])
    result = open_in_browser(write_report(one, tmp_path / "one.html"), tmp_path, "report-one-trial")
    check_drawn(result, expected=5)


def test_committed_example_report_opens_cleanly(tmp_path):
    example = Path(__file__).resolve().parents[1] / "reports" / "example-report.html"
    if not example.is_file():
        pytest.skip("reports/example-report.html not there (make report-example writes it)")
    figures = example.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    result = open_in_browser(example, tmp_path, "example-report")
    check_drawn(result, expected=figures)
    assert figures == 8 and result["rows"] == 16  # the demo: 16 trials, every figure drawn


def test_png_images_of_the_figures(tmp_path):
    pytest.importorskip("kaleido", reason="kaleido not installed (pip install 'gnnnas[report-png]')")
    import struct

    from gnnnas.report import render
    from gnnnas.report.png import check_png_support, write_pngs
    _, figs = render(rich_study())
    paths = write_pngs(figs, tmp_path / "report-png", check_png_support())
    assert {p.stem for p in paths} == {name for name, f in figs.items() if not hasattr(f, "message")}
    for path in paths:
        head = path.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n", path
        width, height = struct.unpack(">II", head[16:24])
        assert width >= 1300 and height >= 300, (path.name, width, height)
