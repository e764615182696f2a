"""Each rule of Privacy Badger's import, on small hand-made files."""

from merge_helpers import results, small_pb

from runner.merge.importer import (
    BLOCK_THRESHOLD,
    NO_BLOCK_THRESHOLD,
    Action,
    Badger,
    clean_snitch_map,
    js_key_order,
)


def imported(pb, *files, threshold=BLOCK_THRESHOLD, ignore=()):
    badger = Badger(pb, threshold, ignore)
    for data in files:
        badger.import_results(data)
    return badger


def heuristic(badger, domain):
    return badger.action_map[domain].heuristic_action


def sites(badger, tracker):
    return list(badger.snitch_map[tracker])


# -- cleaning of snitch_map ---------------------------------------------------------


def test_clean_snitch_map_drops_first_party_sites_and_emptied_trackers(pb):
    incoming = {
        "tracker.com": ["a.com", "tracker.com", "www.tracker.com", "b.com"],
        "cdn.example.com": ["example.com", "www.example.com"],
    }
    assert clean_snitch_map(incoming, pb) == {"tracker.com": ["a.com", "b.com"]}


def test_clean_snitch_map_drops_sites_of_the_same_first_party_group(pb):
    cleaned = clean_snitch_map({"gstatic.com": ["youtube.com", "a.com", "google.com"]}, pb)
    assert cleaned == {"gstatic.com": ["a.com"]}


def test_cleaned_first_party_sites_never_reach_the_merge(pb):
    badger = imported(pb, results({"gstatic.com": ["youtube.com"], "t.com": ["t.com", "a.com"]}))
    assert list(badger.snitch_map) == ["t.com"]
    assert sites(badger, "t.com") == ["a.com"]
    assert "gstatic.com" not in badger.action_map


# -- snitch_map ---------------------------------------------------------------------


def test_sites_are_appended_in_file_order_across_files(pb):
    first = results({"t.com": ["c.com", "a.com"]})
    second = results({"t.com": ["b.com", "a.com", "d.com"]})
    badger = imported(pb, first, second, threshold=NO_BLOCK_THRESHOLD)
    assert sites(badger, "t.com") == ["c.com", "a.com", "b.com", "d.com"]


def test_tracker_is_blocked_when_its_site_count_reaches_the_threshold(pb):
    first = results({"t.com": ["a.com", "b.com"]})
    second = results({"t.com": ["c.com", "d.com"]})
    blocking = imported(pb, first, second)
    assert sites(blocking, "t.com") == ["a.com", "b.com", "c.com"]
    assert heuristic(blocking, "t.com") == "block"

    noblocking = imported(pb, first, second, threshold=NO_BLOCK_THRESHOLD)
    assert sites(noblocking, "t.com") == ["a.com", "b.com", "c.com", "d.com"]
    assert heuristic(noblocking, "t.com") == "allow"


def test_tracker_below_threshold_stays_allowed(pb):
    badger = imported(pb, results({"t.com": ["a.com", "b.com"]}))
    assert heuristic(badger, "t.com") == "allow"


def test_blocked_tracker_learns_no_more_sites_in_later_files(pb):
    badger = imported(
        pb, results({"t.com": ["a.com", "b.com", "c.com"]}), results({"t.com": ["d.com"]})
    )
    assert sites(badger, "t.com") == ["a.com", "b.com", "c.com"]


def test_new_tracker_gets_an_allow_entry_even_without_one_in_the_file(pb):
    badger = imported(pb, results({"t.com": ["a.com"]}, action_map={}))
    assert heuristic(badger, "t.com") == "allow"


def test_learning_keeps_the_heuristic_action_of_an_existing_entry(pb):
    # A DNT entry comes in, a newer check clears DNT, then the tracker is seen:
    # its entry exists already, so its empty heuristicAction is not set to allow.
    first = results(
        action_map={"t.com": {"dnt": True, "heuristicAction": "", "nextUpdateTime": 5}}
    )
    second = results(action_map={"t.com": {"dnt": False, "nextUpdateTime": 9}})
    third = results({"t.com": ["a.com"]}, action_map={})
    badger = imported(pb, first, second, third)
    assert sites(badger, "t.com") == ["a.com"]
    assert heuristic(badger, "t.com") == ""


