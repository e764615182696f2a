"""Helpers for the merge tests: where the shared data is, small hand-made Privacy Badger
data, a Privacy Badger checkout built from the shared JSON, and results-file builders.
"""

import json
from pathlib import Path

import pytest

from runner.merge.pbdata import PbData

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def shared_data_dir() -> Path:
    data = SHARED / "data"
    if not (data / "golden").is_dir():
        pytest.fail(
            f"the shared data is missing at {data}; the merge tests need ../shared beside the "
            "repository (golden merges, real results files, Privacy Badger data)"
        )
    return data


def small_pb(yellowlist=(), groups=None) -> PbData:
    """A tiny suffix table covering ordinary, wildcard and exception rules."""
    suffixes = {
        "com": 1,
        "net": 1,
        "org": 1,
        "uk": 1,
        "co.uk": 1,
        "io": 1,
        "github.io": 1,
        "jp": 1,
        "kawasaki.jp": 2,
        "city.kawasaki.jp": 0,
    }
    if groups is None:
        groups = [["google.com", "youtube.com", "gstatic.com"], ["amazon.com", "amazon.co.uk"]]
    return PbData(suffixes, groups, list(yellowlist), "hand-made test data", "master")


def write_checkout(root: Path, branch_dir: Path, branch: str) -> Path:
    """A Privacy Badger source checkout holding `branch_dir`'s JSON data as JavaScript.

    The files are shaped like the real ones: an exported object literal for the
    suffix table, an assigned array literal with comments, blank lines and
    trailing commas for the first-party groups, and pbconfig.json's yellowlist.
    """
    suffixes = json.loads((branch_dir / "public_suffixes.json").read_text())
    groups = json.loads((branch_dir / "multi_domain_first_parties.json").read_text())
    yellowlist = json.loads((branch_dir / "yellowlist.json").read_text())["yellowlist"]
    commit = (branch_dir / "SOURCE").read_text().split("commit ")[1].split()[0]

    lib = root / "src" / "lib"
    lib.mkdir(parents=True)
    lines = ["/* Generated from the Public Suffix List; do not edit by hand. */", ""]
    lines.append("export default {")
    lines += [f"  {json.dumps(suffix)}: {rule}," for suffix, rule in suffixes.items()]
    lines += ["};", ""]
    (lib / "publicSuffixList.js").write_text("\n".join(lines))

    js = root / "src" / "js"
    js.mkdir(parents=True)
    lines = [
        "/**",
        ' * Groups of base domains run by one entity [kept as "arrays" here].',
        " */",
        "let multiDomainFirstPartiesArray = [",
    ]
    for number, group in enumerate(groups):
        if number % 3 == 0:
            # One group per line, with a trailing comment, as short groups are written.
            lines.append("  [" + ", ".join(json.dumps(d) for d in group) + "], // short form")
        else:
            lines.append("  [")
            lines.append(f"    {json.dumps(group[0])},")
            lines.append("")
            lines += [f"    '{domain}'," for domain in group[1:]]
            lines.append("  ],")
    lines += [
        "];",
        "",
        "// Lookups are built from the array at load time.",
        "function lookupOf(groups) { let out = {}; return out; }",
        "export default { multiDomainFirstPartiesArray, lookupOf };",
        "",
    ]
    (js / "multiDomainFirstParties.js").write_text("\n".join(lines))

    data = root / "src" / "data"
    data.mkdir(parents=True)
    config = {"cookieblock_list_url": "https://example.invalid/", "yellowlist": yellowlist}
    (data / "pbconfig.json").write_text(json.dumps(config, indent=2))

    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
    (git / "refs" / "heads" / branch).write_text(commit + "\n")
    return root


def without_version(text: bytes) -> list[bytes]:
    return [line for line in text.split(b"\n") if not line.startswith(b'  "version": ')]


def results(snitch_map=None, action_map=None, tracking_map=None, fp_scripts=None) -> dict:
    """A results file's contents; action_map defaults to an allow entry per tracker."""
    snitch_map = snitch_map or {}
    if action_map is None:
        action_map = {tracker: {"heuristicAction": "allow"} for tracker in snitch_map}
    data = {"action_map": action_map, "snitch_map": snitch_map, "version": "2026.1.1"}
    if tracking_map is not None:
        data["tracking_map"] = tracking_map
    if fp_scripts is not None:
        data["fp_scripts"] = fp_scripts
    return data


def write_results_file(path: Path, data) -> Path:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True) if not isinstance(data, str) else data
    )
    return path
