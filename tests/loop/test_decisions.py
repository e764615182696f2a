"""How the control loop reads a check and what it decides, without droplets.

The end-to-end tests prove the same on the local cloud; these pin the rules
down one by one on a real run folder with hand-made observations.
"""

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from runner.loop import Manager, Observation, parse_check_output
from runner.run import create_run, record_droplet, record_droplet_deleted, record_transition
from runner.settings import load_settings


class RecordingOutput:
    def __init__(self):
        self.events = []
        self.notes = []

    def shard_event(self, shard, droplet, state, note):
        self.events.append((shard, droplet, state, note))

    def note(self, text):
        self.notes.append(text)


@pytest.fixture
def run(tmp_path):
    key = tmp_path / "id_test"
    key.write_text("key\n")
    key.chmod(0o600)
    (tmp_path / "sites.txt").write_text("".join(f"s{i}.example\n" for i in range(8)))
    settings = {
        "api_base_url": "http://127.0.0.1:9/v2",
        "ssh_key": 42,
        "ssh_private_key_file": str(key),
        "num_crawlers": 2,
        "num_sites": 8,
        "site_list": "sites.txt",
        "stall_timeout": 60,
        "max_retries": 1,
    }
    (tmp_path / "settings.yml").write_text(yaml.safe_dump(settings))
    run = create_run(load_settings(tmp_path / "settings.yml"), epoch=1764860000)
    with run.update() as state:
        for shard, entry in state["shards"].items():
            record_droplet(entry, {"id": int(shard), "name": entry["name"], "ip": "127.0.0.9"})
            record_transition(entry, "starting")
            record_transition(entry, "scanning")
    return run


def manager(run):
    return Manager(run, RecordingOutput())


def name(run, shard):
    return run.load_state()["shards"][shard]["name"]


def test_check_output_is_read_from_its_marked_lines_only():
    obs = parse_check_output(
        "Welcome\nBSW user=1\nBSW lock=1\nBSW visiting=37\nBSW log_age=12\n"
        "BSW last_line=Scan successful. Visited 3\nBSW results=1\nnoise=2\n"
    )
    assert (obs.lock, obs.visiting, obs.log_age, obs.results) == (True, 37, 12, True)
    assert obs.last_line == "Scan successful. Visited 3"


def test_progress_is_recorded_while_the_lock_is_there(run):
    m = manager(run)
    plan = m.decide(
        run.load_state(),
        {
            name(run, "001"): Observation(lock=True, visiting=3),
            name(run, "002"): Observation(lock=True, visiting=1),
        },
        datetime.now(UTC),
    )
    assert plan.restart == [] and plan.failed == []
    assert run.load_state()["shards"]["001"]["progress"] == 3


def test_no_progress_for_the_stall_timeout_means_stalled_and_restart(run):
    m = manager(run)
    m.decide(
        run.load_state(), {name(run, "001"): Observation(lock=True, visiting=3)}, datetime.now(UTC)
    )
    later = datetime.now(UTC) + timedelta(seconds=61)
    plan = m.decide(
        run.load_state(),
        {
            name(run, "001"): Observation(lock=True, visiting=3),
            name(run, "002"): Observation(lock=True, visiting=2),
        },
        later,
    )
    assert plan.restart == ["001"]
    assert run.load_state()["shards"]["001"]["state"] == "stalled"


def test_success_line_with_results_means_finished_and_extract(run):
    plan = manager(run).decide(
        run.load_state(),
        {
            name(run, "001"): Observation(last_line="Scan successful. Visited 4", results=True),
            name(run, "002"): Observation(lock=True),
        },
        datetime.now(UTC),
    )
    assert plan.extract == ["001"]
    assert run.load_state()["shards"]["001"]["state"] == "finished"


def test_failure_line_means_failed(run):
    plan = manager(run).decide(
        run.load_state(),
        {
            name(run, "001"): Observation(last_line="Scan failed. See log.1.txt for details."),
            name(run, "002"): Observation(lock=True),
        },
        datetime.now(UTC),
    )
    assert plan.failed == ["001"]


def test_a_scan_that_stops_silently_fails_after_repeated_checks(run):
    m = manager(run)
    seen = {
        name(run, "001"): Observation(last_line="building image"),
        name(run, "002"): Observation(lock=True),
    }
    assert m.decide(run.load_state(), seen, datetime.now(UTC)).failed == []
    assert m.decide(run.load_state(), seen, datetime.now(UTC)).failed == ["001"]


def test_a_droplet_missing_from_the_inventory_twice_has_vanished(run):
    m = manager(run)
    seen = {name(run, "002"): Observation(lock=True)}
    assert m.decide(run.load_state(), seen, datetime.now(UTC)).failed == []
    plan = m.decide(run.load_state(), seen, datetime.now(UTC))
    assert plan.failed == ["001"]
    assert run.load_state()["shards"]["001"]["history"][-1]["note"] == "droplet vanished"


