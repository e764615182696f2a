"""Fixtures of the report tests: run folders made from the real logs (see report_fixtures)."""

import pytest
from report_fixtures import RUN_START, RunBuilder, build_finished_run


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """A complete run made once per session; tests must not change it."""
    return build_finished_run(tmp_path_factory.mktemp("output"))


@pytest.fixture
def run_builder(tmp_path):
    return lambda name=None, start=RUN_START: RunBuilder(tmp_path / "output", name, start)
