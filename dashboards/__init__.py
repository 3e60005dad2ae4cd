"""Grafana dashboards as code. ``links`` is the table of dashboard UIDs and panel ids that
alerts and runbooks link to, fixed before the dashboards themselves exist."""