def test_tracker_with_dnt_is_not_learned(pb):
    first = results(
        action_map={"t.com": {"dnt": True, "heuristicAction": "", "nextUpdateTime": 5}}
    )
    second = results({"t.com": ["a.com", "b.com", "c.com"], "u.com": ["a.com"]})
    for threshold in (BLOCK_THRESHOLD, NO_BLOCK_THRESHOLD):
        badger = imported(pb, first, second, threshold=threshold)
        assert "t.com" not in badger.snitch_map
        assert badger.action_map["t.com"].dnt is True
        assert sites(badger, "u.com") == ["a.com"]


def test_tracker_with_user_action_is_not_learned(pb):
    first = results(action_map={"t.com": {"userAction": "user_allow", "heuristicAction": ""}})
    second = results({"t.com": ["a.com", "b.com", "c.com"]})
    badger = imported(pb, first, second)
    assert "t.com" not in badger.snitch_map
    assert badger.action_map["t.com"].user_action == "user_allow"


def test_consent_manager_and_opendns_trackers_are_never_learned(pb):
    three = ["a.com", "b.com", "c.com"]
    badger = imported(
        pb,
        results({"consensu.org": three, "x.id.opendns.com": three, "notconsensu.org": three}),
    )
    assert list(badger.snitch_map) == ["notconsensu.org"]
    assert "consensu.org" not in badger.action_map
    assert "x.id.opendns.com" not in badger.action_map


def test_ignored_site_bases_are_not_imported(pb):
    badger = imported(pb, results({"t.com": ["a.com", "b.com", "c.com"]}), ignore={"b.com"})
    assert sites(badger, "t.com") == ["a.com", "c.com"]
    assert heuristic(badger, "t.com") == "allow"


def test_tracker_seen_only_on_ignored_sites_gets_no_entry(pb):
    badger = imported(pb, results({"t.com": ["b.com"]}, action_map={}), ignore={"b.com"})
    assert "t.com" not in badger.snitch_map
    assert "t.com" not in badger.action_map


# -- blocklisting through the yellowlist ---------------------------------------------


def test_yellowlisted_tracker_base_is_cookieblocked():
    pb = small_pb(yellowlist=["t.com"])
    badger = imported(pb, results({"t.com": ["a.com", "b.com", "c.com"]}))
    assert heuristic(badger, "t.com") == "cookieblock"


def test_yellowlisted_subdomains_of_a_blocked_tracker_are_cookieblocked():
    pb = small_pb(yellowlist=["cdn.t.com", "a.b.t.com", "xt.com", "t.com.other.com"])
    badger = imported(pb, results({"t.com": ["a.com", "b.com", "c.com"]}))
    assert heuristic(badger, "t.com") == "block"
    assert heuristic(badger, "cdn.t.com") == "cookieblock"
    assert heuristic(badger, "a.b.t.com") == "cookieblock"
    assert "xt.com" not in badger.action_map
    assert "t.com.other.com" not in badger.action_map


def test_yellowlisted_subdomains_are_not_touched_before_the_threshold():
    pb = small_pb(yellowlist=["cdn.t.com"])
    badger = imported(pb, results({"t.com": ["a.com", "b.com"]}))
    assert "cdn.t.com" not in badger.action_map


def test_tracker_with_a_yellowlisted_parent_name_is_cookieblocked():
    # user.github.io is its own base (github.io is a suffix) and is not on the
    # yellowlist, but its parent github.io is: the host rule, applied after
    # the base rule, cookieblocks it.
    pb = small_pb(yellowlist=["github.io"])
    badger = imported(pb, results({"user.github.io": ["a.com", "b.com", "c.com"]}))
    assert heuristic(badger, "user.github.io") == "cookieblock"


def test_yellowlist_subdomain_scan_matches_a_plain_scan_on_real_data():
    from runner.merge import load_pb_data

    pb = load_pb_data(None, "master")
    for base in ["google.com", "facebook.com", "googleapis.com", "com", "example.org"]:
        expected = sorted(d for d in pb.yellowlist if d.endswith("." + base))
        assert sorted(pb.yellow_below.get(base, ())) == expected, base


# -- best action ----------------------------------------------------------------------


def test_best_action_takes_the_strongest_of_host_and_parents(pb):
    badger = Badger(pb)
    badger.action_map["t.com"] = Action("block")
    badger.action_map["x.t.com"] = Action("allow")
    assert badger.best_action("x.t.com") == "block"
    badger.action_map["x.t.com"] = Action("cookieblock")
    assert badger.best_action("x.t.com") == "cookieblock"
    assert badger.best_action("y.x.t.com") == "cookieblock"


