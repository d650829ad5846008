# Every target bootstraps its virtualenv itself, so a fresh clone needs nothing but python3 >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Peers measured as baselines (detect-secrets, Presidio, ...) live in their own virtualenv,
# never as project dependencies.
PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed
CORPORA ?= ../shared/corpora
# The store and sink tests run against the PostgreSQL server at 127.0.0.1:5432; here they must not skip.
export PROMPTWARD_REQUIRE_POSTGRES ?= 1

.PHONY: demo demo-eval test lint typecheck unit eval bench peers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,presidio]'
	touch $(STAMP)

$(PEERS_STAMP): benchmarks/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet -r benchmarks/peers/requirements.txt
	touch $(PEERS_STAMP)

peers: $(PEERS_STAMP)

demo: $(STAMP)
	$(BIN)/python -m promptward.demo
	$(BIN)/python -m promptward.demo_service

# Two prompt versions evaluated on two scripted models (a local OpenAI-compatible server), then the gate.
demo-eval: $(STAMP)
	$(BIN)/python -m promptward.demo_eval

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

# Each report runs even when an earlier one misses its targets; the target fails if any missed.
eval: $(STAMP) $(PEERS_STAMP)
	@status=0; \
	$(BIN)/python benchmarks/accuracy.py --corpora $(CORPORA) || status=1; \
	$(BIN)/python benchmarks/accuracy_pii.py --corpora $(CORPORA) || status=1; \
	$(BIN)/python benchmarks/accuracy_secrets.py --corpora $(CORPORA) || status=1; \
	$(BIN)/python benchmarks/variants.py || status=1; \
	exit $$status

bench: $(STAMP) $(PEERS_STAMP)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python benchmarks/speed.py --corpora $(CORPORA)
	$(BIN)/python benchmarks/speed_pii.py
	-$(BIN)/python benchmarks/crafted_input.py --corpora $(CORPORA)
	-$(BIN)/python benchmarks/asgi_throughput.py
	$(BIN)/python benchmarks/asgi_inprocess.py
	-$(BIN)/python benchmarks/registry_load.py
	-$(BIN)/python benchmarks/client_speed.py

clean:
	rm -rf $(VENV) $(PEERS) .pytest_cache .mypy_cache .ruff_cache .hypothesis reports
