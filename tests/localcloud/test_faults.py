"""Each injected fault of the API stand-in behaves as its real-world counterpart does."""

import time

import pytest

from runner.localcloud.droplets import ssh_banner
from runner.localcloud.faults import ErrorInjector, RateLimiter
from runner.localcloud.testing import start_cloud_for_tests

RATE_LIMITED = {"id": "too_many_requests", "message": "API Rate limit exceeded."}
NOT_FOUND = {"id": "not_found", "message": "The resource you were accessing could not be found."}
LIMIT_MESSAGE = "creating this/these droplet(s) will exceed your droplet limit"


def test_rate_limiter_counts_a_sliding_minute_and_hour():
    limiter = RateLimiter()
    t = 1_000_000.0
    assert [limiter.admit(3, 0, now=t + i)[0] for i in range(4)] == [True, True, True, False]
    allowed, headers = limiter.admit(3, 0, now=t + 60.5)
    assert allowed  # the first request left the minute window
    assert headers["ratelimit-limit"] == "5000" and headers["ratelimit-remaining"] == "4996"

    limiter = RateLimiter()
    assert [limiter.admit(0, 2, now=t + i)[0] for i in range(3)] == [True, True, False]
    allowed, headers = limiter.admit(0, 2, now=t + 10)
    assert not allowed
    assert headers == {
        "ratelimit-limit": "2",
        "ratelimit-remaining": "0",
        "ratelimit-reset": str(int(t + 3600)),
    }
    assert limiter.admit(0, 2, now=t + 3600.5)[0]


@pytest.fixture
def fresh(tmp_path):
    """A cloud of the test's own, so that its request counts start at zero."""
    cloud = start_cloud_for_tests(tmp_path / "fresh", nets=range(150, 250))
    yield cloud
    cloud.stop()


@pytest.mark.cloud
def test_per_minute_rate_limit_answers_429_with_the_headers_then_recovers(fresh):
    fresh.set_faults(api={"rate_limit_per_minute": 5})
    answers = [fresh.api("GET", "account") for _ in range(7)]
    assert [a[0] for a in answers] == [200] * 5 + [429] * 2
    status, headers, body = answers[-1]
    assert body == RATE_LIMITED
    assert headers["ratelimit-limit"] == "5000" and headers["ratelimit-remaining"] == "4995"
    assert int(headers["ratelimit-reset"]) >= int(time.time()) + 3590
    fresh.clear_faults()
    assert fresh.api("GET", "account")[0] == 200


