"""No secret is ever printed (issue 14): a marker password in every malformed-URL shape, given
by flag and by environment, never appears in fibcache's output; nor does a valid URL's password
in its logs, /status, /metrics or /readyz while Redis refuses it."""
import json
import os
import subprocess

import pytest

from conftest import BINARY, Stack, free_port

MARKER = "Zq7marker9secret"
SHAPES = [
    f"redis://{MARKER}@h:x", f"redis://u:{MARKER}@h:x", f"redis://:{MARKER}@h:70000/1",
    f"redis://u:{MARKER}@h/99999", f"unix:///x.sock?password={MARKER}&tls=1",
    f"unix:///x.sock?password={MARKER}&db=99999", f"unix:///x.sock?{MARKER}", f"unix://x.sock?password={MARKER}",
    f"{MARKER}@localhost:6379", MARKER, f"http://u:{MARKER}@h", f"redis://u:{MARKER}@[::1:6379",
    f"redis+sentinel://u:{MARKER}@h1,h2", f"redis+sentinel://:{MARKER}@h1:x/m/1",
    f"redis+sentinel://h1,h2/m/1?sentinel_password={MARKER}&sentinel_quorum=3",
    f"redis+sentinel://h1/m/1?sentinel_password={MARKER}&{MARKER}", f"redis+sentinel://h1,h1/m?sentinel_password={MARKER}",
]


@pytest.mark.parametrize("url", SHAPES)
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_a_malformed_url_never_prints_its_secret(url, how, tmp_path):
    args = [str(BINARY), "--listen", str(tmp_path / "f.sock")]
    env = {"PATH": os.environ["PATH"]}
    if how == "flag":
        args += ["--redis-url", url]
    else:
        env["FIBCACHE_REDIS_URL"] = url
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=20)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "Redis URL" in output, output  # refused, and saying why
    assert MARKER not in output, output


def test_a_password_redis_refuses_is_never_shown(tmp_path):
    """Redis without a password refuses AUTH: fibcache serves uncached and says so, never the secret."""
    stack = Stack(tmp_path)
    # The last --redis-url wins: the stack's own, then this one with a password Redis does not have.
    stack.fibcache_args = ["--redis-url", f"redis://app:{MARKER}@127.0.0.1:{stack.redis.port}/1"]
    try:
        stack.start()
        assert stack.get("/api/fibonacci/number/40/")[1]["x-cache"] == "BYPASS"
        seen = [stack.log_text(), stack.ops("GET", "/status")[2].decode(), stack.ops("GET", "/status?full")[2].decode(),
                stack.ops("GET", "/metrics")[2].decode(), stack.ops("GET", "/readyz")[2].decode(),
                subprocess.run([str(BINARY), "--help"], capture_output=True, text=True).stdout]
        assert "Redis unavailable" in seen[0], seen[0]
        assert "app:***@" in seen[0], "the URL is shown, masked"
        for text in seen:
            assert MARKER not in text
        assert json.loads(seen[4])["status"] == "unavailable"
    finally:
        stack.stop()


def test_a_password_file_redis_refuses_is_never_shown(tmp_path):
    """The deployed way (a credential file): refused by Redis, the service serves uncached, and
    neither its logs, its operations endpoints nor `--help` show what the file holds."""
    password_file = tmp_path / "redis-password"
    password_file.write_text(MARKER + "\n")
    stack = Stack(tmp_path / "stack")
    stack.fibcache_args = ["--redis-password-file", str(password_file)]
    try:
        stack.start()
        assert stack.get("/api/fibonacci/number/40/")[1]["x-cache"] == "BYPASS"
        seen = [stack.log_text(), stack.ops("GET", "/status?full")[2].decode(), stack.ops("GET", "/metrics")[2].decode(),
                stack.ops("GET", "/readyz")[2].decode(),
                subprocess.run([str(BINARY), "--help"], env={"FIBCACHE_REDIS_PASSWORD_FILE": str(password_file)},
                               capture_output=True, text=True).stdout]
        assert "Redis unavailable" in seen[0] and ":***@" in seen[0], seen[0]
        for text in seen:
            assert MARKER not in text
    finally:
        stack.stop()


def test_a_sentinel_password_in_the_url_is_never_shown(tmp_path):
    """Issue 22: the Sentinels' password in the URL is a secret like the primary's."""
    stack = Stack(tmp_path, with_redis=False, fibcache_args=[
        "--redis-url", f"redis+sentinel://127.0.0.1:{free_port()}/fibcache/1?sentinel_user=fc&sentinel_password={MARKER}"])
    try:
        stack.start()
        assert stack.get("/api/fibonacci/number/40/")[1]["x-cache"] == "BYPASS"
        seen = [stack.log_text(), stack.ops("GET", "/status?full")[2].decode(), stack.ops("GET", "/metrics")[2].decode(),
                stack.ops("GET", "/readyz")[2].decode()]
        assert "sentinel_password=***" in seen[0], seen[0]
        for text in seen:
            assert MARKER not in text
    finally:
        stack.stop()
