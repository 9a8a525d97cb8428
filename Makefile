# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
# Everything else (venv, locked dependencies, embedded PostgreSQL) is set up on the way.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
REQS   := requirements.txt requirements-dev.txt constraints.txt pyproject.toml plugin/pyproject.toml dev/pyproject.toml
STAMP  := $(VENV)/.installed-$(shell cat $(REQS) | cksum | cut -d' ' -f1)
UV_VERSION := 0.13.9
export PYTHONDONTWRITEBYTECODE :=
# the checkout's state (the embedded warehouse, landing files, the local Airflow)
export ETL_HOME ?= $(CURDIR)/.etl

.PHONY: setup browser demo test test-quick stack-test lint format bench up down lock clean chaos scale-demo

$(STAMP): $(REQS)
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	# the full lock (constraints.txt) pins every transitive version; byte-code compiled, or Airflow imports take 8 s
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -r requirements-dev.txt -c constraints.txt
	# the three packages of the checkout, editable: the bundle, its Airflow plugin, the bench
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode --no-deps -e . -e ./plugin -e ./dev
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)

browser:  ## Debian's chromium for the dashboard's browser test and benchmark (once; without it they skip)
	@bash scripts/install_browser.sh

demo: setup  ## set up, start the embedded warehouse and a real scheduler, catch up retail_daily, summarize
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

scale-demo: setup  ## the pipelines on two Celery workers (Redis broker), one SIGKILLed: who ran what, pools, retry, data
	$(BIN)/python scripts/scale_demo.py $(SCALE_DEMO_ARGS)

test: setup browser  ## every test, slow end-to-end ones included
	$(BIN)/python -m pytest $(PYTEST_ARGS)

stack-test: setup  ## docker-compose.yaml built, started and exercised on Docker (sets the engine up if needed)
	$(BIN)/python -m pytest -m stack $(PYTEST_ARGS)

test-quick: setup  ## the quick subset (no real scheduler, no full data set)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff check --preview --select AIR dags plugin tests/example_pipeline  # Airflow 3 rules still in preview
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dags/reliable_etl/sql plugin/reliable_etl_plugin

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix dags/reliable_etl/sql plugin/reliable_etl_plugin

bench: setup browser  ## speed ratios against baselines in the same run; see docs/BENCHMARKS.md
	$(BIN)/python bench/bench_retail.py
	$(BIN)/python bench/bench_dag_parse.py
	@if [ -f bench/bench_catchup.py ]; then $(BIN)/python bench/bench_catchup.py; fi
	$(BIN)/python bench/bench_sync.py
	$(BIN)/python bench/bench_files.py
	$(BIN)/python bench/bench_concurrency.py
	$(BIN)/python bench/bench_maintenance.py
	$(BIN)/python bench/bench_dashboard.py
	$(BIN)/python bench/bench_scaleout.py
	$(BIN)/python bench/bench_bundle.py
	$(BIN)/python bench/bench_gold_trust.py

chaos: setup  ## the fault-injection suite, full trial counts (~15 min); its figures into docs/RELIABILITY.md
	$(BIN)/python -m chaos --doc docs/RELIABILITY.md $(CHAOS_ARGS)

up: setup  ## the Airflow UI on http://127.0.0.1:8080 with this bundle loaded (Ctrl-C stops it)
	$(BIN)/python scripts/up.py

down: setup  ## stop the embedded warehouse
	$(BIN)/etl-dev warehouse stop

lock:  ## re-resolve constraints.txt, the full lock of requirements.txt and requirements-dev.txt
	$(BIN)/uv pip compile requirements-dev.txt --universal --python-version 3.11 -o constraints.txt

clean: down
	rm -rf .etl
