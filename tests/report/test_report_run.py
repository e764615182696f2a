"""Run figures and write_run_report over run folders made from the real logs."""

import json
from datetime import timedelta

import pytest
from report_fixtures import PRICE, REAL_LOGS, RUN_START, SETUP, real_log, shift_log

from runner.errors import UserError
from runner.report import parse_log, write_run_report
from runner.report.runstats import collect_run


def test_finished_run_totals_are_the_sum_of_the_real_scans_summaries(finished_run):
    run, facts = finished_run
    summaries = [parse_log(real_log(name)).summary for name in REAL_LOGS]

    report = collect_run(run.dir, now=facts["finished_at"] + timedelta(days=3))
    totals = report["totals"]

    assert totals["visited"] == sum(v for v, _ in summaries) == 6462 + 4985 + 6328 + 5859
    assert totals["errored"] == sum(e for _, e in summaries) == 338 + 415 + 772 + 341
    assert totals["sites"] == totals["done"] == 25500
    assert totals["not_reached"] == 0
    assert totals["error_rate"] == pytest.approx(1866 / 25500)
    assert totals["restarts"] == 1 + 6 + 1 + 7
    assert totals["retries"] == 1
    assert totals["stalls"] == 0 + 1 + 2 + 3
    assert report["status"] == "complete" and not report["running"]
    assert [row["log_condition"] for row in report["shards"]] == ["finished"] * 4


def test_cost_is_droplet_hours_from_state_times_the_hourly_price(finished_run):
    run, facts = finished_run
    hours = sum(
        (deleted - created).total_seconds() / 3600 for created, deleted in facts["droplets"]
    )

    # A later `now` must not change a finished run's cost: every droplet was deleted.
    report = collect_run(run.dir, now=facts["finished_at"] + timedelta(days=30))

    assert report["totals"]["droplets"] == 5
    assert report["totals"]["droplet_hours"] == pytest.approx(hours)
    assert report["totals"]["cost"] == pytest.approx(hours * PRICE)
    run_hours = (facts["finished_at"] - run.start).total_seconds() / 3600
    assert report["run_hours"] == pytest.approx(run_hours)


def test_worst_and_slowest_shards_are_named(finished_run):
    run, facts = finished_run
    report = collect_run(run.dir)
    rows = {row["shard"]: row for row in report["shards"]}
    scan_hours = {
        k: (last - first).total_seconds() / 3600 for k, (_, first, last) in facts["logs"].items()
    }

    # Shard 003 is the 2026-08-21 Firefox scan: 772 errors in 7,100 sites.
    assert report["error_rate"]["worst_shard"] == "003"
    assert report["error_rate"]["worst"] == pytest.approx(772 / 7100)
    assert report["error_rate"]["average"] == pytest.approx(
        (338 / 6800 + 415 / 5400 + 772 / 7100 + 341 / 6200) / 4
    )
    # The 2026-08-21 Firefox scan ran 22.8 hours, the others 21.1 to 21.5.
    assert report["slowest_shard"]["shard"] == "003"
    assert report["slowest_shard"]["hours"] == pytest.approx(scan_hours["003"], abs=0.01)
    # Chrome visited 5,400 sites in 21.3 hours: the slowest pace.
    assert report["speed"]["worst_shard"] == "002"
    assert report["speed"]["worst"] == pytest.approx(5400 / scan_hours["002"], rel=0.001)
    speeds = [r["done"] / r["scan_hours"] for r in rows.values()]
    assert report["speed"]["average"] == pytest.approx(sum(speeds) / 4)


def test_failed_attempt_is_counted_apart_from_the_shards_latest_scan(finished_run):
    run, facts = finished_run
    attempt = parse_log(facts["attempt_log"])

    report = collect_run(run.dir)
    shard = report["shards"][1]

    assert shard["attempts"] == 2
    assert shard["visited"] == 4985
    [kept] = shard["failed_attempts"]
    assert kept["scan_result"] == "failed"
    assert kept["log_condition"] == "ends early"
    assert kept["done"] == attempt.done > 0
    assert report["totals"]["failed_attempts"] == 1
    assert report["totals"]["failed_attempts_done"] == attempt.done
    assert any("earlier attempt attempt-20261204T130000Z (failed)" in n for n in report["notes"])


def test_chart_series_start_at_each_shards_first_site_and_stay_small(finished_run):
    run, facts = finished_run
    report = collect_run(run.dir)

    for row in report["shards"]:
        series = row["series"]
        assert 2 <= len(series) <= 241
        hours = [h for h, _ in series]
        assert hours == sorted(hours)
        assert series[-1][1] == row["progress"]
    # Shard 002 started again one hour into the run.
    assert report["shards"][1]["series"][0][0] == pytest.approx(
        1 + SETUP.total_seconds() / 3600 + 30 / 3600, abs=0.01
    )


