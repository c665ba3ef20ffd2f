"""Redis trouble never takes the service down: it answers uncached and recovers by itself."""
import json
import subprocess
import time

from conftest import BINARY, fastcgi_request, stop_process, wait_until

API = "/api/fibonacci/number"
# These tests watch Redis itself: without the in-process copy every request asks it.
REDIS_ONLY = ["--local-cache-mb", "0"]


def cache_header(stack, n):
    status, headers, body = stack.get(f"{API}/{n}/")
    assert status == 200, body
    return headers["x-cache"], json.loads(body)["fibonacci"]


def test_starts_and_serves_without_redis(make_stack):
    stack = make_stack(with_redis=False, fibcache_args=REDIS_ONLY)
    assert cache_header(stack, 40) == ("BYPASS", 102334155)
    # Redis arrives later: caching starts by itself.
    stack.redis.start()
    wait_until(lambda: cache_header(stack, 41)[0] == "MISS", timeout=5, what="MISS once Redis is up")
    assert cache_header(stack, 41) == ("HIT", 165580141)


def test_redis_stopped_mid_run_then_back(make_stack):
    stack = make_stack(fibcache_args=REDIS_ONLY)
    assert cache_header(stack, 30)[0] == "MISS"
    assert cache_header(stack, 30)[0] == "HIT"
    stack.redis.stop()
    for n in (30, 31, 32):
        assert cache_header(stack, n)[0] == "BYPASS"
    stack.redis.start()  # same port, empty data
    wait_until(lambda: cache_header(stack, 33)[0] != "BYPASS", timeout=5, what="recovery after restart")
    assert cache_header(stack, 33)[0] == "HIT"
    log = stack.log_text()
    assert log.count("Redis unavailable") <= 3, log  # one line per condition change, not per request
    assert "reachable again" in log


def test_local_copy_is_unused_while_redis_cannot_tell_it_about_evictions(make_stack):
    """The in-process copy is served only while Redis' invalidation channel is up: with Redis
    down, within the documented bound (two ping intervals, 2 s) it is emptied and requests are
    answered uncached; when Redis is back, the copy is used again."""
    stack = make_stack()  # the default: an in-process copy in front of Redis
    assert cache_header(stack, 30)[0] == "MISS"
    wait_until(lambda: from_local_copy(stack, 30), timeout=5, what="F(30) in the copy")
    stack.redis.stop()
    stopped = time.monotonic()
    wait_until(lambda: not local_cache(stack)["in_use"], timeout=3, what="the copy set aside")
    print(f"in-process copy unused {time.monotonic() - stopped:.2f} s after Redis stopped")
    assert local_cache(stack)["entries"] == 0
    assert cache_header(stack, 30) == ("BYPASS", 832040), "answered, computed: the copy is not trusted"
    assert "invalidation channel down" in stack.log_text()
    stack.redis.start()  # same port, empty data
    wait_until(lambda: local_cache(stack)["in_use"], timeout=5, what="the copy back in use")
    assert local_cache(stack)["entries"] == 0, "a BYPASS answer is not kept: the copy mirrors Redis"
    wait_until(lambda: cache_header(stack, 30)[0] != "BYPASS", timeout=5, what="caching again")
    assert stack.redis.cli("get", "fibonacci_30") == "832040", "Redis restarted empty: a MISS, stored"
    wait_until(lambda: from_local_copy(stack, 30), timeout=5, what="F(30) in the copy again")
    assert "invalidation channel is up again" in stack.log_text()


def from_local_copy(stack, n):
    return 'desc="HIT local"' in stack.get(f"{API}/{n}/")[1]["server-timing"]


def local_cache(stack):
    return json.loads(stack.ops("GET", "/status")[2])["local_cache"]


def test_frozen_redis_is_bounded_by_the_timeouts(make_stack):
    stack = make_stack(fibcache_args=["--redis-connect-timeout", "200ms", "--redis-command-timeout", "200ms", *REDIS_ONLY])
    assert cache_header(stack, 20)[0] == "MISS"
    stack.redis.pause()
    try:
        worst = 0.0
        for n in range(20, 40):
            start = time.monotonic()
            header, value = cache_header(stack, n)
            worst = max(worst, time.monotonic() - start)
            assert header == "BYPASS"
        assert worst < 1.0, f"worst latency {worst:.3f}s with Redis frozen"
    finally:
        stack.redis.resume()
    wait_until(lambda: cache_header(stack, 41)[0] != "BYPASS", timeout=5, what="recovery after SIGCONT")


def test_bad_flags_are_refused_at_startup(tmp_path):
    for args in (["--ttl", "0"], ["--redis-url", "http://nope"], ["--max-recursive-n", "100"], ["--workers", "x"]):
        out = subprocess.run([str(BINARY), "--listen", str(tmp_path / "s.sock"), *args],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode != 0, args
        # The first line names the option and the value refused.
        first = out.stderr.splitlines()[0]
        assert first.startswith("Error: ") and args[0] in first and args[1] in first, out.stderr
        assert not (tmp_path / "s.sock").exists()


def test_environment_variables_configure(make_stack, monkeypatch):
    monkeypatch.setenv("FIBCACHE_KEY_PREFIX", ":1:")
    monkeypatch.setenv("FIBCACHE_TTL", "60")
    stack = make_stack()
    cache_header(stack, 12)
    assert stack.redis.cli("get", ":1:fibonacci_12") == "144"  # django-redis' own key
    assert 50 <= int(stack.redis.cli("ttl", ":1:fibonacci_12")) <= 60


def test_sigterm_exits_cleanly_and_removes_its_socket(make_stack):
    stack = make_stack()
    cache_header(stack, 10)
    start = time.monotonic()
    stack.fibcache.terminate()
    assert stack.fibcache.wait(10) == 0
    assert time.monotonic() - start < 5
    assert not stack.socket.exists()
    assert "fibcache stopped" in stack.log_text()


def test_password_protected_redis(make_stack):
    stack = make_stack(redis_extra=["--requirepass", "s3cret"], fibcache_args=REDIS_ONLY)
    # The default URL has no password: served uncached, and Redis' refusal is logged.
    assert cache_header(stack, 15)[0] == "BYPASS"
    assert "NOAUTH Authentication required" in stack.log_text()
    # With the password in the URL it caches, and the password never reaches the log.
    sock, log_path = stack.dir / "with-password.sock", stack.dir / "with-password.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BINARY), "--listen", str(sock), "--log-level", "debug",
                                 "--redis-url", f"redis://:s3cret@127.0.0.1:{stack.redis.port}/1"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_until(sock.exists, what="fibcache with the password")
        params = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": f"{API}/15/", "QUERY_STRING": ""}
        assert b"X-Cache: MISS" in fastcgi_request(sock, params)
        assert b"X-Cache: HIT" in fastcgi_request(sock, params)
    finally:
        stop_process(proc)
    log = log_path.read_text()
    assert "redis://:***@127.0.0.1" in log, log
    assert "s3cret" not in log
