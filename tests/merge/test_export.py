"""The exported file: Badger Sett's format, the merge day as version, and no partial writes."""

import json
from datetime import date

import pytest
from merge_helpers import results

from runner.merge import export
from runner.merge.export import results_pieces, version_for, write_results
from runner.merge.importer import Action, Badger


def exported_dict(badger) -> dict:
    """What the file should hold, built the slow, obvious way."""
    action_map = {}
    for domain, entry in badger.action_map.items():
        fields = {"heuristicAction": entry.heuristic_action}
        if entry.dnt:
            fields["dnt"] = True
        if entry.next_update_time != 0:
            fields["nextUpdateTime"] = entry.next_update_time
        fields.update(entry.extra or {})
        action_map[domain] = fields
    return {
        "action_map": action_map,
        "fp_scripts": badger.fp_scripts,
        "snitch_map": {tracker: list(sites) for tracker, sites in badger.snitch_map.items()},
        "tracking_map": badger.tracking_map,
        "version": "2026.3.9",
    }


def test_version_is_the_merge_day_without_leading_zeros():
    assert version_for(date(2026, 1, 5)) == "2026.1.5"
    assert version_for(date(2026, 12, 24)) == "2026.12.24"


def test_export_drops_false_dnt_zero_next_update_time_and_user_action(pb):
    badger = Badger(pb)
    plain = Action("allow")
    plain.user_action = "user_block"
    dnt = Action("")
    dnt.dnt, dnt.next_update_time = True, 1786437217231
    undefined_dnt = Action("block")
    undefined_dnt.dnt, undefined_dnt.next_update_time = None, 3
    badger.action_map.update({"a.com": plain, "b.com": dnt, "c.com": undefined_dnt})
    data = json.loads("".join(results_pieces(badger, "2026.3.9")))
    assert data["action_map"] == {
        "a.com": {"heuristicAction": "allow"},
        "b.com": {"dnt": True, "heuristicAction": "", "nextUpdateTime": 1786437217231},
        "c.com": {"heuristicAction": "block", "nextUpdateTime": 3},
    }
    assert set(data) == {"action_map", "fp_scripts", "snitch_map", "tracking_map", "version"}


def test_export_text_equals_json_dumps_sorted_two_space_indent_no_final_newline(pb):
    badger = Badger(pb, threshold=float("inf"))
    badger.import_results(
        results(
            {"t.com": ["zz.com", "a.com", "münchen.de"], "b.net": ["x.org"]},
            action_map={
                "cdn.t.com": {"heuristicAction": "block", "nextUpdateTime": 2.5, "k": {"b": [1]}},
                "d.com": {"dnt": True, "heuristicAction": "", "nextUpdateTime": 9},
            },
            tracking_map={"t.com": {"a.com": ["canvas", "beacon"], 'q"uote.com': ["x"]}},
            fp_scripts={"cdn.t.com": {"/b.js": 1, "/a.js": 1}, "x.b.net": {}},
        )
    )
    text = "".join(results_pieces(badger, "2026.3.9"))
    assert text == json.dumps(exported_dict(badger), indent=2, sort_keys=True)


def test_export_of_an_empty_merge_is_valid_json(pb):
    text = "".join(results_pieces(Badger(pb), "2026.3.9"))
    assert text == json.dumps(exported_dict(Badger(pb)), indent=2, sort_keys=True)


def test_interrupted_write_leaves_the_old_file_and_no_temporary(pb, tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old")
    badger = Badger(pb)
    badger.import_results(results({f"t{i}.com": ["a.com"] for i in range(10_000)}))

    def failing_pieces(badger, version):
        yield from ["{\n"] * (export.WRITE_BATCH + 1)
        raise OSError("disk full")

    monkeypatch.setattr(export, "results_pieces", failing_pieces)
    with pytest.raises(OSError):
        write_results(target, badger, "2026.3.9")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
