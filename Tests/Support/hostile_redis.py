"""Fake Redis and Sentinel servers that answer with hostile replies: what a
compromised or impersonated peer could send. Loopback only, a free port, one
thread per connection; every stream is bounded in bytes and time, and ends
when the client hangs up. No pytest here.

    with HostileRedis(reply=huge_bulk) as fake:   # fake.port
        ...

`reply(args)` is called for each command (a list of bytes); it returns bytes, or
a generator of chunks to send with a pause between them (`(chunk, seconds)`).
"""
import socket
import threading
import time

# The most one fake sends in all, whatever its clients do: enough to show an
# unbounded client swelling far past any sane size, not enough to hurt the machine.
MAX_STREAMED = 400 << 20
MAX_SECONDS = 20.0


def read_command(stream):
    """One RESP command (an array of bulk strings), as hiredis sends it; None at EOF."""
    header = stream.readline()
    if not header:
        return None
    if not header.startswith(b"*"):
        return header.split()  # an inline command (redis-cli style)
    args = []
    for _ in range(int(header[1:])):
        length = int(stream.readline()[1:])
        args.append(stream.read(length + 2)[:-2])
    return args


class HostileRedis:
    """A Redis that speaks just enough RESP to be connected to, then answers as `reply` says."""

    def __init__(self, reply, host="127.0.0.1"):
        self.reply = reply
        self.listener = socket.socket()
        self.listener.bind((host, 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.streamed = 0
        self.commands = []
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.started = time.monotonic()

    def __enter__(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.listener.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn, conn.makefile("rb") as stream:
            try:
                while not self.stopping.is_set() and (args := read_command(stream)) is not None:
                    with self.lock:
                        self.commands.append(args)
                    self._send(conn, self.reply(args))
            except (OSError, ValueError):
                pass  # the client hung up (what a bounded client does to these replies)

    def _send(self, conn, answer):
        if isinstance(answer, bytes):
            conn.sendall(answer)
            return
        for chunk, pause in answer:
            with self.lock:
                if self.streamed + len(chunk) > MAX_STREAMED:
                    return
                self.streamed += len(chunk)
            if self.stopping.is_set() or time.monotonic() - self.started > MAX_SECONDS:
                return
            conn.sendall(chunk)
            if pause:
                time.sleep(pause)


def command_name(args):
    return b" ".join(a.upper() for a in args[:2])


def connectable(hostile):
    """`hostile` for every command but what a connection's setup needs (SELECT, and the
    invalidation channel's CLIENT ID / CLIENT TRACKING), so the hostile answer reaches
    the cache's own commands (GETRANGE, SET, ...) and SUBSCRIBE."""
    def reply(args):
        name = command_name(args)
        if name.startswith(b"SELECT") or name == b"CLIENT TRACKING":
            return b"+OK\r\n"
        if name == b"CLIENT ID":
            return b":7\r\n"
        return hostile(args)
    return reply


def huge_bulk(_args):
    """A 2 GB bulk string, streamed as fast as the client takes it."""
    yield b"$2000000000\r\n", 0
    while True:
        yield b"7" * 65536, 0


def huge_array(_args):
    """An array claiming 50 million elements, then the elements."""
    yield b"*50000000\r\n", 0
    while True:
        yield b":1\r\n" * 16384, 0


def many_strings(_args):
    """1,024 strings of 200 kB each: every one shorter than F(10^6)'s digits, 200 MB together."""
    yield b"*1024\r\n", 0
    for _ in range(1024):
        yield b"$200000\r\n" + b"7" * 200_000 + b"\r\n", 0


def trickle(_args):
    """A valid 20-digit value, one byte every 150 ms (about 4 s in all)."""
    for byte in b"$20\r\n12345678901234567890\r\n":
        yield bytes([byte]), 0.15


# A newline, then what would be a journal line of emergency priority.
INJECTED = b"<0>emergency: fibcache owned"


def error_with_newline(_args):
    return b"-ERR boom\n" + INJECTED + b"\r\n"


def sentinel_naming(host, port=6379):
    """A Sentinel whose primary for every service is `host`:`port`."""
    def reply(args):
        if command_name(args) == b"SENTINEL GET-MASTER-ADDR-BY-NAME":
            return b"*2\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n" % (len(host), host, len(str(port)), port)
        return b"+OK\r\n"
    return reply


def late(reply, seconds):
    """`reply`, after `seconds` of silence (a Sentinel too slow to be waited for)."""
    def answer(args):
        yield b"", seconds
        yield reply(args), 0
    return answer


def primary_accepting_anything(args):
    """An attacker's node posing as a primary: takes any password, says it is one, stores nothing."""
    name = command_name(args)
    if name == b"ROLE":
        return b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
    if name.startswith(b"GETRANGE"):
        return b"$0\r\n\r\n"
    if name == b"CLIENT ID":
        return b":7\r\n"
    return b"+OK\r\n"


def main():
    """Runs one fake in the foreground, for a box with no pytest in it (Tests/Support/peer_attacks.py):
    python3 hostile_redis.py SHAPE PORT_FILE [--connectable] [--seconds N]."""
    import argparse
    shapes = {f.__name__: f for f in (huge_bulk, huge_array, many_strings, trickle, error_with_newline)}
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("shape", choices=sorted(shapes))
    parser.add_argument("port_file", help="where the port it listens on is written, once it listens")
    parser.add_argument("--connectable", action="store_true", help="answer a connection's setup (see connectable)")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    shape = shapes[args.shape]
    with HostileRedis(connectable(shape) if args.connectable else shape) as fake:
        with open(args.port_file, "w") as out:
            out.write(f"{fake.port}\n")
        time.sleep(args.seconds)


if __name__ == "__main__":
    main()
