"""The run report as plain text and as JSON: what a terminal or another program reads.

Both take the report dict that `runner.report.build_report` makes (one entry
per run, figures from `runstats.collect_run`) and only format it; no figure is
computed here. Text tables are aligned with spaces so the file reads the same
in a terminal, a pager and a CI log.
"""

import json

from runner.report.defaults import ERROR_KINDS_SHOWN

MISSING = "-"


def pct(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.1f}%"


def count(value) -> str:
    return MISSING if value is None else f"{value:,}"


def hours(value: float | None) -> str:
    return MISSING if value is None else f"{value:.1f} h"


def rate(value: float | None) -> str:
    return MISSING if value is None else f"{value:,.0f}"


def money(value: float | None) -> str:
    return MISSING if value is None else f"${value:,.2f}"


def when(value: str | None) -> str:
    """`2026-12-04T15:40:00Z` -> `2026-12-04 15:40`; times in the report are UTC."""
    return MISSING if not value else value[:16].replace("T", " ")


# (heading, function of a shard row) for the shard table, in reading order.
SHARD_COLUMNS = [
    ("shard", lambda r: r["shard"]),
    ("state", lambda r: r["state"] or MISSING),
    ("sites", lambda r: count(r["sites"])),
    ("visited", lambda r: count(r.get("visited"))),
    ("errored", lambda r: count(r.get("errored"))),
    ("err%", lambda r: pct(r.get("error_rate"))),
    ("timeouts", lambda r: count(r.get("timeouts"))),
    ("ext t/o", lambda r: count(r.get("ext_timeouts"))),
    ("links", lambda r: count(r.get("links_clicked"))),
    ("link fail", lambda r: count(r.get("link_failures"))),
    ("restarts", lambda r: count(r.get("restarts"))),
    ("attempts", lambda r: count(r["attempts"])),
    ("retries", lambda r: count(r["retries"])),
    ("stalls", lambda r: count(r["stalls"])),
    ("scan start", lambda r: when(r.get("scan_start"))),
    ("scan end", lambda r: when(r.get("scan_end"))),
    ("hours", lambda r: hours(r.get("scan_hours"))[:-2] if r.get("scan_hours") else MISSING),
    ("sites/h", lambda r: rate(r.get("sites_per_hour"))),
    ("drop h", lambda r: f"{r['droplet_hours']:.1f}"),
    ("cost", lambda r: money(r["cost"])),
    ("log", lambda r: r["log_condition"]),
]

# Columns that hold text are aligned left, figures right.
LEFT_ALIGNED = {"shard", "state", "scan start", "scan end", "log"}

RUN_COLUMNS = [
    ("run", lambda r: r["run_id"]),
    ("status", lambda r: r["status"] or MISSING),
    ("shards", lambda r: count(r["totals"]["shards"])),
    ("sites", lambda r: count(r["totals"]["sites"])),
    ("done", lambda r: count(r["totals"]["done"])),
    ("err%", lambda r: pct(r["totals"]["error_rate"])),
    ("avg sites/h", lambda r: rate(r["speed"]["average"]) if r["speed"] else MISSING),
    ("restarts", lambda r: count(r["totals"]["restarts"])),
    ("retries", lambda r: count(r["totals"]["retries"])),
    ("stalls", lambda r: count(r["totals"]["stalls"])),
    ("run time", lambda r: hours(r["run_hours"])),
    ("cost", lambda r: money(r["totals"]["cost"])),
]


def table(columns, rows, indent: str = "  ") -> list[str]:
    cells = [[fn(row) for _, fn in columns] for row in rows]
    widths = [
        max([len(head)] + [len(line[i]) for line in cells]) for i, (head, _) in enumerate(columns)
    ]

    def line(values):
        parts = []
        for (head, _), width, value in zip(columns, widths, values, strict=True):
            left = head in LEFT_ALIGNED or head == "run"
            parts.append(value.ljust(width) if left else value.rjust(width))
        return indent + "  ".join(parts).rstrip()

    return [line([head for head, _ in columns])] + [line(values) for values in cells]


def _extreme(figure: dict | None, fmt) -> str:
    if not figure:
        return MISSING
    worst = f"{fmt(figure['worst'])} (shard {figure['worst_shard']})"
    return f"average {fmt(figure['average'])}, worst {worst}"


def summary_rows(run: dict) -> list[tuple[str, str]]:
    """The run's headline figures as (label, value) pairs, for text and HTML alike."""
    t = run["totals"]
    end = "now (still running)" if run["running"] else f"{when(run['run_end'])} UTC"
    slowest = run["slowest_shard"]
    kinds = list(run["error_kinds"].items())[:ERROR_KINDS_SHOWN]
    cost = money(t["cost"])
    if t["cost"] is not None:
        cost = f"{cost} ({t['droplet_hours']:.1f} droplet hours x ${run['price_hourly']}/h)"
    rows = [
        ("run time", f"{when(run['run_start'])} UTC to {end}: {hours(run['run_hours'])}"),
        (
            "sites",
            f"{count(t['sites'])} planned, {count(t['visited'])} visited, "
            f"{count(t['errored'])} errored ({pct(t['error_rate'])}), "
            f"{count(t['not_reached'])} not reached",
        ),
        ("error rate", _extreme(run["error_rate"], pct)),
        ("speed", _extreme(run["speed"], lambda v: f"{rate(v)} sites/h")),
        (
            "slowest",
            f"shard {slowest['shard']}, {hours(slowest['hours'])} of scanning"
            if slowest
            else MISSING,
        ),
        (
            "timeouts",
            f"{count(t['timeouts'])} page loads, {count(t['ext_timeouts'])} extension pages",
        ),
        ("links", f"{count(t['links_clicked'])} clicked, {count(t['link_failures'])} failed"),
        (
            "restarts",
            f"{count(t['restarts'])} browser restarts, {count(t['retries'])} droplet retries, "
            f"{count(t['stalls'])} stalls",
        ),
        (
            "failed attempts",
            f"{count(t['failed_attempts'])} ({count(t['failed_attempts_done'])} sites done and "
            f"{count(t['failed_attempts_restarts'])} browser restarts in them, not counted above)",
        ),
        ("droplets", f"{count(t['droplets'])}, {t['droplet_hours']:.1f} droplet hours"),
        ("cost", cost),
        ("site errors", ", ".join(f"{k} {v:,}" for k, v in kinds) or MISSING),
    ]
    return rows


def run_summary(run: dict) -> list[str]:
    rows = summary_rows(run)
    width = max(len(label) for label, _ in rows)
    return [f"  {label.ljust(width)}  {value}" for label, value in rows]


def render_text(report: dict) -> str:
    lines = []
    for run in report["runs"]:
        status = run["status"] or "status unknown"
        lines += [f"Run {run['run_id']} ({status})", f"  folder  {run['folder']}", ""]
        lines += run_summary(run)
        lines.append("")
        if run["shards"]:
            lines += table(SHARD_COLUMNS, run["shards"])
            lines.append("")
        if run["notes"]:
            lines.append("  notes:")
            lines += [f"  - {note}" for note in run["notes"]]
            lines.append("")
    if len(report["runs"]) > 1:
        lines += ["Runs compared", *table(RUN_COLUMNS, report["runs"]), ""]
    lines.append(
        "Times are UTC. err% = errored / (visited + errored). Figures per shard come from its "
        "latest scan; earlier failed attempts are counted apart."
    )
    return "\n".join(lines) + "\n"


def render_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
