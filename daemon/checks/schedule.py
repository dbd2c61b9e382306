"""The checks as apscheduler jobs inside the daemon.

handover: every ``handover_every_minutes``; retention and fixity: daily at their HH:MM
(station local time); archive (R7, R10): every ``archive_every_hours``; the ledger's anchor
every ``anchor_every_minutes`` and the store-to-ledger inventory daily at ``inventory_at``;
workers (a dead or stuck ingest worker, a paused pipeline): every minute.  Each job runs once
at a time (``max_instances=1``, missed runs coalesce) and the first handover, archive and
anchor runs come right after start-up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from evidock.daemon.checks.runner import CheckRunner
from evidock.daemon.config import ChecksConfig


def add_jobs(scheduler: BackgroundScheduler, runner: CheckRunner, checks: ChecksConfig) -> None:
    soon = datetime.now().astimezone() + timedelta(seconds=2)  # after the first scans
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600}
    scheduler.add_job(runner.run, IntervalTrigger(minutes=checks.handover_every_minutes),
                      args=["handover"], id="handover", next_run_time=soon, **common)
    scheduler.add_job(runner.run, IntervalTrigger(minutes=checks.handover_every_minutes),
                      args=["devices"], id="devices", next_run_time=soon, **common)
    scheduler.add_job(runner.run, IntervalTrigger(minutes=1), args=["workers"], id="workers",
                      next_run_time=soon, **common)
    scheduler.add_job(runner.run, IntervalTrigger(hours=checks.archive_every_hours),
                      args=["archive"], id="archive", next_run_time=soon, **common)
    scheduler.add_job(runner.run, IntervalTrigger(minutes=checks.anchor_every_minutes),
                      args=["anchor"], id="anchor", next_run_time=soon, **common)
    for name, at in (("retention", checks.retention_at), ("fixity", checks.fixity_at),
                     ("inventory", checks.inventory_at)):
        hour, minute = (int(x) for x in at.split(":"))
        scheduler.add_job(runner.run, CronTrigger(hour=hour, minute=minute), args=[name],
                          id=name, **common)
