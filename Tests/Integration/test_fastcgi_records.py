"""The FastCGI records the Python tests write (Tests/Support/fastcgi_records.py), held to the
specification (FastCGI 1.0, section 3.4): a name or value length below 128 is one byte; from 128
on, four bytes, big-endian, with the top bit set. A copy of the encoder that wrote one byte (or
dropped the bit) for lengths of 128 and more once made the tests send what nginx never does.
Pure Python: no stack is started."""
import re
from pathlib import Path

import pytest

from conftest import ROOT  # conftest has put Tests/Support on sys.path
from fastcgi_records import PARAMS, four_byte_length, header, length_prefix, params_pair, read_length, record


@pytest.mark.parametrize("n, encoded", [
    (0, b"\x00"), (127, b"\x7f"),
    (128, b"\x80\x00\x00\x80"), (300, b"\x80\x00\x01\x2c"), (65535, b"\x80\x00\xff\xff"),
    (0x7FFFFFFF, b"\xff\xff\xff\xff"),
])
def test_lengths_from_128_take_four_bytes_with_the_top_bit(n, encoded):
    assert length_prefix(n) == encoded
    assert read_length(encoded, 0) == (n, len(encoded))


def test_four_byte_form_below_128_still_sets_the_top_bit():
    assert four_byte_length(3) == b"\x80\x00\x00\x03"


@pytest.mark.parametrize("name_length, value_length", [(1, 1), (127, 128), (128, 127), (200, 70_000)])
def test_a_pair_decodes_to_its_name_and_value(name_length, value_length):
    name, value = b"n" * name_length, b"v" * value_length
    pair = params_pair(name, value)
    got_name_length, offset = read_length(pair, 0)
    got_value_length, offset = read_length(pair, offset)
    assert (got_name_length, got_value_length) == (name_length, value_length)
    assert pair[offset:offset + name_length] == name
    assert pair[offset + name_length:] == value


def test_a_record_header_announces_its_content_and_padding():
    assert header(PARAMS, 200, request_id=3, padding=5) == bytes([1, PARAMS, 0, 3, 0, 200, 5, 0])
    assert record(PARAMS, b"abc", padding=5) == bytes([1, PARAMS, 0, 1, 0, 3, 5, 0]) + b"abc" + b"\0" * 5


def test_no_python_test_writes_records_or_lengths_by_hand():
    """Every Python encoder of FastCGI bytes is fastcgi_records'; raw 32-bit words written on purpose
    (hostile length claims) are struct.pack(">II", ...) and name their words. test_deploy's probe is
    Perl run inside the box, which has no python3: it cannot import the module (its encoder is right)."""
    hand_written = re.compile(r'struct\.pack\(">BBHHBB"|\|\s*0x8[0]{7}\b|\b0x8[0]{7}\s*\|')  # [0]{7}: not itself
    offenders = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "Tests").rglob("*.py"))
                 if path.name not in ("fastcgi_records.py", "test_deploy.py") and hand_written.search(path.read_text())]
    assert offenders == []
