"""promtool unit-test cases, one module per alerting rule module, kept apart from the rules they prove.

They are generated output, not part of the test suite: ``alerts.prometheus_rules`` renders them
into ``build/prometheus/tests/`` so an organisation's CI can run ``promtool test rules`` on the
rules it deploys. Like the rules they are pure functions of the spec returning plain data, and
an alert's expected summary and description come from the text builders of its rule module.
"""
