"""Base domains, third parties and subdomain chains, decided as Privacy Badger decides them.

Every rule of the merge that compares a tracker with a site goes through this
module: the base domain of a host (public suffix table, with IP addresses
left as they are), whether a site is third party to a tracker (same base, or
one multi-domain first party), and the chains of parent names that action
lookups and the yellowlist walk. The behaviour, edge cases included, is the
one `../shared/docs/privacy-badger-import.md` states; see tests/merge/.
"""

import re
from itertools import chain

# Suffix-table value used when the walk runs out of dots without a match:
# the last label counts as an ordinary suffix.
DEFAULT_SUFFIX_RULE = 1

_DIGITS = frozenset("0123456789")

# One part of a dotted IPv4 address as Privacy Badger accepts it: decimal
# 0-255 (leading zeros allowed up to three digits), 0x plus one or two hex
# digits, or a 0 followed by three octal digits.
_V4_PART = r"(?:25[0-5]|2[0-4]\d|[01]?\d\d?|0x[0-9a-f]{1,2}|0[0-7]{3})"
_V4_DOTTED = re.compile(rf"{_V4_PART}(?:\.{_V4_PART}){{3}}", re.IGNORECASE | re.ASCII)
_V4_HEX = re.compile(r"0x[0-9a-f]{8}", re.IGNORECASE | re.ASCII)
_V4_DECIMAL = re.compile(r"[0-9]+", re.ASCII)

# A dotted quad at the end of an IPv6 address ("::ffff:1.2.3.4"), decimal only.
# (\Z, not $: "$" would also match before a final newline, JavaScript's does not.)
_DEC_PART = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_V4_TAIL = re.compile(rf"(?:{_DEC_PART}\.){{3}}{_DEC_PART}\Z")
_LEADING_ZERO = re.compile(r"0[0-9]")
_NOT_V6_CHAR = re.compile(r"[^0-9a-f:]", re.IGNORECASE | re.ASCII)
# Shapes Privacy Badger rejects: a group of five or more hex digits, three
# colons in a row, a single trailing colon, or a two-character ":x".
_BAD_V6 = re.compile(r"[0-9a-f]{5,}|:{3,}|[^:]:\Z|\A:[^:]\Z", re.IGNORECASE | re.ASCII)
_V6_MAX_COLONS_COMPRESSED = 8
_V6_COLONS_FULL = 7
_V6_TAIL_COLONS = 2


def is_ipv4(host: str) -> bool:
    """Dotted (decimal, hex or octal parts), 0x plus eight hex digits, or plain decimal."""
    if not host or host[0] not in _DIGITS:
        return False
    return bool(
        _V4_DOTTED.fullmatch(host) or _V4_HEX.fullmatch(host) or _V4_DECIMAL.fullmatch(host)
    )


def is_ipv6(host: str) -> bool:
    """Full or "::"-compressed IPv6, optionally ending in a dotted quad."""
    if ":" not in host:
        # Without a colon no rewriting below can produce a valid address.
        return False
    extra_colons = 0
    tail = _V4_TAIL.search(host)
    if tail:
        parts = tail.group(0).split(".")
        if any(_LEADING_ZERO.match(part) for part in parts):
            return False
        head = host[: tail.start()]
        if head[-1:] in _DIGITS:
            return False
        host = head + ":".join(parts)
        extra_colons = _V6_TAIL_COLONS
    if _NOT_V6_CHAR.search(host) or _BAD_V6.search(host):
        return False
    halves = host.count("::")
    colons = host.count(":")
    if halves == 1 and colons <= _V6_MAX_COLONS_COMPRESSED + extra_colons:
        return True
    return halves == 0 and colons == _V6_COLONS_FULL + extra_colons


