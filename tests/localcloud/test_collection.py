"""The real community.digitalocean modules and inventory plugin work against the stand-in.

A crowd of 21 droplets makes the account hold more than one page of the module's name
lookup (20 a page) and several pages of the inventory plugin (set to 5 a page), so both
are proven to follow the stand-in's pagination rather than to get lucky on page one.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.cloud

CROWD = 21


@pytest.fixture(scope="module")
def crowd(local_cloud):
    local_cloud.clear_faults()
    tag = local_cloud.new_tag("crowd")
    created = local_cloud.create([f"{tag}-{i:03d}" for i in range(1, CROWD + 1)], tag)
    droplets = local_cloud.wait_active([d["id"] for d in created])
    yield tag, droplets
    local_cloud.clear_faults()
    local_cloud.delete_tag(tag)


def ansible(cloud, args, cwd):
    env = os.environ | cloud.env() | {"ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_CONFIG", None)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def plain(value):
    # ansible-inventory marks templated values as unsafe: {"__ansible_unsafe": value}.
    return value.get("__ansible_unsafe", value) if isinstance(value, dict) else value


def log_lines(cloud, needle):
    return [line for line in cloud.cloud.paths.log_file.read_text().splitlines() if needle in line]


def test_droplet_module_creates_waits_finds_by_unique_name_and_deletes(
    local_cloud, crowd, tmp_path
):
    cloud = local_cloud
    tag, _ = crowd
    name = f"{tag}-module"
    assert len(cloud.droplets()) > 20  # the new droplet will sit on page two of the lookup
    droplet = {
        "name": name,
        "unique_name": True,
        "baseurl": cloud.base_url,
        "size": "s-1vcpu-1gb",
        "region": "nyc1",
        "image": "ubuntu-24-04-x64",
        "ssh_keys": [str(cloud.key_id)],
        "tags": [tag],
        "wait": True,
        "wait_timeout": 60,
        "sleep_interval": 1,
    }
    gone = {"name": name, "unique_name": True, "baseurl": cloud.base_url, "state": "absent"}
    module = "community.digitalocean.digital_ocean_droplet"
    tasks = [
        {"name": "Create", module: droplet | {"state": "present"}, "register": "created"},
        {"name": "Create again", module: droplet | {"state": "present"}, "register": "again"},
        {"name": "Delete", module: gone, "register": "deleted"},
        {"name": "Delete again", module: gone, "register": "deleted_again"},
        {
            "name": "Save",
            "ansible.builtin.copy": {
                "dest": str(tmp_path / "out.json"),
                "content": "{{ {'created': created, 'again': again, 'deleted': deleted,"
                " 'deleted_again': deleted_again} | to_json }}",
            },
        },
    ]
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": tasks,
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    pages_before = len(log_lines(cloud, "GET /v2/droplets?page=2"))

    ansible(cloud, ["ansible-playbook", "-i", "localhost,", "play.yml"], tmp_path)

    out = json.loads((tmp_path / "out.json").read_text())
    made = out["created"]["data"]["droplet"]
    assert out["created"]["changed"] is True
    assert made["name"] == name and made["status"] == "active"
    ip = made["networks"]["v4"][0]["ip_address"]
    assert ip.startswith(f"127.{cloud.net}.")
    assert out["again"]["changed"] is False
    assert out["again"]["data"]["droplet"]["id"] == made["id"]
    assert out["deleted"]["changed"] is True
    assert out["deleted_again"]["changed"] is False
    assert out["deleted_again"]["msg"] == "Droplet not found"
    assert cloud.api("GET", f"droplets/{made['id']}")[0] == 404
    # The unique_name lookups had to read page two to find the droplet.
    assert len(log_lines(cloud, "GET /v2/droplets?page=2")) > pages_before


def test_inventory_plugin_lists_every_droplet_over_several_pages_and_ansible_reaches_them(
    local_cloud, crowd, tmp_path
):
    cloud = local_cloud
    tag, droplets = crowd
    per_page = 5
    inventory = {
        "plugin": "community.digitalocean.digitalocean",
        "baseurl": cloud.base_url,
        "oauth_token": "{{ lookup('ansible.builtin.env', 'DO_API_TOKEN') }}",
        "pagination": per_page,
        "attributes": ["id", "name", "networks", "tags", "status"],
        "filters": [f'"{tag}" in do_tags'],
        "compose": {
            "ansible_host": "do_networks.v4 | selectattr('type', 'eq', 'public')"
            " | map(attribute='ip_address') | first",
            "ansible_user": "'root'",
            "ansible_ssh_private_key_file": repr(str(cloud.key_path)),
        },
    }
    (tmp_path / "crowd.digitalocean.yml").write_text(yaml.safe_dump(inventory))
    requests_before = len(log_lines(cloud, f"per_page={per_page}"))

    listed = ansible(
        cloud, ["ansible-inventory", "-i", "crowd.digitalocean.yml", "--list"], tmp_path
    )

    hostvars = json.loads(listed.stdout)["_meta"]["hostvars"]
    expected = {d["name"]: d["networks"]["v4"][0]["ip_address"] for d in droplets}
    assert {name: plain(v["ansible_host"]) for name, v in hostvars.items()} == expected
    total = len(cloud.droplets())
    pages = -(-total // per_page)
    assert len(log_lines(cloud, f"per_page={per_page}")) - requests_before == pages >= 5

    ran = ansible(
        cloud,
        ["ansible", "all", "-i", "crowd.digitalocean.yml", "-f", "25", "-o"]
        + ["-m", "ansible.builtin.command", "-a", "hostname"],
        tmp_path,
    )
    answers = dict(
        (line.split(" | ")[0], line.rsplit(" ", 1)[-1])
        for line in ran.stdout.splitlines()
        if " | CHANGED | " in line
    )
    assert answers == {name: name for name in expected}


def test_inventory_plugin_fails_with_a_wrong_token(local_cloud, tmp_path):
    inventory = {
        "plugin": "community.digitalocean.digitalocean",
        "baseurl": local_cloud.base_url,
        "oauth_token": "wrong-token",
    }
    (tmp_path / "bad.digitalocean.yml").write_text(yaml.safe_dump(inventory))
    env = os.environ | local_cloud.env()
    done = subprocess.run(
        ["ansible-inventory", "-i", "bad.digitalocean.yml", "--list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "401" in done.stderr and "Unauthorized" in done.stderr
    assert json.loads(done.stdout)["_meta"]["hostvars"] == {}
