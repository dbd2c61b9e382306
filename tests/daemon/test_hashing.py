"""The hashing reader: one pass, both digests, and no partial stream passes as whole."""

from __future__ import annotations

import hashlib
import io

import blake3
import pytest

from evidock.daemon.errors import SizeMismatch
from evidock.daemon.hashing import Digests, HashingReader


def test_one_pass_gives_blake3_and_sha256():
    data = bytes(range(256)) * 5000
    reader = HashingReader(io.BytesIO(data), len(data), chunk_size=4096)
    assert data == b"".join(reader.chunks())
    assert Digests(len(data), blake3.blake3(data).hexdigest(),
                   hashlib.sha256(data).hexdigest()) == reader.digests()


def test_truncated_stream_raises_size_mismatch_at_the_end():
    reader = HashingReader(io.BytesIO(b"abc"), 10)
    with pytest.raises(SizeMismatch):
        b"".join(reader.chunks())


def test_growing_stream_raises_size_mismatch_as_soon_as_it_overruns():
    reader = HashingReader(io.BytesIO(b"x" * 100), 10, chunk_size=64)
    with pytest.raises(SizeMismatch):
        reader.read()


def test_digests_are_refused_before_the_end():
    reader = HashingReader(io.BytesIO(b"x" * 100), 100, chunk_size=10)
    reader.read()
    with pytest.raises(RuntimeError):
        reader.digests()


def test_digest_comparison_checks_size_and_both_hashes():
    a = Digests(1, "a" * 64, "b" * 64)
    assert a.matches(Digests(1, "a" * 64, "b" * 64))
    assert not a.matches(Digests(2, "a" * 64, "b" * 64))
    assert not a.matches(Digests(1, "a" * 64, "c" * 64))
