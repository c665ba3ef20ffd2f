#!/usr/bin/env python3
"""`make bench`: fibcache beside what a user would run instead, measured side by side in one run.

One nginx (1 worker, access_log off: nginx at its best) serves five paths to the same warm value:

  ceiling             nginx answers the identical body itself (`return 200`): the top of this stack
  nginx fastcgi_cache nginx's own cache in front of fibcache: what users pick instead; the shipped
                      optional micro-cache (nginx/micro-cache.conf), fibcache's headers deciding
  fibcache kept       the shipped site: FastCGI connections kept (upstream keepalive, fastcgi_keep_conn)
  fibcache plain      a plain `fastcgi_pass`, a connection per request (how most operators write it)
  C reference plain   bench/reference/responder.c: libfcgi + hiredis, 4 threads, GET/SET EX, plain

wrk drives each at 32, 256 and 1,024 connections, in interleaved rounds (median of ROUNDS); each run
also counts non-2xx answers, socket errors and the lines nginx wrote to its error log, reads the
RSS of fibcache and of the C reference, and what each server process spent per request: CPU-µs
(user + system from /proc/<pid>/stat over the run, divided by its requests) of the server behind
nginx, nginx's worker and Redis — the figure to compare across runs and machines. Then hits alone and under four attacks (bench/attacks.py), and
cold requests for growing n against GMP's in-process time, and the hit path alone without
sockets (Benchmarks/HitPathBenchmark) from 1 to 16 threads: what workers share on a hit. Prints the tables, writes
bench/results/latest.json and, with matplotlib, latest.png. BENCH_SECTIONS (hits,attacks,cold) picks parts.

BENCH_SERVER_CPUS / BENCH_LOAD_CPUS (taskset lists, e.g. 0-11 and 12-15) pin the servers and wrk to
separate cores, so that a many-core host measures the servers rather than wrk's share of their cores.
BENCH_BASELINE=/path/to/an/older/fibcache adds that build, kept (keepalive 32) and plain, to the same
run: a before/after measured side by side.
"""
import http.client
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "Support"))
import stack as processes  # noqa: E402  (the process management the tests use)
from attacks import REAL_IP, hits_under_attacks, print_attacks  # noqa: E402
from hit_profile import flame_graph, syscalls_per_request  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CONFIGS = ("ceiling", "nginx fastcgi_cache", "fibcache kept", "fibcache plain", "C reference plain")
CONNECTIONS = tuple(int(c) for c in os.environ.get("BENCH_CONNECTIONS", "32,256,1024").split(","))
WARM_N = 40
DURATION = int(os.environ.get("BENCH_SECONDS", "5"))
# Interleaved (every configuration, then again...): a hiccup of this shared machine spoils one
# run, not the median.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
COLD = [(40, "recursive"), (40, "fast"), (1_000, "fast"), (10_000, "fast"), (100_000, "fast"),
        (1_000_000, "fast"), (1_000, "iterative"), (10_000, "iterative"), (100_000, "iterative")]
BASELINE = os.environ.get("BENCH_BASELINE")
if BASELINE:
    CONFIGS += ("baseline kept", "baseline plain")
# Which parts to run (all by default): the hit path, hits under attack, cold requests.
ALL_SECTIONS = {"hits", "profile", "attacks", "cold"}
SECTIONS = set(os.environ.get("BENCH_SECTIONS", ",".join(sorted(ALL_SECTIONS))).split(","))
# A partial run must not replace the last full one.
RESULT_NAME = "latest" if SECTIONS >= ALL_SECTIONS else "partial"
SERVER_CPUS = os.environ.get("BENCH_SERVER_CPUS")
LOAD_CPUS = os.environ.get("BENCH_LOAD_CPUS")


def pinned(cpus):
    return ["taskset", "-c", cpus] if cpus else []


