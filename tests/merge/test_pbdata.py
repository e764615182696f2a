"""Privacy Badger's data, from the shipped snapshot or read out of a checkout's JavaScript."""

import pytest

from runner.errors import UserError
from runner.merge import branch_for_browser, load_pb_data
from runner.merge.jsliteral import literal_after
from runner.merge.pbdata import PbData


def test_snapshot_of_each_branch_names_its_source():
    for branch, commit in (("master", "dd1e9f7"), ("mv3-chrome", "4d272e1")):
        pb_data = load_pb_data(None, branch)
        assert pb_data.source.startswith("snapshot ")
        assert f"branch {branch} commit {commit}" in pb_data.source
        assert len(pb_data.suffixes) > 8000
        assert len(pb_data.yellowlist) > 1000


def test_unknown_branch_is_a_user_error():
    with pytest.raises(UserError, match="valid: master, mv3-chrome"):
        load_pb_data(None, "main")


def test_browser_picks_the_branch():
    assert branch_for_browser("firefox") == "master"
    assert branch_for_browser("chrome") == "mv3-chrome"
    assert branch_for_browser("edge") == "mv3-chrome"
    with pytest.raises(UserError, match="browser 'safari' is unknown"):
        branch_for_browser("safari")


def test_js_literal_with_comments_trailing_commas_and_both_quotes(tmp_path):
    source = tmp_path / "groups.js"
    source.write_text(
        "/* header with [brackets] and 'quotes' */\n"
        "const other = [1, 2];\n"
        "let multiDomainFirstPartiesArray = [\n"
        '  ["a.com", \'b.com\'], // a comment with "quotes" ]\n'
        "  [\n"
        '    "c.com",\n'
        "\n"
        "    'd\\'s.com',\n"
        "  ],\n"
        "];\n"
        "function later() { return multiDomainFirstPartiesArray.length; }\n"
    )
    value = literal_after(source, [["multiDomainFirstPartiesArray", "="]])
    assert value == [["a.com", "b.com"], ["c.com", "d's.com"]]


def test_js_object_literal_after_export_default(tmp_path):
    source = tmp_path / "psl.js"
    source.write_text('// generated\nexport default {\n  "a.b": 1,\n  c: 2,\n  "x.y": 0,\n};\n')
    assert literal_after(source, [["export", "default"]]) == {"a.b": 1, "c": 2, "x.y": 0}


def test_js_that_is_not_plain_data_is_refused_with_the_file_name(tmp_path):
    source = tmp_path / "psl.js"
    source.write_text("export default buildTable({a: 1});\n")
    with pytest.raises(UserError, match=r"psl\.js: unexpected 'buildTable'"):
        literal_after(source, [["export", "default"]])
    source.write_text("export default {a: 1,\n")
    with pytest.raises(UserError, match="ends early"):
        literal_after(source, [["export", "default"]])
    with pytest.raises(UserError, match="no data literal after"):
        literal_after(source, [["multiDomainFirstPartiesArray", "="]])


def test_checkout_missing_a_file_is_named(tmp_path):
    with pytest.raises(UserError, match=r"src/lib/publicSuffixList\.js is missing"):
        load_pb_data(tmp_path, "master")
    with pytest.raises(UserError, match="is not a folder"):
        load_pb_data(tmp_path / "nope", "master")


def test_checkout_with_a_bad_suffix_rule_is_refused(tmp_path):
    (tmp_path / "src" / "lib").mkdir(parents=True)
    (tmp_path / "src" / "js").mkdir(parents=True)
    (tmp_path / "src" / "data").mkdir(parents=True)
    (tmp_path / "src" / "lib" / "publicSuffixList.js").write_text('export default {"com": 7};')
    (tmp_path / "src" / "js" / "multiDomainFirstParties.js").write_text(
        "let multiDomainFirstPartiesArray = [];"
    )
    (tmp_path / "src" / "data" / "pbconfig.json").write_text('{"yellowlist": []}')
    with pytest.raises(UserError, match="'com' has rule 7; valid rules are 0, 1, 2"):
        load_pb_data(tmp_path, "master")


def test_domain_in_two_groups_belongs_to_the_later_group():
    pb_data = PbData({}, [["a.com", "b.com"], ["a.com", "c.com"]], [], "test", "master")
    assert pb_data.group_of["a.com"] == {"a.com", "c.com"}
    assert pb_data.group_of["b.com"] == {"a.com", "b.com"}
