"""The optional micro-cache (nginx/micro-cache.conf and micro-cache-zone.conf, issue 17) in the
shipped site, as README says to enable it: nginx keeps what fibcache's headers allow, one
request per cold n reaches fibcache, HEAD never poisons GET, refusals are never kept."""
import json
import threading

import pytest

from conftest import Stack, fastcgi_status

API = "/api/fibonacci/number"


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """conftest's module stack, with the micro-cache rendered into the site."""
    s = Stack(tmp_path_factory.mktemp("micro-cache"), render_args=["--micro-cache"])
    try:
        yield s.start()
    finally:
        s.stop()


def requests_served(stack):
    status = fastcgi_status(stack.socket)
    return status["hits"] + status["misses"] + status["bypasses"]


def test_a_repeated_request_is_answered_by_nginx(cached):
    first = cached.get(f"{API}/40/")
    before = requests_served(cached)
    second = cached.get(f"{API}/40/")
    assert (first[0], first[1]["x-micro-cache"]) == (200, "MISS")
    assert (second[0], second[1]["x-micro-cache"]) == (200, "HIT")
    assert second[2] == first[2] and json.loads(second[2]) == {"fibonacci": 102334155}
    assert second[1]["etag"] == first[1]["etag"] and second[1]["cache-control"] == first[1]["cache-control"]
    assert requests_served(cached) == before, "fibcache was not asked again"
    # The snippet's add_header replaces the server's: it repeats the browser headers.
    plain = cached.get("/")[1]
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
        assert first[1][header] == second[1][header] == plain[header], header
    # A conditional request is answered from the kept copy too.
    status, headers, body = cached.request("GET", f"{API}/40/", headers={"If-None-Match": first[1]["etag"]})
    assert (status, body, headers["x-micro-cache"]) == (304, b"", "HIT")


def test_head_first_does_not_poison_get(cached):
    status, headers, body = cached.request("HEAD", f"{API}/41/")
    assert (status, body) == (200, b"")
    status, headers, body = cached.get(f"{API}/41/")
    assert status == 200 and json.loads(body) == {"fibonacci": 165580141}


def test_refusals_are_never_kept(cached):
    for _ in range(2):
        status, headers, _ = cached.get(f"{API}/abc/")
        assert (status, headers["x-micro-cache"], headers["cache-control"]) == (400, "MISS", "no-store")


def test_many_clients_asking_one_cold_n_reach_fibcache_once(cached):
    cached.redis.cli("del", "fibonacci_250000")
    before = requests_served(cached)
    answers = []

    def ask():
        answers.append(cached.get(f"{API}/250000/"))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 16 and all(status == 200 for status, _, _ in answers)
    assert len({body for _, _, body in answers}) == 1
    assert sorted(h["x-micro-cache"] for _, h, _ in answers).count("MISS") == 1
    assert requests_served(cached) - before == 1


def test_delete_does_not_reach_it(cached):
    """As README says: DELETE clears Redis and fibcache's copies, not nginx's (nor a CDN's)."""
    cached.get(f"{API}/42/")
    assert cached.ops("DELETE", f"{API}/42/")[0] == 200
    status, headers, _ = cached.get(f"{API}/42/")
    assert (status, headers["x-micro-cache"]) == (200, "HIT")