def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def wrk(port, path, connections, script=None, script_args=()):
    """wrk on `path`, or on the paths a Lua `script` makes (its arguments after `--`)."""
    scripted = ["-s", str(script)] if script else []
    out = subprocess.run([*pinned(LOAD_CPUS), "wrk", "-t2", f"-c{connections}", f"-d{DURATION}s", "--latency",
                          "--timeout", "10s", *scripted, f"http://127.0.0.1:{port}{path}",
                          *(["--", *map(str, script_args)] if script_args else [])],
                         capture_output=True, text=True, check=True, timeout=DURATION + 60).stdout

    def ms(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "connections": connections,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99_ms": ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "max_ms": ms(latency.group(3)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User + system CPU time the processes have used so far, every thread counted (/proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: the stat file's fields 14 and 15
    return total / CLOCK_TICKS


def nginx_workers(master_pid):
    """The master's worker processes (not its cache loader, which exits a minute after start)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(pid) for pid in children
            if b"worker process" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def cpu_per_request(processes_by_role, measure):
    """Runs `measure` (a wrk sample) and adds what each role's processes spent on it: CPU-µs per
    request, user + system, over the measured interval (wrk's own CPU is not counted)."""
    before = {role: cpu_seconds(pids) for role, pids in processes_by_role.items()}
    sample = measure()
    spent = {role: cpu_seconds(pids) - before[role] for role, pids in processes_by_role.items()}
    sample["cpu_us"] = {role: seconds * 1e6 / max(1, sample["requests"]) for role, seconds in spent.items()}
    sample["cpu_us"]["total"] = sum(sample["cpu_us"].values())
    return sample


def median_run(samples):
    """Medians over rounds of throughput, percentiles and CPU per request; the worst max; failures
    summed; rounds kept."""
    result = {key: statistics.median(s[key] for s in samples) for key in ("requests_per_second", "p50_ms", "p99_ms")}
    result["cpu_us"] = {role: statistics.median(s["cpu_us"][role] for s in samples) for role in samples[0]["cpu_us"]}
    result.update(connections=samples[0]["connections"], max_ms=max(s["max_ms"] for s in samples),
                  non_2xx=sum(s["non_2xx"] for s in samples), socket_errors=sum(s["socket_errors"] for s in samples),
                  nginx_errors=sum(s["nginx_errors"] for s in samples),
                  rss_kib=max(s["rss_kib"] for s in samples), rounds=samples)
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


def line_count(path):
    return len(path.read_text(errors="replace").splitlines()) if path.exists() else 0


def baseline_servers(ports, baseline_socket):
    """An older build, as it was deployed (keepalive 32), and plain."""
    fastcgi = "include /etc/nginx/fastcgi_params;"
    return f"""
upstream baseline_kept {{
    server unix:{baseline_socket};
    keepalive 32;
}}
upstream baseline_plain {{
    server unix:{baseline_socket};
}}
server {{
    listen 127.0.0.1:{ports["baseline kept"]};
    location /api/ {{
        {fastcgi}
        fastcgi_pass baseline_kept;
        fastcgi_keep_conn on;
    }}
}}
server {{
    listen 127.0.0.1:{ports["baseline plain"]};
    location /api/ {{
        {fastcgi}
        fastcgi_pass baseline_plain;
    }}
}}
"""


def other_servers(run_dir, ports, body, fibcache_socket, reference_socket):
    """The benchmark's servers beside the shipped site, in the same nginx."""
    fastcgi = "include /etc/nginx/fastcgi_params;"
    return f"""
# The benchmark's other paths to the same value (scripts/render-nginx-conf --extra).
upstream fibcache_plain {{
    server unix:{fibcache_socket};
}}
upstream c_reference {{
    server unix:{reference_socket};
}}
{(ROOT / "nginx" / "micro-cache-zone.conf").read_text().replace("/var/cache/nginx-fibcache", f"{run_dir}/nginx-cache")}

server {{
    listen 127.0.0.1:{ports["ceiling"]};
    location / {{
        default_type application/json;
        return 200 '{body}';
    }}
}}
server {{
    listen 127.0.0.1:{ports["nginx fastcgi_cache"]};
    location /api/ {{
        {fastcgi}
        fastcgi_pass fibcache;
        fastcgi_keep_conn on;
        include {ROOT}/nginx/micro-cache.conf;
    }}
}}
server {{
    listen 127.0.0.1:{ports["fibcache plain"]};
    location /api/ {{
        {fastcgi}
        fastcgi_pass fibcache_plain;
    }}
}}
server {{
    listen 127.0.0.1:{ports["C reference plain"]};
    location /api/ {{
        {fastcgi}
        fastcgi_pass c_reference;
    }}
}}
"""


def build_reference(directory):
    binary = directory / "responder"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(ROOT / "bench" / "reference" / "responder.c"),
                    "-lfcgi", "-lhiredis", "-lgmp", "-lpthread"], check=True)
    return binary


