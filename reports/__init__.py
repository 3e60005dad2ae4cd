"""Cost governance reports read from Prometheus and the spec: chargeback, reconciliation,
forecast, savings and the budget-owner digest. Run ``python -m reports --help``."""
