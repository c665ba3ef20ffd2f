#!/usr/bin/env python3
"""A hostile FastCGI peer: random and mutated records, over many connections, to a running
fibcache (Tests/Faults/test_fastcgi_fuzz.py; the system tests run it as www-data against the
installed package). It judges nothing itself: it reports what it sent and what came back, and
the caller checks the process (alive, RSS, file descriptors, a normal request afterwards).

    python3 Tests/Support/fastcgi_fuzz_peer.py SOCKET [--seconds 30] [--connections 20000]
        [--concurrency 8] [--seed 21] [--corpus DIR]
    SOCKET: a unix socket path, or HOST:PORT for TCP

Inputs are mutations of the seed corpus (Tests/FuzzFastCGI/corpus: nginx's real records and the
crash shapes): bit flips, record lengths and padding rewritten, name/value lengths set to the
CVE values, records dropped, repeated or inserted, truncation, splicing two seeds, random bytes.
One connection in eight trickles its bytes (a few at a time, a few ms apart, at most ~0.5 s).
Bounded by --seconds and --connections, whichever comes first; a fixed --seed repeats a run.
Prints one JSON line: connections, bytes sent, outcomes (answered, closed, reset, silent,
connect_failed) and mutations used.
"""
import argparse
import json
import random
import socket
import struct
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fastcgi_records import BEGIN_REQUEST, GET_VALUES, PARAMS, STDIN, begin, record, split_records  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "FuzzFastCGI" / "corpus"
# Four-byte name/value lengths as on the wire: the CVE-2025-23016 values and their neighbours.
HOSTILE_LENGTHS = [0xFFFFFFFF, 0xC0000000, 0xE0000000, 0xA0000001, 0x80000000, 0x8000FFFF, 0xBFFFFFFF, 0x80010000]
INTERESTING_CONTENT_LENGTHS = [0, 1, 7, 8, 9, 255, 256, 0x7FFF, 0xFFFE, 0xFFFF]


class Mutator:
    def __init__(self, seeds, rng):
        self.seeds, self.rng = seeds, rng
        self.kinds = [self.bit_flips, self.content_length, self.padding, self.pair_length, self.drop_record,
                      self.repeat_record, self.insert_record, self.truncate, self.splice, self.random_bytes,
                      self.hide_in_padding]

    def __call__(self):
        data = self.rng.choice(self.seeds)
        used = []
        for _ in range(self.rng.choice([1, 1, 1, 2, 3])):
            mutation = self.rng.choice(self.kinds)
            data = mutation(bytearray(data))
            used.append(mutation.__name__)
        return bytes(data), used

    def _record(self, data):
        records = split_records(bytes(data))
        return self.rng.choice(records) if records else None

    def bit_flips(self, data):
        for _ in range(self.rng.randint(1, 8)):
            if data:
                data[self.rng.randrange(len(data))] ^= 1 << self.rng.randrange(8)
        return data

    def content_length(self, data):
        found = self._record(data)
        if found:
            offset = found[0]
            value = self.rng.choice(INTERESTING_CONTENT_LENGTHS + [self.rng.randrange(0x10000)])
            data[offset + 4:offset + 6] = struct.pack(">H", value)
        return data

    def padding(self, data):
        found = self._record(data)
        if found:
            data[found[0] + 6] = self.rng.choice([0, 1, 7, 255, self.rng.randrange(256)])
        return data

    def pair_length(self, data):
        """A PARAMS record's first pair gets a hostile name or value length."""
        params = [r for r in split_records(bytes(data)) if r[1] == PARAMS and r[3] >= 2]
        if not params:
            return data
        offset, _, request_id, length, padding = self.rng.choice(params)
        hostile = struct.pack(">II", self.rng.choice(HOSTILE_LENGTHS), self.rng.choice(HOSTILE_LENGTHS + [0, 3]))
        content = hostile + bytes(data[offset + 8:offset + 8 + length])[8:]
        return data[:offset] + record(PARAMS, content[:0xFFFF], request_id, padding=padding) + data[offset + 8 + length + padding:]

    def drop_record(self, data):
        found = self._record(data)
        if found:
            offset, _, _, length, padding = found
            del data[offset:offset + 8 + length + padding]
        return data

    def repeat_record(self, data):
        found = self._record(data)
        if found:
            offset, _, _, length, padding = found
            whole = data[offset:offset + 8 + length + padding]
            data[offset:offset] = whole * self.rng.randint(1, 4)
        return data

    def insert_record(self, data):
        """A record of any type and id (management ones included) between two records."""
        kind = self.rng.choice([BEGIN_REQUEST, 2, 3, PARAMS, STDIN, 6, 7, 8, GET_VALUES, 10, 11, 42, 255])
        request_id = self.rng.choice([0, 1, 2, 0xFFFF])
        content = self.rng.choice([b"", bytes(8), struct.pack(">II", 0xC0000000, 0xC0000000) + b"x" * 8,
                                   self.rng.randbytes(self.rng.randrange(64))])
        offsets = [r[0] for r in split_records(bytes(data))] + [len(data)]
        at = self.rng.choice(offsets)
        data[at:at] = record(kind, content, request_id, padding=self.rng.choice([0, 0, 3]))
        return data

    def truncate(self, data):
        return data[:self.rng.randrange(len(data) + 1)]

    def splice(self, data):
        other = self.rng.choice(self.seeds)
        return data[:self.rng.randrange(len(data) + 1)] + other[self.rng.randrange(len(other) + 1):]

    def random_bytes(self, data):
        return bytearray(self.rng.randbytes(self.rng.choice([1, 8, 16, 64, 512])))

    def hide_in_padding(self, data):
        """A record's padding holds a record of its own (a parser that skips no padding reads it)."""
        found = self._record(data)
        if not found:
            return data
        offset, _, _, length, padding = found
        hidden = record(self.rng.choice([PARAMS, GET_VALUES, BEGIN_REQUEST]), struct.pack(">II", 0xC0000000, 0xC0000000) + b"x" * 8,
                        self.rng.choice([0, 1]))
        end = offset + 8 + length
        data[offset + 6] = len(hidden)
        data[end:end + padding] = hidden
        return data


