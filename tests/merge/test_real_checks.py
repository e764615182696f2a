"""The checks at the end of the import page, on the real Badger Sett results files."""

import json
import random
from datetime import date

import pytest
from merge_helpers import shared_data_dir

from runner.merge import load_pb_data, merge_files
from runner.merge.importer import clean_snitch_map

RESULTS = shared_data_dir() / "badger-sett"
NOBLOCKING = sorted(p.name for p in RESULTS.glob("results-*-noblocking.json"))
SHARDS = 5


def branch_of(name: str) -> str:
    return "master" if "firefox" in name else "mv3-chrome"


def load(path):
    return json.loads(path.read_text())


def cut_by_site(data: dict, shards: int, seed: int) -> list[dict]:
    """Disjoint shards of one scan: each site and its observations go to one shard."""
    sites = sorted({site for found in data["snitch_map"].values() for site in found})
    random.Random(seed).shuffle(sites)
    shard_of = {site: number % shards for number, site in enumerate(sites)}
    cut = []
    for number in range(shards):
        snitch_map = {}
        for tracker, found in data["snitch_map"].items():
            mine = [site for site in found if shard_of[site] == number]
            if mine:
                snitch_map[tracker] = mine
        tracking_map = {}
        for tracker, per_site in data["tracking_map"].items():
            mine = {s: t for s, t in per_site.items() if shard_of.get(s) == number}
            if mine:
                tracking_map[tracker] = mine
        cut.append(
            {
                "action_map": data["action_map"],
                "fp_scripts": data["fp_scripts"],
                "snitch_map": snitch_map,
                "tracking_map": tracking_map,
                "version": data["version"],
            }
        )
    return cut


def test_real_noblocking_scans_are_present():
    assert len(NOBLOCKING) == 3, f"expected three no-blocking results files in {RESULTS}"


@pytest.mark.parametrize("name", NOBLOCKING)
def test_noblocking_file_merged_alone_gives_back_its_maps(name, tmp_path):
    pb_data = load_pb_data(None, branch_of(name))
    merge_files([RESULTS / name], tmp_path, pb_data=pb_data, today=date(2026, 1, 1))
    original = load(RESULTS / name)
    merged = load(tmp_path / "results-noblocking.json")
    cleaned = clean_snitch_map(original["snitch_map"], pb_data)
    assert merged["snitch_map"] == cleaned

    # Where today's first-party data removed sites from a tracker (the 2025
    # scan predates some groups), its tracking_map is cut to the new site count,
    # keeping every site still listed; everywhere else it comes back unchanged.
    changed = {t for t, sites in original["snitch_map"].items() if cleaned.get(t) != sites}
    assert len(changed) < len(cleaned) // 20
    for tracker, per_site in original["tracking_map"].items():
        if tracker not in changed:
            assert merged["tracking_map"][tracker] == per_site, tracker
        elif tracker in cleaned:
            kept = merged["tracking_map"][tracker]
            assert set(kept) <= set(per_site)
            assert {s for s in per_site if s in cleaned[tracker]} <= set(kept)
            assert len(kept) == min(len(per_site), len(cleaned[tracker]))
    if not changed:
        assert merged["tracking_map"] == original["tracking_map"]


@pytest.mark.parametrize("name", NOBLOCKING)
def test_disjoint_shards_of_one_noblocking_scan_merge_back_to_the_whole(name, tmp_path):
    pb_data = load_pb_data(None, branch_of(name))
    whole = load(RESULTS / name)
    paths = []
    for number, shard in enumerate(cut_by_site(whole, SHARDS, seed=len(name))):
        path = tmp_path / f"shard{number}.json"
        path.write_text(json.dumps(shard))
        paths.append(path)
    merge_files(paths, tmp_path / "out", pb_data=pb_data)
    merged = load(tmp_path / "out" / "results-noblocking.json")["snitch_map"]
    expected = clean_snitch_map(whole["snitch_map"], pb_data)
    assert {t: sorted(s) for t, s in merged.items()} == {t: sorted(s) for t, s in expected.items()}
    assert any(merged[t] != expected[t] for t in expected), "shards should change list order"


def test_trackers_on_three_or_more_sites_are_blocked_only_in_results_json(tmp_path):
    inputs = sorted(RESULTS.glob("results-*.json"))
    report = merge_files(inputs, tmp_path, pb_data=load_pb_data(None, "mv3-chrome"))
    blocking = load(tmp_path / "results.json")
    noblocking = load(tmp_path / "results-noblocking.json")
    prevalent = [t for t, sites in noblocking["snitch_map"].items() if len(sites) >= 3]
    assert len(prevalent) > 500
    blocked = {"block", "cookieblock"}
    for tracker in prevalent:
        assert blocking["action_map"][tracker]["heuristicAction"] in blocked, tracker
        assert noblocking["action_map"][tracker]["heuristicAction"] not in blocked, tracker
    assert all(len(sites) <= 3 for sites in blocking["snitch_map"].values())
    assert report.blocked + report.cookieblocked >= len(prevalent)
