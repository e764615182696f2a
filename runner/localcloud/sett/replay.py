"""Turn a real Badger Sett results file (and optionally its log) into a replay index.

The Badger Sett stand-in does not browse: for each site it visits it looks the
site up in an index computed here, once, when the stand-in's git repository is
built. The index says which trackers the real scan saw on the site (with their
tracking types), which `action_map` and `fp_scripts` entries belong to each of
those trackers, and which log lines the real crawler wrote while on the site
(timeouts, errors, link clicks), so a shard's results and log look like the
real ones. Reading the real log is optional; without it every site is simply
visited.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

INDEX_FORMAT = 1

# `YYYY-MM-DD HH:MM:SS,mmm message`: Python logging's default asctime, as in
# every real Badger Sett log.
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (.*)$")
VISITING = re.compile(r"^Visiting (\d+): (\S+)$")

# Lines the stand-in writes itself, from its own state, instead of replaying
# them: the snitch_map news depends on which sites share a shard, and a
# restart is performed for real (a new browser process), not just logged.
SNITCH_NEWS_PREFIX = "New domains in snitch_map: "
RESTART_LINE = "Restarting browser ..."
AFTER_RESTART_LINES = ("Websocket connected", "Successfully restarted")
END_OF_SITES_PREFIXES = ("Finished scan.", "Saving seed data version", "Saved data to")
# The real crawler's clean-up of misattributions between consecutive sites:
# about the real scan's order of sites, so meaningless in a shard's.
SCAN_ORDER_PREFIXES = ("Likely bug: ", "Deleting domain ", "Deleting blank domain", "Downgrading ")


def read_log_messages(path: Path) -> list[str]:
    """Messages of a Badger Sett log, timestamps removed, continuation lines kept.

    A message that spans lines (an exception text, the crawl summary) is one
    string with embedded newlines.
    """
    messages: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = LOG_LINE.match(line)
        if match:
            messages.append(match.group(2))
        elif messages:
            messages[-1] += "\n" + line
    return messages


def site_segments(messages: list[str]) -> dict[str, list[str]]:
    """For each visited site, the messages logged from its `Visiting` line to the next one."""
    segments: dict[str, list[str]] = {}
    current: list[str] | None = None
    for message in messages:
        visiting = VISITING.match(message)
        if visiting:
            current = segments.setdefault(visiting.group(2), [])
            continue
        if message.startswith(END_OF_SITES_PREFIXES):
            current = None
        if current is not None:
            current.append(message)
    return segments


def site_outcome(segment: list[str]) -> dict:
    """What the stand-in replays for one site: its log messages and whether it restarts."""
    replayed: list[str] = []
    restart = False
    for message in segment:
        if message.startswith(RESTART_LINE):
            # What the real crawler logged after a restart began belongs to
            # the restart, which the stand-in performs and logs itself.
            restart = True
            break
        if message.startswith((SNITCH_NEWS_PREFIX, *SCAN_ORDER_PREFIXES)):
            continue
        if message in AFTER_RESTART_LINES:
            continue
        replayed.append(message)
    return {"log": replayed, "restart": restart}


def build_index(results: dict, segments: dict[str, list[str]] | None = None) -> dict:
    """The replay index of one results file (see the module docstring)."""
    snitch_map: dict[str, list[str]] = results.get("snitch_map", {})
    tracking_map: dict[str, dict[str, list[str]]] = results.get("tracking_map", {})

    sites: dict[str, dict] = {}
    for tracker in sorted(snitch_map):
        for site in snitch_map[tracker]:
            types = tracking_map.get(tracker, {}).get(site)
            entry = sites.setdefault(site, {"trackers": {}})
            entry["trackers"][tracker] = types
    for site, segment in (segments or {}).items():
        sites.setdefault(site, {"trackers": {}}).update(site_outcome(segment))

    trackers = {tracker: {"action_map": {}, "fp_scripts": {}} for tracker in snitch_map}
    for section in ("action_map", "fp_scripts"):
        for host, value in results.get(section, {}).items():
            for tracker in _trackers_of_host(host, trackers):
                trackers[tracker][section][host] = value

    return {
        "format": INDEX_FORMAT,
        "source_version": results.get("version"),
        "sites": sites,
        "trackers": trackers,
    }


def _trackers_of_host(host: str, trackers: dict) -> list[str]:
    # A host belongs to tracker t when it is t or ends with "." + t; walking
    # the host's parent domains finds every such t without scanning them all.
    labels = host.split(".")
    found = []
    for start in range(len(labels)):
        candidate = ".".join(labels[start:])
        if candidate in trackers:
            found.append(candidate)
    return found


def build_index_from_files(replay_results: Path, replay_log: Path | None = None) -> dict:
    results = json.loads(Path(replay_results).read_text(encoding="utf-8"))
    segments = site_segments(read_log_messages(replay_log)) if replay_log else None
    return build_index(results, segments)
