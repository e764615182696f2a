"""build_repo publishes the stand-in as a git repository droplets can clone, idempotently;
its replay index and its faults file say what the stand-in is meant to do."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.errors import UserError
from runner.localcloud.sett import (
    DEFAULT_REPLAY_RESULTS,
    REPO_SOURCE,
    build_repo,
    check_sett_faults,
)
from runner.localcloud.sett.replay import build_index, site_outcome

DEMO = DEFAULT_REPLAY_RESULTS.parent
SHARED = DEMO.parent.parent / "shared"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def load_faults_module():
    spec = importlib.util.spec_from_file_location("sett_faults", REPO_SOURCE / "faults.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_repo_makes_main_and_master_and_a_clonable_checkout(tmp_path):
    repo = build_repo(tmp_path / "badger-sett.git")

    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "master")
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", f"file://{repo}", str(checkout)], check=True)
    assert (checkout / "replay.json").is_file()
    runscan = checkout / "runscan.sh"
    assert runscan.stat().st_mode & 0o111
    assert (checkout / "domain-lists").is_dir()


def test_build_repo_again_without_changes_makes_no_commit(tmp_path):
    repo = build_repo(tmp_path / "badger-sett.git")
    first = git(repo, "rev-parse", "main")
    build_repo(tmp_path / "badger-sett.git")
    assert git(repo, "rev-parse", "main") == first
    assert git(repo, "rev-list", "--count", "main") == "1"


def test_build_repo_with_other_replay_data_adds_a_commit_on_top(tmp_path):
    repo = build_repo(tmp_path / "badger-sett.git")
    first = git(repo, "rev-parse", "main")
    other = tmp_path / "results.json"
    other.write_text(
        json.dumps(
            {
                "action_map": {"t.example": {"heuristicAction": "allow"}},
                "fp_scripts": {},
                "snitch_map": {"t.example": ["s.example"]},
                "tracking_map": {},
                "version": "2026.1.2",
            }
        )
    )
    build_repo(tmp_path / "badger-sett.git", replay_results=other)

    assert git(repo, "rev-parse", "main^") == first
    assert git(repo, "rev-parse", "master") == git(repo, "rev-parse", "main")
    index = json.loads(git(repo, "show", "main:replay.json"))
    assert index["sites"] == {"s.example": {"trackers": {"t.example": None}}}


def test_build_repo_names_a_missing_replay_file(tmp_path):
    with pytest.raises(UserError, match="nope.json"):
        build_repo(tmp_path / "badger-sett.git", replay_results=tmp_path / "nope.json")


def test_index_gives_each_tracker_its_own_hosts_entries_only():
    results = {
        "snitch_map": {"a.com": ["s1"], "b.a.com": ["s2"], "c.net": ["s1"]},
        "tracking_map": {"c.net": {"s1": ["beacon"]}},
        "action_map": {
            "a.com": {"heuristicAction": "allow"},
            "x.b.a.com": {"heuristicAction": "allow"},
            "ba.com": {"heuristicAction": "allow"},
            "c.net": {"heuristicAction": "allow", "dnt": True},
        },
        "fp_scripts": {"cdn.c.net": {"/fp.js": 1}, "notc.net": {"/x.js": 1}},
        "version": "2026.8.21",
    }
    index = build_index(results)

    assert index["sites"]["s1"]["trackers"] == {"a.com": None, "c.net": ["beacon"]}
    assert sorted(index["trackers"]["a.com"]["action_map"]) == ["a.com", "x.b.a.com"]
    assert sorted(index["trackers"]["b.a.com"]["action_map"]) == ["x.b.a.com"]
    assert index["trackers"]["c.net"]["fp_scripts"] == {"cdn.c.net": {"/fp.js": 1}}
    assert "ba.com" not in str(index["trackers"])


def test_replayed_site_log_leaves_out_what_the_stand_in_writes_itself():
    segment = [
        "Clicking on https://s.example/news/1",
        "Likely bug: domain p.example tracking on s.example",
        "Visited s.example on https://s.example/news/1",
        "New domains in snitch_map: t.example",
        "Restarting browser ...",
        "Websocket connected",
        "Successfully restarted",
    ]
    assert site_outcome(segment) == {
        "log": [
            "Clicking on https://s.example/news/1",
            "Visited s.example on https://s.example/news/1",
        ],
        "restart": True,
    }


def test_faults_default_to_none_when_the_file_is_missing(tmp_path):
    faults = load_faults_module()
    settings = faults.load_settings(str(tmp_path / "missing.json"))
    assert settings["site_seconds"] == faults.DEFAULTS["site_seconds"]
    assert not faults.fires("stall_sites", "a.example", settings, str(tmp_path / "state"))


@pytest.mark.parametrize(
    "section, complaint",
    [
        ({"site_second": 1}, "unknown key"),
        ({"site_seconds": "fast"}, "must be a float"),
        ({"stall_sites": 3}, "must be a list"),
        ({"fail_start": [1]}, "must list strings"),
        ({"crash_after_times": -1}, "must not be negative"),
    ],
)
def test_faults_file_mistakes_are_named(tmp_path, section, complaint):
    faults = load_faults_module()
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({"sett": section}))
    with pytest.raises(faults.FaultsFileError, match=complaint):
        faults.load_settings(str(path))


def test_a_bad_faults_file_fails_the_scan_at_start(cloud):
    cloud.set_faults(stall_site=["typo"])
    home = cloud.droplet(["a.example"])
    home.start(1)
    assert home.wait().startswith("Scan failed. See log.")
    assert "faults.json" in home.failed_log().read_text()


def test_fault_times_counts_firings_per_site(tmp_path):
    faults = load_faults_module()
    settings = {**faults.DEFAULTS, "stall_sites": ["a.example"], "stall_sites_times": 2}
    state = str(tmp_path / "state")
    fired = [faults.fires("stall_sites", "a.example", settings, state) for _ in range(3)]
    assert fired == [True, True, False]
    assert not faults.fires("stall_sites", "b.example", settings, state)


def test_check_sett_faults_fills_defaults_and_refuses_mistakes_as_user_errors():
    settings = check_sett_faults({"stall_sites": "a.example", "site_seconds": 1})
    assert settings["stall_sites"] == ["a.example"]
    assert settings["site_seconds"] == 1.0
    assert settings["crash_after_times"] == 1
    with pytest.raises(UserError, match='unknown key "sett.site_second"'):
        check_sett_faults({"site_second": 1})


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared")
def test_demo_data_is_reproduced_byte_for_byte_by_its_script(tmp_path):
    subprocess.run(
        [
            sys.executable,
            str(DEMO / "make_demo_data.py"),
            "--shared",
            str(SHARED),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    for name in ("sites.txt", "replay-results.json", "replay-log.txt"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
