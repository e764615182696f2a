"""Fifty droplets run at once, each a host of its own, and all go away when deleted."""

import concurrent.futures
import time
from pathlib import Path

import pytest

from runner.localcloud.testing import process_alive

pytestmark = pytest.mark.cloud

FLEET = 50


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def test_fifty_droplets_run_at_once_and_answer_ssh_as_themselves(cloud, tag):
    started = time.monotonic()
    created = cloud.create([f"{tag}-{i:02d}" for i in range(FLEET)], tag)
    status, _, answer = cloud.api("GET", "account")
    assert status == 200  # the server keeps answering while fifty sandboxes boot
    assert time.monotonic() - started < 10

    fleet = cloud.wait_active([d["id"] for d in created], timeout=180)
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        names = list(
            pool.map(
                lambda d: cloud.ssh(d["networks"]["v4"][0]["ip_address"], "hostname").stdout,
                fleet,
            )
        )
    assert [n.strip() for n in names] == [d["name"] for d in fleet]
    ips = {d["networks"]["v4"][0]["ip_address"] for d in fleet}
    assert len(ips) == FLEET

    folders = [str(cloud.cloud.paths.droplet(d["id"])).encode() for d in fleet]
    pids = [p for p in cloud.sandbox_pids() if any(f in cmdline(p) for f in folders)]
    assert len(pids) >= FLEET
    cloud.delete_tag(tag)
    deadline = time.monotonic() + 60
    while any(process_alive(p) for p in pids) or any(
        cloud.cloud.paths.droplet(d["id"]).exists() for d in fleet
    ):
        assert time.monotonic() < deadline, "deleted droplets left processes or files"
        time.sleep(0.2)
