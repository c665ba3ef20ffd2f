"""Redis Sentinel (issue 15): fibcache asks the Sentinels for the primary, checks it with ROLE,
skips Sentinels that are down or lie, and follows a failover by itself. Issue 22: the Sentinels
authenticated (ACL users), and a primary believed only when a quorum of them name it, so that
the password never reaches a node a lying, slow or lone Sentinel named."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Redis, Sentinels, Stack, free_port, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Support"))
from hostile_redis import HostileRedis, late, primary_accepting_anything, sentinel_naming  # noqa: E402
from stack import REDIS_CLI, RedisAuth  # noqa: E402

API = "/api/fibonacci/number"


@pytest.fixture
def replicated(tmp_path):
    """A primary, its replica, three Sentinels, and fibcache (behind nginx) asking them
    through a URL whose first Sentinel is down and whose second lies."""
    primary = Redis(tmp_path / "primary").start()
    replica = Redis(tmp_path / "replica", extra=["--replicaof", "127.0.0.1", str(primary.port)]).start()
    wait_until(lambda: "master_link_status:up" in replica.cli("info", "replication"), what="replica in sync")
    sentinels = Sentinels(tmp_path, primary).start()
    # A Sentinel that names the replica: ROLE must catch it.
    with HostileRedis(sentinel_naming(b"127.0.0.1", replica.port)) as liar:
        url = sentinels.url(f"127.0.0.1:{free_port()}", f"127.0.0.1:{liar.port}")
        stack = Stack(tmp_path / "stack", with_redis=False, fibcache_args=["--redis-url", url])
        try:
            stack.start()
            yield stack, primary, replica, sentinels
        finally:
            stack.stop()
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


# Loaded machines (2 cores, builds beside): a real Sentinel must not miss its answer by a hair.
TIMEOUTS = ["--redis-connect-timeout", "1s", "--redis-command-timeout", "1s"]


@pytest.fixture
def secured(tmp_path):
    """A primary, its replica and three Sentinels, none of them open to anonymous clients."""
    auth = RedisAuth()
    primary = Redis(tmp_path / "primary", auth=auth).start()
    replica = Redis(tmp_path / "replica", auth=auth, extra=["--replicaof", "127.0.0.1", str(primary.port)]).start()
    sentinels = None
    try:
        wait_until(lambda: "master_link_status:up" in replica.cli("info", "replication"), what="replica in sync")
        sentinels = Sentinels(tmp_path, primary).start()
        yield auth, primary, sentinels
    finally:
        if sentinels:
            sentinels.stop()
        replica.stop()
        primary.stop()


@pytest.fixture
def attacker():
    """A node posing as the primary that records everything it is sent."""
    with HostileRedis(primary_accepting_anything) as node:
        yield node


def liar_naming(node):
    return HostileRedis(sentinel_naming(b"127.0.0.1", node.port))


def auths(node):
    return [c for c in node.commands if c and c[0].upper() == b"AUTH"]


def test_authenticated_sentinels_are_asked_with_their_own_user(secured, make_stack, tmp_path):
    auth, primary, sentinels = secured
    port = sentinels.ports[0]
    ask = [REDIS_CLI, "-p", str(port), "--no-auth-warning"]
    # The Sentinels as README has them: nobody anonymous, fibcache's user can only ask for the primary.
    assert "NOAUTH" in subprocess.run([*ask, "sentinel", "get-master-addr-by-name", "fibcache"],
                                      capture_output=True, text=True).stdout
    as_fibcache = [*ask, "--user", "fibcache", "--pass", auth.sentinel_client]
    for command in (["sentinel", "set", "fibcache", "quorum", "1"], ["sentinel", "failover", "fibcache"],
                    ["sentinel", "remove", "fibcache"]):
        assert "NOPERM" in subprocess.run([*as_fibcache, *command], capture_output=True, text=True).stdout, command
    stack = make_stack(with_redis=False, fibcache_args=["--redis-url", sentinels.url(),
                                                        *auth.fibcache_args(tmp_path / "secrets"), *TIMEOUTS])
    assert outcome(stack, 40) == (200, "MISS")
    assert outcome(stack, 40)[1] == "HIT"
    assert primary.cli("get", "fibonacci_40") == "102334155"
    log = stack.log_text()
    assert "sentinel_user=fibcache" in log, "the URL logged with its Sentinel user"
    assert auth.fibcache not in log and auth.sentinel_client not in log


def test_a_lying_sentinel_is_outvoted(secured, attacker, make_stack, tmp_path):
    """One liar naming the attacker's node, listed first, and two real Sentinels: a majority of
    three names the real primary; the attacker's node is never sent the password."""
    auth, primary, sentinels = secured
    with liar_naming(attacker) as liar:
        url = sentinels.url(f"127.0.0.1:{liar.port}", real=[0, 1])
        stack = make_stack(with_redis=False, fibcache_args=["--redis-url", url,
                                                            *auth.fibcache_args(tmp_path / "secrets"), *TIMEOUTS])
        assert outcome(stack, 41) == (200, "MISS")
        assert outcome(stack, 41)[1] == "HIT"
        assert primary.cli("get", "fibonacci_41") == "165580141"
        assert any(c[:2] == [b"SENTINEL", b"get-master-addr-by-name"] for c in liar.commands), "the liar was asked"

        def liar_logged():
            # Each new connection asks again (the liar, quick, is nearly always heard before the quorum).
            primary.cli("client", "kill", "user", "fibcache")
            outcome(stack, 41)
            return "names another primary than the quorum" in stack.log_text()

        wait_until(liar_logged, timeout=10, what="the outvoted liar logged")
        line = next(l for l in stack.log_text().splitlines() if "names another primary" in l)
        print(line)
        assert f"sentinel=127.0.0.1:{liar.port}" in line and f"named=127.0.0.1:{attacker.port}" in line, line
        assert f"primary=127.0.0.1:{primary.port}" in line, line
    print(f"liar listed first of three: the node it named got {attacker.connections} connection(s), "
          f"{len(auths(attacker))} AUTH")
    assert auths(attacker) == []
    assert not any(auth.fibcache.encode() in arg for c in attacker.commands for arg in c)


