"""A fresh local cloud for each end-to-end test (faults fire once per cloud)."""

import pytest
from harness import REPO, SITE_SECONDS

from runner.localcloud.testing import start_cloud_for_tests

RUN_INVENTORY = REPO / "inventory" / "run.digitalocean.yml"


@pytest.fixture
def cloud(tmp_path_factory):
    cloud = start_cloud_for_tests(tmp_path_factory.mktemp("e2ecloud"))
    cloud.set_faults(api={"active_delay": 0.5}, sett={"site_seconds": SITE_SECONDS})
    yield cloud
    cloud.stop()
    # init.yml points the checkout's inventory at the run; a test's run is gone now.
    if RUN_INVENTORY.exists() and cloud.base_url in RUN_INVENTORY.read_text():
        RUN_INVENTORY.unlink()
