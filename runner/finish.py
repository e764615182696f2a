"""The end of a run: merge the shards' results, report, delete stragglers, close the run.

Called by the control loop once every shard is done or given up. Each step
can run again after an interruption: the merge and the report are rewritten
whole, deleting droplets that are already gone changes nothing, and the run
is marked complete only at the very end.
"""

from datetime import UTC, datetime
from pathlib import Path

from runner.display import format_duration, run_figures
from runner.fsutil import atomic_write_text
from runner.playbooks import run_playbook
from runner.run import clear_marker, utcnow

PB_BRANCH_OF_BROWSER = {"firefox": "master", "chrome": "mv3-chrome", "edge": "mv3-chrome"}


def merge_run(run, settings: dict):
    from runner.merge import load_pb_data, merge_files

    state = run.load_state()
    inputs = [
        run.shard_dir(shard) / "results.json"
        for shard, entry in sorted(state["shards"].items())
        if entry["state"] == "done"
    ]
    if not inputs:
        return None
    checkout = settings.get("pb_checkout")
    branch = PB_BRANCH_OF_BROWSER.get(settings.get("browser"), "master")
    pb_data = load_pb_data(Path(checkout) if checkout else None, branch)
    return merge_files(inputs, run.path, pb_data=pb_data)


def delete_stragglers(run, settings: dict, out, verbose: bool) -> list[str] | None:
    """Delete every droplet still carrying the run's tag: their names, or None if any remain."""
    result = run_playbook(
        "teardown.yml",
        run_dir=run.path,
        inventory=run.inventory_path,
        extravars={"api_base_url": settings["api_base_url"]},
        verbose=verbose,
    )
    deleted = sorted(n for n, h in result.hosts.items() if h.ok and not h.failed)
    left = sorted(n for n, h in result.hosts.items() if not h.ok or h.failed)
    if deleted:
        out.note(f"deleted droplets left behind: {', '.join(deleted)}")
    if left or not result.succeeded:
        what = ", ".join(left) if left else "the run's droplets could not be listed"
        out.note(f"droplets not deleted ({what}); the run stays open and tries again")
        return None
    return deleted


def log_totals(run, state: dict) -> tuple[int, int]:
    """Sites visited and errored, from the Badger Sett logs of the shards with results."""
    from runner.report import parse_log

    visited = errored = 0
    for shard, entry in state["shards"].items():
        log = run.shard_dir(shard) / "log.txt"
        if entry["state"] == "done" and log.is_file():
            stats = parse_log(log)
            visited += stats.visited
            errored += stats.errored
    return visited, errored


def summary_text(run, state: dict, merged, stragglers: list[str]) -> str:
    f = run_figures(state)
    visited, errored = log_totals(run, state)
    rate = f" ({100 * errored / (visited + errored):.1f}%)" if visited + errored else ""
    lines = [
        f"Run {state['run_id']}",
        f"  sites scanned: {f['sites_done']} of {f['sites_total']}",
        f"  sites visited: {visited}, errored: {errored}{rate} (from the Badger Sett logs)",
        f"  shards: {f['done']} with results, {f['gave_up']} given up",
        f"  browser restarts: {f['restarts']}, droplet retries: {f['retries']}",
        f"  run time: {format_duration(f['elapsed'])}",
        f"  cost: {f['cost']:.2f} USD for {f['droplet_hours']:.2f} droplet hours",
    ]
    for shard, entry in sorted(state["shards"].items()):
        if entry["state"] == "gave_up":
            lines.append(f"  shard {shard} given up: {entry['history'][-1].get('note')}")
    if merged is not None:
        done = sum(1 for e in state["shards"].values() if e["state"] == "done")
        lines.append(
            f"  merged: {done} results files into results.json and results-noblocking.json"
        )
    else:
        lines.append("  merged: nothing (no shard has results)")
    if stragglers:
        lines.append(f"  droplets deleted at the end: {', '.join(stragglers)}")
    return "\n".join(lines) + "\n"


def finish_run(run, out, verbose: bool = False) -> bool:
    """Merge, delete stragglers and close the run; then report. Safe to call again."""
    settings = run.load_settings()
    stragglers = []
    if run.load_state()["status"] != "complete":
        run.set_status("merging")
        out.note("every shard is in; merging results")
        merge_run(run, settings)
        stragglers = delete_stragglers(run, settings, out, verbose)
        if stragglers is None:
            return False
        run.set_status("complete", finished_at=utcnow())
    try:
        from runner.report import write_run_report

        write_run_report(run.path, now=datetime.now(UTC))
    except Exception as e:  # the report must never cost the run its results
        out.note(f"report not written: {e}")
    state = run.load_state()
    merged = run.path / "results.json"
    text = summary_text(run, state, merged if merged.exists() else None, stragglers)
    atomic_write_text(run.path / "summary.txt", text)
    clear_marker(run)
    out.console.print(text, markup=False, highlight=False)
    out.note(f"results: {run.path / 'results.json'} and {run.path / 'results-noblocking.json'}")
    return True
