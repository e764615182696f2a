"""The test fixture and the Python control API keep tests safe, loud and leak-free."""

import os
import secrets
import subprocess
import time

import pytest

import runner.localcloud.sett as sett
from runner.localcloud.control import LocalCloud, free_port, net_is_free
from runner.localcloud.droplets import cloud_processes
from runner.localcloud.testing import (
    CloudForTests,
    process_alive,
    require_loopback,
    start_cloud_for_tests,
)


def free_net():
    return next(n for n in range(150, 250) if net_is_free(n))


@pytest.mark.parametrize(
    "url", ["https://api.digitalocean.com/v2", "http://localhost:8650/v2", "http://10.0.0.1/v2"]
)
def test_the_fixture_refuses_a_base_url_off_loopback(url):
    with pytest.raises(pytest.fail.Exception, match="must be a loopback URL"):
        require_loopback(url)


def test_loopback_base_urls_pass():
    require_loopback("http://127.0.0.1:8650/v2")
    require_loopback("http://[::1]:8650/v2")


def test_the_fixture_fails_loudly_without_root_instead_of_skipping(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match="need root"):
        start_cloud_for_tests(tmp_path)
    assert not (tmp_path / "state.json").exists()


@pytest.mark.cloud
def test_env_gives_subprocesses_the_token_url_and_key(local_cloud):
    env = local_cloud.env()
    assert env["DO_API_TOKEN"] == local_cloud.token
    assert env["BSW_LOCALCLOUD_URL"] == local_cloud.base_url
    assert env["ANSIBLE_PRIVATE_KEY_FILE"] == str(local_cloud.key_path)
    assert local_cloud.api("GET", "account", token=env["DO_API_TOKEN"])[0] == 200


@pytest.mark.cloud
def test_start_hands_the_replay_files_to_the_badger_sett_stand_in(tmp_path, monkeypatch):
    calls = []

    def build_repo(dest, replay_results=None, replay_log=None):
        calls.append((dest, replay_results, replay_log))
        dest.mkdir(parents=True)
        return dest

    monkeypatch.setattr(sett, "build_repo", build_repo)
    results, log = tmp_path / "results.json", tmp_path / "log.txt"
    cloud = LocalCloud(
        tmp_path / "c", port=free_port(), net=free_net(), replay_results=results, replay_log=log
    )
    try:
        info = cloud.start()
    finally:
        cloud.stop()
    assert calls == [(cloud.paths.sett_repo, results, log)]
    assert info.sett_repo == cloud.paths.sett_repo


@pytest.mark.cloud
def test_a_cloud_owned_by_a_process_stops_and_deletes_its_droplets_when_it_ends(tmp_path):
    owner = subprocess.Popen(["sleep", "300"])
    token = secrets.token_hex(8)
    cloud = LocalCloud(
        tmp_path / "c", port=free_port(), net=free_net(), token=token, owner_pid=owner.pid
    )
    try:
        info = cloud.start()
        view = CloudForTests(cloud, token)
        tag = view.new_tag()
        view.wait_active([d["id"] for d in view.create([f"{tag}-1"], tag)])
        pids = cloud_processes(cloud.paths)
        assert pids

        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 30
        while process_alive(info.pid) or any(process_alive(p) for p in pids):
            assert time.monotonic() < deadline, "the orphaned cloud kept running"
            time.sleep(0.1)
        assert not cloud.paths.data.exists()
        assert "owner process" in cloud.paths.log_file.read_text()
    finally:
        owner.kill()
        cloud.stop()
