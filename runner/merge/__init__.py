"""Merging shard results the way Privacy Badger imports them, without a browser.

The public face of the merge step: `merge_files` (inputs in order, out folder
in, `MergeReport` out), `load_pb_data` (Privacy Badger's suffix table,
first-party groups and yellowlist, from a checkout or the shipped snapshot)
and `base_domain`. `runner merge` (runner/merge/cli.py) and `runner manage`
both go through `merge_files`.
"""

from runner.merge.domains import base_domain, is_third_party
from runner.merge.merge import MergeReport, merge_files
from runner.merge.pbdata import PbData, branch_for_browser, load_pb_data

__all__ = [
    "MergeReport",
    "PbData",
    "base_domain",
    "branch_for_browser",
    "is_third_party",
    "load_pb_data",
    "merge_files",
]
