"""The sites of a run: read a site list, pick the sites to scan, cut them into shards.

A site list is either a plain list (one domain a line, `#` starts a comment,
blank lines ignored) or a Tranco CSV (`rank,domain` a line), told apart by its
first line that is not blank or a comment. Every line that is not a domain is
reported with its line number and skipped, never guessed at: a shard holding a
URL or an IP address costs a crawler visit that can only fail. Selection then
drops excluded suffixes and Google's country sites and keeps the top
`num_sites`; sharding shuffles with a recorded seed so that every shard gets a
mix of easy and hard sites, and splits into shards whose sizes differ by at
most one, so no droplet is started for a remainder of a few sites.

What counts as a domain (after lowercasing and removing one trailing dot): two
or more labels separated by dots, each label 1 to 63 letters, digits and
hyphens, not starting or ending with a hyphen (so `xn--` labels of
internationalised names pass, `_` and raw Unicode do not), at most 253
characters in all, and a last label that is not all digits (so an IPv4 address
is not a domain).
"""

import ipaddress
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import UserError

# The limits of a DNS name (RFC 1035), applied to every line.
DOMAIN_MAX = 253
LABEL_MAX = 63

# Only the first bytes are looked at to tell a text file from a binary one.
BINARY_SNIFF_BYTES = 8192

# The one Google site kept; its country sites (google.de, google.co.uk) are the
# same site again and would spend a visit each on what was already learned.
GOOGLE_KEPT = "google.com"
GOOGLE_LABEL = "google"

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_RE = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")
_TRANCO_LINE_RE = re.compile(r"\s*\d+\s*,")
_TRANCO_HEADER = "rank,domain"
_PORT_RE = re.compile(r":\d*$")
_PATTERN_ALLOWED_RE = re.compile(r"\.?[a-z0-9?-]+(?:\.[a-z0-9?-]+)*")


@dataclass
class SiteList:
    """What a site list file held: the domains in file order, and what was left out."""

    sites: list[str]
    skipped: list[tuple[int, str, str]] = field(default_factory=list)
    duplicates: int = 0
    # "plain" or "tranco": how the file was read, for the confirmation screen.
    kind: str = "plain"


def read_site_list(path) -> SiteList:
    """Read a plain list or a Tranco CSV; report bad lines as (line number, text, reason)."""
    path = Path(path)
    text = _read_text(path)
    lines = text.split("\n")
    first = _first_content_line(lines)
    kind = _detect_kind(lines[first - 1]) if first else "plain"

    sites: list[str] = []
    seen: set[str] = set()
    skipped: list[tuple[int, str, str]] = []
    duplicates = 0
    fullmatch = _DOMAIN_RE.fullmatch
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if "#" in line:
            line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if kind == "tranco":
            if number == first and line.lower() == _TRANCO_HEADER:
                continue
            rank, sep, line = line.partition(",")
            line = line.strip()
            if not sep or not rank.strip().isdigit():
                skipped.append((number, raw.rstrip("\r"), "not a rank,domain line"))
                continue
        domain = line.lower()
        if domain.endswith("."):
            domain = domain[:-1]
        # Fast path first: almost every line of a real list is a plain domain.
        if (
            not fullmatch(domain)
            or len(domain) > DOMAIN_MAX
            or domain.rpartition(".")[2].isdigit()
        ):
            skipped.append((number, raw.rstrip("\r"), _why_not_domain(domain)))
            continue
        if domain in seen:
            duplicates += 1
            continue
        seen.add(domain)
        sites.append(domain)
    return SiteList(sites=sites, skipped=skipped, duplicates=duplicates, kind=kind)


def _why_not_domain(text: str) -> str:
    """Say in a few words why `text` (already lowercased) is not a domain; "" if it is one."""
    if "://" in text:
        return "has a scheme; give the bare domain"
    if "/" in text:
        return "has a path; give the bare domain"
    if any(c.isspace() for c in text):
        return "contains a space"
    if _is_ip_address(text):
        return "is an IP address, not a domain"
    if _PORT_RE.search(text):
        return "has a port; give the bare domain"
    if "." not in text:
        return "is a single label; a domain has at least two"
    if len(text) > DOMAIN_MAX:
        return f"is longer than {DOMAIN_MAX} characters"
    labels = text.split(".")
    if any(not label for label in labels):
        return "has an empty label"
    for label in labels:
        if len(label) > LABEL_MAX:
            return f"has a label longer than {LABEL_MAX} characters"
        if not re.fullmatch(r"[a-z0-9-]+", label):
            return "has characters other than letters, digits, hyphens and dots"
        if label.startswith("-") or label.endswith("-"):
            return "has a label starting or ending with a hyphen"
    if labels[-1].isdigit():
        return "ends in an all-digit label"
    return ""


