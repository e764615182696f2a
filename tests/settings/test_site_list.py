"""Site lists: reading plain lists and Tranco CSVs, excluding suffixes, dealing shards.

The real-list tests use tests/data/sites-sample.txt: the first and the last 500
lines of ../shared/data/sites/sites-from-scans.txt (sites four real scans
visited), which include its one line that is not a domain (`_wildcard_.ph`),
reverse-DNS names and `xn--` internationalised names.
"""

import random
from collections import Counter
from pathlib import Path

import pytest

from runner.errors import UserError
from runner.sitelist import (
    SiteList,
    make_shards,
    read_site_list,
    select_sites,
    suffix_excluded,
)

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sites-sample.txt"
SAMPLE_LINES = SAMPLE.read_text().splitlines()


# --- reading ------------------------------------------------------------------------------


def test_real_list_keeps_every_domain_in_order_and_reports_its_one_bad_line():
    site_list = read_site_list(SAMPLE)

    assert site_list.kind == "plain"
    assert site_list.duplicates == 0
    assert site_list.skipped == [(162, "_wildcard_.ph", site_list.skipped[0][2])]
    assert "letters, digits, hyphens" in site_list.skipped[0][2]
    assert site_list.sites == [line for line in SAMPLE_LINES if line != "_wildcard_.ph"]
    assert "xn--12c1ezaww.com" in site_list.sites and "142.in-addr.arpa" in site_list.sites


def test_real_list_as_tranco_csv_gives_the_same_sites(tmp_path):
    csv = tmp_path / "tranco.csv"
    csv.write_text("".join(f"{rank},{d}\r\n" for rank, d in enumerate(SAMPLE_LINES, 1)))

    site_list = read_site_list(csv)

    assert site_list.kind == "tranco"
    assert site_list.sites == read_site_list(SAMPLE).sites
    assert [(n, text) for n, text, _ in site_list.skipped] == [(162, "162,_wildcard_.ph")]


def test_tranco_csv_may_start_with_a_header_and_comments(tmp_path):
    csv = tmp_path / "tranco.csv"
    csv.write_text(
        "# Tranco list 5X83N\nrank,domain\n1,google.com\n2,Example.org\nnot-ranked.com\n"
    )

    site_list = read_site_list(csv)

    assert site_list.kind == "tranco"
    assert site_list.sites == ["google.com", "example.org"]
    assert site_list.skipped == [(5, "not-ranked.com", "not a rank,domain line")]


def test_plain_list_whose_lines_hold_commas_is_not_taken_for_tranco(tmp_path):
    path = tmp_path / "sites.txt"
    path.write_text("example.com\n1,example.org\n")

    site_list = read_site_list(path)

    assert site_list.kind == "plain"
    assert site_list.sites == ["example.com"]
    assert [n for n, _, _ in site_list.skipped] == [2]


BAD_LINES = [
    ("https://example.com", "scheme"),
    ("example.com/path", "path"),
    ("example.com:8080", "port"),
    ("192.168.1.1", "IP address"),
    ("2001:db8::1", "IP address"),
    ("[::1]", "IP address"),
    ("exa mple.com", "space"),
    ("localhost", "single label"),
    ("_dmarc.example.com", "letters, digits, hyphens"),
    ("bücher.de", "letters, digits, hyphens"),
    ("-lead.example.com", "hyphen"),
    ("trail-.example.com", "hyphen"),
    ("a..b.com", "empty label"),
    ("x" * 64 + ".com", "longer than 63"),
    (".".join(["a" * 60] * 5), "longer than 253"),
    ("1.2.3", "all-digit"),
]


def test_lines_that_are_not_domains_are_reported_with_line_numbers_and_skipped(tmp_path):
    path = tmp_path / "sites.txt"
    text = "# top sites\n\nexample.com\n" + "\n".join(line for line, _ in BAD_LINES)
    path.write_text(text + "\nexample.net  # trailing comment\n")

    site_list = read_site_list(path)

    assert site_list.sites == ["example.com", "example.net"]
    assert [(n, line) for n, line, _ in site_list.skipped] == [
        (4 + i, line) for i, (line, _) in enumerate(BAD_LINES)
    ]
    for (_, line, reason), (_, words) in zip(site_list.skipped, BAD_LINES, strict=True):
        assert words in reason, line


def test_domains_are_lowercased_lose_one_trailing_dot_and_duplicates_are_counted(tmp_path):
    path = tmp_path / "sites.txt"
    path.write_text(
        "Example.COM\nexample.com.\n  example.com  \nexample.com..\nXN--mgbkt9eckr.net\n"
    )

    site_list = read_site_list(path)

    assert site_list.sites == ["example.com", "xn--mgbkt9eckr.net"]
    assert site_list.duplicates == 2
    assert [n for n, _, _ in site_list.skipped] == [4]


def test_a_stray_non_utf8_byte_spoils_its_line_only(tmp_path):
    path = tmp_path / "sites.txt"
    path.write_bytes(b"\xef\xbb\xbfexample.com\ncaf\xe9.fr\nexample.org\n")

    site_list = read_site_list(path)

    assert site_list.sites == ["example.com", "example.org"]
    assert [n for n, _, _ in site_list.skipped] == [2]


