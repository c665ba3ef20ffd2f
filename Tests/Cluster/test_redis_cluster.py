"""fibcache on Redis Cluster, proven on simulated hosts: six real redis-server nodes (Debian's 7.0;
three primaries, a replica each) on 127.0.4.1 .. 127.0.4.6, two fibcache hosts on 127.0.5.1 and
127.0.5.2 (--redis-url redis+cluster://<the three primaries>/), the shipped nginx site in front
(test_cluster.Balancer, on 127.0.3.1: test_cluster's own module fixture is gone by then). The nodes
run authenticated (ACL users, no anonymous access: redis_cluster.ClusterAuth). Every load is
bounded in time and count; everything is stopped by PID, pass or fail. Run by `make test-cluster`
(scripts/pytest Tests/Cluster -s): the figures printed go into the closing note.

One cluster for the module, the tests in file order, each leaving a working cluster for the next:
the spread (on fresh keys), DELETE, a reshard (moves slots, the cluster stays whole), a primary
frozen (cluster-node-timeout raised for it, so no failover: the same primaries after), and last
the kill -9 (a primary gone for good, its replica promoted). Nothing skips: a redis-server without
cluster support fails the fixture.
"""
import json
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import BINARY, NGINX, REDIS_CLI, REDIS_SERVER, Load, fastcgi_answer, fastcgi_status, free_port, stop_process, wait_until
from evictions import delete_reaches_the_other
from redis_cluster import RedisCluster, key_slot
from test_cluster import API, Balancer

HOSTS = ["127.0.5.1", "127.0.5.2"]
COMMAND_TIMEOUT = "250ms"
MOVED_SLOTS = 1000


def key(n):
    return f"fibonacci_{n}"


def ns_in(slots, start, count, inside=True):
    """`count` values of n from `start` up whose key is (or, inside=False, is not) in `slots`."""
    found, n = [], start
    while len(found) < count:
        if (key_slot(key(n)) in slots) == inside:
            found.append(n)
        n += 1
    return found


