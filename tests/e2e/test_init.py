"""init.yml on the local cloud: N scans on N droplets, and a second run changes nothing."""

import re

from harness import Swarm, pick_sites

# Slow enough that every scan is still running when init.yml runs a second time.
SLOW_SITE_SECONDS = 30


def scan_processes(cloud, ip: str) -> str:
    """The crawl user's processes (the scan) with their pids and start times."""
    result = cloud.ssh(ip, "ps -u crawluser -o pid=,lstart=,args= | grep -v ' ps '")
    return result.stdout.strip()


def recap_changes(output: str) -> dict:
    return {
        host: int(changed)
        for host, changed in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)
    }


def test_init_starts_one_scan_per_shard_and_a_second_run_changes_nothing(cloud, tmp_path):
    cloud.set_faults(sett={"site_seconds": SLOW_SITE_SECONDS})
    sites = pick_sites(9, offset=300)
    swarm = Swarm(cloud, tmp_path / "run", sites, crawlers=3)
    swarm.init()
    state = swarm.state()
    droplets = cloud.droplets(tag=state["tag"])
    assert len(droplets) == 3
    by_shard = {}
    for shard, entry in state["shards"].items():
        assert entry["state"] == "scanning"
        ip = entry["droplet"]["ip"]
        listed = swarm.run_dir.joinpath("shards", f"{shard}.txt").read_text()
        check = cloud.ssh(
            ip,
            "test -d ~crawluser/badger-sett/.scan_in_progress && "
            "cat ~crawluser/badger-sett/domain-lists/domains.txt && "
            "stat -c %U ~crawluser/badger-sett/docker-out/log.txt",
        )
        assert check.returncode == 0, check.stderr
        assert check.stdout.startswith(listed)
        assert check.stdout.strip().endswith("crawluser")
        by_shard[shard] = scan_processes(cloud, ip)
        assert "runscan.sh" in by_shard[shard], "the scan runs on the droplet"

    again = swarm.init()
    changes = recap_changes(again.stdout)
    assert changes and set(changes.values()) == {0}, again.stdout[-3000:]
    assert sorted(d["id"] for d in cloud.droplets(tag=state["tag"])) == sorted(
        d["id"] for d in droplets
    )
    after = swarm.state()
    for shard, entry in after["shards"].items():
        assert entry["droplet"]["id"] == state["shards"][shard]["droplet"]["id"]
        assert scan_processes(cloud, entry["droplet"]["ip"]) == by_shard[shard]

    cloud.delete_tag(state["tag"])


def test_a_shard_whose_droplet_cannot_be_created_is_recorded_not_dropped(cloud, tmp_path):
    other = cloud.new_tag()
    cloud.create(["someone-else"], other)  # counts against the account's droplet limit
    cloud.set_faults(
        api={"active_delay": 0.5, "droplet_limit": 3}, sett={"site_seconds": SLOW_SITE_SECONDS}
    )
    swarm = Swarm(
        cloud, tmp_path / "run", pick_sites(6, offset=320), crawlers=3,
        droplet_create_retries=1, droplet_create_backoff=0.1,
    )  # fmt: skip
    try:
        swarm.init()
        shards = swarm.state()["shards"].values()
        failed = [e for e in shards if e["state"] == "failed"]
        assert len(failed) == 1
        assert failed[0]["outcome"] == "no_droplet"
        assert "could not be created after 2 attempts" in failed[0]["history"][-1]["note"]
        assert sorted(e["state"] for e in shards) == ["failed", "scanning", "scanning"]
    finally:
        cloud.delete_tag(other)
        cloud.delete_tag(swarm.state()["tag"])
        cloud.set_faults(api={"active_delay": 0.5})
