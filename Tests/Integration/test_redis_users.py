"""fibcache's own Redis instance as deployed (issues 14, 22): the shipped configuration
(systemd/redis-fibcache.conf) with its users rendered by systemd/redis-fibcache-users,
fibcache authenticating with the password from a file. Every command fibcache sends is
one its user may run, on its own keys and database only; without the password a client
may PING, nothing else."""
import json
import subprocess

import pytest

from conftest import ROOT, Redis, Stack
from stack import REDIS_CLI, redis_users

API = "/api/fibonacci/number"
PASSWORD = "Zq7marker9password"


def deployed_redis(directory, password, settings=""):
    """A redis-server with the shipped instance configuration, its users rendered as the
    install renders them (`settings`: lines of /etc/default/fibcache); on loopback TCP and a
    socket in `directory` instead of /run, plus an admin user for the test's own checks."""
    directory.mkdir(parents=True, exist_ok=True)
    users = directory / "users.conf"
    users.write_text(redis_users(password, settings))
    shipped = (ROOT / "systemd" / "redis-fibcache.conf").read_text()
    assert "include /etc/redis/redis-fibcache-users.conf" in shipped
    config = directory / "redis.conf"
    config.write_text(shipped.replace("include /etc/redis/redis-fibcache-users.conf", f"include {users}"))
    return Redis(directory, config=config, extra=[
        "--unixsocket", str(directory / "redis.sock"), "--pidfile", str(directory / "redis.pid"),
        "--user", "admin", "on", ">admin-only-in-tests", "~*", "&*", "+@all"])


def cli(redis, *args, user=None, password=None):
    auth = ["--user", user, "--pass", password, "--no-auth-warning"] if user else []
    out = subprocess.run([REDIS_CLI, "-p", str(redis.port), *auth, *args], capture_output=True, text=True, timeout=10)
    return (out.stdout + out.stderr).strip()


def admin(redis, *args):
    return cli(redis, *args, user="admin", password="admin-only-in-tests")


def deployed_stack(tmp_path, prefix="", db=0):
    password_file = tmp_path / "redis-password"
    password_file.write_text(PASSWORD + "\n")
    url = f"unix://{tmp_path}/stack/redis/redis.sock?user=fibcache&db={db}"
    stack = Stack(tmp_path / "stack", fibcache_args=[
        "--redis-url", url, "--redis-password-file", str(password_file), "--key-prefix", prefix])
    stack.redis = deployed_redis(tmp_path / "stack" / "redis", PASSWORD,
                                 f"FIBCACHE_REDIS_URL={url}\nFIBCACHE_KEY_PREFIX={prefix}\n")
    return stack


@pytest.fixture
def deployed(tmp_path):
    stack = deployed_stack(tmp_path)
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
    ttl = int(cli(deployed.redis, "ttl", "fibonacci_40", user="fibcache", password=PASSWORD))
    assert 0 < ttl <= 86400


def test_without_the_password_only_ping(deployed):
    deployed.get(f"{API}/40/")
    assert cli(deployed.redis, "ping") == "PONG"
    for command in (["info"], ["ttl", "fibonacci_40"], ["get", "fibonacci_40"], ["set", "fibonacci_5", "7"],
                    ["del", "fibonacci_40"], ["flushall"], ["keys", "*"], ["config", "get", "maxmemory"],
                    ["set", "session:1", "x"], ["client", "list"], ["subscribe", "__redis__:invalidate"]):
        assert "NOPERM" in cli(deployed.redis, *command), command
    # fibcache's user: its keys, its database, no scripts, no administration.
    fibcache = dict(user="fibcache", password=PASSWORD)
    for command in (["set", "session:1", "x"], ["get", "session:1"], ["set", "app:fibonacci_x", "1"], ["flushall"],
                    ["config", "set", "maxmemory", "0"], ["keys", "*"], ["info"], ["eval", "return 1", "0"],
                    ["select", "1"], ["client", "list"], ["subscribe", "other"]):
        assert "NOPERM" in cli(deployed.redis, *command, **fibcache), command
    assert cli(deployed.redis, "get", "fibonacci_40", **fibcache) == "102334155"
    assert "WRONGPASS" in cli(deployed.redis, "get", "fibonacci_40", user="fibcache", password="guess")


