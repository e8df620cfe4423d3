"""The alert rules load, use only metrics the portal exports, and each has its runbook."""

import re
import shutil
import subprocess
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

from observability.collectors import PortalCollector

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "alerts.yml"
RUNBOOK = ROOT / "docs" / "operations.md"
REQUIRED = {"PortalTenantRefusingSignatures", "PortalTenantNeedsReauthorization",
            "PortalTenantMissingCapability", "PortalWebhookBacklog", "PortalTenantSilent",
            "PortalDailyCapHigh", "PortalWorkersAbsent"}
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def rules() -> list[dict]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


@pytest.fixture
def exported(db) -> set[str]:
    """Every series name /metrics can carry: the registry's families and the scrape-time ones."""
    names = set()
    for family in [*REGISTRY.collect(), *PortalCollector().collect()]:
        names.add(family.name)
        names.update(family.name + s for s in _SUFFIXES.get(family.type, ()))
    return names


def test_rules_are_well_formed_prometheus_rule_groups():
    data = yaml.safe_load(RULES.read_text())
    assert set(data) == {"groups"}
    for group in data["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
            assert re.fullmatch(r"\d+[smh]", rule["for"])
            assert rule["labels"]["severity"] in {"page", "warning"}
            assert rule["annotations"]["summary"]
            expr = rule["expr"]
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
    assert {rule["alert"] for rule in rules()} >= REQUIRED


def test_every_expression_parses_as_promql():
    # Prometheus' grammar (the promql-parser package), for machines without promtool.
    for rule in rules():
        promql_parser.parse(rule["expr"])
    with pytest.raises(ValueError):
        promql_parser.parse("sum by (tenant) (portal_celery_workers")


def test_every_metric_in_the_rules_is_exported(exported):
    used = {name for rule in rules() for name in re.findall(r"\bportal_[a-z0-9_]+", rule["expr"])}
    assert used, "the rules use the portal's metrics"
    assert used - exported == set()


def test_every_alert_has_a_runbook_with_meaning_confirmation_and_fix():
    text = RUNBOOK.read_text()
    sections = re.split(r"^### ", text, flags=re.M)
    by_name = {s.split("\n", 1)[0].strip(): s for s in sections[1:]}
    for rule in rules():
        section = by_name[rule["alert"]]
        for part in ("**Meaning.**", "**Confirm.**", "**Fix.**"):
            assert part in section, (rule["alert"], part)
        assert rule["annotations"]["runbook"].endswith("#" + rule["alert"].lower())
    assert "zoom_status" in text


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (Debian package `prometheus`)")
def test_promtool_accepts_the_rules():
    result = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
