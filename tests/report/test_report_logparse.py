"""parse_log against the real Badger Sett logs, and against logs that are cut, empty or no logs."""

import re
import time
from datetime import UTC, datetime

import pytest
from report_fixtures import REAL_LOGS, real_log

from runner.report import parse_log
from runner.report.logparse import EMPTY, ENDS_EARLY, FINISHED, NOT_A_LOG, UNREADABLE

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (.*)$")


def stamped(path):
    """(time, message) of every stamped line: a second, simpler reading of the log."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = STAMP.match(line)
        if m:
            when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(
                microsecond=int(m.group(2)) * 1000, tzinfo=UTC
            )
            out.append((when, m.group(3)))
    return out


@pytest.mark.parametrize("name", REAL_LOGS)
def test_real_log_counts_add_up_to_its_finished_scan_summary(name):
    stats = parse_log(real_log(name))

    assert stats.condition == FINISHED and stats.finished
    assert stats.summary is not None
    assert (stats.visited, stats.errored) == stats.summary
    assert stats.notes == []
    # Each site of the list ends in exactly one outcome.
    assert stats.visited + stats.errored == stats.domains_to_crawl


@pytest.mark.parametrize("name", REAL_LOGS)
def test_real_log_figures_match_a_plain_count_of_their_lines(name):
    path = real_log(name)
    lines = stamped(path)
    messages = [m for _, m in lines]
    stats = parse_log(path)

    visiting = [(t, int(m.split()[1][:-1])) for t, m in lines if m.startswith("Visiting ")]
    assert stats.visits_over_time == visiting
    assert stats.progress == visiting[-1][1] == stats.domains_to_crawl
    assert stats.links_clicked == sum(m.startswith("Clicking on ") for m in messages)
    assert stats.link_failures == sum(m.startswith("Failed to visit link") for m in messages)
    assert stats.restarts == sum(m.startswith("Restarting browser") for m in messages)
    assert stats.restarts == sum(m.startswith("Successfully restarted") for m in messages)
    page_timeouts = [m for m in messages if m.startswith("Timed out loading ")]
    ext_timeouts = [m for m in page_timeouts if "extension page" in m]
    assert stats.timeouts == len(page_timeouts) - len(ext_timeouts)
    assert stats.ext_timeouts == sum("loading extension page" in m for m in messages)
    assert stats.error_kinds["timeout"] == stats.timeouts
    assert stats.started_at == next(t for t, m in lines if m.startswith("Starting new crawl"))
    assert stats.ended_at == next(t for t, m in lines if m.startswith("Finished scan"))
    hours = (stats.ended_at - stats.started_at).total_seconds() / 3600
    assert stats.sites_per_hour == pytest.approx(stats.domains_to_crawl / hours)


def test_real_chrome_log_missing_one_visiting_line_still_counts_that_sites_error():
    # Line 3957 of this log is `Timed out loading punchng.com` with no `Visiting 1623`.
    stats = parse_log(real_log("2026.8.11-chrome-noblocking"))

    assert len(stats.visits_over_time) == 5399
    assert stats.errored == 415 and stats.timeouts == 345


def test_real_edge_log_counts_a_visit_logged_without_its_url():
    # `Visited insidehighered.com` is the one visit of this log without ` on <url>`.
    path = real_log("2026.8.8-edge-blocking")
    with_url = sum(" on " in m for _, m in stamped(path) if m.startswith("Visited "))

    assert with_url == 5858
    assert parse_log(path).visited == 5859


def test_real_log_extension_page_errors_are_not_site_errors():
    stats = parse_log(real_log("2025.10.6-firefox-noblocking"))

    # Three `Timed out loading extension page` and one `Error loading extension page`.
    assert stats.ext_timeouts == 4
    assert stats.error_kinds == {
        "WebDriverException": 184,
        "timeout": 153,
        "InsecureCertificateException": 1,
    }


def test_parsing_a_one_megabyte_log_takes_well_under_a_second():
    path = real_log("2026.8.21-firefox-noblocking")
    assert path.stat().st_size > 1_000_000

    began = time.perf_counter()
    parse_log(path)

    assert time.perf_counter() - began < 0.5


def test_log_cut_mid_line_reports_figures_up_to_the_cut_and_says_so(tmp_path):
    text = real_log("2026.8.11-chrome-noblocking").read_text(encoding="utf-8")
    cut = text.index("Visiting 2000: ") + len("Visiting 20")
    log = tmp_path / "log.txt"
    log.write_text(text[:cut], encoding="utf-8")

    stats = parse_log(log)

    assert stats.condition == ENDS_EARLY and not stats.finished
    assert stats.progress == 1999
    assert stats.summary is None
    assert any("cut off mid-line" in note for note in stats.notes)
    assert any("last site 1999 of 5400" in note for note in stats.notes)


def test_log_of_a_scan_still_running_ends_early_at_its_last_site(tmp_path):
    lines = real_log("2026.8.8-edge-blocking").read_text(encoding="utf-8").splitlines(True)
    log = tmp_path / "log.txt"
    log.write_text("".join(lines[:5000]), encoding="utf-8")
    visiting = [line for line in lines[:5000] if " Visiting " in line]
    last_stamp = stamped(log)[-1][0]

    stats = parse_log(log)

    assert stats.condition == ENDS_EARLY
    assert stats.progress == len(visiting)
    assert stats.ended_at == last_stamp
    assert not any("cut off" in note for note in stats.notes)
    assert stats.sites_per_hour > 0


def test_empty_log_is_reported_as_empty(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("")

    stats = parse_log(log)

    assert stats.condition == EMPTY
    assert stats.done == 0 and stats.sites_per_hour is None
    assert stats.notes == ["log.txt is empty: the scan has written nothing yet"]


def test_text_file_that_is_no_log_is_named_as_such(tmp_path):
    not_a_log = tmp_path / "log.txt"
    not_a_log.write_text('{"action_map": {}, "snitch_map": {}}\n')

    stats = parse_log(not_a_log)

    assert stats.condition == NOT_A_LOG and not stats.readable
    assert "not a Badger Sett log" in stats.notes[0]


def test_binary_file_is_no_log(tmp_path):
    png = tmp_path / "log.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(200))

    stats = parse_log(png)

    assert stats.condition == NOT_A_LOG
    assert stats.notes == ["log.txt is a binary file, not a Badger Sett log"]


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_log_that_cannot_be_read_gives_the_reason_instead_of_raising(tmp_path, make):
    path = tmp_path / "log.txt"
    if make == "directory":
        path.mkdir()

    stats = parse_log(path)

    assert stats.condition == UNREADABLE
    reason = "No such file or directory" if make == "missing" else "Is a directory"
    assert stats.notes == [f"cannot read {path}: {reason}"]
