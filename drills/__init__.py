"""Incident drills: each scenario the platform fears, played through the real stack (exporter,
Prometheus with the generated rules, Alertmanager with the generated routing) on loopback ports,
with every rule window and Alertmanager timer compressed by one time-scale factor.

``python -m drills`` runs them and prints who got which notification, how fast, with which
runbook; ``drills.scenarios`` is the table of what must (and must not) happen.
"""
