"""The Badger Sett stand-in of the local cloud, published as a git repository.

Droplets install Badger Sett the way real ones do, by cloning a git
repository; in the local cloud that repository is a bare one in the cloud's
shared folder, built here from the stand-in's files (`repo/`: runscan.sh, the
replaying crawler, its faults) and a replay index computed from a real Badger
Sett results file (by default the demo slice in the project's `demo/`).
Building is idempotent: the branches move to a new commit only when the
content changed. `main` is the branch; `master` points at the same commit
because the swarm's default Badger Sett version is `master`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
from pathlib import Path

import runner
from runner.errors import UserError

from .replay import build_index_from_files

REPO_SOURCE = Path(__file__).resolve().parent / "repo"
DEMO_DIR = Path(runner.__file__).resolve().parent.parent / "demo"
DEFAULT_REPLAY_RESULTS = DEMO_DIR / "replay-results.json"
DEFAULT_REPLAY_LOG = DEMO_DIR / "replay-log.txt"
INDEX_NAME = "replay.json"
BRANCH = "main"
ALIAS_BRANCHES = ("master",)
SKIPPED_NAMES = {"__pycache__"}

# A fixed identity, passed on the command line: building must not depend on
# (or write) anyone's git configuration.
GIT_IDENTITY = ("-c", "user.name=badger-swarm local cloud", "-c", "user.email=localcloud@invalid")


def build_repo(
    dest: Path, replay_results: Path | None = None, replay_log: Path | None = None
) -> Path:
    """Create or refresh the stand-in's bare repository at `dest`; returns `dest`.

    The replay index comes from `replay_results` (default: the demo slice) and,
    if given, the matching real log `replay_log` (default: the demo log when
    the demo results are used, none otherwise).
    """
    dest = Path(dest)
    if replay_results is None:
        replay_results = DEFAULT_REPLAY_RESULTS
        if replay_log is None and DEFAULT_REPLAY_LOG.exists():
            replay_log = DEFAULT_REPLAY_LOG

    if not Path(replay_results).is_file():
        raise UserError(
            f"replay results file {replay_results} does not exist; give a Badger Sett results.json"
        )

    if not (dest / "HEAD").exists():
        dest.mkdir(parents=True, exist_ok=True)
        _git(dest, "init", "--quiet", "--bare", f"--initial-branch={BRANCH}")

    index = build_index_from_files(Path(replay_results), replay_log and Path(replay_log))
    # Compact and key-sorted, so the same data always hashes the same.
    index_blob = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
    tree = _write_tree(dest, REPO_SOURCE, {INDEX_NAME: index_blob})

    head = _current_commit(dest)
    if head is None or _git(dest, "rev-parse", f"{head}^{{tree}}") != tree:
        message = f"Badger Sett stand-in replaying {Path(replay_results).name}"
        parents = ["-p", head] if head else []
        head = _git(dest, *GIT_IDENTITY, "commit-tree", tree, *parents, "-m", message)

    for branch in (BRANCH, *ALIAS_BRANCHES):
        _git(dest, "update-ref", f"refs/heads/{branch}", head)
    _git(dest, "symbolic-ref", "HEAD", f"refs/heads/{BRANCH}")
    return dest


def check_sett_faults(section: dict) -> dict:
    """The stand-in's settings made by a faults file's `"sett"` section, defaults filled in.

    The same check the stand-in makes when a scan starts, so a mistake can be
    refused when the faults are set rather than found as a failed scan.
    """
    faults = _standin_faults()
    try:
        return faults.check_section(section, "faults")
    except faults.FaultsFileError as e:
        raise UserError(str(e)) from e


@functools.cache
def _standin_faults():
    # The module ships inside the stand-in's repository (droplets run it with
    # their own Python), so it is loaded from there, not imported as ours.
    spec = importlib.util.spec_from_file_location("bsw_sett_faults", REPO_SOURCE / "faults.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(git_dir: Path, *args: str, stdin: bytes | None = None) -> str:
    env = {**os.environ, "GIT_DIR": str(git_dir), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], input=stdin, capture_output=True, env=env, check=False)
    if done.returncode != 0:
        command = " ".join(["git", *args])
        raise RuntimeError(f"{command} failed in {git_dir}: {done.stderr.decode().strip()}")
    return done.stdout.decode().strip()


def _current_commit(git_dir: Path) -> str | None:
    try:
        return _git(git_dir, "rev-parse", "--quiet", "--verify", f"refs/heads/{BRANCH}^{{commit}}")
    except RuntimeError:
        return None


def _write_tree(git_dir: Path, folder: Path, extra: dict[str, bytes] | None = None) -> str:
    """Store `folder` (plus `extra` files at its top) in the repository; returns the tree id."""
    entries = []
    for path in sorted(folder.iterdir()):
        if path.name in SKIPPED_NAMES or path.suffix == ".pyc":
            continue
        if path.is_dir():
            entries.append(f"040000 tree {_write_tree(git_dir, path)}\t{path.name}")
            continue
        mode = "100755" if os.access(path, os.X_OK) else "100644"
        blob = _git(git_dir, "hash-object", "-w", "--stdin", stdin=path.read_bytes())
        entries.append(f"{mode} blob {blob}\t{path.name}")
    for name, data in (extra or {}).items():
        blob = _git(git_dir, "hash-object", "-w", "--stdin", stdin=data)
        entries.append(f"100644 blob {blob}\t{name}")
    return _git(git_dir, "mktree", stdin=("\n".join(entries) + "\n").encode())
