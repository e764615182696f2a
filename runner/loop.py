"""The control loop: watch every scan of a run until each shard's results are in, then merge.

Each cycle runs `check.yml` over the run's droplets (found by the DigitalOcean
inventory plugin), turns what it saw into shard state transitions, and then
acts on them in batches: restart stalled browsers, extract finished results,
keep the logs of failed scans, delete droplets, and re-create droplets through
`init.yml`. Every transition is saved in `state.json` before the action it
starts and its outcome after, so the loop can be killed at any moment and run
again without losing results or starting a shard twice.
"""

import hashlib
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click

from runner import display
from runner.errors import UserError
from runner.playbooks import (
    CANCEL,
    check_cancelled,
    install_stop_signals,
    run_playbook,
    token_reachable,
)
from runner.run import (
    CLOSED_RUN_STATUSES,
    FINAL_SHARD_STATES,
    TIME_FORMAT,
    RunFolder,
    clear_marker,
    current_run,
    parse_time,
    record_droplet_deleted,
    record_transition,
    utcnow,
)

# Limits of the loop that are not user settings (those live in runner/settings.py).
# A droplet that cannot be reached this many checks in a row is given up as broken.
UNREACHABLE_LIMIT = 5
# A droplet missing from the API's listing this many checks in a row has vanished.
VANISHED_CHECKS = 2
# A scan with no lock folder and no final line in runscan.out this many checks in a row
# stopped without saying why (for example its Docker image never built).
SILENT_STOP_LIMIT = 2
# After init.yml failed to start shards, it is not run again for this many seconds.
START_RETRY_SECONDS = 20
SUCCESS_LINE = "Scan successful."
FAILURE_LINE = "Scan failed."


@dataclass
class Observation:
    """What one check saw on one droplet."""

    reachable: bool = True
    lock: bool = False
    visiting: int | None = None
    log_age: int | None = None
    last_line: str = ""
    results: bool = False
    message: str = ""


def current_droplet(entry: dict) -> str | None:
    """The name of the shard's droplet, or None once it is deleted (or before it exists)."""
    return entry["droplet"]["name"] if entry.get("droplet") else None


def droplet_label(entry: dict) -> str:
    """The shard's droplet for log lines: the current one, else the last it had."""
    if entry.get("droplet"):
        return current_droplet(entry)
    if entry.get("droplets"):
        return entry["droplets"][-1]["name"] + " (deleted)"
    return "-"


def parse_check_output(stdout: str) -> Observation:
    obs = Observation()
    for line in stdout.splitlines():
        if not line.startswith("BSW "):
            continue
        key, _, value = line[4:].partition("=")
        value = value.strip()
        if key == "lock":
            obs.lock = value == "1"
        elif key == "visiting" and value.isdigit():
            obs.visiting = int(value)
        elif key == "log_age" and value.lstrip("-").isdigit():
            obs.log_age = int(value)
        elif key == "last_line":
            obs.last_line = value
        elif key == "results":
            obs.results = value == "1"
    return obs


def seconds_since(stamp: str | None, now: datetime) -> float:
    then = parse_time(stamp)
    return (now - then).total_seconds() if then else 0.0


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Plan:
    """The actions one cycle decided on, by shard."""

    restart: list = field(default_factory=list)
    extract: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    start: list = field(default_factory=list)


