"""A systemd-box (../shared/tools/systemd-box: a real systemd as PID 1 in a container), driven
from a test: its subcommands, and scripts run inside it. No pytest here."""
import os
import shutil
import subprocess

# The installed site's operations server (health, status, metrics, DELETE): a unix socket
# that root and the group fibcache-ops may reach. What precedes a path in a curl command
# run as root in the box: f"curl -s {OPERATIONS}/status".
OPERATIONS_SOCKET = "/run/fibcache-ops/operations.sock"
OPERATIONS = f"--unix-socket {OPERATIONS_SOCKET} http://localhost"


class Box:
    def __init__(self, tool_path, env):
        self.tool_path = str(tool_path)
        self.env = env

    def tool(self, *args, check=True, timeout=300):
        return subprocess.run([self.tool_path, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def sh(self, script, check=True, timeout=120):
        """Runs a bash script inside the box; returns the CompletedProcess."""
        out = self.tool("exec", "bash", "-c", script, check=False, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"in box: {script}\nexit {out.returncode}\n{out.stdout}\n{out.stderr}")
        return out

    def out(self, script, **kwargs):
        return self.sh(script, **kwargs).stdout.strip()

    @classmethod
    def booted_copy(cls, tool_path, base_root, run_root, packages, **env):
        """A private, persistent copy of the cached base rootfs in `base_root` (made once, with
        `packages`), booted; `env` adds systemd-box settings (SDBOX_SUITE, ...). Call discard()."""
        subprocess.run([str(tool_path), "create"], env=dict(os.environ, SDBOX_ROOT=base_root, SDBOX_PACKAGES=packages, **env),
                       check=True, capture_output=True, timeout=1200)
        box = cls(tool_path, dict(os.environ, SDBOX_ROOT=run_root, SDBOX_EPHEMERAL="0", **env))
        box.run_root = run_root
        box.tool("stop", check=False)
        shutil.rmtree(run_root, ignore_errors=True)
        os.makedirs(run_root)
        subprocess.run(["cp", "-a", "--reflink=auto", f"{base_root}/rootfs", f"{run_root}/rootfs"], check=True)
        try:
            box.tool("boot")
        except Exception:
            box.discard()
            raise
        return box

    def discard(self):
        self.tool("stop", check=False)
        shutil.rmtree(self.run_root, ignore_errors=True)


# The site's opt-in loopback exemption (the two commented lines of its geo block), for the box
# tests whose load comes from 127.0.0.1 and measures fibcache, not nginx's per-client limits.
EXEMPT_LOOPBACK = ("sed -i -E 's@^(\\s*)#(127\\.0\\.0\\.1/32|::1/128) 1;@\\1\\2 1;@' /etc/nginx/sites-available/fibcache && "
                   "nginx -t 2>/dev/null && systemctl reload nginx && sleep 1")
