"""The shipped site's per-client limits (nginx limit_req / limit_conn on the API):
a flood from one address gets 429 JSON with Retry-After, while other clients — and
this host itself, which is exempt (a browser or a load test on it) — are served.
127.0.0.2 stands for a remote client: it is loopback, but not the exempt 127.0.0.1."""
import json
import threading
import time

from conftest import fastcgi_status, wait_until

API = "/api/fibonacci/number"
REMOTE = "127.0.0.2"


def test_a_request_flood_from_one_client_gets_429(stack):
    stack.get(f"{API}/40/")
    codes = []
    limited = None
    start = time.monotonic()
    for _ in range(300):  # far faster than 50 a second: the burst of 100 runs out
        code, headers, body = stack.get(f"{API}/40/", source=REMOTE, timeout=5)
        codes.append(code)
        if code == 429 and limited is None:
            limited = (headers, body)
    elapsed = time.monotonic() - start
    print(f"300 requests from one client in {elapsed:.2f} s: {codes.count(200)} served, {codes.count(429)} limited")
    assert set(codes) == {200, 429}
    assert codes[:100] == [200] * 100, "a burst of 100 passes"
    assert codes.count(200) <= 101 + 50 * elapsed + 1, "then 50 a second"
    headers, body = limited
    assert headers["retry-after"] == "1"
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"].startswith("too many requests")
    # This host itself is not limited, even now.
    assert all(stack.get(f"{API}/40/")[0] == 200 for _ in range(200))


def test_more_than_32_requests_at_once_from_one_client_get_429(make_stack):
    # Room in fibcache for 40 requests waiting for one value, so only nginx limits: the
    # value's lock is held "by another process" (set here), so the first request for it
    # (from this host: no per-client limit in fibcache) waits up to --lock-wait, and the
    # client's 40 join it (fast: the stricter limit of the other algorithms is not met).
    stack = make_stack(workers=64, fibcache_args=["--lock-wait", "8s"])
    stack.redis.cli("set", "fibonacci_300000:lock", "elsewhere", "px", "20000")
    leader = threading.Thread(target=lambda: stack.get(f"{API}/300000/", timeout=120))
    leader.start()

    wait_until(lambda: fastcgi_status(stack.socket)["computations_admission"]["waiting"] == 1, timeout=10,
               what="the first request waiting for the lock")
    codes = []
    barrier = threading.Barrier(40)

    def follower():
        barrier.wait()
        codes.append(stack.get(f"{API}/300000/", source=REMOTE, timeout=120)[0])
    threads = [threading.Thread(target=follower) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    leader.join(120)
    print(f"40 requests at once from one client: {codes.count(200)} served, {codes.count(429)} limited")
    assert len(codes) == 40
    assert codes.count(429) == 8 and codes.count(200) == 32
