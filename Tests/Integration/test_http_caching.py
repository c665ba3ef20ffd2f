"""Answers HTTP caches may keep (issue 17): F(n) never changes, so a 200 is cacheable by anyone for
a year and immutable, with a strong ETag of n alone; a conditional request with it gets 304 without
Redis or a computation; refusals are never kept. Through the real nginx and the shipped site."""
import json

from conftest import fastcgi_status

API = "/api/fibonacci/number"
FOREVER = "public, max-age=31536000, immutable"


def test_an_answer_is_cacheable_forever_with_a_strong_tag(stack):
    status, headers, body = stack.get(f"{API}/40/")
    assert status == 200 and json.loads(body) == {"fibonacci": 102334155}
    assert headers["cache-control"] == FOREVER
    assert headers["etag"] == '"fibonacci-40-json1"'
    status, head_headers, head_body = stack.request("HEAD", f"{API}/40/")
    assert status == 200 and head_body == b""
    assert head_headers["cache-control"] == FOREVER and head_headers["etag"] == headers["etag"]


def test_a_conditional_request_is_304_without_redis_or_a_computation(stack):
    stack.get(f"{API}/77/")
    before = fastcgi_status(stack.socket)
    stack.redis.cli("del", "fibonacci_12345")
    for n in (77, 12345):  # cached or not: the answer cannot have changed
        conn_status, headers, body = stack.request("GET", f"{API}/{n}/", headers={"If-None-Match": f'"fibonacci-{n}-json1"'})
        assert (conn_status, body) == (304, b"")
        assert headers["etag"] == f'"fibonacci-{n}-json1"' and headers["cache-control"] == FOREVER
        assert "x-cache" not in headers
        assert "content-length" not in headers, "a 304's length would have to be the 200's (RFC 9110 §8.6)"
    after = fastcgi_status(stack.socket)
    assert after["computations"] == before["computations"]
    assert after["hits"] + after["misses"] + after["bypasses"] == before["hits"] + before["misses"] + before["bypasses"]
    assert stack.redis.cli("exists", "fibonacci_12345") == "0", "nothing computed, nothing stored"
    # Another tag: a full answer.
    status, _, body = stack.request("GET", f"{API}/77/", headers={"If-None-Match": '"fibonacci-78-json1"'})
    assert status == 200 and body


def test_refusals_are_never_kept(stack):
    for method, path, expected in (("GET", f"{API}/abc/", 400), ("GET", "/api/nothing", 404),
                                   ("GET", f"{API}/5000000/", 400), ("DELETE", f"{API}/5/", 405),
                                   ("POST", f"{API}/5/", 405)):
        status, headers, _ = stack.request(method, path)
        assert status == expected, path
        assert headers.get("cache-control") == "no-store", (method, path, headers)
        assert "etag" not in headers
