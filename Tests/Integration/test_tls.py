"""TLS to Redis (issue 22): `rediss://` on builds with hiredis 1.x (Debian 13, Ubuntu 24.04),
against a real redis-server with TLS and certificates this test makes; a certificate from
another CA, one that names another host, or no client certificate where Redis asks for one
is refused (served uncached, never cached through it). On hiredis 0.14 (Debian 12) the URL
is a clear start-up error naming what to do instead."""
import json
import os
import subprocess
import sys

import pytest

from conftest import BINARY, REDIS_SERVER, Redis, Stack, fastcgi_status, fibonacci, free_port, stop_process, wait_until

API = "/api/fibonacci/number"
PASSWORD = "tls-test-Secret-77"
# What Package.swift looks for to build TLS in.
TLS_BUILD = subprocess.run(["pkg-config", "--exists", "hiredis_ssl"]).returncode == 0 and os.path.exists("/usr/include/openssl/ssl.h")
sys.set_int_max_str_digits(0)  # F(10⁵) has 20,899 digits


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def authority(directory, name):
    """A CA of its own: name.key, name.crt."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=directory)


def certificate(directory, name, ca, san, subject=None):
    """name.key and name.crt signed by `ca`, for the subjectAltName `san` (None: none at all)."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN={subject or name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)
    (directory / f"{name}.ext").write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=directory)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    authority(d, "ca")
    authority(d, "rogue-ca")
    certificate(d, "server", "ca", "IP:127.0.0.1,DNS:redis.test")
    certificate(d, "client", "ca", "DNS:fibcache.test")
    certificate(d, "subject-only", "ca", None, subject="redis.test")  # the name in the CN, no subjectAltName
    return d


def start_tls_redis(certificates, directory, server="server"):
    """redis-server answering TLS only on `tls_port` (client certificates required), and in
    clear on loopback for the test's own checks; fibcache's user has a password."""
    tls_port = free_port()
    redis = Redis(directory, extra=[
        "--tls-port", str(tls_port), "--tls-cert-file", str(certificates / f"{server}.crt"),
        "--tls-key-file", str(certificates / f"{server}.key"), "--tls-ca-cert-file", str(certificates / "ca.crt"),
        "--tls-auth-clients", "yes", "--user", "fibcache", "on", f">{PASSWORD}", "~*", "&*", "+@all"])
    redis.tls_port = tls_port
    return redis.start()


@pytest.fixture
def tls_redis(certificates, tmp_path):
    redis = start_tls_redis(certificates, tmp_path / "redis")
    yield redis
    redis.stop()


def stack_for(tmp_path, redis, url):
    stack = Stack(tmp_path / "stack", with_redis=False, fibcache_args=["--redis-url", url, "--local-cache-mb", "0"])
    stack.redis = redis
    return stack


def url(redis, certificates, **params):
    query = "&".join(f"{k}={v}" for k, v in {"tls_ca": certificates / "ca.crt", "tls_cert": certificates / "client.crt",
                                               "tls_key": certificates / "client.key", **params}.items() if v)
    return f"rediss://fibcache:{PASSWORD}@127.0.0.1:{redis.tls_port}/1?{query}"