def suffix_excluded(domain: str, pattern: str) -> bool:
    """Whether `domain` ends in the excluded suffix `pattern`.

    `?` matches exactly one character of a label (never a dot). A pattern with
    a leading dot is a plain suffix: `.mil` excludes `army.mil`, `.gov.??`
    excludes `x.gov.uk` but not `x.gov.com` nor `gov.uk` itself. A pattern
    without a leading dot matches whole labels: `gov.uk` excludes `gov.uk` and
    `x.gov.uk` but not `mygov.uk`. Matching ignores case.
    """
    return _pattern_regex(pattern).search(domain.lower()) is not None


def select_sites(sites: list[str], num_sites: int, exclude_suffixes: list[str]) -> list[str]:
    """Drop excluded suffixes and Google's country sites, keep order, take the first num_sites."""
    excluded = None
    patterns = [p for p in exclude_suffixes if p]
    if patterns:
        excluded = re.compile("|".join(f"(?:{_pattern_regex(p).pattern})" for p in patterns))

    selected: list[str] = []
    for domain in sites:
        if len(selected) >= num_sites:
            break
        if domain.partition(".")[0] == GOOGLE_LABEL and domain != GOOGLE_KEPT:
            continue
        if excluded is not None and excluded.search(domain):
            continue
        selected.append(domain)
    return selected


def make_shards(sites: list[str], num_crawlers: int, seed: int) -> list[list[str]]:
    """Shuffle a copy of `sites` with `seed` and cut it into min(num_crawlers, sites) shards.

    The first `len(sites) % shards` shards get one site more than the others,
    so sizes differ by at most one and the remainder never needs its own droplet.
    """
    if num_crawlers < 1:
        raise ValueError(f"num_crawlers must be at least 1, not {num_crawlers}")
    shuffled = list(sites)
    random.Random(seed).shuffle(shuffled)

    count = min(num_crawlers, len(shuffled))
    if count == 0:
        return []
    size, remainder = divmod(len(shuffled), count)
    shards = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < remainder else 0)
        shards.append(shuffled[start:end])
        start = end
    return shards


def is_suffix_pattern(pattern: str) -> bool:
    """Whether `pattern` is one excluded suffix: labels of a-z 0-9 - ?, an optional leading dot."""
    return _PATTERN_ALLOWED_RE.fullmatch(pattern.lower()) is not None


def _pattern_regex(pattern: str) -> re.Pattern:
    pattern = pattern.lower()
    if not is_suffix_pattern(pattern):
        raise ValueError(f"not an excluded suffix pattern: {pattern!r}")
    body = "".join("[^.]" if c == "?" else re.escape(c) for c in pattern.lstrip("."))
    if pattern.startswith("."):
        return re.compile(rf"\.{body}$")
    return re.compile(rf"(?:^|\.){body}$")


def _is_ip_address(text: str) -> bool:
    candidate = text.strip("[]")
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(
            f"site list {path} does not exist; valid: a plain list or a Tranco CSV file"
        ) from None
    except IsADirectoryError:
        raise UserError(
            f"site list {path} is a folder; valid: a plain list or a Tranco CSV file"
        ) from None
    except OSError as e:
        raise UserError(f"site list {path} cannot be read ({e.strerror})") from None
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        raise UserError(
            f"site list {path} is a binary file; valid: a text file, one domain "
            "a line, or a Tranco CSV (rank,domain)"
        )
    # A stray non-UTF-8 byte spoils one line (reported as not a domain), not the list.
    return data.decode("utf-8-sig", errors="replace")


def _first_content_line(lines: list[str]) -> int:
    for number, raw in enumerate(lines, start=1):
        if raw.split("#", 1)[0].strip():
            return number
    return 0


def _detect_kind(first_line: str) -> str:
    line = first_line.split("#", 1)[0].strip()
    if line.lower() == _TRANCO_HEADER or _TRANCO_LINE_RE.match(line):
        return "tranco"
    return "plain"
