"""FastCGI fuzzed at the protocol level against the running process: a hostile peer
(Tests/Support/fastcgi_fuzz_peer.py) sends random and mutated records over thousands of
connections. fibcache never dies, its memory and file descriptors come back, and nginx's next
request is answered as usual. Every seed of the libFuzzer corpus (the crash shapes included) is
also sent as it is, one connection each.

FIBCACHE_FASTCGI_FUZZ_SECONDS (default 30) and FIBCACHE_FASTCGI_FUZZ_SEED (default 21) widen or
vary a run; the summary line printed says what was sent and what came back."""
import json
import os
import socket
import sys
import time
from pathlib import Path

from conftest import open_fds, rss_kib, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Support"))
import fastcgi_fuzz_peer  # noqa: E402
from fastcgi_records import STDOUT  # noqa: E402

API = "/api/fibonacci/number"
SECONDS = float(os.environ.get("FIBCACHE_FASTCGI_FUZZ_SECONDS", "30"))
SEED = int(os.environ.get("FIBCACHE_FASTCGI_FUZZ_SEED", "21"))
RSS_GROWTH_LIMIT_KIB = 32 * 1024
# Descriptors the process may open for good during the run: each of the stack's 8 workers opens its
# Redis connection on its first request, which the warm-up may not have reached; and a few more.
FD_SLACK = 8 + 4


def still_serves(stack):
    """A normal request through nginx, and /status on the operations server."""
    status, _, body = stack.get(f"{API}/90/")
    assert (status, body) == (200, b'{"fibonacci": 2880067194370816120}'), (status, body)
    status, _, body = stack.ops("GET", "/status")
    assert status == 200, (status, body)
    return json.loads(body)


def warm_up(stack):
    """Allocators and the in-process copy at their working size before the baseline is taken."""
    for n in range(60):
        assert stack.get(f"{API}/{n}/")[0] == 200


def test_every_seed_as_sent(make_stack):
    stack = make_stack()
    warm_up(stack)
    for seed in sorted(fastcgi_fuzz_peer.DEFAULT_CORPUS.iterdir()):
        reply = b""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(stack.socket))
            try:
                s.sendall(seed.read_bytes())
                s.shutdown(socket.SHUT_WR)
                reply = s.recv(65536)
            except OSError:
                pass  # refused and closed mid-write, or silent: both fine, dying is not
        time.sleep(0.05)  # a crash shows as an exit within the time libfcgi takes to abort
        assert stack.fibcache.poll() is None, f"fibcache died on the seed {seed.name}: {stack.log_text()[-2000:]}"
        if seed.name.startswith("nginx-"):  # what nginx really sends is answered (a STDOUT record)
            assert reply[:2] == bytes([1, STDOUT]), (seed.name, reply[:64])
    still_serves(stack)


def test_random_and_mutated_records(make_stack):
    stack = make_stack()
    warm_up(stack)
    pid = stack.fibcache.pid
    rss_before, fds_before = rss_kib(pid), open_fds(pid)
    summary = fastcgi_fuzz_peer.run(str(stack.socket), seconds=SECONDS, connections=50_000, seed=SEED)
    alive = stack.fibcache.poll() is None
    print(f"\nfastcgi fuzz: {json.dumps(summary, sort_keys=True)}")
    assert alive, f"fibcache died (exit {stack.fibcache.returncode}) under the fuzz: {stack.log_text()[-2000:]}"
    assert summary["connections"] >= 200, summary  # it really ran
    assert summary["outcomes"].get("connect_failed", 0) == 0, summary
    rss_after = rss_kib(pid)
    wait_until(lambda: open_fds(pid) <= fds_before + FD_SLACK, timeout=15, what=f"fds back near {fds_before}")
    status = still_serves(stack)
    print(f"fastcgi fuzz: RSS {rss_before} -> {rss_after} KiB, fds {fds_before} -> {open_fds(pid)}; "
          f"/status fastcgi: {json.dumps(status.get('fastcgi'))}")
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_KIB, f"RSS grew {rss_after - rss_before} KiB"
    # What broke a rule was refused before libfcgi, counted, and logged at most once a minute.
    assert status["fastcgi"]["requests_refused"] > 0, status["fastcgi"]
    logged = stack.log_text().count("refused a FastCGI request")
    assert 1 <= logged <= 2 + SECONDS // 60, f"{logged} refusal log lines in {SECONDS} s"
