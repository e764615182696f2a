"""The stand-in's shards together find exactly what the real scan found on their sites,
and write it down in the real crawler's log format."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from sett_helpers import FAST, LOG_LINE, ScanHome, demo_results, demo_sites

from runner.localcloud.sett import build_repo

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "badger-sett"
REAL_LOGS = sorted(SHARED_DATA.glob("log-*.txt"))
NUM_SHARDS = 4

# Every kind of message the stand-in may write, as the real crawler writes it.
MESSAGE_KINDS = {
    "summary": r"Starting new crawl:",
    "websocket": r"Websocket connected",
    "visiting": r"Visiting \d+: \S+",
    "visited": r"Visited \S+( on \S+)?",
    "clicking": r"Clicking on \S+",
    "link failed": r"Failed to visit link \(\w+\): .*",
    "timed out": r"Timed out loading \S+( on \S+)?",
    "exception": r"\w+Exception on \S+: .*",
    "error loading": r"\w*Error loading \S+:.*",
    "retrying": r"Retrying \(Retry\(.*",
    "extension page timeout": r"Timed out loading extension page",
    "extension page error": r"\w*(Exception|Error) loading extension page.*",
    "new trackers": r"New domains in snitch_map: \S+(, \S+)*",
    "restarting": r"Restarting browser \.\.\.",
    "restarted": r"Successfully restarted",
    "finished": r"Finished scan\. Visited \d+ sites and errored on \d+ \(\d+\.\d%\)",
    "saving": r"Saving seed data version \d{4}\.[1-9]\d?\.[1-9]\d? \.\.\.",
    "saved": r"Saved data to results\.json",
}
# Messages that may carry more lines after their first.
MULTI_LINE_KINDS = {"summary", "exception", "error loading", "extension page error"}


def messages_of(text: str) -> list[tuple[str, list[str]]]:
    """(first line without timestamp, continuation lines) of each log message."""
    messages: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        match = LOG_LINE.match(line)
        if match:
            messages.append((match.group(2), []))
        else:
            assert messages, f"log starts with an untimestamped line: {line!r}"
            messages[-1][1].append(line)
    return messages


def kind_of(first_line: str) -> str | None:
    for kind, pattern in MESSAGE_KINDS.items():
        if re.fullmatch(pattern, first_line):
            return kind
    return None


def run_shards(tmp: Path, repo: Path, sites: list[str], faults: dict) -> list[ScanHome]:
    faults_file = tmp / "faults.json"
    faults_file.write_text(json.dumps({"sett": {**FAST, **faults}}))
    shards = [sites[k::NUM_SHARDS] for k in range(NUM_SHARDS)]
    homes = []
    for k, shard in enumerate(shards, start=1):
        home = ScanHome(tmp / f"droplet{k}", repo, faults_file, tmp / "state")
        home.write_sites(shard)
        home.start(len(shard))
        homes.append(home)
    try:
        for home in homes:
            assert home.wait().startswith("Scan successful."), home.runscan_out()
    finally:
        for home in homes:
            home.kill_leftovers()
    return homes


def observations(results: dict, sites: set[str]) -> dict[str, set]:
    """What a results file says about `sites`, as comparable sets, computed from scratch."""
    snitch = {
        (t, s) for t, found_on in results["snitch_map"].items() for s in found_on if s in sites
    }
    trackers = {t for t, _ in snitch}
    tracking = {
        (t, s, tuple(types))
        for t, by_site in results["tracking_map"].items()
        for s, types in by_site.items()
        if s in sites
    }

    def of_seen_tracker(host: str) -> bool:
        return any(host == t or host.endswith("." + t) for t in trackers)

    actions = {
        (h, json.dumps(v, sort_keys=True))
        for h, v in results["action_map"].items()
        if of_seen_tracker(h)
    }
    scripts = {
        (h, path, n)
        for h, paths in results["fp_scripts"].items()
        if of_seen_tracker(h)
        for path, n in paths.items()
    }
    return {"snitch": snitch, "tracking": tracking, "actions": actions, "scripts": scripts}


def everything_in(results: dict) -> dict[str, set]:
    """All a results file says, unfiltered, as the same comparable sets."""
    return {
        "snitch": {(t, s) for t, found_on in results["snitch_map"].items() for s in found_on},
        "tracking": {
            (t, s, tuple(types))
            for t, by_site in results["tracking_map"].items()
            for s, types in by_site.items()
        },
        "actions": {(h, json.dumps(v, sort_keys=True)) for h, v in results["action_map"].items()},
        "scripts": {
            (h, path, n) for h, paths in results["fp_scripts"].items() for path, n in paths.items()
        },
    }


def union_of(homes: list[ScanHome]) -> dict[str, set]:
    union: dict[str, set] = {
        "snitch": set(),
        "tracking": set(),
        "actions": set(),
        "scripts": set(),
    }
    for home in homes:
        for key, values in everything_in(home.results()).items():
            union[key] |= values
    return union


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, sett_repo) -> list[ScanHome]:
    """The demo site list scanned as four shards at once."""
    return run_shards(tmp_path_factory.mktemp("demo-run"), sett_repo, demo_sites(), {})


def test_demo_shards_together_hold_exactly_the_data_sets_observations(demo_run):
    expected = observations(demo_results(), set(demo_sites()))
    assert expected["snitch"] and expected["tracking"] and expected["actions"]
    assert expected["scripts"]
    assert union_of(demo_run) == expected


def test_each_shard_holds_only_what_its_own_sites_showed(demo_run):
    for home in demo_run:
        shard = home.checkout.joinpath("domain-lists", "domains.txt").read_text().split()
        results = home.results()
        seen_on = [s for found_on in results["snitch_map"].values() for s in found_on]
        assert set(seen_on) <= set(shard)
        assert {s for by_site in results["tracking_map"].values() for s in by_site} <= set(shard)
        # Sites are listed in the order the shard visited them.
        for found_on in results["snitch_map"].values():
            assert found_on == sorted(found_on, key=shard.index)


def test_replay_of_a_whole_real_scan_restricts_it_to_the_scanned_sites(tmp_path):
    real = SHARED_DATA / "results-2026.8.11-chrome-noblocking.json"
    results = json.loads(real.read_text())
    repo = build_repo(tmp_path / "badger-sett.git", replay_results=real)
    tracked = sorted({s for found_on in results["snitch_map"].values() for s in found_on})
    sites = tracked[::40] + ["not-in-the-data.example"]

    homes = run_shards(tmp_path, repo, sites, {})

    expected = observations(results, set(sites))
    assert len(expected["snitch"]) > len(sites)
    assert union_of(homes) == expected


def test_every_log_line_has_the_real_logs_format(demo_run, cloud):
    sites = demo_sites()[:3]
    cloud.set_faults(stall_sites=[sites[1]])
    stalled = cloud.droplet(sites)
    stalled.start(len(sites))
    stalled.wait_for_log(f"Visiting 2: {sites[1]}")
    for pid, name in stalled.processes().items():
        if name == "firefox-bin":
            subprocess.run(["kill", str(pid)], check=True)
    assert stalled.wait().startswith("Scan successful.")

    kinds_seen = set()
    for home in [*demo_run, stalled]:
        text = (home.checkout / "log.txt").read_text()
        stamps = [m.group(1) for m in map(LOG_LINE.match, text.splitlines()) if m]
        assert stamps == sorted(stamps)
        for first, more in messages_of(text):
            kind = kind_of(first)
            assert kind, f"not a Badger Sett log message: {first!r}"
            assert not more or kind in MULTI_LINE_KINDS, (first, more)
            kinds_seen.add(kind)
        summary = next(more for first, more in messages_of(text) if first.startswith("Starting"))
        assert "  browser: Firefox (ETP off)" in summary
        assert "  blocking: off" in summary
        shard = home.checkout.joinpath("domain-lists", "domains.txt").read_text().split()
        assert f"  domains to crawl: {len(shard)}" in summary

    # The demo replays errors, timeouts, link clicks and a browser restart.
    assert {
        "visited",
        "clicking",
        "timed out",
        "exception",
        "restarting",
        "restarted",
    } <= kinds_seen


@pytest.mark.skipif(not REAL_LOGS, reason="needs ../shared/data/badger-sett")
def test_message_kinds_all_occur_in_real_badger_sett_logs():
    kinds_in_real_logs = set()
    for path in REAL_LOGS:
        for first, _ in messages_of(path.read_text()):
            kinds_in_real_logs.add(kind_of(first))
    assert set(MESSAGE_KINDS) <= kinds_in_real_logs
