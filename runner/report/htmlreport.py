"""The run report as one self-contained HTML file: tables, plus charts drawn in the page.

Tables are written here, so every figure is readable even with scripts off;
the charts (sites done over time, speed and error rate per shard) are drawn
by `report.js` from a JSON block in the page. Style and script are inlined
and a Content-Security-Policy forbids every request, so the file opens from
disk, offline, and cannot fetch anything.
"""

import json
from html import escape
from importlib.resources import files

from runner.report import logparse
from runner.report.textreport import LEFT_ALIGNED, RUN_COLUMNS, SHARD_COLUMNS, summary_rows

# Nothing may be fetched: scripts and styles are inline, images only data: URLs.
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

# (data-chart name, caption, CSS class) of the charts each run gets, drawn by report.js.
CHARTS = [
    ("progress", "Sites done over time, per shard", "wide"),
    ("speed", "Speed per shard (sites per hour)", ""),
    ("errors", "Error rate per shard", ""),
]


def _asset(name: str) -> str:
    return files("runner.report").joinpath(name).read_text(encoding="utf-8")


def _chart_data(report: dict) -> dict:
    """Only what the charts draw, so the page does not carry the report twice."""
    runs = []
    for run in report["runs"]:
        shards = [
            {
                "shard": row["shard"],
                "sites": row["sites"],
                "series": row["series"],
                "sites_per_hour": row.get("sites_per_hour"),
                "error_rate": row.get("error_rate"),
            }
            for row in run["shards"]
        ]
        speed = run["speed"]
        runs.append(
            {
                "run_id": run["run_id"],
                "average_speed": speed["average"] if speed else None,
                "error_rate": run["totals"]["error_rate"],
                "shards": shards,
            }
        )
    return {"runs": runs}


def _script_json(data: dict) -> str:
    # `<` escaped so that no value can close the script element early.
    return json.dumps(data, sort_keys=True).replace("<", "\\u003c")


def _table(columns, rows, row_class=lambda row: "") -> str:
    def cell(tag, head, value):
        kind = ' class="text"' if head in LEFT_ALIGNED or head == "run" else ""
        return f"<{tag}{kind}>{escape(value)}</{tag}>"

    head = "".join(cell("th", h, h) for h, _ in columns)
    body = []
    for row in rows:
        cells = "".join(cell("td", h, fn(row)) for h, fn in columns)
        css = row_class(row)
        body.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _shard_class(row: dict) -> str:
    condition = row["log_condition"]
    if condition == logparse.ENDS_EARLY:
        return "ends-early"
    if condition in (logparse.UNREADABLE, logparse.NOT_A_LOG):
        return "bad-log"
    return ""


def _run_section(index: int, run: dict) -> str:
    status = run["status"] or "status unknown"
    badge = "running" if run["running"] else status
    summary = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in summary_rows(run)
    )
    charts = "".join(
        f'<figure class="{css}"><figcaption>{escape(caption)}</figcaption>'
        f'<div class="chart" data-chart="{name}" data-run="{index}"></div></figure>'
        for name, caption, css in CHARTS
    )
    notes = "".join(f"<li>{escape(note)}</li>" for note in run["notes"])
    parts = [
        f'<section class="run" id="run-{index}">',
        f'<h2>{escape(run["run_id"])}<span class="status {escape(badge)}">{escape(status)}'
        "</span></h2>",
        f'<p class="meta">{escape(run["folder"])}</p>',
        f'<dl class="summary">{summary}</dl>',
        f'<div class="charts">{charts}</div>',
        "<h3>Shards</h3>",
        _table(SHARD_COLUMNS, run["shards"], _shard_class) if run["shards"] else "<p>none</p>",
        f'<h3>Notes</h3><ul class="notes">{notes}</ul>' if notes else "",
        "</section>",
    ]
    return "\n".join(parts)


def render_html(report: dict) -> str:
    runs = report["runs"]
    title = (
        f"Run report: {runs[0]['run_id']}" if len(runs) == 1 else f"Run report: {len(runs)} runs"
    )
    compared = ""
    if len(runs) > 1:
        compared = "<h2>Runs compared</h2>" + _table(RUN_COLUMNS, runs)
    sections = "\n".join(_run_section(i, run) for i, run in enumerate(runs))
    # The error hook comes first, in its own script, so it also sees a
    # syntax error in the chart script.
    return f"""<!doctype html>
<html lang="en" data-charts="pending">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<script>
window.onerror = function (message) {{
  document.documentElement.setAttribute("data-chart-error", String(message));
  document.documentElement.setAttribute("data-charts", "error");
}};
</script>
<style>
{_asset("report.css")}</style>
</head>
<body>
<h1>Badger Sett {escape(title[0].lower() + title[1:])}</h1>
<p class="meta">Generated {escape(report["generated_at"] or "")}. Times are UTC.
err% = errored / (visited + errored). Shard figures come from each shard's latest scan;
earlier failed attempts are counted apart.</p>
<noscript><p>Charts need JavaScript; the tables hold every figure.</p></noscript>
{compared}
{sections}
<script type="application/json" id="report-data">{_script_json(_chart_data(report))}</script>
<script>
{_asset("report.js")}</script>
</body>
</html>
"""
