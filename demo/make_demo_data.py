"""Cut the demo data set from the real scan data in ../shared, reproducibly.

Writes `sites.txt` (a few hundred real sites, most of which had trackers in
the chosen scan), `replay-results.json` (that scan's results restricted to
exactly what replaying those sites needs, still in Badger Sett's format) and
`replay-log.txt` (the lines that scan's log has for those sites). The Badger
Sett stand-in of the local cloud replays them; see README.md beside this file.

Usage: python demo/make_demo_data.py [--shared ../shared] [--out demo]
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parent.parent / "shared"

SOURCE_RESULTS = "data/badger-sett/results-2026.8.21-firefox-noblocking.json"
SOURCE_LOG = "data/badger-sett/log-2026.8.21-firefox-noblocking.txt"
SOURCE_SITES = "data/sites/sites-from-scans.txt"

# The mix of the demo: mostly sites the scan saw trackers on (so the merged
# results are worth looking at), some without (as in any real scan).
SITES_WITH_TRACKERS = 340
SITES_WITHOUT_TRACKERS = 60
# Sites whose real visit ended in a browser restart, kept so the demo shows one.
ALWAYS_INCLUDE = ("livestream.com",)
SEED = 20260821

TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (.*)$")
VISITING = re.compile(r"^Visiting \d+: (\S+)$")


def log_blocks(lines: list[str]) -> dict[str, list[str]]:
    """The real log's lines per visited site, from its `Visiting` line to the next one."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        match = TIMESTAMPED.match(line)
        if match:
            visiting = VISITING.match(match.group(1))
            if visiting:
                current = blocks.setdefault(visiting.group(1), [])
            elif match.group(1).startswith("Finished scan."):
                current = None
        if current is not None:
            current.append(line)
    return blocks


def choose_sites(site_list: list[str], visited: set[str], tracked: set[str]) -> list[str]:
    """The demo sites, in the order of the shared site list."""
    candidates = [site for site in site_list if site in visited and site not in ALWAYS_INCLUDE]
    with_trackers = [site for site in candidates if site in tracked]
    without_trackers = [site for site in candidates if site not in tracked]

    rng = random.Random(SEED)
    chosen = set(ALWAYS_INCLUDE)
    chosen.update(rng.sample(with_trackers, SITES_WITH_TRACKERS))
    chosen.update(rng.sample(without_trackers, SITES_WITHOUT_TRACKERS))
    return [site for site in site_list if site in chosen]


def restrict_results(results: dict, sites: set[str]) -> dict:
    """The results file cut down to what the given sites' replay needs."""
    snitch_map = {}
    for tracker, tracker_sites in results["snitch_map"].items():
        kept = [site for site in tracker_sites if site in sites]
        if kept:
            snitch_map[tracker] = kept

    tracking_map = {}
    for tracker, by_site in results["tracking_map"].items():
        kept = {site: types for site, types in by_site.items() if site in sites}
        if kept and tracker in snitch_map:
            tracking_map[tracker] = kept

    def of_trackers(host: str) -> bool:
        labels = host.split(".")
        return any(".".join(labels[i:]) in snitch_map for i in range(len(labels)))

    return {
        "action_map": {h: v for h, v in results["action_map"].items() if of_trackers(h)},
        "fp_scripts": {h: v for h, v in results["fp_scripts"].items() if of_trackers(h)},
        "snitch_map": snitch_map,
        "tracking_map": tracking_map,
        "version": results["version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    results = json.loads((args.shared / SOURCE_RESULTS).read_text(encoding="utf-8"))
    log_lines = (args.shared / SOURCE_LOG).read_text(encoding="utf-8").splitlines()
    site_list = (args.shared / SOURCE_SITES).read_text(encoding="utf-8").split()

    blocks = log_blocks(log_lines)
    tracked = {site for sites in results["snitch_map"].values() for site in sites}
    sites = choose_sites(site_list, set(blocks), tracked)

    chosen = set(sites)
    replay_log = [line for site, block in blocks.items() if site in chosen for line in block]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sites.txt").write_text("\n".join(sites) + "\n", encoding="utf-8")
    # Badger Sett's own formatting, so the slice is byte-compatible with a real file.
    (args.out / "replay-results.json").write_text(
        json.dumps(restrict_results(results, chosen), sort_keys=True, indent=2), encoding="utf-8"
    )
    (args.out / "replay-log.txt").write_text("\n".join(replay_log) + "\n", encoding="utf-8")
    print(f"{len(sites)} sites, {len(replay_log)} log lines written to {args.out}")


if __name__ == "__main__":
    main()
