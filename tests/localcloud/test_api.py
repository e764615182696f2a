"""The DigitalOcean API stand-in answers with the shapes, codes and pages of the real API."""

import ipaddress
import subprocess
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.cloud

UNAUTHORIZED = {"id": "unauthorized", "message": "Unable to authenticate you."}
NOT_FOUND = {"id": "not_found", "message": "The resource you were accessing could not be found."}


def test_account_shows_the_droplet_limit(cloud):
    status, _, body = cloud.api("GET", "account")
    assert status == 200
    assert body["account"]["droplet_limit"] == 100
    assert body["account"]["status"] == "active"


def test_a_wrong_or_missing_token_gets_401(cloud):
    for token in ("not-the-token", ""):
        status, _, body = cloud.api("GET", "account", token=token)
        assert (status, body) == (401, UNAUTHORIZED)
    status, _, body = cloud.api("GET", "droplets", token="nope")
    assert status == 401


def test_every_answer_carries_the_rate_limit_headers(cloud):
    for path, token, expected in (
        ("account", None, 200),
        ("account", "wrong", 401),
        ("droplets/1", None, 404),
        ("nothing-here", None, 404),
    ):
        status, headers, _ = cloud.api("GET", path, token=token)
        assert status == expected
        assert int(headers["ratelimit-limit"]) == 5000
        assert 0 <= int(headers["ratelimit-remaining"]) <= 5000
        assert int(headers["ratelimit-reset"]) > 1_700_000_000


def test_the_cloud_key_is_registered_with_its_md5_fingerprint(cloud):
    status, _, body = cloud.api("GET", "account/keys")
    assert status == 200
    key = next(k for k in body["ssh_keys"] if k["id"] == cloud.key_id)
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", f"{cloud.key_path}.pub"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert shown == "MD5:" + key["fingerprint"] == "MD5:" + cloud.key_fingerprint
    assert key["public_key"] == (cloud.key_path.parent / "id_ed25519.pub").read_text().strip()


def test_a_key_can_be_registered_found_by_fingerprint_and_deleted(cloud, tmp_path):
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True
    )
    public_key = (tmp_path / "k.pub").read_text().strip()
    status, _, body = cloud.api(
        "POST", "account/keys", {"name": "extra", "public_key": public_key}
    )
    assert status == 201
    key = body["ssh_key"]
    assert key["name"] == "extra" and key["public_key"] == public_key

    status, _, body = cloud.api("GET", f"account/keys/{key['fingerprint']}")
    assert (status, body["ssh_key"]["id"]) == (200, key["id"])
    status, _, body = cloud.api(
        "POST", "account/keys", {"name": "again", "public_key": public_key}
    )
    assert status == 422
    status, _, body = cloud.api("POST", "account/keys", {"name": "bad", "public_key": "ssh-rsa"})
    assert status == 422

    assert cloud.api("DELETE", f"account/keys/{key['id']}")[0] == 204
    assert cloud.api("GET", f"account/keys/{key['id']}")[0] == 404


def test_sizes_carry_hourly_and_monthly_prices(cloud):
    status, _, body = cloud.api("GET", "sizes")
    assert status == 200
    sizes = {s["slug"]: s for s in body["sizes"]}
    assert sizes["s-1vcpu-1gb"]["price_hourly"] == 0.00893
    assert sizes["s-1vcpu-1gb"]["price_monthly"] == 6.0
    assert sizes["s-1vcpu-2gb"]["price_hourly"] == 0.01786
    assert sizes["s-4vcpu-8gb"]["price_hourly"] == 0.07143
    for size in body["sizes"]:
        assert set(size) >= {"slug", "price_hourly", "price_monthly", "vcpus", "memory", "disk"}
        assert size["regions"] and size["available"] is True
    assert body["meta"]["total"] == len(body["sizes"])


def test_regions_list_their_sizes(cloud):
    status, _, body = cloud.api("GET", "regions")
    assert status == 200
    nyc1 = next(r for r in body["regions"] if r["slug"] == "nyc1")
    assert nyc1["name"] == "New York 1" and "s-1vcpu-1gb" in nyc1["sizes"]


