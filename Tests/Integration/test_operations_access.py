"""Issue 23, requirement 1: operations (DELETE, /status, /metrics) are answered only
when nginx's operations server passed them — it sets the FastCGI param
FIBCACHE_OPERATIONS to a secret token from a root-only snippet. Anything else that
reaches fibcache's socket (nginx's workers run as www-data, so any www-data process
can) gets 403 JSON, counted; a client's header cannot become that param. Before: fibcache
evicted and told its status to any FastCGI peer."""
import json
import subprocess

from conftest import BINARY, fastcgi_request, wait_until

API = "/api/fibonacci/number"
OPERATIONS = [("DELETE", f"{API}/40/"), ("GET", "/status"), ("GET", "/metrics")]


def answer(socket_path, method, path, **extra):
    """A FastCGI request as a local process could send it, with the params in `extra`: (status, headers, body)."""
    raw = fastcgi_request(socket_path, {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path,
                                        "QUERY_STRING": "", **extra})
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
    return int(headers.get("Status", "200").split()[0]), headers, body


def test_operations_through_the_operations_server_are_answered(stack):
    stack.get(f"{API}/40/")
    status, _, body = stack.ops("DELETE", f"{API}/40/")
    assert (status, json.loads(body)) == (200, {"n": 40, "evicted": True})
    assert stack.ops("GET", "/status")[0] == 200
    assert stack.ops("GET", "/metrics")[0] == 200


def test_a_fastcgi_peer_without_the_token_is_refused(stack):
    """What a www-data process could do: talk FastCGI to the socket, set any param it likes."""
    stack.get(f"{API}/40/")
    before = json.loads(stack.ops("GET", "/status")[2]).get("operations_refused", 0)
    token = getattr(stack, "operations_token", "")
    for extra in ({}, {"FIBCACHE_OPERATIONS": ""}, {"FIBCACHE_OPERATIONS": "1"},
                  {"FIBCACHE_OPERATIONS": "0" * 64}, {"FIBCACHE_OPERATIONS": token[:-1]},
                  {"HTTP_FIBCACHE_OPERATIONS": token}):
        for method, path in OPERATIONS:
            status, headers, body = answer(stack.socket, method, path, **extra)
            assert status == 403, (method, path, extra.keys(), body)
            assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
            assert "operations server" in json.loads(body)["error"]
    assert stack.get(f"{API}/40/")[1]["x-cache"] == "HIT", "not evicted"
    status = json.loads(stack.ops("GET", "/status")[2])
    assert status["operations_refused"] - before == 18
    assert f"fibcache_operations_refused_total {before + 18}" in stack.ops("GET", "/metrics")[2].decode()
    # Monitoring stays open, and reading values is for everyone.
    assert answer(stack.socket, "GET", "/healthz")[0] == 200
    assert answer(stack.socket, "GET", f"{API}/40/")[0] == 200


def test_the_right_token_straight_to_the_socket_is_an_operation(stack):
    """The token is the mark, wherever it comes from: only root (and fibcache) can read it."""
    status, _, body = answer(stack.socket, "GET", "/status", FIBCACHE_OPERATIONS=stack.operations_token)
    assert status == 200 and "operations_refused" in json.loads(body)


def test_a_client_header_never_becomes_the_mark(stack):
    """nginx passes a client's headers as HTTP_* params only; the public server sets the
    param to "" itself, and passes no operation at all."""
    token = stack.operations_token
    for header in ("Fibcache-Operations", "FIBCACHE_OPERATIONS", "X-Fibcache-Operations"):
        status, _, _ = stack.request("DELETE", f"{API}/40/", headers={header: token})
        assert status == 405
        assert stack.get("/status", headers={header: token})[0] == 404


def test_without_a_token_file_every_operation_is_refused(tmp_path):
    sock = tmp_path / "f.sock"
    log = tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BINARY), "--listen", str(sock), "--workers", "2",
                                 "--redis-url", "redis://127.0.0.1:1/1"], stdout=out, stderr=out)
    try:
        wait_until(sock.exists, what="fibcache socket")
        for method, path in OPERATIONS:
            status, _, body = answer(sock, method, path, FIBCACHE_OPERATIONS="any-token-at-all-0123456789")
            assert status == 403 and "--operations-token-file" in json.loads(body)["error"]
        assert answer(sock, "GET", "/healthz")[0] == 200
    finally:
        proc.terminate()
        proc.wait(10)
    assert "no operations token" in log.read_text()
