"""Issue 23 on the shipped site (nginx/fibcache.site as tests render it): the operations
server answers this host's names only; every answer carries the browser headers and no
nginx version; an IPv6 client is its /64; behind a proxy configured the README's way
(real_ip), a forged X-Forwarded-For neither exempts nor changes the client."""
import ipaddress
import random
import re
import socket
import time
import uuid
from html.parser import HTMLParser

import pytest

from conftest import ROOT, free_port, wait_until

API = "/api/fibonacci/number"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def raw(port, request):
    """A request as bytes (no Host header added); the status line's code."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        return int(s.makefile("rb").readline().split()[1])


def test_the_operations_server_answers_this_hosts_names_only(stack):
    for host in ("localhost", "127.0.0.1", f"127.0.0.1:{stack.ops_port}", f"localhost:{stack.ops_port}", "LocalHost"):
        assert stack.ops("GET", "/healthz", headers={"Host": host})[0] == 200, host
    # DNS rebinding: a page at rebind.example whose name now points at 127.0.0.1.
    for host in ("rebind.example", f"rebind.example:{stack.ops_port}", "localhost.rebind.example", "127.0.0.1.nip.io",
                 "127.0.0.2", "[::1]"):
        for method, path in (("GET", "/status"), ("GET", "/metrics"), ("DELETE", f"{API}/40/"), ("GET", "/")):
            assert stack.ops(method, path, headers={"Host": host})[0] == 421, (host, method, path)
    assert raw(stack.ops_port, b"GET /status HTTP/1.0\r\n\r\n") == 421, "no Host at all"
    # The public server serves any name (it is the site).
    assert stack.get(f"{API}/40/", headers={"Host": "rebind.example"})[0] == 200


def test_every_answer_carries_the_browser_headers_and_no_version(stack):
    answers = {
        "page": stack.get("/"), "script": stack.get("/app.js"), "api": stack.get(f"{API}/40/"),
        "api 400": stack.get(f"{API}/x/"), "404": stack.get("/nothing-here"), "405": stack.request("DELETE", f"{API}/40/"),
        "ops page": stack.ops("GET", "/"), "ops status": stack.ops("GET", "/status"),
        "ops 405": stack.ops("POST", "/healthz"), "ops 421": stack.ops("GET", "/status", headers={"Host": "rebind.example"}),
    }
    for name, (status, headers, _) in answers.items():
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("server") == "nginx", f"{name}: {headers.get('server')}"
    for name in ("page", "script", "api", "api 400", "404", "ops page", "ops status", "ops 421"):
        headers = answers[name][1]
        assert headers.get("content-security-policy") == CSP, name
        assert headers.get("x-frame-options") == "DENY", name
        assert headers.get("referrer-policy") == "no-referrer", name
    assert answers["page"][1]["cache-control"] == "no-cache"
    assert answers["405"][1]["allow"] == "GET, HEAD" and answers["405"][1]["cache-control"] == "no-store"
    assert b"nginx/" not in answers["404"][2], "no version in nginx's own pages"


def test_the_page_has_no_inline_script_or_style():
    """What the CSP forbids is absent from the page (the browser test runs it under the CSP)."""
    found = []

    class Page(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "style" or "style" in attrs or any(a.startswith("on") for a in attrs):
                found.append((tag, attrs))
            if tag == "script" and "src" not in attrs:
                found.append((tag, attrs))
    Page().feed((ROOT / "www" / "index.html").read_text())
    assert found == []
    assert "setAttribute(\"style\"" not in (ROOT / "www" / "app.js").read_text()


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory):
    """The site with real_ip enabled the README's way, 127.0.0.1 the proxy (a TLS terminator on
    this host), no exemption (as shipped); an extra server shows the client key the limits use."""
    from conftest import Stack
    directory = tmp_path_factory.mktemp("proxy")
    port = free_port()
    extra = directory / "extra.conf"
    extra.write_text(f"server {{ listen 127.0.0.1:{port}; set_real_ip_from 127.0.0.1; real_ip_header X-Test-Address;\n"
                     "  location / { return 200 \"$remote_addr $fibcache_address\"; } }\n")
    s = Stack(directory / "stack", exempt_loopback=False, render_args=["--real-ip-from", "127.0.0.1", "--extra", str(extra)])
    s.key_port = port
    try:
        yield s.start()
    finally:
        s.stop()


def flood(stack, count=200, **kwargs):
    return [stack.get(f"{API}/40/", timeout=5, **kwargs)[0] for _ in range(count)]


def client_of(stack, headers=None, **request):
    """The client address nginx logs for one request: its line, found by a User-Agent of its own
    once nginx has written it (after the answer; another request's line, such as the stack's
    readiness check, may be written meanwhile)."""
    log = stack.dir / "nginx-access.log"
    marker = f"client-of-{uuid.uuid4().hex}"
    stack.get(f"{API}/40/", headers={**(headers or {}), "User-Agent": marker}, **request)

    def line():
        return next((found for found in log.read_text().splitlines() if marker in found), None)
    wait_until(lambda: line() is not None, timeout=5, what="the request's log line")
    return line().split()[0]


def one_client(stack, spellings, rounds=100):
    """Requests sent in turn as each of `spellings` (request arguments) of what must be one
    client: their 200s together stay within one client's allowance (a burst of 100 and 50 a
    second while they last), and each spelling meets the limit. (Asking after a flood instead
    races the limit: with the burst used up, every 20 ms frees a request.)"""
    start = time.monotonic()
    codes = [[] for _ in spellings]
    for _ in range(rounds):
        for spelling, seen in zip(spellings, codes):
            seen.append(stack.get(f"{API}/40/", timeout=5, **spelling)[0])
    elapsed = time.monotonic() - start
    passed = sum(seen.count(200) for seen in codes)
    assert passed <= 100 + 50 * elapsed + 2, f"{passed} answered in {elapsed:.2f} s: more than one client's"
    for spelling, seen in zip(spellings, codes):
        assert 429 in seen, spelling


def test_a_forged_forwarded_for_neither_exempts_nor_changes_the_client(behind_proxy):
    stack = behind_proxy
    # Straight from another address: the header is not believed.
    assert client_of(stack, source="127.0.0.2", headers={"X-Forwarded-For": "127.0.0.1"}) == "127.0.0.2"
    one_client(stack, [{"source": "127.0.0.2", "headers": {"X-Forwarded-For": "127.0.0.1"}}, {"source": "127.0.0.2"}])
    # Through the proxy, which appends the address it saw: the client's own entry is ignored.
    assert client_of(stack, headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}) == "203.0.113.7"
    codes = flood(stack, headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.7"})
    assert codes[:100] == [200] * 100 and 429 in codes
    assert stack.get(f"{API}/40/", headers={"X-Forwarded-For": "198.51.100.9"})[0] == 200, "another client"
    # What the proxy itself sends without the header is limited too: no exemption by default.
    assert 429 in flood(stack)


def test_with_this_host_exempt_a_forged_forwarded_for_is_still_limited(make_stack):
    """The opt-in exemption beside real_ip (a proxy on this host): exempt is what the proxy
    says came from this host, never what a client writes into the header."""
    stack = make_stack(exempt_loopback=True, render_args=["--real-ip-from", "127.0.0.1"])
    forged = {"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}  # the client's entry, then the proxy's
    codes = flood(stack, headers=forged)
    assert codes[:100] == [200] * 100 and 429 in codes, "the client behind the proxy is limited"
    assert 429 in flood(stack, source="127.0.0.2", headers={"X-Forwarded-For": "127.0.0.1"}), \
        "straight from another address the header is not believed"
    # The trade-off written beside the opt-in: what the proxy forwards for this host is exempt.
    assert set(flood(stack, headers={"X-Forwarded-For": "127.0.0.1"})) == {200}


def test_an_ipv6_client_is_its_64(behind_proxy):
    stack = behind_proxy
    one_client(stack, [{"headers": {"X-Forwarded-For": address}}
                       for address in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:aaaa::5")])
    codes = flood(stack, count=150, headers={"X-Forwarded-For": "2001:db8:1:3::1"})
    assert codes[:100] == [200] * 100 and 429 in codes, "the next /64: a client of its own"


def test_the_64_key_of_every_shape_of_address(behind_proxy):
    """nginx writes "::" for the longest run of two or more zero groups: the key is the /64
    written out however the address was compressed (compared with Python's ipaddress)."""
    stack = behind_proxy
    rng = random.Random(23)
    shapes = ["::1", "::", "2001:db8::1", "2001:db8:0:0:1::", "1::2:3:4:5:6", "::1:2:3:4:5:6", "::2:3:4:5:6",
              "a:b:c::1", "a:b:c:d:e:f:1:2", "fe80::1", "::ffff:1.2.3.4", "1:0:0:2::", "0:0:1::"]
    shapes += [str(ipaddress.IPv6Address(":".join(rng.choice(["0", "0", format(rng.randrange(1, 65536), "x")])
                                                  for _ in range(8)))) for _ in range(300)]
    for address in shapes:
        expected = ":".join(format(int(group, 16), "x") for group in ipaddress.IPv6Address(address).exploded.split(":")[:4])
        status, _, body = stack.get("/", port=stack.key_port, headers={"X-Test-Address": address})
        seen, key = body.decode().split(" ", 1)
        assert (status, key) == (200, expected), (address, seen)
    # IPv4: the address itself (4 bytes, never equal to a /64's text).
    assert re.fullmatch(rb"192\.0\.2\.1 .{4}", stack.get("/", port=stack.key_port,
                                                         headers={"X-Test-Address": "192.0.2.1"})[2], re.S)
