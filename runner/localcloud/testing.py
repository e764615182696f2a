"""A local cloud for tests: the `local_cloud` pytest fixture and its helpers.

The fixture starts one cloud per test session in a fresh folder, on a free port and on a
net (127.N.x.y) that no other cloud on the machine holds, with a random API token so the
401 path is live. It refuses to run without root or with a base URL off loopback: those
tests fail loudly instead of being skipped, because a skipped cloud test proves nothing.
Tests stay independent by tagging what they create (`new_tag`) and by setting faults
through `faults(...)`, which puts the previous ones back. At the end of the session every
droplet is deleted and the teardown checks that no sandbox process or file is left.
"""

import contextlib
import ipaddress
import itertools
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from runner.errors import UserError
from runner.localcloud import droplets as sandboxes
from runner.localcloud.control import LocalCloud, free_port, net_is_free
from runner.localcloud.faults import SECTIONS, read_faults, write_faults

# Nets the fixture may take; the user's `runner cloud start` defaults to net 2.
FIXTURE_NETS = range(50, 250)
SSH_OPTIONS = [
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=5",
]  # fmt: skip
# Droplet host keys are per cloud and addresses are reused across clouds: never record them.
ANSIBLE_SSH_COMMON_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
# How long `wait_active` waits for droplets by default.
ACTIVE_TIMEOUT = 60.0
HTTP_TIMEOUT = 30.0
_tags = itertools.count(1)