def main():
    # wrk, nginx and fibcache each hold 1,024+ sockets at the top concurrency.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    binary = ROOT / ".build" / "release" / "fibcache"
    compute_bench = ROOT / ".build" / "release" / "ComputeBenchmark"
    sizes = sorted({n for n, _ in COLD})
    gmp = json.loads(subprocess.run([str(compute_bench), *map(str, sizes)], check=True,
                                    capture_output=True, text=True).stdout)
    body = '{"fibonacci": %d}' % fibonacci(WARM_N)
    path = f"/api/fibonacci/number/{WARM_N}/"
    with tempfile.TemporaryDirectory(prefix="fibcache-bench-") as tmp:
        tmp = Path(tmp)
        run_dir = tmp / "stack"
        run_dir.mkdir()
        reference_binary = build_reference(tmp)
        reference_socket = tmp / "reference.sock"
        ports = {name: processes.free_port() for name in CONFIGS if name != "fibcache kept"}
        extra = tmp / "bench-servers.conf"
        stack = processes.Stack(run_dir, binary=binary, launcher=pinned(SERVER_CPUS), workers=None,  # as shipped
                                fibcache_args=["--log-level", "warning"],
                                render_args=["--no-access-log", "--extra", str(extra)])
        extra.write_text(REAL_IP + other_servers(run_dir.resolve(), ports, body, stack.socket, reference_socket)
                         + (baseline_servers(ports, tmp / "baseline.sock") if BASELINE else ""))
        reference = baseline = None
        try:
            stack.start()
            if BASELINE:  # its own defaults (then 64 workers), the same Redis
                baseline = subprocess.Popen([*pinned(SERVER_CPUS), BASELINE, "--listen", str(tmp / "baseline.sock"),
                                             "--redis-url", f"redis://127.0.0.1:{stack.redis.port}/1",
                                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                processes.wait_until((tmp / "baseline.sock").exists, what="baseline socket")
            reference = subprocess.Popen([*pinned(SERVER_CPUS), str(reference_binary), str(reference_socket),
                                          str(stack.redis.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.wait_until(reference_socket.exists, what="C reference socket")
            ports["fibcache kept"] = stack.http_port
            assert stack.get(path)[2].decode() == body
            for name in CONFIGS:  # warm: every path answers the same bytes, from its cache
                for _ in range(2):
                    answer = http.client.HTTPConnection("127.0.0.1", ports[name], timeout=10)
                    answer.request("GET", path)
                    assert answer.getresponse().read().decode() == body, name
                    answer.close()
            error_log = run_dir / "nginx-error.log"
            hit = {}
            for connections in CONNECTIONS if "hits" in SECTIONS else ():
                runs = {name: [] for name in CONFIGS}
                for _ in range(ROUNDS):
                    for name in CONFIGS:
                        before = line_count(error_log)
                        server = (reference.pid if name.startswith("C reference")
                                  else baseline.pid if name.startswith("baseline") else stack.fibcache.pid)
                        roles = {"nginx": nginx_workers(stack.nginx_pid), "redis": [stack.redis.proc.pid]}
                        if name != "ceiling":
                            roles["server"] = [server]
                        sample = cpu_per_request(roles, lambda: wrk(ports[name], path, connections))
                        sample["nginx_errors"] = line_count(error_log) - before
                        sample["rss_kib"] = 0 if name == "ceiling" else processes.rss_kib(server)
                        runs[name].append(sample)
                hit[connections] = {name: median_run(samples) for name, samples in runs.items()}
            profile = profiles(ports, path, stack, baseline) if "profile" in SECTIONS else None
            peak_rss = {"fibcache": processes.rss_kib(stack.fibcache.pid, "VmHWM"), "C reference": processes.rss_kib(reference.pid, "VmHWM")}
            # Stopped first: requests still queued in its backlog would store values the cold
            # requests below have just deleted.
            processes.stop_process(reference)
            attacks = hits_under_attacks(stack, wrk, ROUNDS, pinned(LOAD_CPUS)) if "attacks" in SECTIONS else None
            cold = cold_requests(stack, gmp) if "cold" in SECTIONS else []
        finally:
            for process in (reference, baseline):
                if process:
                    processes.stop_process(process)
            stack.stop()

    threads = hit_path_threads() if "hits" in SECTIONS else {}
    results = {"machine": {"cores": os.cpu_count(), "server_cpus": SERVER_CPUS, "load_cpus": LOAD_CPUS},
               "duration_s": DURATION, "rounds": ROUNDS, "warm_n": WARM_N, "access_log": "off",
               "hit": {str(c): v for c, v in hit.items()}, "attacks": attacks, "cold": cold,
               "peak_rss_kib": peak_rss, "hit_path_threads": threads, "profile": profile}
    for v in hit.values():
        rps = {name: v[name]["requests_per_second"] for name in CONFIGS}
        v["ratios"] = {
            "kept_to_fastcgi_cache": rps["fibcache kept"] / rps["nginx fastcgi_cache"],
            "kept_p99_to_ceiling_p99": v["fibcache kept"]["p99_ms"] / v["ceiling"]["p99_ms"],
            "plain_to_c_reference": rps["fibcache plain"] / rps["C reference plain"],
            "kept_to_ceiling": rps["fibcache kept"] / rps["ceiling"],
        }
        if BASELINE:
            v["ratios"]["kept_to_baseline_kept"] = rps["fibcache kept"] / rps["baseline kept"]
            v["ratios"]["plain_to_baseline_plain"] = rps["fibcache plain"] / rps["baseline plain"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{RESULT_NAME}.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    if threads:
        print_threads(threads)
    if profile:
        print_profile(profile)
    if attacks:
        print_attacks(attacks)
    if hit:
        chart(results)


PROFILE_CONNECTIONS = 32


def profiles(ports, path, stack, baseline):
    """System calls per hit and a flame graph of hits, for fibcache kept (and the baseline's, the
    "before"), each on a short load run of its own."""
    servers = {"fibcache": ("fibcache kept", stack.fibcache.pid, "hit-path-flamegraph.svg")}
    if baseline:
        servers["baseline"] = ("baseline kept", baseline.pid, "hit-path-flamegraph-before.svg")
    result = {}
    for label, (name, pid, svg) in servers.items():
        command = [*pinned(LOAD_CPUS), "wrk", "-t2", f"-c{PROFILE_CONNECTIONS}", f"http://127.0.0.1:{ports[name]}{path}"]
        title = f"{label} serving hits ({name}, {PROFILE_CONNECTIONS} connections)"
        result[label] = {"syscalls": syscalls_per_request(pid, command),
                         "flame_graph": flame_graph(pid, command, title, RESULTS / svg)}
    return result


def print_profile(profile):
    print(f"\nsystem calls per hit ({PROFILE_CONNECTIONS} connections, strace -c -f on a run of its own):")
    for label, measured in profile.items():
        calls = measured["syscalls"]
        if calls is None:
            print(f"  {label}: strace missing")
            continue
        listed = ", ".join(f"{name} {count:.2f}" for name, count in calls["per_request"].items() if count >= 0.01)
        print(f"  {label}: {calls['total_per_request']:.2f} ({listed})")
        graph = measured["flame_graph"]
        print(f"  {label} flame graph: {graph['svg'] if graph and 'svg' in graph else graph or 'perf missing'}")


def hit_path_threads():
    """The hit path alone (no sockets), from 1 to 16 threads, median of ROUNDS runs of DURATION s each."""
    binary = ROOT / ".build" / "release" / "HitPathBenchmark"
    runs = [json.loads(subprocess.run([*pinned(SERVER_CPUS), str(binary), str(DURATION)], check=True, capture_output=True,
                                      text=True, timeout=DURATION * 10 + 60).stdout) for _ in range(ROUNDS)]
    return {threads: {key: statistics.median(run[threads][key] for run in runs) for key in runs[0][threads]}
            for threads in runs[0]}


def print_threads(threads):
    one = threads["1"]["per_thread"]
    print("\nhit path alone, no sockets (FibonacciService.respond from the process copy), median of rounds")
    print(f"{'threads':>8}{'hits/s':>12}{'per thread':>12}{'µs a hit':>10}{'vs 1 thread':>13}")
    for count, x in threads.items():
        print(f"{count:>8}{x['requests_per_second']:>12.0f}{x['per_thread']:>12.0f}{1e6 / x['per_thread']:>10.2f}"
              f"{x['per_thread'] / one:>13.2f}")


def cold_requests(stack, gmp):
    cold = []
    for n, algorithm in COLD:
        samples = []
        for _ in range(5 if n < 1_000_000 or algorithm == "fast" else 1):
            stack.ops("DELETE", f"/api/fibonacci/number/{n}/")  # Redis and the in-process copy
            elapsed, cache, size = timed_get(stack.http_port, f"/api/fibonacci/number/{n}/" + ("" if algorithm == "fast" else f"?algorithm={algorithm}"))
            assert cache == "MISS", f"n={n} {algorithm}: X-Cache {cache} after DELETE"
            samples.append(elapsed)
        warm = statistics.median(timed_get(stack.http_port, f"/api/fibonacci/number/{n}/")[0] for _ in range(5))
        baseline = gmp[str(n)].get(algorithm)
        cold.append({"n": n, "algorithm": algorithm, "cold_ms": statistics.median(samples) * 1000,
                     "warm_ms": warm * 1000, "body_bytes": size,
                     "gmp_in_process_ms": baseline * 1000 if baseline else None,
                     # GMP's compute + conversion plus the transfer, which is what a warm
                     # request of the same bytes costs end to end.
                     "overhead_ratio": statistics.median(samples) / (baseline + warm) if baseline else None})
    return cold


def print_table(r):
    print(f"\nhit path (n={r['warm_n']}, wrk -t2 {r['duration_s']} s, median of {r['rounds']} interleaved rounds, "
          f"one nginx worker, access_log off)")
    print("  (CPU µs per request, user + system, median: the server behind nginx, nginx's worker, Redis, their sum)")
    print(f"{'path through the same nginx':<26}{'conns':>6}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>9}"
          f"{'non2xx':>7}{'sock':>6}{'nginx':>6}{'RSS MiB':>8}{'µs srv':>8}{'µs ngx':>8}{'µs rds':>8}{'µs sum':>8}")
    for c, v in r["hit"].items():
        for name in CONFIGS:
            x = v[name]
            rss = f"{x['rss_kib'] / 1024:.1f}" if x["rss_kib"] else "-"
            cpu = x["cpu_us"]
            print(f"{name:<26}{c:>6}{x['requests_per_second']:>9.0f}{x['p50_ms']:>8.2f}{x['p99_ms']:>8.2f}"
                  f"{x['max_ms']:>9.1f}{x['non_2xx']:>7}{x['socket_errors']:>6}{x['nginx_errors']:>6}{rss:>8}"
                  f"{cpu.get('server', 0):>8.1f}{cpu['nginx']:>8.1f}{cpu['redis']:>8.1f}{cpu['total']:>8.1f}")
        q = v["ratios"]
        print(f"  kept/fastcgi_cache {q['kept_to_fastcgi_cache']:.2f}   kept p99/ceiling p99 "
              f"{q['kept_p99_to_ceiling_p99']:.2f}   plain/C reference {q['plain_to_c_reference']:.2f}   "
              f"kept/ceiling {q['kept_to_ceiling']:.2f}")
        if "kept_to_baseline_kept" in q:
            print(f"  kept/baseline kept {q['kept_to_baseline_kept']:.2f}   plain/baseline plain {q['plain_to_baseline_plain']:.2f}")
    peak = r["peak_rss_kib"]
    print(f"\npeak RSS: fibcache {peak['fibcache'] / 1024:.1f} MiB, C reference {peak['C reference'] / 1024:.1f} MiB")
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
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.6))
    concurrencies = list(r["hit"])
    width = 0.8 / len(CONFIGS)
    for i, name in enumerate(CONFIGS):
        xs = [j + (i - (len(CONFIGS) - 1) / 2) * width for j in range(len(concurrencies))]
        right.bar(xs, [r["hit"][c][name]["requests_per_second"] for c in concurrencies], width, label=name)
        left.bar(xs, [r["hit"][c][name]["p99_ms"] for c in concurrencies], width, label=name)
    for axis, title, unit in ((left, "hit path p99 latency", "p99 (ms)"), (right, "hit path throughput", "requests/s")):
        axis.set_xticks(range(len(concurrencies)), [f"{c} connections" for c in concurrencies])
        axis.set_ylabel(unit)
        axis.set_title(title)
    left.set_yscale("log")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{RESULT_NAME}.png", dpi=110)
    print(f"\nchart: {RESULTS / (RESULT_NAME + '.png')}")


if __name__ == "__main__":
    main()
