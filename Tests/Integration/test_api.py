"""The API through real nginx -> fibcache -> real Redis."""
import json
import sys
import threading

import pytest

from conftest import fibonacci

API = "/api/fibonacci/number"
sys.set_int_max_str_digits(0)  # Python refuses str() of ints above 4300 digits by default


def value(body):
    return json.loads(body)["fibonacci"]


def fib_digits(body):
    """The digits of {"fibonacci": <digits>}, read as text (they can be far too long for json)."""
    text = body.decode()
    assert text.startswith('{"fibonacci": ') and text.endswith("}"), text[:80]
    return text[len('{"fibonacci": '):-1]


@pytest.mark.parametrize("n,expected", [(0, 0), (1, 1), (2, 1), (40, 102334155),
                                        (93, 12200160415121876738), (94, 19740274219868223167)])
def test_known_values(stack, n, expected):
    status, headers, body = stack.get(f"{API}/{n}/")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert value(body) == expected
    assert int(headers["content-length"]) == len(body)


def test_body_is_the_articles_json(stack):
    assert stack.get(f"{API}/40/")[2] == b'{"fibonacci": 102334155}'


def test_f1000_and_f100000_by_digits(stack):
    for n, digits in [(1000, 209), (100_000, 20_899)]:
        text = fib_digits(stack.get(f"{API}/{n}/")[2])
        reference = str(fibonacci(n))
        assert len(text) == digits == len(reference)
        assert text[:20] == reference[:20] and text[-20:] == reference[-20:]
        assert text == reference


@pytest.mark.parametrize("algorithm", ["fast", "iterative", "recursive"])
def test_algorithms_agree(stack, algorithm):
    stack.ops("DELETE", f"{API}/27/")
    status, headers, body = stack.get(f"{API}/27/?algorithm={algorithm}")
    assert status == 200 and headers["x-cache"] == "MISS"
    assert value(body) == fibonacci(27)
    assert f'desc="{algorithm}"' in headers["server-timing"]


def test_miss_then_hit_with_key_and_ttl(stack):
    stack.redis.cli("del", "fibonacci_321")
    status, headers, body = stack.get(f"{API}/321/")
    assert (status, headers["x-cache"]) == (200, "MISS")
    assert stack.redis.cli("get", "fibonacci_321") == str(fibonacci(321))
    ttl = int(stack.redis.cli("ttl", "fibonacci_321"))
    assert 86_390 <= ttl <= 86_400
    status, headers, again = stack.get(f"{API}/321")  # trailing slash optional
    assert (status, headers["x-cache"]) == (200, "HIT")
    assert again == body
    assert 'cache;dur=' in headers["server-timing"] and 'desc="HIT' in headers["server-timing"]


def test_delete_evicts_so_the_next_request_is_cold(stack):
    stack.get(f"{API}/322/")
    assert stack.get(f"{API}/322/")[1]["x-cache"] == "HIT"
    status, headers, body = stack.ops("DELETE", f"{API}/322/")
    assert (status, headers["content-type"], json.loads(body)) == (200, "application/json", {"n": 322, "evicted": True})
    assert stack.redis.cli("exists", "fibonacci_322") == "0"
    assert stack.get(f"{API}/322/")[1]["x-cache"] == "MISS", "gone from Redis and from the process"
    stack.ops("DELETE", f"{API}/322/")
    assert json.loads(stack.ops("DELETE", f"{API}/322/")[2]) == {"n": 322, "evicted": False}
    status, _, body = stack.ops("DELETE", f"{API}/-1/")
    assert status == 400 and "n must be" in json.loads(body)["error"]


@pytest.mark.parametrize("source", ["127.0.0.1", "127.0.0.2"])
@pytest.mark.parametrize("method", ["DELETE", "POST"])
def test_the_public_server_only_reads(stack, method, source):
    """Eviction is not on the public server, not even from this host (a TLS terminator or
    tunnel on it would forward anyone's DELETE from 127.0.0.1): 405 JSON, value kept."""
    stack.get(f"{API}/323/")
    status, headers, body = stack.request(method, f"{API}/323/", source=source)
    assert (status, headers["content-type"], headers["allow"]) == (405, "application/json", "GET, HEAD")
    assert "GET and HEAD only" in json.loads(body)["error"]
    assert stack.get(f"{API}/323/", source=source)[1]["x-cache"] == "HIT", "reading stays open, value not evicted"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/status", "/status?full", "/metrics"])
