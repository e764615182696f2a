"""init.yml refuses bad settings with one clear line and creates nothing.

These run the real `ansible-playbook playbooks/init.yml`; the settings point
the API at a closed loopback port, and validation stops the play before any
API call or file is made.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLOSED_API = "http://127.0.0.1:9/v2"


def write_settings(tmp_path: Path, **overrides) -> Path:
    key = tmp_path / "id_test"
    key.write_text("not a real key\n")
    key.chmod(0o600)
    (tmp_path / "sites.txt").write_text("example.com\nexample.org\nexample.net\n")
    settings = {
        "api_base_url": CLOSED_API,
        "ssh_key": 1234,
        "ssh_private_key_file": str(key),
        "num_crawlers": 2,
        "num_sites": 3,
        "site_list": "sites.txt",
        "install_packages": False,
    }
    settings.update(overrides)
    settings = {k: v for k, v in settings.items() if v is not None}
    path = tmp_path / "settings.yml"
    path.write_text(yaml.safe_dump(settings))
    return path


def run_init(settings: Path, token: str | None = "test-token") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DO_API_TOKEN"}
    if token is not None:
        env["DO_API_TOKEN"] = token
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(REPO / "inventory" / "controller.yml"),
            str(REPO / "playbooks" / "init.yml"),
            "-e",
            f"settings={settings}",
            "-e",
            "assume_yes=true",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def fatal_message(result: subprocess.CompletedProcess) -> str:
    for line in result.stdout.splitlines():
        if "FAILED!" in line:
            return line
    raise AssertionError(f"no failure line in output:\n{result.stdout}\n{result.stderr}")


BAD_SETTINGS = [
    ({"num_crawler": 2}, "num_crawler"),
    ({"ssh_key": None}, "ssh_key"),
    ({"num_crawlers": 0}, "num_crawlers: 0"),
    ({"num_crawlers": 101}, "num_crawlers: 101"),
    ({"num_sites": 1_000_001}, "num_sites: 1000001"),
    ({"browser": "safari"}, "browser"),
    ({"site_list": "missing.txt"}, "missing.txt"),
    ({"droplet_name_prefix": "bad_prefix!"}, "droplet_name_prefix"),
    ({"pb_branch": "x; rm -rf ~"}, "pb_branch"),
    ({"exclude_suffixes": ".gov;reboot"}, "exclude_suffixes"),
    ({"crawl_user": "root"}, "crawl_user"),
]


@pytest.mark.parametrize(("overrides", "named"), BAD_SETTINGS, ids=[b[1] for b in BAD_SETTINGS])
def test_init_rejects_bad_setting_with_one_line_and_creates_nothing(tmp_path, overrides, named):
    settings = write_settings(tmp_path, **overrides)
    result = run_init(settings)
    assert result.returncode != 0
    line = fatal_message(result)
    assert named in line
    assert "valid" in line or "did you mean" in line or "required" in line or "exist" in line
    assert not (tmp_path / "output").exists()


def test_init_requires_the_api_token_in_the_environment(tmp_path):
    result = run_init(write_settings(tmp_path), token=None)
    assert result.returncode != 0
    assert "DO_API_TOKEN" in fatal_message(result)
    assert not (tmp_path / "output").exists()
