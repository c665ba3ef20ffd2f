"""Issue 21, requirement 4: a Redis or Sentinel peer that sends hostile replies —
a 2 GB bulk string, an array of 50 million elements, a reply trickled a byte every
150 ms, an error or a host name with a newline and a journal priority in it — never
takes fibcache down, swells it or holds a worker: every request through nginx is
answered (BYPASS) in bounded time, RSS stays bounded, and no log line starts with
what the peer sent."""
import sys
import time
from pathlib import Path

import pytest

from conftest import rss_kib

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Support"))
from hostile_redis import (INJECTED, HostileRedis, connectable, error_with_newline, huge_array, many_strings,  # noqa: E402
                           huge_bulk, sentinel_naming, trickle)

API = "/api/fibonacci/number"
# A request's bound: connect + command deadlines (200 ms each) and the backoff's
# retries are far below it; an unbounded client takes the whole stream (seconds).
ANSWER_WITHIN = 2.0
RSS_LIMIT_KIB = 64 << 10
REQUESTS = 5
# Past the longest backoff (1 s), so that each request asks the peer again.
SPACING = 1.1


def answers(stack):
    """REQUESTS requests for distinct n, SPACING apart: (status, X-Cache, seconds) each."""
    results = []
    for n in range(300, 300 + REQUESTS):
        time.sleep(SPACING)
        started = time.monotonic()
        status, headers, _ = stack.get(f"{API}/{n}/", timeout=60)
        results.append((status, headers.get("x-cache"), time.monotonic() - started))
    return results


def assert_bounded(name, stack, results):
    peak = rss_kib(stack.fibcache.pid, "VmHWM")
    worst = max(r[2] for r in results)
    print(f"{name}: worst answer {worst * 1000:.0f} ms, peak RSS {peak / 1024:.1f} MiB")
    assert stack.fibcache.poll() is None, "fibcache died"
    assert all(r[0] == 200 and r[1] == "BYPASS" for r in results), results
    assert worst < ANSWER_WITHIN, f"{name}: a request took {worst:.2f}s"
    assert peak < RSS_LIMIT_KIB, f"{name}: fibcache's peak RSS {peak / 1024:.0f} MiB"


def assert_log_clean(log):
    """No line of the log is the peer's: none starts with its text or a priority of its own."""
    for line in log.splitlines():
        assert not line.startswith(INJECTED.decode()) and not line.startswith("<0>"), line


@pytest.mark.parametrize("shape", [huge_bulk, huge_array, many_strings, trickle], ids=lambda f: f.__name__)
def test_hostile_redis_replies_are_refused(make_stack, shape):
    with HostileRedis(connectable(shape)) as fake:
        stack = make_stack(with_redis=False, fibcache_args=["--redis-url", f"redis://127.0.0.1:{fake.port}/1"])
        results = answers(stack)
        assert_bounded(shape.__name__, stack, results)
        assert any(c[0].upper() == b"GETRANGE" for c in fake.commands), "the cache's read reached the fake"
        assert any(c[0].upper() == b"SUBSCRIBE" for c in fake.commands), "the invalidation channel reached the fake"
        log = stack.log_text()
        assert_log_clean(log)
        # One condition, one line: reconnecting to a peer that never answers is not Redis coming back.
        assert sum("Redis unavailable" in line for line in log.splitlines()) == 1, log


def test_error_reply_with_a_newline_stays_on_its_line(make_stack, monkeypatch):
    # As under systemd: every line starts with its own priority, `<4>` for a warning.
    monkeypatch.setenv("JOURNAL_STREAM", "0:0")
    with HostileRedis(error_with_newline) as fake:
        stack = make_stack(with_redis=False, fibcache_args=["--redis-url", f"redis://127.0.0.1:{fake.port}/1"])
        results = answers(stack)
        assert_bounded("error with a newline", stack, results)
    log = stack.log_text()
    assert_log_clean(log)
    assert all(line[:1] == "<" and line[2:3] == ">" for line in log.splitlines()), log
    # hiredis 0.14 passes the newline on (logged escaped); 1.x refuses the reply itself.
    assert "boom\\n" + INJECTED.decode() in log or "Bad simple string value" in log, log


@pytest.mark.parametrize("shape", [huge_array, huge_bulk, trickle], ids=lambda f: f.__name__)
def test_hostile_sentinel_replies_are_refused(make_stack, shape):
    with HostileRedis(shape) as sentinel:
        stack = make_stack(with_redis=False,
                           fibcache_args=["--redis-url", f"redis+sentinel://127.0.0.1:{sentinel.port}/fibcache/1"])
        results = answers(stack)
        assert_bounded(f"sentinel {shape.__name__}", stack, results)
        assert any(c[:2] == [b"SENTINEL", b"get-master-addr-by-name"] for c in sentinel.commands)
        assert_log_clean(stack.log_text())


def test_sentinel_naming_a_host_with_a_newline(make_stack, monkeypatch):
    monkeypatch.setenv("JOURNAL_STREAM", "0:0")
    host = b"127.0.0.1\n" + INJECTED
    with HostileRedis(sentinel_naming(host)) as sentinel:
        stack = make_stack(with_redis=False,
                           fibcache_args=["--redis-url", f"redis+sentinel://127.0.0.1:{sentinel.port}/fibcache/1"])
        results = answers(stack)
        assert_bounded("sentinel naming a host with a newline", stack, results)
    log = stack.log_text()
    assert_log_clean(log)
    # The operator learns which host the Sentinel named, on one line.
    assert "127.0.0.1\\n" + INJECTED.decode() in log, log
