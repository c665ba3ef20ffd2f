#!/usr/bin/env python3
"""`make bench-defaults`: the deployed defaults against their neighbours, so that they follow a
measurement: fibcache's `--workers` (shipped: 8 per core, at least 16) and the site's upstream
`keepalive` (as nginx/fibcache.site ships it), each varied alone around the shipped pair, at 32, 256 and 1,024
connections. Every variant is a stack of its own (Redis, fibcache, nginx with access_log off), all
started at once and loaded one at a time in interleaved rounds (median of BENCH_ROUNDS, 2 by
default): req/s, p99, CPU-µs per hit of fibcache and of nginx's worker, and every failure
(non-2xx, socket errors, nginx error lines). Writes bench/results/defaults.json."""
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from run import (CONNECTIONS, RESULTS, SERVER_CPUS, WARM_N, cpu_per_request, line_count, nginx_workers,
                 pinned, processes, wrk)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
SHIPPED_WORKERS = max(16, 8 * os.cpu_count())
SHIPPED_KEEPALIVE = int(re.search(r"^\s*keepalive (\d+);", (Path(__file__).resolve().parents[1] / "nginx" / "fibcache.site")
                                    .read_text(), re.M).group(1))
# (workers, keepalive): the shipped pair first, then one setting moved at a time; or
# BENCH_VARIANTS=16:256,16:1024 (the first one is the one marked shipped).
VARIANTS = ([tuple(int(x) for x in v.split(":")) for v in os.environ["BENCH_VARIANTS"].split(",")]
            if os.environ.get("BENCH_VARIANTS") else
            [(SHIPPED_WORKERS, SHIPPED_KEEPALIVE)]
            + [(SHIPPED_WORKERS, keepalive) for keepalive in (32, 256, 1024) if keepalive != SHIPPED_KEEPALIVE]
            + [(SHIPPED_WORKERS // 2, SHIPPED_KEEPALIVE), (SHIPPED_WORKERS * 2, SHIPPED_KEEPALIVE),
               (SHIPPED_WORKERS * 4, SHIPPED_KEEPALIVE)])


def label(workers, keepalive):
    shipped = (workers, keepalive) == (SHIPPED_WORKERS, SHIPPED_KEEPALIVE)
    return f"--workers {workers}, keepalive {keepalive}" + (" (shipped)" if shipped else "")


def variant_stack(directory, workers, keepalive):
    """The shipped stack with only `--workers` and the upstream's keepalive set."""
    return processes.Stack(directory, binary=Path(__file__).resolve().parents[1] / ".build" / "release" / "fibcache",
                           launcher=pinned(SERVER_CPUS), workers=workers, fibcache_args=["--log-level", "warning"],
                           render_args=["--no-access-log", "--keepalive", str(keepalive)])


def main():
    path = f"/api/fibonacci/number/{WARM_N}/"
    results = {}
    with tempfile.TemporaryDirectory(prefix="fibcache-defaults-") as tmp:
        stacks = {}
        try:
            for i, (workers, keepalive) in enumerate(VARIANTS):
                # In the dict before it starts: one that fails half-started is stopped too.
                stacks[(workers, keepalive)] = variant_stack(Path(tmp) / f"v{i}", workers, keepalive)
                stacks[(workers, keepalive)].start()
            for stack in stacks.values():
                for _ in range(2):
                    assert stack.get(path)[0] == 200
            for connections in CONNECTIONS:
                runs = {variant: [] for variant in VARIANTS}
                for _ in range(ROUNDS):
                    for variant, stack in stacks.items():
                        error_log = stack.dir / "nginx-error.log"
                        before = line_count(error_log)
                        roles = {"server": [stack.fibcache.pid], "nginx": nginx_workers(stack.nginx_pid)}
                        sample = cpu_per_request(roles, lambda: wrk(stack.http_port, path, connections))
                        sample["nginx_errors"] = line_count(error_log) - before
                        runs[variant].append(sample)
                        time.sleep(0.5)
                results[connections] = {
                    label(*variant): {
                        "requests_per_second": statistics.median(s["requests_per_second"] for s in samples),
                        "p99_ms": statistics.median(s["p99_ms"] for s in samples),
                        "cpu_us_fibcache": statistics.median(s["cpu_us"]["server"] for s in samples),
                        "cpu_us_nginx": statistics.median(s["cpu_us"]["nginx"] for s in samples),
                        "failures": sum(s["non_2xx"] + s["socket_errors"] + s["nginx_errors"] for s in samples),
                        "rss_kib": processes.rss_kib(stacks[variant].fibcache.pid),
                    } for variant, samples in runs.items()}
        finally:
            for stack in stacks.values():
                stack.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "defaults.json").write_text(json.dumps({"rounds": ROUNDS, "connections": results}, indent=2) + "\n")
    print("| connections | settings | req/s | p99 ms | CPU-µs fibcache | CPU-µs nginx | failures | RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for connections, by_variant in results.items():
        for name, r in by_variant.items():
            print(f"| {connections:,} | {name} | {r['requests_per_second']:,.0f} | {r['p99_ms']:.2f} | "
                  f"{r['cpu_us_fibcache']:.1f} | {r['cpu_us_nginx']:.1f} | {r['failures']} | {r['rss_kib'] / 1024:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