class Manager:
    def __init__(self, run: RunFolder, out, verbose: bool = False):
        self.run = run
        self.out = out
        self.verbose = verbose
        self.settings = run.load_settings()
        self.poll_interval = float(self.settings.get("poll_interval", 30))
        self.stall_timeout = float(self.settings.get("stall_timeout", 360))
        self.max_retries = int(self.settings.get("max_retries", 3))
        self.crawl_user = self.settings.get("crawl_user", "crawluser")
        self.browser = self.settings.get("browser", "chrome")
        self.starter: threading.Thread | None = None
        self.next_start_at = 0.0

    # -- one step each ----------------------------------------------------

    def playbook(self, name, **kwargs):
        return run_playbook(
            name,
            run_dir=self.run.path,
            inventory=self.run.inventory_path,
            verbose=self.verbose,
            **kwargs,
        )

    def transition(self, shard: str, to: str, note: str | None = None, **fields) -> None:
        entry = self.run.transition(shard, to, note, **fields)
        self.out.shard_event(shard, droplet_label(entry), to, note)

    def check(self) -> dict | None:
        """Observations by shard, or None when the check itself failed (tried again later)."""
        result = self.playbook("check.yml", extravars={"crawl_user": self.crawl_user})
        if result.rc != 0 and not result.hosts:
            self.out.note(f"check failed (inventory or API error, rc {result.rc}); trying again")
            return None
        seen = {}
        for host, host_result in result.hosts.items():
            if host_result.unreachable:
                seen[host] = Observation(reachable=False, message=host_result.message)
                continue
            outputs = host_result.task_results(
                "Report the scan's lock, progress, log age and last output line"
            )
            if outputs:
                seen[host] = parse_check_output(outputs[-1]["res"].get("stdout", ""))
            else:
                seen[host] = Observation(reachable=False, message=host_result.message)
        return seen

    def decide(self, state: dict, seen: dict, now: datetime) -> Plan:
        plan = Plan()
        for shard, entry in sorted(state["shards"].items()):
            status = entry["state"]
            if status in FINAL_SHARD_STATES:
                continue
            if status in ("pending", "starting") and self.starting():
                continue  # init.yml is working on it right now
            droplet = entry.get("droplet")
            name = current_droplet(entry)
            obs = seen.get(name) if name else None
            if status == "pending":
                plan.start.append(shard)
            elif status == "failed":
                plan.failed.append(shard)
            elif status in ("finished", "extracting") and (
                entry.get("extracted_at") or (obs is not None and obs.reachable)
            ):
                plan.extract.append(shard)
            elif obs is None:
                if status == "starting" and not droplet:
                    plan.start.append(shard)
                    continue
                # One listing may miss a droplet (an API hiccup): it must be missing twice.
                missing = entry.get("missing", 0) + 1
                self.run.update_shard(shard, missing=missing)
                if missing >= VANISHED_CHECKS:
                    self.transition(shard, "failed", "droplet vanished", missing=0)
                    plan.failed.append(shard)
            elif not obs.reachable:
                misses = entry.get("unreachable", 0) + 1
                self.run.update_shard(shard, unreachable=misses)
                if misses >= UNREACHABLE_LIMIT:
                    self.transition(shard, "failed", f"unreachable {misses} checks in a row")
                    plan.failed.append(shard)
            else:
                if entry.get("missing"):
                    self.run.update_shard(shard, missing=0)
                if status in ("finished", "extracting"):
                    plan.extract.append(shard)
                else:
                    self.observe(shard, entry, obs, now, plan)
        return plan

    def observe(self, shard: str, entry: dict, obs: Observation, now: datetime, plan: Plan):
        fields = {"unreachable": 0}
        if obs.visiting is not None and obs.visiting != entry.get("progress"):
            fields.update(progress=obs.visiting, progress_at=now.strftime(TIME_FORMAT))
        status = entry["state"]
        if obs.lock:
            fields["silent_checks"] = 0
            if status == "starting":
                self.transition(shard, "scanning", "scan running", **fields)
                return
            self.run.update_shard(shard, **fields)
            quiet_since = (
                fields.get("progress_at")
                or entry.get("progress_at")
                or (entry["history"][-1]["at"] if entry.get("history") else utcnow())
            )
            if seconds_since(quiet_since, now) >= self.stall_timeout:
                self.transition(shard, "stalled", f"no progress for {int(self.stall_timeout)} s")
                plan.restart.append(shard)
            return
        if obs.last_line.startswith(SUCCESS_LINE) and obs.results:
            fields["progress"] = entry["sites"]
            self.transition(shard, "finished", "scan successful", **fields)
            plan.extract.append(shard)
        elif obs.last_line.startswith(FAILURE_LINE):
            self.transition(shard, "failed", obs.last_line[:200], **fields)
            plan.failed.append(shard)
        elif status == "starting" and not obs.last_line:
            plan.start.append(shard)
        else:
            silent = entry.get("silent_checks", 0) + 1
            fields["silent_checks"] = silent
            self.run.update_shard(shard, **fields)
            if silent >= SILENT_STOP_LIMIT:
                self.transition(shard, "failed", "scan stopped without a result line")
                plan.failed.append(shard)

    def restart(self, shards: list[str]) -> None:
        state = self.run.load_state()
        names = [state["shards"][s]["droplet"]["name"] for s in shards]
        result = self.playbook(
            "restart.yml",
            limit=names,
            extravars={"crawl_user": self.crawl_user, "browser": self.browser},
        )
        for shard, name in zip(shards, names, strict=True):
            entry = state["shards"][shard]
            host = result.hosts.get(name)
            killed = host is not None and not host.failed and not host.unreachable
            self.transition(
                shard,
                "scanning",
                "browser restarted" if killed else "browser restart failed; will try again",
                restarts=entry.get("restarts", 0) + (1 if killed else 0),
                stalls=entry.get("stalls", 0) + 1,
                progress_at=utcnow(),
            )

    def fetch(self, shards: list[str], subdirs: dict) -> dict:
        """Download each shard's files; return shard -> list of verified files (None: failed)."""
        state = self.run.load_state()
        names = {state["shards"][s]["droplet"]["name"]: s for s in shards}
        verified = {s: None for s in shards}
        groups = {}
        for name, shard in names.items():
            groups.setdefault(subdirs.get(shard, ""), []).append(name)
        for subdir, group in groups.items():
            result = self.playbook(
                "extract.yml",
                limit=group,
                extravars={
                    "crawl_user": self.crawl_user,
                    "run_dir": str(self.run.path),
                    "extract_subdir": subdir,
                },
            )
            for name in group:
                host = result.hosts.get(name)
                shard = names[name]
                if host is None or host.unreachable or host.failed:
                    why = host.message if host else "droplet not found"
                    self.out.note(f"shard {shard} ({name}): extraction failed: {why}")
                    continue
                verified[shard] = self.verify(shard, subdir, host)
        return verified

    def verify(self, shard: str, subdir: str, host) -> list | None:
        base = self.run.shard_dir(shard) / subdir if subdir else self.run.shard_dir(shard)
        files = []
        for item in host.task_results("Measure each file on the droplet"):
            stat = item["res"].get("stat")
            if not stat:
                continue  # the loop's summary event, besides one event per file
            path = stat.get("path", "")
            rel = path.split("/badger-sett/", 1)[1] if "/badger-sett/" in path else "runscan.out"
            local = base / rel
            if not local.is_file() or local.stat().st_size != stat.get("size"):
                self.out.note(f"shard {shard}: {rel} arrived incomplete; will extract again")
                return None
            if sha1_of(local) != stat.get("checksum"):
                self.out.note(f"shard {shard}: {rel} checksum differs; will extract again")
                return None
            files.append(rel)
        return files

    def delete_droplets(self, shards: list[str], present: set) -> None:
        state = self.run.load_state()
        names = [
            current_droplet(state["shards"][s])
            for s in shards
            if current_droplet(state["shards"][s]) in present
        ]
        if names:
            result = self.playbook(
                "teardown.yml",
                limit=names,
                extravars={"api_base_url": self.settings["api_base_url"]},
            )
            # Deleted means the API said so: an inventory error, a failed call, or a host
            # the playbook never reached all leave the droplet recorded as alive.
            deleted = {n for n, h in result.hosts.items() if h.ok and not h.failed}
            if not result.succeeded or set(names) - deleted:
                raise DeleteFailed(set(names) - deleted or set(names))
        with self.run.update() as state:
            for shard in shards:
                record_droplet_deleted(state["shards"][shard])

    def extract(self, shards: list[str], present: set) -> None:
        for shard in shards:
            if self.run.load_state()["shards"][shard]["state"] != "extracting":
                self.transition(shard, "extracting", "downloading results")
        state = self.run.load_state()
        todo = [s for s in shards if not state["shards"][s].get("extracted_at")]
        reachable = [s for s in todo if current_droplet(state["shards"][s]) in present]
        verified = self.fetch(reachable, {}) if reachable else {}
        for shard, files in verified.items():
            if files is None:
                continue
            if "results.json" not in files:
                self.transition(shard, "failed", "no results.json on the droplet")
                continue
            self.run.update_shard(shard, extracted_at=utcnow(), files=files)
        state = self.run.load_state()
        ready = [s for s in shards if state["shards"][s].get("extracted_at")]
        try:
            self.delete_droplets(ready, present)
        except DeleteFailed as e:
            self.out.note(f"could not delete {', '.join(sorted(e.names))}; will try again")
            ready = [s for s in ready if current_droplet(state["shards"][s]) not in e.names]
            with self.run.update() as fresh:
                for shard in ready:
                    record_droplet_deleted(fresh["shards"][shard])
        for shard in ready:
            self.transition(shard, "done", "results extracted, droplet deleted", outcome="results")

    def keep_failure(self, shards: list[str], present: set) -> None:
        """Keep a failed scan's logs, delete its droplet and queue it again, or give up."""
        state = self.run.load_state()
        subdirs = {}
        for shard in shards:
            entry = state["shards"][shard]
            if not entry.get("attempt_dir"):
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                self.run.update_shard(shard, attempt_dir=f"attempt-{stamp}")
                entry["attempt_dir"] = f"attempt-{stamp}"
            subdirs[shard] = entry["attempt_dir"]
        reachable = [s for s in shards if current_droplet(state["shards"][s]) in present]
        fetched = self.fetch(reachable, subdirs) if reachable else {}
        # A droplet whose logs could not be downloaded is kept for another try, for a while:
        # deleting it would lose the only record of why the scan failed.
        for shard, files in fetched.items():
            misses = state["shards"][shard].get("log_misses", 0) + 1
            if files is None and misses < UNREACHABLE_LIMIT:
                self.run.update_shard(shard, log_misses=misses)
                shards = [s for s in shards if s != shard]
        if not shards:
            return
        try:
            self.delete_droplets(shards, present)
        except DeleteFailed as e:
            self.out.note(f"could not delete {', '.join(sorted(e.names))}; will try again")
            return
        state = self.run.load_state()
        for shard in shards:
            entry = state["shards"][shard]
            retries = entry.get("retries", 0)
            if retries >= self.max_retries:
                self.transition(
                    shard,
                    "gave_up",
                    f"failed after {retries} retries",
                    outcome="gave_up",
                    attempt_dir=None,
                )
            else:
                self.transition(
                    shard,
                    "pending",
                    f"retry {retries + 1} of {self.max_retries}",
                    retries=retries + 1,
                    attempt_dir=None,
                    log_misses=0,
                    silent_checks=0,
                    unreachable=0,
                    progress=0,
                    progress_at=None,
                    extracted_at=None,
                )

    def start_in_background(self, shards: list[str]) -> None:
        """Re-create droplets through init.yml while the loop goes on checking the others."""
        if self.starter is not None and self.starter.is_alive():
            return  # shards queued meanwhile are taken by the next start
        if time.monotonic() < self.next_start_at:
            return
        self.starter = threading.Thread(target=self.start, args=(shards,), daemon=True)
        self.starter.start()

    def starting(self) -> bool:
        return self.starter is not None and self.starter.is_alive()

    def start(self, shards: list[str]) -> None:
        self.out.note(f"creating droplets and starting scans for shards {', '.join(shards)}")
        try:
            result = self.playbook(
                "init.yml",
                extravars={"settings": str(self.run.settings_path), "assume_yes": True},
            )
        except KeyboardInterrupt:
            return  # stopping: init.yml was cancelled, the next `runner manage` goes on
        if not result.succeeded:
            self.next_start_at = time.monotonic() + START_RETRY_SECONDS
            why = next((h.message for h in result.hosts.values() if h.message), "")
            self.out.note(
                f"init.yml did not finish (rc {result.rc}{': ' + why if why else ''}); "
                f"trying again in {START_RETRY_SECONDS} s"
            )
        state = self.run.load_state()
        for shard in shards:
            entry = state["shards"][shard]
            self.out.shard_event(shard, droplet_label(entry), entry["state"], "after init.yml")

    # -- the loop ---------------------------------------------------------

    def cycle(self) -> bool:
        """One round of check, decide and act. True when every shard is final."""
        state = self.run.load_state()
        if all(e["state"] in FINAL_SHARD_STATES for e in state["shards"].values()):
            return True
        seen = self.check()
        if seen is None:
            return False
        plan = self.decide(self.run.load_state(), seen, datetime.now(UTC))
        present = set(seen)
        if plan.restart:
            self.restart(plan.restart)
        if plan.extract:
            self.extract(plan.extract, present)
        if plan.failed:
            self.keep_failure(plan.failed, present)
            plan.start += [
                s for s in plan.failed if self.run.load_state()["shards"][s]["state"] == "pending"
            ]
        if plan.start:
            self.start_in_background(sorted(set(plan.start)))
        state = self.run.load_state()
        done = all(e["state"] in FINAL_SHARD_STATES for e in state["shards"].values())
        return done and not self.starting()

    def finish(self) -> bool:
        from runner.finish import finish_run

        return finish_run(self.run, self.out, self.verbose)

    def manage(self) -> None:
        state = self.run.load_state()
        if state["status"] == "complete" and not (self.run.path / "summary.txt").exists():
            self.finish()  # an earlier loop stopped between closing the run and its summary
            return
        if state["status"] in CLOSED_RUN_STATUSES:
            self.out.note(f"run {self.run.run_id} is {state['status']}; nothing to do")
            return
        if state["status"] == "starting":
            self.run.set_status("scanning")
        with self.out.live(self.run):
            while not self.cycle():
                self.out.refresh(self.run)
                self.pause(self.poll_interval)
            self.out.refresh(self.run)
        while not self.finish():
            self.pause(self.poll_interval)

    @staticmethod
    def pause(seconds: float) -> None:
        """Wait between cycles; Ctrl-C or SIGTERM ends the wait at once."""
        CANCEL.wait(seconds)
        check_cancelled()