def test_create_one_answers_202_new_then_active_with_a_loopback_address(cloud, tag):
    body = {
        "name": f"{tag}-one",
        "size": "s-1vcpu-2gb",
        "region": "fra1",
        "image": "debian-12-x64",
        "ssh_keys": [cloud.key_fingerprint],
        "tags": [tag],
    }
    status, _, answer = cloud.api("POST", "droplets", body)
    assert status == 202
    droplet = answer["droplet"]
    assert droplet["status"] == "new" and droplet["networks"] == {"v4": [], "v6": []}

    (droplet,) = cloud.wait_active([droplet["id"]])
    assert droplet["name"] == f"{tag}-one"
    assert droplet["size_slug"] == "s-1vcpu-2gb" and droplet["size"]["price_hourly"] == 0.01786
    assert droplet["memory"] == 2048 and droplet["vcpus"] == 1 and droplet["disk"] == 50
    assert droplet["region"]["slug"] == "fra1" and droplet["region"]["name"] == "Frankfurt 1"
    assert droplet["image"]["slug"] == "debian-12-x64"
    assert droplet["image"]["distribution"] == "Debian"
    assert droplet["tags"] == [tag] and droplet["volume_ids"] == []
    assert droplet["locked"] is False and droplet["vpc_uuid"]
    assert droplet["created_at"].endswith("Z")
    (v4,) = droplet["networks"]["v4"]
    assert v4["type"] == "public"
    address = ipaddress.ip_address(v4["ip_address"])
    assert address in ipaddress.ip_network(f"127.{cloud.net}.0.0/16")


def test_create_many_with_names_answers_every_droplet(cloud, tag):
    names = [f"{tag}-{i}" for i in range(3)]
    created = cloud.create(names, tag)
    assert [d["name"] for d in created] == names
    assert len({d["id"] for d in created}) == 3


def test_more_than_ten_names_in_one_create_is_422(cloud, tag):
    body = {
        "names": [f"{tag}-{i}" for i in range(11)],
        "size": "s-1vcpu-1gb",
        "region": "nyc1",
        "image": "ubuntu-24-04-x64",
        "tags": [tag],
    }
    status, _, answer = cloud.api("POST", "droplets", body)
    assert status == 422 and answer["id"] == "unprocessable_entity"
    assert cloud.droplets(tag) == []


def test_unknown_size_region_image_or_key_is_422(cloud, tag):
    good = {
        "name": f"{tag}-x",
        "size": "s-1vcpu-1gb",
        "region": "nyc1",
        "image": "ubuntu-24-04-x64",
        "tags": [tag],
    }
    for change, word in (
        ({"size": "s-99vcpu"}, "size"),
        ({"region": "mars1"}, "region"),
        ({"image": "windows-95"}, "image"),
        ({"ssh_keys": ["00:11:22"]}, "key"),
        ({"name": "not a hostname"}, "Name"),
    ):
        status, _, answer = cloud.api("POST", "droplets", good | change)
        assert status == 422, change
        assert answer["id"] == "unprocessable_entity" and word in answer["message"]
    assert cloud.droplets(tag) == []


def test_list_filters_by_tag_and_by_name(cloud, tag):
    other = cloud.new_tag()
    try:
        cloud.create([f"{tag}-a", f"{tag}-b"], tag)
        cloud.create([f"{other}-a"], other)
        assert sorted(d["name"] for d in cloud.droplets(tag)) == [f"{tag}-a", f"{tag}-b"]
        status, _, body = cloud.api("GET", f"droplets?name={tag}-b")
        assert status == 200 and [d["name"] for d in body["droplets"]] == [f"{tag}-b"]
        assert body["meta"]["total"] == 1
    finally:
        cloud.delete_tag(other)


