"""Reading one Badger Sett results file and deciding whether it can be merged.

A shard's `results.json` is read whole, parsed as JavaScript would parse it
(numbers with no fraction become integers), and checked against the shape the
import relies on: `snitch_map` and `action_map` must be there, and every map
must hold the types Privacy Badger expects. A file that fails is named with
one reason, so the merge can stop before writing, or skip it and say so.
"""

import json
from pathlib import Path

REQUIRED_MAPS = ("snitch_map", "action_map")

# Fields of an action_map entry whose type the import depends on; other
# fields are carried over untouched, as Privacy Badger does.
ACTION_FIELD_TYPES = {
    "userAction": ((str,), "a string"),
    "heuristicAction": ((str,), "a string"),
    "dnt": ((bool,), "true/false"),
    "nextUpdateTime": ((int, float), "a number"),
}

# JavaScript prints integral numbers below this without an exponent, so such a
# float in a file reaches the browser's export as an integer.
JS_PLAIN_INTEGER_LIMIT = 1e21


class BadResults(Exception):
    """A results file that cannot be merged; the message is the reason."""


def _kind(value) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), "a number")


def _js_number(text: str):
    value = float(text)
    if value.is_integer() and abs(value) < JS_PLAIN_INTEGER_LIMIT:
        return int(value)
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _string_list_problem(values: list) -> str | None:
    try:
        # join() checks every element is a string at C speed.
        "".join(values)
    except TypeError:
        bad = next(v for v in values if not isinstance(v, str))
        return f"holds {_kind(bad)} where a domain name is expected"
    return None


def _check_snitch_map(snitch_map) -> str | None:
    if type(snitch_map) is not dict:
        return f"snitch_map is {_kind(snitch_map)}, expected an object of tracker: [sites]"
    for tracker, sites in snitch_map.items():
        if type(sites) is not list:
            return f"snitch_map[{tracker!r}] is {_kind(sites)}, expected a list of sites"
        problem = _string_list_problem(sites)
        if problem:
            return f"snitch_map[{tracker!r}] {problem}"
    return None


def _check_action_map(action_map, notable: list) -> str | None:
    if type(action_map) is not dict:
        return f"action_map is {_kind(action_map)}, expected an object of domain: {{...}}"
    field_types = ACTION_FIELD_TYPES
    for domain, entry in action_map.items():
        if type(entry) is not dict:
            return f"action_map[{domain!r}] is {_kind(entry)}, expected an object"
        if len(entry) == 1 and type(entry.get("heuristicAction")) is str:
            # Most entries are just this; nothing more to check or to note.
            continue
        notable.append(domain)
        for name, value in entry.items():
            wanted = field_types.get(name)
            if wanted is not None and type(value) not in wanted[0]:
                return f"action_map[{domain!r}].{name} is {_kind(value)}, expected {wanted[1]}"
    return None


def _check_tracking_map(tracking_map) -> str | None:
    if type(tracking_map) is not dict:
        return f"tracking_map is {_kind(tracking_map)}, expected an object"
    for tracker, sites in tracking_map.items():
        if type(sites) is not dict:
            return f"tracking_map[{tracker!r}] is {_kind(sites)}, expected an object"
        for site, types in sites.items():
            if type(types) is not list:
                return (
                    f"tracking_map[{tracker!r}][{site!r}] is {_kind(types)}, "
                    "expected a list of tracking types"
                )
            if _string_list_problem(types):
                return f"tracking_map[{tracker!r}][{site!r}] holds a non-string tracking type"
    return None


def _check_fp_scripts(fp_scripts) -> str | None:
    if type(fp_scripts) is not dict:
        return f"fp_scripts is {_kind(fp_scripts)}, expected an object"
    for host, paths in fp_scripts.items():
        if type(paths) is not dict:
            return f"fp_scripts[{host!r}] is {_kind(paths)}, expected an object of path: 1"
    return None


def check_results(data, notable: list | None = None) -> str | None:
    """Why `data` cannot be imported, or None when it can.

    `notable`, if given, receives the action_map domains whose entry holds
    more than a heuristicAction (see importer.IncomingFile).
    """
    if notable is None:
        notable = []
    if type(data) is not dict:
        return f"the top level is {_kind(data)}, expected an object"
    missing = [name for name in REQUIRED_MAPS if name not in data]
    if missing:
        return f"no {' and no '.join(missing)} (not a Badger Sett results file?)"
    problem = _check_snitch_map(data["snitch_map"]) or _check_action_map(
        data["action_map"], notable
    )
    if problem:
        return problem
    if "tracking_map" in data:
        problem = _check_tracking_map(data["tracking_map"])
    if not problem and "fp_scripts" in data:
        problem = _check_fp_scripts(data["fp_scripts"])
    return problem


def read_results(path: Path, notable: list | None = None) -> dict:
    """The parsed, checked contents of one results file; raises BadResults with the reason.

    `notable` is passed on to `check_results`.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BadResults("missing") from None
    except IsADirectoryError:
        raise BadResults("is a folder, not a results file") from None
    except OSError as e:
        raise BadResults(f"cannot read it ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise BadResults(f"not UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise BadResults("empty file")
    try:
        data = json.loads(text, parse_float=_js_number, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        if e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string"):
            raise BadResults(f"truncated: the JSON stops at line {e.lineno}") from None
        raise BadResults(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise BadResults(f"not JSON: {e}") from None
    del text
    problem = check_results(data, notable)
    if problem:
        raise BadResults(problem)
    return data
