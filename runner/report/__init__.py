"""The run report: what happened in one or more runs, in numbers and charts.

Figures come from each shard's Badger Sett log (`logparse`) and from the run's
state file (`runstats`); `build_report` puts one or more runs into one dict,
which `textreport` and `htmlreport` render without computing anything of
their own. `write_run_report` is what the control loop calls when a run
completes; `runner report` (`cli`) is the command for people.
"""

from datetime import UTC, datetime
from pathlib import Path

from runner.errors import UserError
from runner.fsutil import atomic_write_text
from runner.report.defaults import REPORT_FORMAT, REPORT_NAMES
from runner.report.logparse import LogStats, parse_log
from runner.report.runstats import collect_run, iso

__all__ = ["LogStats", "build_report", "parse_log", "render", "write_run_report"]


def build_report(run_dirs: list[Path], now: datetime | None = None) -> dict:
    """One report over the given run folders, in the order given."""
    now = now or datetime.now(UTC)
    return {
        "format": REPORT_FORMAT,
        "generated_at": iso(now),
        "runs": [collect_run(Path(d), now) for d in run_dirs],
    }


def render(report: dict, fmt: str) -> str:
    # Imported here so that `parse_log` users do not load the HTML template.
    from runner.report.htmlreport import render_html
    from runner.report.textreport import render_json, render_text

    renderers = {"text": render_text, "json": render_json, "html": render_html}
    if fmt not in renderers:
        raise UserError(f"unknown report format {fmt!r}: use one of {', '.join(renderers)}")
    return renderers[fmt](report)


def write_run_report(run_dir: Path, now=None) -> list[Path]:
    """Write report.txt, report.json and report.html into the run folder.

    Bad, missing or unfinished logs and a broken state file become notes in the
    report; only a run folder that does not exist is an error.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist: give a folder under output/")
    report = build_report([run_dir], now)
    written = []
    for fmt, name in REPORT_NAMES.items():
        path = run_dir / name
        atomic_write_text(path, render(report, fmt))
        written.append(path)
    return written
