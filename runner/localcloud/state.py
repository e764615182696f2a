"""Where a local cloud keeps its files, and the state file that lets it recover from a crash.

A cloud has two folders. The user-facing one (`--dir`, default `.localcloud`) holds the
pid file, the API log, the account's SSH key, the state file and `shared/` (faults and the
Badger Sett stand-in's repository, bind-mounted into every droplet). The droplets' own
files and the shared host keys live under `DATA_ROOT/<hash of --dir>/`, outside `/tmp`,
`/root`, `/home` and `/etc`, because those four are covered by each droplet's private
copies and `--dir` may sit under any of them. The API server is the only writer of the
state file while it runs; `control.py` reads it to clean up after a server that died.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from runner.fsutil import atomic_write_json

DEFAULT_DIR = ".localcloud"
DEFAULT_PORT = 8650
DEFAULT_NET = 2
DEFAULT_TOKEN_ENV = "DO_API_TOKEN"

# Droplet files and host keys of every cloud on this machine; override for odd hosts.
DATA_ROOT = Path(os.environ.get("BSW_LOCALCLOUD_DATA", "/var/lib/badger-swarm-localcloud"))

# Mount point inside each droplet for the cloud's shared/ folder (read-only) and its
# writable state/ subfolder; created once on the host so that it can be mounted over.
DROPLET_SHARED_MOUNT = Path("/opt/localcloud")
# The Badger Sett stand-in's bare repository in shared/, cloned by droplets.
SETT_REPO_NAME = "badger-sett.git"

STATE_FORMAT = 1
# Droplet ids start high, as real ones are, and are never reused by one cloud folder.
FIRST_DROPLET_ID = 3_000_001
FIRST_KEY_ID = 41_000_001


@dataclass(frozen=True)
class CloudPaths:
    """Every path of one cloud, derived from its folder."""

    dir: Path

    @classmethod
    def for_dir(cls, directory: str | os.PathLike) -> "CloudPaths":
        return cls(Path(directory).absolute())

    @property
    def pid_file(self) -> Path:
        return self.dir / "api.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "api.log"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def key_file(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def shared(self) -> Path:
        return self.dir / "shared"

    @property
    def shared_state(self) -> Path:
        return self.shared / "state"

    @property
    def faults_file(self) -> Path:
        return self.shared / "faults.json"

    @property
    def sett_repo(self) -> Path:
        return self.shared / SETT_REPO_NAME

    @property
    def data(self) -> Path:
        digest = hashlib.sha256(str(self.dir).encode()).hexdigest()[:12]
        return DATA_ROOT / digest

    @property
    def droplets(self) -> Path:
        return self.data / "droplets"

    @property
    def host_keys(self) -> Path:
        return self.data / "hostkeys"

    def droplet(self, droplet_id: int) -> Path:
        return self.droplets / str(droplet_id)


def new_state(port: int, net: int) -> dict:
    return {
        "format": STATE_FORMAT,
        "port": port,
        "net": net,
        "next_droplet_id": FIRST_DROPLET_ID,
        "next_key_id": FIRST_KEY_ID,
        "next_host": 0,
        "ssh_keys": [],
        "tags": [],
        "droplets": [],
    }


def load_state(paths: CloudPaths) -> dict | None:
    try:
        return json.loads(paths.state_file.read_text())
    except FileNotFoundError:
        return None


def save_state(paths: CloudPaths, state: dict) -> None:
    atomic_write_json(paths.state_file, state)


def read_pid(paths: CloudPaths) -> int | None:
    try:
        return int(paths.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def server_alive(paths: CloudPaths) -> int | None:
    """The pid of this cloud's API server if it runs, checked by its command line."""
    pid = read_pid(paths)
    if pid is None:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # A recycled pid would not carry both the module name and this cloud's folder.
    if b"runner.localcloud.api" in cmdline and str(paths.dir).encode() in cmdline:
        return pid
    return None
