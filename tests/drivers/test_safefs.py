"""Opening device files never leaves the device's root and reads only regular files."""

from __future__ import annotations

import os

import pytest

from evidock.daemon.errors import UnsafeSource
from evidock.drivers.safefs import open_regular, walk_regular


@pytest.fixture
def root(tmp_path):
    dev = tmp_path / "dev"
    (dev / "DCIM").mkdir(parents=True)
    (dev / "DCIM" / "a.mp4").write_bytes(b"video")
    (tmp_path / "secret").write_text("outside the device")
    os.symlink(tmp_path / "secret", dev / "DCIM" / "link.mp4")
    os.symlink(tmp_path, dev / "escape")
    os.mkfifo(dev / "DCIM" / "pipe.mp4")
    return dev


def test_regular_file_opens(root):
    with open_regular(str(root), "DCIM/a.mp4") as fh:
        assert b"video" == fh.read()


@pytest.mark.parametrize("rel", ["DCIM/link.mp4", "escape/secret", "../secret", "/etc/passwd",
                                 "DCIM/../../secret", "DCIM/pipe.mp4"])
def test_anything_but_a_regular_file_inside_the_root_is_refused(root, rel):
    with pytest.raises(UnsafeSource):
        open_regular(str(root), rel)


def test_walk_lists_regular_files_and_reports_the_rest(root):
    errors: list = []
    found = [e.relpath for e in walk_regular(str(root), errors=errors)]
    assert ["DCIM/a.mp4"] == found
    assert {"DCIM/link.mp4", "DCIM/pipe.mp4", "escape"} == {rel for rel, _ in errors}


def test_walk_keeps_undecodable_names(tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), b"\xb3\xc2.mp4")
    with open(raw, "wb") as fh:
        fh.write(b"x")
    (entry,) = walk_regular(str(tmp_path))
    with open_regular(str(tmp_path), entry.relpath) as fh:
        assert b"x" == fh.read()
