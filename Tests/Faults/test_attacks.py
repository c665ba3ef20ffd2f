"""One anonymous client must not take the service down (issue 13). Each attack is
replayed, bounded in count and time, against real nginx + fibcache + Redis; while it
runs, hits keep answering, and the service is back to normal right after it stops.

The clients here connect from 127.0.0.1, which the shipped site exempts from its
per-client limits (a load test from the host itself): what is proven is fibcache's own
admission. The nginx limits are proven from 127.0.0.2 in test_client_limits."""
import socket
import threading
import time

import pytest

from conftest import Load, Stack, fastcgi_status, rss_kib, wait_until
from fastcgi_records import PARAMS, begin, header  # conftest has put Tests/Support on sys.path

API = "/api/fibonacci/number"
HIT_BOUND = 1.0  # seconds: generous; a hit takes a fraction of a millisecond
# The attacks used the old limits: iterative up to --max-n (10⁶), seconds per request.
OLD_LIMITS = ["--max-iterative-n", "1000000"]


def status(stack):
    return fastcgi_status(stack.socket)


def send_request(port, path):
    """An HTTP request sent on a socket of its own, left unread (the caller hangs up)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return s


def hit_probe(stack):
    """Asks for a cached value every 20 ms on fresh connections until stopped."""
    return Load(stack, lambda i, k: f"{API}/40/", threads=1, pause=0.02)


def failures(probe):
    """Probe answers that were not a 200 HIT."""
    return [r for r in probe.results if r[1] != 200 or r[2] != "HIT"]


@pytest.fixture
def attacked(tmp_path):
    stack = Stack(tmp_path, workers=None, fibcache_args=OLD_LIMITS)
    try:
        stack.start()
        assert stack.get(f"{API}/40/")[0] == 200  # cached from now on
        yield stack
    finally:
        stack.stop()


def test_computations_nobody_waits_for_stop(attacked):
    """70 iterative F(~10⁶) sent and hung up on after 0.39 s: before, each ran to its end
    (1.7 s of CPU) and a cached value on a fresh connection waited 20 s."""
    stack = attacked
    sockets = []
    with hit_probe(stack) as probe:
        for i in range(70):
            sockets.append(send_request(stack.http_port, f"{API}/{999_998 - i}/?algorithm=iterative"))
        time.sleep(0.39)
        for s in sockets:
            s.close()
        hung_up = time.monotonic()
        # Every computation stops within a few of its 10 ms checks (one would take 1.7 s).
        wait_until(lambda: status(stack)["computations_admission"]["running"] == 0, timeout=1.0,
                   what="the abandoned computations to stop")
        stopped_after = time.monotonic() - hung_up
        start = time.monotonic()
        code, headers, _ = stack.get(f"{API}/40/", timeout=30)
        fresh = time.monotonic() - start
    admission = status(stack)["computations_admission"]
    print(f"70 hung-up iterative misses: stopped {stopped_after * 1000:.0f} ms after the hang-up, "
          f"abandoned {admission['abandoned']}, rejected {admission['rejected']}; "
          f"hit on a fresh connection {fresh * 1000:.1f} ms, worst probe hit {probe.worst * 1000:.1f} ms")
    assert code == 200 and headers["x-cache"] == "HIT"
    assert fresh < HIT_BOUND
    assert not failures(probe), failures(probe)[:5]
    assert probe.worst < HIT_BOUND
    assert admission["abandoned"] >= 1
    # Nothing half-computed was stored.
    assert stack.redis.cli("exists", "fibonacci_999998") == "0"


def test_concurrent_misses_do_not_delay_hits(attacked):
    """80 concurrent iterative misses for n ≈ 600 000: before, a cached hit waited 14.2 s
    and RSS went from 16 to 57 MB. Now the misses beyond the admission get 503 at once."""
    stack = attacked
    pid = stack.fibcache.pid
    rss_before = rss_kib(pid) / 1024
    results = []
    peak = [rss_before]

    def miss(n):
        try:
            code, headers, _ = stack.get(f"{API}/{n}/?algorithm=iterative", timeout=60)
            results.append((code, headers.get("retry-after")))
        except OSError as error:
            results.append(("error", str(error)))

    with hit_probe(stack) as probe:
        threads = [threading.Thread(target=miss, args=(600_000 + i,)) for i in range(80)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            peak.append(rss_kib(pid) / 1024)
            time.sleep(0.05)
        for t in threads:
            t.join(1)
    codes = [code for code, _ in results]
    print(f"80 concurrent iterative misses: {codes.count(200)} computed, {codes.count(503)} refused (503); "
          f"{len(probe.results)} hits during it, worst {probe.worst * 1000:.1f} ms; "
          f"RSS {rss_before:.1f} → peak {max(peak):.1f} MiB")
    assert len(results) == 80
    assert set(codes) <= {200, 503}, results
    assert all(retry == "1" for code, retry in results if code == 503), "503 comes with Retry-After"
    assert codes.count(200) >= 1, "some were admitted"
    assert not failures(probe), failures(probe)[:5]
    assert probe.worst < HIT_BOUND
    assert max(peak) < 128, "within the unit's MemoryMax with room to spare"
    refusals_logged = stack.log_text().count("computations at their limit")
    assert 1 <= refusals_logged <= 2, f"{codes.count(503)} refusals, logged once per 10 s, not once each"
    # Back to normal: a new miss is computed at once.
    code, headers, _ = stack.get(f"{API}/500000/?algorithm=iterative", timeout=30)
    assert code == 200 and headers["x-cache"] == "MISS"


def test_fast_never_waits_behind_recursive(attacked):
    """Single-flight was keyed on n alone: `fast` 45 waited 1.96 s behind another client's
    `recursive` 45."""
    stack = attacked
    slow = threading.Thread(target=lambda: stack.get(f"{API}/45/?algorithm=recursive", timeout=60))
    slow.start()
    wait_until(lambda: status(stack)["computations_admission"]["running"] == 1, timeout=5,
               what="the recursive computation to start")
    start = time.monotonic()
    code, headers, body = stack.get(f"{API}/45/", timeout=30)
    elapsed = time.monotonic() - start
    recursive_still_running = status(stack)["computations_admission"]["running"] == 1
    slow.join(60)
    print(f"fast 45 beside a recursive 45: {elapsed * 1000:.1f} ms")
    assert code == 200 and body == b'{"fibonacci": 1134903170}'
    assert recursive_still_running, "the recursive one was still computing: this did not wait for it"
    assert elapsed < 0.5


def test_a_trickling_fastcgi_peer_is_cut_at_the_request_deadline(tmp_path):
    """A socket peer sending a request a byte every 3 s held a worker indefinitely (each
    read was within the 10 s timeout): with 2 workers, a real request waited 26 s.
    Now the request's deadline (--request-io-deadline, 5 s by default) frees them."""
    stack = Stack(tmp_path, workers=2).start()
    try:
        stack.get(f"{API}/40/")
        keep_conn = begin(flags=1)
        tricklers = []
        for _ in range(2):
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(stack.socket))
            s.sendall(keep_conn + header(PARAMS, 200))  # PARAMS: 200 bytes announced, none sent
            tricklers.append(s)
        stop = threading.Event()

        def trickle():
            while not stop.wait(3):
                for s in tricklers:
                    try:
                        s.send(b"\x01")
                    except OSError:
                        pass
        feeder = threading.Thread(target=trickle, daemon=True)
        feeder.start()
        time.sleep(0.2)  # both workers are now reading a trickle
        start = time.monotonic()
        code, headers, _ = stack.get(f"{API}/40/", timeout=60)
        waited = time.monotonic() - start
        stop.set()
        cut = [s.recv(1, socket.MSG_DONTWAIT) if _readable(s) else None for s in tricklers]
        for s in tricklers:
            s.close()
        print(f"2 workers held by trickling peers: a real request waited {waited:.1f} s")
        assert code == 200 and headers["x-cache"] == "HIT"
        assert waited < 7, "freed at the 5 s deadline"
        assert cut == [b"", b""], "fibcache closed both trickling connections"
        assert "too slow to send a request" in stack.log_text()
    finally:
        stack.stop()


def _readable(s):
    import select
    return bool(select.select([s], [], [], 1)[0])