def connect(address, timeout):
    if isinstance(address, tuple):
        s = socket.socket(socket.AF_INET)
    else:
        s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(address)
    return s


def exchange(address, payload, rng, deadline):
    """One connection: send (all at once, or trickled), then read what comes for a moment."""
    try:
        s = connect(address, 2.0)
    except OSError:
        return "connect_failed"
    with s:
        try:
            if rng.random() < 0.125:
                stop = min(deadline, time.monotonic() + 0.5)
                for i in range(0, len(payload), step := rng.randint(1, 16)):
                    s.sendall(payload[i:i + step])
                    if time.monotonic() >= stop:
                        break
                    time.sleep(rng.choice([0.001, 0.005, 0.02]))
            else:
                s.sendall(payload)
            if rng.random() < 0.5:
                s.shutdown(socket.SHUT_WR)
            s.settimeout(0.3)
            reply = s.recv(65536)
            return "answered" if reply else "closed"
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        except socket.timeout:
            return "silent"
        except OSError:
            return "reset"


def load_seeds(corpus):
    seeds = [p.read_bytes() for p in sorted(Path(corpus).iterdir()) if p.is_file()]
    assert seeds, f"no seeds in {corpus}"
    return seeds


def parse_address(text):
    if ":" in text and not text.startswith("/"):
        host, port = text.rsplit(":", 1)
        return (host, int(port))
    return text


def run(address, seconds=30.0, connections=20000, concurrency=8, seed=21, corpus=DEFAULT_CORPUS):
    """Fuzzes `address` (a unix socket path or (host, port)); returns the summary as a dict."""
    seeds = load_seeds(corpus)
    deadline = time.monotonic() + seconds
    outcomes, mutations = Counter(), Counter()
    sent = [0, 0]  # connections, bytes
    lock = threading.Lock()

    def worker(index):
        rng = random.Random(seed * 1000 + index)
        mutate = Mutator(seeds, rng)
        refused_in_a_row = 0
        # A server that refuses connections this often is gone: no point in going on.
        while time.monotonic() < deadline and refused_in_a_row < 20:
            with lock:
                if sent[0] >= connections:
                    return
                sent[0] += 1
            payload, used = mutate()
            outcome = exchange(address, payload, rng, deadline)
            refused_in_a_row = refused_in_a_row + 1 if outcome == "connect_failed" else 0
            with lock:
                sent[1] += len(payload)
                outcomes[outcome] += 1
                mutations.update(used)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)
    return {"connections": sent[0], "bytes": sent[1], "seconds": round(time.monotonic() - started, 1), "seed": seed,
            "outcomes": dict(outcomes), "mutations": dict(mutations)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("socket", help="a unix socket path, or HOST:PORT")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    args = parser.parse_args()
    summary = run(parse_address(args.socket), args.seconds, args.connections, args.concurrency, args.seed, args.corpus)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