class FibcacheOnCluster:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.redis = RedisCluster(self.dir / "redis")
        self.hosts = []   # (address, port, process, log path)
        self.balancer = None
        self.operations_token = secrets.token_hex(32)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "operations-token").write_text(self.operations_token + "\n")

    def start(self):
        started = time.monotonic()
        self.redis.start()
        formed = time.monotonic() - started
        # The seeds: the three primaries redis-cli --cluster create made (db 0: a cluster has no other).
        self.url = f"redis+cluster://fibcache:@{','.join(n.address for n in self.redis.initial_primaries)}/"
        passwords = self.redis.auth.fibcache_args(self.dir / "secrets")
        for address in HOSTS:
            port = free_port(address)
            log_path = self.dir / f"fibcache-{address}.log"
            with open(log_path, "ab") as log:
                proc = subprocess.Popen([str(BINARY), "--listen", f"{address}:{port}", "--allow-from", "127.0.0.1",
                                         "--workers", "32", "--redis-url", self.url, "--redis-command-timeout", COMMAND_TIMEOUT,
                                         *passwords, "--operations-token-file", str(self.dir / "operations-token")],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            self.hosts.append((address, port, proc, log_path))
        for address, port, proc, log_path in self.hosts:
            wait_until(lambda: self.status(address) is not None or proc.poll() is not None, what=f"fibcache on {address}")
            assert proc.poll() is None, log_path.read_text()
            try:
                wait_until(lambda: self.ready(address), timeout=15, what=f"/readyz of {address}")
            except TimeoutError:
                raise AssertionError(f"{address} not ready: {self.ask(address, 'GET', '/readyz')}\n{self.logs()}")
        self.balancer = Balancer(self.dir / "lb", [f"{a}:{p} max_fails=1 fail_timeout=5s" for a, p, _, _ in self.hosts],
                                 self.operations_token)
        wait_until(lambda: self.balancer.get(f"{API}/1/")[0] == 200, what="the balancer answering")
        print(f"\nRedis Cluster of 6 nodes formed in {formed:.2f} s, fibcache hosts ready after {time.monotonic() - started:.2f} s")
        return self

    def ask(self, address, method, path):
        """A request straight to one host (FastCGI over TCP, from 127.0.0.1 like nginx): (headers, body)."""
        port = next(p for a, p, _, _ in self.hosts if a == address)
        return fastcgi_answer((address, port), method, path, token=self.operations_token)

    def ready(self, address):
        try:
            headers, body = self.ask(address, "GET", "/readyz")
            return headers.get("Status", "").startswith("200") and json.loads(body)["status"] == "ready"
        except (OSError, ValueError, StopIteration):
            return False

    def status(self, address):
        try:
            port = next(p for a, p, _, _ in self.hosts if a == address)
            return fastcgi_status((address, port), token=self.operations_token)
        except (OSError, ValueError):
            return None

    def statuses(self):
        return [self.status(a) for a in HOSTS]

    def computations(self):
        return sum(s["computations"] for s in self.statuses())

    def store_totals(self):
        """cache_store's counts summed over the hosts."""
        stores = [s["cache_store"] for s in self.statuses()]
        return {"moved": sum(s["redirects"]["moved"] for s in stores), "ask": sum(s["redirects"]["ask"] for s in stores),
                "map_refreshes": sum(s["map_refreshes"] for s in stores)}

    def warm(self, ns, parallel=8):
        """GET each n once through the balancer (`parallel` at a time: 1 for n past the cheap limit,
        since fibcache admits one such computation per client, and all the load comes from
        127.0.0.1): [(n, status, X-Cache)]."""
        def one(n):
            status, headers, _ = self.balancer.get(f"{API}/{n}/", timeout=10)
            return n, status, headers.get("x-cache")
        with ThreadPoolExecutor(parallel) as pool:
            return list(pool.map(one, ns))

    def logs(self):
        return "\n".join(f"--- {address}:\n{log_path.read_text(errors='replace')[-3000:]}" for address, _, _, log_path in self.hosts)

    def stop(self):
        try:
            if self.balancer:
                self.balancer.stop()
                wait_until(lambda: not Path(f"/proc/{self.balancer.pid}").exists(), what="nginx exit")
        finally:
            for _, _, proc, _ in self.hosts:
                stop_process(proc)
            self.redis.stop()


@pytest.fixture(scope="module")
def cluster():
    for tool in (REDIS_SERVER, REDIS_CLI, NGINX):
        assert shutil.which(tool) or Path(tool).exists(), f"{tool} missing: scripts/install-deps faults"
    with tempfile.TemporaryDirectory(prefix="fibcache-redis-cluster-") as d:
        c = FibcacheOnCluster(d)
        try:
            yield c.start()
        finally:
            c.stop()


def test_keys_spread_over_the_primaries(cluster):
    r = cluster.redis
    # Our slots are Redis' own (the harness picks keys by them): checked against CLUSTER KEYSLOT.
    for k in (key(1), key(7), key(123_456), "{fibonacci_7}:lock"):
        assert key_slot(k) == r.keyslot(k), k
    small = list(range(1, 1001))
    large = list(range(200_000, 200_030))  # not cheap: each computed under its lock, which must go
    answers = cluster.warm(small) + cluster.warm(large, parallel=1)
    assert [a for a in answers if a[1] != 200] == []
    primaries = r.primaries()
    held = {p.address: r.node(p).keys("fibonacci_*") for p in primaries}
    misplaced = [(n, address) for n in small + large for address, keys in held.items()
                 if key(n) in keys and key_slot(key(n)) not in next(p for p in primaries if p.address == address).slots]
    missing = [n for n in small + large if not any(key(n) in keys for keys in held.values())]
    shares = {address: sum(1 for n in small if key(n) in keys) / len(small) for address, keys in held.items()}
    print(f"1,000 small n + 30 large through the balancer: {dict(Counter(a[2] for a in answers))}; share of the small n per primary "
          + ", ".join(f"{address} {share:.1%}" for address, share in shares.items()))
    assert missing == [] and misplaced == [], (missing[:10], misplaced[:10])
    assert all(0.20 <= share <= 0.47 for share in shares.values()), shares
    # Locks released on the node that holds their value's slot (no node keeps one).
    wait_until(lambda: not any(node.keys("*lock*") for node in r.live()), timeout=3, what="every lock key gone")
    # What the hosts report: the cluster store, its nodes the primaries, every slot served.
    for address in HOSTS:
        store = cluster.status(address)["cache_store"]
        assert store["kind"] == "redis-cluster"
        assert sorted(node["address"] for node in store["nodes"]) == [p.address for p in primaries], store
        assert sum(node["slots"] for node in store["nodes"]) == 16384, store
        metrics = cluster.ask(address, "GET", "/metrics")[1].decode()
        for name in ('fibcache_redis_redirects_total{kind="moved"}', 'fibcache_redis_redirects_total{kind="ask"}',
                     "fibcache_redis_slot_map_refreshes_total"):
            assert name in metrics, name


def test_a_delete_through_one_host_reaches_the_other(cluster):
    """Each primary sends the invalidations of its own slots: every host must hear all three."""
    a, b = HOSTS
    ns = list(range(7000, 7100))
    per_primary = Counter(cluster.redis.owner(key_slot(key(n))).address for n in ns)
    assert len(per_primary) == 3 and min(per_primary.values()) >= 10, per_primary
    delays = delete_reaches_the_other(cluster.ask, a, b, ns)
    print(f"DELETE through {a} -> {b} no longer serves its copy: median {statistics.median(delays) * 1000:.2f} ms, "
          f"max {max(delays) * 1000:.2f} ms over {len(delays)} DELETEs (n per primary: {dict(per_primary)})")
    assert max(delays) < 2


def test_slot_migration_while_serving(cluster):
    """redis-cli --cluster reshard of 1,000 slots under a mixed load: nothing fails, and the values
    cached in those slots beforehand are found at their new home (MOVED / ASK followed), not recomputed."""
    r = cluster.redis
    wait_until(r.healthy, timeout=20, what="a healthy cluster")
    source, target = r.primaries()[:2]
    # redis-cli moves a source's lowest-numbered slots first; checked against the outcome below.
    moving = set(sorted(source.slots)[:MOVED_SLOTS])
    hot = ns_in(moving, 20_000, 200)     # cached, then asked by the load throughout
    quiet = ns_in(moving, 26_000, 100)   # cached through host A only, then left alone until the end
    fresh = ns_in(moving, 30_000, 2000)  # never cached: computed and stored while their slot moves
    a, b = HOSTS
    warmed = cluster.warm(hot) + [(n, 200, cluster.ask(a, "GET", f"{API}/{n}/")[0].get("X-Cache")) for n in quiet]
    assert [w for w in warmed if w[1] != 200 or w[2] != "MISS"] == []
    assert {key(n) for n in hot + quiet} <= r.node(source).keys("fibonacci_*")
    before = cluster.store_totals()

    def fresh_path(i, k):
        return f"{API}/{fresh[i + 4 * k] if i + 4 * k < len(fresh) else hot[k % len(hot)]}/"

    with Load(cluster.balancer, lambda i, k: f"{API}/{hot[(i * 31 + k) % len(hot)]}/", threads=4, limit=40, pause=0.005) as hot_load, \
            Load(cluster.balancer, fresh_path, threads=4, limit=40, pause=0.005) as fresh_load:
        time.sleep(1)
        took = r.reshard(source, target, MOVED_SLOTS)
        wait_until(r.healthy, timeout=20, what="a healthy cluster after the reshard")
        time.sleep(1)
    owner_now = {e.id: e for e in r.primaries()}
    assert moving <= owner_now[target.id].slots and not moving & owner_now[source.id].slots
    moved_keys = {key(n) for n in hot + quiet}
    assert moved_keys <= r.node(target).keys("fibonacci_*") and not moved_keys & r.node(source).keys("fibonacci_*")
    # Asked again: a HIT, nothing computed. B never held the quiet values: it reads them from
    # their new home (not from its process copy); A's copies of them may or may not have been
    # dropped by the migration (MIGRATE deletes them on the source).
    computations = cluster.computations()
    outcomes, local = Counter(), Counter()
    for group, ns, hosts in (("hot", hot, HOSTS), ("quiet", quiet, [b]), ("quiet on A", quiet, [a])):
        for n in ns:
            for host in hosts:
                headers, _ = cluster.ask(host, "GET", f"{API}/{n}/")
                outcomes[group, headers.get("X-Cache")] += 1
                local[group] += 'desc="HIT local"' in headers.get("Server-Timing", "")
    recomputed = cluster.computations() - computations
    after = cluster.store_totals()
    redirects = {kind: after[kind] - before[kind] for kind in ("moved", "ask")}
    results = hot_load.results + fresh_load.results
    print(f"reshard of {MOVED_SLOTS} slots {source.address} -> {target.address} took {took:.2f} s under load: "
          f"{len(results)} requests, {sum(1 for x in results if x[1] != 200)} non-2xx, outcomes hot "
          f"{dict(Counter(x[2] for x in hot_load.results))} fresh {dict(Counter(x[2] for x in fresh_load.results))}, "
          f"worst {max(hot_load.worst, fresh_load.worst) * 1000:.0f} ms; redirects moved {redirects['moved']} ask {redirects['ask']}, "
          f"slot map refreshes {after['map_refreshes'] - before['map_refreshes']}; migrated values asked again: "
          f"{dict(outcomes)}, from a process copy {dict(local)}; {recomputed} computed")
    assert [x for x in results if x[1] != 200] == []
    assert [x for x in hot_load.results if x[2] == "MISS"] == [], "a value cached before the reshard was recomputed"
    assert outcomes == Counter({("hot", "HIT"): 2 * len(hot), ("quiet", "HIT"): len(quiet), ("quiet on A", "HIT"): len(quiet)})
    assert local["quiet"] == 0 and recomputed == 0
    assert redirects["moved"] + redirects["ask"] > 0


def test_a_frozen_primary(cluster):
    """SIGSTOP a primary for 8 s. cluster-node-timeout is raised to 30 s for this test, so the
    cluster does not fail it over: the frozen node keeps its slots throughout, and what is measured
    is fibcache's command timeout against a node that accepts connections and never answers (the
    failover is the kill -9 test's). Its slots: answered uncached in about the timeout; the others' slots: HIT."""
    r = cluster.redis
    wait_until(r.healthy, timeout=20, what="a healthy cluster")
    r.set_node_timeout(30_000)
    frozen = r.primaries()[-1]
    node = r.node(frozen)
    try:
        elsewhere_ns = ns_in(frozen.slots, 90_000, 40, inside=False)
        assert [w for w in cluster.warm(elsewhere_ns) if w[1] != 200] == []
        fresh = ns_in(frozen.slots, 100_000, 4000)
        with Load(cluster.balancer, lambda i, k: f"{API}/{fresh[(i + 4 * k) % len(fresh)]}/", threads=4, limit=20, pause=0.02) as on_frozen, \
                Load(cluster.balancer, lambda i, k: f"{API}/{elsewhere_ns[(i * 7 + k) % len(elsewhere_ns)]}/", threads=4, limit=20,
                     pause=0.02) as elsewhere:
            time.sleep(1)
            node.pause()
            frozen_at = time.monotonic()
            time.sleep(8)
            node.resume()
            thawed = time.monotonic()
            time.sleep(3)
    finally:
        node.resume()
        r.set_node_timeout(1000)
    assert frozen.address in [e.address for e in r.primaries()], "no failover meanwhile"
    its = on_frozen.between(frozen_at, thawed)
    others = elsewhere.between(frozen_at, thawed)
    latencies = sorted(x[3] for x in its)
    # Caching on the thawed primary resumes by itself: the load's first MISS after the thaw, and
    # (once the cluster is healthy) fresh values of its slots found on it within 10 s.
    first_miss = min((x[0] for x in on_frozen.results if x[0] >= thawed and x[2] == "MISS"), default=None)
    resumed = first_miss and first_miss - thawed
    wait_until(r.healthy, timeout=20, what="a healthy cluster after the freeze")
    probes = iter(ns_in(frozen.slots, 115_000, 300))
    wait_until(lambda: cluster.balancer.get(f"{API}/{(n := next(probes))}/")[1].get("x-cache") == "MISS"
               and node.cli("exists", key(n)) == "1", timeout=10, what="caching on the thawed primary")
    results = on_frozen.results + elsewhere.results
    print(f"primary {frozen.address} frozen 8 s: {len(its)} requests for its slots meanwhile, {dict(Counter(x[2] for x in its))}, "
          f"median {statistics.median(latencies) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
          f"(command timeout {COMMAND_TIMEOUT}); {len(others)} for other slots: {dict(Counter(x[2] for x in others))}, "
          f"max {max(x[3] for x in others) * 1000:.0f} ms; {sum(1 for x in results if x[1] != 200)} non-2xx of {len(results)}; "
          f"first MISS stored on it {resumed and round(resumed, 2)} s after the thaw")
    assert [x for x in results if x[1] != 200] == []
    assert len(its) > 20 and len(others) > 100
    assert latencies[-1] < 2, latencies[-5:]
    assert [x for x in others if x[2] != "HIT"] == [], Counter(x[2] for x in others)


def test_kill_9_of_a_primary_under_mixed_traffic(cluster):
    """Last: the killed primary stays dead. Its replica is promoted by the cluster; meanwhile
    nothing fails (BYPASS at worst), and values of its slots are cached again, on the promoted node."""
    r = cluster.redis
    wait_until(r.healthy, timeout=20, what="a healthy cluster")
    primaries = r.primaries()
    victim, witness = primaries[0], r.node(primaries[1])
    replica = r.replica_of(victim)
    promoted = r.node(replica)
    hot = list(range(80_000, 80_050))
    assert [w for w in cluster.warm(hot) if w[1] != 200] == []
    probes = ns_in(victim.slots, 120_000, 2000)
    # The probes' slot asked of a live node: the victim's.
    assert r.keyslot(key(probes[0]), via=witness) in victim.slots

    def path(i, k):
        """Hot values and fresh ones: client 0's past the cheap limit (under their lock; one at a
        time, as fibcache admits one such computation per client), the others' cheap."""
        if k % 2:
            return f"{API}/{hot[(i * 7 + k) % len(hot)]}/"
        return f"{API}/{300_000 + k if i == 0 else 130_000 + i * 2_500 + k // 2}/"

    probe_answers = []
    promoted_after = cached_after = hit_after = None
    with Load(cluster.balancer, path, threads=8, limit=20, pause=0.005) as load:
        time.sleep(1)
        r.node(victim).kill()
        killed = time.monotonic()
        for n in probes:
            if time.monotonic() - killed > 15:
                break
            if promoted_after is None and any(e.address == replica.address and e.is_primary for e in r.topology(witness)):
                promoted_after = time.monotonic() - killed
            status, headers, _ = cluster.balancer.get(f"{API}/{n}/", timeout=10)
            probe_answers.append((time.monotonic() - killed, status, headers.get("x-cache")))
            if promoted.cli("exists", key(n)) == "1":  # before the promotion a replica answers MOVED
                cached_after = time.monotonic() - killed
                # Asked again (through either host: the other may learn of the promotion up to
                # half a second later, its slot-map refreshes slowed while nothing changed).
                deadline = time.monotonic() + 3
                while hit_after is None and time.monotonic() < deadline:
                    status, headers, _ = cluster.balancer.get(f"{API}/{n}/", timeout=10)
                    probe_answers.append((time.monotonic() - killed, status, headers.get("x-cache")))
                    hit_after = time.monotonic() - killed if headers.get("x-cache") == "HIT" else None
                    time.sleep(0.05)
                break
            time.sleep(0.05)
        if promoted_after is None:
            wait_until(lambda: any(e.address == replica.address and e.is_primary for e in r.topology(witness)), timeout=15,
                       what="the replica promoted")
            promoted_after = time.monotonic() - killed
        time.sleep(1)
    after_kill = load.between(killed, killed + 30)
    results = load.results + [(0, status, cache, 0) for _, status, cache in probe_answers]
    print(f"primary {victim.address} killed (-9) under 8 clients: replica {replica.address} promoted after {promoted_after:.2f} s; "
          f"a fresh value of its slots stored on it after {cached_after and round(cached_after, 2)} s, a HIT after "
          f"{hit_after and round(hit_after, 2)} s ({len(probe_answers)} probes: {dict(Counter(p[2] for p in probe_answers))}); "
          f"load after the kill {dict(Counter(x[2] for x in after_kill))}, worst {load.worst * 1000:.0f} ms; "
          f"{sum(1 for x in results if x[1] != 200)} non-2xx of {len(results)}")
    assert [x for x in results if x[1] != 200] == []
    assert cached_after is not None and cached_after < 10, probe_answers[-5:]
    assert hit_after is not None and hit_after < 10, probe_answers[-5:]
