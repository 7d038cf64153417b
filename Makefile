# needling-analytics: the common commands. Needs only Python 3.11+ and make.
#   make demo   set up, generate the demo clinic and run the main job on it
#   make test   set up if needed and run the whole test suite
#   make test-fast  the suite without the tests marked slow (notebooks, monthly runs, installs): the quick loop
#   make pg     start (or reuse) the loopback PostgreSQL the database tests use;
#               then eval "$(bash tests/pg_server.sh)" in your shell before make test
#   make test-pg  start it and run the PostgreSQL tests

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/needling-analytics
DEMO   ?= data/demo
DEMO_MONTH ?= 2026-10
STAMP  := $(VENV)/.installed
# The tests run in parallel (pytest-xdist), one test file per process at a time so that a file's shared
# fixtures (an executed report, a monthly run) are made once; TEST_WORKERS=1 runs them in one process.
TEST_WORKERS ?= auto
PYTEST := MPLBACKEND=Agg $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

.PHONY: demo test test-fast install lint clean-demo pg test-pg

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "needling-analytics needs Python 3.11 or newer; this is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name needling-analytics --display-name "Python (needling-analytics)" >/dev/null
	@touch $@

demo: install
	$(CLI) demo-data --out $(DEMO) --seed 0
	$(CLI) validate $(DEMO)
	$(CLI) monthly --month $(DEMO_MONTH) --data $(DEMO) --out reports --clinic-name "Demo clinic"

# The PostgreSQL tests use a throwaway server on loopback (tests/pg_server.sh starts or reuses it,
# installing PostgreSQL from Debian as root); without one they are skipped, except under CI=true.
test: install
	@pg_env="$$(bash tests/pg_server.sh)" || echo "make test: no PostgreSQL server could be started: its tests will be skipped"; \
	eval "$$pg_env"; $(PYTEST)

test-fast: install
	$(PYTEST) -m "not slow"

pg:
	bash tests/pg_server.sh

test-pg: install
	pg_env="$$(bash tests/pg_server.sh)" && eval "$$pg_env" && MPLBACKEND=Agg $(PY) -m pytest -q tests/test_source_postgresql.py

lint: install
	$(VENV)/bin/ruff check needling_analytics tests
	$(VENV)/bin/ruff format --check needling_analytics tests

clean-demo:
	rm -rf $(DEMO) reports/demo
