"""Starting, stopping and inspecting a local cloud from outside its API server.

`LocalCloud` is what `runner cloud ...`, the test fixture and the benchmark share. Start
checks the machine, cleans up after a server that died (its droplets are found by the
state file and by their command lines, which name the cloud's data folder), prepares the
folder (key, faults, the Badger Sett stand-in's repository), then runs the server as a
daemon in its own session and waits until it answers. Starting a running cloud only
reports it; stopping deletes every droplet the cloud made and removes their files.
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from runner.errors import UserError
from runner.localcloud import droplets
from runner.localcloud.api import TOKEN_ENV, base_url, net_lock_path
from runner.localcloud.faults import SECTIONS, read_faults, write_faults
from runner.localcloud.sshkeys import ensure_keypair, md5_fingerprint
from runner.localcloud.state import (
    DEFAULT_DIR,
    DEFAULT_NET,
    DEFAULT_PORT,
    DROPLET_SHARED_MOUNT,
    SETT_REPO_NAME,
    CloudPaths,
    load_state,
    new_state,
    save_state,
    server_alive,
)

# How long the server may take to answer after it was started.
START_TIMEOUT = 30.0
# How long stopping waits for the server to delete its droplets before killing it.
STOP_TIMEOUT = 90.0
POLL_INTERVAL = 0.05
CLOUD_KEY_NAME = "localcloud"


@dataclass
class CloudInfo:
    base_url: str
    pid: int
    key_path: Path
    key_fingerprint: str
    key_id: int
    already_running: bool
    sett_repo: Path | None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def net_is_free(net: int) -> bool:
    """No other cloud holds the net's lock and nothing listens on 127.<net>.x.y:22."""
    path = net_lock_path(net)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(lock, fcntl.LOCK_UN)
    prefix = f"{net:02X}7F"  # /proc/net/tcp shows 127.net.x.y little-endian: yyxxNN7F
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        address, _, port = line.split()[1].partition(":")
        if port == "0016" and address.endswith(prefix):
            return False
    return True


