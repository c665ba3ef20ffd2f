"""Issue 22's least privilege and safe install as root, checked in a booted systemd-box where
fibcache is deployed (by `make install` in Tests/System, from the .deb in Tests/Package). A local
user who is neither root nor in Redis' group cannot reach fibcache's Redis at all; fibcache's own
credential runs fibcache's commands on fibcache's keys only; root's writes into /etc/redis (the
redis user's directory) go through no symlink planted there. Issue 23: operations (eviction,
status, metrics) are for root and the group fibcache-ops. Issue 26: the same under Valkey
(valkey-server@fibcache, /etc/valkey, the valkey user) when the box's server is Valkey's
(local_server). No pytest here."""
import json
import re

from box import OPERATIONS as OPS, OPERATIONS_SOCKET  # the installed site's operations server
from stack import fibonacci

URL = "http://127.0.0.1:80/api/fibonacci/number"  # the port: no /etc/services in the box
MAIN_PID = "systemctl show -p MainPID --value {unit}"


class LocalServer:
    """fibcache's own instance and the host's server beside it, named after the box's local
    server: Debian's redis-server@.service (`redis`) or, with Valkey and no Redis (Debian 13),
    valkey-server@.service (`valkey`); what the installs (scripts/install, the postinst) set up."""

    def __init__(self, name):
        self.name = name
        self.title = {"redis": "Redis", "valkey": "Valkey"}[name]
        self.unit = f"{name}-server@fibcache"           # fibcache's instance
        self.host_unit = f"{name}-server"               # the host's own server
        self.binary = f"{name}-server"
        self.conf = f"/etc/{name}/{name}-fibcache.conf"
        self.users_file = f"/etc/{name}/{name}-fibcache-users.conf"
        self.host_conf = f"/etc/{name}/{name}.conf"
        self.dump = f"/var/lib/{name}/dump-fibcache.rdb"
        self.socket = f"/run/{name}-fibcache/{name}-server.sock"
        self.user = self.group = name
        self.paths = (f"/etc/{name}", f"/var/lib/{name}", f"/var/log/{name}")  # hidden from fibcache
        self.cli = f"{name}-cli"                        # the host's server, as root
        self.benchmark = f"{name}-benchmark"
        self.url = f"unix://{self.socket}?user=fibcache"  # fibcache.service's (or its drop-in's)
        # fibcache's instance as root: the default user (PING only); and as fibcache's user.
        self.redis = f"{self.cli} -s {self.socket}"
        self.fibcache_redis = f"REDISCLI_AUTH=$(cat /etc/fibcache/redis-password) {self.redis} --user fibcache"


def local_server(box):
    """The box's LocalServer: the one the install recorded (/etc/fibcache/local-server), else the
    one it would choose (Redis' template unit first, then Valkey's; neither: Redis, which the
    package's Recommends pulls in first)."""
    name = box.out("cat /etc/fibcache/local-server 2>/dev/null || for s in redis valkey; do "
                   "if [ -e /lib/systemd/system/$s-server@.service ] || [ -e /usr/lib/systemd/system/$s-server@.service ]; "
                   "then echo $s; break; fi; done", check=False)
    return LocalServer(name or "redis")


def x_cache(box, n):
    head = box.out(f"curl -s -o /dev/null -D - {URL}/{n}/")
    found = re.search(r"X-Cache: (\w+)", head)
    assert found, head
    return found.group(1)


def idle_connections_of_a_local_user(box, count=200):
    """How many of `count` idle connections to fibcache's Redis a local user (nobody) holds at
    once, while fibcache goes on caching (a new value MISS, then HIT)."""
    server = local_server(box)
    out = box.out(f"""
        runuser -u nobody -- {server.benchmark} -s {server.socket} -c {count} -I > /tmp/idle.log 2>&1 &
        sleep 2
        pid=$(pgrep -u nobody -f {server.benchmark} || true)
        held=0
        if [ -n "$pid" ]; then held=$(ls -l /proc/$pid/fd | grep -c 'socket:' || true); fi
        echo "$held"
        curl -s -o /dev/null -D - {URL}/77001/ | grep -o 'X-Cache: [A-Z]*'
        curl -s -o /dev/null -D - {URL}/77001/ | grep -o 'X-Cache: [A-Z]*'
        [ -z "$pid" ] || kill "$pid"
        head -c 300 /tmp/idle.log""", timeout=60)
    held, first, second, *log = out.splitlines()
    print(f"a local user (nobody) asked for {count} idle connections to fibcache's {server.title}: held {held}; "
          f"fibcache meanwhile: {first}, {second}; {server.benchmark} said: {' '.join(log)[:160]}")
    return int(held), (first, second), "\n".join(log)


