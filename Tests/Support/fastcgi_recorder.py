"""A FastCGI responder of our own that keeps the bytes of each request it is sent, and the shipped
nginx site in front of it instead of fibcache: what nginx really sends (the fuzz corpus,
Tests/FuzzFastCGI/make_corpus.py; the largest requests, Tests/Faults/test_nginx_largest_request.py)."""
import socket
import threading

from fastcgi_records import END_REQUEST, HEADER_LENGTH, STDIN, STDOUT, record, split_records
from stack import Stack


class RecordingResponder:
    """A FastCGI responder that keeps each request's raw bytes and answers 200 with `{}`."""

    def __init__(self, path):
        self.path = str(path)
        self.requests = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        buffered = b""
        with connection:
            while chunk := connection.recv(65536):
                buffered += chunk
                start = 0
                for offset, kind, request_id, length, padding in split_records(buffered):
                    if kind == STDIN and length == 0:  # the request is complete: keep it, answer it
                        end = offset + HEADER_LENGTH + padding
                        with self.lock:
                            self.requests.append(buffered[start:end])
                        start = end
                        body = b"Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{}"
                        connection.sendall(record(STDOUT, body, request_id) + record(STDOUT, b"", request_id)
                                           + record(END_REQUEST, bytes(8), request_id))
                buffered = buffered[start:]

    def close(self):
        self.listener.close()


class RecordingStack(Stack):
    """The shipped site in front of the recording responder (`peer`) instead of fibcache."""

    def start_fibcache(self, sock, log_path):
        self.peer = RecordingResponder(sock)

    def stop(self):
        super().stop()
        self.peer.close()