def test_an_unreachable_droplet_is_given_time_before_it_counts_as_failed(run):
    m = manager(run)
    seen = {
        name(run, "001"): Observation(reachable=False),
        name(run, "002"): Observation(lock=True),
    }
    for _ in range(4):
        assert m.decide(run.load_state(), seen, datetime.now(UTC)).failed == []
    assert m.decide(run.load_state(), seen, datetime.now(UTC)).failed == ["001"]


def test_finished_results_on_a_vanished_droplet_mean_failure_not_waiting(run):
    run.transition("001", "finished", "scan successful")
    m = manager(run)
    seen = {name(run, "002"): Observation(lock=True)}
    assert m.decide(run.load_state(), seen, datetime.now(UTC)).extract == []
    assert m.decide(run.load_state(), seen, datetime.now(UTC)).failed == ["001"]


def test_extracted_results_go_on_to_deletion_even_if_the_droplet_is_gone(run):
    run.transition("001", "extracting", "downloading results", extracted_at="2026-12-04T10:00:00Z")
    plan = manager(run).decide(run.load_state(), {}, datetime.now(UTC))
    assert "001" in plan.extract


def fake_playbook_run(succeeded: bool, ok_hosts=(), failed_hosts=()):
    from runner.playbooks import HostResult, PlaybookRun

    hosts = {h: HostResult(ok=[{"task": "Delete the droplet by id", "res": {}}]) for h in ok_hosts}
    hosts |= {
        h: HostResult(failed=[{"task": "x", "res": {}}], message="API error") for h in failed_hosts
    }
    return PlaybookRun(status="successful" if succeeded else "failed", rc=0 if succeeded else 2,
                       hosts=hosts)  # fmt: skip


def test_a_delete_the_api_refused_leaves_the_droplet_recorded_alive(run, monkeypatch):
    from runner.loop import DeleteFailed

    m = manager(run)
    names = {s: name(run, s) for s in ("001", "002")}
    monkeypatch.setattr(
        m, "playbook", lambda *a, **k: fake_playbook_run(False, [names["001"]], [names["002"]])
    )
    with pytest.raises(DeleteFailed) as failed:
        m.delete_droplets(["001", "002"], set(names.values()))
    assert failed.value.names == {names["002"]}
    assert run.load_state()["shards"]["002"]["droplet"] is not None


def test_an_inventory_that_could_not_be_listed_deletes_nothing(run, monkeypatch):
    from runner.loop import DeleteFailed

    m = manager(run)
    names = {s: name(run, s) for s in ("001", "002")}
    monkeypatch.setattr(m, "playbook", lambda *a, **k: fake_playbook_run(False))
    with pytest.raises(DeleteFailed):
        m.delete_droplets(["001", "002"], set(names.values()))
    state = run.load_state()
    assert all(state["shards"][s]["droplet"] is not None for s in names)


def test_the_run_stays_open_while_droplets_could_not_be_deleted(run, monkeypatch):
    from runner import finish

    for shard in ("001", "002"):
        run.transition(shard, "done", "test", outcome="results")
    monkeypatch.setattr(finish, "merge_run", lambda run, settings: None)
    monkeypatch.setattr(
        finish, "run_playbook", lambda *a, **k: fake_playbook_run(False, [], ["left-1"])
    )
    assert finish.finish_run(run, RecordingConsole()) is False
    assert run.load_state()["status"] == "merging"
    assert (run.path.parent / ".current").exists()


def test_a_second_manager_of_the_same_run_is_refused(run):
    from runner.errors import UserError

    with run.manager_lock(), pytest.raises(UserError, match="already managed"):
        with run.manager_lock():
            pass


class RecordingConsole(RecordingOutput):
    class _Console:
        def print(self, *args, **kwargs):
            pass

    console = _Console()


def test_extraction_goes_on_when_one_droplet_was_already_deleted_and_another_delete_fails(
    run, monkeypatch
):
    # 001 was extracted and its droplet deleted just before an earlier loop was killed.
    with run.update() as state:
        for shard in ("001", "002"):
            record_transition(state["shards"][shard], "extracting")
            state["shards"][shard]["extracted_at"] = "2026-12-04T10:00:00Z"
        record_droplet_deleted(state["shards"]["001"])
    m = manager(run)
    second = name(run, "002")
    monkeypatch.setattr(m, "playbook", lambda *a, **k: fake_playbook_run(False, [], [second]))
    m.extract(["001", "002"], {second})
    state = run.load_state()
    assert state["shards"]["001"]["state"] == "done"
    assert state["shards"]["002"]["state"] == "extracting"
    assert state["shards"]["002"]["droplet"] is not None
