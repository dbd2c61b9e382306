"""/metrics tells the truth in every state: recordings waiting on devices that are away are
in the queue depth, overdue ones are counted, and the version, the process and when each
check last ran (and last ran through) are served."""

from __future__ import annotations

from datetime import timedelta
from importlib import metadata

from evidock.daemon.checks.runner import read_state
from evidock.daemon.wiring import CHECKS_STATE

from .test_metrics import scrape  # noqa: F401 - the fixture
from .world import T0, World


def test_two_overdue_recordings_on_an_undocked_device_are_the_queue(tmp_path, scrape):  # noqa: F811
    world = World(tmp_path)
    world.found(recorded_at=T0 - timedelta(hours=30))
    world.found(recorded_at=T0 - timedelta(hours=26))
    world.found(recorded_at=T0 - timedelta(hours=1))
    # the daemon's pipeline is empty: the device left before its files were read
    live = {"queued": 0, "retrying": 0, "active": 0, "devices": [], "workers": []}
    m = scrape(world, status=lambda: live)
    assert 3 == m[("evidock_queue_depth", ())]
    assert 2 == m[("evidock_overdue_recordings", ())]
    assert 0 == m[("evidock_pipeline_files", (("state", "queued"),))]


def test_build_info_and_process_metrics_are_served(tmp_path, scrape):  # noqa: F811
    m = scrape(World(tmp_path))
    version = metadata.version("evidock")
    assert [1.0] == [v for (name, labels), v in m.items() if name == "evidock_build_info"
                     and ("version", version) in labels]
    assert m[("process_resident_memory_bytes", ())] > 0
    assert m[("process_open_fds", ())] > 0


def test_each_check_last_run_and_last_success_are_served(tmp_path, scrape):  # noqa: F811
    world = World(tmp_path)
    state = world.config.run_dir / CHECKS_STATE
    assert world.c.runner.run("handover").ok
    world.clock.advance(minutes=5)
    broken = world.c.runner.checks["fixity"]
    world.c.runner.checks["fixity"] = type("Broken", (), {
        "run": lambda self, now: (_ for _ in ()).throw(OSError("store unreachable"))})()
    assert not world.c.runner.run("fixity").ok
    world.c.runner.checks["fixity"] = broken
    m = scrape(world, checks_state=lambda: read_state(state))
    handover = ("check", "handover"),
    fixity = ("check", "fixity"),
    assert T0.timestamp() == m[("evidock_check_last_run_timestamp_seconds", handover)]
    assert T0.timestamp() == m[("evidock_check_last_success_timestamp_seconds", handover)]
    assert (T0 + timedelta(minutes=5)).timestamp() == \
        m[("evidock_check_last_run_timestamp_seconds", fixity)]
    assert ("evidock_check_last_success_timestamp_seconds", fixity) not in m
    assert "OSError: store unreachable" == read_state(state)["fixity"]["last_error"]
