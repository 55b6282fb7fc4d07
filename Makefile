# Two commands matter: `make run` and `make test`. Both create or update the virtual
# environment first; the stamp file makes the second call a no-op unless pyproject changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export PYTHONHASHSEED := 0

.PHONY: run test lint format bench risk-long venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tiller demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# bench/risk.py compares with nautilus_trader when it is installed (the `bench` extra).
# It is not installed here: it pins pandas<3 and would downgrade the tested environment.
bench: $(STAMP)
	$(BIN)/python bench/backtest.py
	$(BIN)/python bench/risk.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/executor.py
	$(BIN)/python bench/forecaster.py
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/sentiment.py
	$(BIN)/python bench/agents.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/rag_speed.py
	# The first run embeds every shared filing (~15 min); later runs reuse the store.
	$(BIN)/python bench/rag_eval.py --store $(HOME)/.cache/tiller-rag-eval

# The risk officer's stateful property test at 100k sequences (make test runs 3,000).
risk-long: $(STAMP)
	sh bench/risk_stateful_long.sh

clean:
	rm -rf $(VENV) build *.egg-info
