"""Issue 21's untrusted peers against fibcache as deployed in a booted systemd-box (the package's
units, /run/fibcache.sock, the site on port 80): a hostile FastCGI peer as www-data, a hostile
Redis, a flood of huge values. Each check asserts the service neither restarted nor swelled and
the site still answers, then puts the unit's settings back. The peers run inside the box (its
own loopback): copy_peers() puts them there, and the box needs python3. No pytest here."""
import json
import re
from collections import Counter
from pathlib import Path

from box import OPERATIONS
from crash_recovery import MAIN_PID, NRESTARTS, URL, site_status

TESTS = Path(__file__).resolve().parents[1]
PEERS = "/srv/peers"  # readable by www-data (not /root)
# Settings for one check, as an operator's drop-in; removed afterwards.
DROP_IN = "/run/systemd/system/fibcache.service.d/peer-attack.conf"
STATUS_URL = f"{OPERATIONS}/status"  # the installed site's operations server


def copy_peers(box):
    for name in ("fastcgi_fuzz_peer.py", "fastcgi_records.py", "hostile_redis.py"):
        box.tool("copy-in", str(TESTS / "Support" / name), f"{PEERS}/Support/{name}")
    box.tool("copy-in", str(TESTS / "FuzzFastCGI" / "corpus"), f"{PEERS}/FuzzFastCGI/corpus")
    box.sh(f"chmod -R a+rX {PEERS}")


def status_of(box, pid, field):
    """A field of /proc/PID/status, in KiB (VmRSS, VmHWM)."""
    return int(re.search(rf"{field}:\s+(\d+) kB", box.out(f"cat /proc/{pid}/status")).group(1))


def with_settings(box, environment):
    """fibcache restarted with `environment` (FIBCACHE_*) on top of the unit's and /etc/default's."""
    lines = "".join(f"Environment={name}={value}\n" for name, value in environment.items())
    box.sh(f"mkdir -p {Path(DROP_IN).parent} && printf '[Service]\\n{lines}' > {DROP_IN} && "
           "systemctl daemon-reload && systemctl restart fibcache")


def settings_restored(box):
    box.sh(f"rm -f {DROP_IN}; systemctl daemon-reload; systemctl reset-failed fibcache 2>/dev/null; "
           "systemctl restart fibcache", check=False)
    assert site_status(box) == "200"


def fuzz_as_www_data(box, seconds=15, concurrency=8):
    """Tests/Support/fastcgi_fuzz_peer.py, as any other local www-data process could, on the
    installed socket: the process neither dies nor restarts nor swells, and the site answers."""
    assert site_status(box) == "200"
    pid, restarts = box.out(MAIN_PID), box.out(NRESTARTS)
    rss_before = status_of(box, pid, "VmRSS")
    out = box.out(f"runuser -u www-data -- python3 -B {PEERS}/Support/fastcgi_fuzz_peer.py /run/fibcache.sock "
                  f"--seconds {seconds} --concurrency {concurrency} --seed 21", timeout=seconds + 60)
    summary = json.loads(out.splitlines()[-1])
    after = box.out(f"sleep 1; {MAIN_PID}"), box.out(NRESTARTS)
    rss_after = status_of(box, pid, "VmRSS") if after[0] == pid else 0
    print(f"fuzz peer as www-data for {seconds} s: {summary['connections']} connections, "
          f"outcomes {summary['outcomes']}; MainPID {pid} -> {after[0]}, NRestarts {restarts} -> {after[1]}, "
          f"RSS {rss_before // 1024} -> {rss_after // 1024} MiB")
    assert after == (pid, restarts), box.out("journalctl -u fibcache -n 20 --no-pager -o cat")
    assert summary["connections"] > 100, summary
    assert rss_after < rss_before + (32 << 10), f"RSS {rss_before} -> {rss_after} KiB"
    assert site_status(box) == "200"


