"""Gather one run's figures from its folder: shard logs, kept attempts and state.json.

The run folder layout and the state schema are those of docs/design.md. Every
figure the report shows comes out of `collect_run` as a plain, JSON-ready
dict, so the text, JSON and HTML renderings cannot disagree. A run folder is
read as it is found: a missing or broken state file, a shard without a log or
with an odd one, each becomes a note in the report and never an exception,
because the report is written at the end of a run that may have taken days.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean

from runner.report import logparse
from runner.report.defaults import (
    ATTEMPT_PREFIX,
    CHART_POINTS_PER_SHARD,
    RUNSCAN_OUT,
    SHARD_LOG,
    SHARDS_DIR,
    STATE_FILE,
)
from runner.report.logparse import LogStats, parse_log

# Shard states (docs/design.md) in which the scan may still be writing its log.
RUNNING_STATES = frozenset({"pending", "starting", "scanning", "stalled"})
FAILED_STATES = frozenset({"failed", "gave_up"})

_SHARD_NAME = re.compile(r"\d{3,}")
_EPOCH_LOG = re.compile(r"log\.(\d+)\.txt")
_FAILED_NAMES = re.compile(r"See (log\.\d+\.txt)")


@dataclass
class Attempt:
    """One scan of a shard: its log and what `runscan.out` said at its end."""

    folder: str
    log: LogStats | None
    scan_result: str | None = None


@dataclass
class ShardRun:
    """A shard as the report sees it: its state entry, latest scan and kept failures."""

    shard: str
    state: str | None = None
    sites: int | None = None
    latest: Attempt | None = None
    failed_attempts: list[Attempt] = field(default_factory=list)
    retries: int = 0
    stalls: int = 0
    droplets: int = 0
    droplet_hours: float = 0.0
    notes: list[str] = field(default_factory=list)


def iso(when: datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def _parse_time(value, what: str, notes: list[str]) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        notes.append(f"{what} is not a UTC ISO 8601 time: {value!r}")
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _number(value, what: str, notes: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        notes.append(f"{what} is not a number: {value!r}")
        return None
    return value


def read_state(run_dir: Path, notes: list[str]) -> dict:
    """The run's state.json, or {} with a note saying why it could not be used."""
    path = run_dir / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        notes.append(f"no {STATE_FILE}: retries, stalls, droplet hours and cost are unknown")
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as e:
        notes.append(f"{STATE_FILE} cannot be read ({e}): figures come from the logs only")
        return {}
    if not isinstance(state, dict):
        notes.append(f"{STATE_FILE} is not a JSON object: figures come from the logs only")
        return {}
    return state


def _scan_result(folder: Path) -> tuple[str | None, str | None]:
    """What the last line of `runscan.out` says, and the log file it names on failure."""
    try:
        text = (folder / RUNSCAN_OUT).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None, None
    lines = text.strip().splitlines()
    last = lines[-1] if lines else ""
    if last.startswith("Scan successful."):
        return "successful", None
    if last.startswith("Scan failed."):
        named = _FAILED_NAMES.search(last)
        return "failed", named.group(1) if named else None
    return None, None


def pick_log(folder: Path, named: str | None = None) -> Path | None:
    """The log of the scan kept in `folder`.

    A failed scan's log is renamed `log.<epoch>.txt` and named by `runscan.out`;
    otherwise the folder holds `log.txt`, or only epoch logs (newest wins).
    """
    if named and (folder / named).is_file():
        return folder / named
    if (folder / SHARD_LOG).exists():
        return folder / SHARD_LOG
    epochs = []
    for path in folder.glob("log.*.txt"):
        match = _EPOCH_LOG.fullmatch(path.name)
        if match:
            epochs.append((int(match.group(1)), path))
    return max(epochs)[1] if epochs else None


def _read_attempt(folder: Path, name: str) -> Attempt:
    result, named = _scan_result(folder)
    log_path = pick_log(folder, named)
    return Attempt(name, parse_log(log_path) if log_path else None, result)