@pytest.mark.cloud
def test_per_hour_rate_limit_shows_in_the_headers_and_answers_429(fresh):
    fresh.set_faults(api={"rate_limit_per_hour": 3})
    answers = [fresh.api("GET", "sizes") for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 429]
    assert [a[1]["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    status, headers, body = answers[-1]
    assert body == RATE_LIMITED and headers["ratelimit-limit"] == "3"
    # A token check failure is answered before counting, still with the headers.
    status, headers, _ = fresh.api("GET", "sizes", token="wrong")
    assert status == 401 and headers["ratelimit-remaining"] == "0"


@pytest.mark.cloud
def test_droplet_limit_refuses_creates_beyond_it_with_422(cloud, tag):
    current = len(cloud.droplets())
    with cloud.faults(api={"droplet_limit": current + 2}):
        assert cloud.api("GET", "account")[2]["account"]["droplet_limit"] == current + 2
        body = {
            "names": [f"{tag}-{i}" for i in range(3)],
            "size": "s-1vcpu-1gb",
            "region": "nyc1",
            "image": "ubuntu-24-04-x64",
            "tags": [tag],
        }
        status, _, answer = cloud.api("POST", "droplets", body)
        assert (status, answer) == (422, {"id": "unprocessable_entity", "message": LIMIT_MESSAGE})
        assert cloud.droplets(tag) == []
        assert len(cloud.create([f"{tag}-0", f"{tag}-1"], tag)) == 2
        status, _, answer = cloud.api("POST", "droplets", body | {"names": [f"{tag}-2"]})
        assert status == 422 and answer["message"] == LIMIT_MESSAGE


def test_error_injector_is_repeatable_for_a_seed():
    def draws(seed):
        injector = ErrorInjector()
        return [injector.draw(1, 0.3, seed) for _ in range(200)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    failures = [d for d in draws(7) if d]
    assert 30 < len(failures) < 90
    assert {status for status, _ in failures} <= {500, 502, 503}


@pytest.mark.cloud
def test_error_rate_answers_that_share_with_5xx_repeatably(cloud):
    def statuses():
        return [cloud.api("GET", "account")[0] for _ in range(60)]

    cloud.set_faults(api={"error_rate": 0.5, "error_seed": 42})
    first = statuses()
    cloud.set_faults(api={"error_rate": 0.5, "error_seed": 42})
    second = statuses()
    assert first == second
    failed = [s for s in first if s != 200]
    assert 10 < len(failed) < 50 and set(failed) <= {500, 502, 503}

    cloud.set_faults(api={"error_rate": 1.0})
    status, headers, body = cloud.api("GET", "droplets")
    assert status >= 500 and body["id"] and body["message"]
    assert "ratelimit-remaining" in headers
    cloud.clear_faults()
    assert statuses() == [200] * 60


@pytest.mark.cloud
def test_active_delay_holds_a_new_droplet_back(cloud, tag):
    with cloud.faults(api={"active_delay": 3}):
        started = time.monotonic()
        (droplet,) = cloud.create([f"{tag}-slow"], tag)
        time.sleep(1.5)
        assert cloud.api("GET", f"droplets/{droplet['id']}")[2]["droplet"]["status"] == "new"
        cloud.wait_active([droplet["id"]])
        assert time.monotonic() - started >= 2.9


@pytest.mark.cloud
def test_an_active_droplet_can_refuse_ssh_for_a_while(cloud, tag):
    with cloud.faults(api={"active_delay": 0.5, "ssh_refuse_seconds": 4}):
        (droplet,) = cloud.create([f"{tag}-shy"], tag)
        (droplet,) = cloud.wait_active([droplet["id"]])
    active_at = time.monotonic()
    ip = droplet["networks"]["v4"][0]["ip_address"]
    assert not ssh_banner(ip, timeout=1)
    assert cloud.ssh(ip, "true", timeout=10).returncode == 255
    while not ssh_banner(ip, timeout=1):
        assert time.monotonic() - active_at < 15, "sshd never started"
        time.sleep(0.2)
    assert time.monotonic() - active_at >= 2.5
    assert cloud.ssh(ip, "hostname").stdout.strip() == f"{tag}-shy"


@pytest.mark.cloud
def test_a_vanished_droplet_is_404_and_its_host_is_gone(cloud, tag):
    doomed, kept = cloud.wait_active(
        [d["id"] for d in cloud.create([f"{tag}-a", f"{tag}-b"], tag)]
    )
    ip = doomed["networks"]["v4"][0]["ip_address"]
    assert cloud.ssh(ip, "true").returncode == 0

    cloud.set_faults(api={"vanish": [doomed["name"]]})
    status, _, body = cloud.api("GET", f"droplets/{doomed['id']}")
    assert (status, body) == (404, NOT_FOUND)
    assert cloud.api("GET", f"droplets/{kept['id']}")[0] == 200
    assert [d["id"] for d in cloud.droplets(tag)] == [kept["id"]]
    folder = cloud.cloud.paths.droplet(doomed["id"])
    deadline = time.monotonic() + 5
    while ssh_banner(ip, timeout=0.5) or folder.exists():
        assert time.monotonic() < deadline, "the vanished droplet still runs or has files"
        time.sleep(0.1)


@pytest.mark.cloud
def test_vanish_after_seconds_deletes_a_droplet_by_id_later(cloud, tag):
    (droplet,) = cloud.create([f"{tag}-later"], tag)
    cloud.set_faults(api={"vanish": [droplet["id"]], "vanish_after_seconds": 3})
    created = time.monotonic()
    assert cloud.api("GET", f"droplets/{droplet['id']}")[0] == 200
    while cloud.api("GET", f"droplets/{droplet['id']}")[0] == 200:
        assert time.monotonic() - created < 10, "the droplet never vanished"
        time.sleep(0.2)
    assert time.monotonic() - created >= 2
    assert cloud.api("GET", f"droplets/{droplet['id']}")[2] == NOT_FOUND
