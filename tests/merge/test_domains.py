"""Base domains, IP addresses, third parties and subdomain chains, rule by rule."""

import pytest
from merge_helpers import small_pb

from runner.merge import base_domain, is_third_party, load_pb_data
from runner.merge.domains import (
    all_parents_chain,
    is_ipv4,
    is_ipv6,
    subdomain_chain,
    third_party_sites,
)


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("www.example.com", "example.com"),
        ("a.b.c.example.com", "example.com"),
        ("example.com", "example.com"),
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("co.uk", "co.uk"),
        ("com", "com"),
    ],
)
def test_base_domain_of_ordinary_suffix_keeps_one_label(pb, host, base):
    assert base_domain(host, pb) == base


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("a.b.foo.kawasaki.jp", "b.foo.kawasaki.jp"),
        ("b.foo.kawasaki.jp", "b.foo.kawasaki.jp"),
        ("foo.kawasaki.jp", "foo.kawasaki.jp"),
        ("kawasaki.jp", "kawasaki.jp"),
    ],
)
def test_base_domain_of_wildcard_suffix_keeps_two_labels(pb, host, base):
    assert base_domain(host, pb) == base


def test_base_domain_of_exception_rule_is_the_exception_itself(pb):
    assert base_domain("www.city.kawasaki.jp", pb) == "city.kawasaki.jp"
    assert base_domain("a.b.city.kawasaki.jp", pb) == "city.kawasaki.jp"
    assert base_domain("city.kawasaki.jp", pb) == "city.kawasaki.jp"


def test_base_domain_of_unknown_suffix_treats_last_label_as_suffix(pb):
    assert base_domain("www.example.zz", pb) == "example.zz"
    assert base_domain("localhost", pb) == "localhost"
    assert base_domain("", pb) == ""


def test_base_domain_under_private_suffix_keeps_one_label_below_it(pb):
    assert base_domain("user.github.io", pb) == "user.github.io"
    assert base_domain("www.user.github.io", pb) == "user.github.io"
    assert base_domain("github.io", pb) == "github.io"


def test_base_domain_drops_exactly_one_trailing_dot(pb):
    assert base_domain("www.example.com.", pb) == "example.com"
    assert base_domain("www.city.kawasaki.jp.", pb) == "city.kawasaki.jp"
    # Only one dot goes: the rest is walked as an unknown empty label.
    assert base_domain("www.example.com..", pb) == "com."


@pytest.mark.parametrize(
    "host",
    ["192.168.0.1", "10.0.0.255", "0x7f.0x0.0x0.0x1", "0177.0.0.1", "255.255.255.255"],
)
def test_base_domain_of_dotted_ipv4_is_the_address(pb, host):
    assert is_ipv4(host)
    assert base_domain(host, pb) == host
    assert base_domain(host + ".", pb) == host


def test_ipv4_forms_hex_and_decimal(pb):
    assert is_ipv4("0xC0A80001")
    assert is_ipv4("0xc0a80001")
    assert is_ipv4("3232235521")
    assert is_ipv4("0")
    assert not is_ipv4("0xC0A8001")  # seven hex digits
    assert not is_ipv4("0xC0A800011")  # nine
    assert base_domain("3232235521.", pb) == "3232235521"


@pytest.mark.parametrize("host", ["256.1.1.1", "1.2.3", "1.2.3.4.5", "0x123.0.0.1", "1.2.3.com"])
def test_not_ipv4_goes_through_the_suffix_table(pb, host):
    assert not is_ipv4(host)
    assert base_domain(host, pb) == ".".join(host.split(".")[-2:])


@pytest.mark.parametrize(
    "host",
    [
        "2001:db8::1",
        "::1",
        "::",
        "1:2:3:4:5:6:7:8",
        "fe80::1:2:3:4",
        "::ffff:192.0.2.1",
        "64:ff9b::192.0.2.33",
        "1:2:3:4:5:6:1.2.3.4",
    ],
)
def test_ipv6_is_its_own_base(pb, host):
    assert is_ipv6(host)
    assert base_domain(host, pb) == host


