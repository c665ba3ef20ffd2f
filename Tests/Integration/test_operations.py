"""Health, status and metrics through nginx, and the slow-request log."""
import json

API = "/api/fibonacci/number"


def test_healthz_and_readyz(make_stack):
    stack = make_stack()
    status, headers, body = stack.ops("GET", "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert stack.ops("GET", "/readyz")[0] == 200
    stack.redis.stop()
    status, _, body = stack.ops("GET", "/readyz")
    assert status == 503
    assert "refused" in json.loads(body)["reason"].lower()
    assert stack.ops("GET", "/healthz")[0] == 200  # alive whatever Redis does


def status_of(stack):
    return json.loads(stack.ops("GET", "/status")[2])


def test_status_counts_hits_misses_and_computations(make_stack):
    stack = make_stack()
    before = status_of(stack)  # the stack's own readiness probe made a request already
    for _ in range(3):
        stack.get(f"{API}/500/")
    status = status_of(stack)
    assert status["misses"] - before["misses"] == 1
    assert status["hits"] - before["hits"] == 2
    assert status["computations"] - before["computations"] == 1
    assert status["requests"] - before["requests"] == 4  # three and the first /status
    assert status["workers"]["total"] == 8
    assert status["uptime_seconds"] >= 0
    full = json.loads(stack.ops("GET", "/status?full")[2])
    assert len(full["worker_detail"]) == 8
    assert sum(w["requests"] for w in full["worker_detail"]) >= 4


def test_metrics_exposition(make_stack):
    stack = make_stack()
    stack.get(f"{API}/77/")
    stack.get(f"{API}/77/")
    status, headers, body = stack.ops("GET", "/metrics")
    text = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    # The stack's readiness probe (n = 0) was one more miss and computation.
    assert 'fibcache_fibonacci_responses_total{cache="hit"} 1' in text
    assert 'fibcache_fibonacci_responses_total{cache="miss"} 2' in text
    assert "fibcache_computations_total 2" in text
    assert "fibcache_request_duration_seconds_bucket" in text


def test_slow_requests_are_logged_once_with_details(make_stack):
    stack = make_stack(fibcache_args=["--slow-request-threshold", "1ms"])
    stack.get(f"{API}/30/?algorithm=recursive")
    log = stack.log_text()
    slow = [line for line in log.splitlines() if "slow request" in line]
    assert any("n=30" in line and "algorithm=recursive" in line and "cache=MISS" in line and "compute_ms=" in line
               for line in slow), log
    assert json.loads(stack.ops("GET", "/status")[2])["slow_requests"] >= 1