def start_hostile_redis(box, shape):
    """hostile_redis.py's `shape` in the box (a transient unit, gone within 60 s), past a
    connection's setup so that it answers the cache's own commands; its port."""
    box.sh(f"systemctl stop hostile-redis 2>/dev/null; rm -f /run/hostile-redis.port; "
           f"systemd-run --quiet --unit hostile-redis -p RuntimeMaxSec=60 python3 -B {PEERS}/Support/hostile_redis.py "
           f"{shape} /run/hostile-redis.port --connectable --seconds 60; "
           "for i in $(seq 100); do [ -s /run/hostile-redis.port ] && exit 0; sleep 0.1; done; exit 1")
    return int(box.out("cat /run/hostile-redis.port"))


def answers_meanwhile(box, count=4, spacing=1.1):
    """`count` requests through nginx for distinct n, `spacing` s apart (past the longest Redis
    backoff, so each one asks the peer again): (status, X-Cache, seconds) each."""
    out = box.out(f"""for n in $(seq 300 {299 + count}); do sleep {spacing}
        curl -s -o /dev/null -D /tmp/head -w '%{{http_code}} %{{time_total}}' --max-time 30 {URL}/$n/
        echo " $(grep -io '^X-Cache: [A-Z]*' /tmp/head | cut -d' ' -f2)"; done""", timeout=count * (spacing + 30) + 30)
    return [(status, cache, float(seconds)) for status, seconds, cache in (line.split() for line in out.splitlines())]


def hostile_redis_shape(box, shape, answer_within=2.0, rss_limit_kib=64 << 10):
    """The installed fibcache pointed at a hostile Redis (its URL and no password file, as the
    shipped /etc/default/fibcache says for another Redis): every request through nginx is
    answered, BYPASS, in bounded time; the process does not swell or restart."""
    port = start_hostile_redis(box, shape)
    try:
        with_settings(box, {"FIBCACHE_REDIS_URL": f"redis://127.0.0.1:{port}/1", "FIBCACHE_REDIS_PASSWORD_FILE": ""})
        pid, restarts = box.out(MAIN_PID), box.out(NRESTARTS)
        results = answers_meanwhile(box)
        peak = status_of(box, box.out(MAIN_PID), "VmHWM")
        worst = max(r[2] for r in results)
        print(f"hostile Redis {shape}: {results}, peak RSS {peak / 1024:.1f} MiB")
        assert (box.out(MAIN_PID), box.out(NRESTARTS)) == (pid, restarts), \
            box.out("journalctl -u fibcache -n 20 --no-pager -o cat")
        assert all(r[:2] == ("200", "BYPASS") for r in results), results
        assert worst < answer_within, f"{shape}: a request took {worst:.2f} s"
        assert peak < rss_limit_kib, f"{shape}: peak RSS {peak / 1024:.0f} MiB"
        warned = box.out(f"journalctl -u fibcache -n 30 --no-pager -o cat | grep '^warning: .*127.0.0.1:{port}/1' || true")
        assert warned, "fibcache's Redis connections reached the fake, and it said so"
    finally:
        box.sh("systemctl stop hostile-redis 2>/dev/null; true", check=False)


def hostile_redis_shapes(box):
    """The shapes of Tests/Faults/test_hostile_redis.py: a 2 GB bulk string, an array of 50
    million elements, a reply trickled a byte every 150 ms; then an error reply with a newline
    and a journal priority of its own, which must not become an emergency in the journal."""
    try:
        for shape in ("huge_bulk", "huge_array", "trickle"):
            hostile_redis_shape(box, shape)
        since = box.out("date '+%Y-%m-%d %H:%M:%S'")
        hostile_redis_shape(box, "error_with_newline")
        grave = box.out(f"journalctl -u fibcache -p 0..2 --since '{since}' --no-pager -o cat")
        logged = box.out(f"journalctl -u fibcache --since '{since}' --no-pager -o cat | grep -m3 -i boom || true")
        print(f"error with a newline: emerg..crit entries {grave!r}; logged as {logged!r}")
        assert "owned" not in grave and "emergency" not in grave, grave
    finally:
        box.sh("systemctl stop hostile-redis 2>/dev/null; true", check=False)
        settings_restored(box)


