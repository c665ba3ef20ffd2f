"""Nothing in Redis is trusted (issue 14): whatever another client of the Redis stored under
fibcache's keys — a wrong value, a wrong digit, another type, a huge string — is not served: it is
recomputed, rewritten, counted in /status, and logged once per key, and the process keeps only
verified values."""
import json
import subprocess
import time

from conftest import REDIS_CLI, fastcgi_answer, fastcgi_status, fibonacci

API = "/api/fibonacci/number"
F300 = "222232244629420445529739893461909967206666939096499764990979600"


def answer(stack, n):
    status, headers, body = stack.get(f"{API}/{n}/", timeout=10)
    assert status == 200, body
    return json.loads(body)["fibonacci"], headers["x-cache"]


def test_each_poisoning_is_repaired_not_served(make_stack):
    stack = make_stack(fibcache_args=["--local-cache-mb", "0"])  # every request asks Redis
    redis = stack.redis
    redis.cli("set", "fibonacci_5", "7")
    redis.cli("set", "fibonacci_300", F300[:-1] + "1")
    redis.cli("rpush", "fibonacci_115", "not a value")
    huge = stack.dir / "huge.txt"
    huge.write_text("9" * 50_000_000)
    subprocess.run([REDIS_CLI, "-p", str(redis.port), "-n", "1", "-x", "set", "fibonacci_116"],
                   stdin=huge.open("rb"), check=True, capture_output=True)

    start = time.monotonic()
    assert answer(stack, 5) == (5, "MISS")
    assert answer(stack, 300) == (int(F300), "MISS")
    assert answer(stack, 115)[1] == "MISS", "another type is repaired, not a BYPASS forever"
    value, cache = answer(stack, 116)
    assert cache == "MISS" and len(str(value)) == 24
    elapsed = time.monotonic() - start
    # Rewritten in Redis: the next requests are verified hits.
    assert redis.cli("get", "fibonacci_5") == "5"
    assert redis.cli("get", "fibonacci_300") == F300
    assert redis.cli("type", "fibonacci_115") == "string"
    assert redis.cli("strlen", "fibonacci_116") == "24"
    for n in (5, 300, 115, 116):
        assert answer(stack, n)[1] == "HIT"
    status = fastcgi_status(stack.socket)
    assert status["cache_values_rejected"] == 4
    assert status["bypasses"] == 0
    log = stack.log_text()
    assert log.count("the cache held a wrong value") == 4, log
    assert "Redis refused a command" not in log, "bad data is not Redis in trouble"
    print(f"4 poisoned keys repaired in {elapsed * 1000:.0f} ms (a 50 MB value among them)")


def test_a_repeatedly_poisoned_key_is_logged_once_per_interval(make_stack):
    stack = make_stack(fibcache_args=["--local-cache-mb", "0"])
    for _ in range(20):
        stack.redis.cli("set", "fibonacci_40", "102334156")  # the last digit off by one
        assert answer(stack, 40) == (102334155, "MISS")
    assert fastcgi_status(stack.socket)["cache_values_rejected"] == 20
    assert stack.log_text().count("the cache held a wrong value") == 1
    metrics = stack.ops("GET", "/metrics")[2].decode()
    assert "fibcache_cache_values_rejected_total 20" in metrics


def test_a_forgery_built_to_pass_a_known_prime_is_not_served(make_stack):
    """Issue 22: F(1000) + (2⁶¹ − 1) has F(1000)'s digit count and, modulo the old public prime,
    its residue; F(1000) + p·q passes a check by primes p, q an attacker learned (another host's,
    say). Neither is served by any process; a right value another process stored is."""
    stack = make_stack(instances=2, fibcache_args=["--local-cache-mb", "0"])
    first, second = stack.sockets
    path = f"{API}/1000/"
    right = fibonacci(1000)

    def served(socket):
        headers, body = fastcgi_answer(socket, "GET", path)
        return json.loads(body)["fibonacci"], headers["X-Cache"]

    assert served(first) == (right, "MISS")
    assert served(second) == (right, "HIT"), "a value another process stored, under its own secret, verifies"
    # Two known primes near 2⁶², as a leaked secret would be.
    p, q = 4611686018427388039, 4611686018427388073
    for forged in (right + 2**61 - 1, right + p * q):
        assert len(str(forged)) == len(str(right))
        for socket in (first, second):
            stack.redis.cli("set", "fibonacci_1000", str(forged))
            assert served(socket) == (right, "MISS"), "the forgery is recomputed, never served"
            assert stack.redis.cli("get", "fibonacci_1000") == str(right), "and overwritten"
    for socket in (first, second):
        assert fastcgi_status(socket)["cache_values_rejected"] == 2
