"""A Redis Cluster of real redis-server processes (Debian 12's 7.0) for the tests: six nodes, each
on a loopback address of its own (127.0.4.1 .. 127.0.4.6), three primaries with a replica each,
made by `redis-cli --cluster create`, authenticated like stack.RedisAuth's nodes (ACL users, no
anonymous access). Everything in one temporary directory, stopped by PID. No pytest here.
"""
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from stack import REDIS_CLI, Redis, RedisAuth, free_port, redis_users, wait_until

SLOTS = 16384
ADDRESSES = [f"127.0.4.{i}" for i in range(1, 7)]



def _crc16_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return table


_CRC16 = _crc16_table()


def _crc16(data):
    """CRC-16/XMODEM (polynomial 0x1021, initial 0), as Redis' crc16.c."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ byte) & 0xFF]
    return crc


def key_slot(key):
    """A key's hash slot as Redis computes it (CRC16/XMODEM mod 16384 of the key or of its hash
    tag, the text between the first { and the next }, when not empty)."""
    data = key.encode()
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return _crc16(data) % SLOTS


class ClusterAuth(RedisAuth):
    """RedisAuth's users for cluster nodes: fibcache's (exactly the shipped line for a cluster URL:
    nothing added), the replicas' (replication between the nodes: --masteruser/--masterauth) and
    the tests' admin (redis-cli --cluster create/reshard, which also passes it to MIGRATE as AUTH2).
    No Sentinel users: a cluster promotes its replicas itself, over the (unauthenticated) cluster bus.
    fibcache's URL names its user (fibcache:@...), its password in the one file fibcache_args writes."""

    def redis_args(self):
        shipped = next(line for line in redis_users(self.fibcache, "FIBCACHE_REDIS_URL=redis+cluster://127.0.4.1:6379/\n").splitlines()
                       if line.startswith("user fibcache "))
        fibcache = shlex.split(shipped)[1:]
        return ["--user", "default", "off", "--user", *fibcache,
                "--user", "replica", "on", f">{self.infra}", "+psync", "+replconf", "+ping",
                "--user", "admin", "on", f">{self.infra}", "~*", "&*", "+@all",
                "--masteruser", "replica", "--masterauth", self.infra]

    def fibcache_args(self, directory):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "redis-password").write_text(self.fibcache + "\n")
        return ["--redis-password-file", str(directory / "redis-password")]