def test_no_quorum_is_served_uncached_and_the_password_stays(attacker, make_stack, tmp_path):
    """A liar naming the attacker's node, a Sentinel that names it too but too late, and one that
    is down: no address has a majority, so requests are served uncached, the disagreement is
    logged, and the attacker's node hears nothing."""
    password = "primary-pw-marker-" + RedisAuth().infra
    (tmp_path / "redis-password").write_text(password + "\n")
    with liar_naming(attacker) as liar, HostileRedis(late(sentinel_naming(b"127.0.0.1", attacker.port), 3.0)) as slow:
        url = f"redis+sentinel://fibcache:@127.0.0.1:{liar.port},127.0.0.1:{slow.port},127.0.0.1:{free_port()}/fibcache/1"
        stack = make_stack(with_redis=False, fibcache_args=["--redis-url", url, "--redis-password-file",
                                                            str(tmp_path / "redis-password"), *TIMEOUTS])
        results = []
        for n in range(42, 52):
            started = time.monotonic()
            results.append((*outcome(stack, n), time.monotonic() - started))
            time.sleep(0.1)
    print(f"1 liar + 1 slow + 1 dead Sentinel: {[r[1] for r in results]}; slowest answer "
          f"{max(r[2] for r in results):.2f} s; the node the liar named got {attacker.connections} connection(s), "
          f"{len(auths(attacker))} AUTH")
    assert all(r[:2] == (200, "BYPASS") for r in results), results
    assert max(r[2] for r in results) < 3.0, "a slow Sentinel costs the timeouts, not its delay"
    assert auths(attacker) == [] and attacker.connections == 0
    log = stack.log_text()
    assert "named by 2 of the 3 Sentinels" in log, log
    assert f"Sentinel 127.0.0.1:{liar.port} named 127.0.0.1:{attacker.port}" in log, log
    assert log.count("Redis unavailable") == 1, "logged once, whichever Sentinel answers first"
    assert password not in log


def test_one_sentinel_of_three_is_not_a_majority(tmp_path, make_stack):
    """(Open Sentinels, as before issue 22: quorum does not need authentication.) Two of the three
    down: the one left alone is not believed; once they are back, caching resumes by itself."""
    primary = Redis(tmp_path / "primary").start()
    replica = Redis(tmp_path / "replica", extra=["--replicaof", "127.0.0.1", str(primary.port)]).start()
    sentinels = None
    try:
        wait_until(lambda: "master_link_status:up" in replica.cli("info", "replication"), what="replica in sync")
        sentinels = Sentinels(tmp_path, primary).start()
        sentinels.stop_one(1)
        sentinels.stop_one(2)
        stack = make_stack(with_redis=False, fibcache_args=["--redis-url", sentinels.url(), *TIMEOUTS])
        assert [outcome(stack, n) for n in (60, 61, 60)] == [(200, "BYPASS")] * 3
        assert "named by 2 of the 3 Sentinels" in stack.log_text()
        assert primary.cli("exists", "fibonacci_60") == "0"
        sentinels.start_one(1)
        sentinels.start_one(2)
        back = time.monotonic()
        wait_until(lambda: outcome(stack, 62)[1] == "MISS", timeout=15, what="caching resumed")
        print(f"two of three Sentinels back -> caching resumed after {time.monotonic() - back:.2f} s")
        assert outcome(stack, 62)[1] == "HIT"
        assert primary.cli("get", "fibonacci_62") == "4052739537881"
        assert "caching resumes" in stack.log_text()
    finally:
        if sentinels:
            sentinels.stop()
        replica.stop()
        primary.stop()


def test_a_wrong_sentinel_password_is_logged_and_served_uncached(secured, make_stack, tmp_path):
    auth, primary, sentinels = secured
    args = auth.fibcache_args(tmp_path / "secrets")
    wrong = "wrong-sentinel-pw-marker"
    (tmp_path / "secrets" / "sentinel-password").write_text(wrong + "\n")
    stack = make_stack(with_redis=False, fibcache_args=["--redis-url", sentinels.url(), *args, *TIMEOUTS])
    assert [outcome(stack, n) for n in (70, 71)] == [(200, "BYPASS")] * 2
    log = stack.log_text()
    assert "WRONGPASS" in log and "named by 2 of the 3 Sentinels" in log, log
    for secret in (wrong, auth.fibcache, auth.sentinel_client, auth.infra):
        assert secret not in log
    assert "user=fibcache" not in primary.cli("client", "list"), "the primary was never reached"
