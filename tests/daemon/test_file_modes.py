"""Evidence and the ledger are readable only by the service user and its group, whatever the
umask evidock was started with: no world-readable recording, ledger or data directory."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ..daemon_proc import EVIDOCK
from .test_service import make_footage


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o027])
def test_a_one_shot_run_leaves_nothing_for_others_whatever_the_umask(tmp_path, umask):
    make_footage(tmp_path / "in", "CAM-MODE", {"a.mp4": 5000})
    data = tmp_path / "d"
    proc = subprocess.run(
        [*EVIDOCK, "run", "--data-dir", str(data), "--watch", str(tmp_path / "in"),
         "--settle", "0", "--until-idle", "--no-derivatives"],
        capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(umask),
        env={**os.environ, "EVIDOCK_CONFIG": ""})
    assert 0 == proc.returncode, proc.stderr[-2000:]
    found = {}
    for path in [data, *data.rglob("*")]:
        if path.is_symlink() or path.is_socket():
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        found[str(path.relative_to(data.parent))] = mode
        assert 0 == mode & 0o007, f"{path} is {oct(mode)}: others may read or enter it"
    assert 0o750 == found["d"]
    assert 0o640 == found["d/ledger.sqlite3"]
    objects = [m for p, m in found.items() if p.startswith("d/store/media/")
               and not os.path.isdir(data.parent / p)]
    assert objects and {0o440} == set(objects)
