"""The run's settings: one YAML file, read and checked before anything is created.

Every optional key has its default in `DEFAULTS`, grouped by concern; the keys
in `REQUIRED` have none. `load_settings` reads the file, `validate` checks each
value and returns a frozen `Settings`. Validation is strict because a bad value
is found cheaply here and expensively on fifty droplets: values that end up in
a shell command on a droplet (branch names, slugs, user names, suffixes) are
held to character sets that need no quoting, and paths must exist.

A problem is reported as one line, `<file>: <key>: <value> <what is wrong>;
valid: <what would be>`, and only the first one found, in this fixed order:
the file itself (readable, YAML, a mapping, no key given twice), then unknown
keys in file order, then missing required values in key order, then each value
in key order (the order of `settings.example.yml`, which is also the order of
the `Settings` fields). The API token is never in the file: it comes from
`DO_API_TOKEN`, and nothing here writes it anywhere.
"""

import difflib
import json
import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from runner.errors import UserError
from runner.sitelist import is_suffix_pattern

DEFAULTS: dict = {
    # DigitalOcean: where droplets are created, what they are, how hard to try.
    "api_base_url": "https://api.digitalocean.com/v2",
    "droplet_name_prefix": "badger-sett",
    "ssh_private_key_file": "~/.ssh/id_ed25519",
    "region": "nyc2",
    "size": "s-1vcpu-1gb",
    "image": "ubuntu-24-04-x64",
    "droplet_tags": [],
    "droplet_create_retries": 5,
    "droplet_create_backoff": 2.0,
    "ssh_wait_timeout": 600,
    # Badger Sett: what each droplet scans and how it is set up.
    "browser": "chrome",
    "exclude_suffixes": "",
    "pb_branch": "master",
    "crawl_user": "crawluser",
    "sett_repo": "https://github.com/EFForg/badger-sett.git",
    "sett_version": "master",
    "extra_crawler_args": [],
    "install_packages": True,
    "seed": None,
    # Control loop: how often to look, when to act, what to expect.
    "stall_timeout": 360,
    "poll_interval": 30,
    "max_retries": 3,
    "sites_per_hour": 300,
    "droplet_start_seconds": 27,
    "output_dir": "output",
    # Merge: where Privacy Badger's data (public suffixes, yellowlist) comes from.
    "pb_checkout": None,
}

REQUIRED = frozenset({"ssh_key", "num_crawlers", "num_sites", "site_list"})

BROWSERS = ("chrome", "firefox", "edge")
CRAWLERS_RANGE = (1, 100)
SITES_RANGE = (1, 1_000_000)
# Seeds go into state.json; above 2**53 a JavaScript reader would round them.
SEED_RANGE = (0, 2**53 - 1)

# Droplet names are hostnames: `<prefix>-<epoch>-<shard>` within 63 characters.
HOSTNAME_MAX = 63
EPOCH_DIGITS = 10
SHARD_DIGITS = 3
PREFIX_MAX = HOSTNAME_MAX - len("-") - EPOCH_DIGITS - len("-") - SHARD_DIGITS

# DigitalOcean's tag rules; the run tag is ours, so a user tag must not look like one.
TAG_MAX = 255
RESERVED_TAG_PREFIX = "bsw-run-"

GIT_REF_MAX = 255
USER_NAME_MAX = 32

# Values quoted in an error line are cut here, so the line stays one short line.
ERROR_VALUE_MAX = 60
REDACTED = "<redacted>"
TOKEN_VARIABLE = "DO_API_TOKEN"

# Keys a user might try for the token: the error says where the token goes instead.
_TOKEN_LIKE_KEYS = {"api_token", "token", "do_api_token", "do_token", "digitalocean_token"}

