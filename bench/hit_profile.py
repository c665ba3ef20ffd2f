"""`make bench`'s profile section: what a hit costs fibcache in system calls, and where its CPU time
goes (a flame graph). Each on a short run of its own, apart from the measured rounds: strace and perf
slow the process they watch, so neither figure is taken while req/s and CPU-µs are."""
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

FLAMEGRAPH = Path(__file__).resolve().parent / "flamegraph.py"
LOAD_SECONDS = 4


def _load(wrk_command, seconds):
    return subprocess.Popen([*wrk_command, f"-d{seconds}s"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _requests(wrk_process):
    out = wrk_process.communicate(timeout=120)[0]
    return int(re.search(r"(\d+) requests in", out).group(1))


def syscalls_per_request(pid, wrk_command):
    """`strace -c -f` on the server for one load run: each system call's count divided by the run's
    requests (those served before strace attached and after it left are too few to matter: a
    second of a run of several, and strace lets the process run on while it attaches)."""
    if not shutil.which("strace"):
        return None
    with subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", "/dev/stderr"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as strace:
        time.sleep(0.5)  # attached to every thread
        load = _load(wrk_command, LOAD_SECONDS)
        requests = _requests(load)
        strace.send_signal(2)
        table = strace.communicate(timeout=60)[1]
    counts = {}
    for line in table.splitlines():
        # "% time  seconds  usecs/call  calls  [errors]  syscall"
        match = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if match and match.group(2) != "total":
            counts[match.group(2)] = int(match.group(1)) / max(1, requests)
    counts = dict(sorted(counts.items(), key=lambda item: -item[1]))
    return {"requests": requests, "per_request": counts, "total_per_request": sum(counts.values())}


def flame_graph(pid, wrk_command, title, svg_path):
    """`perf record -g` on the server under load, drawn by bench/flamegraph.py into `svg_path`
    (Swift names demangled when the toolchain's `swift demangle` is there). None without perf."""
    if not shutil.which("perf"):
        return None
    data = svg_path.with_suffix(".perf.data")
    load = _load(wrk_command, LOAD_SECONDS + 2)
    time.sleep(1)
    recorded = subprocess.run(["perf", "record", "-F", "2999", "-g", "-p", str(pid), "-o", str(data), "--",
                               "sleep", str(LOAD_SECONDS)], capture_output=True, text=True)
    _requests(load)
    if recorded.returncode != 0:
        return {"error": recorded.stderr.strip().splitlines()[-1:] or ["perf record failed"]}
    script = subprocess.run(["perf", "script", "-i", str(data)], capture_output=True, check=True).stdout
    data.unlink(missing_ok=True)
    demangle = shutil.which("swift")
    if demangle:
        script = subprocess.run([demangle, "demangle", "--simplified"], input=script, capture_output=True,
                                check=True).stdout
    svg = subprocess.run([sys.executable, str(FLAMEGRAPH), title], input=script, capture_output=True, check=True).stdout
    svg_path.write_bytes(svg)
    return {"svg": str(svg_path), "samples": script.count(b"\n\n")}
