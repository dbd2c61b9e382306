"""``evidock status`` says when ingest is paused and which worker or thread is dead or stuck."""

from __future__ import annotations

from evidock.daemon.cli.station import _health_lines


def test_a_paused_pipeline_and_dead_or_stuck_workers_are_shown():
    lines = _health_lines({
        "paused": {"cause": "ledger", "error": "database or disk is full"},
        "workers": [{"name": "ingest-0", "alive": False, "stuck": False},
                    {"name": "ingest-1", "alive": True, "stuck": True, "media_id": 4,
                     "last_beat_age_s": 400.0},
                    {"name": "ingest-2", "alive": True, "stuck": False}],
        "threads": {"spool-drainer": False, "device-release": True}})
    text = "\n".join(lines)
    assert 4 == len(lines)
    assert "PAUSED" in text and "database or disk is full" in text
    assert "ingest-0 is DEAD" in text and "ingest-1 is STUCK" in text
    assert "spool-drainer is DEAD" in text


def test_a_healthy_station_shows_no_health_lines():
    assert [] == _health_lines({"paused": None, "workers": [
        {"name": "ingest-0", "alive": True, "stuck": False}], "threads": {"x": True}})