_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
_PREFIX_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){15}", re.IGNORECASE)
_TAG_RE = re.compile(r"[A-Za-z0-9:_-]+")
_GIT_REF_CHARS_RE = re.compile(r"[A-Za-z0-9._/-]+")
_SUFFIX_CHARS_RE = re.compile(r"[A-Za-z0-9.?,-]*")
_USER_RE = re.compile(rf"[a-z_][a-z0-9_-]{{0,{USER_NAME_MAX - 1}}}")
_REPO_SCHEMES = ("https", "http", "git", "ssh", "file")
_REPO_CHARS = r"A-Za-z0-9._~:/@%+=,-"
_REPO_URL_RE = re.compile(rf"(?:{'|'.join(_REPO_SCHEMES)})://[{_REPO_CHARS}]+")
_REPO_SCP_RE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/@%+=,-]+")


@dataclass(frozen=True)
class Settings:
    """Checked settings; paths are absolute. Field order is the validation order."""

    # DigitalOcean
    api_base_url: str
    droplet_name_prefix: str
    ssh_key: int | str
    ssh_private_key_file: Path
    region: str
    size: str
    image: str
    droplet_tags: tuple[str, ...]
    droplet_create_retries: int
    droplet_create_backoff: float
    ssh_wait_timeout: float
    # Badger Sett
    browser: str
    num_crawlers: int
    num_sites: int
    site_list: Path
    exclude_suffixes: str
    pb_branch: str
    crawl_user: str
    sett_repo: str
    sett_version: str
    extra_crawler_args: tuple[str, ...]
    install_packages: bool
    seed: int | None
    # Control loop
    stall_timeout: float
    poll_interval: float
    max_retries: int
    sites_per_hour: float
    droplet_start_seconds: float
    output_dir: Path
    # Merge
    pb_checkout: Path | None
    # The settings file these came from.
    source: Path

    def public(self, redact_ssh_key: bool = False) -> dict:
        """Every key as plain YAML-able values, for the run folder's copy of the settings.

        Nothing here comes from the environment, so the API token is never in
        it. The SSH key id or fingerprint names a public key and is kept, so
        the copy loads again and the playbooks can create droplets from it;
        `redact_ssh_key=True` replaces it, as badger-swarm's copy did.
        """
        out = {}
        for key in KEYS:
            value = getattr(self, key)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        if redact_ssh_key:
            out["ssh_key"] = REDACTED
        return out

    def exclude_list(self) -> list[str]:
        """The excluded suffix patterns, lowercased, in the order given."""
        return [p.lower() for p in self.exclude_suffixes.split(",") if p]


# Every key, in validation order (the order of the fields above).
KEYS: tuple[str, ...] = tuple(f.name for f in fields(Settings) if f.name != "source")


class _Bad(Exception):
    """A value is wrong: the text after `<file>: <key>: ` of the error line."""


