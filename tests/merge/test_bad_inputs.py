"""Bad results files are named with their reason; the merge writes nothing unless told to skip."""

import json

import pytest
from merge_helpers import results, write_results_file

from runner.errors import UserError
from runner.merge import merge_files
from runner.merge.inputs import BadResults, read_results

GOOD = results({"t.com": ["a.com", "b.com", "c.com"]})


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty file"),
        ("not json at all", "not JSON"),
        ('{"snitch_map": {"t.com": ["a.com"', "truncated"),
        ('{"action_map": {}, "snitch_map": {"t.com": ["a.co', "truncated"),
        ('{"action_map": {}, "snitch_map": {}} trailing', "not JSON"),
        ('{"action_map": {}, "snitch_map": {"t.com": [NaN]}}', "not JSON"),
        ("[1, 2]", "the top level is a list"),
        ('{"action_map": {}}', "no snitch_map"),
        ('{"snitch_map": {}}', "no action_map"),
        ('{"version": "1"}', "no snitch_map and no action_map"),
        ('{"action_map": {}, "snitch_map": []}', "snitch_map is a list"),
        (
            '{"action_map": {}, "snitch_map": {"t.com": "a.com"}}',
            "snitch_map['t.com'] is a string",
        ),
        ('{"action_map": {}, "snitch_map": {"t.com": ["a.com", 3]}}', "holds a number"),
        ('{"action_map": [], "snitch_map": {}}', "action_map is a list"),
        (
            '{"action_map": {"a.com": "allow"}, "snitch_map": {}}',
            "action_map['a.com'] is a string",
        ),
        (
            '{"action_map": {"a.com": {"dnt": "yes"}}, "snitch_map": {}}',
            "action_map['a.com'].dnt is a string, expected true/false",
        ),
        (
            '{"action_map": {"a.com": {"nextUpdateTime": "5"}}, "snitch_map": {}}',
            "nextUpdateTime is a string, expected a number",
        ),
        (
            '{"action_map": {"a.com": {"nextUpdateTime": true}}, "snitch_map": {}}',
            "nextUpdateTime is true/false, expected a number",
        ),
        (
            '{"action_map": {"a.com": {"heuristicAction": null}}, "snitch_map": {}}',
            "heuristicAction is null, expected a string",
        ),
        ('{"action_map": {}, "snitch_map": {}, "tracking_map": []}', "tracking_map is a list"),
        (
            '{"action_map": {}, "snitch_map": {}, "tracking_map": {"t.com": {"a.com": "x"}}}',
            "tracking_map['t.com']['a.com'] is a string",
        ),
        ('{"action_map": {}, "snitch_map": {}, "fp_scripts": {"h.com": []}}', "fp_scripts"),
    ],
)
def test_bad_results_file_is_named_with_its_reason(tmp_path, content, reason):
    path = write_results_file(tmp_path / "results.json", content)
    with pytest.raises(BadResults) as caught:
        read_results(path)
    assert reason in str(caught.value)


def test_results_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "results.json"
    path.write_bytes(b'{"snitch_map": {"\xff": []}, "action_map": {}}')
    with pytest.raises(BadResults, match="not UTF-8"):
        read_results(path)


def test_missing_results_file_is_refused(tmp_path):
    with pytest.raises(BadResults, match="missing"):
        read_results(tmp_path / "nope.json")


def test_integral_floats_are_read_as_javascript_numbers(tmp_path):
    data = results({"t.com": ["a.com"]}, action_map={"t.com": {"nextUpdateTime": 1.5e12}})
    path = write_results_file(tmp_path / "r.json", json.dumps(data))
    assert read_results(path)["action_map"]["t.com"]["nextUpdateTime"] == 1500000000000
    assert type(read_results(path)["action_map"]["t.com"]["nextUpdateTime"]) is int


def test_merge_stops_before_writing_anything_when_an_input_is_bad(tmp_path, pb):
    good = write_results_file(tmp_path / "good.json", GOOD)
    truncated = write_results_file(tmp_path / "cut.json", json.dumps(GOOD)[:40])
    wrong = write_results_file(tmp_path / "wrong.json", {"snitch_map": {}, "action_map": []})
    out = tmp_path / "out"
    with pytest.raises(UserError) as caught:
        merge_files([good, truncated, good, wrong], out, pb_data=pb)
    message = str(caught.value)
    assert "2 results file(s) cannot be merged" in message
    assert f"{truncated}: truncated" in message
    assert f"{wrong}: action_map is a list" in message
    assert "\n" not in message
    assert not out.exists()


def test_merge_with_bad_input_leaves_earlier_outputs_untouched(tmp_path, pb):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("earlier")
    bad = write_results_file(tmp_path / "bad.json", "{")
    good = write_results_file(tmp_path / "good.json", GOOD)
    with pytest.raises(UserError):
        merge_files([good, bad], out, pb_data=pb)
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]
    assert (out / "results.json").read_text() == "earlier"


def test_skip_bad_merges_the_others_and_reports_what_was_skipped(tmp_path, pb):
    good = write_results_file(tmp_path / "good.json", GOOD)
    bad = write_results_file(tmp_path / "bad.json", "nope")
    out = tmp_path / "out"
    report = merge_files([bad, good], out, pb_data=pb, skip_bad=True)
    assert report.inputs == [good]
    assert report.skipped == [(bad, "not JSON: Expecting value at line 1 column 1")]
    assert (report.trackers, report.blocked) == (1, 1)
    log = (out / "merge.log").read_text()
    assert f"{bad}: not JSON" in log
    assert json.loads((out / "results.json").read_text())["snitch_map"] == GOOD["snitch_map"]


def test_merge_with_every_input_bad_is_an_error_even_when_skipping(tmp_path, pb):
    bad = write_results_file(tmp_path / "bad.json", "nope")
    with pytest.raises(UserError, match="none of the 1 results files could be merged"):
        merge_files([bad], tmp_path / "out", pb_data=pb, skip_bad=True)
    assert not (tmp_path / "out").exists()


def test_merge_of_no_inputs_is_an_error(tmp_path, pb):
    with pytest.raises(UserError, match="no results files"):
        merge_files([], tmp_path, pb_data=pb)


def test_unwritable_output_is_one_line_naming_the_file(tmp_path, pb):
    good = write_results_file(tmp_path / "good.json", GOOD)
    out = tmp_path / "out"
    (out / "results.json").mkdir(parents=True)
    with pytest.raises(UserError, match=r"cannot write .*results\.json"):
        merge_files([good], out, pb_data=pb)
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]


def test_a_full_disk_while_writing_leaves_both_old_outputs_unchanged(tmp_path, pb, monkeypatch):
    import errno

    from runner.merge import merge as merge_module

    good = write_results_file(tmp_path / "good.json", GOOD)
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("old blocking\n")
    (out / "results-noblocking.json").write_text("old noblocking\n")
    real_pieces = merge_module.results_pieces
    calls = []

    def pieces_until_the_disk_is_full(badger, version):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pieces(badger, version)

    monkeypatch.setattr(merge_module, "results_pieces", pieces_until_the_disk_is_full)
    with pytest.raises(UserError, match="No space left on device; the old files are unchanged"):
        merge_files([good], out, pb_data=pb)
    assert (out / "results.json").read_text() == "old blocking\n"
    assert (out / "results-noblocking.json").read_text() == "old noblocking\n"
    assert sorted(p.name for p in out.iterdir()) == ["results-noblocking.json", "results.json"]
