"""`runner report` as a user runs it: which runs, which format, where the output goes."""

import json
from datetime import timedelta

import pytest
from report_fixtures import RUN_START, build_finished_run

from runner.cli import main


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory):
    """Two runs under output/, the newer one created first on disk."""
    root = tmp_path_factory.mktemp("cli") / "output"
    build_finished_run(root, RUN_START + timedelta(days=7), name="200-edge-1-x-nyc1-1765465200")
    build_finished_run(root, RUN_START, name="100-chrome-1-x-nyc1-1764849600")
    (root / ".current").write_text("100-chrome-1-x-nyc1-1764849600\n")
    (root / "not-a-run").mkdir()
    return root


def test_without_folders_every_run_under_output_is_reported_oldest_first(output_dir, capsys):
    code, out, _ = run_cli(["--output-dir", str(output_dir)], capsys)

    assert code == 0
    older = out.index("Run 100-chrome-1-x-nyc1-1764849600 (complete)")
    newer = out.index("Run 200-edge-1-x-nyc1-1765465200 (complete)")
    assert older < newer
    assert "Runs compared" in out
    assert "not-a-run" not in out


def test_run_folders_named_keep_the_order_given(output_dir, capsys):
    newer, older = (
        output_dir / "200-edge-1-x-nyc1-1765465200",
        output_dir / "100-chrome-1-x-nyc1-1764849600",
    )

    code, out, _ = run_cli([str(newer), str(older)], capsys)

    assert code == 0
    assert out.index("Run 200-edge") < out.index("Run 100-chrome")


def test_match_patterns_filter_runs_by_name(output_dir, capsys):
    code, out, _ = run_cli(["--output-dir", str(output_dir), "--match", "*-edge-*"], capsys)

    assert code == 0
    assert "Run 200-edge-1-x-nyc1-1765465200" in out
    assert "100-chrome" not in out


def test_json_goes_to_stdout_and_parses(output_dir, capsys):
    folder = output_dir / "100-chrome-1-x-nyc1-1764849600"
    code, out, _ = run_cli([str(folder), "--format", "json"], capsys)

    assert code == 0
    report = json.loads(out)
    assert [run["run_id"] for run in report["runs"]] == ["100-chrome-1-x-nyc1-1764849600"]
    assert report["runs"][0]["totals"]["done"] == 25500


def test_html_without_out_is_written_to_the_current_folder_and_says_where(
    output_dir, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)

    code, out, err = run_cli(["--output-dir", str(output_dir), "--format", "html"], capsys)

    assert code == 0 and out == ""
    assert err.strip() == f"report on 2 run(s) written to {tmp_path / 'report.html'}"
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")


def test_text_with_out_goes_to_that_file(output_dir, capsys, tmp_path):
    target = tmp_path / "r" / "all.txt"

    code, out, _ = run_cli(["--output-dir", str(output_dir), "--out", str(target)], capsys)

    assert code == 0 and out == ""
    assert "Runs compared" in target.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no/such/run"], "error: run folder no/such/run does not exist"),
        (["--output-dir", "no/such/output"], "error: output directory no/such/output does not"),
        (["--match", "*-firefox-*"], "error: no run folders matching *-firefox-* under"),
    ],
)
def test_user_mistakes_are_one_line_errors(output_dir, capsys, monkeypatch, args, message):
    monkeypatch.chdir(output_dir.parent)
    if args[0] == "--match":
        args = ["--output-dir", str(output_dir), *args]

    code, out, err = run_cli(args, capsys)

    assert code == 2
    assert err.startswith(message)
    assert len(err.strip().splitlines()) == 1
