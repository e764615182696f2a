"""Run folders for the report tests, built from the real Badger Sett logs in ../shared.

The four real logs become the shard logs of one four-shard run: each is
shifted in time so that the shards start together, as they do in a run, with
every line otherwise untouched. state.json follows docs/design.md, and every
time in it is chosen here, so tests can work out droplet hours and cost on
their own and compare.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
LOG_DIR = SHARED / "data" / "badger-sett"
# Real logs by name, in the shard order of the fixture run.
REAL_LOGS = [
    "2025.10.6-firefox-noblocking",
    "2026.8.11-chrome-noblocking",
    "2026.8.21-firefox-noblocking",
    "2026.8.8-edge-blocking",
]
RUN_START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
# A droplet takes a few minutes from creation to the first log line.
SETUP = timedelta(minutes=5)
TEARDOWN = timedelta(minutes=3)
PRICE = 0.00893
RUN_EPOCH = int(RUN_START.timestamp())

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")
_FORMAT = "%Y-%m-%d %H:%M:%S"


def real_log(name: str) -> Path:
    path = LOG_DIR / f"log-{name}.txt"
    if not path.is_file():
        pytest.fail(f"shared test data missing: {path} (the repo expects ../shared beside it)")
    return path


def z(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def shift_log(source: Path, target: Path, start: datetime) -> tuple[datetime, datetime]:
    """Copy a log with every stamp moved so that its first line is at `start`."""
    offset = None
    first = last = None
    out = []
    with open(source, encoding="utf-8", newline="") as f:
        for line in f:
            match = _STAMP.match(line)
            if match:
                when = datetime.strptime(match.group(1), _FORMAT).replace(tzinfo=UTC)
                if offset is None:
                    offset = start - when
                when += offset
                first = first or when
                last = when
                line = when.strftime(_FORMAT) + line[19:]
            out.append(line)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(out), encoding="utf-8")
    return first, last


class RunBuilder:
    """Writes one run folder: shards with logs, kept attempts, and state.json."""

    def __init__(self, root: Path, name: str | None = None, start: datetime = RUN_START):
        self.start = start
        epoch = int(start.timestamp())
        self.run_id = name or f"25500-firefox-4-s-1vcpu-1gb-nyc1-{epoch}"
        self.dir = root / self.run_id
        self.dir.mkdir(parents=True)
        self.state = {
            "format": 1,
            "run_id": self.run_id,
            "tag": f"bsw-run-{epoch}",
            "status": "scanning",
            "created_at": z(start),
            "finished_at": None,
            "seed": 1234567,
            "price_hourly": PRICE,
            "num_sites": 0,
            "shards": {},
        }
        self.next_droplet = 100

    def shard(self, key: str, sites: int, state: str = "done", retries=0, stalls=0) -> dict:
        entry = {
            "sites": sites,
            "state": state,
            "progress": 0,
            "progress_at": None,
            "retries": retries,
            "restarts": 0,
            "stalls": stalls,
            "droplet": None,
            "droplets": [],
            "outcome": "results" if state == "done" else None,
            "history": [],
        }
        self.state["shards"][key] = entry
        self.state["num_sites"] += sites
        folder = self.dir / "shards"
        folder.mkdir(exist_ok=True)
        (folder / f"{key}.txt").write_text("".join(f"site{i}.example\n" for i in range(sites)))
        return entry

    def droplet(self, key: str, created: datetime, deleted: datetime | None) -> dict:
        self.next_droplet += 1
        droplet = {
            "id": self.next_droplet,
            "name": f"bsw-{RUN_EPOCH}-{key}",
            "ip": f"127.2.0.{self.next_droplet % 250}",
            "created_at": z(created),
            "deleted_at": z(deleted) if deleted else None,
        }
        entry = self.state["shards"][key]
        entry["droplets"].append(droplet)
        entry["droplet"] = None if deleted else droplet
        return droplet

    def shard_dir(self, key: str) -> Path:
        path = self.dir / "shards" / key
        path.mkdir(parents=True, exist_ok=True)
        return path

    def finish(self, at: datetime, status: str = "complete") -> None:
        self.state["finished_at"] = z(at)
        self.state["status"] = status

    def save(self) -> Path:
        (self.dir / "state.json").write_text(json.dumps(self.state, indent=2))
        return self.dir


def build_finished_run(root: Path, start: datetime = RUN_START, name=None) -> tuple:
    """A complete four-shard run, one real log a shard; returns (builder, facts).

    `facts` holds what the test set: per shard the log copied, droplet times.
    Shard 002 failed once: its first attempt's log (the first 2,000 lines of
    its real log) is kept under attempt-*/ with the failure `runscan.out`.
    """
    run = RunBuilder(root, name, start)
    facts = {"droplets": [], "logs": {}}
    last_end = start
    for i, log_name in enumerate(REAL_LOGS):
        key = f"{i + 1:03d}"
        source = real_log(log_name)
        sites = int(re.search(r"domains to crawl: (\d+)", source.read_text()).group(1))
        created = start + timedelta(seconds=30 * i)
        retries = 1 if key == "002" else 0
        run.shard(key, sites, retries=retries, stalls=i)
        if key == "002":
            failed_at = created + timedelta(hours=1)
            run.droplet(key, created, failed_at)
            facts["droplets"].append((created, failed_at))
            attempt = run.shard_dir(key) / "attempt-20261204T130000Z"
            attempt.mkdir()
            epoch = int(failed_at.timestamp())
            head = source.read_text().splitlines(keepends=True)[:2000]
            (attempt / "whole.txt").write_text("".join(head))
            shift_log(attempt / "whole.txt", attempt / f"log.{epoch}.txt", created + SETUP)
            (attempt / "whole.txt").unlink()
            (attempt / "runscan.out").write_text(
                f"Building the image...\nScan failed. See log.{epoch}.txt for details.\n"
            )
            facts["attempt_log"] = attempt / f"log.{epoch}.txt"
            created = failed_at
        first, last = shift_log(source, run.shard_dir(key) / "log.txt", created + SETUP)
        (run.shard_dir(key) / "runscan.out").write_text("Scan successful.\n")
        deleted = last + TEARDOWN
        run.droplet(key, created, deleted)
        facts["droplets"].append((created, deleted))
        facts["logs"][key] = (source, first, last)
        last_end = max(last_end, deleted)
    facts["finished_at"] = last_end + timedelta(minutes=10)
    run.finish(facts["finished_at"])
    run.save()
    return run, facts
