"""Build the compliance side of a station from its configuration: cases, holds, exemptions,
alerts with their sinks, and the checks.  Called by the daemon (service.py) and by the
commands that work on the same objects (``evidock cases|exemptions|alerts|check``)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from evidock.daemon.alerts.book import AlertBook
from evidock.daemon.alerts.sinks import LogSink, WebhookSink
from evidock.daemon.cases.book import CaseBook
from evidock.daemon.cases.holds import HoldKeeper
from evidock.daemon.checks.anchor import AnchorCheck
from evidock.daemon.checks.archive import ArchiveCheck
from evidock.daemon.checks.devices import DevicesCheck
from evidock.daemon.checks.fixity import FixityCheck
from evidock.daemon.checks.handover import HandoverCheck
from evidock.daemon.checks.inventory import InventoryCheck
from evidock.daemon.checks.retention import RetentionCheck
from evidock.daemon.checks.runner import CheckRunner
from evidock.daemon.checks.workers import WorkersCheck
from evidock.daemon.config import Config
from evidock.daemon.exemptions import Exemptions
from evidock.daemon.ledger.anchor import Anchorer
from evidock.daemon.ledger.sqlite import SqliteLedger
from evidock.daemon.store.base import WormStore


@dataclass
class Compliance:
    holds: HoldKeeper
    cases: CaseBook
    exemptions: Exemptions
    alerts: AlertBook
    runner: CheckRunner
    time_zone: ZoneInfo
    anchorer: Anchorer | None = None


def sinks_for(config: Config) -> list:
    sinks: list = [LogSink()] if config.alerts.log else []
    if config.alerts.webhook_url:
        sinks.append(WebhookSink(
            config.alerts.webhook_url, station=config.station.id,
            retries=config.alerts.webhook_retries, timeout=config.alerts.webhook_timeout_seconds,
            backoff=config.alerts.webhook_backoff_seconds,
            secret=config.alerts.webhook_secret or None))
    return sinks


def build(config: Config, ledger: SqliteLedger, store: WormStore, *, sinks=None,
          repair: bool = True) -> Compliance:
    policy, checks, cases_cfg = config.policy, config.checks, config.cases
    holds = HoldKeeper(ledger, store, retention_days=policy.retention_days,
                       retention_days_by_type=cases_cfg.retention_days_by_type)
    cases = CaseBook(ledger, holds, auto_link=cases_cfg.auto_link)
    exemptions = Exemptions(ledger, handover_hours=policy.handover_hours,
                            reasons=checks.exemption_reasons)
    alerts = AlertBook(ledger, sinks_for(config) if sinks is None else sinks)
    anchorer = Anchorer(ledger, store, station=config.station.id,
                        retention_days=policy.retention_days, clock=ledger.clock)
    runner = CheckRunner(ledger, alerts, {
        "handover": HandoverCheck(ledger, exemptions, lead_hours=checks.handover_lead_hours,
                                  handover_hours=policy.handover_hours),
        "retention": RetentionCheck(ledger, store, holds, lead_days=checks.retention_lead_days,
                                    repair=repair),
        "fixity": FixityCheck(ledger, store, cycle_days=checks.fixity_cycle_days),
        "archive": ArchiveCheck(ledger, archive_days=cases_cfg.archive_days,
                                full_process_types=cases_cfg.full_process_types,
                                handover_hours=policy.handover_hours),
        "devices": DevicesCheck(ledger, lookback_hours=checks.device_lookback_hours),
        "anchor": AnchorCheck(anchorer),
        "inventory": InventoryCheck(ledger, store, station=config.station.id),
        "workers": WorkersCheck(config.run_dir / "status.json"),
    }, cases=cases, clock=ledger.clock)
    return Compliance(holds, cases, exemptions, alerts, runner, ZoneInfo(cases_cfg.time_zone),
                      anchorer)
