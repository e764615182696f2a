"""Fixtures for the merge tests (helpers live in merge_helpers.py)."""

from pathlib import Path

import pytest
from merge_helpers import shared_data_dir, small_pb, write_checkout


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_dir()


@pytest.fixture
def pb():
    return small_pb()


@pytest.fixture(scope="session")
def mv3_checkout(tmp_path_factory, shared_data) -> Path:
    root = tmp_path_factory.mktemp("privacybadger")
    return write_checkout(root, shared_data / "privacybadger" / "mv3-chrome", "mv3-chrome")
