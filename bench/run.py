#!/usr/bin/env python3
"""`make bench`: fibcache against the ceiling, measured side by side in one run.

Starts Redis, the release fibcache and nginx (loopback, free ports, a temp dir),
plus a second nginx that answers the identical body itself (`return 200`, no
upstream: the ceiling of this stack on this machine). Measures the hit path with
wrk at 32 and 256 connections, cold requests for growing n against GMP's own
in-process time, and fibcache's peak RSS. Prints a table, writes
bench/results/latest.json and, if matplotlib is available, latest.png.
"""
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "Support"))
import stack as processes  # noqa: E402  (the process management the tests use)

RESULTS = ROOT / "bench" / "results"
# As deployed (in-process copy, kept FastCGI connections), every hit asking Redis, nginx alone.
CONFIGS = ("fibcache", "fibcache redis-only", "ceiling")
WARM_N = 40
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
# Rounds of the hit-path runs, interleaved (fibcache, redis-only, ceiling, again...):
# a hiccup of this shared machine spoils one run's p99, not the median of three.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
COLD = [(40, "recursive"), (40, "fast"), (1_000, "fast"), (10_000, "fast"), (100_000, "fast"),
        (1_000_000, "fast"), (1_000, "iterative"), (10_000, "iterative"), (100_000, "iterative")]


