"""A flood of requests for huge values must meet the memory budget, not the OOM
killer: each answer of F(n) holds its digits several times while in flight, so
30 at once of F(10^7) (2.1 MB of digits each) took about 300 MiB before."""
import os
import threading
import time

import pytest

from conftest import ROOT, fastcgi_status, rss_kib

RELEASE = ROOT / ".build-static" / "release" / "fibcache"  # the deployed build (make build-static)
API = "/api/fibonacci/number"
BUDGET_MIB = 48
LARGE = [10_000_000 - i for i in range(4)]
FLOOD_SECONDS = float(os.environ.get("FIBCACHE_MEMORY_FLOOD_SECONDS", "6"))


def flood(stack, clients, seconds):
    """`clients` threads asking for the large values again and again; the statuses seen."""
    statuses = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(i):
        while time.monotonic() < deadline:
            n = LARGE[i % len(LARGE)]
            try:
                status, headers, body = stack.get(f"{API}/{n}/", timeout=60)
            except OSError:
                status, headers, body = "error", {}, b""
            refused = status == 503 and headers.get("retry-after") == "1" and b"retry" in body
            key = 200 if status == 200 and len(body) > 2_000_000 else 503 if refused else f"unexpected {status}"
            with lock:
                statuses[key] = statuses.get(key, 0) + 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 90)
    return statuses


@pytest.fixture
def large_value_stack(make_stack):
    assert RELEASE.exists(), "make test-faults builds it first (make build-static)"
    return make_stack(workers=40, binary=RELEASE, fibcache_args=["--max-n", "10000000", "--memory-budget-mb", str(BUDGET_MIB)])


def test_a_flood_of_huge_hits_is_held_to_the_memory_budget(large_value_stack):
    stack = large_value_stack
    for n in LARGE:  # into Redis, one at a time (too large for the in-process copy)
        status, headers, _ = stack.get(f"{API}/{n}/", timeout=60)
        assert status == 200, headers
    baseline_kib = rss_kib(stack.fibcache.pid)
    print(f"\nafter warm-up: VmHWM {rss_kib(stack.fibcache.pid, 'VmHWM') // 1024} MiB")

    statuses = flood(stack, clients=32, seconds=FLOOD_SECONDS)

    peak_mib = rss_kib(stack.fibcache.pid, "VmHWM") / 1024
    print(f"\nmemory flood: budget {BUDGET_MIB} MiB, resident before {baseline_kib // 1024} MiB, "
          f"peak {peak_mib:.0f} MiB, statuses {statuses}")
    assert stack.fibcache.poll() is None
    assert set(statuses) <= {200, 503}, statuses  # nothing unexpected (a failed request included)
    assert statuses.get(200, 0) > 0 and statuses.get(503, 0) > 0, statuses
    # The budget, what fibcache holds anyway and some slack: 32 answers at once held 221 MiB.
    assert peak_mib < BUDGET_MIB + baseline_kib / 1024 + 16, statuses
    # Small values are never refused, however many large ones are in flight.
    assert stack.get(f"{API}/1000/")[0] == 200
    status = fastcgi_status(stack.socket)
    assert "answer_memory" in status and status["answer_memory"]["reserved_bytes"] == 0, status