class LocalCloud:
    """One local cloud, by folder. Usable as a context manager (start ... stop)."""

    def __init__(
        self,
        dir: str | os.PathLike = DEFAULT_DIR,
        port: int = DEFAULT_PORT,
        net: int = DEFAULT_NET,
        token: str | None = None,
        replay_results: Path | None = None,
        replay_log: Path | None = None,
        owner_pid: int | None = None,
    ):
        if not 1 <= int(port) <= 65535:
            raise UserError(f"--port {port} is not a TCP port; use 1 to 65535")
        if not 1 <= int(net) <= 254:
            raise UserError(f"--net {net} is invalid; droplets use 127.<net>.x.y, net 1 to 254")
        self.paths = CloudPaths.for_dir(dir)
        self.port = int(port)
        self.net = int(net)
        self.token = token or None
        self.replay_results = replay_results
        self.replay_log = replay_log
        # Test and benchmark clouds die with their owner, so a killed run leaks no droplets.
        self.owner_pid = owner_pid
        self._daemon: subprocess.Popen | None = None
        self.warnings: list[str] = []

    @property
    def base_url(self) -> str:
        state = load_state(self.paths)
        return base_url(state["port"] if state and server_alive(self.paths) else self.port)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- start

    def start(self) -> CloudInfo:
        pid = server_alive(self.paths)
        if pid:
            return self._info(pid, already_running=True)
        problem = droplets.preflight_problem()
        if problem:
            raise UserError(problem)

        self.cleanup_leftovers()
        self._prepare_folder()
        sett_repo = self._build_sett_repo()
        pid = self._spawn_server()
        info = self._info(pid, already_running=False)
        info.sett_repo = sett_repo
        return info

    def cleanup_leftovers(self) -> int:
        """Kill droplets of a server that died and remove their files; return how many."""
        state = load_state(self.paths)
        recorded = list(state["droplets"]) if state else []
        for droplet in recorded:
            droplets.kill(self.paths, droplet["id"], droplet.get("init_pid"))
        droplets.destroy_all(self.paths)
        if state and recorded:
            state["droplets"] = []
            save_state(self.paths, state)
        return len(recorded)

    def _prepare_folder(self) -> None:
        paths = self.paths
        paths.dir.mkdir(parents=True, exist_ok=True)
        paths.shared_state.mkdir(parents=True, exist_ok=True)
        # Droplet users (crawluser) keep fault counters here.
        paths.shared_state.chmod(0o1777)
        paths.shared.chmod(0o755)
        if not paths.faults_file.exists():
            write_faults(paths.faults_file, {section: {} for section in SECTIONS})
        DROPLET_SHARED_MOUNT.mkdir(parents=True, exist_ok=True)

        public_key = ensure_keypair(paths.key_file)
        state = load_state(paths) or new_state(self.port, self.net)
        state.update(port=self.port, net=self.net, droplets=[])
        fingerprint = md5_fingerprint(public_key)
        if not any(k["fingerprint"] == fingerprint for k in state["ssh_keys"]):
            state["ssh_keys"].append(
                {
                    "id": state["next_key_id"],
                    "fingerprint": fingerprint,
                    "public_key": public_key,
                    "name": CLOUD_KEY_NAME,
                }
            )
            state["next_key_id"] += 1
        save_state(paths, state)

    def _build_sett_repo(self) -> Path | None:
        try:
            from runner.localcloud.sett import build_repo
        except ModuleNotFoundError as e:
            if e.name not in ("runner.localcloud.sett",):
                raise
            self.warnings.append(
                "the Badger Sett stand-in (runner.localcloud.sett) is not installed; "
                f"droplets have no {DROPLET_SHARED_MOUNT / SETT_REPO_NAME}"
            )
            return None
        except ImportError as e:
            self.warnings.append(f"the Badger Sett stand-in cannot be loaded: {e}")
            return None
        return build_repo(self.paths.sett_repo, self.replay_results, self.replay_log)

    def _spawn_server(self) -> int:
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        # Whatever variable held the token, the server must not pass it on to droplets.
        env = {k: v for k, v in env.items() if not (self.token and v == self.token)}
        if self.token:
            env[TOKEN_ENV] = self.token
        log = open(self.paths.log_file, "ab")
        try:
            self._daemon = subprocess.Popen(
                [sys.executable, "-m", "runner.localcloud.api", "--dir", str(self.paths.dir)]
                + ["--port", str(self.port), "--net", str(self.net)]
                + (["--owner-pid", str(self.owner_pid)] if self.owner_pid else []),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd="/",
                start_new_session=True,
            )
        finally:
            log.close()

        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._daemon.poll() is not None:
                raise UserError(f"the local cloud API did not start: {self._last_log_line()}")
            if self._health() == self._daemon.pid:
                return self._daemon.pid
            time.sleep(POLL_INTERVAL)
        self._daemon.kill()
        self._daemon.wait()
        raise UserError(
            f"the local cloud API did not answer within {START_TIMEOUT:g} s; "
            f"see {self.paths.log_file}"
        )

    def _health(self) -> int | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/_localcloud/health", timeout=1
            ) as answer:
                return json.load(answer).get("pid")
        except (OSError, ValueError):
            return None

    def _last_log_line(self) -> str:
        try:
            lines = self.paths.log_file.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "no log"
        return lines[-1] if lines else f"nothing in {self.paths.log_file}"

    def _info(self, pid: int, already_running: bool) -> CloudInfo:
        state = load_state(self.paths)
        public_key = self.paths.key_file.with_name("id_ed25519.pub").read_text().strip()
        fingerprint = md5_fingerprint(public_key)
        key = next(k for k in state["ssh_keys"] if k["fingerprint"] == fingerprint)
        return CloudInfo(
            base_url=base_url(state["port"]),
            pid=pid,
            key_path=self.paths.key_file,
            key_fingerprint=fingerprint,
            key_id=key["id"],
            already_running=already_running,
            sett_repo=self.paths.sett_repo if self.paths.sett_repo.exists() else None,
        )

    # ---- stop and status

    def stop(self) -> int:
        """Stop the server, delete every droplet, remove their files; return how many."""
        state = load_state(self.paths)
        count = len(state["droplets"]) if state else 0
        pid = server_alive(self.paths)
        if pid:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while server_alive(self.paths) and time.monotonic() < deadline:
                self._reap()
                time.sleep(POLL_INTERVAL)
            if server_alive(self.paths):
                os.kill(pid, signal.SIGKILL)
        self._reap(wait=True)
        self.cleanup_leftovers()
        self.paths.pid_file.unlink(missing_ok=True)
        return count

    def _reap(self, wait: bool = False) -> None:
        # Only a server this object started is our child; the CLI's daemon is not.
        if self._daemon is not None:
            if wait:
                self._daemon.wait()
            else:
                self._daemon.poll()

    def status(self) -> dict:
        state = load_state(self.paths) or {}
        pid = server_alive(self.paths)
        return {
            "running": bool(pid),
            "pid": pid,
            "base_url": base_url(state.get("port", self.port)),
            "dir": str(self.paths.dir),
            "droplets": state.get("droplets", []) if pid else [],
        }

    def faults(self) -> dict:
        return read_faults(self.paths.faults_file)
