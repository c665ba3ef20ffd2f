"""pytest fixtures over Tests/Support/stack.py: real redis-server, fibcache and
nginx processes, stopped when the test (or module) ends, pass or fail.
(Tests/Faults and Tests/Browser share this file through symlinks.)
"""
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Support"))
from stack import (BINARY, NGINX, REDIS_CLI, REDIS_SERVER, ROOT, Load, Redis, Sentinels, Stack, fastcgi_answer, fastcgi_request, fastcgi_status, fibonacci,  # noqa: E402,F401
                   free_port, open_fds, rss_kib, stop_process, wait_until)


@pytest.fixture(scope="session", autouse=True)
def _tools():
    assert BINARY.exists(), f"{BINARY} missing: run `swift build` (make test does)"
    for tool in (REDIS_SERVER, REDIS_CLI, NGINX):
        assert shutil.which(tool), f"{tool} missing: run scripts/install-deps test"


@pytest.fixture(scope="module")
def stack():
    """One stack shared by a module's tests that do not break anything."""
    with tempfile.TemporaryDirectory(prefix="fibcache-it-") as d:
        s = Stack(d)
        try:
            yield s.start()
        finally:
            s.stop()


@pytest.fixture
def make_stack():
    """A fresh stack per test, for tests that stop or freeze things."""
    stacks = []
    dirs = []

    def make(**kwargs):
        d = tempfile.mkdtemp(prefix="fibcache-it-")
        dirs.append(d)
        s = Stack(d, **kwargs)
        stacks.append(s)
        return s.start()

    yield make
    for s in stacks:
        s.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