def test_operations_are_not_on_the_public_server(stack, path):
    assert stack.get(path)[0] == 404
    assert stack.ops("GET", path)[0] == 200


def test_redis_database_one_like_the_original(stack):
    stack.get(f"{API}/55/")
    assert stack.redis.cli("exists", "fibonacci_55", db=1) == "1"
    assert stack.redis.cli("exists", "fibonacci_55", db=0) == "0"


def test_cached_value_is_served_whatever_the_algorithm(stack):
    stack.redis.cli("set", "fibonacci_44", str(fibonacci(44)))
    status, headers, body = stack.get(f"{API}/44/?algorithm=recursive")
    assert headers["x-cache"] == "HIT" and value(body) == fibonacci(44)


def test_garbage_in_the_cache_is_a_miss_and_is_overwritten(stack):
    stack.redis.cli("set", "fibonacci_50", "not-a-number")
    status, headers, body = stack.get(f"{API}/50/")
    assert (status, headers["x-cache"], value(body)) == (200, "MISS", fibonacci(50))
    assert stack.redis.cli("get", "fibonacci_50") == str(fibonacci(50))


def test_head_is_get_without_body(stack):
    status, headers, body = stack.request("HEAD", f"{API}/30/")
    assert status == 200 and body == b""
    assert int(headers["content-length"]) == len(b'{"fibonacci": 832040}')
    assert headers["x-cache"] in ("HIT", "MISS")


@pytest.mark.parametrize("segment", ["abc", "-1", "+5", "%205", "5%20", "1e3", "0x10", "5.0", "%D9%A3", "%EF%BC%95",
                                     "1_000", "9" * 5000])
def test_bad_input_is_400_json(stack, segment):
    status, headers, body = stack.get(f"{API}/{segment}/")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert "error" in json.loads(body)


def test_limits_are_named(stack):
    body = json.loads(stack.get(f"{API}/1000001/")[2])
    assert "1000000" in body["error"] and "--max-n" in body["error"]
    status, _, body = stack.get(f"{API}/46/?algorithm=recursive")
    assert status == 400 and "45" in json.loads(body)["error"]
    status, _, body = stack.get(f"{API}/5/?algorithm=magic")
    assert status == 400 and "magic" in json.loads(body)["error"]


def test_unknown_path_is_404_json(stack):
    for path in ["/api/nothing", f"{API}/", f"{API}/5/6/", "/api/fibonacci/"]:
        status, headers, body = stack.get(path)
        assert status == 404, path
        assert "error" in json.loads(body)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_other_methods_are_405_with_allow(stack, method):
    for port, allow in ((stack.http_port, "GET, HEAD"), (stack.ops_port, "GET, HEAD, DELETE")):
        status, headers, body = stack.request(method, f"{API}/5/", body=b"x=1", port=port)
        assert status == 405
        assert headers["allow"] == allow
        assert "error" in json.loads(body)


def test_methods_nginx_refuses_itself_are_405_json_with_allow(stack):
    """schemathesis' first finding: TRACE (which nginx refuses before any location) and POST
    to the demo page's files got nginx's HTML 405 without the Allow header RFC 9110 requires."""
    for port, path, allow in ((stack.http_port, f"{API}/5/", "GET, HEAD"), (stack.http_port, "/", "GET, HEAD"),
                              (stack.ops_port, f"{API}/5/", "GET, HEAD, DELETE"), (stack.ops_port, "/healthz", "GET, HEAD"),
                              (stack.ops_port, "/", "GET, HEAD")):
        for method in ("TRACE", "POST") if path == "/" else ("TRACE",):
            status, headers, body = stack.request(method, path, port=port)
            assert (status, headers.get("content-type"), headers.get("allow")) == (405, "application/json", allow), \
                (method, port, path, body)
            assert headers["cache-control"] == "no-store"
            assert f"method {method} not allowed" in json.loads(body)["error"]


def test_concurrent_requests_are_all_correct(stack):
    ns = list(range(200, 264)) * 3
    results = {}
    errors = []

    def worker(i, n):
        try:
            status, headers, body = stack.get(f"{API}/{n}/?algorithm=iterative")
            results[i] = (status, value(body) == fibonacci(n))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i, n)) for i, n in enumerate(ns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(results) == len(ns)
    assert all(ok == (200, True) for ok in results.values())
