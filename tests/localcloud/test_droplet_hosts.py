"""Droplets are real hosts: SSH by key, private /etc, /root, /home and /tmp, clean deletion."""

import os
import pwd
import shlex
import time
from pathlib import Path

import pytest

from runner.localcloud.droplets import ssh_banner
from runner.localcloud.state import load_state
from runner.localcloud.testing import process_alive

pytestmark = pytest.mark.cloud

ADD_CRAWLUSER = (
    "useradd -m -s /bin/bash crawluser && mkdir -p ~crawluser/.ssh"
    " && cp /root/.ssh/authorized_keys ~crawluser/.ssh/"
    " && chown -R crawluser: ~crawluser/.ssh"
)


def address(droplet: dict) -> str:
    return droplet["networks"]["v4"][0]["ip_address"]


@pytest.fixture
def pair(cloud, tag):
    """Two active droplets of the test's tag."""
    created = cloud.create([f"{tag}-a", f"{tag}-b"], tag)
    return cloud.wait_active([d["id"] for d in created])


def run(cloud, droplet, command, user="root"):
    done = cloud.ssh(address(droplet), command, user=user)
    assert done.returncode == 0, f"{command!r} as {user}: {done.stderr}"
    return done.stdout.strip()


def test_root_logs_in_with_the_account_key_on_a_host_named_after_the_droplet(cloud, pair):
    a, _ = pair
    assert run(cloud, a, "hostname; cat /etc/hostname; id -un").split() == [a["name"]] * 2 + [
        "root"
    ]


def test_files_and_users_on_one_droplet_change_neither_the_host_nor_another(cloud, pair):
    a, b = pair
    marker = f"bsw-marker-{os.getpid()}-{a['id']}"
    host_user = f"bsw{os.getpid() % 100000}"
    run(
        cloud,
        a,
        f"{ADD_CRAWLUSER} && useradd {host_user}"
        f" && for d in /root /home /tmp /etc; do touch $d/{marker}; done",
    )
    assert run(cloud, a, f"id -un crawluser; ls /root/{marker} /tmp/{marker} /etc/{marker}")

    for folder in ("/root", "/home", "/tmp", "/etc"):
        assert not (Path(folder) / marker).exists(), f"{folder} of the host changed"
        assert cloud.ssh(address(b), f"test -e {folder}/{marker}").returncode == 1
    assert cloud.ssh(address(b), "id crawluser").returncode == 1
    with pytest.raises(KeyError):
        pwd.getpwnam(host_user)


def test_a_useradded_account_without_password_logs_in_with_its_key(cloud, pair):
    a, _ = pair
    run(cloud, a, ADD_CRAWLUSER)
    assert run(cloud, a, "getent shadow crawluser | cut -d: -f2") in ("!", "!*", "*")
    assert run(cloud, a, "id -un; pwd", user="crawluser").split() == [
        "crawluser",
        "/home/crawluser",
    ]


def test_the_crawl_users_processes_outlive_the_ssh_session(cloud, pair):
    a, _ = pair
    run(cloud, a, ADD_CRAWLUSER)
    run(cloud, a, "nohup sleep 600 > /dev/null 2>&1 & echo started", user="crawluser")
    time.sleep(0.5)
    assert run(cloud, a, "pgrep -u crawluser -x sleep")
    # Each droplet has its own PID namespace: the other one does not see the process.
    assert cloud.ssh(address(pair[1]), "pgrep -x 'sleep'").returncode == 1


def test_deleting_a_droplet_kills_its_processes_and_removes_its_files(cloud, pair):
    a, b = pair
    run(cloud, a, "nohup sleep 600 > /dev/null 2>&1 &")
    record = next(d for d in load_state(cloud.cloud.paths)["droplets"] if d["id"] == a["id"])
    init_pid, folder = record["init_pid"], cloud.cloud.paths.droplet(a["id"])
    assert process_alive(init_pid) and folder.exists()
    host_pids = [
        pid
        for pid in cloud.sandbox_pids()
        if str(folder).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert init_pid in host_pids

    assert cloud.api("DELETE", f"droplets/{a['id']}")[0] == 204
    deadline = time.monotonic() + 10
    while process_alive(init_pid) or folder.exists():
        assert time.monotonic() < deadline, "the deleted droplet's namespace or files remain"
        time.sleep(0.1)
    assert not ssh_banner(address(a), timeout=1)
    assert not any(process_alive(pid) for pid in host_pids)
    assert run(cloud, b, "true") == ""


def test_shared_folder_is_read_only_and_its_state_folder_writable(cloud, pair):
    a, _ = pair
    run(cloud, a, ADD_CRAWLUSER)
    assert cloud.ssh(address(a), "touch /opt/localcloud/nope").returncode != 0
    name = f"counter-{a['id']}"
    run(cloud, a, f"echo 1 > /opt/localcloud/state/{name}", user="crawluser")
    assert (cloud.cloud.paths.shared_state / name).read_text() == "1\n"
    assert (
        run(cloud, a, "python3 -c 'import json; json.load(open(\"/opt/localcloud/faults.json\"))'")
        == ""
    )


def test_droplets_clone_the_badger_sett_stand_in_from_the_shared_folder(cloud, pair):
    a, _ = pair
    if not cloud.cloud.paths.sett_repo.exists():
        pytest.fail("start did not build shared/badger-sett.git (runner.localcloud.sett missing?)")
    run(cloud, a, ADD_CRAWLUSER)
    clone = "git clone -q file:///opt/localcloud/badger-sett.git badger-sett && ls badger-sett"
    assert "runscan.sh" in run(cloud, a, clone, user="crawluser").split()


def test_a_droplet_created_without_keys_lets_nobody_in(cloud, tag):
    (droplet,) = cloud.create([f"{tag}-nokey"], tag, ssh_keys=[])
    (droplet,) = cloud.wait_active([droplet["id"]])
    assert ssh_banner(address(droplet))
    done = cloud.ssh(address(droplet), "true")
    assert done.returncode == 255 and "Permission denied" in done.stderr


def test_power_off_stops_the_host_and_power_on_brings_it_back(cloud, pair):
    a, _ = pair

    def act(kind):
        status, _, body = cloud.api("POST", f"droplets/{a['id']}/actions", {"type": kind})
        assert status == 201 and body["action"]["type"] == kind
        deadline = time.monotonic() + 30
        while True:
            action = cloud.api("GET", f"droplets/{a['id']}/actions/{body['action']['id']}")[2]
            if action["action"]["status"] == "completed":
                return cloud.api("GET", f"droplets/{a['id']}")[2]["droplet"]["status"]
            assert time.monotonic() < deadline
            time.sleep(0.1)

    # The collection powers on every droplet it created: that must not make it wait.
    status, _, body = cloud.api("POST", f"droplets/{a['id']}/actions", {"type": "power_on"})
    assert (status, body["action"]["status"]) == (201, "completed")

    run(cloud, a, "touch /root/survives-reboot")
    assert act("power_off") == "off"
    assert not ssh_banner(address(a), timeout=1)
    assert act("power_on") == "active"
    assert run(cloud, a, "ls /root/survives-reboot; pgrep -c sshd").split()[0] == (
        "/root/survives-reboot"
    )


def test_ssh_helper_refuses_addresses_off_loopback(cloud):
    with pytest.raises(pytest.fail.Exception):
        cloud.ssh("192.0.2.1", shlex.quote("true"))
