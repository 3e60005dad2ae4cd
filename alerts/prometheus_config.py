"""prometheus.yml that scrapes the exporter (and Prometheus and Alertmanager themselves, for
meta-monitoring), loads the generated rules and sends alerts to Alertmanager; plus a scrape-config
fragment for organisations that already run Prometheus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.yamlout import dump
from contract.spec import Spec

RECORDING_RULES = "rules/gatewatch-recording.yml"
ALERTING_RULES = "rules/gatewatch-alerts.yml"
EXPORTER_JOB = "gatewatch"
# Far above what the exporter's per-metric series cap lets it expose: the limit fails the whole
# scrape, so it is a last resort that PrometheusSampleLimitHit reports, never a routine cut.
SAMPLE_LIMIT = 2_000_000


@dataclass(frozen=True, slots=True)
class Targets:
    """Where the stack's parts listen; the defaults are compose.yaml's service names."""

    exporters: tuple[str, ...] = ("exporter:9464",)
    prometheus: str = "localhost:9090"
    alertmanager: str = "alertmanager:9093"
    scrape_interval: str = "15s"
    evaluation_interval: str = "30s"


def exporter_scrape_config(spec: Spec, targets: Targets) -> dict[str, Any]:
    return {
        "job_name": EXPORTER_JOB,
        "scrape_interval": targets.scrape_interval,
        "sample_limit": SAMPLE_LIMIT,
        "static_configs": [{"targets": list(targets.exporters)}],
    }


def prometheus_config(spec: Spec, targets: Targets = Targets()) -> dict[str, Any]:
    return {
        "global": {
            "scrape_interval": targets.scrape_interval,
            "evaluation_interval": targets.evaluation_interval,
        },
        "rule_files": [RECORDING_RULES, ALERTING_RULES],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [targets.alertmanager]}]}]},
        "scrape_configs": [
            exporter_scrape_config(spec, targets),
            {"job_name": "prometheus", "static_configs": [{"targets": [targets.prometheus]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": [targets.alertmanager]}]},
        ],
    }


def render(spec: Spec, targets: Targets = Targets()) -> dict[str, str]:
    fragment = {"scrape_configs": [exporter_scrape_config(spec, targets)]}
    return {
        "prometheus/prometheus.yml": dump(prometheus_config(spec, targets)),
        "prometheus/fragments/scrape-gatewatch.yml": dump(fragment),
    }
