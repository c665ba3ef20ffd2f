"""Evictions reach every process (issue 15): each fibcache keeps an in-process copy, and Redis'
server-assisted client-side caching (CLIENT TRACKING, BCAST, invalidations on
__redis__:invalidate) tells every process when a value is deleted — by a DELETE through any of
them, or by an operator's DEL or FLUSHDB."""
import statistics
import time

import pytest

from conftest import Stack, fastcgi_answer, wait_until

API = "/api/fibonacci/number"


def ask(socket_path, method, n):
    """One request straight to one fibcache process: (X-Cache, whether from its in-process copy)."""
    headers, _ = fastcgi_answer(socket_path, method, f"{API}/{n}/")
    return headers.get("X-Cache"), 'desc="HIT local"' in headers.get("Server-Timing", "")


def held_locally(socket_path, n):
    """Asks until the process serves n from its copy (its own fill's invalidation drops it once)."""
    deadline = time.monotonic() + 5
    while not ask(socket_path, "GET", n)[1]:
        assert time.monotonic() < deadline, f"F({n}) never held in {socket_path}"


@pytest.fixture(scope="module")
def two():
    import tempfile
    with tempfile.TemporaryDirectory(prefix="fibcache-inval-") as d:
        stack = Stack(d, instances=2)
        try:
            stack.start()
            for socket_path in stack.sockets:
                wait_until(lambda: ask(socket_path, "GET", 1)[0] is not None, what="fibcache up")
            yield stack
        finally:
            stack.stop()


def test_a_delete_through_one_process_reaches_the_others(two):
    a, b = two.sockets
    delays = []
    for n in range(5000, 5100):
        held_locally(a, n)
        held_locally(b, n)
        assert ask(a, "DELETE", n)[0] is None  # the DELETE's JSON answer has no X-Cache
        evicted = time.monotonic()
        while ask(b, "GET", n)[1]:
            assert time.monotonic() - evicted < 2, f"F({n}) still served from B's copy"
        delays.append(time.monotonic() - evicted)
    print(f"eviction through A seen by B: median {statistics.median(delays) * 1000:.2f} ms, "
          f"max {max(delays) * 1000:.2f} ms over {len(delays)} DELETEs (time to B's first answer not from its copy)")
    assert max(delays) < 1.0


@pytest.mark.parametrize("how", ["del", "flushdb"])
def test_an_operators_del_or_flush_reaches_every_process(two, how):
    for socket_path in two.sockets:
        held_locally(socket_path, 6001)
    two.redis.cli(*(["del", "fibonacci_6001"] if how == "del" else ["flushdb"]))
    for socket_path in two.sockets:
        deadline = time.monotonic() + 1
        while ask(socket_path, "GET", 6001)[1]:
            assert time.monotonic() < deadline, f"{how}: still served from {socket_path}'s copy"
