#!/usr/bin/env python3
"""Writes the seed corpus of the FastCGI fuzzers (Tests/FuzzFastCGI/corpus/): what nginx really
sends with the shipped site, the shapes that crashed libfcgi, and truncated and padded records.

nginx's records are captured, not written by hand: the site is rendered as the tests render it
(scripts/render-nginx-conf), nginx runs on free loopback ports in a temporary directory, and a fake
FastCGI responder on a unix socket records every request's bytes (BEGIN_REQUEST through the empty
STDIN record) and answers it. Run it again when the site changes:

    python3 Tests/FuzzFastCGI/make_corpus.py          # rewrites corpus/ (needs nginx)

Each file is one connection's bytes: a seed for libFuzzer (fuzz-fastcgi) and for the protocol fuzz
peer (Tests/Support/fastcgi_fuzz_peer.py).
"""
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "Support"))
from fastcgi_recorder import RecordingStack  # noqa: E402
from fastcgi_records import (ABORT_REQUEST, BEGIN_REQUEST, GET_VALUES, PARAMS, STDIN, begin, four_byte_length, params,  # noqa: E402
                             params_pair, record)
from stack import wait_until  # noqa: E402

CORPUS = HERE / "corpus"


def capture_nginx(requests):
    """[(name, method, port key, path, headers, body)] → {name: bytes nginx sent for it}."""
    captured = {}
    with tempfile.TemporaryDirectory(prefix="fibcache-corpus-") as d:
        stack = RecordingStack(d, with_redis=False)
        stack.start()
        try:
            ports = {"public": stack.http_port, "ops": stack.ops_port}
            for name, method, port, path, headers, body in requests:
                before = len(stack.peer.requests)
                status, _, _ = stack.request(method, path, body=body, headers=headers, port=ports[port], timeout=10)
                assert status == 200, (name, status)
                wait_until(lambda: len(stack.peer.requests) > before, what=f"the request for {name}")
                captured[name] = stack.peer.requests[-1]
        finally:
            stack.stop()
    return captured


NGINX_REQUESTS = [
    ("nginx-get", "GET", "public", "/api/fibonacci/number/40/", {}, None),
    ("nginx-get-query", "GET", "public", "/api/fibonacci/number/35/?algorithm=recursive", {}, None),
    ("nginx-head", "HEAD", "public", "/api/fibonacci/number/10/", {}, None),
    ("nginx-delete-ops", "DELETE", "ops", "/api/fibonacci/number/40/", {}, None),
    ("nginx-status-ops", "GET", "ops", "/status", {}, None),
    ("nginx-many-headers", "GET", "public", "/api/fibonacci/number/93/",
     {f"X-Header-{i}": "v" * (i % 40 + 1) for i in range(60)} | {"Cookie": "c=" + "x" * 2000}, None),
    ("nginx-post-body-ops", "POST", "ops", "/api/fibonacci/number/5/", {"Content-Type": "application/json"},
     b'{"n": 5, "padding": "' + b"p" * 600 + b'"}'),
]


