"""The hit path under attack (issue 13), for `make bench`: wrk measures hits (n=40, cached, from this
host) alone and while each of the issue's attacks is replayed against the same shipped stack, in
interleaved rounds; the target is a hit p99 under attack of at most twice the p99 alone. The attacks
are the issue's, at the issue's rates (each was enough to take the old service down), bounded by the run:

  hung up     70 iterative misses at once, their clients hanging up after 0.39 s; again every second
  misses      80 concurrent iterative misses (distinct n from 50 000 up), a new batch every second
  recursive   16 concurrent recursive requests for F(38..45), a new batch every second
  trickling   8 FastCGI peers sending a request a byte every 0.5 s, straight to fibcache's socket

An attacker is one remote client, as deployed: the bench's nginx takes the client address from
X-Forwarded-For sent by this host (real_ip, as behind a proxy), so the site's per-client limits
apply to the attack and not to the hits, which come from this host (exempt). The rows "from this
host" leave the attacker exempt too: what fibcache's admission does alone. "hit flood" is a control,
not an attack: 64 connections of hits for another value, as fast as they go.
"""
import random
import select
import socket
import statistics
import struct
import subprocess
import threading
import time

# (row, kind, from a remote client)
ATTACKS = (("hung up", "hung up", True), ("misses", "misses", True), ("recursive", "recursive", True),
           ("trickling", "trickling", False), ("hung up, this host", "hung up", False),
           ("misses, this host", "misses", False), ("hit flood (control)", "hit flood", False))
HIT_CONNECTIONS = 32
# An address of documentation (RFC 5737): the attacker, as nginx sees it.
ATTACKER = "192.0.2.7"
# For the bench's http block: trust X-Forwarded-For from this host, as behind a proxy.
REAL_IP = "set_real_ip_from 127.0.0.1;\nreal_ip_header X-Forwarded-For;\n"



class Attack:
    """Runs one attack in the background until stopped."""

    def __init__(self, kind, remote, stack, pinned):
        self.kind, self.remote, self.stack, self.pinned = kind, remote, stack, pinned
        self.header = f"X-Forwarded-For: {ATTACKER}\r\n" if remote else ""
        self.stop_event = threading.Event()
        self.process = None
        self.threads = []

    def __enter__(self):
        port = self.stack.http_port
        if self.kind == "hit flood":
            self.process = subprocess.Popen([*self.pinned, "wrk", "-t1", "-c64", "-d600s", "--timeout", "10s",
                                             f"http://127.0.0.1:{port}/api/fibonacci/number/41/"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif self.kind == "trickling":
            self.threads = [threading.Thread(target=self._trickle, daemon=True) for _ in range(8)]
        else:
            self.threads = [threading.Thread(target=self._batches, daemon=True)]
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)  # under way before the hits are measured
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        if self.process:
            self.process.terminate()
            self.process.wait(10)
        for thread in self.threads:
            thread.join(15)
        time.sleep(1)  # what the attack left running stops or is refused

    def _paths(self):
        if self.kind == "recursive":
            return [f"/api/fibonacci/number/{random.randint(38, 45)}/?algorithm=recursive" for _ in range(16)]
        count, low = (70, 90_000) if self.kind == "hung up" else (80, 50_000)
        return [f"/api/fibonacci/number/{n}/?algorithm=iterative" for n in random.sample(range(low, 100_001), count)]

    def _batches(self):
        """A batch of requests at once every second; `hung up` closes them after 0.39 s, the
        others read their answers (at most 10 s)."""
        while not self.stop_event.is_set():
            started = time.monotonic()
            sockets = []
            for path in self._paths():
                try:
                    s = socket.create_connection(("127.0.0.1", self.stack.http_port), timeout=10)
                    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{self.header}\r\n".encode())
                    sockets.append(s)
                except OSError:
                    pass
            if self.kind == "hung up":
                self.stop_event.wait(0.39)
            else:
                deadline = started + 10
                pending = list(sockets)
                while pending and time.monotonic() < deadline:
                    readable, _, _ = select.select(pending, [], [], 0.1)
                    for s in readable:
                        try:
                            if not s.recv(65536):
                                pending.remove(s)
                        except OSError:
                            pending.remove(s)
            for s in sockets:
                s.close()
            self.stop_event.wait(max(0.0, 1 - (time.monotonic() - started)))

    def _trickle(self):
        request = (struct.pack(">BBHHBB", 1, 1, 1, 8, 0, 0) + struct.pack(">HB5x", 1, 1)
                   + struct.pack(">BBHHBB", 1, 4, 1, 200, 0, 0) + bytes(200))
        while not self.stop_event.is_set():
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(str(self.stack.socket))
                for byte in request:
                    s.send(bytes([byte]))
                    if self.stop_event.wait(0.5):
                        break
            except OSError:
                pass  # cut by fibcache's deadline: come back
            finally:
                s.close()


def hits_under_attacks(stack, wrk, rounds, pinned):
    """{scenario: median hit sample} for "alone" and each attack, plus p99 ratios."""
    path = "/api/fibonacci/number/40/"
    stack.get("/api/fibonacci/number/41/")  # the hit flood's value, cached
    runs = {name: [] for name in ("alone", *(row for row, _, _ in ATTACKS))}
    for _ in range(rounds):
        runs["alone"].append(wrk(stack.http_port, path, HIT_CONNECTIONS))
        for row, kind, remote in ATTACKS:
            with Attack(kind, remote, stack, pinned):
                runs[row].append(wrk(stack.http_port, path, HIT_CONNECTIONS))
    result = {}
    for name, samples in runs.items():
        result[name] = {key: statistics.median(s[key] for s in samples)
                        for key in ("requests_per_second", "p50_ms", "p99_ms")}
        result[name].update(max_ms=max(s["max_ms"] for s in samples),
                            failures=sum(s["non_2xx"] + s["socket_errors"] for s in samples))
    alone = result["alone"]["p99_ms"]
    for row, _, _ in ATTACKS:
        result[row]["p99_to_alone"] = result[row]["p99_ms"] / alone
    return result


def print_attacks(result):
    print(f"\nhits (n=40, wrk -c{HIT_CONNECTIONS}) alone and under attack, medians; target: p99 under attack <= 2x alone")
    print(f"{'scenario':<22}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>9}{'failed':>8}{'p99/alone':>11}")
    for name, x in result.items():
        ratio = f"{x['p99_to_alone']:.2f}" if "p99_to_alone" in x else "-"
        print(f"{name:<22}{x['requests_per_second']:>9.0f}{x['p50_ms']:>8.2f}{x['p99_ms']:>8.2f}{x['max_ms']:>9.1f}"
              f"{x['failures']:>8}{ratio:>11}")
