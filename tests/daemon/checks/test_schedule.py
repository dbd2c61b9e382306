"""The daemon schedules the four checks as configured."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from evidock.daemon.checks.schedule import add_jobs
from evidock.daemon.config import ChecksConfig


class Runner:
    def run(self, name):
        pass


def test_every_check_is_scheduled_with_its_configured_times():
    scheduler = BackgroundScheduler()
    add_jobs(scheduler, Runner(), ChecksConfig(handover_every_minutes=2, retention_at="01:15",
                                               fixity_at="04:45", archive_every_hours=3))
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {"handover", "devices", "retention", "fixity", "archive", "anchor",
            "inventory", "workers"} == set(jobs)
    assert 120 == jobs["handover"].trigger.interval.total_seconds()
    assert 60 == jobs["workers"].trigger.interval.total_seconds()
    assert 120 == jobs["devices"].trigger.interval.total_seconds()
    assert 3 * 3600 == jobs["archive"].trigger.interval.total_seconds()
    fields = {f.name: str(f) for f in jobs["retention"].trigger.fields}
    assert ("1", "15") == (fields["hour"], fields["minute"])
    assert ("fixity",) == jobs["fixity"].args
