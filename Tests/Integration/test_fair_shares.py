"""Issue 23, requirement 4: one client cannot take every computation. On 2 cores
fibcache has one computation slot and two waiting places; before, one client sending
~35 fresh `?algorithm=iterative` misses a second (within nginx's 50 r/s) held them all,
and other clients' cold requests got 503. Now nginx passes the client's address
(FIBCACHE_CLIENT) and limits the costly algorithms to 2 r/s per client, fibcache lets a
client have one computation running or waiting, and slots go first come, first served.
127.0.0.2 and 127.0.0.3 stand for two remote clients (127.0.0.1 is exempt from the limits)."""
import random
import threading
import time

from conftest import fastcgi_request

API = "/api/fibonacci/number"
FLOODER = "127.0.0.2"
OTHER = "127.0.0.3"


class Flood:
    """`threads` senders of fresh iterative misses, n from 50,000 up toward 100,000 (each asked once),
    `rate` a second in all, until stopped (at most `limit` s); statuses recorded."""

    def __init__(self, send, rate=35, threads=8, limit=60):
        self.send, self.period, self.limit = send, threads / rate, limit
        self.statuses = []
        self.stop = threading.Event()
        self.next_n = iter(range(50_000, 100_001))
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def run(self):
        deadline = time.monotonic() + self.limit
        while not self.stop.is_set() and time.monotonic() < deadline:
            start = time.monotonic()
            with self.lock:
                n = next(self.next_n)
            status = self.send(n)
            with self.lock:
                self.statuses.append(status)
            self.stop.wait(max(0.0, self.period - (time.monotonic() - start)))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def trickle(send, count=100, rate=10):
    """`count` cold `fast` requests (fresh n above the cheap ones), `rate` a second: their statuses."""
    statuses = []
    for n in random.Random(23).sample(range(150_001, 1_000_000), count):
        start = time.monotonic()
        statuses.append(send(n))
        time.sleep(max(0.0, 1 / rate - (time.monotonic() - start)))
    return statuses


def report(what, flood, statuses):
    served = statuses.count(200)
    print(f"{what}: flood {len(flood.statuses)} requests "
          f"({ {s: flood.statuses.count(s) for s in sorted(set(flood.statuses))} }), "
          f"other client {served}/{len(statuses)} served ({ {s: statuses.count(s) for s in sorted(set(statuses))} })")
    return served


def test_a_flooding_client_leaves_room_for_another_through_nginx(make_stack):
    stack = make_stack()

    def flood_one(n):
        return stack.get(f"{API}/{n}/?algorithm=iterative", source=FLOODER, timeout=30)[0]

    def trickle_one(n):
        return stack.get(f"{API}/{n}/", source=OTHER, timeout=30)[0]

    with Flood(flood_one) as flood:
        time.sleep(1)  # the flood under way
        statuses = trickle(trickle_one)
    served = report("through nginx", flood, statuses)
    assert served >= 0.99 * len(statuses)
    assert len(flood.statuses) >= 200, "the flood ran at about 35 r/s"


def test_fibcache_itself_gives_a_client_one_computation(make_stack):
    """Without nginx's limits (FastCGI straight to fibcache, as nginx would pass the two
    clients): the flooder's misses past its one computation get 503 at once."""
    stack = make_stack()

    def send(n, client, query=""):
        raw = fastcgi_request(stack.socket, {
            "REQUEST_METHOD": "GET", "DOCUMENT_URI": f"{API}/{n}/", "QUERY_STRING": query,
            "REQUEST_URI": f"{API}/{n}/" + (f"?{query}" if query else ""), "FIBCACHE_CLIENT": client})
        head = raw.partition(b"\r\n\r\n")[0].decode()
        status = next((line.split()[1] for line in head.split("\r\n") if line.startswith("Status:")), "200")
        return int(status)

    with Flood(lambda n: send(n, "198.51.100.7", "algorithm=iterative")) as flood:
        time.sleep(1)
        statuses = trickle(lambda n: send(n, "203.0.113.9"))
    served = report("straight to fibcache", flood, statuses)
    assert served >= 0.99 * len(statuses)
    assert flood.statuses.count(503) > flood.statuses.count(200), "most of the flood refused at once"
