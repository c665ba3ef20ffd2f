"""fibcache's own Redis instance as deployed (issue 14): the shipped configuration
(systemd/redis-fibcache.conf) with its users (systemd/redis-fibcache-users.conf.in),
fibcache authenticating with the password from a file. Every command fibcache sends is
one its user may run; without the password a client may check health and TTLs only."""
import hashlib
import json
import subprocess

import pytest

from conftest import ROOT, Redis, Stack

API = "/api/fibonacci/number"
PASSWORD = "Zq7marker9password"


def deployed_redis(directory, password):
    """A redis-server with the shipped instance configuration, its users rendered as
    `make install` renders them; on loopback TCP and a socket in `directory` instead of
    /run, plus an admin user for the test's own checks."""
    directory.mkdir(parents=True, exist_ok=True)
    users = directory / "users.conf"
    template = (ROOT / "systemd" / "redis-fibcache-users.conf.in").read_text()
    users.write_text(template.replace("@PASSWORD_SHA256@", hashlib.sha256(password.encode()).hexdigest()))
    shipped = (ROOT / "systemd" / "redis-fibcache.conf").read_text()
    assert "include /etc/redis/redis-fibcache-users.conf" in shipped
    config = directory / "redis.conf"
    config.write_text(shipped.replace("include /etc/redis/redis-fibcache-users.conf", f"include {users}"))
    return Redis(directory, config=config, extra=[
        "--unixsocket", str(directory / "redis.sock"), "--pidfile", str(directory / "redis.pid"),
        "--user", "admin", "on", ">admin-only-in-tests", "~*", "&*", "+@all"])


def cli(redis, *args, user=None, password=None):
    auth = ["--user", user, "--pass", password, "--no-auth-warning"] if user else []
    out = subprocess.run(["redis-cli", "-p", str(redis.port), *auth, *args], capture_output=True, text=True, timeout=10)
    return (out.stdout + out.stderr).strip()


def admin(redis, *args):
    return cli(redis, *args, user="admin", password="admin-only-in-tests")


@pytest.fixture
def deployed(tmp_path):
    password_file = tmp_path / "redis-password"
    password_file.write_text(PASSWORD + "\n")
    stack = Stack(tmp_path / "stack", fibcache_args=[
        "--redis-url", f"unix://{tmp_path}/stack/redis/redis.sock?user=fibcache", "--redis-password-file", str(password_file)])
    stack.redis = deployed_redis(tmp_path / "stack" / "redis", PASSWORD)
    try:
        yield stack.start()
    finally:
        stack.stop()


def test_fibcache_runs_with_only_the_commands_its_user_is_given(deployed):
    # Cheap misses, a computation under the stampede lock (F(200,000) is not cheap), hits
    # from Redis (a second process has no in-process copy), a poisoned value repaired, eviction.
    for path in (f"{API}/40/", f"{API}/200000/", f"{API}/25/?algorithm=recursive"):
        assert deployed.get(path)[1]["x-cache"] == "MISS", path
        assert deployed.get(path)[1]["x-cache"] == "HIT", path
    assert admin(deployed.redis, "set", "fibonacci_41", "7") == "OK"
    status, headers, body = deployed.get(f"{API}/41/")
    assert (status, headers["x-cache"], json.loads(body)) == (200, "MISS", {"fibonacci": 165580141})
    assert admin(deployed.redis, "get", "fibonacci_41") == "165580141"
    assert deployed.ops("DELETE", f"{API}/40/")[2] == b'{"n": 40, "evicted": true}'
    assert deployed.get(f"{API}/40/")[1]["x-cache"] == "MISS"
    # The invalidation channel (CLIENT ID, CLIENT TRACKING, SUBSCRIBE) is allowed too: the copy is in use.
    assert json.loads(deployed.ops("GET", "/status")[2])["local_cache"]["in_use"] is True
    refused = admin(deployed.redis, "acl", "log")
    assert refused == "", f"a command fibcache sent was refused:\n{refused}"
    assert "NOPERM" not in deployed.log_text() and "refused" not in deployed.log_text()
    ttl = int(cli(deployed.redis, "ttl", "fibonacci_40"))
    assert 0 < ttl <= 86400


def test_without_the_password_only_health_and_ttls(deployed):
    deployed.get(f"{API}/40/")
    assert cli(deployed.redis, "ping") == "PONG"
    assert "used_memory:" in cli(deployed.redis, "info", "memory")
    assert int(cli(deployed.redis, "ttl", "fibonacci_40")) > 0
    for command in (["get", "fibonacci_40"], ["set", "fibonacci_5", "7"], ["del", "fibonacci_40"], ["flushall"],
                    ["keys", "*"], ["config", "get", "maxmemory"], ["set", "session:1", "x"]):
        assert "NOPERM" in cli(deployed.redis, *command), command
    # fibcache's user cannot reach other keys or administer the instance either.
    for command in (["set", "session:1", "x"], ["get", "session:1"], ["flushall"], ["config", "set", "maxmemory", "0"],
                    ["eval", "while true do end", "0"]):  # no Lua: the lock is released with WATCH/MULTI/EXEC
        assert "NOPERM" in cli(deployed.redis, *command, user="fibcache", password=PASSWORD), command
    assert "WRONGPASS" in cli(deployed.redis, "get", "fibonacci_40", user="fibcache", password="guess")


def test_the_instance_is_a_bounded_cache(deployed):
    info = cli(deployed.redis, "info", "memory")
    assert "maxmemory:268435456" in info and "maxmemory_policy:allkeys-lru" in info
    # A value far beyond F(10^7) (2.1 MB) cannot even be stored.
    big = subprocess.run(["redis-cli", "-p", str(deployed.redis.port), "--user", "admin", "--pass", "admin-only-in-tests",
                          "--no-auth-warning", "-x", "set", "fibonacci_7"], input="7" * (9 << 20),
                         capture_output=True, text=True, timeout=30)
    assert "ERR" in big.stdout + big.stderr or admin(deployed.redis, "exists", "fibonacci_7") == "0"
