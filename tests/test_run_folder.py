"""The run folder: creation from settings, the open-run marker, atomic state transitions."""

import json
import threading

import pytest
import yaml

from runner.errors import UserError
from runner.run import RunFolder, create_run, current_run, record_droplet, record_droplet_deleted
from runner.settings import load_settings


def make_settings(tmp_path, **overrides):
    key = tmp_path / "id_test"
    key.write_text("key\n")
    key.chmod(0o600)
    sites = [f"site{i}.example" for i in range(10)] + ["google.de", "x.gov.uk"]
    (tmp_path / "sites.txt").write_text("\n".join(sites) + "\n")
    data = {
        "api_base_url": "http://127.0.0.1:9/v2",
        "ssh_key": 42,
        "ssh_private_key_file": str(key),
        "num_crawlers": 3,
        "num_sites": 10,
        "site_list": "sites.txt",
        "exclude_suffixes": ".gov.??",
        "seed": 7,
    }
    data.update(overrides)
    path = tmp_path / "settings.yml"
    path.write_text(yaml.safe_dump(data))
    return load_settings(path)


def test_create_run_writes_settings_sites_shards_state_inventory_and_marker(tmp_path):
    settings = make_settings(tmp_path)
    run = create_run(settings, epoch=1764860000)
    assert run.run_id == "10-chrome-3-s-1vcpu-1gb-nyc2-1764860000"
    state = run.load_state()
    assert state["tag"] == "bsw-run-1764860000"
    assert state["seed"] == 7
    sizes = sorted(e["sites"] for e in state["shards"].values())
    assert sizes == [3, 3, 4]
    shard_sites = [run.shard_file(k).read_text().split() for k in sorted(state["shards"])]
    assert sorted(s for shard in shard_sites for s in shard) == sorted(
        (run.path / "sites.txt").read_text().split()
    )
    assert "google.de" not in (run.path / "sites.txt").read_text()
    assert "x.gov.uk" not in (run.path / "sites.txt").read_text()
    assert state["shards"]["001"]["name"] == "badger-sett-1764860000-001"
    inventory = yaml.safe_load(run.inventory_path.read_text())
    assert inventory["baseurl"] == "http://127.0.0.1:9/v2"
    assert inventory["filters"] == ['"bsw-run-1764860000" in do_tags']
    assert inventory["oauth_token"] == "{{ lookup('bsw_api_token') }}"
    assert (settings.output_dir / ".current").read_text().strip() == run.run_id
    assert yaml.safe_load(run.settings_path.read_text())["num_sites"] == 10


def test_same_settings_resume_the_open_run_and_other_settings_are_refused(tmp_path):
    settings = make_settings(tmp_path)
    run = create_run(settings, epoch=1764860000)
    assert create_run(settings, epoch=1764860100).path == run.path
    other = make_settings(tmp_path, num_sites=9)
    with pytest.raises(UserError, match="in progress.*runner manage.*runner abandon"):
        create_run(other, epoch=1764860200)
    assert current_run(settings.output_dir).path == run.path


def test_run_settings_copy_resumes_the_same_run(tmp_path):
    settings = make_settings(tmp_path)
    run = create_run(settings, epoch=1764860000)
    again = load_settings(run.settings_path)
    assert create_run(again, epoch=1764860100).path == run.path


def test_a_closed_run_lets_a_new_one_start(tmp_path):
    settings = make_settings(tmp_path)
    run = create_run(settings, epoch=1764860000)
    run.set_status("complete")
    other = create_run(make_settings(tmp_path, num_sites=9), epoch=1764860300)
    assert other.path != run.path


def test_transitions_are_recorded_with_their_origin(tmp_path):
    run = create_run(make_settings(tmp_path), epoch=1764860000)
    run.transition("002", "starting", "droplet created")
    run.transition("002", "scanning", None, progress=5)
    entry = run.load_state()["shards"]["002"]
    assert [(h["from"], h["to"]) for h in entry["history"]] == [
        ("pending", "starting"),
        ("starting", "scanning"),
    ]
    assert entry["progress"] == 5


def test_parallel_writers_do_not_lose_each_others_changes(tmp_path):
    run = create_run(make_settings(tmp_path), epoch=1764860000)

    def bump(shard):
        for _ in range(20):
            with run.update() as state:
                state["shards"][shard]["restarts"] += 1

    threads = [threading.Thread(target=bump, args=(s,)) for s in ("001", "002", "003")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = run.load_state()
    assert [state["shards"][s]["restarts"] for s in ("001", "002", "003")] == [20, 20, 20]


def test_droplet_history_keeps_every_droplet_with_its_lifetime(tmp_path):
    entry = {"droplets": []}
    record_droplet(
        entry, {"id": 1, "name": "a", "ip": "127.0.0.2", "created_at": "2026-12-04T10:00:00Z"}
    )
    record_droplet_deleted(entry, "2026-12-04T11:00:00Z")
    record_droplet(
        entry, {"id": 2, "name": "a", "ip": "127.0.0.3", "created_at": "2026-12-04T11:00:05Z"}
    )
    assert entry["droplet"]["id"] == 2
    assert [d["deleted_at"] for d in entry["droplets"]] == ["2026-12-04T11:00:00Z", None]


def test_a_broken_state_file_is_one_clear_error(tmp_path):
    run = create_run(make_settings(tmp_path), epoch=1764860000)
    run.state_path.write_text('{"format": 1, "shards": {')
    with pytest.raises(UserError, match="state.json: not valid JSON"):
        run.load_state()
    RunFolder(tmp_path)  # a folder without state is only refused when loaded
    with pytest.raises(UserError, match="not a run folder"):
        RunFolder(tmp_path).load_state()
    json.loads(json.dumps({}))
