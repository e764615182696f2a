"""`runner merge` on files and on a run folder, as a user runs it."""

import json
import subprocess
import sys

import yaml
from merge_helpers import results, shared_data_dir, without_version, write_results_file

GOLDEN = shared_data_dir() / "golden"


def runner_merge(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "runner", "merge", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def make_run_folder(root, shard_files, browser="chrome", states=None):
    run = root / "400-chrome-4-s-1vcpu-1gb-nyc1-1764860000"
    shards = {}
    for number, source in enumerate(shard_files, start=1):
        key = f"{number:03d}"
        state = (states or {}).get(key, "done")
        shards[key] = {"sites": 100, "state": state}
        if source is not None:
            folder = run / "shards" / key
            folder.mkdir(parents=True)
            (folder / "results.json").write_bytes(source.read_bytes())
    run.mkdir(exist_ok=True)
    state = {"format": 1, "run_id": run.name, "status": "merging", "shards": shards}
    (run / "state.json").write_text(json.dumps(state))
    (run / "settings.yml").write_text(yaml.safe_dump({"browser": browser, "num_crawlers": 4}))
    return run


def test_merge_of_files_writes_both_results_and_the_log(tmp_path):
    shards = [GOLDEN / "g2-four-shards" / f"shard{i}.json" for i in range(4)]
    done = runner_merge(*shards, "--out", tmp_path / "out", "--pb-branch", "mv3-chrome")
    assert done.returncode == 0, done.stderr
    assert "merged 4 results files: 2361 trackers" in done.stdout
    assert "snapshot" in done.stdout and "mv3-chrome" in done.stdout
    for name in ("results.json", "results-noblocking.json"):
        ours = (tmp_path / "out" / name).read_bytes()
        assert without_version(ours) == without_version(
            (GOLDEN / "g2-four-shards" / name).read_bytes()
        )
    log = (tmp_path / "out" / "merge.log").read_text()
    assert "branch mv3-chrome commit 4d272e1" in log
    assert log.index("shard0.json") < log.index("shard3.json")


def test_merge_of_a_run_folder_follows_shard_order_and_the_browser(tmp_path):
    shards = [GOLDEN / "g2-four-shards" / f"shard{i}.json" for i in range(4)]
    run = make_run_folder(tmp_path, shards, browser="edge")
    done = runner_merge(run)
    assert done.returncode == 0, done.stderr
    for name in ("results.json", "results-noblocking.json"):
        ours = (run / name).read_bytes()
        assert without_version(ours) == without_version(
            (GOLDEN / "g2-four-shards" / name).read_bytes()
        )
    log = (run / "merge.log").read_text()
    assert "mv3-chrome" in log
    assert log.index("shards/001/results.json") < log.index("shards/004/results.json")


def test_merge_of_a_firefox_run_uses_the_master_data(tmp_path):
    good = write_results_file(tmp_path / "r.json", results({"t.com": ["a.com"]}))
    run = make_run_folder(tmp_path, [good], browser="firefox")
    done = runner_merge(run)
    assert done.returncode == 0, done.stderr
    assert "branch master commit" in (run / "merge.log").read_text()


def test_run_folder_shard_that_gave_up_is_noted_not_an_error(tmp_path):
    good = write_results_file(tmp_path / "r.json", results({"t.com": ["a.com"]}))
    run = make_run_folder(tmp_path, [good, None], states={"002": "gave_up"})
    done = runner_merge(run)
    assert done.returncode == 0, done.stderr
    assert "shard 002 gave up" in done.stdout


def test_run_folder_shard_without_results_stops_the_merge(tmp_path):
    good = write_results_file(tmp_path / "r.json", results({"t.com": ["a.com"]}))
    run = make_run_folder(tmp_path, [good, None], states={"002": "scanning"})
    done = runner_merge(run)
    assert done.returncode == 2
    assert done.stderr.startswith("error: 1 results file(s) cannot be merged")
    assert "shards/002/results.json: missing" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (run / "results.json").exists()


def test_bad_file_is_one_error_line_and_skip_bad_merges_the_rest(tmp_path):
    good = write_results_file(tmp_path / "good.json", results({"t.com": ["a.com"]}))
    bad = write_results_file(tmp_path / "bad.json", '{"snitch_map": {')
    out = tmp_path / "out"
    refused = runner_merge(good, bad, "--out", out)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert f"{bad}: truncated" in refused.stderr
    assert not out.exists()

    skipped = runner_merge(good, bad, "--out", out, "--skip-bad")
    assert skipped.returncode == 0, skipped.stderr
    assert f"skipped {bad}: truncated" in skipped.stdout
    assert (out / "results.json").exists()


def test_ignore_site_option_keeps_a_site_out(tmp_path):
    data = results({"t.com": ["a.com", "b.com"]})
    path = write_results_file(tmp_path / "r.json", data)
    done = runner_merge(path, "--out", tmp_path, "--ignore-site", "b.com")
    assert done.returncode == 0, done.stderr
    merged = json.loads((tmp_path / "results-noblocking.json").read_text())
    assert merged["snitch_map"] == {"t.com": ["a.com"]}
    assert "ignored site bases: b.com" in (tmp_path / "merge.log").read_text()


def test_pb_checkout_option_reads_the_checkout(tmp_path, mv3_checkout):
    path = write_results_file(tmp_path / "r.json", results({"t.com": ["a.com"]}))
    done = runner_merge(path, "--out", tmp_path, "--pb-checkout", mv3_checkout)
    assert done.returncode == 0, done.stderr
    assert f"Privacy Badger checkout {mv3_checkout}" in done.stdout


def test_usage_errors_are_one_line(tmp_path):
    for args in [(), (tmp_path,), (tmp_path / "a.json", tmp_path)]:
        done = runner_merge(*args)
        assert done.returncode == 2
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, args
    broken = tmp_path / "pb"
    broken.mkdir()
    path = write_results_file(tmp_path / "r.json", results({"t.com": ["a.com"]}))
    done = runner_merge(path, "--pb-checkout", broken)
    assert done.returncode == 2
    assert "publicSuffixList.js is missing" in done.stderr


def test_run_folder_settings_can_name_a_privacy_badger_checkout(tmp_path, mv3_checkout):
    good = write_results_file(tmp_path / "r.json", results({"t.com": ["a.com"]}))
    run = make_run_folder(tmp_path, [good], browser="chrome")
    settings = yaml.safe_load((run / "settings.yml").read_text())
    settings["pb_checkout"] = str(mv3_checkout)
    (run / "settings.yml").write_text(yaml.safe_dump(settings))
    done = runner_merge(run)
    assert done.returncode == 0, done.stderr
    assert f"Privacy Badger checkout {mv3_checkout}" in (run / "merge.log").read_text()
