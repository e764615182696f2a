"""The HTML report opened in headless Chromium: charts drawn, no script errors, nothing fetched.

Needs Debian's `chromium`. The page marks <html> with data-charts="ok" once its
own script has drawn every chart, and window.onerror marks data-chart-error;
`--dump-dom` shows which, and `--screenshot` shows whether anything was drawn.
"""

import re
import shutil
import struct
import subprocess
import zlib
from datetime import timedelta

import pytest
from report_fixtures import RUN_START, SETUP, build_finished_run, real_log, shift_log

from runner.report import build_report, render

WINDOW = (1280, 1600)
# The first shard's colour in report.js: bars and lines of shard 001.
SHARD_001_RGB = (0x2B, 0x6C, 0xB0)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces with the page's own CSP: no host name resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def chromium(page, tmp_path, *args):
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("Debian package `chromium` is needed for the HTML report test")
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    result = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def dump_dom(page, tmp_path):
    return chromium(page, tmp_path, "--dump-dom")


def screenshot(page, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(page, tmp_path, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}")
    return shot.read_bytes()


def png_pixels(data):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG, decoded by hand."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert chunks[0][0] == b"IHDR" and depth == 8 and colour in (2, 6)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i : i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def html_marker(dom, name):
    match = re.search(rf'<html[^>]*\s{name}="([^"]*)"', dom)
    return match.group(1) if match else None


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A finished run and a run in progress with a live, an empty and a non-log shard."""
    root = tmp_path_factory.mktemp("html") / "output"
    done, _ = build_finished_run(root)
    live, _ = build_finished_run(root, RUN_START + timedelta(days=1), name="live-1764936000")
    lines = real_log("2026.8.8-edge-blocking").read_text().splitlines(True)
    partial = live.dir / "partial.txt"
    partial.write_text("".join(lines[:4000]))
    shift_log(partial, live.shard_dir("004") / "log.txt", live.start + SETUP)
    partial.unlink()
    (live.shard_dir("003") / "log.txt").write_text("")
    (live.shard_dir("001") / "log.txt").write_bytes(bytes(range(256)))
    live.state["shards"]["004"]["state"] = "scanning"
    live.state["finished_at"] = None
    live.state["status"] = "scanning"
    live.save()
    return done, live


def test_one_run_report_draws_its_three_charts_in_headless_chromium(finished_run, tmp_path):
    run, _ = finished_run
    page = tmp_path / "report.html"
    page.write_text(render(build_report([run.dir]), "html"))

    dom = dump_dom(page, tmp_path)

    assert html_marker(dom, "data-chart-error") is None
    assert html_marker(dom, "data-charts") == "ok"
    assert html_marker(dom, "data-chart-count") == "3"
    assert dom.count("<svg") == 3
    assert dom.count('<polyline class="series"') == 4
    assert dom.count('<rect class="bar"') == 8
    assert dom.count("<tr>") == 1 + 4  # header row and one row a shard

    width, height, rows = png_pixels(screenshot(page, tmp_path))
    pixels = [p for row in rows for p in row]
    assert (width, height) == WINDOW
    non_white = sum(p != (255, 255, 255) for p in pixels)
    assert non_white > 0.03 * len(pixels)
    assert len(set(pixels)) > 50
    assert sum(p == SHARD_001_RGB for p in pixels) > 1000


def test_report_of_two_runs_with_odd_shards_draws_every_chart(two_runs, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(build_report([r.dir for r in two_runs]), "html"))

    dom = dump_dom(page, tmp_path)

    assert html_marker(dom, "data-chart-error") is None
    assert html_marker(dom, "data-charts") == "ok"
    assert html_marker(dom, "data-chart-count") == "6"
    # The live run has lines for shards 002 and 004 only; 001 and 003 have no sites done.
    assert dom.count('<polyline class="series"') == 4 + 2
    assert "binary file, not a Badger Sett log" in dom
    assert "scan still running (shard state scanning)" in dom
    assert "Runs compared" in dom


def test_a_chart_that_fails_is_caught_by_the_error_marker(finished_run, tmp_path):
    # Proves the two tests above could fail: chart data the script cannot draw.
    run, _ = finished_run
    html = render(build_report([run.dir]), "html")
    broken = re.sub(
        r'(<script type="application/json" id="report-data">).*?(</script>)',
        r'\1{"runs": []}\2',
        html,
        flags=re.S,
    )
    page = tmp_path / "report.html"
    page.write_text(broken)

    dom = dump_dom(page, tmp_path)

    assert html_marker(dom, "data-charts") == "error"
    assert "TypeError" in html_marker(dom, "data-chart-error")


def test_html_report_loads_nothing_and_escapes_what_the_run_folder_says(run_builder, tmp_path):
    run = run_builder(name="1-chrome-1-x-nyc1-1764849600")
    run.state["run_id"] = 'evil</script><img src="http://203.0.113.9/x.png">'
    run.shard("001", 5400)
    shift_log(real_log("2026.8.11-chrome-noblocking"), run.shard_dir("001") / "log.txt", run.start)
    run.save()

    html = render(build_report([run.dir]), "html")

    assert "203.0.113.9" in html  # the text is shown ...
    assert "<img" not in html  # ... but never as markup
    assert html.count("</script>") == 3  # the error hook, the data, the chart script
    assert "default-src 'none'" in html
    assert re.findall(r"<[a-zA-Z][^>]*\s(?:src|href|srcset|poster|data)\s*=", html) == []
    for fetches in ("url(", "@import", "<link", "fetch(", "XMLHttpRequest", "<iframe", "<object"):
        assert fetches not in html, fetches
