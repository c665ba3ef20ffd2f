"""Hostile FastCGI peers (issue 21): records that crashed libfcgi's parser, a claim trickled
a byte at a time, silent connections by the hundred. Each is written straight to fibcache's
socket (as www-data could); fibcache stays alive, closes that connection at once, counts
it, and a request through nginx succeeds right after."""
import socket
import struct
import time

import pytest

from conftest import fastcgi_status, open_fds, wait_until  # conftest has put Tests/Support on sys.path
from fastcgi_records import GET_VALUES, PARAMS, begin, four_byte_length, length_prefix, record

API = "/api/fibonacci/number"


def lengths(name_length, value_length):
    """A PARAMS pair header claiming these lengths as they go on the wire (four-byte
    encodings: the top bit marks the encoding, libfcgi reads the other 31)."""
    return struct.pack(">II", name_length, value_length)


# libfcgi 2.4.2 (Debian 12) sums the two lengths in 32 bits, malloc fails, assert: SIGABRT.
CRASH_RECORDS = {
    # 0x40000000 + 0x40000000 once decoded.
    "0xC0000000 + 0xC0000000": begin() + record(PARAMS, lengths(0xC0000000, 0xC0000000) + b"ab" * 8),
    # Just below the 0x7fffffff Debian's CVE-2025-23016 patch rejects.
    "0x7FFFFFFE + 0x7FFFFFFE": begin() + record(PARAMS, lengths(0xFFFFFFFE, 0xFFFFFFFE) + b"ab" * 8),
    # A management record (request id 0) before BEGIN_REQUEST: libfcgi parses GET_VALUES with the same code.
    "GET_VALUES 0xC0000000 + 0xC0000000": record(GET_VALUES, lengths(0xC0000000, 0xC0000000) + b"ab" * 8, request_id=0),
}


def fastcgi_counts(stack):
    return fastcgi_status(stack.socket)["fastcgi"]


def closed_by_server(s, within):
    """True if the server closes (or resets) the connection within `within` seconds."""
    s.settimeout(within)
    try:
        while True:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def connect(stack):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(str(stack.socket))
    return s


@pytest.mark.parametrize("shape", sorted(CRASH_RECORDS))
def test_crash_record_is_refused(stack, shape):
    before = fastcgi_counts(stack).get("requests_refused", 0)
    s = connect(stack)
    try:
        s.sendall(CRASH_RECORDS[shape])
        assert closed_by_server(s, within=2.0), "the connection was left open"
    finally:
        s.close()
    assert stack.fibcache.poll() is None, f"fibcache died: exit {stack.fibcache.returncode}"
    assert fastcgi_counts(stack).get("requests_refused") == before + 1, "not counted"
    assert stack.get(f"{API}/20/")[:3:2] == (200, b'{"fibonacci": 6765}')


def test_two_gigabyte_claim_trickled_is_refused_before_the_deadline(stack):
    """A PARAMS record whose one pair claims a 2 GB value, sent a byte every 20 ms: refused as
    soon as the length is in (libfcgi would allocate it and wait for the bytes until the deadline)."""
    before = fastcgi_counts(stack).get("requests_refused", 0)
    claim = begin() + record(PARAMS, length_prefix(4) + four_byte_length(0x7FFFFFF0) + b"NAME" + b"v" * 64)
    s = connect(stack)
    started = time.monotonic()
    closed = False
    try:
        for byte in claim:
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.02)
        closed = closed or closed_by_server(s, within=1.0)
    finally:
        s.close()
    took = time.monotonic() - started
    assert closed, "the connection was left open"
    # The length is complete at byte 29: about 0.6 s of trickling; the I/O deadline is 5 s.
    assert took < 3.0, f"closed after {took:.1f} s: by the deadline, not by a rule"
    assert stack.fibcache.poll() is None
    assert fastcgi_counts(stack).get("requests_refused") == before + 1, "not counted"
    assert stack.get(f"{API}/21/")[0] == 200


def test_refusals_are_logged_with_their_rule_at_most_once_per_interval(stack):
    for _ in range(5):
        s = connect(stack)
        s.sendall(CRASH_RECORDS["0xC0000000 + 0xC0000000"])
        closed_by_server(s, within=2.0)
        s.close()
    log = stack.log_text()
    lines = [line for line in log.splitlines() if "refused a FastCGI request" in line]
    assert lines, log[-2000:]
    assert len(lines) <= 2, lines  # the first refusal of the module's tests, then silence for the interval
    assert "pair" in lines[0] and "rule" in lines[0]


def test_silent_connections_are_capped_and_time_out(make_stack):
    """Silent connections (more than the cap) cannot exhaust fibcache's files: past
    --max-idle-connections the oldest are closed, and each after --idle-connection-timeout."""
    stack = make_stack(fibcache_args=["--max-idle-connections", "50", "--idle-connection-timeout", "2s"])
    silent = []
    try:
        assert stack.get(f"{API}/22/")[0] == 200
        baseline = open_fds(stack.fibcache.pid)
        for _ in range(300):
            silent.append(connect(stack))

        def all_taken():
            """Every silent connection accepted: held idle, or closed (over the cap, or timed out)."""
            counts = fastcgi_counts(stack)
            return counts["idle_connections"] + counts["idle_closed_over_cap"] + counts["idle_closed_after_timeout"] >= len(silent)

        wait_until(all_taken, what="the silent connections accepted")
        held = open_fds(stack.fibcache.pid)
        print(f"open files: {baseline} before, {held} with 300 silent connections (cap 50)")
        assert held <= baseline + 50 + 8 + 2, held  # the cap, workers mid-accept, slack
        assert stack.get(f"{API}/23/")[0] == 200
        counts = fastcgi_counts(stack)
        assert counts["idle_closed_over_cap"] >= 300 - 50 - 8
        # The survivors are closed after the idle timeout.
        started = time.monotonic()
        wait_until(lambda: open_fds(stack.fibcache.pid) <= baseline + 2, timeout=6, what="idle connections closed")
        print(f"silent connections closed {time.monotonic() - started:.1f} s after the last one opened (timeout 2 s)")
        assert fastcgi_counts(stack)["idle_closed_after_timeout"] >= 1
        assert stack.get(f"{API}/24/")[0] == 200
        assert stack.fibcache.poll() is None
    finally:
        for s in silent:
            s.close()