def _shard_names(run_dir: Path, state_shards: dict) -> list[str]:
    names = set(state_shards)
    shards_dir = run_dir / SHARDS_DIR
    if shards_dir.is_dir():
        for path in shards_dir.iterdir():
            stem = path.name[:-4] if path.name.endswith(".txt") else path.name
            if _SHARD_NAME.fullmatch(stem):
                names.add(stem)
    return sorted(names)


def _count_sites(path: Path) -> int | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return None


def _droplet_hours(shard: ShardRun, entry: dict, end_of_run: datetime) -> None:
    droplets = entry.get("droplets")
    droplets = list(droplets) if isinstance(droplets, list) else []
    current = entry.get("droplet")
    known = {d.get("id") for d in droplets if isinstance(d, dict)}
    if isinstance(current, dict) and current.get("id") not in known:
        # design.md lists the current droplet in `droplets`; count it if it is not.
        droplets.append(current)
    for droplet in droplets:
        if not isinstance(droplet, dict):
            continue
        name = droplet.get("name") or droplet.get("id")
        created = _parse_time(droplet.get("created_at"), f"droplet {name} created_at", shard.notes)
        if created is None:
            shard.notes.append(f"droplet {name} has no created_at: its hours are not counted")
            continue
        deleted = _parse_time(droplet.get("deleted_at"), f"droplet {name} deleted_at", shard.notes)
        shard.droplets += 1
        shard.droplet_hours += (
            max((deleted or end_of_run) - created, timedelta(0)).total_seconds() / 3600
        )


def _read_shard(run_dir: Path, name: str, entry: dict, end_of_run: datetime) -> ShardRun:
    shard = ShardRun(name)
    if entry:
        shard.state = entry.get("state")
        sites = _number(entry.get("sites"), f"shard {name} sites", shard.notes)
        shard.sites = int(sites) if sites is not None else None
        shard.retries = int(_number(entry.get("retries"), "retries", shard.notes) or 0)
        shard.stalls = int(_number(entry.get("stalls"), "stalls", shard.notes) or 0)
        _droplet_hours(shard, entry, end_of_run)
    if shard.sites is None:
        shard.sites = _count_sites(run_dir / SHARDS_DIR / f"{name}.txt")

    folder = run_dir / SHARDS_DIR / name
    if folder.is_dir():
        attempts = sorted(p for p in folder.glob(ATTEMPT_PREFIX + "*") if p.is_dir())
        shard.failed_attempts = [_read_attempt(p, p.name) for p in attempts]
        shard.latest = _read_attempt(folder, "")
    if shard.latest is None or shard.latest.log is None:
        # Logs are downloaded when a scan ends; until then the state has its progress.
        where = f"{SHARDS_DIR}/{name}/{SHARD_LOG}"
        progress = entry.get("progress") if entry else None
        known = f"; the state says site {progress} of {shard.sites}" if progress else ""
        shard.notes.append(f"no log yet ({where} missing){known}")
    if shard.sites is None and shard.latest and shard.latest.log:
        shard.sites = shard.latest.log.domains_to_crawl
    _explain_end(shard)
    return shard


def _explain_end(shard: ShardRun) -> None:
    """Say why a log ends before `Finished scan`, from what the state and runscan.out know."""
    latest = shard.latest
    if latest is None or latest.log is None:
        return
    log = latest.log
    shard.notes.extend(log.notes)
    if log.condition != logparse.ENDS_EARLY:
        return
    if latest.scan_result == "failed" or shard.state in FAILED_STATES:
        shard.notes.append("scan stopped before the end (failed): figures up to where it stopped")
    elif shard.state in RUNNING_STATES:
        shard.notes.append(f"scan still running (shard state {shard.state}): figures so far")
    elif shard.state is None:
        shard.notes.append("scan was running, or had stopped, when this log was copied")
    else:
        shard.notes.append(f"log ends early although the shard is {shard.state}: log cut short?")


