"""Fixtures of the Badger Sett stand-in tests: its repository, and droplet homes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sett_helpers import FAST, ScanHome

from runner.localcloud.sett import build_repo


@pytest.fixture(scope="session")
def sett_repo(tmp_path_factory) -> Path:
    return build_repo(tmp_path_factory.mktemp("cloud") / "badger-sett.git")


@pytest.fixture
def cloud(tmp_path, sett_repo):
    """Makes droplet homes sharing one faults file and one fault-counter folder."""
    faults = tmp_path / "faults.json"
    state = tmp_path / "state"
    homes: list[ScanHome] = []

    class Cloud:
        def set_faults(self, **sett) -> None:
            faults.write_text(json.dumps({"sett": {**FAST, **sett}}))

        def droplet(self, sites: list[str] | None = None, repo: Path = sett_repo) -> ScanHome:
            home = ScanHome(tmp_path / f"home{len(homes) + 1}", repo, faults, state)
            homes.append(home)
            if sites is not None:
                home.write_sites(sites)
            return home

    made = Cloud()
    made.set_faults()
    yield made
    for home in homes:
        home.kill_leftovers()
