#!/usr/bin/env python3
"""`make bench-cluster`: hits through one Redis beside hits through a three-primary Redis Cluster,
measured side by side in one run, and the sizing of the cache's memory (BENCHMARKS.md).

Two stacks, each the shipped site (nginx, access_log off) in front of one fibcache: one on a
redis-server, one on a Redis Cluster of six real nodes (three primaries with a replica each,
Tests/Support/redis_cluster.py). The in-process copy is off in both (`--local-cache-mb 0`), so
that every hit is a `GETRANGE` on Redis — with it on, both answer hot values from the copy and
neither Redis is asked. wrk asks for 1,000 distinct warm values in turn (bench/rotate.lua: their
keys spread over every primary), at BENCH_CONNECTIONS (32,256), interleaved rounds (median of
BENCH_ROUNDS, 3): req/s, p99, CPU-µs per hit of fibcache, of the Redis processes and of nginx,
and every failure.

Then the memory a cached value takes in Redis (`MEMORY USAGE fibonacci_<n>`) for n from 10 to
10⁶, values per GiB, and how many primaries a working set needs. Writes bench/results/cluster.json.
"""
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import RESULTS, SERVER_CPUS, cpu_per_request, line_count, nginx_workers, pinned, processes, wrk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "Support"))
from redis_cluster import RedisCluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = tuple(int(c) for c in os.environ.get("BENCH_CONNECTIONS", "32,256").split(","))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
FIRST, COUNT = 1000, 1000
SIZES = (10, 100, 1_000, 10_000, 100_000, 1_000_000)
# A primary's memory for values: maxmemory less room for replication buffers and fragmentation.
USABLE_SHARE = 0.75


def stack(directory, redis_args=()):
    return processes.Stack(directory, binary=ROOT / ".build" / "release" / "fibcache", launcher=pinned(SERVER_CPUS),
                           with_redis=not redis_args,
                           fibcache_args=["--log-level", "warning", "--local-cache-mb", "0", *redis_args],
                           render_args=["--no-access-log"])


def warm(s):
    for n in range(FIRST, FIRST + COUNT):
        status, headers, _ = s.get(f"/api/fibonacci/number/{n}/")
        assert status == 200, (n, status)
    status, headers, _ = s.get(f"/api/fibonacci/number/{FIRST}/")
    assert headers.get("x-cache") == "HIT", headers


def hits(stacks, redis_pids):
    results = {}
    for connections in CONNECTIONS:
        runs = {name: [] for name in stacks}
        for _ in range(ROUNDS):
            for name, s in stacks.items():
                error_log = s.dir / "nginx-error.log"
                before = line_count(error_log)
                roles = {"fibcache": [s.fibcache.pid], "redis": redis_pids[name], "nginx": nginx_workers(s.nginx_pid)}
                sample = cpu_per_request(roles, lambda: wrk(s.http_port, "/", connections, ROOT / "bench" / "rotate.lua",
                                                            (FIRST, COUNT)))
                sample["nginx_errors"] = line_count(error_log) - before
                runs[name].append(sample)
                time.sleep(0.5)
        results[connections] = {name: {
            "requests_per_second": statistics.median(x["requests_per_second"] for x in samples),
            "p99_ms": statistics.median(x["p99_ms"] for x in samples),
            **{f"cpu_us_{role}": statistics.median(x["cpu_us"][role] for x in samples)
               for role in ("fibcache", "redis", "nginx", "total")},
            "failures": sum(x["non_2xx"] + x["socket_errors"] + x["nginx_errors"] for x in samples),
        } for name, samples in runs.items()}
    return results


def sizing(s):
    """Bytes Redis spends on one value of F(n), as it reports them."""
    sizes = {}
    for n in SIZES:
        status, _, body = s.get(f"/api/fibonacci/number/{n}/", timeout=60)
        assert status == 200, (n, status)
        used = int(s.redis.cli("memory", "usage", f"fibonacci_{n}", "samples", "0"))
        digits = len(body) - len('{"fibonacci": }')
        sizes[n] = {"digits": digits, "bytes": used, "values_per_gib": int(2**30 / used)}
    return sizes


def primaries_needed(bytes_per_value, values, gib_per_primary):
    return max(1, math.ceil(values * bytes_per_value / (gib_per_primary * 2**30 * USABLE_SHARE)))


def main():
    with tempfile.TemporaryDirectory(prefix="fibcache-bench-cluster-") as tmp:
        cluster = RedisCluster(Path(tmp) / "cluster")
        stacks = {}
        try:
            cluster.start()
            url = f"redis+cluster://fibcache:@{','.join(n.address for n in cluster.initial_primaries)}/"
            stacks["one Redis"] = stack(Path(tmp) / "one")
            stacks["cluster, 3 primaries"] = stack(Path(tmp) / "cluster-stack",
                                                   ["--redis-url", url, *cluster.auth.fibcache_args(Path(tmp) / "secrets")])
            for s in stacks.values():
                s.start()
                warm(s)
            redis_pids = {"one Redis": [stacks["one Redis"].redis.proc.pid],
                          "cluster, 3 primaries": [n.proc.pid for n in cluster.nodes if n.alive()]}
            results = {"hits": hits(stacks, redis_pids), "sizes": sizing(stacks["one Redis"])}
        finally:
            for s in stacks.values():
                s.stop()
            cluster.stop()
    print("\nhits from Redis (in-process copy off), 1,000 distinct values in turn; median of", ROUNDS, "rounds")
    print(f"{'':>6} {'':22} {'req/s':>9} {'p99 ms':>7} {'fibcache µs':>11} {'Redis µs':>9} {'nginx µs':>9} {'failed':>6}")
    for connections, by_name in results["hits"].items():
        for name, r in by_name.items():
            print(f"{connections:>6} {name:22} {r['requests_per_second']:>9,.0f} {r['p99_ms']:>7.2f} "
                  f"{r['cpu_us_fibcache']:>11.1f} {r['cpu_us_redis']:>9.1f} {r['cpu_us_nginx']:>9.1f} {r['failures']:>6}")
        one, many = by_name["one Redis"], by_name["cluster, 3 primaries"]
        print(f"{'':>6} cluster / one Redis: {many['requests_per_second'] / one['requests_per_second']:.2f}x req/s")
    print("\nmemory per cached value (MEMORY USAGE), values per GiB, primaries for a working set "
          f"({USABLE_SHARE:.0%} of maxmemory for values)")
    print(f"{'n':>9} {'digits':>8} {'bytes':>9} {'per GiB':>11} {'1M values @16 GiB':>18} {'1M values @64 GiB':>18}")
    for n, size in results["sizes"].items():
        print(f"{n:>9,} {size['digits']:>8,} {size['bytes']:>9,} {size['values_per_gib']:>11,} "
              f"{primaries_needed(size['bytes'], 1_000_000, 16):>18} {primaries_needed(size['bytes'], 1_000_000, 64):>18}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
