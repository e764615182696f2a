"""Writing a Badger's stores as a Badger Sett results file, byte for byte.

The format is what Badger Sett writes after exporting Privacy Badger's data:
the four stores plus `version`, JSON with sorted keys, two-space indent,
ASCII escapes and no newline at the end; in each action_map entry `dnt` only
when true, `nextUpdateTime` only when not 0, never `userAction`. The text is
built here directly rather than through `json.dumps(indent=2)`, whose
pure-Python encoder would take more time than the whole merge; the test of
the golden files proves the bytes are the same. The file is written to a
temporary name in the target folder, synced and renamed, so no reader ever
sees a partial file.
"""

import contextlib
import json
from datetime import date
from json.encoder import encode_basestring_ascii as _quote
from pathlib import Path

from runner.fsutil import atomic_writer

# Pieces of text gathered before one write: bounds memory on large merges
# without a system call per tracker.
WRITE_BATCH = 4096

_INDENT = "  "


def version_for(day: date) -> str:
    """Badger Sett's version string for a day: YYYY.M.D without leading zeros."""
    return f"{day.year}.{day.month}.{day.day}"


def _number(value) -> str:
    return str(value) if type(value) is int else json.dumps(value)


def _generic(value, level: int) -> str:
    # Any other JSON value (an unknown action_map field), formatted as
    # json.dumps would format it at this depth.
    text = json.dumps(value, indent=2, sort_keys=True)
    return text.replace("\n", "\n" + _INDENT * level)


def _action_body(entry, cache: dict) -> str:
    # The type is part of the key: 10**21 == 1e21 but they print differently.
    next_update = entry.next_update_time
    key = (entry.heuristic_action, entry.dnt is True, type(next_update), next_update)
    if entry.extra is None:
        body = cache.get(key)
        if body is not None:
            return body
    fields = {"heuristicAction": _quote(entry.heuristic_action)}
    if entry.dnt:
        fields["dnt"] = "true"
    if entry.next_update_time != 0:
        fields["nextUpdateTime"] = _number(entry.next_update_time)
    if entry.extra:
        for name, value in entry.extra.items():
            fields[name] = _generic(value, 3)
    inner = _INDENT * 3
    lines = [f"{inner}{_quote(name)}: {fields[name]}" for name in sorted(fields)]
    body = "{\n" + ",\n".join(lines) + "\n" + _INDENT * 2 + "}"
    if entry.extra is None:
        cache[key] = body
    return body


def _action_map(action_map: dict):
    cache: dict = {}
    outer = _INDENT * 2
    for domain in sorted(action_map):
        yield f"{outer}{_quote(domain)}: {_action_body(action_map[domain], cache)}"


def _fp_scripts(fp_scripts: dict):
    outer = _INDENT * 2
    sep = ": 1,\n" + _INDENT * 3
    for host in sorted(fp_scripts):
        paths = fp_scripts[host]
        if not paths:
            yield f"{outer}{_quote(host)}: {{}}"
            continue
        body = sep.join(map(_quote, sorted(paths)))
        yield f"{outer}{_quote(host)}: {{\n{_INDENT * 3}{body}: 1\n{outer}}}"


def _snitch_map(snitch_map: dict):
    outer = _INDENT * 2
    sep = ",\n" + _INDENT * 3
    for tracker in sorted(snitch_map):
        body = sep.join(map(_quote, snitch_map[tracker]))
        yield f"{outer}{_quote(tracker)}: [\n{_INDENT * 3}{body}\n{outer}]"


def _tracking_map(tracking_map: dict):
    outer = _INDENT * 2
    middle = _INDENT * 3
    inner = _INDENT * 4
    sep = ",\n" + inner
    for tracker in sorted(tracking_map):
        sites = tracking_map[tracker]
        parts = []
        for site in sorted(sites):
            types = sites[site]
            if types:
                body = sep.join(map(_quote, types))
                parts.append(f"{middle}{_quote(site)}: [\n{inner}{body}\n{middle}]")
            else:
                parts.append(f"{middle}{_quote(site)}: []")
        if parts:
            yield f"{outer}{_quote(tracker)}: {{\n" + ",\n".join(parts) + f"\n{outer}}}"
        else:
            yield f"{outer}{_quote(tracker)}: {{}}"


def results_pieces(badger, version: str):
    """The text of a results file for `badger`, in pieces, in file order."""
    sections = (
        ("action_map", _action_map(badger.action_map), badger.action_map),
        ("fp_scripts", _fp_scripts(badger.fp_scripts), badger.fp_scripts),
        ("snitch_map", _snitch_map(badger.snitch_map), badger.snitch_map),
        ("tracking_map", _tracking_map(badger.tracking_map), badger.tracking_map),
    )
    yield "{\n"
    for name, items, store in sections:
        if not store:
            yield f"{_INDENT}{_quote(name)}: {{}},\n"
            continue
        yield f"{_INDENT}{_quote(name)}: {{\n"
        first = True
        for item in items:
            if first:
                first = False
                yield item
            else:
                yield ",\n" + item
        yield f"\n{_INDENT}}},\n"
    yield f"{_INDENT}{_quote('version')}: {_quote(version)}\n}}"


def write_batched(out, pieces) -> None:
    """Write `pieces` to an open text file, joined in batches (fewer, larger writes)."""
    batch = []
    for piece in pieces:
        batch.append(piece)
        if len(batch) >= WRITE_BATCH:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))


@contextlib.contextmanager
def results_writers(paths: list[Path]):
    """Open files for `paths` that replace them all together when the block succeeds.

    Each is written to a temporary file; only when every one is complete are they
    renamed over the old ones, so a full disk never leaves a new results.json
    beside an old results-noblocking.json.
    """
    with contextlib.ExitStack() as stack:
        # Entered last to first, so they are renamed first to last: if the first rename
        # fails (the target is a folder, say), the others are removed, not renamed.
        files = [
            stack.enter_context(atomic_writer(path, "w", encoding="ascii", newline=""))
            for path in reversed(paths)
        ]
        yield files[::-1]


def write_results(path: Path, badger, version: str) -> None:
    """Write `badger`'s stores to `path` in Badger Sett's results format."""
    with atomic_writer(path, "w", encoding="ascii", newline="") as out:
        write_batched(out, results_pieces(badger, version))