@pytest.mark.parametrize(
    "host",
    [
        "1:2:3",  # too few groups without "::"
        "12345::1",  # a group of five hex digits
        ":::1",  # three colons in a row
        "1::2::3",  # two "::"
        "1:2:3:4:5:6:7:",  # ends with a lone colon
        "g::1",  # not hex
        "::ffff:192.0.2.01",  # leading zero in the dotted tail
        "::ffff1.2.3.4",  # dotted tail glued to a digit
        "example.com",
    ],
)
def test_not_ipv6(host):
    assert not is_ipv6(host)


def test_dotted_ipv6_tail_would_otherwise_be_cut_by_suffix_walk(pb):
    assert base_domain("::ffff:192.0.2.1", pb) != "2.1"


def test_third_party_rule_same_base_or_subdomain_is_first_party(pb):
    assert not is_third_party("example.com", "example.com", pb)
    assert not is_third_party("example.com", "cdn.example.com", pb)
    assert not is_third_party("www.example.com", "cdn.example.com", pb)
    assert not is_third_party("example.com.", "example.com", pb)
    assert is_third_party("other.com", "example.com", pb)
    assert is_third_party("example.com.evil.com", "example.com", pb)
    assert is_third_party("notexample.com", "example.com", pb)


def test_third_party_rule_same_first_party_group_is_first_party(pb):
    assert not is_third_party("youtube.com", "google.com", pb)
    assert not is_third_party("www.youtube.com", "fonts.gstatic.com", pb)
    assert not is_third_party("amazon.co.uk", "amazon.com", pb)
    assert is_third_party("amazon.co.uk", "google.com", pb)


def test_third_party_rule_with_empty_names_is_third_party(pb):
    assert is_third_party("", "example.com", pb)
    assert is_third_party("example.com", "", pb)


def test_third_party_sites_fast_path_agrees_with_the_rule(pb):
    sites = [
        "example.com",
        "www.example.com",
        "example.com.",
        "",
        "other.com",
        "youtube.com",
        "x.example.co.uk",
        "notexample.com",
    ]
    for tracker in ["example.com", "cdn.example.com", "google.com", "example.com.", ""]:
        expected = [s for s in sites if is_third_party(s, tracker, pb)]
        assert third_party_sites(tracker, sites, pb) == expected, tracker


def test_third_party_sites_with_real_data_agree_with_the_rule():
    pb = load_pb_data(None, "master")
    sites = ["youtube.com", "google.co.uk", "bbc.co.uk", "nytimes.com", "user.github.io"]
    for tracker in ["google.com", "doubleclick.net", "github.io", "bbci.co.uk"]:
        expected = [s for s in sites if is_third_party(s, tracker, pb)]
        assert third_party_sites(tracker, sites, pb) == expected, tracker
    assert "bbc.co.uk" not in third_party_sites("bbci.co.uk", sites, pb)


def test_subdomain_chain_runs_from_host_to_base(pb):
    assert subdomain_chain("a.b.example.co.uk", pb) == [
        "a.b.example.co.uk",
        "b.example.co.uk",
        "example.co.uk",
    ]
    assert subdomain_chain("example.com", pb) == ["example.com"]


def test_all_parents_chain_runs_to_the_last_label():
    assert all_parents_chain("a.example.co.uk") == [
        "a.example.co.uk",
        "example.co.uk",
        "co.uk",
        "uk",
    ]


def test_base_domain_uses_the_given_suffix_table():
    pb = small_pb()
    pb.suffixes["example.com"] = 1
    assert base_domain("www.example.com", pb) == "www.example.com"


def test_odd_names_are_empty_or_end_with_a_dot():
    from runner.merge.domains import has_odd_names

    assert not has_odd_names(["a.com", "b.org"])
    assert not has_odd_names([])
    assert has_odd_names(["a.com", ""])
    assert has_odd_names(["", "a.com"])
    assert has_odd_names(["a.com."])
    assert has_odd_names(["b.com", "a.com.", "c.com"])


def test_cleaning_a_file_with_odd_site_names_follows_the_rule(pb):
    from runner.merge.importer import clean_snitch_map

    snitch_map = {"example.com": ["a.com", "example.com.", "", "www.example.com"]}
    assert clean_snitch_map(snitch_map, pb) == {"example.com": ["a.com", ""]}
