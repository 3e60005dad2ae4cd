"""The OpenTelemetry Collector configuration gatewatch generates from the spec."""
