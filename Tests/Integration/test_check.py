"""`fibcache --check` (issue 24) against real redis-servers: the configuration fibcache
would start with (FIBCACHE_* variables included) printed without its password, and a
non-zero exit naming what is wrong — a wrong password, Redis down, an ACL that refuses a
command fibcache sends, a missing token file."""
import contextlib
import os
import subprocess

import pytest

from conftest import BINARY, Redis, Sentinels, free_port, wait_until
from test_redis_users import PASSWORD, admin, deployed_redis

TOKEN = "an-operations-token-of-some-length"


def check(*args, environment=None):
    """fibcache --check with only the given FIBCACHE_* variables (none of the caller's)."""
    env = {"PATH": os.environ["PATH"], **(environment or {})}
    return subprocess.run([str(BINARY), "--check", *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=env)


@pytest.fixture
def redis(tmp_path):
    """fibcache's own Redis as deployed: its user may run exactly what fibcache sends."""
    server = deployed_redis(tmp_path / "redis", PASSWORD).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def files(tmp_path):
    (tmp_path / "redis-password").write_text(PASSWORD + "\n")
    (tmp_path / "wrong-password").write_text("not-the-password\n")
    (tmp_path / "operations-token").write_text(TOKEN + "\n")
    return tmp_path


def settings(redis, files, password_file="redis-password"):
    return {"FIBCACHE_REDIS_URL": f"unix://{redis.directory}/redis.sock?user=fibcache",
            "FIBCACHE_REDIS_PASSWORD_FILE": str(files / password_file),
            "FIBCACHE_OPERATIONS_TOKEN_FILE": str(files / "operations-token")}


def test_a_good_configuration_passes_and_is_printed_without_its_password(redis, files):
    result = check("--ttl", "60", environment=settings(redis, files))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("fibcache --check: OK")
    lines = result.stdout.splitlines()
    url = next(line for line in lines if line.strip().startswith("--redis-url "))
    assert f"unix://{redis.directory}/redis.sock?db=0&user=fibcache&password=***" in url, url
    assert url.endswith("(FIBCACHE_REDIS_URL)"), url
    assert any(line.strip().startswith("--ttl ") and " 60 " in line and line.endswith("(flag)") for line in lines)
    assert any(line.strip().startswith("--lock-wait ") and line.endswith("(default)") for line in lines)
    assert "ACL allows every command fibcache sends" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr and TOKEN not in result.stdout + result.stderr
    # The probe key is gone, and nothing fibcache sent was refused.
    assert admin(redis, "keys", "*") == ""
    assert admin(redis, "acl", "log") == ""


def test_a_wrong_password_fails_naming_the_authentication(redis, files):
    result = check(environment=settings(redis, files, password_file="wrong-password"))
    assert result.returncode != 0
    assert "fibcache --check: FAILED: Redis" in result.stderr and "AUTH" in result.stderr, result.stderr
    assert "not-the-password" not in result.stdout + result.stderr


def test_redis_down_fails(files):
    result = check("--redis-url", f"redis://127.0.0.1:{free_port()}/0", "--redis-connect-timeout", "500ms")
    assert result.returncode != 0
    assert "FAILED: Redis" in result.stderr and "cannot connect" in result.stderr, result.stderr


@pytest.mark.parametrize("taken_away, named", [("-pttl", "PTTL"), ("-client|tracking", "CLIENT TRACKING"),
                                               ("resetchannels", "SUBSCRIBE __redis__:invalidate")])
def test_an_acl_refusing_a_command_fibcache_sends_fails_naming_it(redis, files, taken_away, named):
    assert admin(redis, "acl", "setuser", "fibcache", taken_away) == "OK"
    result = check(environment=settings(redis, files))
    assert result.returncode != 0
    assert f"Redis refuses {named}" in result.stderr and "NOPERM" in result.stderr, result.stderr


def test_a_missing_token_file_fails_but_no_token_is_only_noted(redis, files):
    environment = settings(redis, files)
    environment["FIBCACHE_OPERATIONS_TOKEN_FILE"] = str(files / "absent")
    result = check(environment=environment)
    assert result.returncode != 0 and "--operations-token-file" in result.stderr, result.stderr
    del environment["FIBCACHE_OPERATIONS_TOKEN_FILE"]
    result = check(environment=environment)
    assert result.returncode == 0, result.stderr
    assert "no --operations-token-file: every operation" in result.stdout


def test_bad_settings_fail_like_at_start_up():
    result = check(environment={"FIBCACHE_WORKERS": "0"})
    assert result.returncode != 0 and "--workers must be from 1 to 256" in result.stderr, result.stderr


@pytest.fixture
def sentinels(tmp_path):
    """Three Sentinels watching a primary and its replica; everything stopped in reverse."""
    with contextlib.ExitStack() as started:
        primary = Redis(tmp_path / "primary").start()
        started.callback(primary.stop)
        replica = Redis(tmp_path / "replica", extra=["--replicaof", "127.0.0.1", str(primary.port)]).start()
        started.callback(replica.stop)
        wait_until(lambda: "master_link_status:up" in replica.cli("info", "replication"), what="replica in sync")
        group = Sentinels(tmp_path, primary).start()
        started.callback(group.stop)
        yield group, replica


def test_through_sentinels_the_primary_they_name_is_checked(sentinels):
    group, replica = sentinels
    result = check("--redis-url", group.url())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "a quorum of Sentinels named the primary" in result.stdout
    # The replica's own address instead: it refuses the writes, and --check says so.
    result = check("--redis-url", f"redis://127.0.0.1:{replica.port}/1")
    assert result.returncode != 0 and "READONLY" in result.stderr, result.stderr