def test_a_key_prefix_and_database_of_its_own(tmp_path):
    """FIBCACHE_KEY_PREFIX with glob characters is taken literally, and FIBCACHE_REDIS_URL's
    database is the only one fibcache's user may SELECT."""
    stack = deployed_stack(tmp_path, prefix="app*[1]:", db=3).start()
    try:
        for path in (f"{API}/40/", f"{API}/200000/"):
            assert stack.get(path)[1]["x-cache"] == "MISS", path
            assert stack.get(path)[1]["x-cache"] == "HIT", path
        assert admin(stack.redis, "-n", "3", "get", "app*[1]:fibonacci_40") == "102334155"
        assert admin(stack.redis, "acl", "log") == "", "a command fibcache sent was refused"
        assert json.loads(stack.ops("GET", "/status")[2])["local_cache"]["in_use"] is True
        fibcache = dict(user="fibcache", password=PASSWORD)
        for command in (["select", "0"], ["select", "4"], ["get", "appX[1]:fibonacci_40"], ["get", "app*1:fibonacci_40"]):
            assert "NOPERM" in cli(stack.redis, *command, **fibcache), command
    finally:
        stack.stop()


def test_the_instance_is_a_bounded_cache(deployed):
    info = admin(deployed.redis, "info", "memory")
    assert "maxmemory:268435456" in info and "maxmemory_policy:allkeys-lru" in info
    # A value far beyond F(10^7) (2.1 MB) cannot even be stored.
    big = subprocess.run([REDIS_CLI, "-p", str(deployed.redis.port), "--user", "admin", "--pass", "admin-only-in-tests",
                          "--no-auth-warning", "-x", "set", "fibonacci_7"], input="7" * (9 << 20),
                         capture_output=True, text=True, timeout=30)
    assert "ERR" in big.stdout + big.stderr or admin(deployed.redis, "exists", "fibonacci_7") == "0"


def test_the_users_file_is_owned_and_moded_where_the_server_user_cannot_swap_it(tmp_path):
    """The users file goes into /etc/redis (/etc/valkey), which the server's user may write.
    Made there, owned and given its mode by path, it could be swapped for a symlink between those
    steps, and root would chown and chmod whatever it points to (/etc/shadow). The file is made,
    owned and moded beside the password (root's own directory) and only renamed into place: every
    chown and chmod names a file there. (chown and chmod are recorded by wrappers on PATH.)"""
    secret, server_dir, bin_dir = tmp_path / "fibcache", tmp_path / "redis", tmp_path / "bin"
    for d in (secret, server_dir, bin_dir):
        d.mkdir()
    (secret / "redis-password").write_text(PASSWORD + "\n")
    (secret / "settings").write_text("FIBCACHE_REDIS_URL=redis://127.0.0.1:6379/1\n")
    log = tmp_path / "calls"
    for tool in ("chown", "chmod"):
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\necho "{tool} $*" >>{log}\nexec /bin/{tool} "$@"\n')
        wrapper.chmod(0o755)
    output = server_dir / "redis-fibcache-users.conf"
    subprocess.run([ROOT / "systemd" / "redis-fibcache-users", ROOT / "systemd" / "redis-fibcache-users.conf.in",
                    output, "root"], check=True, capture_output=True, text=True,
                   env={"PATH": f"{bin_dir}:/usr/bin:/bin", "FIBCACHE_PASSWORD_FILE": str(secret / "redis-password"),
                        "FIBCACHE_SETTINGS_FILE": str(secret / "settings")})
    calls = log.read_text().splitlines()
    assert len(calls) == 2, calls
    assert all(call.split()[-1].startswith(f"{secret}/") for call in calls), calls
    assert output.read_text().startswith("#") and oct(output.stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in server_dir.iterdir()) == [output.name], "nothing else left in the server's directory"