def load_settings(path) -> Settings:
    """Read and check a settings file; any problem is a UserError of one line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"settings file {path} does not exist; valid: a copy of settings.example.yml "
            "with the required keys filled in"
        ) from None
    except IsADirectoryError:
        raise UserError(f"settings file {path} is a folder; valid: a YAML file") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; valid: a YAML file") from None
    except OSError as e:
        raise UserError(f"settings file {path} cannot be read ({e.strerror})") from None

    mapping = _parse_yaml(text, path)
    return validate(mapping, path.resolve().parent, path)


def validate(mapping: dict, base_dir: Path, source: Path) -> Settings:
    """Check every value of `mapping` (relative paths are taken from `base_dir`)."""
    where = str(source)
    if not isinstance(mapping, dict):
        raise UserError(
            f"{where}: holds {_kind_of(mapping)}, not settings; valid: a mapping of keys to "
            "values like settings.example.yml"
        )

    for key in mapping:
        if key not in KEYS:
            raise UserError(f"{where}: {_unknown_key(key)}")

    for key in KEYS:
        if key in REQUIRED and _is_empty(mapping.get(key)):
            check = _CHECKS[key]
            raise UserError(f"{where}: {key}: required and not given; valid: {check.valid}")

    base_dir = Path(base_dir)
    values = {}
    for key in KEYS:
        value = mapping.get(key, DEFAULTS.get(key))
        check = _CHECKS[key]
        if key in mapping and value is None and DEFAULTS.get(key) is not None:
            default = _show(DEFAULTS[key])
            raise UserError(
                f"{where}: {key}: no value given; valid: {check.valid} "
                f"(leave the key out for the default {default})"
            )
        try:
            values[key] = check(value, base_dir)
        except _Bad as bad:
            raise UserError(f"{where}: {key}: {bad}") from None
    return Settings(**values, source=Path(source).resolve())


def api_token(env=os.environ) -> str:
    """The DigitalOcean API token from DO_API_TOKEN; never read from or written to a file."""
    token = env.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise UserError(
            f"{TOKEN_VARIABLE} is not set; export {TOKEN_VARIABLE}=<your DigitalOcean API "
            "token> (the token is never read from the settings file)"
        )
    if any(c.isspace() for c in token):
        raise UserError(
            f"{TOKEN_VARIABLE} contains whitespace; valid: the token alone, as "
            "DigitalOcean shows it"
        )
    return token


# --- reading the file -------------------------------------------------------------------


class _SettingsLoader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML reads it, minus base-60 numbers.

    Without this, an unquoted all-digit fingerprint such as `12:34:56:...`
    would silently turn into one large integer.
    """


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_SettingsLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SettingsLoader.add_implicit_resolver(
    _INT_TAG,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_SettingsLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _parse_yaml(text: str, path: Path):
    # Settings have no use for anchors and aliases, and aliases nested a few levels deep
    # expand to billions of values: they are refused before anything is built.
    try:
        for event in yaml.parse(text, Loader=_SettingsLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                raise UserError(
                    f"{path}: YAML alias at line {mark.line + 1}, column {mark.column + 1}; "
                    "valid: plain values (settings do not use anchors and aliases)"
                )
    except yaml.YAMLError:
        pass  # reported with its position by the full parse below
    loader = _SettingsLoader(text)
    try:
        node = loader.get_single_node()
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicate_keys(node, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}: not valid YAML{at}: {problem}") from None
    except (ValueError, RecursionError) as e:
        # Numbers of thousands of digits, lists nested thousands deep: not settings.
        reason = " ".join(str(e).split())[:120]
        raise UserError(
            f"{path}: not usable as settings ({reason}); valid: plain values"
        ) from None
    finally:
        loader.dispose()
    if data is None:
        raise UserError(
            f"{path}: is empty; valid: the keys of settings.example.yml with the required "
            "ones filled in"
        )
    return data


def _refuse_duplicate_keys(node: yaml.MappingNode, path: Path) -> None:
    # PyYAML keeps the last of two equal keys; a typo'd copy would win silently.
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            raise UserError(
                f'{path}: key "{key_node.value}" is given twice (lines {seen[key_node.value]} '
                f"and {line}); valid: each key once"
            )
        seen[key_node.value] = line


# --- checks, one per key ------------------------------------------------------------------


class _Check:
    """A key's check: `fn(value, base_dir)` returns the clean value or raises _Bad."""

    def __init__(self, fn, valid: str):
        self.fn = fn
        self.valid = valid

    def __call__(self, value, base_dir: Path):
        return self.fn(value, base_dir, self.valid)


def _api_base_url(value, base_dir, valid):
    text = _text(value, valid)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        raise _Bad(f"{_show(value)} is not an API base URL; valid: {valid}") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or not c.isprintable() for c in text)
        or parts.query
        or parts.fragment
    ):
        raise _Bad(f"{_show(value)} is not an API base URL; valid: {valid}")
    if parts.username or parts.password:
        raise _Bad(
            f"{_show(parts.scheme + '://...')} holds a user name or password; valid: {valid} "
            f"(the token comes from {TOKEN_VARIABLE})"
        )
    # Callers append paths like "/droplets"; a trailing slash would double it.
    return text.rstrip("/")


def _droplet_name_prefix(value, base_dir, valid):
    text = _text(value, valid)
    if not _PREFIX_RE.fullmatch(text):
        raise _Bad(f"{_show(value)} is not usable in a droplet name; valid: {valid}")
    if len(text) > PREFIX_MAX:
        raise _Bad(f"{_show(value)} is {len(text)} characters, too long; valid: {valid}")
    return text


