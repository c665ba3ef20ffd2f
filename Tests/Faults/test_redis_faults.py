"""Redis breaking during load, on purpose: killed, frozen, refusing commands.
The load is bounded in time; every response is recorded."""
import signal
import subprocess
import time

from conftest import REDIS_CLI, Load, wait_until

API = "/api/fibonacci/number"
# These tests watch Redis itself: without the in-process copy every request asks it.
REDIS_ONLY = ["--local-cache-mb", "0"]


def cycling_load(stack):
    """8 clients looping over n in 100..149."""
    return Load(stack, lambda i, k: f"{API}/{100 + (i * 7 + k) % 50}/")


def report(name, load):
    statuses = [r[1] for r in load.results]
    print(f"{name}: {len(statuses)} requests, non-2xx {sum(s != 200 for s in statuses)}, worst {load.worst * 1000:.0f} ms")


def test_redis_killed_during_load(make_stack):
    stack = make_stack(fibcache_args=REDIS_ONLY)
    with cycling_load(stack) as load:
        time.sleep(1.5)
        killed_at = time.monotonic()
        stack.redis.proc.send_signal(signal.SIGKILL)
        stack.redis.proc.wait()
        time.sleep(1.5)
        restarted_at = time.monotonic()
        stack.redis.start()
        time.sleep(2.5)
    report("redis killed", load)
    assert all(r[1] == 200 for r in load.results), "no 5xx, no failed request"
    during = load.between(killed_at + 0.3, restarted_at)
    assert during and all(r[2] == "BYPASS" for r in during)
    after = load.between(restarted_at + 1.5, time.monotonic())
    assert after and after[-1][2] in ("HIT", "MISS") and any(r[2] == "HIT" for r in after)


def test_redis_frozen_during_load(make_stack):
    stack = make_stack(fibcache_args=["--redis-connect-timeout", "200ms", "--redis-command-timeout", "200ms", *REDIS_ONLY])
    with cycling_load(stack) as load:
        time.sleep(1)
        stack.redis.pause()
        frozen_at = time.monotonic()
        time.sleep(3)
        stack.redis.resume()
        resumed_at = time.monotonic()
        time.sleep(2.5)
    report("redis frozen", load)
    assert all(r[1] == 200 for r in load.results)
    during = load.between(frozen_at, resumed_at)
    worst = max(r[3] for r in during)
    # Bound: connect + command timeouts (0.4 s) plus compute and queueing; never a hang.
    assert worst < 1.5, f"worst latency during the freeze {worst:.3f}s"
    assert any(r[2] == "HIT" for r in load.between(resumed_at + 1.5, time.monotonic()))


def count(log, text):
    return sum(text in line for line in log.splitlines())


def test_password_set_while_running_then_removed(make_stack):
    stack = make_stack(fibcache_args=REDIS_ONLY)
    for n in range(10):
        stack.get(f"{API}/{n}/")
    stack.redis.cli("config", "set", "requirepass", "s3cret")
    # Connections made before stay authenticated: drop them so fibcache must reconnect.
    subprocess.run([REDIS_CLI, "-p", str(stack.redis.port), "-a", "s3cret", "--no-auth-warning",
                    "client", "kill", "type", "normal"], check=True, capture_output=True)
    for n in range(200, 240):
        status, headers, _ = stack.get(f"{API}/{n}/")
        assert status == 200 and headers["x-cache"] == "BYPASS"
    log = stack.log_text()
    assert 1 <= count(log, "Redis unavailable") <= 2, log  # one line per condition, not per request
    subprocess.run([REDIS_CLI, "-p", str(stack.redis.port), "-a", "s3cret", "--no-auth-warning",
                    "config", "set", "requirepass", ""], check=True, capture_output=True)
    wait_until(lambda: stack.get(f"{API}/300/")[1]["x-cache"] != "BYPASS", timeout=5, what="caching resumes")
    assert "reachable again" in stack.log_text()


def test_redis_full_with_noeviction(make_stack):
    stack = make_stack(fibcache_args=REDIS_ONLY)
    stack.get(f"{API}/1/")
    stack.redis.cli("config", "set", "maxmemory-policy", "noeviction")
    stack.redis.cli("config", "set", "maxmemory", "1")  # every write is now refused with OOM
    for n in range(400, 430):
        status, headers, body = stack.get(f"{API}/{n}/")
        # Reads work, writes (the compute lock, the value) are refused: served uncached.
        assert status == 200 and headers["x-cache"] == "BYPASS"
    assert stack.redis.cli("exists", "fibonacci_420") == "0"
    log = stack.log_text()
    assert count(log, "OOM") == 1, log
    stack.redis.cli("config", "set", "maxmemory", "0")
    stack.get(f"{API}/431/")
    assert stack.redis.cli("exists", "fibonacci_431") == "1"
    assert count(stack.log_text(), "accepts commands again") == 1


def test_read_only_replica(make_stack):
    stack = make_stack(fibcache_args=REDIS_ONLY)
    stack.get(f"{API}/2/")
    # A replica of a master that does not exist: reads work, writes get -READONLY.
    stack.redis.cli("replicaof", "127.0.0.1", "1")
    for n in range(500, 520):
        status, headers, _ = stack.get(f"{API}/{n}/")
        assert status == 200
    log = stack.log_text()
    assert count(log, "READONLY") == 1, log
    stack.redis.cli("replicaof", "no", "one")
    stack.get(f"{API}/521/")
    assert stack.redis.cli("exists", "fibonacci_521") == "1"