def wrk(port, path, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{DURATION}s", "--latency", "--timeout", "10s",
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout

    def ms(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "connections": connections,
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99_ms": ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "max_ms": ms(latency.group(3)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def median_run(samples):
    """Medians over rounds of throughput and percentiles; the worst max; every round kept."""
    result = {key: statistics.median(s[key] for s in samples) for key in ("requests_per_second", "p50_ms", "p99_ms")}
    result.update(connections=samples[0]["connections"], max_ms=max(s["max_ms"] for s in samples),
                  non_2xx=sum(s["non_2xx"] for s in samples), rounds=samples)
    return result


def timed_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    assert response.status == 200, body[:200]
    return elapsed, response.getheader("X-Cache"), len(body)


def start_ceiling(directory, body):
    """A second nginx, in the same frame, answering the identical body without any upstream."""
    port = processes.free_port()
    directory.mkdir()
    site = directory / "ceiling.site"
    site.write_text("server {\n    listen 127.0.0.1:%d;\n    location / {\n        default_type application/json;\n"
                    "        return 200 '%s';\n    }\n}\n" % (port, body.decode()))
    conf = subprocess.run([str(ROOT / "scripts" / "render-nginx-conf"), "--site", str(site), str(directory)],
                          check=True, capture_output=True, text=True).stdout
    (directory / "nginx.conf").write_text(conf)
    subprocess.run([processes.NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
                    "-e", str(directory / "nginx-error.log")], check=True)
    processes.wait_until(lambda: (directory / "nginx.pid").exists(), what="ceiling nginx")
    return port, int((directory / "nginx.pid").read_text())


def rss_kib(pid, field):
    return int(re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def main():
    binary = ROOT / ".build" / "release" / "fibcache"
    compute_bench = ROOT / ".build" / "release" / "ComputeBenchmark"
    sizes = sorted({n for n, _ in COLD})
    gmp = json.loads(subprocess.run([str(compute_bench), *map(str, sizes)], check=True,
                                    capture_output=True, text=True).stdout)
    with tempfile.TemporaryDirectory(prefix="fibcache-bench-") as tmp:
        stack = processes.Stack(Path(tmp) / "stack", fibcache_args=["--workers", "64", "--log-level", "warning"],
                                binary=binary)
        (Path(tmp) / "stack").mkdir()
        stack.start()
        # The same without the in-process copy: every hit is a Redis round trip.
        redis_only = processes.Stack(Path(tmp) / "redis-only", binary=binary,
                                     fibcache_args=["--workers", "64", "--log-level", "warning", "--local-cache-mb", "0"])
        (Path(tmp) / "redis-only").mkdir()
        redis_only.start()
        ceiling_pid = None
        try:
            path = f"/api/fibonacci/number/{WARM_N}/"
            body = stack.get(path)[2]
            assert stack.get(path)[1]["x-cache"] == "HIT"
            redis_only.get(path)
            assert redis_only.get(path)[1]["x-cache"] == "HIT"
            ceiling_port, ceiling_pid = start_ceiling(Path(tmp) / "ceiling", body)
            ports = {"fibcache": stack.http_port, "fibcache redis-only": redis_only.http_port, "ceiling": ceiling_port}
            hit = {}
            for connections in (32, 256):
                runs = {name: [] for name in CONFIGS}
                for _ in range(ROUNDS):
                    for name in CONFIGS:
                        runs[name].append(wrk(ports[name], path, connections))
                hit[connections] = {name: median_run(samples) for name, samples in runs.items()}
            peak_rss = rss_kib(stack.fibcache.pid, "VmHWM")
            cold = []
            for n, algorithm in COLD:
                key = f"fibonacci_{n}"
                samples = []
                for _ in range(5 if n < 1_000_000 or algorithm == "fast" else 1):
                    stack.request("DELETE", f"/api/fibonacci/number/{n}/")  # Redis and the in-process copy
                    elapsed, cache, size = timed_get(stack.http_port, f"/api/fibonacci/number/{n}/?algorithm={algorithm}")
                    assert cache == "MISS"
                    samples.append(elapsed)
                warm = statistics.median(timed_get(stack.http_port, f"/api/fibonacci/number/{n}/")[0] for _ in range(5))
                baseline = gmp[str(n)].get(algorithm)
                cold.append({"n": n, "algorithm": algorithm, "cold_ms": statistics.median(samples) * 1000,
                             "warm_ms": warm * 1000, "body_bytes": size,
                             "gmp_in_process_ms": baseline * 1000 if baseline else None,
                             # The target's yardstick: GMP's compute + conversion plus the transfer,
                             # which is what a warm request of the same bytes costs end to end.
                             "overhead_ratio": statistics.median(samples) / (baseline + warm) if baseline else None})
        finally:
            if ceiling_pid:
                os.kill(ceiling_pid, 15)
            stack.stop()
            redis_only.stop()

    results = {"machine": {"cores": os.cpu_count()}, "duration_s": DURATION, "rounds": ROUNDS, "warm_n": WARM_N,
               "hit": {str(c): v for c, v in hit.items()}, "cold": cold, "peak_rss_kib": peak_rss}
    for c, v in hit.items():
        v["ratio_to_ceiling"] = v["fibcache"]["requests_per_second"] / v["ceiling"]["requests_per_second"]
        v["ratio_redis_only_to_ceiling"] = v["fibcache redis-only"]["requests_per_second"] / v["ceiling"]["requests_per_second"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    chart(results)


def print_table(r):
    print(f"\nhit path (n={r['warm_n']}, {r['duration_s']} s each, median of {r['rounds']} interleaved rounds, same run)")
    print(f"{'config':<28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for c, v in r["hit"].items():
        for name in CONFIGS:
            x = v[name]
            print(f"{name + ' c=' + c:<28}{x['requests_per_second']:>10.0f}{x['p50_ms']:>9.2f}{x['p99_ms']:>9.2f}{x['max_ms']:>9.2f}")
        print(f"{'  ratio fibcache/ceiling':<28}{v['ratio_to_ceiling']:>10.2f}")
        print(f"{'  ratio redis-only/ceiling':<28}{v['ratio_redis_only_to_ceiling']:>10.2f}")
    print(f"\npeak RSS of fibcache under the hit load: {r['peak_rss_kib'] / 1024:.1f} MiB")
    print(f"\n{'cold request':<22}{'cold ms':>10}{'warm ms':>9}{'GMP ms':>9}{'cold/(GMP+warm)':>17}")
    for x in r["cold"]:
        gmp = f"{x['gmp_in_process_ms']:.2f}" if x["gmp_in_process_ms"] else "-"
        ratio = f"{x['overhead_ratio']:.2f}" if x["overhead_ratio"] else "-"
        print(f"{'n=' + str(x['n']) + ' ' + x['algorithm']:<22}{x['cold_ms']:>10.2f}{x['warm_ms']:>9.2f}{gmp:>9}{ratio:>17}")


def chart(r):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(no matplotlib: skipping bench/results/latest.png; pip install matplotlib)")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.4))
    labels, p50, p99, rps = [], [], [], []
    for c, v in r["hit"].items():
        for name in CONFIGS:
            labels.append(f"{name.replace(' ', chr(10))}\nc={c}")
            p50.append(v[name]["p50_ms"])
            p99.append(v[name]["p99_ms"])
            rps.append(v[name]["requests_per_second"])
    xs = range(len(labels))
    left.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
    left.bar([x + 0.2 for x in xs], p99, 0.4, label="p99")
    left.set_xticks(list(xs), labels)
    left.set_ylabel("latency (ms)")
    left.set_title("hit path latency")
    left.legend()
    right.bar(list(xs), rps, color="tab:green")
    right.set_xticks(list(xs), labels)
    right.set_ylabel("requests/s")
    right.set_title("hit path throughput")
    fig.tight_layout()
    fig.savefig(RESULTS / "latest.png", dpi=110)
    print(f"\nchart: {RESULTS / 'latest.png'}")


if __name__ == "__main__":
    main()
