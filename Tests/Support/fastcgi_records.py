"""FastCGI records as bytes (the FastCGI 1.0 specification, section 3 and 8), for tests that
write the protocol themselves: the corpus generator, the protocol fuzz peer."""
import struct

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, DATA, GET_VALUES = range(1, 10)
HEADER_LENGTH = 8
MAX_CONTENT = 0xFFFF


def header(kind, content_length, request_id=1, version=1, padding=0):
    """A record's 8-byte header alone (a test may announce content it never sends)."""
    return struct.pack(">BBHHBB", version, kind, request_id, content_length, padding, 0)


def record(kind, content, request_id=1, version=1, padding=0):
    """One record; `content` longer than a record may hold is the caller's mistake."""
    assert len(content) <= MAX_CONTENT, len(content)
    return header(kind, len(content), request_id, version, padding) + content + b"\0" * padding


def begin(role=1, flags=0, request_id=1):
    """BEGIN_REQUEST; flags=1 asks the responder to keep the connection (nginx's fastcgi_keep_conn)."""
    return record(BEGIN_REQUEST, struct.pack(">HB5x", role, flags), request_id)


def four_byte_length(n):
    """A name or value length in the four-byte form: big-endian, the top bit set (any n
    below 2^31; the form is the encoder's choice below 128, and required from 128 on)."""
    return struct.pack(">I", n | 0x80000000)


def length_prefix(n):
    """A name or value length: one byte below 128, else four with the top bit set."""
    return bytes([n]) if n < 128 else four_byte_length(n)


def params_pair(name, value):
    return length_prefix(len(name)) + length_prefix(len(value)) + name + value


def read_length(data, offset):
    """A name or value length as the specification decodes it: (length, next offset)."""
    if data[offset] >> 7 == 0:
        return data[offset], offset + 1
    return struct.unpack(">I", data[offset:offset + 4])[0] & 0x7FFFFFFF, offset + 4


def param_pairs(stream):
    """The (name, value) pairs of a PARAMS stream's content, in order."""
    pairs, offset = [], 0
    while offset < len(stream):
        name_length, offset = read_length(stream, offset)
        value_length, offset = read_length(stream, offset)
        end = offset + name_length + value_length
        pairs.append((stream[offset:offset + name_length], stream[offset + name_length:end]))
        offset = end
    return pairs


def params(body, request_id=1):
    """A whole PARAMS stream: `body` in records of at most 65535 bytes, then the empty record."""
    chunks = [body[i:i + MAX_CONTENT] for i in range(0, len(body), MAX_CONTENT)]
    return b"".join(record(PARAMS, chunk, request_id) for chunk in chunks) + record(PARAMS, b"", request_id)


def split_records(data):
    """[(offset, kind, request_id, content length, padding)] for each whole record at the start of
    `data`, up to the first one that is cut off (or not version 1)."""
    found, offset = [], 0
    while offset + HEADER_LENGTH <= len(data):
        version, kind, request_id, length, padding = struct.unpack(">BBHHB", data[offset:offset + 7])
        end = offset + HEADER_LENGTH + length + padding
        if version != 1 or end > len(data):
            break
        found.append((offset, kind, request_id, length, padding))
        offset = end
    return found
