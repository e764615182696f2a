"""Fixtures for the settings and site list tests: a settings folder that validates.

`settings_file(**changes)` writes a settings.yml beside a real site list slice
and a private key file, with the required keys filled in; a change of None
removes the key. Tests then break one value at a time.
"""

import shutil
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE = DATA / "sites-sample.txt"

VALID = {
    "ssh_key": "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa",
    "ssh_private_key_file": "id_test",
    "num_crawlers": 4,
    "num_sites": 400,
    "site_list": "sites.txt",
}


@pytest.fixture
def valid():
    """The required values every settings_file() starts from."""
    return dict(VALID)


@pytest.fixture
def settings_dir(tmp_path):
    shutil.copy(SAMPLE, tmp_path / "sites.txt")
    key = tmp_path / "id_test"
    key.write_text("not a real key\n")
    key.chmod(0o600)
    return tmp_path


@pytest.fixture
def settings_file(settings_dir):
    def write(**changes):
        mapping = dict(VALID)
        for key, value in changes.items():
            if value is None:
                mapping.pop(key, None)
            else:
                mapping[key] = value
        path = settings_dir / "settings.yml"
        path.write_text(yaml.safe_dump(mapping, sort_keys=False))
        return path

    return write