def _series(log: LogStats, origin: datetime) -> list[list[float]]:
    points = log.visits_over_time
    if len(points) > CHART_POINTS_PER_SHARD:
        step = len(points) / CHART_POINTS_PER_SHARD
        picked = [points[int(i * step)] for i in range(CHART_POINTS_PER_SHARD)]
        points = picked + [points[-1]]
    return [[round((t - origin).total_seconds() / 3600, 4), n] for t, n in points]


def _rate(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _log_figures(log: LogStats | None) -> dict:
    if log is None:
        return {"log_condition": "missing"}
    if not log.readable:
        # No figures rather than zeros: nothing is known about this scan.
        return {"log_condition": log.condition}
    return {
        "log_condition": log.condition,
        "visited": log.visited,
        "errored": log.errored,
        "done": log.done,
        "error_rate": log.error_rate,
        "timeouts": log.timeouts,
        "ext_timeouts": log.ext_timeouts,
        "links_clicked": log.links_clicked,
        "link_failures": log.link_failures,
        "restarts": log.restarts,
        "progress": log.progress,
        "summary": list(log.summary) if log.summary else None,
        "scan_start": iso(log.started_at),
        "scan_end": iso(log.ended_at),
        "scan_hours": log.hours,
        "sites_per_hour": log.sites_per_hour,
    }


def _shard_row(shard: ShardRun, price: float | None, origin: datetime | None) -> dict:
    latest = shard.latest
    log = latest.log if latest else None
    row = {
        "shard": shard.shard,
        "state": shard.state,
        "sites": shard.sites,
        "scan_result": latest.scan_result if latest else None,
        "log": str(Path(log.path).name) if log else None,
        "attempts": len(shard.failed_attempts) + (1 if log else 0),
        "retries": shard.retries,
        "stalls": shard.stalls,
        "droplets": shard.droplets,
        "droplet_hours": shard.droplet_hours,
        "cost": shard.droplet_hours * price if price is not None else None,
        "error_kinds": dict(log.error_kinds) if log else {},
        "notes": list(shard.notes),
        "failed_attempts": [
            {"folder": a.folder, "scan_result": a.scan_result, **_log_figures(a.log)}
            for a in shard.failed_attempts
        ],
        "series": _series(log, origin) if log and origin and log.readable else [],
    }
    row.update(_log_figures(log))
    for attempt in shard.failed_attempts:
        result = f" ({attempt.scan_result})" if attempt.scan_result else ""
        for note in attempt.log.notes if attempt.log else ["no log kept"]:
            row["notes"].append(f"earlier attempt {attempt.folder}{result}: {note}")
    return row


def _extreme(rows: list[dict], key: str, pick) -> dict | None:
    values = [r for r in rows if r.get(key) is not None]
    if not values:
        return None
    found = pick(values, key=lambda r: r[key])
    return {
        "average": mean(r[key] for r in values),
        "worst": found[key],
        "worst_shard": found["shard"],
    }


def _totals(rows: list[dict], price: float | None) -> dict:
    def total(key):
        return sum(r.get(key) or 0 for r in rows)

    done = total("done")
    planned = [r["sites"] for r in rows if r["sites"] is not None]
    attempts = [a for r in rows for a in r["failed_attempts"]]
    return {
        "shards": len(rows),
        "sites": sum(planned) if planned else None,
        "visited": total("visited"),
        "errored": total("errored"),
        "done": done,
        "not_reached": sum(max((r["sites"] or 0) - (r.get("done") or 0), 0) for r in rows),
        "error_rate": _rate(total("errored"), done),
        "timeouts": total("timeouts"),
        "ext_timeouts": total("ext_timeouts"),
        "links_clicked": total("links_clicked"),
        "link_failures": total("link_failures"),
        "restarts": total("restarts"),
        "retries": total("retries"),
        "stalls": total("stalls"),
        "failed_attempts": len(attempts),
        "failed_attempts_done": sum(a.get("done") or 0 for a in attempts),
        "failed_attempts_restarts": sum(a.get("restarts") or 0 for a in attempts),
        "droplets": total("droplets"),
        "droplet_hours": total("droplet_hours"),
        "cost": total("droplet_hours") * price if price is not None else None,
    }


def _error_kinds(rows: list[dict]) -> dict:
    kinds: dict[str, int] = {}
    for row in rows:
        for kind, count in row["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + count
    return dict(sorted(kinds.items(), key=lambda item: (-item[1], item[0])))


def collect_run(run_dir: Path, now: datetime | None = None) -> dict:
    """All figures of one run, JSON-ready; notes name what could not be read."""
    run_dir = Path(run_dir)
    now = now or datetime.now(UTC)
    notes: list[str] = []
    state = read_state(run_dir, notes)
    created = _parse_time(state.get("created_at"), "run created_at", notes)
    finished = _parse_time(state.get("finished_at"), "run finished_at", notes)
    price = _number(state.get("price_hourly"), "price_hourly", notes)
    if state and state.get("price_hourly") is None:
        notes.append("no price_hourly in state: cost is unknown")
    state_shards = state.get("shards") if isinstance(state.get("shards"), dict) else {}

    shards = []
    for name in _shard_names(run_dir, state_shards):
        entry = state_shards.get(name)
        entry = entry if isinstance(entry, dict) else {}
        try:
            shards.append(_read_shard(run_dir, name, entry, finished or now))
        except Exception as e:
            # A bug or an odd folder in one shard must not cost the report of the others.
            broken = ShardRun(name, state=entry.get("state"))
            broken.notes.append(f"cannot report this shard: {type(e).__name__}: {e}")
            shards.append(broken)
    if not shards:
        notes.append(f"no shards found (no {STATE_FILE} shards, no {SHARDS_DIR}/ folders)")

    logs = [s.latest.log for s in shards if s.latest and s.latest.log]
    starts = [log.started_at for log in logs if log.started_at]
    ends = [log.ended_at for log in logs if log.ended_at]
    origin = created or (min(starts) if starts else None)
    rows = [_shard_row(s, price, origin) for s in shards]

    status = state.get("status")
    running = finished is None and status not in ("complete", "abandoned")
    if not state:
        # Without state nothing says whether the run goes on: report the logs' span.
        running = False
    run_start = created or (min(starts) if starts else None)
    run_end = finished or (now if running else (max(ends) if ends else None))
    if state and created is None:
        notes.append("state has no created_at: run time taken from the logs")
    rated = [r for r in rows if r.get("done")]
    timed = [r for r in rows if r.get("scan_hours") is not None and r.get("done")]
    slowest = max(timed, key=lambda r: r["scan_hours"]) if timed else None
    return {
        "run_id": state.get("run_id") or run_dir.name,
        "folder": str(run_dir),
        "status": status,
        "running": running,
        "created_at": iso(created),
        "finished_at": iso(finished),
        "run_start": iso(run_start),
        "run_end": iso(run_end),
        "run_hours": (run_end - run_start).total_seconds() / 3600
        if run_start and run_end
        else None,
        "chart_origin": iso(origin),
        "price_hourly": price,
        "num_sites": state.get("num_sites"),
        "totals": _totals(rows, price),
        "error_rate": _extreme(rated, "error_rate", max),
        "speed": _extreme([r for r in rated if r.get("sites_per_hour")], "sites_per_hour", min),
        "slowest_shard": {"shard": slowest["shard"], "hours": slowest["scan_hours"]}
        if slowest
        else None,
        "error_kinds": _error_kinds(rows),
        "shards": rows,
        "notes": notes + [f"shard {r['shard']}: {note}" for r in rows for note in r["notes"]],
    }
