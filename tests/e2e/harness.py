"""Whole runs on the local cloud: settings, init.yml, `runner manage`, and what to expect.

A `Swarm` writes settings pointed at a test cloud, runs the real
`ansible-playbook playbooks/init.yml` and the real `runner manage` as
subprocesses (as a user would), and computes the merge a run must end with
from the replay data the Badger Sett stand-in serves, independently of the
run: the replayed observations restricted to the sites scanned.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import yaml

from runner.merge import load_pb_data, merge_files

REPO = Path(__file__).resolve().parents[2]
REPLAY = REPO / "demo" / "replay-results.json"
DEMO_SITES = REPO / "demo" / "sites.txt"
# Timings that keep a test run short: a small share of a second per site, quick checks.
SITE_SECONDS = 0.2
POLL_INTERVAL = 1
STALL_TIMEOUT = 8
INIT_TIMEOUT = 300
MANAGE_TIMEOUT = 600


class Swarm:
    def __init__(self, cloud, folder: Path, sites: list[str], crawlers: int, **settings):
        self.cloud = cloud
        self.folder = folder
        self.sites = sites
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sites.txt").write_text("".join(f"{s}\n" for s in sites))
        data = {
            "api_base_url": cloud.base_url,
            "droplet_name_prefix": "e2e",
            "ssh_key": cloud.key_fingerprint,
            "ssh_private_key_file": str(cloud.key_path),
            "browser": "firefox",
            "num_crawlers": crawlers,
            "num_sites": len(sites),
            "site_list": "sites.txt",
            "install_packages": False,
            "sett_repo": "file:///opt/localcloud/badger-sett.git",
            "sett_version": "main",
            "poll_interval": POLL_INTERVAL,
            "stall_timeout": STALL_TIMEOUT,
            "droplet_create_backoff": 0.5,
            "output_dir": "output",
        } | settings
        self.settings_path = folder / "settings.yml"
        self.settings_path.write_text(yaml.safe_dump(data))
        self.output = folder / "output"

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(self.cloud.env())
        env["ANSIBLE_NOCOLOR"] = "1"
        env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
        return env

    def init(self, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["ansible-playbook", str(REPO / "playbooks" / "init.yml"),
             "-e", f"settings={self.settings_path}", "-e", "assume_yes=true"],
            cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=INIT_TIMEOUT,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"init.yml failed:\n{result.stdout[-4000:]}\n{result.stderr}")
        return result

    @property
    def run_dir(self) -> Path:
        marker = self.output / ".current"
        if marker.exists():
            return self.output / marker.read_text().strip()
        runs = sorted(p for p in self.output.iterdir() if (p / "state.json").exists())
        return runs[-1]

    def state(self) -> dict:
        return json.loads((self.run_dir / "state.json").read_text())

    def manage(self, timeout: float = MANAGE_TIMEOUT) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["runner", "manage", str(self.run_dir)],
            cwd=self.folder, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(
                f"runner manage failed:\n{result.stdout[-4000:]}\n{result.stderr}"
            )
        return result

    def start_manage(self, log: Path) -> subprocess.Popen:
        """`runner manage` in its own process group, so a test can kill all of it at once."""
        return subprocess.Popen(
            ["runner", "manage", str(self.run_dir)],
            cwd=self.folder, env=self.env(), stdout=open(log, "a"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def wait_for(self, predicate, process: subprocess.Popen, timeout: float = 300) -> dict:
        """Poll the state file until predicate(state) holds; fail if manage ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                state = self.state()
            except (json.JSONDecodeError, FileNotFoundError):
                state = None
            if state is not None and predicate(state):
                return state
            if process.poll() is not None:
                raise AssertionError(f"runner manage ended early (rc {process.returncode})")
            time.sleep(0.05)
        raise AssertionError("the run never reached the awaited state")

    def droplets_left(self) -> list[dict]:
        return self.cloud.droplets(tag=self.state()["tag"])


def expected_observations(sites: list[str], skip: frozenset = frozenset()) -> dict:
    """The replay data restricted to the scanned sites, as one results file would hold it."""
    data = json.loads(REPLAY.read_text())
    scanned = set(sites) - skip
    snitch = {}
    for tracker, tracker_sites in data["snitch_map"].items():
        kept = [s for s in tracker_sites if s in scanned]
        if kept:
            snitch[tracker] = kept
    tracking = {}
    for tracker, by_site in data["tracking_map"].items():
        kept = {s: types for s, types in by_site.items() if s in scanned}
        if kept and tracker in snitch:
            tracking[tracker] = kept

    def owned(host: str) -> bool:
        return any(host == t or host.endswith("." + t) for t in snitch)

    actions = {d: e for d, e in data["action_map"].items() if owned(d)}
    scripts = {h: p for h, p in data["fp_scripts"].items() if owned(h)}
    return {
        "action_map": actions,
        "snitch_map": snitch,
        "tracking_map": tracking,
        "fp_scripts": scripts,
        "version": data["version"],
    }


def expected_noblocking(sites: list[str], folder: Path, skip: frozenset = frozenset()) -> dict:
    """What `results-noblocking.json` must hold: the expected observations merged alone."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "expected-input.json"
    source.write_text(json.dumps(expected_observations(sites, skip), indent=2, sort_keys=True))
    merge_files([source], folder, pb_data=load_pb_data(None, "master"))
    return json.loads((folder / "results-noblocking.json").read_text())


def comparable(results: dict) -> dict:
    """Results with list order put aside: shards come back in any order."""
    return {
        "action_map": results["action_map"],
        "snitch_map": {t: sorted(s) for t, s in results["snitch_map"].items()},
        "tracking_map": {
            t: {s: sorted(types) for s, types in by_site.items()}
            for t, by_site in results["tracking_map"].items()
        },
        "fp_scripts": results["fp_scripts"],
    }


def pick_sites(count: int, offset: int = 0) -> list[str]:
    sites = [s for s in DEMO_SITES.read_text().split() if s]
    return sites[offset : offset + count]
