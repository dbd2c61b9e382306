"""A one-shot run (``--until-idle``) reads only the sources it names, refuses a watch folder
that is not there, and ends non-zero naming every recording it leaves behind."""

from __future__ import annotations

import os

from ..daemon_proc import evidock, ledger_rows
from .test_service import make_footage

NO_CONFIG = {"EVIDOCK_CONFIG": ""}  # embedded defaults, whatever the caller's environment


def test_a_one_shot_run_with_no_source_named_is_a_config_error_and_creates_nothing(tmp_path):
    """Embedded defaults turn USB docking on; a one-shot run must not read whatever USB disk
    is attached, so with neither --watch nor --usb it has nothing to read: exit 2."""
    data = tmp_path / "d"
    proc = evidock("run", "--data-dir", str(data), "--until-idle", check=False, env=NO_CONFIG,
                   timeout=60)
    assert 2 == proc.returncode, proc.stderr
    assert "a one-shot run (--until-idle) has no source to read" in proc.stderr
    assert "--watch DIR" in proc.stderr and "--usb" in proc.stderr
    assert not data.exists()


def test_a_missing_watch_folder_is_a_config_error(tmp_path):
    data, missing = tmp_path / "d", tmp_path / "no-such-folder"
    proc = evidock("run", "--data-dir", str(data), "--watch", str(missing), "--until-idle",
                   check=False, env=NO_CONFIG, timeout=60)
    assert 2 == proc.returncode, proc.stderr
    assert f"watch folder {missing} does not exist (watch.folders in embedded defaults)" \
        in proc.stderr
    assert not data.exists()


def test_a_missing_watch_folder_in_the_config_file_names_the_file(tmp_path):
    config = tmp_path / "evidock.toml"
    missing = tmp_path / "share"
    config.write_text(f'[station]\ndata_dir = "{tmp_path / "d"}"\n[usb]\nenabled = false\n'
                      f'[watch]\nfolders = ["{missing}"]\n')
    proc = evidock("run", "--config", str(config), check=False, timeout=60)  # the daemon too
    assert 2 == proc.returncode, proc.stderr
    assert f"watch folder {missing} does not exist (watch.folders in {config})" in proc.stderr


def killed_mid_read(tmp_path):
    """A one-shot run over CAM-LEFT/DCIM/a.mp4 killed mid-read: (inbox, data dir, its args)."""
    inbox, data = tmp_path / "in", tmp_path / "d"
    make_footage(inbox, "CAM-LEFT", {"DCIM/a.mp4": 3 << 20})
    args = ("run", "--data-dir", str(data), "--watch", str(inbox), "--settle", "0",
            "--until-idle", "--no-derivatives")
    killed = evidock(*args, check=False, env={**NO_CONFIG, "EVIDOCK_FAULT": "read"})
    assert -9 == killed.returncode, killed.stderr[-2000:]
    return inbox, data, args


def test_until_idle_exits_non_zero_naming_a_recording_left_in_the_ledger(tmp_path):
    """A run is killed mid-read; the file is then removed from the folder and another added,
    so the next one-shot run hands the other over.  The first row was never handed over: the
    run must say so and exit 1, not end "failed: 0"."""
    inbox, data, args = killed_mid_read(tmp_path)
    (inbox / "CAM-LEFT" / "DCIM" / "a.mp4").unlink()
    make_footage(inbox, "CAM-LEFT", {"DCIM/b.mp4": 1000})

    proc = evidock(*args, check=False, env=NO_CONFIG)
    rows = {r["id"]: r for r in ledger_rows(data)}
    assert {1: "seen", 2: "verified"} == {i: r["state"] for i, r in rows.items()}
    assert 1 == proc.returncode, proc.stderr[-3000:]
    assert "1 recording(s) found were not handed over:" in proc.stderr
    assert "media 1 CAM-LEFT/DCIM/a.mp4: seen" in proc.stderr
    assert f"evidock ledger list --data-dir {data} --device SERIAL" in proc.stderr


def test_a_file_touched_after_a_killed_run_is_a_new_version_that_supersedes_the_old_row(
        tmp_path):
    """A run is killed mid-read; the file is then touched (same bytes, new mtime), so the next
    one-shot run finds it as a new version and hands that over.  The first row names bytes
    that are no longer there: it ends superseded, nothing is left behind, the run ends 0."""
    inbox, data, args = killed_mid_read(tmp_path)
    path = inbox / "CAM-LEFT" / "DCIM" / "a.mp4"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    proc = evidock(*args, check=False, env=NO_CONFIG)
    assert 0 == proc.returncode, proc.stderr[-3000:]
    assert "not handed over" not in proc.stderr
    rows = {r["id"]: r for r in ledger_rows(data)}
    assert {1: ("superseded", 2), 2: ("verified", None)} == {
        i: (r["state"], r["superseded_by"]) for i, r in rows.items()}
    assert rows[1]["deadline_at"] == rows[2]["deadline_at"]


def test_until_idle_exits_zero_when_everything_is_handed_over_again(tmp_path):
    """The leftover check reads the ledger: a second run over the same folder, with nothing
    left behind, still ends 0 (nothing is named)."""
    inbox, data = tmp_path / "in", tmp_path / "d"
    make_footage(inbox, "CAM-OK", {"a.mp4": 1000, "b.wav": 2000})
    args = ("run", "--data-dir", str(data), "--watch", str(inbox), "--settle", "0",
            "--until-idle", "--no-derivatives")
    for _ in range(2):
        proc = evidock(*args, check=False, env=NO_CONFIG)
        assert 0 == proc.returncode, proc.stderr[-3000:]
        assert "not handed over" not in proc.stderr
