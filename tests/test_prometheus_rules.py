"""The Prometheus alerting rules in config/ are valid (``promtool check rules``), behave as
their unit tests say (``promtool test rules``), and use only metrics the daemon serves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from prometheus_client import generate_latest

from evidock.daemon.alerts.book import Finding
from evidock.daemon.checks.runner import read_state
from evidock.daemon.metrics import StationCollector, registry_for
from evidock.daemon.wiring import CHECKS_STATE

from .daemon.world import World

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "config" / "prometheus-alerts.yml"
RULE_TESTS = ROOT / "tests" / "prometheus" / "evidock-alerts.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: bash tools/setup --test installs Debian's prometheus"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def test_promtool_check_rules_accepts_the_rules_file():
    proc = promtool("check", "rules", str(RULES))
    assert 0 == proc.returncode, proc.stdout + proc.stderr
    assert "SUCCESS: 8 rules found" in proc.stdout


def test_promtool_test_rules_passes_the_rule_unit_tests():
    proc = promtool("test", "rules", str(RULE_TESTS))
    assert 0 == proc.returncode, proc.stdout + proc.stderr


def test_every_metric_the_rules_use_is_served(tmp_path):
    world = World(tmp_path)
    world.found()
    world.c.alerts.sync("archive", [Finding("k", "R7", "warning", "case:1", "x")])
    world.c.runner.run("handover")
    live = {"queued": 0, "retrying": 0, "active": 0, "devices": [], "paused": None,
            "workers": [{"name": "w1", "alive": True, "stuck": False, "last_beat_age_s": 1}]}
    state = world.config.run_dir / CHECKS_STATE
    collector = StationCollector(world.ledger, world.c.alerts, status=lambda: live,
                                 checks_state=lambda: read_state(state))
    served = set(re.findall(r"^(evidock_[a-z_]+)", generate_latest(registry_for(collector))
                            .decode(), re.M))
    used = set(re.findall(r"\b(evidock_[a-z_]+)", RULES.read_text()))
    assert used and used <= served, used - served
