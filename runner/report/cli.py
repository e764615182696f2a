"""`runner report`: the run report for one run, several, or every run under output/.

Runs are named by folder, or found under the output directory (oldest first:
a run id ends with the epoch it started at); glob patterns on their names
filter either. Text and JSON go to stdout unless
`--out` names a file; HTML always goes to a file.
"""

import re
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

import click

from runner.errors import UserError
from runner.fsutil import atomic_write_text
from runner.report import build_report, render
from runner.report.defaults import HTML_OUT, OUTPUT_DIR, SHARDS_DIR, STATE_FILE

FORMATS = ("text", "json", "html")
_EPOCH_SUFFIX = re.compile(r"-(\d{9,})$")


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and ((path / STATE_FILE).is_file() or (path / SHARDS_DIR).is_dir())


def _started(path: Path) -> float:
    """When the run started: the epoch at the end of its id, else the folder's age."""
    match = _EPOCH_SUFFIX.search(path.name)
    return float(match.group(1)) if match else path.stat().st_mtime


def find_runs(folders: tuple[Path, ...], output_dir: Path, patterns: tuple[str, ...]) -> list:
    if folders:
        for folder in folders:
            if not folder.is_dir():
                raise UserError(f"run folder {folder} does not exist: name a folder under output/")
        runs = list(folders)
    else:
        if not output_dir.is_dir():
            raise UserError(
                f"output directory {output_dir} does not exist: name run folders or --output-dir"
            )
        runs = [p for p in output_dir.iterdir() if not p.name.startswith(".") and is_run_folder(p)]
    if patterns:
        runs = [p for p in runs if any(fnmatchcase(p.resolve().name, pat) for pat in patterns)]
    if not runs:
        wanted = f" matching {', '.join(patterns)}" if patterns else ""
        where = "among the folders given" if folders else f"under {output_dir}"
        raise UserError(f"no run folders{wanted} {where}: a run folder holds {STATE_FILE}")
    # Folders named on the command line keep the order they were given in.
    return runs if folders else sorted(runs, key=lambda p: (_started(p), p.name))


@click.command("report")
@click.argument(
    "run_folders", metavar="[RUN_FOLDER]...", nargs=-1, type=click.Path(path_type=Path)
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=OUTPUT_DIR,
    show_default=True,
    help="Where runs live, when no RUN_FOLDER is given.",
)
@click.option(
    "--match",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="Only runs whose folder name matches this glob (repeatable).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"File to write; default stdout for text and json, ./{HTML_OUT} for html.",
)
def report_command(run_folders, output_dir, patterns, fmt, out):
    """Report what happened in one or more runs: sites, errors, speed, restarts, cost.

    With no RUN_FOLDER, every run under --output-dir, oldest first.
    """
    runs = find_runs(run_folders, output_dir, patterns)
    text = render(build_report(runs, datetime.now(UTC)), fmt)
    if out is None and fmt == "html":
        out = Path(HTML_OUT)
    if out is None:
        click.echo(text, nl=False)
        return
    atomic_write_text(out, text)
    click.echo(f"report on {len(runs)} run(s) written to {out.resolve()}", err=True)
