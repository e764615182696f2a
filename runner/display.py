"""What the user sees of a run: a live shard table on a terminal, plain log lines elsewhere.

On a terminal the table is redrawn in place by rich's Live display, and other
messages are printed above it, so the two never fight. Without a terminal
(cron, CI, a pipe) every state change of a shard is one line with the shard
and droplet in it, and nothing is redrawn.
"""

import contextlib
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from runner.run import FINAL_SHARD_STATES, parse_time

# How often the live table redraws by itself between cycles, per second.
REFRESH_PER_SECOND = 1
STATE_STYLES = {
    "done": "green",
    "gave_up": "red",
    "failed": "red",
    "stalled": "yellow",
    "scanning": "cyan",
    "extracting": "magenta",
    "finished": "magenta",
}


def droplet_hours(entry: dict, now: datetime) -> float:
    hours = 0.0
    for droplet in entry.get("droplets", []):
        start = parse_time(droplet.get("created_at"))
        end = parse_time(droplet.get("deleted_at")) or now
        if start:
            hours += max(0.0, (end - start).total_seconds()) / 3600
    return hours


def run_figures(state: dict, now: datetime | None = None) -> dict:
    """Totals shown under the table and in the summary: sites done, ETA, money spent."""
    now = now or datetime.now(UTC)
    end = parse_time(state.get("finished_at")) or now
    shards = state["shards"].values()
    done_sites = sum(min(e.get("progress") or 0, e["sites"]) for e in shards)
    total = sum(e["sites"] for e in shards)
    hours = sum(droplet_hours(e, end) for e in shards)
    cost = hours * (state.get("price_hourly") or 0.0)
    started = parse_time(state.get("created_at")) or now
    elapsed = max(1.0, (end - started).total_seconds())
    eta = None
    if 0 < done_sites < total:
        eta = elapsed * (total - done_sites) / done_sites
    return {
        "sites_done": done_sites,
        "sites_total": total,
        "droplet_hours": hours,
        "cost": cost,
        "elapsed": elapsed,
        "eta": eta,
        "restarts": sum(e.get("restarts", 0) for e in shards),
        "retries": sum(e.get("retries", 0) for e in shards),
        "done": sum(1 for e in shards if e["state"] == "done"),
        "gave_up": sum(1 for e in shards if e["state"] == "gave_up"),
    }


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def shard_rate(entry: dict, now: datetime) -> float | None:
    """Sites an hour since the shard's current scan started."""
    started = None
    for event in reversed(entry.get("history", [])):
        if event["to"] == "scanning" and event["from"] in ("starting", None):
            started = parse_time(event["at"])
            break
    progress = entry.get("progress") or 0
    if not started or not progress:
        return None
    end = parse_time(entry.get("progress_at")) or now
    seconds = (end - started).total_seconds()
    return progress * 3600 / seconds if seconds > 0 else None


def shard_table(state: dict) -> Group:
    now = datetime.now(UTC)
    table = Table(title=f"run {state['run_id']} ({state['status']})", expand=False)
    for column in ("shard", "droplet", "state", "progress", "", "sites/h", "restarts", "retries"):
        table.add_column(column, justify="right" if column in ("sites/h",) else "left")
    for shard, entry in sorted(state["shards"].items()):
        droplet = entry.get("droplet") or {}
        if not droplet and entry.get("droplets"):
            droplet = {"name": entry["droplets"][-1]["name"] + " (deleted)"}
        progress = min(entry.get("progress") or 0, entry["sites"])
        rate = shard_rate(entry, now) if entry["state"] not in FINAL_SHARD_STATES else None
        table.add_row(
            shard,
            droplet.get("name", "-") + (f" {droplet['ip']}" if droplet.get("ip") else ""),
            Text(entry["state"], style=STATE_STYLES.get(entry["state"], "")),
            ProgressBar(total=entry["sites"], completed=progress, width=20),
            f"{progress}/{entry['sites']}",
            f"{rate:.0f}" if rate else "-",
            str(entry.get("restarts", 0)),
            str(entry.get("retries", 0)),
        )
    return Group(table, Text(overall_line(state)))


def overall_line(state: dict) -> str:
    f = run_figures(state)
    return (
        f"sites {f['sites_done']}/{f['sites_total']}, shards done {f['done']}/"
        f"{len(state['shards'])}, ETA {format_duration(f['eta'])}, "
        f"spent {f['cost']:.2f} USD ({f['droplet_hours']:.2f} droplet hours)"
    )


class Output:
    """Live table and messages on a terminal; one line per event otherwise."""

    def __init__(self, stream, verbose: bool = False):
        self.console = Console(file=stream, soft_wrap=True)
        self.verbose = verbose
        self._live = None
        self._last_overall = None

    @property
    def interactive(self) -> bool:
        return self.console.is_terminal

    def _line(self, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        self.console.print(f"{stamp} {text}", markup=False, highlight=False)

    def shard_event(self, shard: str, droplet: str, state: str, note: str | None) -> None:
        self._line(f"shard {shard} droplet {droplet}: {state}" + (f" ({note})" if note else ""))

    def note(self, text: str) -> None:
        self._line(text)

    def print_table(self, run) -> None:
        self.console.print(shard_table(run.load_state()))

    @contextlib.contextmanager
    def live(self, run):
        if not self.interactive:
            yield
            return
        with Live(
            shard_table(run.load_state()),
            console=self.console,
            refresh_per_second=REFRESH_PER_SECOND,
            transient=False,
        ) as live:
            self._live = (live, run)
            try:
                yield
            finally:
                self._live = None

    def refresh(self, run) -> None:
        if self._live:
            self._live[0].update(shard_table(run.load_state()))
        else:
            line = overall_line(run.load_state())
            # Without a terminal, say the totals only when they moved, not every cycle.
            if line.split(", ETA")[0] != self._last_overall:
                self._last_overall = line.split(", ETA")[0]
                self._line(line)
