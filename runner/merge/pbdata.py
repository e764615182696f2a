"""Privacy Badger's own data that the merge needs: suffix table, first-party groups, yellowlist.

The data is read either from a Privacy Badger source checkout (the files as
they are there: `src/lib/publicSuffixList.js`, `src/js/multiDomainFirstParties.js`
and the `yellowlist` of `src/data/pbconfig.json`) or from the snapshot shipped
in `runner/merge/data/<branch>/`, made from `../shared/data/privacybadger/`.
Whichever is used, `PbData.source` says where it came from and the merge log
repeats it, so a merged file can always be traced to the data behind it.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import UserError

# Privacy Badger branches we ship a snapshot of; the browser decides which one
# a run uses (Firefox scans run `master`, Chrome and Edge scans `mv3-chrome`).
BRANCHES = ("master", "mv3-chrome")
DEFAULT_BRANCH = "master"
BRANCH_FOR_BROWSER = {"firefox": "master", "chrome": "mv3-chrome", "edge": "mv3-chrome"}

SNAPSHOT_DIR = Path(__file__).parent / "data"
SNAPSHOT_FILES = {
    "suffixes": "public_suffixes.json",
    "groups": "multi_domain_first_parties.json",
    "yellowlist": "yellowlist.json",
}

# Where a Privacy Badger checkout keeps the same three things.
CHECKOUT_SUFFIXES = Path("src/lib/publicSuffixList.js")
CHECKOUT_GROUPS = Path("src/js/multiDomainFirstParties.js")
CHECKOUT_CONFIG = Path("src/data/pbconfig.json")
SUFFIXES_MARKERS = [["export", "default"], ["publicSuffixes", "="]]
GROUPS_MARKERS = [["multiDomainFirstPartiesArray", "="]]

# Values of the suffix table: 0 exception rule, 1 ordinary suffix, 2 wildcard.
SUFFIX_RULES = frozenset({0, 1, 2})


@dataclass(eq=False)
class PbData:
    """The Privacy Badger data one merge runs with (immutable after loading)."""

    suffixes: dict
    groups: list
    yellowlist: list
    source: str
    branch: str
    group_of: dict = field(default_factory=dict, repr=False)
    yellow_set: frozenset = field(default_factory=frozenset, repr=False)
    yellow_below: dict = field(default_factory=dict, repr=False)
    base_cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        # A domain listed in two groups belongs to the later one, as in Privacy Badger.
        for group in self.groups:
            members = frozenset(group)
            for domain in members:
                self.group_of[domain] = members
        self.yellow_set = frozenset(self.yellowlist)
        # Yellowlisted names under each of their parent names, so that "every
        # yellowlisted domain ending with .base" is one lookup, not a scan.
        below: dict = {}
        for domain in self.yellowlist:
            dot = domain.find(".")
            while dot >= 0:
                below.setdefault(domain[dot + 1 :], []).append(domain)
                dot = domain.find(".", dot + 1)
        self.yellow_below = {parent: tuple(names) for parent, names in below.items()}


def _check_suffixes(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise UserError(f"{where}: the public suffix table is not an object of suffix: 0|1|2")
    for suffix, rule in value.items():
        if type(rule) is not int or rule not in SUFFIX_RULES:
            raise UserError(
                f"{where}: public suffix {suffix!r} has rule {rule!r}; valid rules are 0, 1, 2"
            )
    return value


def _check_groups(value, where: str) -> list:
    if not isinstance(value, list) or not all(
        isinstance(group, list) and all(isinstance(d, str) for d in group) for group in value
    ):
        raise UserError(f"{where}: the first-party groups are not a list of lists of domains")
    return value


def _check_yellowlist(value, where: str) -> list:
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise UserError(f"{where}: the yellowlist is not a list of domains")
    return value


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: cannot read it as JSON ({e})") from None


def _checkout_revision(checkout: Path) -> str:
    """Branch and commit of a git checkout, read from .git without running git."""
    git = checkout / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return "not a git checkout"
    if not head.startswith("ref: "):
        return f"detached at commit {head}"
    ref = head[len("ref: ") :]
    branch = ref.rsplit("refs/heads/", 1)[-1]
    try:
        commit = (git / ref).read_text().strip()
    except OSError:
        commit = "unknown"
        try:
            for line in (git / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    commit = line.split(" ", 1)[0]
        except OSError:
            pass
    return f"branch {branch} commit {commit}"


def _load_checkout(checkout: Path, branch: str) -> PbData:
    from runner.merge.jsliteral import literal_after

    if not checkout.is_dir():
        raise UserError(f"Privacy Badger checkout {checkout} is not a folder")
    suffixes_path = checkout / CHECKOUT_SUFFIXES
    groups_path = checkout / CHECKOUT_GROUPS
    config_path = checkout / CHECKOUT_CONFIG
    for path in (suffixes_path, groups_path, config_path):
        if not path.is_file():
            raise UserError(
                f"{path} is missing; a Privacy Badger checkout has {CHECKOUT_SUFFIXES}, "
                f"{CHECKOUT_GROUPS} and {CHECKOUT_CONFIG}"
            )
    suffixes = _check_suffixes(literal_after(suffixes_path, SUFFIXES_MARKERS), str(suffixes_path))
    groups = _check_groups(literal_after(groups_path, GROUPS_MARKERS), str(groups_path))
    config = _read_json(config_path)
    if not isinstance(config, dict) or "yellowlist" not in config:
        raise UserError(f"{config_path}: no 'yellowlist' key")
    yellowlist = _check_yellowlist(config["yellowlist"], str(config_path))
    source = f"Privacy Badger checkout {checkout.resolve()} ({_checkout_revision(checkout)})"
    return PbData(suffixes, groups, yellowlist, source, branch)


def _load_snapshot(branch: str) -> PbData:
    folder = SNAPSHOT_DIR / branch
    paths = {name: folder / filename for name, filename in SNAPSHOT_FILES.items()}
    suffixes = _check_suffixes(_read_json(paths["suffixes"]), str(paths["suffixes"]))
    groups = _check_groups(_read_json(paths["groups"]), str(paths["groups"]))
    ylist = _read_json(paths["yellowlist"])
    if isinstance(ylist, dict):
        ylist = ylist.get("yellowlist")
    yellowlist = _check_yellowlist(ylist, str(paths["yellowlist"]))
    try:
        origin = (folder / "SOURCE").read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError):
        origin = "origin unknown (no SOURCE file)"
    source = f"snapshot {folder} [{origin}]"
    return PbData(suffixes, groups, yellowlist, source, branch)


def load_pb_data(checkout: Path | None = None, branch: str = DEFAULT_BRANCH) -> PbData:
    """Privacy Badger's data from `checkout` if given, else the shipped snapshot of `branch`."""
    if branch not in BRANCHES:
        raise UserError(
            f"Privacy Badger branch {branch!r} is unknown; valid: {', '.join(BRANCHES)}"
        )
    if checkout is not None:
        return _load_checkout(Path(checkout), branch)
    return _load_snapshot(branch)


def branch_for_browser(browser: str) -> str:
    """The Privacy Badger branch Badger Sett runs with `browser`."""
    try:
        return BRANCH_FOR_BROWSER[browser]
    except KeyError:
        valid = ", ".join(BRANCH_FOR_BROWSER)
        raise UserError(f"browser {browser!r} is unknown; valid: {valid}") from None
