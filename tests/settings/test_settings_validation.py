"""Settings: defaults, the example file, and one clear line for every bad value."""

import json
import os
from pathlib import Path

import pytest
import yaml

from runner import settings as S
from runner.errors import UserError
from runner.settings import DEFAULTS, KEYS, REQUIRED, api_token, load_settings, validate

EXAMPLE = Path(__file__).resolve().parents[2] / "settings.example.yml"


def error_of(path) -> str:
    with pytest.raises(UserError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- what a valid file gives --------------------------------------------------------------


def test_valid_file_gives_defaults_for_every_key_left_out(valid, settings_file, settings_dir):
    settings = load_settings(settings_file())

    for key, default in DEFAULTS.items():
        if key in ("ssh_private_key_file", "output_dir"):
            continue
        value = getattr(settings, key)
        assert (list(value) if isinstance(value, tuple) else value) == default, key
    assert settings.ssh_key == valid["ssh_key"]
    assert settings.num_crawlers == 4 and settings.num_sites == 400
    assert settings.site_list == settings_dir / "sites.txt"
    assert settings.output_dir == settings_dir / "output"
    assert settings.source == settings_dir / "settings.yml"


def test_relative_paths_are_taken_from_the_settings_folder_not_the_working_one(
    settings_file, settings_dir, tmp_path_factory, monkeypatch
):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    settings = load_settings(settings_file())

    assert settings.site_list == settings_dir / "sites.txt"
    assert settings.ssh_private_key_file == settings_dir / "id_test"


def test_tilde_in_a_path_means_the_home_folder(settings_file, settings_dir, monkeypatch):
    monkeypatch.setenv("HOME", str(settings_dir))
    settings = load_settings(settings_file(ssh_private_key_file="~/id_test"))

    assert settings.ssh_private_key_file == settings_dir / "id_test"


def test_key_ids_and_fingerprints_are_both_accepted(valid, settings_file):
    assert load_settings(settings_file(ssh_key=512190)).ssh_key == 512190
    assert load_settings(settings_file(ssh_key="512190")).ssh_key == 512190
    upper = valid["ssh_key"].upper()
    assert load_settings(settings_file(ssh_key=upper)).ssh_key == valid["ssh_key"]


def test_an_unquoted_all_digit_fingerprint_stays_a_fingerprint(settings_file):
    # YAML 1.1 reads 12:34:56 as a base-60 number; the settings file must not.
    path = settings_file()
    fingerprint = ":".join(["12", "34", "56", "07"] * 4)
    lines = [
        f"ssh_key: {fingerprint}" if line.startswith("ssh_key:") else line
        for line in path.read_text().splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")

    assert load_settings(path).ssh_key == fingerprint


def test_exclude_suffixes_may_be_a_list_and_exclude_list_splits_and_lowercases(settings_file):
    as_text = load_settings(settings_file(exclude_suffixes=".MIL,.mil.??,.gov"))
    as_list = load_settings(settings_file(exclude_suffixes=[".MIL", ".mil.??", ".gov"]))

    assert as_text.exclude_list() == [".mil", ".mil.??", ".gov"]
    assert as_list.exclude_list() == as_text.exclude_list()
    assert load_settings(settings_file()).exclude_list() == []


def test_api_base_url_loses_its_trailing_slash(settings_file):
    url = "http://127.0.0.1:8650/v2/"
    assert load_settings(settings_file(api_base_url=url)).api_base_url == url[:-1]


def test_longest_allowed_prefix_keeps_droplet_names_within_63_characters(settings_file):
    prefix = "p" * S.PREFIX_MAX
    settings = load_settings(settings_file(droplet_name_prefix=prefix))

    assert len(f"{settings.droplet_name_prefix}-{'1' * 10}-001") == 63
    assert "too long" in error_of(settings_file(droplet_name_prefix=prefix + "p"))


def test_settings_are_frozen(settings_file):
    settings = load_settings(settings_file())
    with pytest.raises(AttributeError):
        settings.num_sites = 5


# --- the example file ---------------------------------------------------------------------


def test_example_file_lists_every_key_in_order_with_its_default():
    example = yaml.safe_load(EXAMPLE.read_text())

    assert tuple(example) == KEYS
    for key in KEYS:
        expected = None if key in REQUIRED else DEFAULTS[key]
        assert example[key] == expected, key


def test_example_file_stays_within_120_columns():
    lines = EXAMPLE.read_text().splitlines()
    assert max(len(line) for line in lines) <= 120


def test_example_file_fails_until_the_required_keys_are_filled_in(valid, settings_dir):
    path = settings_dir / "settings.yml"
    path.write_text(EXAMPLE.read_text())
    assert error_of(path).startswith(f"{path}: ssh_key: required and not given; valid: ")

    filled = EXAMPLE.read_text()
    for key in REQUIRED:
        filled = filled.replace(f"\n{key}:\n", f"\n{key}: {json.dumps(valid[key])}\n")
    filled = filled.replace('"~/.ssh/id_ed25519"', '"id_test"')
    path.write_text(filled)
    assert load_settings(path).num_sites == valid["num_sites"]


def test_every_key_has_a_default_or_is_required_and_a_field_of_settings():
    assert set(DEFAULTS) | REQUIRED == set(KEYS)
    assert not set(DEFAULTS) & REQUIRED


# --- one line for every bad value ---------------------------------------------------------

BAD_VALUES = [
    # key, value, words the line must hold besides the key
    ("num_crawlers", 0, ["0 is out of range; valid: 1 to 100"]),
    ("num_crawlers", 101, ["101 is out of range; valid: 1 to 100"]),
    ("num_crawlers", True, ["true is not a whole number"]),
    ("num_crawlers", "10", ['"10" is not a whole number']),
    ("num_crawlers", 2.5, ["2.5 is not a whole number"]),
    ("num_sites", 0, ["0 is out of range; valid: 1 to 1,000,000"]),
    ("num_sites", 1_000_001, ["1000001 is out of range; valid: 1 to 1,000,000"]),
    ("browser", "safari", ['"safari"', "valid: chrome, firefox, edge"]),
    ("browser", "Chrome", ['"Chrome"', "valid: chrome, firefox, edge"]),
    ("site_list", "missing.txt", ['"missing.txt" does not exist', "a list must be given"]),
    ("site_list", ".", ['"." is not a file', "Tranco CSV"]),
    ("droplet_name_prefix", "bad.name", ['"bad.name"', "no dots"]),
    ("droplet_name_prefix", "-lead", ['"-lead"', "inner hyphens"]),
    ("droplet_name_prefix", "trail-", ['"trail-"', "inner hyphens"]),
    ("droplet_name_prefix", "x y", ['"x y"', "letters, digits"]),
    ("pb_branch", "x; rm -rf ~", ['"x; rm -rf ~" is not a valid git branch name', ". _ / -"]),
    ("pb_branch", "$(reboot)", ['"$(reboot)" is not a valid git branch name']),
    ("pb_branch", "a..b", ['"a..b" is not a valid git branch name', '".."']),
    ("pb_branch", "-x", ['"-x" is not a valid git branch name']),
    ("pb_branch", "topic.lock", ['"topic.lock" is not a valid git branch name', ".lock"]),
    ("pb_branch", "topic/", ['"topic/" is not a valid git branch name']),
    ("pb_branch", "a//b", ['"a//b" is not a valid git branch name']),
    ("pb_branch", "a/.b", ['"a/.b" is not a valid git branch name']),
    ("pb_branch", "x.", ['"x." is not a valid git branch name']),
    ("pb_branch", "a b", ['"a b" is not a valid git branch name']),
    ("sett_version", "`id`", ['"`id`" is not a valid git branch, tag or commit']),
    ("region", "NYC2", ['"NYC2" is not a DigitalOcean slug', "a-z, 0-9, -"]),
    ("region", "nyc2 && id", ['"nyc2 && id" is not a DigitalOcean slug']),
    ("size", "s;reboot", ['"s;reboot" is not a DigitalOcean slug']),
    ("image", "-x", ['"-x" is not a DigitalOcean slug']),
    ("region", 3, ["3 is not text", "region slug"]),
    ("exclude_suffixes", ".gov; rm -rf ~", ['".gov; rm -rf ~" has characters other than']),
    ("exclude_suffixes", ".gov,..mil", ['"..mil" is not a domain suffix']),
    ("exclude_suffixes", ".gov.", ['".gov." is not a domain suffix']),
    ("crawl_user", "root", ['"root" is not a usable crawl user name', "not root"]),
    ("crawl_user", "Crawl", ['"Crawl" is not a usable crawl user name']),
    ("crawl_user", "u;id", ['"u;id" is not a usable crawl user name']),
    ("crawl_user", "u" * 33, ["is not a usable crawl user name", "up to 31"]),
    ("sett_repo", "https://x.org/r.git; id", ["is not a git repository address", "file://"]),
    ("sett_repo", "/opt/badger-sett.git", ['"/opt/badger-sett.git" is not a git repository']),
    ("sett_repo", "ftp://x.org/r.git", ['"ftp://x.org/r.git" is not a git repository']),
    ("sett_repo", "https://x.org/$(id)", ["is not a git repository address"]),
    ("extra_crawler_args", "--timeout 30", ['"--timeout 30" is not a list']),
    ("extra_crawler_args", ["--timeout", 30], ["item 2 (30) is not a string", "quote numbers"]),
    ("extra_crawler_args", ["a\nb"], ['item 1 ("a\\nb") holds a line break']),
    ("droplet_tags", ["bad tag"], ['"bad tag" is not a DigitalOcean tag', ": - _"]),
    ("droplet_tags", ["t" * 256], ["is not a DigitalOcean tag", "at most 255"]),
    ("droplet_tags", ["bsw-run-1764860000"], ['"bsw-run-1764860000" looks like a run tag']),
    ("droplet_tags", "team", ['"team" is not a list of strings']),
    ("api_base_url", "ftp://x.org/v2", ['"ftp://x.org/v2" is not an API base URL', "https://"]),
    ("api_base_url", "api.digitalocean.com", ['"api.digitalocean.com" is not an API base']),
    ("api_base_url", "http://h:port/v2", ['"http://h:port/v2" is not an API base URL']),
    ("ssh_key", 0, ["0 is not a key id", "MD5 fingerprint"]),
    ("ssh_key", -3, ["-3 is not a key id"]),
    ("ssh_key", "my-laptop", ['"my-laptop" is neither a key id nor an MD5 fingerprint']),
    ("ssh_key", ":".join(["ab"] * 15), ["is neither a key id nor an MD5 fingerprint"]),
    ("ssh_key", True, ["true is not text"]),
    ("ssh_private_key_file", "id_missing", ['"id_missing" does not exist', "id_missing)"]),
    ("stall_timeout", 0, ["0 is out of range; valid: seconds, more than 0"]),
    ("stall_timeout", -1, ["-1 is out of range"]),
    ("stall_timeout", "6m", ['"6m" is not a number']),
    ("stall_timeout", float("inf"), ["Infinity is not a number"]),
    ("poll_interval", 0, ["0 is out of range; valid: seconds, more than 0"]),
    ("poll_interval", False, ["false is not a number"]),
    ("max_retries", -1, ["-1 is out of range; valid: a whole number, 0 or more"]),
    ("max_retries", 1.5, ["1.5 is not a whole number"]),
    ("droplet_create_retries", -1, ["-1 is out of range"]),
    ("droplet_create_backoff", 0, ["0 is out of range"]),
    ("ssh_wait_timeout", 0, ["0 is out of range"]),
    ("sites_per_hour", 0, ["0 is out of range; valid: sites an hour, more than 0"]),
    ("droplet_start_seconds", -1, ["-1 is out of range; valid: seconds, 0 or more"]),
    ("install_packages", "yes please", ['"yes please" is not true or false']),
    ("install_packages", 1, ["1 is not true or false"]),
    ("seed", -1, ["-1 is out of range"]),
    ("seed", 2**53, ["9007199254740992 is out of range"]),
    ("seed", 1.5, ["1.5 is not a whole number"]),
    ("output_dir", "sites.txt", ['"sites.txt" exists and is not a folder']),
    ("pb_checkout", "no-such-checkout", ['"no-such-checkout" is not a folder', "Privacy Badger"]),
]


@pytest.mark.parametrize(
    "key, value, words", BAD_VALUES, ids=[f"{k}={v!r}"[:50] for k, v, _ in BAD_VALUES]
)
def test_bad_value_is_one_line_naming_key_value_and_what_is_valid(
    settings_file, key, value, words
):
    path = settings_file(**{key: value})

    message = error_of(path)

    assert message.startswith(f"{path}: {key}: ")
    assert "valid" in message
    for word in words:
        assert word in message


def test_every_key_has_at_least_one_bad_value_tried():
    assert {key for key, _, _ in BAD_VALUES} == set(KEYS)


def test_good_values_next_to_the_bad_ones_pass(settings_file, settings_dir):
    (settings_dir / "pb").mkdir()
    good = {
        "pb_branch": "mv3-chrome",
        "sett_version": "v2026.8.11",
        "sett_repo": "git@github.com:EFForg/badger-sett.git",
        "exclude_suffixes": ".mil,.mil.??,.gov,gov.uk",
        "droplet_tags": ["team:privacy", "scan_2026"],
        "extra_crawler_args": ["--timeout", "30", "--load-extension=x y"],
        "crawl_user": "_crawl-1",
        "seed": 0,
        "install_packages": False,
        "droplet_start_seconds": 0,
        "pb_checkout": "pb",
        "api_base_url": "http://127.0.0.1:8650/v2",
        "num_crawlers": 100,
        "num_sites": 1_000_000,
    }
    settings = load_settings(settings_file(**good))

    assert settings.pb_checkout == settings_dir / "pb"
    assert settings.extra_crawler_args == ("--timeout", "30", "--load-extension=x y")
    sett_repo = load_settings(settings_file(sett_repo="file:///opt/localcloud/badger-sett.git"))
    assert sett_repo.sett_repo.startswith("file://")


def test_a_readable_by_others_private_key_is_refused_as_ssh_would(settings_file, settings_dir):
    (settings_dir / "id_test").chmod(0o644)

    message = error_of(settings_file())

    assert "ssh_private_key_file" in message and "mode 644" in message and "chmod 600" in message


def test_user_name_and_password_in_the_api_url_are_refused_and_not_echoed(settings_file):
    message = error_of(settings_file(api_base_url="https://me:s3cret@api.example.org/v2"))

    assert "user name or password" in message
    assert "s3cret" not in message


def test_unknown_key_suggests_the_close_one_and_lists_the_valid_ones(settings_file):
    path = settings_file(num_crawler=4)

    message = error_of(path)

    assert message.startswith(f'{path}: unknown key "num_crawler" (did you mean "num_crawlers"?)')
    assert "valid keys: api_base_url, droplet_name_prefix," in message


def test_a_token_in_the_file_is_refused_without_echoing_it(settings_file):
    message = error_of(settings_file(api_token="dop_v1_secretvalue"))

    assert 'unknown key "api_token"' in message and "DO_API_TOKEN" in message
    assert "secretvalue" not in message


@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_missing_required_key_names_it_and_what_is_valid(settings_file, key):
    path = settings_file(**{key: None})

    assert error_of(path).startswith(f"{path}: {key}: required and not given; valid: ")


def test_empty_required_value_counts_as_missing(settings_file):
    path = settings_file(site_list="")

    message = error_of(path)

    assert message.startswith(f"{path}: site_list: required and not given")
    assert "nothing downloads Tranco" in message


def test_empty_value_of_an_optional_key_is_an_error_naming_the_default(settings_file):
    path = settings_file()
    path.write_text(path.read_text() + "region:\n")

    message = error_of(path)

    assert message.startswith(f"{path}: region: no value given; valid: a DigitalOcean region")
    assert 'default "nyc2"' in message


def test_null_is_fine_for_keys_whose_default_is_null(settings_file):
    path = settings_file()
    path.write_text(path.read_text() + "seed: null\npb_checkout:\n")

    settings = load_settings(path)

    assert settings.seed is None and settings.pb_checkout is None


def test_first_problem_is_reported_in_the_documented_order(settings_file):
    # Unknown keys come before missing ones, which come before bad values in key order.
    assert 'unknown key "colour"' in error_of(
        settings_file(colour="red", num_crawlers=0, ssh_key=None)
    )
    assert ": ssh_key: required" in error_of(settings_file(num_crawlers=0, ssh_key=None))
    assert ": num_crawlers: 0" in error_of(settings_file(num_sites=0, num_crawlers=0))
    assert ": region: " in error_of(settings_file(browser="safari", region="NYC"))


# --- the file itself ----------------------------------------------------------------------


def test_missing_settings_file_is_named(tmp_path):
    message = error_of(tmp_path / "settings.yml")
    assert "settings.yml does not exist" in message and "settings.example.yml" in message


def test_settings_path_that_is_a_folder_is_refused(tmp_path):
    assert "is a folder" in error_of(tmp_path)


def test_invalid_yaml_names_line_and_column(settings_dir):
    path = settings_dir / "settings.yml"
    path.write_text("num_sites: 4\nregion: [nyc2\n")

    message = error_of(path)

    assert message.startswith(f"{path}: not valid YAML at line ")


@pytest.mark.parametrize("text, words", [("- a\n- b\n", "holds a list"), ("", "is empty")])
def test_file_that_is_not_a_mapping_is_refused(settings_dir, text, words):
    path = settings_dir / "settings.yml"
    path.write_text(text)

    assert words in error_of(path)


def test_a_key_given_twice_is_refused_with_both_lines(settings_file):
    path = settings_file()
    path.write_text(path.read_text() + "num_sites: 10\n")

    message = error_of(path)

    assert 'key "num_sites" is given twice (lines 4 and 6)' in message


def test_validate_takes_a_mapping_directly(valid, settings_dir):
    settings = validate(dict(valid), settings_dir, settings_dir / "x.yml")
    assert settings.site_list == settings_dir / "sites.txt"

    with pytest.raises(UserError, match=r"^x.yml: holds a list"):
        validate(["a"], settings_dir, Path("x.yml"))


# --- what may be written, and the token ---------------------------------------------------


def test_public_copy_is_plain_yaml_with_nothing_from_the_environment(
    valid, settings_file, monkeypatch
):
    monkeypatch.setenv("DO_API_TOKEN", "dop_v1_do_not_write_me")
    settings = load_settings(settings_file(droplet_tags=["a"], extra_crawler_args=["--x"]))

    public = settings.public()
    dumped = yaml.safe_dump(public)
    redacted = yaml.safe_dump(settings.public(redact_ssh_key=True))

    assert list(public) == list(KEYS)
    assert public["ssh_key"] == valid["ssh_key"]
    assert S.REDACTED in redacted and valid["ssh_key"] not in redacted
    assert public["site_list"] == str(settings.site_list)
    assert public["droplet_tags"] == ["a"]
    assert "dop_v1" not in dumped


def test_public_copy_loads_back_to_the_same_settings(settings_file, settings_dir):
    settings = load_settings(settings_file(seed=7, exclude_suffixes=".mil"))
    copy = settings_dir / "copy.yml"
    copy.write_text(yaml.safe_dump(settings.public()))

    again = load_settings(copy)

    assert {k: getattr(again, k) for k in KEYS} == {k: getattr(settings, k) for k in KEYS}


def test_api_token_comes_from_the_environment():
    assert api_token({"DO_API_TOKEN": " dop_v1_abc\n"}) == "dop_v1_abc"


@pytest.mark.parametrize("env", [{}, {"DO_API_TOKEN": ""}, {"DO_API_TOKEN": "  "}])
def test_missing_api_token_says_to_export_it(env):
    with pytest.raises(UserError, match=r"^DO_API_TOKEN is not set; export DO_API_TOKEN="):
        api_token(env)


def test_api_token_with_inner_whitespace_is_refused_without_echoing_it():
    with pytest.raises(UserError) as info:
        api_token({"DO_API_TOKEN": "dop_v1 secretpart"})
    assert "secretpart" not in str(info.value)


def test_api_token_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("DO_API_TOKEN", "dop_v1_env")
    assert api_token() == "dop_v1_env" == os.environ["DO_API_TOKEN"]