class ClusterNode(Redis):
    """One node: stack.Redis in cluster mode (database 0 only: no -n 1)."""

    def __init__(self, directory, host, auth, node_timeout_ms):
        port = free_port(host)
        bus = free_port(host)
        while bus == port:
            bus = free_port(host)
        self.bus_port = bus
        directory = Path(directory)
        super().__init__(directory, port=port, host=host, auth=auth, extra=[
            "--cluster-enabled", "yes", "--cluster-config-file", str(directory / "nodes.conf"),
            "--cluster-node-timeout", str(node_timeout_ms), "--cluster-announce-ip", host,
            # The bus port of its own (free), not port + 10000 (past 65535 for a high free port).
            "--cluster-port", str(bus),
            # A replica's first full sync at once, not after the default 5 s wait for others to join it.
            "--repl-diskless-sync-delay", "0"])

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def cli(self, *args, db=0):
        return super().cli(*args, db=db)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """kill -9, waited for."""
        self.proc.kill()
        self.proc.wait()

    def keys(self, pattern):
        """The keys matching `pattern` on this node (SCAN), as a set."""
        out = subprocess.run([REDIS_CLI, "-h", self.host, "-p", str(self.port), *self.auth.cli_args(),
                              "--scan", "--pattern", pattern],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return set(out.split())


@dataclass
class Entry:
    """One line of CLUSTER NODES."""
    id: str
    address: str          # host:port
    flags: set
    master_id: str        # "-" for a primary
    slots: set = field(default_factory=set)

    @property
    def is_primary(self):
        return "master" in self.flags

    @property
    def failed(self):
        return bool({"fail", "fail?", "handshake", "noaddr"} & self.flags)


def parse_nodes(text):
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        slots = set()
        for item in parts[8:]:
            if item.startswith("["):
                continue  # a slot being imported or migrated: [slot->-id], [slot-<-id]
            low, _, high = item.partition("-")
            slots.update(range(int(low), int(high or low) + 1))
        entries.append(Entry(parts[0], parts[1].split("@")[0], set(parts[2].split(",")), parts[3], slots))
    return entries


class RedisCluster:
    """Six nodes, three primaries and three replicas, `node_timeout_ms` their
    cluster-node-timeout (1000: a failed primary's replica promoted in seconds)."""

    def __init__(self, directory, node_timeout_ms=1000, addresses=ADDRESSES, replicas=1):
        self.dir = Path(directory)
        self.auth = ClusterAuth()
        self.replicas = replicas
        self.nodes = [ClusterNode(self.dir / f"node-{i + 1}", host, self.auth, node_timeout_ms)
                      for i, host in enumerate(addresses)]
        self.initial_primaries = []

    def start(self):
        for node in self.nodes:
            node.start()
            # No cluster support is a failure, not a skip.
            info = node.cli("info", "cluster")
            assert "cluster_enabled:1" in info, f"{node.address} is not in cluster mode: {info!r}"
        made = self.manage("create", *(n.address for n in self.nodes), "--cluster-replicas", str(self.replicas),
                           "--cluster-yes")
        assert made.returncode == 0, made.stdout + made.stderr
        wait_until(self.healthy, timeout=30, what="cluster_state:ok on every node, every replica in sync")
        self.initial_primaries = [self.node(e) for e in self.primaries()]
        return self

    def manage(self, *args, timeout=120):
        """redis-cli --cluster <args>, as the tests' admin."""
        return subprocess.run([REDIS_CLI, *self.auth.cli_args(), "--cluster", *args],
                              capture_output=True, text=True, timeout=timeout)

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def topology(self, via=None):
        """CLUSTER NODES as seen by `via` (a node; else the first live one)."""
        via = via or self.live()[0]
        return parse_nodes(via.cli("cluster", "nodes"))

    def primaries(self, via=None):
        """The primaries serving slots, not failed, by address."""
        return sorted((e for e in self.topology(via) if e.is_primary and e.slots and not e.failed), key=lambda e: e.address)

    def replica_of(self, primary, via=None):
        return next(e for e in self.topology(via) if e.master_id == primary.id and not e.failed)

    def node(self, entry_or_address):
        address = getattr(entry_or_address, "address", entry_or_address)
        return next(n for n in self.nodes if n.address == address)

    def owner(self, slot, via=None):
        return next(e for e in self.primaries(via) if slot in e.slots)

    def keyslot(self, key, via=None):
        """CLUSTER KEYSLOT, asked of a live node."""
        return int((via or self.live()[0]).cli("cluster", "keyslot", key))

    def healthy(self):
        """Every live node: cluster_state:ok with all slots served, and the same primaries owning the
        same slots; every live replica linked to its primary and in sync."""
        try:
            views = []
            for node in self.live():
                info = node.cli("cluster", "info")
                if "cluster_state:ok" not in info or f"cluster_slots_ok:{SLOTS}" not in info:
                    return False
                entries = parse_nodes(node.cli("cluster", "nodes"))
                views.append(sorted((e.address, tuple(sorted(e.slots))) for e in entries if e.is_primary and e.slots and not e.failed))
                me = next(e for e in entries if "myself" in e.flags)
                if not me.is_primary:
                    replication = node.cli("info", "replication")
                    if "master_link_status:up" not in replication or "master_sync_in_progress:0" not in replication:
                        return False
            return len(views) > 0 and all(v == views[0] for v in views) and \
                sum(len(slots) for _, slots in views[0]) == SLOTS
        except (OSError, subprocess.SubprocessError, StopIteration, ValueError):
            return False

    def reshard(self, source, target, slots):
        """redis-cli --cluster reshard of `slots` slots from primary `source` to `target` (Entries);
        returns its duration in seconds. (redis-cli moves a source's lowest-numbered slots first.)"""
        start = time.monotonic()
        done = self.manage("reshard", target.address, "--cluster-from", source.id, "--cluster-to", target.id,
                           "--cluster-slots", str(slots), "--cluster-yes")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr
        return time.monotonic() - start

    def set_node_timeout(self, milliseconds):
        for node in self.live():
            assert node.cli("config", "set", "cluster-node-timeout", str(milliseconds)) == "OK"

    def stop(self):
        for node in self.nodes:
            node.stop()