def warm(box, values):
    for n in values:  # into Redis one at a time: each a computation of about a second
        assert box.out(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 60 {URL}/{n}/", timeout=90) == "200"


def flood(box, values, clients, seconds):
    """`clients` curl loops inside the box asking for `values` in turn for `seconds`: the count
    of each (status, Retry-After) seen."""
    out = box.out(f"""
        end=$(( $(date +%s) + {seconds} ))
        for c in $(seq {clients}); do (
            set -- {' '.join(map(str, values))}; shift $(( c % $# ))
            while [ $(date +%s) -lt $end ]; do
                curl -s -o /dev/null -w '%{{http_code}} %header{{retry-after}}\\n' --max-time 30 {URL}/$1/
            done ) > /tmp/flood.$c & done
        wait; cat /tmp/flood.*; rm -f /tmp/flood.*""", timeout=seconds + 90)
    # "200", or "503 1": a status and its Retry-After.
    return Counter(" ".join(line.split()) for line in out.splitlines())


def memory_flood(box, clients=24, seconds=5):
    """Four values of F(~10^7) (2.1 MB of digits each) asked for by `clients` at once: the
    answers' memory budget refuses what does not fit (503, Retry-After), so fibcache's peak
    stays below the unit's MemoryHigh= and it is never OOM-killed."""
    memory_high_kib = int(box.out("systemctl show -p MemoryHigh --value fibcache")) >> 10
    settings = {"FIBCACHE_MAX_N": "10000000"}
    if box.out("test -e /sys/fs/cgroup/system.slice/fibcache.service/memory.high; echo $?", check=False) != "0":
        # No cgroup v2 memory controller in this box (systemd-nspawn on this host): the limits
        # are not enforced, and fibcache, finding none to read, budgets 256 MiB. An operator's
        # setting of what the shipped MemoryHigh=128M yields under cgroup v2 (half of it):
        settings["FIBCACHE_MEMORY_BUDGET_MB"] = str(memory_high_kib >> 11)
    values = [10_000_000 - i for i in range(4)]
    try:
        with_settings(box, settings)
        budget = json.loads(box.out(f"curl -s {STATUS_URL}"))["answer_memory"]["budget_bytes"]
        assert budget == memory_high_kib << 9, f"budget {budget >> 20} MiB: not half the unit's MemoryHigh= ({settings})"
        pid, restarts = box.out(MAIN_PID), box.out(NRESTARTS)
        warm(box, values)
        counts = flood(box, values, clients, seconds)
        after = box.out(MAIN_PID), box.out(NRESTARTS)
        peak = status_of(box, pid, "VmHWM") if after[0] == pid else None
        answer_memory = json.loads(box.out(f"curl -s {STATUS_URL}"))["answer_memory"]
        print(f"memory flood, {clients} clients for {seconds} s: {dict(counts)}; peak {peak and peak >> 10} MiB "
              f"(MemoryHigh {memory_high_kib >> 10} MiB); NRestarts {restarts} -> {after[1]}; {answer_memory}")
        assert after == (pid, restarts), box.out("journalctl -u fibcache -n 20 --no-pager -o cat")
        assert peak < memory_high_kib, f"peak {peak >> 10} MiB"
        assert counts["200"] > 10 and counts["503 1"] > 0, counts
        assert set(counts) <= {"200", "503 1"}, counts
        assert answer_memory["refused"] > 0 and answer_memory["reserved_bytes"] == 0, answer_memory
        assert site_status(box, 1000) == "200", "small values are always served"
    finally:
        settings_restored(box)