def test_list_pages_follow_absolute_next_links_to_every_droplet(cloud, tag):
    created = cloud.create([f"{tag}-{i}" for i in range(5)], tag)
    url, pages, seen = f"droplets?tag_name={tag}&per_page=2", 0, []
    while url:
        status, _, body = cloud.api("GET", url)
        assert status == 200 and body["meta"]["total"] == 5
        assert len(body["droplets"]) <= 2
        seen += [d["id"] for d in body["droplets"]]
        pages += 1
        url = body["links"].get("pages", {}).get("next")
        if url:
            assert urlsplit(url).hostname == "127.0.0.1" and url.startswith(cloud.base_url)
    assert pages == 3
    assert seen == sorted(d["id"] for d in created)

    status, _, body = cloud.api("GET", f"droplets?tag_name={tag}&page=3&per_page=2")
    assert set(body["links"]["pages"]) == {"first", "prev"}


def test_per_page_defaults_to_20_and_is_capped_at_200(cloud):
    status, _, body = cloud.api("GET", "sizes?per_page=1")
    assert "per_page=1" in body["links"]["pages"]["next"]
    status, _, body = cloud.api("GET", "droplets?per_page=5000")
    assert status == 200 and len(body["droplets"]) <= 200
    # Fewer than 21 sizes exist, so the default page holds all and links nothing.
    status, _, body = cloud.api("GET", "sizes")
    assert body["links"] == {} and len(body["sizes"]) == body["meta"]["total"]


def test_delete_by_id_answers_204_then_the_droplet_is_404(cloud, tag):
    (droplet,) = cloud.create([f"{tag}-gone"], tag)
    status, _, body = cloud.api("DELETE", f"droplets/{droplet['id']}")
    assert (status, body) == (204, None)
    status, _, body = cloud.api("GET", f"droplets/{droplet['id']}")
    assert (status, body) == (404, NOT_FOUND)
    assert cloud.api("DELETE", f"droplets/{droplet['id']}")[0] == 404


def test_delete_by_tag_deletes_only_that_tag(cloud, tag):
    keep = cloud.new_tag()
    try:
        cloud.create([f"{tag}-1", f"{tag}-2"], tag)
        (kept,) = cloud.create([f"{keep}-1"], keep)
        assert cloud.api("DELETE", f"droplets?tag_name={tag}")[0] == 204
        assert cloud.droplets(tag) == []
        assert [d["id"] for d in cloud.droplets(keep)] == [kept["id"]]
    finally:
        cloud.delete_tag(keep)


def test_addresses_are_never_reused_in_one_cloud_life(cloud, tag):
    first = cloud.wait_active([d["id"] for d in cloud.create([f"{tag}-1", f"{tag}-2"], tag)])
    cloud.delete_tag(tag)
    second = cloud.wait_active([d["id"] for d in cloud.create([f"{tag}-3", f"{tag}-4"], tag)])
    ips = [d["networks"]["v4"][0]["ip_address"] for d in first + second]
    assert len(set(ips)) == 4


def test_tags_can_be_created_attached_and_listed(cloud, tag):
    (droplet,) = cloud.create([f"{tag}-t"], tag)
    extra = cloud.new_tag("extra")
    assert cloud.api("GET", f"tags/{extra}")[0] == 404
    assert cloud.api("POST", "tags", {"name": extra})[0] == 201
    resources = {"resources": [{"resource_id": str(droplet["id"]), "resource_type": "droplet"}]}
    assert cloud.api("POST", f"tags/{extra}/resources", resources)[0] == 204
    assert [d["id"] for d in cloud.droplets(extra)] == [droplet["id"]]
    status, _, body = cloud.api("GET", f"tags/{extra}")
    assert body["tag"]["resources"]["droplets"]["count"] == 1
    assert cloud.api("DELETE", f"tags/{extra}")[0] == 204
    assert cloud.droplets(extra) == []


def test_firewalls_list_is_empty(cloud):
    status, _, body = cloud.api("GET", "firewalls")
    assert (status, body["firewalls"], body["meta"]["total"]) == (200, [], 0)
