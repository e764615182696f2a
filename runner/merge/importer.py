"""Privacy Badger's "import data" rules, applied to an in-memory Badger with no browser.

`Badger` holds the four stores a results file carries (`snitch_map`,
`action_map`, `tracking_map`, `fp_scripts`) and `Badger.import_results`
folds one checked results file into them exactly as Privacy Badger's import
does: snitch_map first (cleaned of first-party sites beforehand, see
`clean_snitch_map`), then action_map, tracking_map and fp_scripts. The block
threshold is a parameter, so one Badger gives `results.json` (threshold 3)
and another `results-noblocking.json` (no threshold). Each rule's source is
`../shared/docs/privacy-badger-import.md`; tests/merge/test_import_rules.py
proves them one by one.
"""

import math
from itertools import chain, filterfalse

from runner.merge.domains import (
    all_parents_chain,
    base_domain,
    has_odd_names,
    subdomain_chain,
    third_party_sites,
)

BLOCK_THRESHOLD = 3
NO_BLOCK_THRESHOLD = math.inf

NO_TRACKING = "noaction"
ALLOW = "allow"
BLOCK = "block"
COOKIEBLOCK = "cookieblock"
DNT = "dnt"

# How strongly an action binds when a domain and its parents disagree; user
# choices win, then a DNT promise, then what the heuristic learned.
ACTION_SCORES = {
    NO_TRACKING: 0,
    ALLOW: 1,
    BLOCK: 2,
    COOKIEBLOCK: 3,
    DNT: 4,
    "user_allow": 5,
    "user_block": 5,
    "user_cookieblock": 5,
}
LEARNABLE_ACTIONS = frozenset({NO_TRACKING, ALLOW})
# Known actions that stop learning (unknown ones score nothing and do not).
SETTLED_ACTIONS = frozenset(ACTION_SCORES) - LEARNABLE_ACTIONS

# Trackers Privacy Badger never learns from: a consent-management domain and
# per-user DNS names.
NEVER_LEARNED_BASE = "consensu.org"
NEVER_LEARNED_SUFFIX = ".id.opendns.com"

# JavaScript walks keys that look like array indices (0 ... 2**32 - 2) first,
# in numeric order, then the other keys in the order they came.
JS_MAX_ARRAY_INDEX = 2**32 - 2


class Action:
    """One action_map entry. `dnt` is None where JavaScript would hold `undefined`."""

    __slots__ = ("user_action", "dnt", "heuristic_action", "next_update_time", "extra")

    def __init__(self, heuristic_action=""):
        self.user_action = ""
        self.dnt = False
        self.heuristic_action = heuristic_action
        self.next_update_time = 0
        self.extra = None

    @classmethod
    def from_file(cls, entry: dict) -> "Action":
        """A blank entry with every field of `entry` laid over it."""
        heuristic = entry.get("heuristicAction", "")
        # Share one string object per action name across the many entries.
        action = cls(_ACTION_NAMES.get(heuristic, heuristic))
        action.user_action = entry.get("userAction", "")
        action.dnt = entry.get("dnt", False)
        action.next_update_time = entry.get("nextUpdateTime", 0)
        if not _KNOWN_FIELDS.issuperset(entry):
            action.extra = {k: v for k, v in entry.items() if k not in _KNOWN_FIELDS}
        return action

    def action(self, ignore_dnt: bool) -> str:
        if self.user_action:
            return self.user_action
        if self.dnt and not ignore_dnt:
            return DNT
        return self.heuristic_action or NO_TRACKING


_KNOWN_FIELDS = frozenset({"userAction", "dnt", "heuristicAction", "nextUpdateTime"})
_ACTION_NAMES = {name: name for name in ("", *ACTION_SCORES)}


def _is_array_index(key: str) -> bool:
    return (
        key.isascii()
        and key.isdigit()
        and (key == "0" or key[0] != "0")
        and int(key) <= JS_MAX_ARRAY_INDEX
    )


def js_key_order(obj: dict):
    """The keys of a parsed JSON object in the order JavaScript's for-in visits them."""
    if not any(map(str.isdigit, obj)):
        return obj
    indices = sorted((k for k in obj if _is_array_index(k)), key=int)
    if not indices:
        return obj
    index_set = set(indices)
    return indices + [k for k in obj if k not in index_set]


def clean_snitch_map(snitch_map: dict, pb_data) -> dict:
    """The incoming snitch_map with first-party sites removed, and emptied trackers dropped."""
    plain = not has_odd_names(chain.from_iterable(snitch_map.values()))
    cleaned = {}
    for tracker in js_key_order(snitch_map):
        sites = third_party_sites(tracker, snitch_map[tracker], pb_data, plain)
        if sites:
            cleaned[tracker] = sites
    return cleaned


