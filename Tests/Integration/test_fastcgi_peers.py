"""FastCGI over TCP answers only the web servers allowed (issue 15): --allow-from, libfcgi's
FCGI_WEB_SERVER_ADDRS semantics, loopback by default."""
import socket
import subprocess

import pytest

from conftest import BINARY, fastcgi_request, free_port, stop_process, wait_until


def fastcgi_over_tcp(port, source):
    """A GET /healthz over FastCGI from `source`; the raw bytes answered (b"" if closed at once)."""
    return fastcgi_request(("127.0.0.1", port), {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/healthz", "QUERY_STRING": ""},
                           timeout=5, source=source)


@pytest.fixture
def fibcache_on_tcp(tmp_path):
    started = []

    def start(*args, env=None):
        port = free_port()
        log = open(tmp_path / "fibcache.log", "ab")
        proc = subprocess.Popen([str(BINARY), "--listen", f"127.0.0.1:{port}", "--workers", "2",
                                 "--redis-url", f"redis://127.0.0.1:{free_port()}/1", *args],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        started.append(proc)
        wait_until(lambda: _accepts(port) or proc.poll() is not None, what="fibcache on TCP")
        assert proc.poll() is None, (tmp_path / "fibcache.log").read_text()
        return port, tmp_path / "fibcache.log"
    yield start
    for proc in started:
        stop_process(proc)


def _accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_loopback_only_by_default(fibcache_on_tcp):
    port, log = fibcache_on_tcp()
    assert b'{"status": "ok"}' in fastcgi_over_tcp(port, "127.0.0.1")
    # 127.0.0.2 is loopback to the kernel, but not one of the allowed addresses: another host.
    assert fastcgi_over_tcp(port, "127.0.0.2") == b""
    wait_until(lambda: "refused a FastCGI connection" in log.read_text(), timeout=5, what="the refusal logged")
    assert "127.0.0.2" in log.read_text()


@pytest.mark.parametrize("how", ["flag", "libfcgi-variable"])
def test_only_the_web_servers_named(fibcache_on_tcp, how):
    if how == "flag":
        port, log = fibcache_on_tcp("--allow-from", "127.0.0.2, 127.0.0.3")
    else:
        port, log = fibcache_on_tcp(env={"FCGI_WEB_SERVER_ADDRS": "127.0.0.2,127.0.0.3"})
    assert b'{"status": "ok"}' in fastcgi_over_tcp(port, "127.0.0.2")
    assert b'{"status": "ok"}' in fastcgi_over_tcp(port, "127.0.0.3")
    assert fastcgi_over_tcp(port, "127.0.0.1") == b""
    for _ in range(20):
        fastcgi_over_tcp(port, "127.0.0.1")
    assert log.read_text().count("refused a FastCGI connection") == 1, "logged once a minute per address"


def test_a_bad_list_is_refused_at_start(tmp_path):
    run = subprocess.run([str(BINARY), "--listen", "127.0.0.1:1", "--allow-from", "10.0.0.0/8"],
                         capture_output=True, text=True, timeout=20)
    assert run.returncode != 0 and "--allow-from" in run.stderr and "10.0.0.0/8" in run.stderr