def _ssh_key(value, base_dir, valid):
    if _is_int(value):
        if value < 1:
            raise _Bad(f"{_show(value)} is not a key id; valid: {valid}")
        return value
    text = _text(value, valid).strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    if _FINGERPRINT_RE.fullmatch(text):
        return text.lower()
    raise _Bad(f"{_show(value)} is neither a key id nor an MD5 fingerprint; valid: {valid}")


def _existing_file(value, base_dir, valid):
    path = _path(value, base_dir, valid)
    if not path.exists():
        raise _Bad(f"{_show(value)} does not exist (looked for {path}); valid: {valid}")
    if not path.is_file():
        raise _Bad(f"{_show(value)} is not a file ({path}); valid: {valid}")
    return path


def _ssh_private_key_file(value, base_dir, valid):
    path = _existing_file(value, base_dir, valid)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise _Bad(
            f"{_show(value)} can be read by others (mode {mode:o}) and ssh refuses such keys; "
            f"valid: a key file only its owner can read (chmod 600 {path})"
        )
    return path


def _slug(value, base_dir, valid):
    text = _text(value, valid)
    if not _SLUG_RE.fullmatch(text):
        raise _Bad(f"{_show(value)} is not a DigitalOcean slug; valid: {valid}")
    return text


def _droplet_tags(value, base_dir, valid):
    items = _list_of_text(value, valid)
    for item in items:
        if len(item) > TAG_MAX or not _TAG_RE.fullmatch(item):
            raise _Bad(f"{_show(item)} is not a DigitalOcean tag; valid: {valid}")
        if item.startswith(RESERVED_TAG_PREFIX):
            raise _Bad(
                f"{_show(item)} looks like a run tag, which would mix this run's droplets "
                f"into another run's; valid: {valid}"
            )
    return tuple(items)


def _count(lowest: int):
    def check(value, base_dir, valid):
        if not _is_int(value):
            raise _Bad(f"{_show(value)} is not a whole number; valid: {valid}")
        if value < lowest:
            raise _Bad(f"{_show(value)} is out of range; valid: {valid}")
        return value

    return check


def _in_range(bounds: tuple[int, int]):
    def check(value, base_dir, valid):
        if not _is_int(value):
            raise _Bad(f"{_show(value)} is not a whole number; valid: {valid}")
        if not bounds[0] <= value <= bounds[1]:
            raise _Bad(f"{_show(value)} is out of range; valid: {valid}")
        return value

    return check


def _seconds(allow_zero: bool):
    def check(value, base_dir, valid):
        if not _is_number(value):
            raise _Bad(f"{_show(value)} is not a number; valid: {valid}")
        if value < 0 or (value == 0 and not allow_zero):
            raise _Bad(f"{_show(value)} is out of range; valid: {valid}")
        return value

    return check


def _browser(value, base_dir, valid):
    if value not in BROWSERS:
        raise _Bad(f"{_show(value)} is not a browser Badger Sett drives; valid: {valid}")
    return value


def _site_list(value, base_dir, valid):
    return _existing_file(value, base_dir, valid)


def _exclude_suffixes(value, base_dir, valid):
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = ",".join(value)
    text = _text(value, valid, empty_ok=True)
    if not _SUFFIX_CHARS_RE.fullmatch(text):
        raise _Bad(f"{_show(value)} has characters other than a-z 0-9 . ? , -; valid: {valid}")
    for pattern in text.split(","):
        if pattern and not is_suffix_pattern(pattern):
            raise _Bad(f"{_show(pattern)} is not a domain suffix; valid: {valid}")
    return text


