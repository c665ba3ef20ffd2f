"""An eviction through one fibcache host reaching another's in-process copy, as the Sentinel
and the Redis Cluster suites both measure it. No pytest here."""
import json
import time

API = "/api/fibonacci/number"


def delete_reaches_the_other(ask, a, b, ns, limit_s=2):
    """For each n: both hosts hold F(n) in their copy (Server-Timing `HIT local`, asked directly
    with `ask(host, method, path)`), a DELETE through `a`, then the seconds until `b` no longer
    answers from its copy (its next GET a MISS). Returns those delays."""
    delays = []
    for n in ns:
        for host in (a, b):
            deadline = time.monotonic() + 5
            while 'desc="HIT local"' not in ask(host, "GET", f"{API}/{n}/")[0].get("Server-Timing", ""):
                assert time.monotonic() < deadline, f"F({n}) never held on {host}"
        assert json.loads(ask(a, "DELETE", f"{API}/{n}/")[1]) == {"n": n, "evicted": True}
        evicted = time.monotonic()
        while True:
            headers, _ = ask(b, "GET", f"{API}/{n}/")
            if 'desc="HIT local"' not in headers.get("Server-Timing", ""):
                break
            assert time.monotonic() - evicted < limit_s, f"F({n}) still served from {b}'s copy"
        delays.append(time.monotonic() - evicted)
        assert headers["X-Cache"] == "MISS", "the next GET through B is cold"
    return delays