class DeleteFailed(Exception):
    def __init__(self, names):
        super().__init__(", ".join(sorted(names)))
        self.names = names


def find_run(run_folder: str | None, output_dir: str) -> RunFolder:
    if run_folder:
        run = RunFolder(run_folder)
        if not run.exists():
            raise UserError(f"{run_folder}: not a run folder (no state.json)")
        return run
    run = current_run(Path(output_dir))
    if run is None:
        raise UserError(
            f"no run in progress under {output_dir}/ (no {output_dir}/.current); "
            "start one with ansible-playbook playbooks/init.yml, or name a run folder"
        )
    return run


@click.command("manage")
@click.argument("run_folder", required=False)
@click.option("--output-dir", default="output", show_default=True, help="Where runs live.")
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@click.option("--verbose", "-v", is_flag=True, help="Show Ansible's output.")
def manage_command(run_folder, output_dir, once, verbose):
    """Check, repair and collect every scan of a run, then merge its results."""
    run = find_run(run_folder, output_dir)
    token_reachable()
    out = display.Output(sys.stdout, verbose=verbose)
    with run.manager_lock():
        install_stop_signals()
        manager = Manager(run, out, verbose)
        try:
            if once:
                finished = manager.cycle()
                if manager.starter is not None:
                    manager.starter.join()
                if finished:
                    manager.finish()
                out.print_table(run)
                return
            manager.manage()
        except KeyboardInterrupt:
            CANCEL.set()
            if manager.starter is not None:
                manager.starter.join()
            out.note(f"stopped; run {run.run_id} goes on with: runner manage {run.path}")
            sys.exit(130)


@click.command("status")
@click.argument("run_folder", required=False)
@click.option("--output-dir", default="output", show_default=True, help="Where runs live.")
def status_command(run_folder, output_dir):
    """Print the shard table of a run from its state file, without touching droplets."""
    run = find_run(run_folder, output_dir)
    display.Output(sys.stdout).print_table(run)


@click.command("abandon")
@click.argument("run_folder", required=False)
@click.option("--output-dir", default="output", show_default=True, help="Where runs live.")
def abandon_command(run_folder, output_dir):
    """Give up the run in progress so that a new one can start (its droplets are not deleted)."""
    run = find_run(run_folder, output_dir)
    with run.update() as state:
        state["status"] = "abandoned"
        state["finished_at"] = utcnow()
    clear_marker(run)
    click.echo(
        f"run {run.run_id} abandoned; delete its droplets with: ansible-playbook "
        f"playbooks/teardown.yml -i inventory/controller.yml -i {run.inventory_path} "
        f"-e api_base_url={run.load_settings().get('api_base_url')}"
    )


__all__ = ["Manager", "manage_command", "status_command", "abandon_command", "record_transition"]
