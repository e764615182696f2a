"""The Badger Sett stand-in keeps the scan contract the swarm relies on (domain.md)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from datetime import datetime

import pytest
from sett_helpers import demo_results, demo_sites

TRACKED = sorted({site for sites in demo_results()["snitch_map"].values() for site in sites})


def parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")


def test_successful_scan_moves_results_and_log_and_says_so_last(cloud):
    sites = TRACKED[:5]
    home = cloud.droplet(sites)
    home.start(len(sites))
    last = home.wait()

    assert last.startswith("Scan successful.")
    checkout = home.checkout
    assert (checkout / "results.json").is_file()
    assert (checkout / "log.txt").is_file()
    assert not (checkout / "docker-out" / "results.json").exists()
    assert not (checkout / "docker-out" / "log.txt").exists()
    assert not (checkout / ".scan_in_progress").exists()
    assert not list(checkout.glob("log.*.txt"))

    visiting = [m for _, m in home.log_messages() if m.startswith("Visiting ")]
    assert visiting == [f"Visiting {n}: {site}" for n, site in enumerate(sites, start=1)]
    assert "  domains to crawl: 5" in (checkout / "log.txt").read_text()


def test_results_file_is_written_as_badger_sett_writes_it(cloud):
    home = cloud.droplet(TRACKED[:3])
    home.start(3)
    home.wait()

    text = (home.checkout / "results.json").read_text()
    results = json.loads(text)
    assert text == json.dumps(results, sort_keys=True, indent=2)
    assert sorted(results) == ["action_map", "fp_scripts", "snitch_map", "tracking_map", "version"]
    today = time.localtime()
    assert results["version"] == f"{today.tm_year}.{today.tm_mon}.{today.tm_mday}"
    assert home.runscan_out()[-1] == f"Scan successful. Seed data version: {results['version']}"


def test_site_list_is_filtered_and_cut_like_the_real_crawler(cloud):
    listed = ["# a comment", "", "a.example", "google.de", "google.com", "x.gov.uk", "b.gov"]
    home = cloud.droplet(listed + ["c.example", "d.example"])
    home.start(3, extra="--exclude=.gov,.gov.??")
    assert home.wait().startswith("Scan successful.")

    visiting = [m for _, m in home.log_messages() if m.startswith("Visiting ")]
    assert visiting == ["Visiting 1: a.example", "Visiting 2: google.com", "Visiting 3: c.example"]


def test_crash_after_a_site_takes_the_failure_path(cloud):
    sites = TRACKED[:4]
    cloud.set_faults(crash_after=[sites[1]])
    home = cloud.droplet(sites)
    home.start(len(sites))
    last = home.wait()

    assert last.startswith("Scan failed. See log.")
    log = home.failed_log()
    assert log.is_file()
    messages = [m for _, m in home.log_messages(log)]
    assert f"Visiting 2: {sites[1]}" in messages
    assert not any(m.startswith("Visiting 3") for m in messages)
    assert "Traceback (most recent call last):" in home.runscan_out()
    assert not (home.checkout / "results.json").exists()
    assert not (home.checkout / "docker-out" / "log.txt").exists()
    assert not (home.checkout / ".scan_in_progress").exists()
    assert home.processes() == {}


def test_a_fault_fires_once_so_a_new_droplet_for_the_shard_succeeds(cloud):
    sites = TRACKED[:3]
    cloud.set_faults(crash_after=[sites[0]])
    first = cloud.droplet(sites)
    first.start(3)
    assert first.wait().startswith("Scan failed.")

    second = cloud.droplet(sites)
    second.start(3)
    assert second.wait().startswith("Scan successful.")


def test_fail_start_fails_before_crawling_for_the_named_droplet(cloud):
    cloud.set_faults(fail_start=[socket.gethostname()])
    home = cloud.droplet(TRACKED[:3])
    home.start(3)

    assert home.wait().startswith("Scan failed. See log.")
    assert "Docker build failed." in home.runscan_out()
    assert "Running scan in Docker..." not in home.runscan_out()
    log_text = home.failed_log().read_text()
    assert "Docker build failed" in log_text
    assert "Visiting" not in log_text
    assert not (home.checkout / ".scan_in_progress").exists()


def test_fail_start_times_sets_how_often_it_fires(cloud):
    cloud.set_faults(fail_start=["*"], fail_start_times=2)
    outcomes = []
    for _ in range(3):
        home = cloud.droplet(TRACKED[:2])
        home.start(2)
        outcomes.append(home.wait().split(".")[0])
    assert outcomes == ["Scan failed", "Scan failed", "Scan successful"]


def test_fail_start_leaves_other_droplets_alone(cloud):
    cloud.set_faults(fail_start=["some-other-droplet"])
    home = cloud.droplet(TRACKED[:2])
    home.start(2)
    assert home.wait().startswith("Scan successful.")


def test_unknown_crawler_argument_takes_the_failure_path(cloud):
    home = cloud.droplet(TRACKED[:2])
    home.start(2, extra="--no-such-option")

    assert home.wait().startswith("Scan failed. See log.")
    assert any("unrecognized arguments: --no-such-option" in line for line in home.runscan_out())
    assert home.failed_log().is_file()
    assert not (home.checkout / "results.json").exists()


@pytest.mark.parametrize(
    "browser, process_name", [("chrome", "chrome"), ("firefox", "firefox-bin"), ("edge", "msedge")]
)
def test_killing_the_stalled_browser_restarts_it_and_the_scan_finishes(
    cloud, browser, process_name
):
    sites = TRACKED[:5]
    stalled = sites[2]
    cloud.set_faults(stall_sites=[stalled])
    home = cloud.droplet(sites)
    home.start(len(sites), browser=browser)

    home.wait_for_log(f"Visiting 3: {stalled}")
    time.sleep(0.5)
    assert "Visiting 4" not in home.live_log()
    assert not home.finished()

    # What the control loop does, restricted to this scan's crawler process.
    crawler = [pid for pid, name in home.processes().items() if name.startswith("python")]
    assert len(crawler) == 1
    assert process_name in home.processes().values()
    subprocess.run(["pkill", "-x", process_name, "-P", str(crawler[0])], check=True)

    assert home.wait().startswith("Scan successful.")
    messages = [m for _, m in home.log_messages()]
    at = messages.index(f"Visiting 3: {stalled}")
    assert messages[at + 1].startswith(f"WebDriverException on {stalled}: ")
    assert messages[at + 2 : at + 5] == [
        "Restarting browser ...",
        "Websocket connected",
        "Successfully restarted",
    ]
    assert messages[at + 5] == f"Visiting 4: {sites[3]}"
    assert "Finished scan. Visited 4 sites and errored on 1 (20.0%)" in messages
    seen_on = {site for tracked in home.results()["snitch_map"].values() for site in tracked}
    assert stalled not in seen_on
    assert seen_on == set(sites) - {stalled}


def test_second_start_is_refused_and_leaves_the_running_scan_alone(cloud):
    sites = TRACKED[:4]
    cloud.set_faults(stall_sites=[sites[1]])
    home = cloud.droplet(sites)
    home.start(len(sites))
    home.wait_for_log(f"Visiting 2: {sites[1]}")

    again = home.run_foreground(len(sites))
    assert again.returncode != 0
    assert (
        home.home / "again.out"
    ).read_text() == "Another Badger Sett instance is still running!\n"
    assert (home.checkout / ".scan_in_progress").is_dir()

    for pid, name in home.processes().items():
        if name == "firefox-bin":
            subprocess.run(["kill", str(pid)], check=True)
    assert home.wait().startswith("Scan successful.")
    assert home.log_messages()[0][1] == "Websocket connected"
    assert sum(m.startswith("Starting new crawl:") for _, m in home.log_messages()) == 1


def test_scan_keeps_running_after_its_session_hangs_up(cloud):
    sites = TRACKED[:4]
    cloud.set_faults(stall_sites=[sites[1]])
    home = cloud.droplet(sites)
    home.start(len(sites))
    home.wait_for_log(f"Visiting 2: {sites[1]}")

    # The end of an SSH session: every process of the scan gets SIGHUP.
    scan = home.processes()
    assert {"bash", "firefox-bin"} <= set(scan.values())
    for pid in scan:
        subprocess.run(["kill", f"-{signal.SIGHUP.value}", str(pid)], check=True)
    time.sleep(0.3)
    assert set(home.processes()) == set(scan)

    for pid, name in scan.items():
        if name == "firefox-bin":
            subprocess.run(["kill", str(pid)], check=True)
    assert home.wait().startswith("Scan successful.")


def test_site_seconds_sets_the_time_each_site_takes(cloud):
    site_seconds = 0.3
    sites = TRACKED[:4]
    cloud.set_faults(site_seconds=site_seconds)
    home = cloud.droplet(sites)
    home.start(len(sites))
    home.wait()

    stamps = [parse_time(t) for t, m in home.log_messages() if m.startswith("Visiting ")]
    finished = [parse_time(t) for t, m in home.log_messages() if m.startswith("Finished scan")]
    times = stamps + finished
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    # Log times have millisecond resolution.
    assert all(site_seconds - 0.002 <= gap < site_seconds + 0.5 for gap in gaps), gaps


def test_screenshots_are_moved_beside_the_results_when_asked_for(cloud):
    home = cloud.droplet(TRACKED[:2])
    home.start(2, extra="--take-screenshots")
    assert home.wait().startswith("Scan successful.")
    assert len(list((home.checkout / "screenshots").glob("*.png"))) == 2


def test_demo_sites_mostly_have_trackers_in_the_replay_data():
    sites = demo_sites()
    assert 350 <= len(sites) <= 450
    assert len(set(sites) & set(TRACKED)) >= 0.8 * len(sites)


def test_a_killed_crawler_takes_its_browser_along_and_fails_the_scan(cloud):
    sites = TRACKED[:3]
    cloud.set_faults(stall_sites=[sites[0]])
    home = cloud.droplet(sites)
    home.start(len(sites))
    home.wait_for_log(f"Visiting 1: {sites[0]}")

    crawler = [pid for pid, name in home.processes().items() if name.startswith("python")]
    subprocess.run(["kill", "-KILL", str(crawler[0])], check=True)

    assert home.wait().startswith("Scan failed. See log.")
    assert home.processes() == {}
    assert f"Visiting 1: {sites[0]}" in home.failed_log().read_text()


def test_load_data_starts_the_scan_from_a_badger_data_file(cloud, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "action_map": {"seed-tracker.example": {"heuristicAction": "allow"}},
                "fp_scripts": {},
                "snitch_map": {"seed-tracker.example": ["elsewhere.example", "ignored.example"]},
                "tracking_map": {},
                "version": "2026.1.1",
            }
        )
    )
    home = cloud.droplet(TRACKED[:2])
    home.start(2, extra=f"--load-data={seed} --load-data-ignore-sites=ignored.example")
    assert home.wait().startswith("Scan successful.")

    results = home.results()
    assert results["snitch_map"]["seed-tracker.example"] == ["elsewhere.example"]
    assert "seed-tracker.example" in results["action_map"]
    assert "seed-tracker.example" not in (home.checkout / "log.txt").read_text()
