"""`runner cloud start|stop|status|faults` as a user runs them, on clouds of their own."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from runner import cli
from runner.localcloud import droplets
from runner.localcloud.droplets import ssh_banner, wildcard_ssh_listener
from runner.localcloud.state import CloudPaths, load_state
from runner.localcloud.testing import free_port, net_is_free, process_alive, require_loopback

TOKEN = "tok-" + os.urandom(8).hex()
BODY = {"size": "s-1vcpu-1gb", "region": "nyc1", "image": "ubuntu-24-04-x64"}


def runner_cloud(*args, token=TOKEN):
    env = {k: v for k, v in os.environ.items() if k != "DO_API_TOKEN"}
    if token:
        env["DO_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "runner", "cloud", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Cli:
    """A cloud folder, port and net driven through the command line."""

    def __init__(self, folder: Path, nets=range(150, 250)):
        self.dir = folder
        self.port = free_port()
        self.net = next(n for n in nets if net_is_free(n))
        self.url = f"http://127.0.0.1:{self.port}/v2"
        self.paths = CloudPaths.for_dir(folder)

    def start(self, *extra, token=TOKEN):
        return runner_cloud(
            "start", "--dir", str(self.dir), "--port", str(self.port), "--net", str(self.net),
            *extra, token=token,
        )  # fmt: skip

    def call(self, method, path, body=None):
        require_loopback(self.url)
        request = urllib.request.Request(
            f"{self.url}/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def create_active(self, names):
        status, body = self.call("POST", "droplets", BODY | {"names": names, "ssh_keys": [
            self.key_fingerprint()]})  # fmt: skip
        assert status == 202, body
        ids = [d["id"] for d in body["droplets"]]
        deadline = time.monotonic() + 60
        while True:
            found = [self.call("GET", f"droplets/{i}")[1]["droplet"] for i in ids]
            if all(d["status"] == "active" for d in found):
                return found
            assert time.monotonic() < deadline
            time.sleep(0.1)

    def key_fingerprint(self):
        return self.call("GET", "account/keys")[1]["ssh_keys"][0]["fingerprint"]

    def sandbox_pids(self):
        return droplets.cloud_processes(self.paths)


@pytest.fixture
def own(tmp_path):
    made = Cli(tmp_path / "cloud")
    yield made
    runner_cloud("stop", "--dir", str(made.dir))
    assert made.sandbox_pids() == [] and not made.paths.data.exists()


@pytest.mark.cloud
def test_start_prints_url_and_key_twice_alike_status_lists_and_stop_deletes_all(own):
    first = own.start()
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == own.url
    assert lines[1] == f"ssh key: {own.dir.absolute()}/id_ed25519"
    fingerprint, key_id = lines[2].split(": ")[1], lines[3].split(": ")[1]
    assert len(fingerprint.split(":")) == 16 and key_id.isdigit()
    assert "started" in first.stderr

    again = own.start()
    assert (again.returncode, again.stdout) == (0, first.stdout)
    assert "already running" in again.stderr

    made = own.create_active(["cli-a", "cli-b", "cli-c"])
    status = runner_cloud("status", "--dir", str(own.dir))
    assert status.returncode == 0 and status.stdout.splitlines()[0].startswith(own.url)
    for droplet in made:
        ip = droplet["networks"]["v4"][0]["ip_address"]
        assert f"{droplet['id']}\t{droplet['name']}\t{ip}\tactive" in status.stdout
    pids = own.sandbox_pids()
    assert len(pids) >= 3

    stopped = runner_cloud("stop", "--dir", str(own.dir))
    assert stopped.returncode == 0
    assert stopped.stdout.strip() == "local cloud stopped; deleted 3 droplet(s)"
    assert not any(process_alive(pid) for pid in pids)
    assert not own.paths.data.exists()
    assert not any(ssh_banner(d["networks"]["v4"][0]["ip_address"], 0.5) for d in made)
    assert "not running" in runner_cloud("status", "--dir", str(own.dir)).stdout
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{own.url}/account", timeout=2)


@pytest.mark.cloud
def test_the_token_is_written_nowhere_and_never_reaches_a_droplet(own):
    assert own.start().returncode == 0
    (droplet,) = own.create_active(["tokenless"])
    ip = droplet["networks"]["v4"][0]["ip_address"]
    key = own.dir / "id_ed25519"
    seen = subprocess.run(
        ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"]
        + ["-o", "UserKnownHostsFile=/dev/null", f"root@{ip}", "cat /proc/1/environ; env"],
        capture_output=True,
        timeout=30,
    )
    assert seen.returncode == 0 and b"PATH=" in seen.stdout
    assert TOKEN.encode() not in seen.stdout
    for folder in (own.dir, own.paths.data):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert TOKEN.encode() not in path.read_bytes(), path
    pid = load_state(own.paths) and int((own.dir / "api.pid").read_text())
    assert TOKEN.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()


@pytest.mark.cloud
def test_a_killed_server_leaves_droplets_that_the_next_start_and_stop_remove(own):
    assert own.start().returncode == 0
    own.create_active(["orphan-1", "orphan-2"])
    orphans = own.sandbox_pids()
    server = int((own.dir / "api.pid").read_text())
    os.kill(server, signal.SIGKILL)
    while process_alive(server):
        time.sleep(0.05)
    assert "not running" in runner_cloud("status", "--dir", str(own.dir)).stdout
    assert all(process_alive(pid) for pid in orphans)  # still running, unowned

    restarted = own.start()
    assert restarted.returncode == 0, restarted.stderr
    assert not any(process_alive(pid) for pid in orphans)
    assert own.call("GET", "droplets")[1]["meta"]["total"] == 0
    own.create_active(["orphan-3"])
    os.kill(int((own.dir / "api.pid").read_text()), signal.SIGKILL)
    time.sleep(0.2)
    orphans = own.sandbox_pids()
    assert orphans
    assert runner_cloud("stop", "--dir", str(own.dir)).returncode == 0
    assert not any(process_alive(pid) for pid in orphans)
    assert not own.paths.data.exists()


@pytest.mark.cloud
def test_faults_command_writes_the_file_and_the_running_server_obeys_at_once(own):
    assert own.start().returncode == 0
    made = own.create_active(["f-1", "f-2"])
    set_faults = runner_cloud(
        "faults", "--dir", str(own.dir), "api.error_rate=1", "sett.site_seconds=0.1",
        "sett.label=hello",
    )  # fmt: skip
    assert set_faults.returncode == 0, set_faults.stderr
    saved = json.loads((own.dir / "shared" / "faults.json").read_text())
    assert saved == {"api": {"error_rate": 1.0}, "sett": {"site_seconds": 0.1, "label": "hello"}}
    assert json.loads(set_faults.stdout) == saved
    assert own.call("GET", "account")[0] >= 500

    assert runner_cloud("faults", "--dir", str(own.dir), "--clear").returncode == 0
    assert own.call("GET", "account")[0] == 200

    # vanish_after_seconds alone makes every droplet vanish once it is that old.
    assert (
        runner_cloud("faults", "--dir", str(own.dir), "api.vanish_after_seconds=0").returncode == 0
    )
    assert own.call("GET", "droplets")[1]["meta"]["total"] == 0
    for droplet in made:
        assert own.call("GET", f"droplets/{droplet['id']}")[0] == 404


@pytest.mark.cloud
def test_a_second_cloud_on_a_taken_net_is_refused_in_one_line(own, tmp_path):
    assert own.start().returncode == 0
    other = Cli(tmp_path / "other")
    other.net = own.net
    refused = other.start()
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0
    assert f"net {own.net}" in refused.stderr and "another local cloud" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("api.error_rate=2", "fault api.error_rate=2 is invalid: must be between 0 and 1"),
        ("api.nonsense=1", "unknown fault api.nonsense; valid api faults: active_delay"),
        ("error_rate=1", "must look like api.KEY=VALUE or sett.KEY=VALUE"),
        ("api.droplet_limit=many", 'fault api.droplet_limit="many" is invalid: must be a number'),
    ],
)
def test_faults_command_refuses_a_bad_fault_in_one_line(tmp_path, assignment, message):
    done = runner_cloud("faults", "--dir", str(tmp_path), assignment)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "shared" / "faults.json").exists()


def test_start_without_root_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(droplets.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["cloud", "start", "--dir", str(tmp_path / "c"), "--net", "249"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the local cloud needs root") and err.count("\n") == 1
    assert not (tmp_path / "c").exists()


def test_start_refuses_while_a_host_sshd_listens_on_every_address(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(droplets, "wildcard_ssh_listener", lambda: True)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["cloud", "start", "--dir", str(tmp_path / "c"), "--net", "249"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "0.0.0.0:22" in err and err.count("\n") == 1


def test_wildcard_listener_is_read_from_proc_net(tmp_path):
    header = "  sl  local_address rem_address   st tx_queue rx_queue\n"
    row = "   0: {address}:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n"
    (tmp_path / "tcp").write_text(header + row.format(address="0100327F"))
    (tmp_path / "tcp6").write_text(header)
    assert not wildcard_ssh_listener(tmp_path)  # 127.50.0.1:22 is a droplet, not a host sshd
    (tmp_path / "tcp6").write_text(header + row.format(address="0" * 32))
    assert wildcard_ssh_listener(tmp_path)
    (tmp_path / "tcp6").write_text(header)
    (tmp_path / "tcp").write_text(header + row.format(address="00000000"))
    assert wildcard_ssh_listener(tmp_path)
