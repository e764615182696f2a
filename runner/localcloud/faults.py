"""Faults a test or a rehearsal injects into the local cloud, and the API's reading of them.

The faults live in `<dir>/shared/faults.json`, one object with an `api` section (read by
the API server on every request) and a `sett` section (read by the Badger Sett stand-in
inside droplets). This module owns the `api` keys: their defaults, their validation, and
the two stateful behaviours they switch on, rate limiting and random server errors.
Everything else about the file (merging `KEY=VALUE` assignments, atomic writes) is shared.
"""

import collections
import json
import math
import os
import random
import threading
import time
from pathlib import Path

from runner.errors import UserError
from runner.fsutil import atomic_write_json

SECTIONS = ("api", "sett")

# The real API's documented limits; reported in headers when no rate-limit fault is set.
REAL_LIMIT_PER_HOUR = 5000
REAL_LIMIT_PER_MINUTE = 250
RATE_WINDOW_HOUR = 3600.0
RATE_WINDOW_MINUTE = 60.0

# Every api key with its default. 0 or null switches a fault off.
API_DEFAULTS = {
    # seconds from create until a droplet reports `active`
    "active_delay": 1.0,
    # seconds after `active` during which the droplet's port 22 refuses connections
    "ssh_refuse_seconds": 0.0,
    # requests allowed per sliding minute / hour before 429 (0 = unlimited)
    "rate_limit_per_minute": 0,
    "rate_limit_per_hour": 0,
    # the account's droplet limit (422 beyond it), also shown by GET /account
    "droplet_limit": 100,
    # share of /v2 requests answered with a 5xx, and the seed that makes them repeatable
    "error_rate": 0.0,
    "error_seed": None,
    # droplet names or ids deleted as if from elsewhere (all droplets if only the delay is set)
    "vanish": [],
    # seconds after creation before the droplets above vanish (null = at once)
    "vanish_after_seconds": None,
}


def _number(minimum=0.0, maximum=math.inf, integer=False, nullable=False):
    def check(value):
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("a number")
        if integer and value != int(value):
            raise ValueError("a whole number")
        if not minimum <= value <= maximum:
            raise ValueError(f"between {minimum:g} and {maximum:g}")
        return int(value) if integer else float(value)

    return check


def _name_list(value):
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in items):
        raise ValueError("a droplet name or id, or a list of them")
    return [str(v) for v in items]


API_CHECKS = {
    "active_delay": _number(),
    "ssh_refuse_seconds": _number(),
    "rate_limit_per_minute": _number(integer=True),
    "rate_limit_per_hour": _number(integer=True),
    "droplet_limit": _number(integer=True),
    "error_rate": _number(maximum=1.0),
    "error_seed": _number(minimum=-math.inf, integer=True, nullable=True),
    "vanish": _name_list,
    "vanish_after_seconds": _number(nullable=True),
}


def check_api_value(key: str, value):
    """The value normalised, or UserError naming the key and what is valid."""
    if key not in API_CHECKS:
        valid = ", ".join(sorted(API_CHECKS))
        raise UserError(f"unknown fault api.{key}; valid api faults: {valid}")
    try:
        return API_CHECKS[key](value)
    except ValueError as e:
        raise UserError(f"fault api.{key}={json.dumps(value)} is invalid: must be {e}") from e


def parse_value(text: str):
    """A value as JSON when it parses (numbers, lists, null), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_faults(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        data = {}
    except ValueError as e:
        raise UserError(f"{path} is not valid JSON ({e}); fix it or use --clear") from e
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a JSON object with sections api and sett")
    return data | {section: dict(data.get(section) or {}) for section in SECTIONS}


def write_faults(path: Path, faults: dict) -> None:
    for key, value in list(faults.get("api", {}).items()):
        faults["api"][key] = check_api_value(key, value)
    atomic_write_json(path, faults)
    # Droplets read the file through a read-only mount as any user.
    os.chmod(path, 0o644)


def apply_assignments(path: Path, assignments: list[str], clear: bool = False) -> dict:
    """Merge `section.key=value` assignments into the faults file and write it atomically."""
    faults = {section: {} for section in SECTIONS} if clear else read_faults(path)
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        section, dot, key = name.partition(".")
        if not sep or not dot or section not in SECTIONS or not key:
            raise UserError(f"fault {assignment!r} must look like api.KEY=VALUE or sett.KEY=VALUE")
        faults[section][key] = parse_value(text)
    write_faults(path, faults)
    return faults


class FaultReader:
    """The api section as the server sees it, re-read whenever the file changes."""

    def __init__(self, path: Path, log=print):
        self.path = path
        self.log = log
        self._stamp = None
        self._api = dict(API_DEFAULTS)
        self.version = 0
        self._lock = threading.Lock()

    def api(self) -> dict:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                self._api = self._load()
                self.version += 1
            return self._api

    def _load(self) -> dict:
        api = dict(API_DEFAULTS)
        try:
            section = json.loads(self.path.read_text()).get("api") or {}
        except FileNotFoundError:
            return api
        except (ValueError, AttributeError) as e:
            self.log(f"faults: ignoring {self.path}: not a JSON object ({e})")
            return api
        for key, value in section.items():
            try:
                api[key] = check_api_value(key, value)
            except UserError as e:
                self.log(f"faults: ignoring {e}")
        return api


class RateLimiter:
    """Sliding one-minute and one-hour windows over accepted requests, as DO counts them."""

    def __init__(self):
        self._minute = collections.deque()
        self._hour = collections.deque()
        self._lock = threading.Lock()

    def admit(self, per_minute: int, per_hour: int, now: float | None = None):
        """(allowed, headers): headers carry the hourly limit, what remains and when it resets."""
        now = time.time() if now is None else now
        with self._lock:
            for window, span in (
                (self._minute, RATE_WINDOW_MINUTE),
                (self._hour, RATE_WINDOW_HOUR),
            ):
                while window and window[0] <= now - span:
                    window.popleft()
            allowed = not (per_hour and len(self._hour) >= per_hour) and not (
                per_minute and len(self._minute) >= per_minute
            )
            if allowed:
                self._minute.append(now)
                self._hour.append(now)
            return allowed, self._headers(per_hour, now)

    def peek(self, per_hour: int, now: float | None = None) -> dict:
        """The headers without counting a request (for answers that are not counted, e.g. 401)."""
        with self._lock:
            return self._headers(per_hour, time.time() if now is None else now)

    def _headers(self, per_hour: int, now: float) -> dict:
        limit = per_hour or REAL_LIMIT_PER_HOUR
        oldest = self._hour[0] if self._hour else now
        return {
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(max(0, limit - len(self._hour))),
            "ratelimit-reset": str(int(oldest + RATE_WINDOW_HOUR)),
        }


SERVER_ERRORS = [
    (500, {"id": "server_error", "message": "Server Error"}),
    (502, {"id": "bad_gateway", "message": "Bad Gateway"}),
    (503, {"id": "service_unavailable", "message": "Service Unavailable"}),
]


class ErrorInjector:
    """Draws which requests fail; the sequence restarts whenever the faults file changes."""

    def __init__(self):
        self._rng = random.Random()
        self._version = None
        self._lock = threading.Lock()

    def draw(self, version: int, rate: float, seed) -> tuple[int, dict] | None:
        with self._lock:
            if version != self._version:
                self._version = version
                self._rng = random.Random(seed)
            if rate <= 0 or self._rng.random() >= rate:
                return None
            return self._rng.choice(SERVER_ERRORS)
