"""Real processes for the tests and the benchmark: redis-server, fibcache and
nginx (with the shipped site, rendered by scripts/render-nginx-conf).

Everything listens on loopback, on free ports, in a temporary directory, and
is stopped by PID by whoever started it. No pytest here: `make bench` uses it too.
"""
import http.client
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

# Beside this file: whoever imports stack has put Tests/Support on sys.path.
from fastcgi_records import HEADER_LENGTH, STDIN, STDOUT, begin, params_pair, record, split_records
from fastcgi_records import params as params_stream

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("FIBCACHE_BINARY", ROOT / ".build" / "debug" / "fibcache"))
# Debian installs nginx in /usr/sbin, which is not on every user's PATH.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# The server and its CLI (valkey-server / valkey-cli for the Valkey run of make test-trixie).
REDIS_SERVER = os.environ.get("FIBCACHE_REDIS_SERVER", "redis-server")
REDIS_CLI = os.environ.get("FIBCACHE_REDIS_CLI", "redis-cli")


def fibonacci(n):
    """F(n), the reference answers are checked against: Python's own big integers, fast doubling."""
    def pair(k):
        if k == 0:
            return 0, 1
        a, b = pair(k >> 1)
        c = a * (2 * b - a)
        d = a * a + b * b
        return (d, c + d) if k & 1 else (c, d)
    return pair(n)[0]


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"{what} not reached within {timeout}s")


def stop_process(proc, timeout=10.0):
    """SIGTERM (after SIGCONT, in case a test froze it), then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def redis_users(password, settings=""):
    """fibcache's Redis users file as the installs render it (systemd/redis-fibcache-users), for
    `password` and `settings` (lines of /etc/default/fibcache)."""
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "password").write_text(password + "\n")
        (Path(directory) / "settings").write_text(settings)
        return subprocess.run(
            [ROOT / "systemd" / "redis-fibcache-users", ROOT / "systemd" / "redis-fibcache-users.conf.in", "-"],
            env=dict(os.environ, FIBCACHE_PASSWORD_FILE=f"{directory}/password",
                     FIBCACHE_SETTINGS_FILE=f"{directory}/settings"),
            capture_output=True, text=True, check=True).stdout


class RedisAuth:
    """Redis and its Sentinels with no anonymous access, as README's several-hosts section tells
    operators to run them. On each Redis node: fibcache's user (the shipped ACL, plus ROLE), the
    Sentinels' (what Redis' documentation lists for them), the replicas' and an admin for the
    tests. On each Sentinel: fibcache's user (SENTINEL GET-MASTER-ADDR-BY-NAME only) and an admin
    the Sentinels also use among themselves. Fresh passwords each time."""

    def __init__(self):
        marker = secrets.token_hex(4)
        self.fibcache = f"fibcache-redis-{marker}-marker"
        self.sentinel_client = f"fibcache-sentinel-{marker}-marker"
        self.infra = f"infra-{marker}-marker"

    def redis_args(self):
        # Its database is the Sentinel URLs' (SentinelGroup.url: 1).
        shipped = next(line for line in redis_users(self.fibcache, "FIBCACHE_REDIS_URL=redis://localhost/1\n").splitlines()
                       if line.startswith("user fibcache "))
        # (Redis quotes each argument itself: the file's quoting goes.)
        fibcache = shlex.split(shipped)[1:]
        return ["--user", "default", "off", "--user", *fibcache, "+role",
                "--user", "sentinel", "on", f">{self.infra}", "allchannels", "+multi", "+slaveof", "+ping", "+exec",
                "+subscribe", "+config|rewrite", "+role", "+publish", "+info", "+client|setname", "+client|kill",
                "+script|kill",
                "--user", "replica", "on", f">{self.infra}", "+psync", "+replconf", "+ping",
                "--user", "admin", "on", f">{self.infra}", "~*", "&*", "+@all",
                "--masteruser", "replica", "--masterauth", self.infra]

    def sentinel_conf(self, name):
        return (f"user default off\n"
                f"user fibcache on >{self.sentinel_client} -@all +auth +ping +sentinel|get-master-addr-by-name\n"
                f"user admin on >{self.infra} allchannels +@all\n"
                f"sentinel sentinel-user admin\nsentinel sentinel-pass {self.infra}\n"
                f"sentinel auth-user {name} sentinel\nsentinel auth-pass {name} {self.infra}\n")

    def cli_args(self):
        return ["--user", "admin", "--pass", self.infra, "--no-auth-warning"]

    def fibcache_args(self, directory):
        """The two password files fibcache reads (the URL names the users)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "redis-password").write_text(self.fibcache + "\n")
        (directory / "sentinel-password").write_text(self.sentinel_client + "\n")
        return ["--redis-password-file", str(directory / "redis-password"),
                "--sentinel-password-file", str(directory / "sentinel-password")]


