"""Malformed FastCGI traffic written straight to the socket: the process survives
and keeps serving everyone else."""
import socket
import struct
import threading
import time

import pytest

from conftest import fastcgi_status  # conftest has put Tests/Support on sys.path
from fastcgi_records import (ABORT_REQUEST, BEGIN_REQUEST, HEADER_LENGTH, MAX_CONTENT, PARAMS, STDIN, begin, params,
                             params_pair, record)

API = "/api/fibonacci/number"


def send_raw(sock_path, payload, close_after=True, wait=0.2):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(str(sock_path))
    try:
        s.sendall(payload)
    except OSError:
        pass  # the server may drop us mid-write: that is the point
    time.sleep(wait)
    if close_after:
        s.close()
    return s


MALFORMED = {
    "truncated header": b"\x01\x01\x00",
    "wrong version": record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0), version=9) + params(b"") + record(STDIN, b""),
    # A header claiming the most content, then 100 bytes of it.
    "huge content length": record(PARAMS, b"x" * MAX_CONTENT)[:HEADER_LENGTH + 100],
    "unknown record type": begin() + record(42, b"whatever") + params(b"") + record(STDIN, b""),
    "params length overflow": begin() + record(PARAMS, struct.pack(">II", 0xFFFFFFFF, 0x7FFFFFFF) + b"a" * 32),
    "abort mid-request": begin() + record(PARAMS, params_pair(b"REQUEST_METHOD", b"GET")) + record(ABORT_REQUEST, b""),
    "http instead of fastcgi": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "random bytes": bytes(range(256)) * 20,
    "stdin before params": begin() + record(STDIN, b"body") + record(PARAMS, b""),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_record_does_not_hurt(stack, name):
    send_raw(stack.socket, MALFORMED[name])
    assert stack.fibcache.poll() is None, f"fibcache died on {name}"
    status, headers, body = stack.get(f"{API}/20/")
    assert status == 200 and body == b'{"fibonacci": 6765}'


def test_thousands_of_params_are_refused(stack):
    """~300 KB of params in 5 000 pairs: nine times what nginx can send (one record of at most
    64 KiB; 32 KB measured at its largest, test_nginx_largest_request). Refused unread — the
    connection closed without an answer — and counted by its rule."""
    pairs = b"".join(params_pair(f"HTTP_X_{i}".encode(), b"v" * 50) for i in range(5000))
    pairs += params_pair(b"REQUEST_METHOD", b"GET") + params_pair(b"DOCUMENT_URI", f"{API}/10/".encode())

    def refused():
        return fastcgi_status(stack.socket)["fastcgi"]["requests_refused_by_rule"].get("params_too_large", 0)

    # In records of 65 000 bytes, not params()'s 65 535: the cap on params (65 535 bytes) falls inside a
    # record, which breaks params_too_large; at a record's end, the pair cut there breaks pair_length_beyond_params.
    stream = b"".join(record(PARAMS, pairs[i:i + 65000]) for i in range(0, len(pairs), 65000)) + record(PARAMS, b"")
    before = refused()
    s = send_raw(stack.socket, begin() + stream + record(STDIN, b""), close_after=False, wait=0)
    reply = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except OSError:
        pass
    s.close()
    assert reply == b""  # closed unanswered
    assert refused() == before + 1
    assert stack.get(f"{API}/21/")[0] == 200


def test_silent_clients_do_not_block_the_others(stack):
    # More silent connections than workers (8): each is dropped after the I/O timeout,
    # and real requests keep being answered meanwhile.
    silent = [send_raw(stack.socket, b"", close_after=False, wait=0) for _ in range(12)]
    try:
        start = time.monotonic()
        status, _, _ = stack.get(f"{API}/22/", timeout=30)
        assert status == 200
        assert time.monotonic() - start < 15
    finally:
        for s in silent:
            s.close()
    assert stack.fibcache.poll() is None


def test_many_connects_and_disconnects_in_parallel(stack):
    def hammer():
        for _ in range(200):
            try:
                send_raw(stack.socket, begin(), wait=0)
            except OSError:
                pass

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert stack.fibcache.poll() is None
    assert stack.get(f"{API}/23/")[0] == 200


def test_sighup_keeps_serving_and_says_why(stack):
    import signal as signals
    stack.fibcache.send_signal(signals.SIGHUP)
    time.sleep(0.2)
    assert stack.fibcache.poll() is None
    assert stack.get(f"{API}/24/")[0] == 200
    assert "SIGHUP ignored" in stack.log_text()
