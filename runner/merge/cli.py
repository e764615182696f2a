"""`runner merge`: merge a run's shard results, or any results files, from the command line.

Given a run folder (a folder with `state.json`), the inputs are its shards'
`results.json` in shard number order (001 first; badger-swarm happened to pass
them last first, which only changes list order and which three sites a
blocked tracker keeps), shards that gave up are left out with a note, the
output goes into the run folder, and the Privacy Badger data follows the
run's `settings.yml` (`browser` picks the branch, `pb_checkout` the checkout).
Given files, they are merged in the order given into `--out` (default: the
current folder).
"""

import json
from pathlib import Path

import click
import yaml

from runner.errors import UserError
from runner.merge.merge import merge_files
from runner.merge.pbdata import BRANCHES, DEFAULT_BRANCH, branch_for_browser, load_pb_data

STATE_NAME = "state.json"
SETTINGS_NAME = "settings.yml"
SHARDS_DIR = "shards"
SHARD_RESULTS = "results.json"
# Shards in this state have no results by design; they are noted, not errors.
GAVE_UP = "gave_up"


def _read_state(run_dir: Path) -> dict:
    path = run_dir / STATE_NAME
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: cannot read the run's state ({e})") from None
    if not isinstance(state, dict) or not isinstance(state.get("shards"), dict):
        raise UserError(f"{path}: no 'shards' object; is {run_dir} a run folder?")
    return state


def _read_settings(run_dir: Path) -> dict:
    path = run_dir / SETTINGS_NAME
    if not path.exists():
        return {}
    try:
        settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise UserError(f"{path}: cannot read the run's settings ({e})") from None
    if not isinstance(settings, dict):
        raise UserError(f"{path}: expected a mapping of setting: value")
    return settings


def _shard_order(key: str):
    return (0, int(key)) if key.isdigit() else (1, key)


def run_folder_inputs(run_dir: Path) -> tuple[list[Path], list[str]]:
    """The shard results of a run folder in shard order, and notes on shards left out."""
    state = _read_state(run_dir)
    inputs, notes = [], []
    for shard in sorted(state["shards"], key=_shard_order):
        entry = state["shards"][shard]
        results = run_dir / SHARDS_DIR / shard / SHARD_RESULTS
        if isinstance(entry, dict) and entry.get("state") == GAVE_UP and not results.exists():
            notes.append(f"shard {shard} gave up: no results to merge")
            continue
        inputs.append(results)
    return inputs, notes


def _branch_of_run(settings: dict, run_dir: Path) -> str:
    browser = settings.get("browser")
    if browser is None:
        raise UserError(
            f"{run_dir / SETTINGS_NAME} names no browser; pass --pb-branch "
            f"({' or '.join(BRANCHES)})"
        )
    return branch_for_browser(str(browser))


@click.command("merge")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for results.json, results-noblocking.json and merge.log "
    "(default: the run folder, or the current folder for files).",
)
@click.option(
    "--pb-checkout",
    type=click.Path(file_okay=False, path_type=Path),
    help="Read Privacy Badger's data from this source checkout instead of the shipped snapshot.",
)
@click.option(
    "--pb-branch",
    type=click.Choice(BRANCHES),
    help="Privacy Badger branch of the data (default: from the run's browser, else master).",
)
@click.option(
    "--ignore-site",
    "ignore_sites",
    multiple=True,
    metavar="BASE",
    help="A site base domain whose observations are not imported (repeatable).",
)
@click.option("--skip-bad", is_flag=True, help="Leave out unreadable inputs instead of stopping.")
def merge_command(paths, out_dir, pb_checkout, pb_branch, ignore_sites, skip_bad):
    """Merge shard results exactly as Privacy Badger imports them.

    PATHS is one run folder, or results files merged in the order given.
    """
    if not paths:
        raise UserError("give a run folder or one or more results.json files to merge")
    notes: list[str] = []
    if len(paths) == 1 and paths[0].is_dir():
        run_dir = paths[0]
        if not (run_dir / STATE_NAME).is_file():
            raise UserError(
                f"{run_dir} is a folder without {STATE_NAME}; give a run folder or results files"
            )
        inputs, notes = run_folder_inputs(run_dir)
        settings = _read_settings(run_dir)
        if pb_branch is None:
            pb_branch = _branch_of_run(settings, run_dir)
        if pb_checkout is None and settings.get("pb_checkout"):
            pb_checkout = Path(settings["pb_checkout"])
        if out_dir is None:
            out_dir = run_dir
    else:
        folders = [str(path) for path in paths if path.is_dir()]
        if folders:
            raise UserError(
                f"{folders[0]} is a folder; give one run folder alone, or results files"
            )
        inputs = list(paths)
        if out_dir is None:
            out_dir = Path.cwd()
    if not inputs:
        raise UserError("no shard has results to merge")

    pb_data = load_pb_data(pb_checkout, pb_branch or DEFAULT_BRANCH)
    for note in notes:
        click.echo(note)
    report = merge_files(
        inputs, out_dir, pb_data=pb_data, ignore_sites=ignore_sites, skip_bad=skip_bad
    )
    click.echo(f"Privacy Badger data: {report.pb_source}")
    for path, reason in report.skipped:
        click.echo(f"skipped {path}: {reason}")
    click.echo(report.summary())
