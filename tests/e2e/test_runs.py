"""Whole runs on the local cloud, from settings to merged results, over real SSH.

Each test runs the real `init.yml` and the real `runner manage` against a
local cloud of its own (faults are counted per cloud) and checks the merged
`results-noblocking.json` against the replay data restricted to the sites
scanned, computed without the run.
"""

import json
import signal
import time
from pathlib import Path

from harness import (
    REPO,
    Swarm,
    comparable,
    expected_noblocking,
    pick_sites,
)


def assert_complete(swarm: Swarm, tmp_path, skip=frozenset()):
    run = swarm.run_dir
    state = swarm.state()
    assert state["status"] == "complete"
    assert {e["state"] for e in state["shards"].values()} == {"done"}
    merged = json.loads((run / "results-noblocking.json").read_text())
    expected = expected_noblocking(swarm.sites, tmp_path / "expected", skip)
    assert comparable(merged) == comparable(expected)
    assert (run / "results.json").is_file()
    assert (run / "summary.txt").is_file()
    assert (run / "report.html").is_file()
    assert not (swarm.output / ".current").exists()
    assert swarm.cloud.droplets(tag=state["tag"]) == []
    for entry in state["shards"].values():
        # one droplet per attempt: a shard is never started on a second droplet at once
        assert len(entry["droplets"]) == entry["retries"] + 1
        assert all(d["deleted_at"] for d in entry["droplets"])
    return state


def test_clean_run_merges_exactly_the_replayed_observations_and_writes_no_token(cloud, tmp_path):
    swarm = Swarm(cloud, tmp_path / "run", pick_sites(40), crawlers=4)
    # Droplets turn active before their SSH server answers, as on DigitalOcean.
    cloud.set_faults(api={"active_delay": 0.5, "ssh_refuse_seconds": 3})
    swarm.init()
    cloud.set_faults(api={"active_delay": 0.5})
    state = swarm.state()
    assert len(state["shards"]) == 4
    assert {e["state"] for e in state["shards"].values()} <= {"scanning"}
    result = swarm.manage()
    state = assert_complete(swarm, tmp_path)
    assert all(e["retries"] == 0 for e in state["shards"].values())
    assert "shard 001" in result.stdout  # one plain line per state change without a terminal
    for shard in state["shards"]:
        assert (swarm.run_dir / "shards" / shard / "log.txt").is_file()
    # The token reaches no file: not the run folder, ansible-runner's artifacts among them,
    # not the cloud's folder, not the inventory.
    token = cloud.token.encode()
    leaks = [
        path
        for folder in (tmp_path, cloud.dir, REPO / "inventory")
        for path in folder.rglob("*")
        if path.is_file() and token in path.read_bytes()
    ]
    assert leaks == []


def test_run_with_stall_crash_vanished_droplet_and_api_errors_ends_with_the_same_results(
    cloud, tmp_path
):
    sites = pick_sites(40, offset=100)
    stalled, crashed = sites[5], sites[22]
    swarm = Swarm(cloud, tmp_path / "run", sites, crawlers=4, max_retries=2)
    cloud.set_faults(
        api={"active_delay": 0.5},
        # The stall fires on every visit: a retried shard stalls there again, so the stalled
        # site never yields observations, whichever shard it lands in.
        sett={
            "site_seconds": 0.6,
            "stall_sites": [stalled],
            "stall_sites_times": 10,
            "crash_after": [crashed],
        },
    )
    swarm.init()
    state = swarm.state()
    shards = {
        k: (swarm.run_dir / "shards" / f"{k}.txt").read_text().split() for k in state["shards"]
    }
    victim = next(
        k for k, listed in shards.items() if stalled not in listed and crashed not in listed
    )
    victim_id = state["shards"][victim]["droplet"]["id"]
    cloud.set_faults(
        api={"active_delay": 0.5, "error_rate": 0.05, "error_seed": 7,
             "vanish": [victim_id]},
    )  # fmt: skip
    swarm.manage()
    cloud.set_faults(api={"active_delay": 0.5})
    state = assert_complete(swarm, tmp_path, skip=frozenset({stalled}))
    by_site = {}
    for shard in state["shards"]:
        for site in (swarm.run_dir / "shards" / f"{shard}.txt").read_text().split():
            by_site[site] = state["shards"][shard]
    assert by_site[stalled]["stalls"] >= 1 and by_site[stalled]["restarts"] >= 1
    assert by_site[crashed]["retries"] >= 1
    assert state["shards"][victim]["retries"] >= 1
    assert "droplet vanished" in [h["note"] for h in state["shards"][victim]["history"]]
    attempts = list(swarm.run_dir.glob("shards/*/attempt-*"))
    assert attempts, "the crashed scan's logs were kept"


def playbooks_of(run_dir) -> list[int]:
    """Pids of ansible-playbook processes working on this run."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"ansible-playbook" in a for a in argv) and str(run_dir).encode() in b" ".join(
            argv
        ):
            found.append(int(proc.name))
    return found


def wait_until_gone(run_dir, timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while playbooks_of(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return playbooks_of(run_dir)


def test_loop_stopped_or_killed_during_check_extract_and_recreate_continues_without_loss(
    cloud, tmp_path
):
    sites = pick_sites(40, offset=200)
    crashed = sites[3]
    swarm = Swarm(cloud, tmp_path / "run", sites, crawlers=4)
    cloud.set_faults(
        api={"active_delay": 0.5}, sett={"site_seconds": 0.5, "crash_after": [crashed]}
    )
    swarm.init()
    log = tmp_path / "manage.log"

    manage = swarm.start_manage(log)
    time.sleep(2.5)  # inside the first check: Ctrl-C
    manage.send_signal(signal.SIGINT)
    assert manage.wait(timeout=60) == 130
    assert "stopped; run" in log.read_text()
    assert wait_until_gone(swarm.run_dir) == []

    manage = swarm.start_manage(log)
    swarm.wait_for(lambda s: any(e["state"] == "extracting" for e in s["shards"].values()), manage)
    swarm.kill(manage)

    manage = swarm.start_manage(log)
    swarm.wait_for(
        lambda s: any(e["retries"] >= 1 and e["state"] in ("pending", "starting")
                      for e in s["shards"].values()),
        manage,
    )  # fmt: skip
    time.sleep(3)  # inside init.yml re-creating the droplet
    swarm.kill(manage)
    # The orphaned init.yml ends with its runner instead of creating droplets unwatched.
    assert wait_until_gone(swarm.run_dir) == []

    swarm.manage()
    assert_complete(swarm, tmp_path)