def test_best_action_counts_dnt_only_on_the_host_itself(pb):
    badger = Badger(pb)
    entry = Action("")
    entry.dnt = True
    badger.action_map["t.com"] = entry
    assert badger.best_action("t.com") == "dnt"
    assert badger.best_action("x.t.com") == "noaction"


def test_best_action_ignores_unknown_actions(pb):
    badger = Badger(pb)
    badger.action_map["t.com"] = Action("sideways")
    assert badger.best_action("t.com") == "noaction"


# -- action_map -----------------------------------------------------------------------


def test_existing_entry_takes_user_action_and_keeps_its_heuristic_action(pb):
    first = results({"t.com": ["a.com"]})
    second = results(
        action_map={"t.com": {"userAction": "user_block", "heuristicAction": "block"}}
    )
    third = results({"t.com": ["b.com", "c.com"]})
    badger = imported(pb, first, second, third)
    assert badger.action_map["t.com"].user_action == "user_block"
    assert heuristic(badger, "t.com") == "allow"
    assert sites(badger, "t.com") == ["a.com"]


def test_existing_entry_takes_dnt_only_with_a_newer_next_update_time(pb):
    first = results({"t.com": ["a.com"]}, action_map={"t.com": {"nextUpdateTime": 10}})
    older = results(action_map={"t.com": {"dnt": True, "nextUpdateTime": 5}})
    newer = results(action_map={"t.com": {"dnt": True, "nextUpdateTime": 20}})
    badger = imported(pb, first, older)
    entry = badger.action_map["t.com"]
    assert (entry.dnt, entry.next_update_time) == (None, 10)
    badger.import_results(newer)
    assert (entry.dnt, entry.next_update_time, entry.heuristic_action) == (True, 20, "allow")


def test_existing_entry_loses_dnt_when_the_newer_entry_has_none(pb):
    first = results(
        action_map={"t.com": {"dnt": True, "heuristicAction": "", "nextUpdateTime": 5}}
    )
    second = results(action_map={"t.com": {"heuristicAction": "", "nextUpdateTime": 9}})
    badger = imported(pb, first, second)
    assert not badger.action_map["t.com"].dnt


def test_new_entries_are_taken_only_for_user_action_dnt_or_a_tracked_base(pb):
    # Same file: snitch_map goes in first, so cdn.t.com's base is already tracked.
    data = results(
        {"t.com": ["a.com"]},
        action_map={
            "cdn.t.com": {"heuristicAction": "allow"},
            "other.com": {"heuristicAction": "allow"},
            "u.com": {"userAction": "user_block", "heuristicAction": ""},
            "d.com": {"dnt": True, "heuristicAction": ""},
            "n.com": {"dnt": False, "heuristicAction": "block"},
        },
    )
    badger = imported(pb, data)
    assert sorted(badger.action_map) == ["cdn.t.com", "d.com", "t.com", "u.com"]


def test_new_entry_keeps_the_fields_of_the_file_as_they_are(pb):
    data = results(
        {"t.com": ["a.com"]},
        action_map={"cdn.t.com": {"heuristicAction": "block", "nextUpdateTime": 7, "note": [1]}},
    )
    for threshold in (BLOCK_THRESHOLD, NO_BLOCK_THRESHOLD):
        entry = imported(pb, data, threshold=threshold).action_map["cdn.t.com"]
        assert (entry.heuristic_action, entry.next_update_time) == ("block", 7)
        assert entry.extra == {"note": [1]}


# -- tracking_map ---------------------------------------------------------------------


def test_tracking_map_is_kept_only_for_trackers_in_snitch_map(pb):
    data = results({"t.com": ["a.com"]}, tracking_map={"nope.com": {"a.com": ["canvas"]}})
    assert imported(pb, data).tracking_map == {}


def test_tracking_map_takes_snitch_sites_first_then_others_up_to_the_site_count(pb):
    data = results(
        {"t.com": ["a.com", "b.com"]},
        tracking_map={
            "t.com": {
                "x.com": ["beacon"],
                "a.com": ["canvas"],
                "y.com": ["beacon"],
                "z.com": ["canvas"],
            }
        },
    )
    badger = imported(pb, data)
    assert badger.tracking_map == {"t.com": {"a.com": ["canvas"], "x.com": ["beacon"]}}