def least_privilege(box):
    """The socket, the default user, fibcache's user, what the server's group gives fibcache."""
    server = local_server(box)
    redis, fibcache_redis = server.redis, server.fibcache_redis
    assert box.out(f"stat -c '%U:%G %a' {server.socket}") == f"{server.user}:{server.group} 660"
    x_cache(box, 40)  # started, its connections open
    held, answers, log = idle_connections_of_a_local_user(box)
    assert held == 0 and "Permission denied" in log, log
    assert answers == ("X-Cache: MISS", "X-Cache: HIT")
    assert "Permission denied" in box.out(f"runuser -u nobody -- {redis} ping 2>&1; true")

    # The default user (what root's plain redis-cli is): PING and nothing else.
    assert box.out(f"{redis} ping") == "PONG"
    for command in ("info", "ttl fibonacci_40", "get fibonacci_40", "client list", "config get maxclients"):
        assert "NOPERM" in box.out(f"{redis} {command}"), command

    # fibcache's credential: its commands on its keys in its database.
    assert box.out(f"{fibcache_redis} get fibonacci_40") == "102334155"
    assert box.out(f"{fibcache_redis} ttl fibonacci_40").isdigit()
    for command in ("eval 'while true do end' 0", "select 1", "set app:fibonacci_x 1", "get session:1",
                    "config get maxclients", "flushall", "keys '*'", "info", "client list", "acl list"):
        assert "NOPERM" in box.out(f"{fibcache_redis} {command}"), command

    # fibcache's process is in the server's group (PrivateUsers= or not), and sees none of its files.
    pid = box.out(MAIN_PID.format(unit="fibcache"))
    gid = box.out(f"getent group {server.group} | cut -d: -f3")
    assert gid and gid in box.out(f"awk '/^Groups:/' /proc/{pid}/status").split()
    for path in server.paths:
        assert box.out(f"ls -A /proc/{pid}/root{path}") == "", path
    assert box.out(f"ls {server.paths[0]}").count(server.name) >= 2  # what it hides is there
    # fibcache's URL (the unit's, or under Valkey its drop-in's) names the instance's socket.
    assert f"FIBCACHE_REDIS_URL={server.url}" in box.out(f"tr '\\0' '\\n' < /proc/{pid}/environ")
    print(f"fibcache's own {server.title} ({server.unit}): {server.socket} {server.user}:{server.group} 660; "
          f"fibcache in the group {server.group}, {' '.join(server.paths)} hidden from it")


def a_forged_value_is_not_served(box):
    """F(1000) + 2⁶¹ − 1 — F(1000)'s digit count and, modulo the old public prime, its residue —
    written with fibcache's own credential (what another host or a fake primary could do): before
    issue 22 served as a HIT with the forged digits; now recomputed, overwritten and counted."""
    right = fibonacci(1000)
    forged = right + 2**61 - 1
    fibcache_redis = local_server(box).fibcache_redis
    x_cache(box, 1000)  # stored (and in the process's copy)
    rejected = json.loads(box.out(f"curl -s {OPS}/status"))["cache_values_rejected"]
    assert box.out(f"{fibcache_redis} set fibonacci_1000 {forged} keepttl") == "OK"
    # Redis' invalidation message drops the process's copy: wait for it, not a fixed time.
    box.sh(f"for i in $(seq 50); do curl -s -o /dev/null -D - {URL}/1000/ | grep -q 'X-Cache: HIT' || break; "
           f"sleep 0.1; done")
    body = box.out(f"curl -s {URL}/1000/")
    assert json.loads(body)["fibonacci"] == right, "the forged digits are never served"
    assert box.out(f"{fibcache_redis} get fibonacci_1000") == str(right), "and are overwritten"
    assert json.loads(box.out(f"curl -s {OPS}/status"))["cache_values_rejected"] == rejected + 1
    print("F(1000) + 2^61 - 1 written with fibcache's credential: recomputed and overwritten, counted once")


def idle_clients_are_closed_and_fibcache_caches_on(box):
    """With the instance closing idle clients after 2 s (a drop-in adding --timeout 2; the shipped
    300 s would make the test slow), fibcache's kept connections are closed under it while it
    waits: it still stores and reads values, and its invalidation channel (a subscriber, never
    timed out) still works."""
    server = local_server(box)
    unit, fibcache_redis = server.unit, server.fibcache_redis
    dropin = f"/etc/systemd/system/{unit}.service.d"
    start = box.out(f"systemctl show -p ExecStart --value {unit} | sed -n 's/.*argv\\[\\]=\\([^;]*\\) ;.*/\\1/p'")
    assert server.binary in start, start
    box.sh(f"mkdir -p {dropin} && printf '[Service]\\nExecStart=\\nExecStart={start} --timeout 2\\n' > {dropin}/timeout.conf "
           f"&& systemctl daemon-reload && systemctl restart {unit} && systemctl restart fibcache")
    try:
        assert x_cache(box, 77100) == "MISS"
        sockets = f"ls -l /proc/$({MAIN_PID.format(unit=unit)})/fd | grep -c socket:"
        before = int(box.out(sockets))
        box.sh("sleep 4")  # every connection fibcache keeps has been idle past the timeout
        after = int(box.out(sockets))
        assert after < before, "Redis closed the idle ones"
        assert x_cache(box, 77101) == "MISS" and x_cache(box, 77101) == "HIT"
        assert box.out(f"{fibcache_redis} get fibonacci_77101").isdigit(), "stored after its connections were closed"
        assert json.loads(box.out(f"curl -s {OPS}/status"))["local_cache"]["in_use"] is True
        # Evicted in Redis by another client: the invalidation reaches fibcache's in-process copy.
        assert x_cache(box, 77101) == "HIT"
        box.sh(f"{fibcache_redis} del fibonacci_77101 && sleep 0.5")
        assert x_cache(box, 77101) == "MISS"
        print(f"{server.title} closing idle clients after 2 s: its sockets {before} -> {after} while fibcache waited; "
              f"fibcache cached on, its invalidations too")
    finally:
        box.sh(f"rm -rf {dropin} && systemctl daemon-reload && systemctl restart {unit} && systemctl restart fibcache")