class IncomingFile:
    """One checked results file, with what every Badger of a merge needs worked out once."""

    __slots__ = ("data", "snitch_map", "notable_actions")

    def __init__(self, data: dict, pb_data, notable_actions: list | None = None):
        self.data = data
        self.snitch_map = clean_snitch_map(data["snitch_map"], pb_data)
        # action_map entries holding more than a heuristicAction (userAction,
        # dnt, nextUpdateTime, unknown fields): most entries hold only that.
        # Reading a file notes them already (inputs.check_results).
        if notable_actions is None:
            notable_actions = [
                domain
                for domain, entry in data["action_map"].items()
                if len(entry) != 1 or "heuristicAction" not in entry
            ]
        self.notable_actions = notable_actions


class Badger:
    """A fresh Privacy Badger's learned data, grown one imported results file at a time."""

    def __init__(self, pb_data, threshold=BLOCK_THRESHOLD, ignore_sites=(), strings=None):
        self.pb = pb_data
        self.threshold = threshold
        self.ignore_sites = frozenset(ignore_sites)
        self.action_map: dict[str, Action] = {}
        # tracker base -> {site base: None}: a dict keeps insertion order and
        # answers membership in O(1), where a list would be scanned.
        self.snitch_map: dict[str, dict] = {}
        self.tracking_map: dict[str, dict[str, list]] = {}
        self.fp_scripts: dict[str, dict] = {}
        # One string object per distinct site name and tracking type across all
        # files (shared by the Badgers of one merge): JSON parsing makes a new
        # string for every site in every list, and 100 shards would otherwise
        # keep up to 100 copies of each.
        self.strings = {} if strings is None else strings

    # -- lookups --------------------------------------------------------------

    def best_action(self, host: str) -> str:
        """The strongest action among `host` and its parents down to its base domain."""
        action_map = self.action_map
        base = self.pb.base_cache.get(host)
        if base == host:
            # The common case: a tracker base has no parents to look at.
            entry = action_map.get(host)
            if entry is None:
                return NO_TRACKING
            action = entry.action(ignore_dnt=False)
            return action if action in ACTION_SCORES else NO_TRACKING
        chain = subdomain_chain(host, self.pb)
        best = NO_TRACKING
        best_score = 0
        for domain in reversed(chain):
            entry = action_map.get(domain)
            if entry is None:
                continue
            action = entry.action(ignore_dnt=domain != host)
            score = ACTION_SCORES.get(action)
            # An unknown action has no score and never wins, as in JavaScript
            # where comparing `undefined` is false.
            if score is not None and score >= best_score:
                best, best_score = action, score
        return best

    def _set_heuristic(self, domain: str, action: str) -> None:
        entry = self.action_map.get(domain)
        if entry is None:
            self.action_map[domain] = Action(action)
        else:
            entry.heuristic_action = action

    def blocklist(self, base: str, host: str) -> None:
        """Block (or cookieblock, when yellowlisted) a tracker reaching the threshold."""
        yellow = self.pb.yellow_set
        self._set_heuristic(base, COOKIEBLOCK if base in yellow else BLOCK)
        on_yellowlist = any(name in yellow for name in all_parents_chain(host))
        self._set_heuristic(host, COOKIEBLOCK if on_yellowlist else BLOCK)
        for domain in self.pb.yellow_below.get(base, ()):
            self._set_heuristic(domain, COOKIEBLOCK)

    # -- the import, store by store -------------------------------------------

    def import_results(self, data: dict) -> None:
        """Fold one checked results file in, in Privacy Badger's store order."""
        self.import_file(IncomingFile(data, self.pb))

    def import_file(self, incoming: "IncomingFile") -> None:
        """Fold in a file prepared once for all the Badgers of a merge."""
        data = incoming.data
        self._import_snitch_map(incoming.snitch_map)
        self._import_action_map(data["action_map"], incoming.notable_actions)
        if "tracking_map" in data:
            self._import_tracking_map(data["tracking_map"])
        if "fp_scripts" in data:
            self._import_fp_scripts(data["fp_scripts"])

    def _import_snitch_map(self, snitch_map: dict) -> None:
        ignore = self.ignore_sites
        strings = self.strings
        action_map = self.action_map
        known = self.snitch_map
        threshold = self.threshold
        bases = self.pb.base_cache
        for tracker in snitch_map:
            # Everything that decides whether a tracker can be learned from is
            # the same for all of its sites until it gets blocked, so it is
            # asked once per tracker rather than once per site.
            if bases.get(tracker) == tracker:
                # best_action() inlined for a tracker base, which has no parents.
                entry = action_map.get(tracker)
                if entry is not None:
                    action = entry.user_action or (DNT if entry.dnt else entry.heuristic_action)
                    if action in SETTLED_ACTIONS:
                        continue
            elif self.best_action(tracker) not in LEARNABLE_ACTIONS:
                continue
            if tracker == NEVER_LEARNED_BASE or tracker.endswith(NEVER_LEARNED_SUFFIX):
                continue
            found = snitch_map[tracker]
            if ignore:
                found = [site for site in found if site not in ignore]
                if not found:
                    continue
            sites = known.get(tracker)
            if sites is None:
                # Only a tracker new to snitch_map can lack an entry: entries
                # are made here with the first site and never removed.
                if tracker not in action_map:
                    action_map[tracker] = Action(ALLOW)
                sites = known[tracker] = {}
            if len(sites) + len(found) < threshold:
                # The threshold cannot be reached here: no need to watch it.
                for site in found:
                    if site not in sites:
                        sites[strings.setdefault(site, site)] = None
                continue
            for site in found:
                if site in sites:
                    continue
                sites[strings.setdefault(site, site)] = None
                if len(sites) >= threshold:
                    self.blocklist(tracker, tracker)
                    # Now blocked or cookieblocked, so (barring a nonsense
                    # userAction) no later site of it is learned.
                    if self.best_action(tracker) not in LEARNABLE_ACTIONS:
                        break

    def _import_action_map(self, action_map: dict, notable: list) -> None:
        mine = self.action_map
        snitch_map = self.snitch_map
        pb = self.pb
        bases = pb.base_cache
        # Only an entry with more than a heuristicAction can change an existing
        # entry or come in without its base being tracked.
        for domain in notable:
            entry = action_map[domain]
            existing = mine.get(domain)
            if existing is not None:
                user_action = entry.get("userAction")
                if user_action:
                    existing.user_action = user_action
                next_update = entry.get("nextUpdateTime")
                if next_update is not None and next_update > existing.next_update_time:
                    existing.next_update_time = next_update
                    existing.dnt = entry.get("dnt")
            elif (
                entry.get("userAction")
                or entry.get("dnt")
                or base_domain(domain, pb) in snitch_map
            ):
                mine[domain] = Action.from_file(entry)
        for domain in filterfalse(mine.__contains__, action_map):
            base = bases.get(domain)
            if base is None:
                base = base_domain(domain, pb)
            if base in snitch_map:
                mine[domain] = Action.from_file(action_map[domain])

    def _import_tracking_map(self, tracking_map: dict) -> None:
        snitch_map = self.snitch_map
        mine = self.tracking_map
        ignore = self.ignore_sites
        strings = self.strings
        for tracker, incoming in tracking_map.items():
            sites = snitch_map.get(tracker)
            if sites is None:
                continue
            order = js_key_order(incoming)
            entry = mine.get(tracker)
            # First the sites the tracker is known on, then others up to the
            # tracker's snitch_map count.
            for site in order:
                if site in sites:
                    types = incoming[site]
                    if types:
                        if entry is None:
                            entry = mine[tracker] = {}
                        _add_types(entry, strings.setdefault(site, site), types, strings)
            limit = len(sites)
            if entry is not None and len(entry) >= limit:
                continue
            for site in order:
                if site in sites or site in ignore:
                    continue
                types = incoming[site]
                if types:
                    if entry is None:
                        entry = mine[tracker] = {}
                    _add_types(entry, strings.setdefault(site, site), types, strings)
                # Privacy Badger would fail here on an entry never created
                # (a site with no types); counting it as 0 sites goes on instead.
                if entry is not None and len(entry) >= limit:
                    break

    def _import_fp_scripts(self, fp_scripts: dict) -> None:
        snitch_map = self.snitch_map
        mine = self.fp_scripts
        pb = self.pb
        for host, paths in fp_scripts.items():
            if base_domain(host, pb) not in snitch_map:
                continue
            entry = mine.get(host)
            if entry is None:
                entry = mine[host] = {}
            for path in paths:
                entry[path] = 1

    # -- figures ----------------------------------------------------------------

    def counts(self) -> dict:
        blocked = cookieblocked = 0
        for entry in self.action_map.values():
            if entry.heuristic_action == BLOCK:
                blocked += 1
            elif entry.heuristic_action == COOKIEBLOCK:
                cookieblocked += 1
        return {
            "trackers": len(self.snitch_map),
            "blocked": blocked,
            "cookieblocked": cookieblocked,
            "action_map": len(self.action_map),
        }


def _add_types(entry: dict, site: str, types: list, strings: dict) -> None:
    known = entry.get(site)
    if known is None:
        known = entry[site] = []
    for tracking_type in types:
        if tracking_type not in known:
            known.append(strings.setdefault(tracking_type, tracking_type))