def _git_ref(what: str):
    def check(value, base_dir, valid):
        text = _text(value, valid)
        if not _GIT_REF_CHARS_RE.fullmatch(text):
            raise _Bad(f"{_show(value)} is not a valid {what} ({valid})")
        parts = text.split("/")
        if (
            len(text) > GIT_REF_MAX
            or text.startswith("-")
            or text.endswith(".")
            or ".." in text
            or any(not part or part.startswith(".") or part.endswith(".lock") for part in parts)
        ):
            raise _Bad(
                f'{_show(value)} is not a valid {what} (git refuses it: no "..", no empty '
                'or dot-started part, no ".lock" part, no leading "-", no trailing "." or "/")'
            )
        return text

    return check


def _crawl_user(value, base_dir, valid):
    text = _text(value, valid)
    if not _USER_RE.fullmatch(text) or text == "root":
        raise _Bad(f"{_show(value)} is not a usable crawl user name; valid: {valid}")
    return text


def _sett_repo(value, base_dir, valid):
    text = _text(value, valid)
    if _REPO_URL_RE.fullmatch(text) or _REPO_SCP_RE.fullmatch(text):
        return text
    raise _Bad(f"{_show(value)} is not a git repository address; valid: {valid}")


def _extra_crawler_args(value, base_dir, valid):
    if not isinstance(value, list):
        raise _Bad(f"{_show(value)} is not a list; valid: {valid}")
    for index, item in enumerate(value, start=1):
        if not isinstance(item, str):
            raise _Bad(f"item {index} ({_show(item)}) is not a string; valid: {valid}")
        if any(c in item for c in "\0\n\r"):
            raise _Bad(f"item {index} ({_show(item)}) holds a line break or NUL; valid: {valid}")
    return tuple(value)


def _flag(value, base_dir, valid):
    if not isinstance(value, bool):
        raise _Bad(f"{_show(value)} is not true or false; valid: {valid}")
    return value


def _seed(value, base_dir, valid):
    if value is None:
        return None
    return _in_range(SEED_RANGE)(value, base_dir, valid)


def _output_dir(value, base_dir, valid):
    path = _path(value, base_dir, valid)
    if path.exists() and not path.is_dir():
        raise _Bad(f"{_show(value)} exists and is not a folder ({path}); valid: {valid}")
    return path


def _pb_checkout(value, base_dir, valid):
    if value is None:
        return None
    path = _path(value, base_dir, valid)
    if not path.is_dir():
        raise _Bad(f"{_show(value)} is not a folder (looked for {path}); valid: {valid}")
    return path


