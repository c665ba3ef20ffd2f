"""A real systemd (systemd-box: systemd as PID 1 in a systemd-nspawn container)
with fibcache installed by the project's own install step.

The cached base rootfs (Debian, with redis-server, nginx, curl, wrk baked in) is
made once per machine; each run boots a private copy of it, non-ephemeral so a
reboot keeps what was installed, and deletes it at the end.
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOX = Path(os.environ.get("SYSTEMD_BOX", ROOT.parent / "shared" / "tools" / "systemd-box"))
BINARY = Path(os.environ.get("FIBCACHE_STATIC_BINARY", ROOT / ".build-static" / "release" / "fibcache"))
BASE_ROOT = os.environ.get("FIBCACHE_SDBOX_BASE", "/var/tmp/sdbox-fibcache")
RUN_ROOT = os.environ.get("FIBCACHE_SDBOX_RUN", "/var/tmp/sdbox-fibcache-test")
# What the base rootfs holds besides Debian's minimal system (the host's suite by default).
PACKAGES = os.environ.get("FIBCACHE_SDBOX_PACKAGES",
                          "redis-server redis-tools nginx curl wrk make libfcgi0ldbl libhiredis0.14 libgmp10 procps")


class Box:
    def __init__(self):
        self.env = dict(os.environ, SDBOX_ROOT=RUN_ROOT, SDBOX_EPHEMERAL="0")

    def tool(self, *args, check=True, timeout=300):
        return subprocess.run([str(BOX), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def sh(self, script, check=True, timeout=120):
        """Runs a bash script inside the box; returns the CompletedProcess."""
        out = self.tool("exec", "bash", "-c", script, check=False, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"in box: {script}\nexit {out.returncode}\n{out.stdout}\n{out.stderr}")
        return out

    def out(self, script, **kwargs):
        return self.sh(script, **kwargs).stdout.strip()


@pytest.fixture(scope="module")
def box():
    assert os.geteuid() == 0, "systemd-box needs root"
    assert BOX.exists(), f"{BOX} missing (shared/tools beside the checkout, or set SYSTEMD_BOX)"
    assert BINARY.exists(), f"{BINARY} missing: make build-static (make test-system does)"
    subprocess.run([str(BOX), "create"], env=dict(os.environ, SDBOX_ROOT=BASE_ROOT, SDBOX_PACKAGES=PACKAGES),
                   check=True, capture_output=True, timeout=1200)
    b = Box()
    b.tool("stop", check=False)
    shutil.rmtree(RUN_ROOT, ignore_errors=True)
    os.makedirs(RUN_ROOT)
    subprocess.run(["cp", "-a", "--reflink=auto", f"{BASE_ROOT}/rootfs", f"{RUN_ROOT}/rootfs"], check=True)
    try:
        b.tool("boot")
        with tempfile.TemporaryDirectory() as src:
            for item in ("Makefile", "scripts", "systemd", "nginx", "www"):
                (shutil.copytree if (ROOT / item).is_dir() else shutil.copy2)(ROOT / item, Path(src) / item)
            shutil.copy2(BINARY, Path(src) / "fibcache")
            b.tool("copy-in", src, "/opt/fibcache")
        yield b
    finally:
        b.tool("stop", check=False)
        shutil.rmtree(RUN_ROOT, ignore_errors=True)