def test_run_still_scanning_reports_figures_so_far_and_costs_up_to_now(run_builder):
    run = run_builder()
    run.shard("001", 5400, state="scanning", stalls=1)
    run.droplet("001", run.start, None)
    lines = real_log("2026.8.11-chrome-noblocking").read_text().splitlines(True)
    partial = run.shard_dir("001") / "partial.txt"
    partial.write_text("".join(lines[:3000]))
    first, last = shift_log(partial, run.shard_dir("001") / "log.txt", run.start + SETUP)
    partial.unlink()
    run.save()
    now = last + timedelta(minutes=2)

    report = collect_run(run.dir, now=now)

    assert report["running"] and report["run_end"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    row = report["shards"][0]
    assert row["log_condition"] == "ends early"
    assert 0 < row["done"] < 5400
    hours = (now - run.start).total_seconds() / 3600
    assert report["totals"]["cost"] == pytest.approx(hours * PRICE)
    assert any("scan still running (shard state scanning)" in n for n in report["notes"])


def test_bad_shard_logs_are_named_and_the_rest_of_the_report_comes_out(run_builder):
    run = run_builder()
    run.shard("001", 6200)
    shift_log(real_log("2026.8.8-edge-blocking"), run.shard_dir("001") / "log.txt", run.start)
    run.shard("002", 100, state="scanning")
    (run.shard_dir("002") / "log.txt").write_text("")
    run.shard("003", 100, state="failed")
    (run.shard_dir("003") / "log.txt").write_text("Traceback (most recent call last):\n  boom\n")
    run.shard("004", 100, state="done")
    (run.shard_dir("004") / "log.txt").mkdir()
    run.shard("005", 100, state="pending")
    run.shard("006", 100, state="scanning")["progress"] = 37
    run.save()

    written = write_run_report(run.dir)

    report = json.loads((run.dir / "report.json").read_text())["runs"][0]
    notes = report["notes"]
    assert [p.name for p in written] == ["report.txt", "report.json", "report.html"]
    assert report["totals"]["visited"] == 5859
    assert "shard 002: log.txt is empty: the scan has written nothing yet" in notes
    assert any(n.startswith("shard 003: log.txt has no `YYYY") for n in notes)
    assert any(n.startswith("shard 004: cannot read ") and "Is a directory" in n for n in notes)
    assert "shard 005: no log yet (shards/005/log.txt missing)" in notes
    assert (
        "shard 006: no log yet (shards/006/log.txt missing); the state says site 37 of 100"
        in notes
    )
    text = (run.dir / "report.txt").read_text()
    for note in notes:
        assert note in text


def test_report_without_state_file_comes_from_the_logs_and_says_so(tmp_path):
    run_dir = tmp_path / "400-chrome-1-s-1vcpu-1gb-nyc1-1764860000"
    shift_log(
        real_log("2026.8.11-chrome-noblocking"),
        run_dir / "shards" / "001" / "log.txt",
        RUN_START,
    )

    report = collect_run(run_dir)

    assert report["totals"]["visited"] == 4985
    assert report["totals"]["cost"] is None
    assert report["notes"][0].startswith("no state.json: ")
    assert report["run_hours"] == pytest.approx(report["shards"][0]["scan_hours"], rel=0.01)


def test_broken_state_file_is_a_note_not_a_crash(run_builder):
    run = run_builder()
    run.save()
    (run.dir / "state.json").write_text('{"format": 1, "shards": {')

    written = write_run_report(run.dir)

    assert len(written) == 3
    report = json.loads((run.dir / "report.json").read_text())["runs"][0]
    assert report["notes"][0].startswith("state.json cannot be read")


def test_state_with_odd_values_notes_them(run_builder):
    run = run_builder()
    entry = run.shard("001", 100)
    run.droplet("001", run.start, run.start + timedelta(hours=2))
    entry["droplets"].append({"id": 7, "name": "x", "created_at": "yesterday"})
    run.state["price_hourly"] = "cheap"
    run.save()

    report = collect_run(run.dir)

    assert report["totals"]["droplet_hours"] == pytest.approx(2)
    assert report["totals"]["cost"] is None
    assert "price_hourly is not a number: 'cheap'" in report["notes"]
    assert any("droplet x created_at is not a UTC ISO 8601 time" in n for n in report["notes"])


def test_write_run_report_refuses_a_folder_that_does_not_exist(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        write_run_report(tmp_path / "nope")