def synthetic():
    """Shapes nginx never sends: the CVE lengths, management records, truncations, paddings."""
    get = params_pair(b"REQUEST_METHOD", b"GET") + params_pair(b"DOCUMENT_URI", b"/api/fibonacci/number/7/")
    good = begin() + params(get) + record(STDIN, b"")

    def huge(name_length, value_length, tail=b"a" * 16):
        return four_byte_length(name_length) + four_byte_length(value_length) + tail

    def smuggle(hidden, kind=BEGIN_REQUEST):
        """BEGIN_REQUEST (or the empty PARAMS record) whose padding is `hidden` (up to 255 bytes)."""
        plain = begin() if kind == BEGIN_REQUEST else record(PARAMS, b"")
        return plain[:6] + bytes([len(hidden)]) + plain[7:] + hidden

    return {
        "minimal-get": good,
        "keep-conn-two-requests": begin(flags=1) + params(get) + record(STDIN, b"") + begin(flags=1) + params(get) + record(STDIN, b""),
        "padded-records": record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0), padding=7)
                          + record(PARAMS, get, padding=255) + record(PARAMS, b"", padding=3) + record(STDIN, b"", padding=1),
        "pair-split-across-records": begin() + record(PARAMS, get[:5]) + record(PARAMS, get[5:20]) + record(PARAMS, get[20:])
                                     + record(PARAMS, b"") + record(STDIN, b""),
        "four-byte-lengths": begin() + params(four_byte_length(3) + four_byte_length(4) + b"ABCdefg") + record(STDIN, b""),
        "stdin-body": begin() + params(get) + record(STDIN, b"body=1") + record(STDIN, b""),
        "request-id-300": begin(request_id=300) + params(get, request_id=300) + record(STDIN, b"", request_id=300),
        # Lengths as on the wire (the top bit marks a four-byte length): C0000000 is 0x40000000 bytes,
        # two of them overflow libfcgi's 32-bit sum; Debian's fix refuses exactly 0x7fffffff only.
        "cve-7fffffff": begin() + record(PARAMS, huge(0x7FFFFFFF, 0)),
        "cve-c0000000-c0000000": begin() + record(PARAMS, huge(0x40000000, 0x40000000)),
        "cve-e0000000-a0000001": begin() + record(PARAMS, huge(0x60000000, 0x20000001)),
        "cve-2gb-claim": begin() + record(PARAMS, huge(0x7FFFFFF0, 0x10, b"x" * 1000)),
        # libfcgi skips no padding after BEGIN_REQUEST (nor after the empty PARAMS record): it reads
        # the padding as the next record, so a record hidden there is parsed by libfcgi alone.
        "begin-padding-smuggles-cve": smuggle(record(PARAMS, struct.pack(">II", 0xC0000000, 0xC0000000) + b"a" * 8))
                                      + params(get) + record(STDIN, b""),
        "params-end-padding-smuggles-get-values": begin() + params(get.replace(b"GET", b"PUT"))[:-8]
                                                  + smuggle(record(GET_VALUES, struct.pack(">II", 0xC0000000, 0xC0000000) + b"a" * 8, request_id=0), kind=PARAMS)
                                                  + record(STDIN, b"x") + record(STDIN, b""),
        "get-values-huge": record(GET_VALUES, struct.pack(">II", 0xC0000000, 0xC0000000) + b"FCGI_MAX_CONNS", request_id=0),
        "get-values": record(GET_VALUES, params_pair(b"FCGI_MAX_CONNS", b"") + params_pair(b"FCGI_MPXS_CONNS", b""), request_id=0),
        "get-values-then-request": record(GET_VALUES, params_pair(b"FCGI_MAX_REQS", b""), request_id=0) + good,
        "truncated-header": good[:5],
        "truncated-begin": good[:12],
        "truncated-params": good[:30],
        "truncated-pair-length": begin() + record(PARAMS, b"\x80\x00"),
        "pair-longer-than-record": begin() + record(PARAMS, b"\x05\x05abc") + record(PARAMS, b"") + record(STDIN, b""),
        "begin-short-body": record(BEGIN_REQUEST, b"\x00\x01\x00") + params(get) + record(STDIN, b""),
        "begin-request-id-0": begin(request_id=0) + params(get, request_id=0) + record(STDIN, b""),
        "wrong-version": bytes([2]) + good[1:],
        "role-authorizer": begin(role=2) + params(get) + record(STDIN, b""),
        "params-of-other-id": begin() + record(PARAMS, get, request_id=2) + record(PARAMS, b"") + record(STDIN, b""),
        "second-begin-mid-params": begin() + record(PARAMS, get) + begin(request_id=2) + record(PARAMS, b"") + record(STDIN, b""),
        "abort-mid-params": begin() + record(PARAMS, get) + record(ABORT_REQUEST, b""),
        "stdin-before-params": begin() + record(STDIN, b"body") + record(PARAMS, b""),
        "unknown-type": begin() + record(42, b"whatever") + record(PARAMS, b"") + record(STDIN, b""),
        "max-content-length": begin() + record(PARAMS, params_pair(b"HTTP_X", b"v" * 65500)) + record(PARAMS, b"") + record(STDIN, b""),
        "many-tiny-pairs": begin() + params(b"\x01\x00A" * 3000) + record(STDIN, b""),
    }


def main():
    CORPUS.mkdir(exist_ok=True)
    seeds = synthetic() | capture_nginx(NGINX_REQUESTS)
    for old in CORPUS.iterdir():
        old.unlink()
    for name, data in sorted(seeds.items()):
        (CORPUS / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
