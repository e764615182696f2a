"""Running the Badger Sett stand-in for real, as the swarm does on a droplet.

Each test gets crawl-user home folders in a temporary folder: the stand-in's
bare repository is cloned into `~/badger-sett` with git, the shard is written
to `~/badger-sett/domain-lists/domains.txt`, and the scan is started with the
swarm's exact command line. Faults and fault counters live in the test's own
files (env BSW_SETT_FAULTS / BSW_SETT_STATE). Processes are found by their
working folder (the temporary checkout), so a test only ever signals its own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from runner.localcloud.sett import DEFAULT_REPLAY_RESULTS

DEMO_SITES = DEFAULT_REPLAY_RESULTS.parent / "sites.txt"
SCAN_TIMEOUT = 60
POLL_SECONDS = 0.05
# Fast enough that the whole suite stays well under a minute.
FAST = {"site_seconds": 0.01, "restart_seconds": 0.0}
LAST_LINE_FAILED = re.compile(r"^Scan failed\. See log\.(\d+)\.txt for details\.$")
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (.*)$")


def demo_sites() -> list[str]:
    return DEMO_SITES.read_text(encoding="utf-8").split()


def demo_results() -> dict:
    return json.loads(DEFAULT_REPLAY_RESULTS.read_text(encoding="utf-8"))


class ScanHome:
    """One crawl user's home folder with a Badger Sett checkout, like a droplet's."""

    def __init__(self, root: Path, repo: Path, faults: Path, state: Path):
        self.home = root
        self.checkout = root / "badger-sett"
        self.faults = faults
        self.state = state
        root.mkdir(parents=True)
        subprocess.run(
            ["git", "clone", "--quiet", f"file://{repo}", str(self.checkout)],
            check=True,
            env={**os.environ, "HOME": str(root)},
        )

    def write_sites(self, sites: list[str]) -> None:
        (self.checkout / "domain-lists" / "domains.txt").write_text("\n".join(sites) + "\n")

    def env(self) -> dict:
        return {
            **os.environ,
            "HOME": str(self.home),
            "BSW_SETT_FAULTS": str(self.faults),
            "BSW_SETT_STATE": str(self.state),
        }

    def command(self, num_sites: int, browser: str, extra: str, out: str) -> str:
        return (
            f"BROWSER={browser} GIT_PUSH=0 RUN_BY_CRON=1 PB_BRANCH=master "
            f"nohup ./badger-sett/runscan.sh {num_sites} --no-blocking "
            f"--domain-list ./domain-lists/domains.txt --exclude-failures-since=off "
            f"{extra} > {out} 2>&1"
        )

    def start(self, num_sites: int, browser: str = "firefox", extra: str = "") -> None:
        """Start a scan in the background, as the swarm does over SSH."""
        subprocess.run(
            ["bash", "-c", self.command(num_sites, browser, extra, "runscan.out") + " &"],
            cwd=self.home,
            env=self.env(),
            check=True,
            start_new_session=True,
        )

    def run_foreground(self, num_sites: int, extra: str = "", out: str = "again.out"):
        """Run runscan.sh to its end in the foreground; returns the completed process."""
        return subprocess.run(
            ["bash", "-c", self.command(num_sites, "firefox", extra, out)],
            cwd=self.home,
            env=self.env(),
            timeout=SCAN_TIMEOUT,
        )

    def runscan_out(self) -> list[str]:
        path = self.home / "runscan.out"
        return path.read_text().splitlines() if path.exists() else []

    def finished(self) -> bool:
        lines = self.runscan_out()
        done = bool(lines) and lines[-1].startswith("Scan ")
        return done and not (self.checkout / ".scan_in_progress").exists()

    def wait(self, timeout: float = SCAN_TIMEOUT) -> str:
        """Wait for the scan to end; returns the last line of runscan.out."""
        deadline = time.monotonic() + timeout
        while not self.finished():
            assert time.monotonic() < deadline, f"scan still running: {self.runscan_out()}"
            time.sleep(POLL_SECONDS)
        # The lock goes as the last thing runscan.sh does; let its processes end.
        while self.processes() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        return self.runscan_out()[-1]

    def wait_for_log(self, text: str, timeout: float = SCAN_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.live_log():
            assert time.monotonic() < deadline, f"never logged {text!r}"
            time.sleep(POLL_SECONDS)

    def live_log(self) -> str:
        path = self.checkout / "docker-out" / "log.txt"
        return path.read_text() if path.exists() else ""

    def processes(self) -> dict[int, str]:
        """Our scan's processes (pid -> process name): those working in this checkout."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cwd = os.readlink(entry / "cwd")
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if cwd == str(self.checkout) or cwd.startswith(str(self.checkout) + "/"):
                found[int(entry.name)] = comm
        return found

    def failed_log(self) -> Path:
        match = LAST_LINE_FAILED.match(self.runscan_out()[-1])
        assert match, self.runscan_out()
        return self.checkout / f"log.{match.group(1)}.txt"

    def results(self) -> dict:
        return json.loads((self.checkout / "results.json").read_text())

    def log_messages(self, path: Path | None = None) -> list[tuple[str, str]]:
        """(timestamp, first line of message) of each timestamped log line."""
        path = path or self.checkout / "log.txt"
        return [
            (m.group(1), m.group(2))
            for m in map(LOG_LINE.match, path.read_text().splitlines())
            if m
        ]

    def kill_leftovers(self) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
