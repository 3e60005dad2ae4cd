"""Expected alerts for promtool unit tests, built the way Prometheus will render them.

promtool compares labels and annotations whole, so a case states the rendered strings: the rule's
fixed labels plus the labels its expression keeps, and the annotations with templates expanded.
"""

from __future__ import annotations

from alerts.model import AlertRule, ExpectedAlert
from alerts.render import alert_annotations, alert_labels
from exporter.spec import Spec


def expected_alert(
    spec: Spec, rule: AlertRule, labels: dict[str, str], summary: str, description: str
) -> ExpectedAlert:
    """``labels``: those the expression keeps; ``summary``/``description``: as rendered."""
    annotations = alert_annotations(spec, rule)
    url = annotations["dashboard_url"]
    for name, value in labels.items():
        url = url.replace(f"{{{{ $labels.{name} }}}}", value)
    annotations.update(summary=summary, description=description, dashboard_url=url)
    return ExpectedAlert(labels={**alert_labels(rule), **labels}, annotations=annotations)
