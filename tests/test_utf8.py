"""A file is read as UTF-8 exactly when Python's strict decoder accepts all of it (hub/read/utf8.py checks bytes
without decoding them); otherwise as cp1252. A character cut by a read block's end is still one character."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from hub.read.headers import sniff
from hub.read.raw_lines import RawLines
from hub.read.utf8 import Stream, valid


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


EDGES = [b"", b"abc", "café".encode(), "€😀".encode(), b"\xef\xbb\xbfid", b"caf\xc3", b"\xe2\x82", b"\xc0\xaf",
         b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80",
         b"\x80", b"\xbf\xbf\xbf\xbf\xbf", b"caf\xe9", b"\x93quoted\x94"]


def _corpus(n: int) -> list[bytes]:
    rng = random.Random(19)  # the same strings every run
    pieces = [bytes([b]) for b in range(256)] + [c.encode() for c in "é€😀ñ\u0800\uffff"] + [b"\n", b","]
    return [b"".join(rng.choice(pieces) if rng.random() < 0.4 else bytes([rng.randrange(32, 127)])
                     for _ in range(rng.randrange(1, 16))) for _ in range(n)]


def test_the_verdict_is_the_strict_decoders():
    for data in EDGES + _corpus(20_000):
        assert valid(data) == _decodes(data), data


@pytest.mark.parametrize("data", EDGES + _corpus(300))
def test_blocks_cut_anywhere_give_the_same_verdict(data):
    for cut in range(len(data) + 1):
        stream = Stream()
        stream.add(data[:cut])
        stream.add(data[cut:])
        assert stream.finish() == _decodes(data), (data, cut)


@pytest.mark.parametrize(("char", "encoding"), [("é".encode(), "utf-8"), ("€".encode(), "utf-8"), (b"\xe9", "cp1252")])
def test_a_character_across_a_read_block_is_read_in_its_encoding(tmp_path: Path, char: bytes, encoding: str):
    header = b"SSID,LAST_NAME\n"
    before = (1 << 20) - len(header) - 1  # the character starts one byte before the 1 MiB block's end
    body = b"1," + b"a" * (before - 2) + char + b"\n2,Ruiz\n"
    path = tmp_path / "demographics.csv"
    path.write_bytes(header + body)
    assert sniff(path)[0] == encoding
    lines = RawLines(path)
    assert sum(len(block) for block, _ in lines.blocks()) == 2 and lines.encoding == encoding
