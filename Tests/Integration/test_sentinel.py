"""Redis Sentinel (issue 15): fibcache asks the Sentinels for the primary, checks it with ROLE,
skips Sentinels that are down or lie, and follows a failover by itself."""
import json
import socket
import threading
import time

import pytest

from conftest import Redis, Sentinels, Stack, free_port, wait_until

API = "/api/fibonacci/number"


class LyingSentinel:
    """Answers every command with the address it is given (a replica's): ROLE must catch it."""

    def __init__(self, port_named):
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.reply = f"*2\r\n$9\r\n127.0.0.1\r\n${len(str(port_named))}\r\n{port_named}\r\n".encode()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                try:
                    if conn.recv(4096):
                        conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self.server.close()


@pytest.fixture
def replicated(tmp_path):
    """A primary, its replica, three Sentinels, and fibcache (behind nginx) asking them
    through a URL whose first Sentinel is down and whose second lies."""
    primary = Redis(tmp_path / "primary").start()
    replica = Redis(tmp_path / "replica", extra=["--replicaof", "127.0.0.1", str(primary.port)]).start()
    wait_until(lambda: "master_link_status:up" in replica.cli("info", "replication"), what="replica in sync")
    sentinels = Sentinels(tmp_path, primary).start()
    liar = LyingSentinel(replica.port)
    url = sentinels.url(f"127.0.0.1:{free_port()}", f"127.0.0.1:{liar.port}")
    stack = Stack(tmp_path / "stack", with_redis=False, fibcache_args=["--redis-url", url])
    try:
        stack.start()
        yield stack, primary, replica, sentinels
    finally:
        stack.stop()
        liar.close()
        sentinels.stop()
        replica.stop()
        primary.stop()


def outcome(stack, n):
    status, headers, body = stack.get(f"{API}/{n}/", timeout=10)
    return status, headers.get("x-cache")


def test_the_primary_is_found_past_a_dead_and_a_lying_sentinel(replicated):
    stack, primary, replica, _ = replicated
    assert outcome(stack, 40) == (200, "MISS")
    assert primary.cli("get", "fibonacci_40") == "102334155", "written to the primary, not the replica the liar named"
    assert outcome(stack, 41) == (200, "MISS") and outcome(stack, 41)[1] == "HIT"
    assert json.loads(stack.ops("GET", "/readyz")[2])["status"] == "ready"
    assert "redis+sentinel://" in stack.log_text()


def test_a_failover_is_followed(replicated):
    stack, primary, replica, sentinels = replicated
    assert outcome(stack, 42) == (200, "MISS")
    results = []
    killed = time.monotonic()
    primary.proc.kill()  # kill -9
    primary.proc.wait()
    n = 100_000
    deadline = killed + 30
    while time.monotonic() < deadline:
        n += 1
        status, cache = outcome(stack, n)
        results.append((time.monotonic() - killed, status, cache))
        if cache == "MISS":
            break
        time.sleep(0.02)
    resumed = results[-1][0]
    print(f"primary killed -> first MISS stored on the new primary after {resumed:.2f} s; "
          f"{len(results)} requests meanwhile, {sum(1 for r in results if r[1] != 200)} not 200, "
          f"{sum(1 for r in results if r[2] == 'BYPASS')} BYPASS")
    assert results[-1][2] == "MISS", results[-5:]
    assert all(status == 200 for _, status, _ in results), "answered throughout, uncached at worst"
    # The Sentinels announce the switch once the failover is complete (the promoted replica
    # answers ROLE master a little earlier: fibcache may already use it).
    wait_until(lambda: sentinels.primary_port() == replica.port, timeout=15, what="Sentinels naming the replica")
    assert replica.cli("get", f"fibonacci_{n}") != "", "cached on the promoted replica"
    assert outcome(stack, 42)[1] in ("HIT", "MISS")

    # The old primary comes back as a replica of the promoted one (as its rewritten configuration
    # would have it; Sentinel's own conversion can take tens of seconds), and fibcache does not use it.
    primary.extra = ["--replicaof", "127.0.0.1", str(replica.port)]
    primary.start()
    for k in range(20):
        assert outcome(stack, 200_000 + k) == (200, "MISS")
    assert replica.cli("exists", "fibonacci_200019") == "1"
    clients = [line for line in primary.cli("client", "list").splitlines()
               if "name=sentinel" not in line and "flags=M" not in line and "cmd=client" not in line]
    assert clients == [], f"fibcache connected to the demoted primary: {clients}"
