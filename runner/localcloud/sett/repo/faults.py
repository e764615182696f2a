"""Timing and faults of the Badger Sett stand-in, read from the local cloud's faults file.

The local cloud's operator sets them in the `"sett"` section of
`/opt/localcloud/faults.json` (env `BSW_SETT_FAULTS` overrides the path): how
long a site takes, sites the browser hangs on, sites after which the crawler
dies, droplets whose scan fails at start. Each fault fires a limited number of
times per site or droplet in the cloud's life (once by default, or
`"<key>_times": N`), counted with files in a shared state folder
(env `BSW_SETT_STATE`, default `/opt/localcloud/state`), so a shard started
again on a new droplet gets past the fault. A missing file means no faults.

Run as a script, `faults.py fail-start` tells runscan.sh whether this droplet's
scan fails at start: exit 0 if it does, 1 if not, 2 if the faults file is bad.
Standard library only: it runs on droplets with the system Python.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys

FAULTS_FILE = "/opt/localcloud/faults.json"
STATE_DIR = "/opt/localcloud/state"
SECTION = "sett"

# Every setting of the stand-in, with its default. Lists name sites
# (stall_sites, crash_after) or droplet hostnames, "*" for every droplet
# (fail_start).
DEFAULTS = {
    # Seconds a site takes; small so a demo of a few hundred sites on four
    # droplets finishes in minutes (the real crawler takes about 18 s).
    "site_seconds": 0.3,
    # Seconds a browser restart takes.
    "restart_seconds": 0.5,
    "stall_sites": [],
    "crash_after": [],
    "fail_start": [],
}
FAULT_KEYS = ("stall_sites", "crash_after", "fail_start")
DEFAULT_TIMES = 1
WILDCARD = "*"


class FaultsFileError(Exception):
    """The faults file exists but does not say something the stand-in can use."""


def default_settings() -> dict:
    settings = dict(DEFAULTS)
    for key in FAULT_KEYS:
        settings[key + "_times"] = DEFAULT_TIMES
    return settings


def check_section(section: object, origin: str = "faults") -> dict:
    """The settings a `"sett"` section makes, or FaultsFileError naming the first mistake."""
    if not isinstance(section, dict):
        raise FaultsFileError(f'{origin}: "{SECTION}" must be an object')
    settings = default_settings()
    for key, value in section.items():
        name = f'"{SECTION}.{key}"'
        if key not in settings:
            valid = ", ".join(sorted(settings))
            raise FaultsFileError(f"{origin}: unknown key {name}; valid keys: {valid}")
        expected = type(settings[key])
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is list and isinstance(value, str):
            value = [value]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise FaultsFileError(f"{origin}: {name} must be a {expected.__name__}, not {value!r}")
        if expected is list and not all(isinstance(item, str) for item in value):
            raise FaultsFileError(f"{origin}: {name} must list strings")
        if expected in (int, float) and value < 0:
            raise FaultsFileError(f"{origin}: {name} must not be negative")
        settings[key] = value
    return settings


def load_settings(path: str | None = None) -> dict:
    """The stand-in's settings: the defaults, overridden by the faults file's section."""
    path = path or os.environ.get("BSW_SETT_FAULTS") or FAULTS_FILE
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except FileNotFoundError:
        return default_settings()
    except (OSError, ValueError) as e:
        raise FaultsFileError(f"{path}: cannot read it as JSON: {e}") from e
    if not isinstance(document, dict):
        raise FaultsFileError(f"{path}: must hold a JSON object")
    return check_section(document.get(SECTION, {}), path)


def fires(key: str, name: str, settings: dict, state_dir: str | None = None) -> bool:
    """Whether fault `key` fires now for site or hostname `name`, counting the firing.

    Called once per occasion (a visit, a scan start); a fault listed for
    `name` fires on its first `<key>_times` occasions in the cloud's life.
    """
    targets = settings.get(key, [])
    if name not in targets and not (key == "fail_start" and WILDCARD in targets):
        return False

    state_dir = state_dir or os.environ.get("BSW_SETT_STATE") or STATE_DIR
    os.makedirs(state_dir, exist_ok=True)
    safe_name = re.sub(r"[^A-Za-z0-9.-]", "_", name)
    # One file per firing, created exclusively: droplets scanning at the same
    # time never both take the last firing.
    for number in range(1, settings.get(key + "_times", DEFAULT_TIMES) + 1):
        marker = os.path.join(state_dir, f"sett.{key}.{safe_name}.{number}")
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return True
    return False


def hostname() -> str:
    # A local-cloud droplet's hostname is its name.
    return socket.gethostname()


def main(argv: list[str]) -> int:
    if argv != ["fail-start"]:
        print("usage: faults.py fail-start", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
        return 0 if fires("fail_start", hostname(), settings) else 1
    except (FaultsFileError, OSError) as e:
        print(f"faults: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
