"""Kubernetes resources for gatewatch (``build/kubernetes/``): the exporter's workload, and the
generated rules, routing and dashboards wrapped as Prometheus Operator and Grafana objects."""