@pytest.mark.skipif(TLS_BUILD, reason="hiredis 1.x: TLS is built in")
def test_without_hiredis_tls_rediss_is_a_clear_start_up_error(tmp_path):
    out = subprocess.run([str(BINARY), "--listen", str(tmp_path / "s.sock"),
                          "--redis-url", f"rediss://fibcache:{PASSWORD}@127.0.0.1:6380/1"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode != 0
    assert "hiredis 1.0" in out.stderr and "spiped, stunnel or WireGuard" in out.stderr, out.stderr
    assert PASSWORD not in out.stdout + out.stderr


@pytest.mark.skipif(not TLS_BUILD, reason="hiredis 0.14: no TLS library")
def test_values_cached_over_tls(tls_redis, certificates, tmp_path):
    stack = stack_for(tmp_path, tls_redis, url(tls_redis, certificates)).start()
    try:
        for n in (40, 100_000, 1_000_000):  # F(10⁵) and F(10⁶) span many TLS records
            for cache in ("MISS", "HIT"):
                status, headers, body = stack.get(f"{API}/{n}/", timeout=30)
                assert (status, headers["x-cache"]) == (200, cache), body[:200]
                if n < 1_000_000:
                    assert json.loads(body)["fibonacci"] == fibonacci(n)
        assert tls_redis.cli("strlen", "fibonacci_1000000") == "208988"
        clients = tls_redis.cli("client", "list", db=0)
        assert "user=fibcache" in clients
    finally:
        stack.stop()
    assert PASSWORD not in stack.log_text()


@pytest.mark.skipif(not TLS_BUILD, reason="hiredis 0.14: no TLS library")
def test_evictions_reach_the_in_process_copy_over_tls(tls_redis, certificates, tmp_path):
    """The invalidation channel (a subscriber connection) runs over TLS too."""
    stack = Stack(tmp_path / "stack", with_redis=False, fibcache_args=["--redis-url", url(tls_redis, certificates)])
    stack.redis = tls_redis
    stack.start()
    try:
        wait_until(lambda: fastcgi_status(stack.socket)["local_cache"]["in_use"], what="the invalidation channel")
        assert stack.get(f"{API}/77/")[1]["x-cache"] == "MISS"
        assert stack.get(f"{API}/77/")[1]["x-cache"] == "HIT"
        tls_redis.cli("del", "fibonacci_77")  # an operator's DEL, in clear on the admin port
        wait_until(lambda: stack.get(f"{API}/77/")[1]["x-cache"] == "MISS", what="the copy dropped")
    finally:
        stack.stop()


@pytest.mark.skipif(not TLS_BUILD, reason="hiredis 0.14: no TLS library")
@pytest.mark.parametrize("case,params,why", [
    ("another CA", {"tls_ca": "rogue-ca.crt"}, "certificate of 127.0.0.1 refused"),
    ("another name", {"tls_server_name": "cache.example"}, "refused"),
    ("no client certificate", {"tls_cert": "", "tls_key": ""}, "connection lost"),  # TLS 1.3: refused after the handshake
])
def test_a_wrong_certificate_is_refused(tls_redis, certificates, tmp_path, case, params, why):
    params = {k: (certificates / v if v.endswith(".crt") else v) for k, v in params.items()}
    stack = stack_for(tmp_path, tls_redis, url(tls_redis, certificates, **params)).start()
    try:
        for _ in range(3):
            status, headers, body = stack.get(f"{API}/41/")
            assert (status, headers["x-cache"]) == (200, "BYPASS"), case
        assert tls_redis.cli("exists", "fibonacci_41") == "0", "nothing was stored through it"
    finally:
        stack.stop()
    log = stack.log_text()
    assert why in log, log
    assert PASSWORD not in log


@pytest.mark.skipif(not TLS_BUILD, reason="hiredis 0.14: no TLS library")
def test_a_peer_that_never_finishes_the_handshake_costs_one_connect_timeout(certificates, tmp_path):
    """A TCP peer that accepts and says nothing (or not TLS): each attempt ends within the
    connect timeout, requests are served uncached meanwhile, nothing hangs."""
    import socket
    import threading
    import time
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = silent.getsockname()[1]
    stack = Stack(tmp_path / "stack", with_redis=False, fibcache_args=[
        "--redis-url", f"rediss://fibcache:{PASSWORD}@127.0.0.1:{port}/1?tls_ca={certificates / 'ca.crt'}",
        "--redis-connect-timeout", "300ms", "--local-cache-mb", "0"])
    try:
        stack.start()
        for _ in range(5):
            started = time.monotonic()
            status, headers, _ = stack.get(f"{API}/42/", timeout=10)
            assert (status, headers["x-cache"]) == (200, "BYPASS")
            assert time.monotonic() - started < 1.5
        assert held, "fibcache did connect"
        assert "TLS handshake with 127.0.0.1 timed out" in stack.log_text()
    finally:
        stack.stop()
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        silent.close()


@pytest.mark.skipif(not TLS_BUILD, reason="hiredis 0.14: no TLS library")
def test_a_name_only_in_the_subject_is_not_enough(certificates, tmp_path):
    """OpenSSL falls back to the CN when a certificate has no DNS name in its subjectAltName;
    fibcache does not: the server must be named where browsers look too."""
    redis = start_tls_redis(certificates, tmp_path / "redis", server="subject-only")
    stack = stack_for(tmp_path, redis, url(redis, certificates, tls_server_name="redis.test"))
    try:
        stack.start()
        assert stack.get(f"{API}/43/")[1]["x-cache"] == "BYPASS"
        assert "certificate of redis.test refused: hostname mismatch" in stack.log_text()
    finally:
        stack.stop()
        redis.stop()


@pytest.mark.skipif(not TLS_BUILD, reason="hiredis 0.14: no TLS library")
def test_sentinels_and_the_primary_they_name_over_tls(tls_redis, certificates, tmp_path):
    """rediss+sentinel://: the Sentinels asked over TLS, the primary they name reached over TLS."""
    sentinels = []
    try:
        for i in range(3):
            d = tmp_path / f"sentinel-{i}"
            d.mkdir()
            tls_port = free_port()
            (d / "sentinel.conf").write_text(
                f"port {free_port()}\nbind 127.0.0.1\ndir {d}\nlogfile {d / 'sentinel.log'}\n"
                f"tls-port {tls_port}\ntls-cert-file {certificates / 'server.crt'}\ntls-key-file {certificates / 'server.key'}\n"
                f"tls-ca-cert-file {certificates / 'ca.crt'}\ntls-replication yes\n"
                f"sentinel monitor fibcache 127.0.0.1 {tls_redis.tls_port} 2\n")
            proc = subprocess.Popen([REDIS_SERVER, str(d / "sentinel.conf"), "--sentinel"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            sentinels.append((proc, tls_port))
        nodes = ",".join(f"127.0.0.1:{port}" for _, port in sentinels)
        query = "&".join(f"{k}={certificates / v}" for k, v in (("tls_ca", "ca.crt"), ("tls_cert", "client.crt"),
                                                                 ("tls_key", "client.key")))
        stack = stack_for(tmp_path, tls_redis, f"rediss+sentinel://fibcache:{PASSWORD}@{nodes}/fibcache/1?{query}")
        stack.start()
        try:
            wait_until(lambda: stack.get(f"{API}/55/")[1]["x-cache"] == "MISS", what="a primary found through the Sentinels")
            assert stack.get(f"{API}/55/")[1]["x-cache"] == "HIT"
            assert tls_redis.cli("get", "fibonacci_55") == str(fibonacci(55))
        finally:
            stack.stop()
        assert PASSWORD not in stack.log_text()
    finally:
        for proc, _ in sentinels:
            stop_process(proc)
