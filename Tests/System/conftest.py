"""A real systemd (systemd-box: systemd as PID 1 in a systemd-nspawn container)
with fibcache installed by the project's own install step.

The cached base rootfs (Debian, with redis-server, nginx, curl, wrk baked in) is
made once per machine; each run boots a private copy of it, non-ephemeral so a
reboot keeps what was installed, and deletes it at the end. With valkey-server and
valkey-tools in FIBCACHE_SDBOX_PACKAGES instead of redis-server and redis-tools (Debian 13,
SDBOX_SUITE=trixie), the same tests run with fibcache's instance under Valkey.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Support"))
from box import Box  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BOX = Path(os.environ.get("SYSTEMD_BOX", ROOT.parent / "shared" / "tools" / "systemd-box"))
BINARY = Path(os.environ.get("FIBCACHE_STATIC_BINARY", ROOT / ".build-static" / "release" / "fibcache"))
BASE_ROOT = os.environ.get("FIBCACHE_SDBOX_BASE", "/var/tmp/sdbox-fibcache")
RUN_ROOT = os.environ.get("FIBCACHE_SDBOX_RUN", "/var/tmp/sdbox-fibcache-test")
# What the base rootfs holds besides Debian's minimal system (the host's suite by default).
PACKAGES = os.environ.get("FIBCACHE_SDBOX_PACKAGES",
                          "redis-server redis-tools nginx curl wrk make libfcgi0ldbl libhiredis0.14 libgmp10 procps")


@pytest.fixture(scope="module")
def box():
    assert os.geteuid() == 0, "systemd-box needs root"
    assert BOX.exists(), f"{BOX} missing (shared/tools beside the checkout, or set SYSTEMD_BOX)"
    assert BINARY.exists(), f"{BINARY} missing: make build-static (make test-system does)"
    b = Box.booted_copy(BOX, BASE_ROOT, RUN_ROOT, PACKAGES)
    try:
        with tempfile.TemporaryDirectory() as src:
            for item in ("Makefile", "scripts", "systemd", "nginx", "www"):
                (shutil.copytree if (ROOT / item).is_dir() else shutil.copy2)(ROOT / item, Path(src) / item)
            shutil.copy2(BINARY, Path(src) / "fibcache")
            b.tool("copy-in", src, "/opt/fibcache")
        yield b
    finally:
        b.discard()