def _compute_base(host: str, suffixes: dict) -> str:
    if host.endswith("."):
        host = host[:-1]
    if is_ipv6(host) or is_ipv4(host):
        return host
    dropped = []
    name = host
    while True:
        rule = suffixes.get(name)
        if rule is not None:
            break
        dot = name.find(".")
        if dot < 0:
            rule = DEFAULT_SUFFIX_RULE
            break
        dropped.append(name[:dot])
        name = name[dot + 1 :]
    # Put back as many dropped labels as the rule asks for, nearest first:
    # 0 for an exception (the name itself is registrable), 1 ordinary, 2 wildcard.
    while rule > 0 and dropped:
        name = dropped.pop() + "." + name
        rule -= 1
    # Most hosts in results files are base domains already: keep one string.
    return host if name == host else name


def base_domain(host: str, pb_data) -> str:
    """The registrable domain of `host` ("eTLD+1") under `pb_data`'s public suffix table."""
    cache = pb_data.base_cache
    base = cache.get(host)
    if base is None:
        base = cache[host] = _compute_base(host, pb_data.suffixes)
    return base


def same_first_party_group(base1: str, base2: str, pb_data) -> bool:
    """True when `base2` is in the multi-domain first-party group of `base1`."""
    group = pb_data.group_of.get(base1)
    return group is not None and base2 in group


def is_third_party(site: str, tracker: str, pb_data) -> bool:
    """Whether `site` counts as third party to `tracker` when a results file is imported."""
    if site and tracker:
        site_host = site[:-1] if site.endswith(".") else site
        tracker_host = tracker[:-1] if tracker.endswith(".") else tracker
        if site_host == tracker_host:
            return False
        tracker_base = base_domain(tracker_host, pb_data)
        if len(site_host) > len(tracker_base):
            if site_host.endswith("." + tracker_base):
                return False
        elif site_host == tracker_base:
            return False
    return not same_first_party_group(
        base_domain(site, pb_data), base_domain(tracker, pb_data), pb_data
    )


def has_odd_names(names) -> bool:
    """Whether any name is empty or ends with a dot (the cases the fast path leaves out)."""
    # One join and two substring searches run at C speed over a whole file's
    # sites; a NUL inside a name only sends the file down the slow path.
    text = "\0".join(chain(("",), names, ("",)))
    return ".\0" in text or "\0\0" in text


def third_party_sites(tracker: str, sites: list, pb_data, plain_sites: bool = False) -> list:
    """The sites of one snitch_map entry that stay after cleaning, in their order.

    Same answer as calling `is_third_party` on each site; the common case
    (plain names, tracker outside every first-party group) runs without a
    function call per site because real files hold tens of thousands of sites.
    `plain_sites` says the caller has checked `has_odd_names(sites)` is false.
    """
    if not tracker or tracker.endswith(".") or (not plain_sites and has_odd_names(sites)):
        return [site for site in sites if is_third_party(site, tracker, pb_data)]
    tracker_base = pb_data.base_cache.get(tracker) or base_domain(tracker, pb_data)
    # The tracker itself is its base or ends with ".base", so these two tests
    # cover "equal to the tracker" as well.
    suffix = "." + tracker_base
    kept = [site for site in sites if not site.endswith(suffix) and site != tracker_base]
    group_of = pb_data.group_of
    if tracker_base in group_of:
        # Prevalent trackers are often in a group: read the base cache inline.
        bases = pb_data.base_cache
        kept = [
            site
            for site in kept
            if tracker_base not in group_of.get(bases.get(site) or base_domain(site, pb_data), ())
        ]
    return kept


def subdomain_chain(host: str, pb_data) -> list[str]:
    """`host`, then `host` without its first label, and so on down to its base domain."""
    base = base_domain(host, pb_data)
    if base == host:
        return [host]
    labels = host.split(".")
    steps = len(labels) - base.count(".") - 1
    return [".".join(labels[i:]) for i in range(steps + 1)]


def all_parents_chain(host: str) -> list[str]:
    """`host`, then `host` without its first label, and so on down to its last label."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]
