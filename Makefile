# gatewatch: `make run` and `make test` each do their own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: setup tools conformance run test lint check bench soak drills generate clean

# The venv is rebuilt when the dependency list changes.
$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(INSTALLED)

# Prometheus, Alertmanager and docker-compose from Debian's packages, installed when missing.
tools:
	@scripts/ensure-tools.sh

setup: $(INSTALLED) tools

# The real gateways the conformance suites run, each pinned release in its own venv under
# .cache/conformance/ (built once, reused; the suites build a missing one themselves too), and
# the OpenTelemetry GenAI producers the OTLP tests run (tests/support/producers.py).
conformance: $(INSTALLED)
	$(PY) -m tests.conformance.litellm.releases
	$(PY) -m tests.support.producers

generate: $(INSTALLED)
	$(PY) generate.py

run: setup generate
	$(PY) scripts/run_local.py --spec ops.yaml

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(PY) scripts/check_imports.py
	$(VENV)/bin/mypy

check: $(INSTALLED)
	$(PY) generate.py --check

test: setup conformance lint check
	$(PY) -m pytest -q

bench: $(INSTALLED)
	$(PY) bench/ingest.py
	$(PY) bench/request_path.py
	$(PY) bench/durable.py

# 30 minutes of steady durable ingest: memory and scrape latency over time (not part of CI).
soak: $(INSTALLED)
	$(PY) bench/soak.py --minutes 30

drills: setup
	$(PY) -m drills

clean:
	rm -rf $(VENV) .run .pytest_cache .ruff_cache .mypy_cache .hypothesis .cache/conformance
