"""The merge gives the bytes the real Privacy Badger gave, for every golden merge."""

from datetime import date

import pytest
from merge_helpers import shared_data_dir, without_version

from runner.merge import load_pb_data, merge_files

GOLDEN = shared_data_dir() / "golden"
GOLDEN_CASES = sorted(path.name for path in GOLDEN.iterdir() if path.is_dir())
OUTPUTS = ("results.json", "results-noblocking.json")


def golden_inputs(case: str):
    folder = GOLDEN / case
    names = (folder / "inputs.txt").read_text().split()
    results = GOLDEN.parent / "badger-sett"
    return [folder / name if (folder / name).exists() else results / name for name in names]


def test_every_golden_folder_is_covered():
    assert len(GOLDEN_CASES) >= 3, f"expected the three golden merges in {GOLDEN}"


@pytest.mark.parametrize("source", ["snapshot", "checkout"])
@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_merge_equals_browser_merge_byte_for_byte(case, source, tmp_path, mv3_checkout):
    checkout = mv3_checkout if source == "checkout" else None
    pb_data = load_pb_data(checkout, "mv3-chrome")
    assert ("checkout" in pb_data.source) == (source == "checkout")

    merge_files(golden_inputs(case), tmp_path, pb_data=pb_data, today=date(2026, 12, 4))

    for name in OUTPUTS:
        ours = (tmp_path / name).read_bytes()
        theirs = (GOLDEN / case / name).read_bytes()
        assert without_version(ours) == without_version(theirs), f"{case}/{name} differs"
        assert b'\n  "version": "2026.12.4"\n}' in ours


def test_checkout_data_equals_snapshot_data(mv3_checkout):
    from_checkout = load_pb_data(mv3_checkout, "mv3-chrome")
    from_snapshot = load_pb_data(None, "mv3-chrome")
    assert from_checkout.suffixes == from_snapshot.suffixes
    assert from_checkout.groups == from_snapshot.groups
    assert from_checkout.yellowlist == from_snapshot.yellowlist
    assert "branch mv3-chrome commit 4d272e1" in from_checkout.source
    assert str(mv3_checkout) in from_checkout.source


def test_same_inputs_merged_twice_give_identical_bytes(tmp_path):
    inputs = golden_inputs("g3-all-shared")
    pb_data = load_pb_data(None, "mv3-chrome")
    merge_files(inputs, tmp_path / "first", pb_data=pb_data, today=date(2026, 1, 2))
    merge_files(inputs, tmp_path / "second", pb_data=load_pb_data(None, "mv3-chrome"))
    for name in OUTPUTS:
        first = (tmp_path / "first" / name).read_bytes()
        second = (tmp_path / "second" / name).read_bytes()
        assert without_version(first) == without_version(second)
