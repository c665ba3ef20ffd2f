"""A bounded soak: a long mixed load (hits, misses, bad input) against the release
binary; fibcache's memory must stay flat. And a shorter run under valgrind, for
the C interop paths (libfcgi, hiredis, GMP)."""
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, Stack, rss_kib, stop_process, wait_until

RELEASE = ROOT / ".build-static" / "release" / "fibcache"  # the deployed build (make build-static)
SOAK_SECONDS = int(os.environ.get("FIBCACHE_SOAK_SECONDS", "65"))


LOCAL_CACHE_KIB = 4 * 1024  # fibcache's default --local-cache-mb


def wrk(stack, seconds, connections=16):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(Path(__file__).with_name("soak.lua")), f"http://127.0.0.1:{stack.http_port}/"],
                         capture_output=True, text=True, timeout=seconds + 60)
    summary = re.search(r"SOAK requests=(\d+) 5xx=(\d+) unexpected=(\d+)", out.stdout)
    assert summary, out.stdout + out.stderr
    requests, errors5xx, unexpected = map(int, summary.groups())
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out.stdout)
    socket_errors = sum(map(int, errors.groups())) if errors else 0
    return requests, socket_errors + errors5xx + unexpected, out.stdout


@pytest.fixture
def release_stack(tmp_path):
    assert RELEASE.exists(), "make test-faults builds it first (make build-static)"
    # As shipped: in-process copy, kept connections, the default workers (8 per core, at least 16).
    stack = Stack(tmp_path, workers=None, binary=RELEASE)
    try:
        yield stack.start()
    finally:
        stack.stop()


def test_soak_memory_stays_flat(release_stack):
    stack = release_stack
    warm, failures, out = wrk(stack, 20)  # fill the hot set, let allocators reach their working size
    assert failures == 0, out
    before = rss_kib(stack.fibcache.pid)
    requests, failures, out = wrk(stack, SOAK_SECONDS)
    after = rss_kib(stack.fibcache.pid)
    log = stack.log_text()
    print(f"soak: {warm} warm-up + {requests} requests in {SOAK_SECONDS}s; RSS {before} KiB -> {after} KiB")
    assert stack.fibcache.poll() is None
    assert failures == 0, out  # no socket error, no 5xx, and every status the one its request deserves
    assert "error" not in log.lower().replace("errors", ""), log[-2000:]
    # The in-process copy (4 MiB by default) keeps filling with the stream of new
    # values during the soak; anything beyond its budget plus 4 MiB is a leak.
    assert after - before < 4096 + LOCAL_CACHE_KIB, f"RSS grew {after - before} KiB during the soak"


def test_c_interop_is_clean_under_valgrind(tmp_path, monkeypatch):
    """Debug binary under memcheck: a few hundred requests over every path that
    crosses into C (FastCGI parsing, Redis hit/miss/set, GMP values), then SIGTERM."""
    valgrind = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
                "--error-exitcode=99", f"--log-file={tmp_path}/valgrind.log",
                f"--suppressions={Path(__file__).with_name('swift-runtime.supp')}"]
    stack = Stack(tmp_path)
    # Valgrind 3.19 cannot read the toolchain's DWARF 5: run a copy without debug info
    # (the symbol table remains, so reports still name functions).
    binary = tmp_path / "fibcache"
    subprocess.run(["strip", "--strip-debug", "-o", str(binary), str(ROOT / ".build" / "debug" / "fibcache")], check=True)

    def start_under_valgrind(self, sock, log_path):
        log = open(log_path, "ab")
        proc = subprocess.Popen([*valgrind, str(binary), "--listen", str(sock),
                                 "--redis-url", f"redis://127.0.0.1:{self.redis.port}/1", "--workers", "2",
                                 "--operations-token-file", str(self.dir / "operations-token")],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.fibcaches.append(proc)
        self.logs.append(log)
        wait_until(lambda: sock.exists() or proc.poll() is not None, timeout=60, what="fibcache under valgrind")

    monkeypatch.setattr(Stack, "start_fibcache", start_under_valgrind)
    try:
        stack.start()
        expected = {f"/api/fibonacci/number/{n}/": 200 for n in (0, 1, 93, 94, 1000, 5000, 20)}
        expected.update({"/api/fibonacci/number/abc/": 400, "/api/nope": 404,
                         "/api/fibonacci/number/25/?algorithm=recursive": 200,
                         "/api/fibonacci/number/300/?algorithm=iterative": 200})
        operations = {"/status?full": 200, "/metrics": 200, "/readyz": 200}
        for _ in range(15):
            for path, status in expected.items():
                assert stack.get(path, timeout=60)[0] == status, path
            for path, status in operations.items():
                assert stack.ops("GET", path, timeout=60)[0] == status, path
        stack.redis.stop()
        assert stack.get("/api/fibonacci/number/77/", timeout=60)[1]["x-cache"] == "BYPASS"
        code = stop_process(stack.fibcache, timeout=60)
    finally:
        stack.stop()
    report = (tmp_path / "valgrind.log").read_text()
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", report)
    definitely = re.search(r"definitely lost: ([\d,]+) bytes", report)
    print(f"valgrind: exit {code}, {summary.group(0) if summary else '?'}, "
          f"definitely lost {definitely.group(1) if definitely else '0'} bytes")
    assert code == 0, report[-4000:]
    assert summary and summary.group(1) == "0", report[-4000:]
