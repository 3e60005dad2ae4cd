"""Prometheus recording and alerting rules, their promtool tests, and Alertmanager routing,
generated from the spec and the metric catalog."""