def require_loopback(url: str) -> None:
    """Fail the test unless url points at a loopback address (never the real DigitalOcean)."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        pytest.fail(f"refusing to test against {url}: the API base URL must be a loopback URL")


def process_alive(pid: int) -> bool:
    """Whether pid runs; a killed process may linger as a zombie until its parent reaps it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class CloudForTests:
    """A running local cloud as tests see it: its API, its key, SSH into its droplets."""

    def __init__(self, cloud: LocalCloud, token: str):
        info = cloud.start()
        self.cloud = cloud
        self.base_url = info.base_url
        self.token = token
        self.key_path = info.key_path
        self.key_fingerprint = info.key_fingerprint
        self.key_id = info.key_id
        self.dir = cloud.paths.dir
        self.net = cloud.net
        self.pid = info.pid
        require_loopback(self.base_url)

    # ---- the API

    def api(self, method: str, path: str, body=None, token: str | None = None):
        """(status, headers, JSON body or None) of one call; path is relative to /v2."""
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        require_loopback(url)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {self.token if token is None else token}")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:
                status, headers, raw = answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as e:
            status, headers, raw = e.code, dict(e.headers), e.read()
        return status, {k.lower(): v for k, v in headers.items()}, json.loads(raw) if raw else None

    def new_tag(self, prefix: str = "test") -> str:
        return f"{prefix}-{os.getpid()}-{next(_tags)}"

    def create(self, names: list[str], tag: str, **fields) -> list[dict]:
        """Create droplets (batches of up to ten) with the cloud's key; return them as created."""
        created = []
        for start in range(0, len(names), 10):
            body = {
                "names": names[start : start + 10],
                "size": "s-1vcpu-1gb",
                "region": "nyc1",
                "image": "ubuntu-24-04-x64",
                "ssh_keys": [self.key_id],
                "tags": [tag],
            } | fields
            status, _, answer = self.api("POST", "droplets", body)
            if status != 202:
                raise AssertionError(f"create {names} answered {status}: {answer}")
            created += answer["droplets"]
        return created

    def droplets(self, tag: str | None = None) -> list[dict]:
        """Every droplet (or every one with tag), following the pagination links."""
        url = "droplets?per_page=200" + (f"&tag_name={tag}" if tag else "")
        found = []
        while url:
            status, _, answer = self.api("GET", url)
            assert status == 200, answer
            found += answer["droplets"]
            url = answer["links"].get("pages", {}).get("next")
        return found

    def wait_active(self, ids, timeout: float = ACTIVE_TIMEOUT) -> list[dict]:
        """Wait until every droplet id is active; return them with their addresses."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        while True:
            current = {d["id"]: d for d in self.droplets() if d["id"] in wanted}
            if len(current) == len(wanted) and all(
                d["status"] == "active" for d in current.values()
            ):
                return [current[i] for i in ids]
            if time.monotonic() > deadline:
                raise AssertionError(f"droplets not active after {timeout:g} s: {current}")
            time.sleep(0.1)

    def delete_tag(self, tag: str) -> None:
        status, _, answer = self.api("DELETE", f"droplets?tag_name={tag}")
        assert status == 204, answer

    # ---- faults

    def set_faults(self, api: dict | None = None, sett: dict | None = None) -> None:
        """Replace the given sections of the faults file (a section left None is kept)."""
        current = read_faults(self.cloud.paths.faults_file)
        if api is not None:
            current["api"] = dict(api)
        if sett is not None:
            current["sett"] = dict(sett)
        write_faults(self.cloud.paths.faults_file, current)

    def clear_faults(self) -> None:
        write_faults(self.cloud.paths.faults_file, {section: {} for section in SECTIONS})

    @contextlib.contextmanager
    def faults(self, api: dict | None = None, sett: dict | None = None):
        """Set faults for the `with` block, then put the previous ones back."""
        before = read_faults(self.cloud.paths.faults_file)
        self.set_faults(api=api, sett=sett)
        try:
            yield self
        finally:
            write_faults(self.cloud.paths.faults_file, before)

    # ---- droplets as hosts

    def ssh(
        self, ip: str, command: str, user: str = "root", timeout: float = 30
    ) -> subprocess.CompletedProcess:
        require_loopback(f"ssh://{ip}")
        return subprocess.run(
            ["ssh", "-i", str(self.key_path), *SSH_OPTIONS, f"{user}@{ip}", command],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def env(self) -> dict:
        """Variables for subprocesses (ansible-playbook, runner) that talk to this cloud."""
        return {
            "DO_API_TOKEN": self.token,
            "BSW_LOCALCLOUD_URL": self.base_url,
            "BSW_LOCALCLOUD_DIR": str(self.dir),
            "BSW_LOCALCLOUD_KEY": str(self.key_path),
            "BSW_LOCALCLOUD_KEY_ID": str(self.key_id),
            "ANSIBLE_PRIVATE_KEY_FILE": str(self.key_path),
            "ANSIBLE_REMOTE_USER": "root",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_SSH_COMMON_ARGS": ANSIBLE_SSH_COMMON_ARGS,
        }

    def sandbox_pids(self) -> list[int]:
        """Host pids of every process that makes up this cloud's droplets."""
        return sandboxes.cloud_processes(self.cloud.paths)

    def stop(self) -> None:
        self.cloud.stop()


def start_cloud_for_tests(folder: Path, nets=FIXTURE_NETS) -> CloudForTests:
    """Start a cloud in folder on a free port and the first free net; fail if impossible."""
    if os.geteuid() != 0:
        pytest.fail(
            "the local cloud tests need root (droplets are sshd in namespaces); "
            "run pytest as root: a skipped cloud test would prove nothing"
        )
    problem = sandboxes.preflight_problem()
    if problem:
        pytest.fail(f"the local cloud cannot run here: {problem}")
    token = secrets.token_hex(16)
    last_error = None
    for net in nets:
        if not net_is_free(net):
            continue
        try:
            cloud = LocalCloud(
                folder, port=free_port(), net=net, token=token, owner_pid=os.getpid()
            )
            return CloudForTests(cloud, token)
        except UserError as e:
            # Another session may have taken the net or the port between check and start.
            last_error = e
    pytest.fail(f"could not start a local cloud for tests: {last_error or 'no free net'}")


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory):
    """A running local cloud shared by the session; see CloudForTests for what it offers."""
    cloud = start_cloud_for_tests(tmp_path_factory.mktemp("localcloud"))
    yield cloud
    cloud.stop()
    leftovers = cloud.sandbox_pids()
    if leftovers or cloud.cloud.paths.data.exists():
        pytest.fail(f"the local cloud left processes {leftovers} or {cloud.cloud.paths.data}")