def planted_symlinks_change_nothing(box, reinstall, plants):
    """The server's user (who owns /etc/redis, /etc/valkey) plants each of `plants` as a symlink
    to a canary file of root's; `reinstall` (run as root) must leave the canary as it was and the
    users file a regular file of fibcache's."""
    server = local_server(box)
    # Root's file, with the lines an older install added to the host Redis' file (which
    # make install takes out of /etc/redis/redis.conf: through a symlink, out of this).
    box.sh("printf '%s\\n' 'a file of root' 'include /etc/redis/fibcache.conf' "
           "\"# added by fibcache's make install; make uninstall removes these two lines\" > /root-canary "
           "&& chmod 0600 /root-canary")
    before = box.out("stat -c '%U:%G %a %s' /root-canary; sha256sum /root-canary")
    moved = []
    for path in plants:
        if box.out(f"test -e {path} && ! test -L {path}; echo $?") == "0":
            box.sh(f"mv {path} {path}.kept-by-test")
            moved.append(path)
        box.sh(f"runuser -u {server.user} -- ln -sfn /root-canary {path}")
    try:
        result = box.sh(reinstall, check=False, timeout=300)
        after = box.out("stat -c '%U:%G %a %s' /root-canary; sha256sum /root-canary")
        users = box.out(f"stat -c '%F %U:%G %a' {server.users_file}; grep -c '^user fibcache on #' {server.users_file}",
                        check=False)
        print(f"planted {', '.join(plants)} -> /root-canary; {reinstall}: exit {result.returncode}; "
              f"canary before {before.splitlines()[0]}, after {after.splitlines()[0]}; users file: {users}")
        assert result.returncode == 0, result.stdout + result.stderr
        assert after == before, "the canary was written through a planted symlink"
        assert users == f"regular file root:{server.group} 640\n1"
        assert x_cache(box, 40) == "HIT"
    finally:
        for path in plants:
            box.sh(f"if test -L {path}; then rm -f {path}; fi")
        for path in moved:
            box.sh(f"mv {path}.kept-by-test {path}")
        box.sh("rm -f /root-canary")


def operations_for_the_group_only(box):
    """Issue 23: as installed, the operations server is a unix socket in a directory of the
    group fibcache-ops (0750, made at boot by tmpfiles.d). A member evicts and reads the status;
    any other local user — nobody, www-data (nginx's workers, PHP) — cannot even connect, on
    the socket or on a loopback port (there is none). Before: `runuser -u nobody -- curl -X
    DELETE http://127.0.0.1:8002/...` evicted."""
    assert box.out("stat -c '%U:%G %a' /run/fibcache-ops") == "root:fibcache-ops 750"
    assert box.out(f"stat -c '%F' {OPERATIONS_SOCKET}") == "socket"
    assert "d /run/fibcache-ops 0750 root fibcache-ops -" in box.out(
        "cat /usr/lib/tmpfiles.d/fibcache.conf /etc/tmpfiles.d/fibcache.conf 2>/dev/null", check=False)
    box.sh("id fibcache-operator >/dev/null 2>&1 || useradd --system -N -G fibcache-ops fibcache-operator")
    curl = "curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 {args}; echo \" $?\""
    # n = 38: a value no other check relies on being cached.
    evict = curl.format(args=f"-X DELETE {OPS}/api/fibonacci/number/38/")
    for user in ("nobody", "www-data"):
        for what in (evict, curl.format(args=f"{OPS}/status"), curl.format(args=f"{OPS}/metrics"),
                     curl.format(args="-X DELETE http://127.0.0.1:8002/api/fibonacci/number/38/")):
            assert box.out(f"runuser -u {user} -- bash -c '{what}'") == "000 7", (user, what)
    for what in (evict, curl.format(args=f"{OPS}/status"), curl.format(args=f"{OPS}/metrics")):
        assert box.out(f"runuser -u fibcache-operator -- bash -c '{what}'") == "200 0", what