def test_an_empty_list_reads_as_no_sites(tmp_path):
    path = tmp_path / "sites.txt"
    path.write_text("# nothing yet\n\n")

    assert read_site_list(path) == SiteList(sites=[], skipped=[], duplicates=0, kind="plain")


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda d: d / "missing.txt", "does not exist"),
        (lambda d: d, "is a folder"),
        (lambda d: (d / "x.gz").write_bytes(b"\x1f\x8b\x08\x00\x00") and d / "x.gz", "binary"),
    ],
    ids=["missing", "folder", "binary"],
)
def test_unusable_site_list_file_is_a_user_error_naming_it(tmp_path, make, words):
    path = make(tmp_path)

    with pytest.raises(UserError) as info:
        read_site_list(path)

    message = str(info.value)
    assert str(path) in message and words in message and "\n" not in message


# --- excluding suffixes -------------------------------------------------------------------

SUFFIX_CASES = [
    # domain, pattern, excluded
    ("army.mil", ".mil", True),
    ("army.mil.uk", ".mil", False),
    ("familiar.com", ".mil", False),
    ("x.gov.uk", ".gov.??", True),
    ("a.b.gov.au", ".gov.??", True),
    ("x.gov.com", ".gov.??", False),
    ("x.gov.u", ".gov.??", False),
    ("gov.uk", ".gov.??", False),
    ("x.gov.uk", ".gov.?", False),
    ("x.gov.u.k", ".gov.???", False),  # ? never matches the dot between labels
    ("x.mygov.uk", ".gov.??", False),
    ("gov.uk", "gov.uk", True),
    ("x.gov.uk", "gov.uk", True),
    ("mygov.uk", "gov.uk", False),
    ("army.mil", "mil", True),
    ("family.mil", "ly.mil", False),
    ("Army.MIL", ".mil", True),
    ("x.edu.au", ".???.au", True),
    ("x.co.au", ".???.au", False),
    ("x.gov.uk", "?ov.uk", True),
    ("x.gov.uk", ".uk", True),
]


@pytest.mark.parametrize("domain, pattern, excluded", SUFFIX_CASES)
def test_suffix_patterns_match_whole_labels_and_question_mark_one_character(
    domain, pattern, excluded
):
    assert suffix_excluded(domain, pattern) is excluded


def test_select_sites_drops_excluded_suffixes_and_google_country_sites_keeping_order():
    sites = [
        "google.de",
        "example.com",
        "army.mil",
        "google.com",
        "google.co.uk",
        "x.gov.uk",
        "about.google",
        "googleapis.com",
        "mail.google.com",
        "x.gov.com",
        "last.org",
    ]

    selected = select_sites(sites, 100, [".mil", ".gov.??"])

    assert selected == [
        "example.com",
        "google.com",
        "about.google",
        "googleapis.com",
        "mail.google.com",
        "x.gov.com",
        "last.org",
    ]


def test_select_sites_takes_the_first_num_sites_after_filtering():
    sites = ["google.fr", "a.com", "b.mil", "c.com", "d.com"]

    assert select_sites(sites, 2, [".mil"]) == ["a.com", "c.com"]
    assert select_sites(sites, 1, []) == ["a.com"]
    assert select_sites(sites, 10, [""]) == ["a.com", "b.mil", "c.com", "d.com"]


def test_select_sites_on_the_real_list():
    sites = read_site_list(SAMPLE).sites

    selected = select_sites(sites, 900, [".arpa", ".net"])

    assert len(selected) == 900
    assert not any(s.endswith((".arpa", ".net")) for s in selected)
    assert selected == [s for s in sites if not s.endswith((".arpa", ".net"))][:900]


# --- shards -------------------------------------------------------------------------------


@pytest.mark.parametrize("num_crawlers", [1, 2, 3, 7, 10, 64, 100])
def test_shards_are_balanced_cover_every_site_once_and_never_outnumber_sites(num_crawlers):
    for num_sites in [*range(0, 130), 999, 1000, 1001]:
        sites = [f"site{i}.com" for i in range(num_sites)]

        shards = make_shards(sites, num_crawlers, seed=num_sites)

        assert len(shards) == min(num_crawlers, num_sites)
        sizes = [len(shard) for shard in shards]
        assert not sizes or (max(sizes) - min(sizes) <= 1 and min(sizes) >= 1)
        assert Counter(s for shard in shards for s in shard) == Counter(sites)


def test_a_remainder_never_costs_an_extra_droplet():
    shards = make_shards([f"s{i}.com" for i in range(401)], 4, seed=1)

    assert [len(shard) for shard in shards] == [101, 100, 100, 100]


def test_shards_are_deterministic_for_a_seed_and_shuffled():
    sites = read_site_list(SAMPLE).sites
    original = list(sites)

    first = make_shards(sites, 10, seed=1234567)
    again = make_shards(sites, 10, seed=1234567)
    other = make_shards(sites, 10, seed=7654321)

    assert first == again
    assert first != other
    assert sites == original
    assert [s for shard in first for s in shard] != sites
    # Shuffled, not dealt in list order: the alphabetically first sites are spread out.
    assert sum(1 for s in first[0] if s in sites[:100]) < 50


def test_shard_order_matches_a_shuffle_with_the_recorded_seed():
    sites = [f"s{i}.com" for i in range(50)]
    shuffled = list(sites)
    random.Random(42).shuffle(shuffled)

    assert [s for shard in make_shards(sites, 3, seed=42) for s in shard] == shuffled


def test_zero_crawlers_is_a_programming_error():
    with pytest.raises(ValueError):
        make_shards(["a.com"], 0, seed=1)
