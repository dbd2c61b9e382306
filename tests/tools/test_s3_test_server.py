"""The tests' S3 server holds every bucket the suite makes, whatever the disk it runs on."""

from __future__ import annotations

import io
import subprocess

import pytest

from ..s3_fixture import start_server


@pytest.fixture
def small_disk(tmp_path):
    """A 2 GiB filesystem: `weed mini` left to size itself would allow it two volumes."""
    where = tmp_path / "small"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2g", "tmpfs", str(where)], check=True)
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.s3
def test_the_server_on_a_small_disk_takes_writes_in_many_buckets(small_disk):
    server = start_server(small_disk)
    try:
        client = server.client()
        for n in range(40):  # more buckets than the disk's size in GiB, as the suite makes
            bucket = f"many-{n:02d}"
            server.make_lock_bucket(bucket)
            client.put_object(bucket, "clip.mp4", io.BytesIO(b"frames"), 6)
        assert b"frames" == client.get_object("many-39", "clip.mp4").read()
    finally:
        server.stop(timeout=5)