def test_tracking_map_second_pass_is_skipped_when_already_full(pb):
    data = results(
        {"t.com": ["a.com"]},
        tracking_map={"t.com": {"x.com": ["beacon"], "a.com": ["canvas"]}},
    )
    assert imported(pb, data).tracking_map == {"t.com": {"a.com": ["canvas"]}}


def test_tracking_map_second_pass_skips_ignored_sites(pb):
    data = results(
        {"t.com": ["a.com", "b.com"]},
        tracking_map={"t.com": {"x.com": ["beacon"], "y.com": ["canvas"]}},
    )
    badger = imported(pb, data, ignore={"x.com"})
    assert badger.tracking_map == {"t.com": {"y.com": ["canvas"]}}


def test_tracking_types_are_added_without_duplicates_across_files(pb):
    first = results({"t.com": ["a.com"]}, tracking_map={"t.com": {"a.com": ["canvas"]}})
    second = results(
        {"t.com": ["a.com"]}, tracking_map={"t.com": {"a.com": ["canvas", "beacon", "canvas"]}}
    )
    badger = imported(pb, first, second)
    assert badger.tracking_map == {"t.com": {"a.com": ["canvas", "beacon"]}}


def test_tracking_map_limit_follows_the_blocked_site_count(pb):
    data = results(
        {"t.com": ["a.com", "b.com", "c.com", "d.com"]},
        tracking_map={"t.com": {s: ["beacon"] for s in ["a.com", "b.com", "c.com", "d.com"]}},
    )
    assert len(imported(pb, data).tracking_map["t.com"]) == 3
    assert len(imported(pb, data, threshold=NO_BLOCK_THRESHOLD).tracking_map["t.com"]) == 4


def test_tracking_map_walks_integer_like_site_keys_first_as_javascript_does(pb):
    data = results(
        {"t.com": ["a.com", "b.com"]},
        tracking_map={"t.com": {"x.com": ["beacon"], "10": ["canvas"], "9": ["canvas"]}},
    )
    assert set(imported(pb, data).tracking_map["t.com"]) == {"9", "10"}


def test_js_key_order_puts_array_indices_first_in_numeric_order():
    obj = {"b": 1, "10": 1, "a": 1, "2": 1, "007": 1, "4294967295": 1, "0": 1}
    assert list(js_key_order(obj)) == ["0", "2", "10", "b", "a", "007", "4294967295"]
    plain = {"b.com": 1, "a.com": 1}
    assert list(js_key_order(plain)) == ["b.com", "a.com"]


# -- fp_scripts ------------------------------------------------------------------------


def test_fp_scripts_are_kept_for_hosts_whose_base_is_tracked(pb):
    first = results(
        {"t.com": ["a.com"]},
        fp_scripts={"cdn.t.com": {"/fp.js": 1}, "other.com": {"/x.js": 1}},
    )
    second = results(fp_scripts={"cdn.t.com": {"/fp.js": 1, "/more.js": 5}})
    badger = imported(pb, first, second)
    assert badger.fp_scripts == {"cdn.t.com": {"/fp.js": 1, "/more.js": 1}}


def test_unknown_keys_of_a_file_are_ignored(pb):
    data = results({"t.com": ["a.com"]})
    data["settings_map"] = {"showCounter": False}
    data["something_new"] = [1, 2]
    badger = imported(pb, data)
    assert sites(badger, "t.com") == ["a.com"]


def test_entries_noted_while_reading_are_those_holding_more_than_a_heuristic_action(tmp_path):
    from merge_helpers import shared_data_dir, write_results_file

    from runner.merge import load_pb_data
    from runner.merge.importer import IncomingFile
    from runner.merge.inputs import read_results

    real = shared_data_dir() / "badger-sett" / "results-2026.8.8-edge-blocking.json"
    small = write_results_file(
        tmp_path / "r.json",
        results(
            {"t.com": ["a.com"]},
            action_map={"a.com": {"heuristicAction": "allow"}, "b.com": {"x": 1}, "c.com": {}},
        ),
    )
    for path in (real, small):
        noted: list = []
        data = read_results(path, noted)
        assert noted == IncomingFile(data, load_pb_data()).notable_actions
    assert noted == ["b.com", "c.com"]
