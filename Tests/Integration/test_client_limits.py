"""The shipped site's per-client limits (nginx limit_req on the API, limit_conn on the
whole server): a flood from one address gets 429 JSON with Retry-After, while other
clients are served. No address is exempt as shipped, this host included; the opt-in
exemption (render-nginx-conf --exempt-loopback, as the other tests run) exempts it.
127.0.0.2 stands for a remote client."""
import json
import tempfile
import threading
import time

import pytest

from conftest import Stack, fastcgi_status, wait_until

API = "/api/fibonacci/number"
REMOTE = "127.0.0.2"


@pytest.fixture(scope="module")
def stack():
    """The site as shipped: no exemption."""
    with tempfile.TemporaryDirectory(prefix="fibcache-it-") as d:
        s = Stack(d, exempt_loopback=False)
        try:
            yield s.start()
        finally:
            s.stop()


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
    # Another client is served meanwhile; this host is a client like any other.
    assert stack.get(f"{API}/40/", source="127.0.0.3")[0] == 200
    local = [stack.get(f"{API}/40/")[0] for _ in range(300)]
    assert 429 in local, "no exemption for 127.0.0.1 as shipped"


def test_costly_algorithms_have_a_stricter_limit_of_their_own(stack):
    """`iterative` and `recursive` cost up to seconds each: a client may ask for 2 a second
    (a burst of 5 more), while its `fast` requests and other clients' are not held back."""
    source = "127.0.0.4"
    codes = []
    limited = None
    start = time.monotonic()
    for _ in range(30):
        code, headers, body = stack.get(f"{API}/30/?algorithm=iterative", source=source, timeout=5)
        codes.append(code)
        if code == 429 and limited is None:
            limited = (headers, body)
    elapsed = time.monotonic() - start
    print(f"30 iterative requests from one client in {elapsed:.2f} s: {codes.count(200)} served, "
          f"{codes.count(429)} limited")
    assert set(codes) == {200, 429}
    assert codes[:6] == [200] * 6, "one and a burst of 5 pass"
    assert codes.count(200) <= 6 + 2 * elapsed + 1, "then 2 a second"
    headers, body = limited
    assert headers["retry-after"] == "1" and json.loads(body)["error"].startswith("too many requests")
    # At once, while the limit holds (2 a second: at most one of these can find room).
    recursive = [stack.get(f"{API}/30/?algorithm=recursive", source=source)[0] for _ in range(5)]
    assert 429 in recursive, "recursive shares the limit"
    assert [stack.get(f"{API}/30/", source=source)[0] for _ in range(10)] == [200] * 10, "fast is not costly"
    assert stack.get(f"{API}/30/?algorithm=iterative", source="127.0.0.5")[0] == 200, "another client"


def test_the_opt_in_exempts_this_host(make_stack):
    stack = make_stack(exempt_loopback=True)
    assert all(stack.get(f"{API}/40/")[0] == 200 for _ in range(300))
    assert 429 in [stack.get(f"{API}/40/", source=REMOTE)[0] for _ in range(300)], "others still limited"


def test_more_than_32_requests_at_once_from_one_client_get_429(make_stack):
    # Room in fibcache for 40 requests waiting for one value, so only nginx limits: the
    # value's lock is held "by another process" (set here), so the first request for it
    # waits up to --lock-wait, and the client's 40 join it (fast: the stricter limit of
    # the other algorithms is not met; joining a flight is not a computation of its own).
    stack = make_stack(workers=64, exempt_loopback=False, fibcache_args=["--lock-wait", "8s"])
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
    # While 32 wait, the same client's request for the page is over the server's limit too.
    wait_until(lambda: len(codes) >= 8, timeout=30, what="the 8 refused")
    page = stack.get("/", source=REMOTE)
    other = stack.get("/", source="127.0.0.3")
    for t in threads:
        t.join(120)
    leader.join(120)
    print(f"40 requests at once from one client: {codes.count(200)} served, {codes.count(429)} limited")
    assert len(codes) == 40
    assert codes.count(429) == 8 and codes.count(200) == 32
    assert page[0] == 429, "limit_conn covers the whole server, not only /api/"
    assert other[0] == 200