class Redis:
    def __init__(self, directory, port=None, extra=(), launcher=(), config=None, host="127.0.0.1", auth=None):
        self.directory = Path(directory)
        # A RedisAuth: no anonymous access, the test's own commands as its admin.
        self.auth = auth
        # A loopback address of its own stands for a host of its own (the cluster test).
        self.host = host
        self.port = port or free_port(host)
        self.extra = list(extra)
        self.launcher = list(launcher)
        # A configuration file read first (the options below override it).
        self.config = [str(config)] if config else []
        self.proc = None

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [*self.launcher, REDIS_SERVER, *self.config, "--bind", self.host, "--port", str(self.port), "--dir", str(self.directory),
             "--save", "", "--appendonly", "no", "--logfile", str(self.directory / "redis.log"),
             # A replica's first sync at once, not after the default 5 s wait for more replicas.
             "--repl-diskless-sync-delay", "0",
             *(self.auth.redis_args() if self.auth else []), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.ping(), what=f"{REDIS_SERVER} up")
        return self

    def ping(self):
        """Up when it answers at all (a password-protected one answers NOAUTH)."""
        try:
            answer = self.cli("ping", db=0)
            return answer == "PONG" or "NOAUTH" in answer
        except (OSError, subprocess.SubprocessError):
            return False

    def cli(self, *args, db=1):
        out = subprocess.run([REDIS_CLI, "-h", self.host, "-p", str(self.port), "-n", str(db),
                              *(self.auth.cli_args() if self.auth else []), *args],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip()

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.proc = None

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


class Sentinels:
    """`count` Redis Sentinels watching `primary` as the service `name`, with short timings
    (down after 1 s, failover timeout 5 s) so that a failover takes seconds; authenticated
    when the primary is (its RedisAuth)."""

    def __init__(self, directory, primary, count=3, name="fibcache", launcher=(), hosts=None):
        self.directory = Path(directory)
        self.primary = primary
        self.auth = primary.auth
        self.name = name
        # Each on 127.0.0.1, or on a loopback address of its own (the cluster test).
        self.hosts = list(hosts or ["127.0.0.1"] * count)
        self.ports = [free_port(host) for host in self.hosts]
        self.launcher = list(launcher)
        self.procs = [None] * len(self.ports)

    def start(self):
        for i, port in enumerate(self.ports):
            d = self.directory / f"sentinel-{i + 1}"
            d.mkdir(parents=True, exist_ok=True)
            host = self.hosts[i]
            (d / "sentinel.conf").write_text(
                f"port {port}\nbind {host}\nsentinel announce-ip {host}\ndir {d}\n"
                f"logfile {d / 'sentinel.log'}\n"
                f"sentinel monitor {self.name} {self.primary.host} {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.name} 1000\n"
                f"sentinel failover-timeout {self.name} 5000\n"
                f"sentinel parallel-syncs {self.name} 1\n" + (self.auth.sentinel_conf(self.name) if self.auth else ""))
            self.start_one(i)
        wait_until(self.settled, timeout=20, what="Sentinels that know each other and the replica")
        return self

    def start_one(self, i):
        """Starts (or restarts, with the file it rewrote) Sentinel i."""
        conf = self.directory / f"sentinel-{i + 1}" / "sentinel.conf"  # Sentinel rewrites its file: each its own, writable
        self.procs[i] = subprocess.Popen([*self.launcher, REDIS_SERVER, str(conf), "--sentinel"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_one(self, i):
        stop_process(self.procs[i])
        self.procs[i] = None

    def ask(self, i, *args):
        out = subprocess.run([REDIS_CLI, "-h", self.hosts[i], "-p", str(self.ports[i]),
                              *(self.auth.cli_args() if self.auth else []), *args],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip()

    def settled(self):
        """Every Sentinel knows the others and at least one replica: a failover can happen."""
        try:
            return all(self.ask(i, "sentinel", "sentinels", self.name).count("name") == len(self.ports) - 1
                       and "name" in self.ask(i, "sentinel", "replicas", self.name)
                       for i in range(len(self.ports)))
        except (OSError, subprocess.SubprocessError):
            return False

    def primary_port(self):
        address = self.primary_address()
        return address and address[1]

    def primary_address(self):
        answer = self.ask(0, "sentinel", "get-master-addr-by-name", self.name).split()
        return (answer[0], int(answer[1])) if len(answer) == 2 else None

    def url(self, *extra_nodes, db=1, query="", real=None):
        """Extra nodes first, then the Sentinels (those at the indexes `real`, if given); authenticated:
        the users, their passwords in RedisAuth.fibcache_args' files."""
        real = range(len(self.ports)) if real is None else real
        nodes = [*extra_nodes, *(f"{self.hosts[i]}:{self.ports[i]}" for i in real)]
        user, query = ("fibcache:@", "?sentinel_user=fibcache" + (query and "&" + query)) if self.auth else ("", query and "?" + query)
        return f"redis+sentinel://{user}{','.join(nodes)}/{self.name}/{db}{query}"

    def stop(self):
        for i, proc in enumerate(self.procs):
            if proc:
                self.stop_one(i)


class Stack:
    """redis-server + fibcache + nginx in one temporary directory."""

    def __init__(self, directory, fibcache_args=(), with_redis=True, redis_extra=(), instances=1, binary=None,
                 render_args=(), launcher=(), workers=8, exempt_loopback=True):
        self.dir = Path(directory)
        # fibcache's --workers; None: its shipped default (8 per core, at least 16).
        self.workers = workers
        self.binary = Path(binary or BINARY)
        # Extra options for scripts/render-nginx-conf (e.g. --no-access-log).
        self.render_args = list(render_args)
        # The site's opt-in loopback exemption, on unless asked: the tests' and the bench's
        # load all comes from 127.0.0.1 and measures fibcache, not nginx's per-client limits
        # (the tests of those limits run the site as shipped: exempt_loopback=False).
        if exempt_loopback:
            self.render_args.append("--exempt-loopback")
        # A command the servers are started under (e.g. taskset -c 0-11, for the bench).
        self.launcher = list(launcher)
        self.redis = Redis(self.dir / "redis", extra=redis_extra, launcher=launcher)
        self.with_redis = with_redis
        self.fibcache_args = list(fibcache_args)
        # `instances` fibcache processes on one Redis, behind one nginx upstream.
        self.sockets = [self.dir / ("fibcache.sock" if i == 0 else f"fibcache-{i + 1}.sock") for i in range(instances)]
        self.socket = self.sockets[0]
        self.http_port = free_port()
        # The site's operations server (a unix socket for the group fibcache-ops in production; a
        # loopback port here, on one user's machine): health, status, metrics, DELETE.
        self.ops_port = free_port()
        self.fibcaches = []
        self.logs = []
        self.nginx_pid = None
        self.log_path = self.dir / "fibcache.log"

    @property
    def fibcache(self):
        return self.fibcaches[0] if self.fibcaches else None

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        # The operations token, as the install makes one (render-nginx-conf puts it in nginx's snippet).
        token_file = self.dir / "operations-token"
        if not token_file.exists():
            token_file.write_text(secrets.token_hex(32) + "\n")
            token_file.chmod(0o600)
        self.operations_token = token_file.read_text().strip()
        if self.with_redis:
            self.redis.start()
        for i, sock in enumerate(self.sockets):
            self.start_fibcache(sock, self.dir / ("fibcache.log" if i == 0 else f"fibcache-{i + 1}.log"))
        conf = self.dir / "nginx.conf"
        rendered = subprocess.run([str(ROOT / "scripts" / "render-nginx-conf"), *self.render_args, str(self.dir),
                                   f"127.0.0.1:{self.http_port}", f"127.0.0.1:{self.ops_port}", *map(str, self.sockets)],
                                  check=True, capture_output=True, text=True).stdout
        conf.write_text(rendered)
        subprocess.run([*self.launcher, NGINX, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "nginx-error.log")],
                       check=True, capture_output=True)
        wait_until(lambda: (self.dir / "nginx.pid").exists(), what="nginx pid file")
        self.nginx_pid = int((self.dir / "nginx.pid").read_text())
        wait_until(self._http_up, what="nginx answering")
        return self

    def start_fibcache(self, sock, log_path):
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [*self.launcher, str(self.binary), "--listen", str(sock), "--redis-url", f"redis://127.0.0.1:{self.redis.port}/1",
             "--operations-token-file", str(self.dir / "operations-token"),
             *(["--workers", str(self.workers)] if self.workers else []), *self.fibcache_args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.fibcaches.append(proc)
        self.logs.append(log)
        wait_until(lambda: sock.exists() or proc.poll() is not None, what="fibcache socket")
        assert proc.poll() is None, log_path.read_text(errors="replace")

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def _http_up(self):
        try:
            self.get("/api/fibonacci/number/0/")
            return True
        except OSError:
            return False

    def request(self, method, path, body=None, timeout=30, source=None, port=None, headers=None):
        """One request to the public server (or to `port`); returns (status, headers, body)."""
        conn = http.client.HTTPConnection(getattr(self, "http_host", "127.0.0.1"), port or self.http_port, timeout=timeout,
                                          source_address=(source, 0) if source else None)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def ops(self, method, path, **kwargs):
        """A request to the operations server: /healthz, /readyz, /status, /metrics, DELETE."""
        return self.request(method, path, port=self.ops_port, **kwargs)

    def stop(self):
        if self.nginx_pid:
            try:
                os.kill(self.nginx_pid, signal.SIGTERM)
                wait_until(lambda: not _alive(self.nginx_pid), what="nginx exit")
            except (ProcessLookupError, TimeoutError):
                pass
        for proc, log in zip(self.fibcaches, self.logs):
            stop_process(proc)
            log.close()
        self.redis.stop()


def fastcgi_request(socket_path, params, timeout=10, source=None):
    """One FastCGI request straight to a fibcache socket — a unix socket path, or a
    (host, port), from the address `source` if given — as nginx would send it; returns the CGI
    response (headers and body) as bytes, b"" when the peer closed without answering."""
    body = b"".join(params_pair(name.encode(), value.encode()) for name, value in params.items())
    message = begin() + params_stream(body) + record(STDIN, b"")
    tcp = isinstance(socket_path, tuple)
    data = b""
    with socket.socket(socket.AF_INET if tcp else socket.AF_UNIX) as s:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect(socket_path if tcp else str(socket_path))
        try:
            s.sendall(message)
            while chunk := s.recv(65536):
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # closed without an answer (a refused peer): what was read is returned
    return b"".join(data[offset + HEADER_LENGTH:offset + HEADER_LENGTH + length]
                    for offset, kind, _, length, _ in split_records(data) if kind == STDOUT)


def operations_token(socket_path):
    """The operations token of the Stack whose fibcache listens on `socket_path` (in its directory), if any."""
    if isinstance(socket_path, tuple):
        return None
    token_file = Path(socket_path).parent / "operations-token"
    return token_file.read_text().strip() if token_file.exists() else None


def fastcgi_answer(socket_path, method, path, query="", token=True):
    """A request as nginx would pass it, straight to one fibcache process: (headers, body).
    `token`: True for its Stack's operations token (as the operations server passes it), else the value to pass."""
    params = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "QUERY_STRING": query}
    token = operations_token(socket_path) if token is True else token
    if token is not None:
        params["FIBCACHE_OPERATIONS"] = token
    response = fastcgi_request(socket_path, params)
    head, _, body = response.partition(b"\r\n\r\n")
    return dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line), body


def fastcgi_status(socket_path, token=True):
    """/status of one fibcache process, asked directly on its socket (with `token`: see fastcgi_answer)."""
    import json
    return json.loads(fastcgi_answer(socket_path, "GET", "/status", token=token)[1])


def rss_kib(pid, field="VmRSS"):
    """A process's resident memory (or its peak, `VmHWM`), in KiB."""
    return int(re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def open_fds(pid):
    """How many file descriptors a process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


class Load:
    """`threads` clients asking for `path(i, k)` (client i, its k-th request) until stopped,
    at most `limit` s, pausing `pause` s between requests; every answer is recorded as
    (monotonic start, status, X-Cache, latency) — status 0 and the error for a failed request."""

    def __init__(self, stack, path, threads=8, limit=30.0, pause=0.0):
        self.stack, self.path, self.limit, self.pause = stack, path, limit, pause
        self.results = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, i):
        deadline = time.monotonic() + self.limit
        k = 0
        while not self.stop_flag.is_set() and time.monotonic() < deadline:
            path = self.path(i, k)
            k += 1
            start = time.monotonic()
            try:
                status, headers, _ = self.stack.get(path, timeout=10)
                cache = headers.get("x-cache")
            except OSError as e:
                status, cache = 0, repr(e)
            with self.lock:
                self.results.append((start, status, cache, time.monotonic() - start))
            self.stop_flag.wait(self.pause)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30)

    def between(self, t0, t1):
        return [r for r in self.results if t0 <= r[0] < t1]

    @property
    def worst(self):
        return max((r[3] for r in self.results), default=0.0)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
