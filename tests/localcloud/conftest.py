"""Fixtures of the local cloud tests: the session's cloud with no faults left from a test."""

import pytest


@pytest.fixture
def cloud(local_cloud):
    local_cloud.clear_faults()
    yield local_cloud
    local_cloud.clear_faults()


@pytest.fixture
def tag(cloud):
    """A tag of the test's own; its droplets are deleted when the test ends."""
    name = cloud.new_tag()
    yield name
    cloud.clear_faults()
    cloud.delete_tag(name)
