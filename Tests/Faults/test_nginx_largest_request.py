"""What nginx really sends through the shipped site, and the caps fibcache puts on FastCGI
requests (issue 21): the largest request nginx accepts (request headers up to its default
large_client_header_buffers, 4 x 8k) must be answered, through nginx (200, not 502) and
when its exact bytes are written straight to fibcache's socket.

The bytes are recorded by a FastCGI responder of our own (the one that captures the fuzz corpus)
that nginx (the shipped site, rendered as for every test) passes the requests to."""
import socket

import pytest

import conftest  # noqa: F401  (puts Tests/Support on sys.path)
from fastcgi_recorder import RecordingStack  # the fuzz corpus is captured the same way
import fastcgi_records
from fastcgi_records import PARAMS, split_records

API = "/api/fibonacci/number"
# fibcache's caps (FastCGIRequestLimits.standard): the measured requests must stay within them.
MAX_PARAMS_BYTES = 65535
MAX_PARAM_PAIRS = 4096


def params_stream(request):
    return b"".join(request[offset + 8:offset + 8 + length]
                    for offset, kind, _, length, _ in split_records(request) if kind == PARAMS)


def param_pairs(request):
    """The (name, value) pairs of one recorded request, names decoded, in order."""
    return [(name.decode(), value) for name, value in fastcgi_records.param_pairs(params_stream(request))]


def params_of(request):
    """(params content bytes, pairs, PARAMS records) of one recorded request."""
    return (len(params_stream(request)), len(param_pairs(request)),
            sum(1 for r in split_records(request) if r[1] == PARAMS))


def http_get(port, path, headers):
    """A GET with these header lines, written as they are; returns (status, body)."""
    head = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode())
        response = b""
        while chunk := s.recv(65536):
            response += chunk
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


# Request headers at the edges of what nginx 1.22 accepts by default (measured: a line within
# 8k, all within 4 x 8k, and no more than about a thousand lines): the most bytes in a few long
# lines, the most in many short ones. Before the site passed only what fibcache reads, they became
# the most params bytes (32 066) and pairs (1 019) fibcache got; now they do not reach it at all.
LARGEST = {
    "normal": [("User-Agent", "curl/7.88.1"), ("Accept", "*/*")],
    "most bytes": [(f"X-Long-{i}", "v" * 8177) for i in range(3)] + [("X-Last", "v" * 7000)],
    "most pairs": [(f"X{i}", "1") for i in range(996)],
}


# What fibcache reads (fibcache/Server.swift), and so all the site passes it.
READ_BY_FIBCACHE = {"REQUEST_METHOD", "DOCUMENT_URI", "QUERY_STRING", "REQUEST_URI", "HTTP_IF_NONE_MATCH",
                    "FIBCACHE_CLIENT", "FIBCACHE_OPERATIONS"}
# A conditional request with headers a client invents, some named like what a backend might trust.
CONDITIONAL = [("If-None-Match", '"f40"'), ("X-Forwarded-For", "10.6.6.6"), ("Fibcache-Operations", "forged"),
               ("Authorization", "Basic c2VjcmV0"), ("Cookie", "session=secret")]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    stack = RecordingStack(tmp_path_factory.mktemp("recording"), with_redis=False)
    stack.start()
    try:
        measured = {}
        for name, headers in {**LARGEST, "conditional": CONDITIONAL}.items():
            before = len(stack.peer.requests)
            status, _ = http_get(stack.http_port, f"{API}/10/", headers)
            assert status == 200, f"nginx refused the {name} request ({status}): not one it accepts"
            assert len(stack.peer.requests) == before + 1
            measured[name] = stack.peer.requests[-1]
        yield measured
    finally:
        stack.stop()


def test_nginx_sends_within_the_caps(recorded):
    for name, request in recorded.items():
        size, pairs, records = params_of(request)
        print(f"{name}: {len(request)} bytes, params {size} bytes in {pairs} pairs, {records} PARAMS records")
        assert size <= MAX_PARAMS_BYTES and pairs <= MAX_PARAM_PAIRS, name


def test_the_site_passes_only_what_fibcache_reads(recorded):
    """No client header reaches fibcache but If-None-Match, and none of Debian's fastcgi_params
    it does not read: less for nginx to build and for fibcache to check on every hit."""
    for name, request in recorded.items():
        names = [name for name, _ in param_pairs(request)]
        print(f"{name}: {names}")
        assert set(names) <= READ_BY_FIBCACHE and len(names) == len(set(names)), name
    conditional = dict(param_pairs(recorded["conditional"]))
    assert conditional["HTTP_IF_NONE_MATCH"] == b'"f40"'
    assert conditional["FIBCACHE_OPERATIONS"] == b""
    assert conditional["DOCUMENT_URI"] == f"{API}/10/".encode()
    assert "HTTP_IF_NONE_MATCH" not in dict(param_pairs(recorded["normal"]))
    size, pairs, _ = params_of(recorded["normal"])
    assert pairs == 6 and size < 200, (size, pairs)


@pytest.mark.parametrize("name", sorted(LARGEST))
def test_largest_requests_are_answered_through_nginx(stack, name):
    status, body = http_get(stack.http_port, f"{API}/10/", LARGEST[name])
    assert (status, body) == (200, b'{"fibonacci": 55}')


@pytest.mark.parametrize("name", sorted(LARGEST))
def test_recorded_bytes_are_answered_on_the_socket(stack, recorded, name):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(stack.socket))
        s.sendall(recorded[name])
        reply = b""
        while b'{"fibonacci": 55}' not in reply:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert b"Status: 200" in reply and b'{"fibonacci": 55}' in reply
