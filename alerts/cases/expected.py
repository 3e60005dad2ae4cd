"""Expected alerts for promtool unit tests, built the way Prometheus will render them.

promtool compares labels and annotations whole, so a case states the rendered strings: the rule's
fixed labels plus the labels its expression keeps, and the annotations with templates expanded.
"""

from __future__ import annotations

from alerts.model import AlertRule, AlertText, ExpectedAlert
from alerts.render import alert_annotations, alert_labels
from contract.spec import Spec


def expected_alert(spec: Spec, rule: AlertRule, labels: dict[str, str], text: AlertText) -> ExpectedAlert:
    """``labels``: those the expression keeps; ``text``: the rule's text builder called with the
    values Prometheus renders (labels, and the alert's value as its template formats it)."""
    annotations = alert_annotations(spec, rule)
    url = annotations["dashboard_url"]
    for name, value in labels.items():
        url = url.replace(f"{{{{ $labels.{name} }}}}", value)
    annotations.update(summary=text.summary, description=text.description, dashboard_url=url)
    return ExpectedAlert(labels={**alert_labels(rule), **labels}, annotations=annotations)


def rule_named(rules: tuple[AlertRule, ...], name: str) -> AlertRule:
    return next(rule for rule in rules if rule.name == name)


def humanize_percentage(ratio: float) -> str:
    """What Prometheus's ``humanizePercentage`` prints (Go's %.4g of ratio x 100)."""
    return f"{ratio * 100:.4g}%"