_CHECKS: dict[str, _Check] = {
    "api_base_url": _Check(
        _api_base_url, f"an http:// or https:// URL like {DEFAULTS['api_base_url']}"
    ),
    "droplet_name_prefix": _Check(
        _droplet_name_prefix,
        f"letters, digits and inner hyphens, at most {PREFIX_MAX} characters, no dots",
    ),
    "ssh_key": _Check(
        _ssh_key,
        "a DigitalOcean SSH key id (a positive whole number) or its MD5 fingerprint "
        "(16 colon-separated hex pairs)",
    ),
    "ssh_private_key_file": _Check(
        _ssh_private_key_file, "the private key file of ssh_key (~ and relative paths allowed)"
    ),
    "region": _Check(_slug, "a DigitalOcean region slug like nyc2 (a-z, 0-9, -)"),
    "size": _Check(_slug, "a DigitalOcean size slug like s-1vcpu-1gb (a-z, 0-9, -)"),
    "image": _Check(_slug, "a DigitalOcean image slug like ubuntu-24-04-x64 (a-z, 0-9, -)"),
    "droplet_tags": _Check(
        _droplet_tags,
        f"a list of tags of letters, digits, : - _ (at most {TAG_MAX} characters), "
        f'none starting with "{RESERVED_TAG_PREFIX}"',
    ),
    "droplet_create_retries": _Check(_count(0), "a whole number, 0 or more"),
    "droplet_create_backoff": _Check(_seconds(False), "seconds, more than 0"),
    "ssh_wait_timeout": _Check(_seconds(False), "seconds, more than 0"),
    "browser": _Check(_browser, ", ".join(BROWSERS)),
    "num_crawlers": _Check(
        _in_range(CRAWLERS_RANGE), f"{CRAWLERS_RANGE[0]:,} to {CRAWLERS_RANGE[1]:,}"
    ),
    "num_sites": _Check(_in_range(SITES_RANGE), f"{SITES_RANGE[0]:,} to {SITES_RANGE[1]:,}"),
    "site_list": _Check(
        _site_list,
        "a plain list (one domain a line) or a Tranco CSV (rank,domain), relative to the "
        "settings file; nothing downloads Tranco, so a list must be given",
    ),
    "exclude_suffixes": _Check(
        _exclude_suffixes,
        "comma separated suffixes of letters, digits, . ? - like .mil,.mil.??,.gov",
    ),
    "pb_branch": _Check(_git_ref("git branch name"), "letters, digits, . _ / - only"),
    "crawl_user": _Check(
        _crawl_user,
        f"a Linux user name: a-z or _, then up to {USER_NAME_MAX - 1} of a-z 0-9 _ -; not root",
    ),
    "sett_repo": _Check(
        _sett_repo,
        "an https://, http://, git://, ssh:// or file:// URL, or user@host:path, "
        "without spaces or shell characters",
    ),
    "sett_version": _Check(_git_ref("git branch, tag or commit"), "letters, digits, . _ / - only"),
    "extra_crawler_args": _Check(
        _extra_crawler_args,
        'a list of strings like ["--timeout", "30"] (quote numbers), no line breaks',
    ),
    "install_packages": _Check(_flag, "true or false"),
    "seed": _Check(_seed, f"null (a random seed) or {SEED_RANGE[0]} to {SEED_RANGE[1]:,}"),
    "stall_timeout": _Check(_seconds(False), "seconds, more than 0"),
    "poll_interval": _Check(_seconds(False), "seconds, more than 0"),
    "max_retries": _Check(_count(0), "a whole number, 0 or more"),
    "sites_per_hour": _Check(_seconds(False), "sites an hour, more than 0"),
    "droplet_start_seconds": _Check(_seconds(True), "seconds, 0 or more"),
    "output_dir": _Check(_output_dir, "a folder path, relative to the settings file"),
    "pb_checkout": _Check(_pb_checkout, "null, or the folder of a Privacy Badger source checkout"),
}


# --- helpers ------------------------------------------------------------------------------


def _unknown_key(key) -> str:
    shown = key if isinstance(key, str) else _show(key)
    if isinstance(key, str) and key.lower() in _TOKEN_LIKE_KEYS:
        return (
            f'unknown key "{shown}": the API token is never read from the settings file; '
            f"remove it and export {TOKEN_VARIABLE} instead"
        )
    close = difflib.get_close_matches(str(key), KEYS, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f'unknown key "{shown}"{hint}; valid keys: {", ".join(KEYS)}'


def _is_empty(value) -> bool:
    return value is None or value == "" or value == []


def _is_int(value) -> bool:
    # YAML `true` is a bool, and a bool is an int to Python; it is never a count here.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _text(value, valid: str, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{_show(value)} is not text; valid: {valid}")
    if not value and not empty_ok:
        raise _Bad(f"no value given; valid: {valid}")
    return value


def _list_of_text(value, valid: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Bad(f"{_show(value)} is not a list of strings; valid: {valid}")
    return value


def _path(value, base_dir: Path, valid: str) -> Path:
    text = _text(value, valid)
    if "\0" in text:
        raise _Bad(f"{_show(value)} holds a NUL character; valid: {valid}")
    try:
        path = Path(text).expanduser()
    except RuntimeError:
        raise _Bad(
            f"{_show(value)} names a home folder that does not exist; valid: {valid}"
        ) from None
    if not path.is_absolute():
        path = base_dir / path
    return Path(os.path.normpath(path))


def _kind_of(value) -> str:
    return "a list" if isinstance(value, list) else "a single value"


def _show(value) -> str:
    """A value as it would be written in YAML, on one line, cut to a readable length."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > ERROR_VALUE_MAX:
        text = text[: ERROR_VALUE_MAX - 3] + "..."
    return text
