"""The run folder and its state file: the one place a run's progress lives.

`init.yml` creates the folder (settings without secrets, site list, shards,
the run's inventory file, `state.json`) and the control loop moves each shard
through its states here. Every change is written atomically under a lock, so
parallel Ansible workers and a loop killed at any moment leave a state file
that is whole and that the next `runner manage` continues from. See
docs/design.md for the layout and the schema.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import yaml

from runner.errors import UserError
from runner.fsutil import atomic_write_json, atomic_write_text

STATE_FORMAT = 1
MARKER = ".current"
INVENTORY_NAME = "digitalocean.yml"
RUN_TAG_PREFIX = "bsw-run-"

# A shard's life (docs/design.md). `pending` shards have no droplet yet.
SHARD_STATES = (
    "pending",
    "starting",
    "scanning",
    "stalled",
    "finished",
    "extracting",
    "done",
    "failed",
    "gave_up",
)
FINAL_SHARD_STATES = frozenset({"done", "gave_up"})
RUN_STATUSES = ("starting", "scanning", "merging", "complete", "abandoned")
CLOSED_RUN_STATUSES = frozenset({"complete", "abandoned"})

# Shard numbers are written with three digits: 001 ... 100 (at most 100 crawlers).
SHARD_WIDTH = 3


TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utcnow() -> str:
    return datetime.now(UTC).strftime(TIME_FORMAT)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def shard_key(number: int) -> str:
    return f"{number:0{SHARD_WIDTH}d}"


def settings_digest(public: dict) -> str:
    """Identify a set of settings, so that re-running init with the same ones resumes."""
    blob = json.dumps(public, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class RunFolder:
    """One run's folder under the output directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    @property
    def settings_path(self) -> Path:
        return self.path / "settings.yml"

    @property
    def inventory_path(self) -> Path:
        return self.path / INVENTORY_NAME

    def shard_file(self, shard: str) -> Path:
        return self.path / "shards" / f"{shard}.txt"

    def shard_dir(self, shard: str) -> Path:
        return self.path / "shards" / shard

    def exists(self) -> bool:
        return self.state_path.is_file()

    # -- state ------------------------------------------------------------

    def load_state(self) -> dict:
        try:
            text = self.state_path.read_text()
        except FileNotFoundError:
            raise UserError(f"{self.path}: no state.json here; not a run folder") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{self.state_path}: cannot be read ({e})") from None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(
                f"{self.state_path}: not valid JSON ({e.msg} at line {e.lineno})"
            ) from None
        problem = state_problem(state)
        if problem:
            raise UserError(f"{self.state_path}: {problem}")
        return state

    def load_settings(self) -> dict:
        try:
            settings = yaml.safe_load(self.settings_path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            reason = " ".join(str(e).split())[:200]
            raise UserError(f"{self.settings_path}: cannot be read as YAML ({reason})") from None
        if not isinstance(settings, dict):
            raise UserError(f"{self.settings_path}: not a mapping of settings")
        return settings

    @contextlib.contextmanager
    def manager_lock(self) -> Iterator[None]:
        """Held by the one `runner manage` of this run; a second one is refused."""
        path = self.path / ".manage.lock"
        with open(path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "unknown"
                raise UserError(
                    f"run {self.run_id} is already managed by another runner manage "
                    f"(pid {holder}); wait for it to end or stop it first"
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def update(self) -> Iterator[dict]:
        """Read the state under an exclusive lock; write it back atomically on success."""
        lock_path = self.path / ".state.lock"
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self.load_state()
                yield state
                atomic_write_json(self.state_path, state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def transition(self, shard: str, to: str, note: str | None = None, **fields) -> dict:
        """Move a shard to a new state, recording where it came from; returns the shard."""
        if to not in SHARD_STATES:
            raise ValueError(f"unknown shard state {to!r}")
        with self.update() as state:
            entry = state["shards"][shard]
            record_transition(entry, to, note)
            entry.update(fields)
            return dict(entry)

    def update_shard(self, shard: str, **fields) -> dict:
        with self.update() as state:
            state["shards"][shard].update(fields)
            return dict(state["shards"][shard])

    def set_status(self, status: str, **fields) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self.update() as state:
            state["status"] = status
            state.update(fields)


# What every state file holds, checked when it is read: a file edited by hand or cut short
# is refused with one line rather than failing somewhere in the loop.
RUN_KEYS = {"run_id": str, "tag": str, "status": str, "created_at": str, "shards": dict}
SHARD_KEYS = {"sites": int, "name": str, "state": str, "history": list, "droplets": list}


def state_problem(state) -> str | None:
    """What is wrong with a state file's content, or None."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return f"unknown state format; expected a JSON object with format {STATE_FORMAT}"
    for key, kind in RUN_KEYS.items():
        if not isinstance(state.get(key), kind):
            return f"{key} is missing or not a {kind.__name__}"
    if state["status"] not in RUN_STATUSES:
        return f"status {state['status']!r} is unknown; valid: {', '.join(RUN_STATUSES)}"
    if not state["shards"]:
        return "the run has no shards"
    for shard, entry in state["shards"].items():
        if not isinstance(entry, dict):
            return f"shard {shard} is not an object"
        for key, kind in SHARD_KEYS.items():
            if not isinstance(entry.get(key), kind):
                return f"shard {shard}: {key} is missing or not a {kind.__name__}"
        if entry["state"] not in SHARD_STATES:
            return f"shard {shard}: state {entry['state']!r} is unknown"
    return None


def record_transition(entry: dict, to: str, note: str | None = None) -> None:
    if entry.get("state") == to and not note:
        return
    entry.setdefault("history", []).append(
        {"at": utcnow(), "from": entry.get("state"), "to": to, "note": note}
    )
    entry["state"] = to


def record_droplet(entry: dict, droplet: dict) -> None:
    """Make `droplet` the shard's current droplet, keeping it in the shard's droplet list."""
    record = {
        "id": droplet["id"],
        "name": droplet["name"],
        "ip": droplet.get("ip"),
        "created_at": droplet.get("created_at") or utcnow(),
        "deleted_at": None,
    }
    known = {d["id"]: d for d in entry.setdefault("droplets", [])}
    if record["id"] in known:
        known[record["id"]].update({k: v for k, v in record.items() if v is not None})
        record = known[record["id"]]
    else:
        entry["droplets"].append(record)
    entry["droplet"] = dict(record)


def record_droplet_deleted(entry: dict, at: str | None = None) -> None:
    at = at or utcnow()
    current = entry.get("droplet")
    if not current:
        return
    for d in entry.get("droplets", []):
        if d["id"] == current["id"] and not d.get("deleted_at"):
            d["deleted_at"] = at
    entry["droplet"] = None


# -- creating and finding runs ----------------------------------------------


def run_id_for(settings, epoch: int) -> str:
    return (
        f"{settings.num_sites}-{settings.browser}-{settings.num_crawlers}-"
        f"{settings.size}-{settings.region}-{epoch}"
    )


def droplet_name(prefix: str, epoch: int, shard: str) -> str:
    return f"{prefix}-{epoch}-{shard}"


def current_run(output_dir: Path) -> RunFolder | None:
    """The run the marker points at, if any."""
    marker = Path(output_dir) / MARKER
    try:
        name = marker.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{marker}: cannot be read ({e}); remove it if no run is open") from None
    if not name or "/" in name or name.startswith("."):
        raise UserError(
            f"{marker}: {name!r} is not a run folder name; remove it if no run is open"
        )
    run = RunFolder(Path(output_dir) / name)
    if not run.exists():
        raise UserError(
            f"{marker} names run {name!r}, which has no state.json; "
            f"remove {marker} if that run is gone"
        )
    return run


def clear_marker(run: RunFolder) -> None:
    marker = run.path.parent / MARKER
    with contextlib.suppress(FileNotFoundError):
        if marker.read_text().strip() == run.run_id:
            marker.unlink()


def inventory_text(base_url: str, tag: str, key_file: Path, run_id: str) -> str:
    """The run's `community.digitalocean.digitalocean` inventory file.

    The plugin reads `baseurl` only from this file (no variable or environment
    fallback), so every run writes its own; the token stays in the environment.
    """
    data = {
        "plugin": "community.digitalocean.digitalocean",
        "baseurl": base_url,
        "oauth_token": "{{ lookup('bsw_api_token') }}",
        "pagination": 200,
        "attributes": ["id", "name", "networks", "tags", "status"],
        "filters": [f'"{tag}" in do_tags'],
        "groups": {"bsw_droplets": "true"},
        "compose": {
            "ansible_host": (
                "do_networks.v4 | selectattr('type', 'eq', 'public')"
                " | map(attribute='ip_address') | first"
            ),
            "ansible_user": "'root'",
            "ansible_ssh_private_key_file": repr(str(key_file)),
            "ansible_python_interpreter": "'/usr/bin/python3'",
            "bsw_shard": "do_name.split('-') | last",
        },
    }
    header = (
        f"# Droplets of run {run_id}, written by init.yml: the DigitalOcean inventory plugin\n"
        "# filtered by the run's tag. The API token comes from DO_API_TOKEN (bsw_api_token).\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, width=200)


def create_run(settings, *, epoch: int | None = None, seed: int | None = None) -> RunFolder:
    """Build a new run folder from validated settings, or refuse while another run is open.

    Re-running init with the very settings of the run in progress returns that
    run unchanged, so a second `init.yml` picks up where the first stopped.
    """
    from runner.sitelist import make_shards, read_site_list, select_sites

    output_dir = Path(settings.output_dir)
    public = settings.public()
    digest = settings_digest(public)

    existing = current_run(output_dir)
    if existing is not None:
        state = existing.load_state()
        if state["status"] not in CLOSED_RUN_STATUSES:
            if state.get("settings_digest") == digest:
                return existing
            raise UserError(
                f"run {existing.run_id} is in progress with other settings: follow it with "
                f"`runner manage`, re-run init.yml with its settings ({existing.settings_path}), "
                "or give it up with `runner abandon`"
            )

    site_list = read_site_list(settings.site_list)
    sites = select_sites(site_list.sites, settings.num_sites, settings.exclude_list())
    if not sites:
        raise UserError(
            f"{settings.site_list}: no sites left after reading and excluding suffixes; "
            "the list needs at least one domain"
        )
    epoch = epoch if epoch is not None else int(time.time())
    if seed is None:
        seed = (
            settings.seed if settings.seed is not None else random.SystemRandom().randrange(2**32)
        )
    shards = make_shards(sites, settings.num_crawlers, seed)

    run = RunFolder(output_dir / run_id_for(settings, epoch))
    if run.path.exists():
        raise UserError(f"{run.path} already exists; wait a second and start again")
    run.path.mkdir(parents=True)
    atomic_write_text(run.settings_path, yaml.safe_dump(public, sort_keys=False))
    atomic_write_text(run.path / "sites.txt", "".join(f"{s}\n" for s in sites))
    for number, shard_sites in enumerate(shards, start=1):
        atomic_write_text(
            run.shard_file(shard_key(number)), "".join(f"{s}\n" for s in shard_sites)
        )

    tag = f"{RUN_TAG_PREFIX}{epoch}"
    atomic_write_text(
        run.inventory_path,
        inventory_text(settings.api_base_url, tag, settings.ssh_private_key_file, run.run_id),
    )
    state = {
        "format": STATE_FORMAT,
        "run_id": run.run_id,
        "tag": tag,
        "epoch": epoch,
        "status": "starting",
        "created_at": utcnow(),
        "finished_at": None,
        "seed": seed,
        "settings_digest": digest,
        "price_hourly": None,
        "num_sites": len(sites),
        "skipped_lines": len(site_list.skipped),
        "shards": {
            shard_key(n): {
                "sites": len(shard_sites),
                "name": droplet_name(settings.droplet_name_prefix, epoch, shard_key(n)),
                "state": "pending",
                "progress": 0,
                "progress_at": None,
                "retries": 0,
                "restarts": 0,
                "stalls": 0,
                "droplet": None,
                "droplets": [],
                "outcome": None,
                "history": [],
            }
            for n, shard_sites in enumerate(shards, start=1)
        },
    }
    atomic_write_json(run.state_path, state)
    atomic_write_text(output_dir / MARKER, run.run_id + "\n")
    return run
