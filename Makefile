# catloc: the two commands users need are `make demo` and `make test`.
# Both set themselves up on a fresh machine and are idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.catloc-installed
SAMPLE := catalogs/sample/catalog.csv
MARKET ?= sa
RUN_ID ?= demo

export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup fonts chromium postgres sample demo test test-fast bench-clean bench-review-page bench-generate bench-scale stack-up stack-down clean-venv

setup: $(STAMP) fonts chromium postgres

# Reinstall only when the pins change. constraints.txt is the lock (pip freeze of a
# set known to install and import together on CPU-only Linux, Python 3.11).
# --no-cache-dir: torch's wheels from PyPI bring ~4 GB of CUDA libraries; a second copy in pip's
# cache once filled a CI disk (ENOSPC) before the install finished.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-cache-dir -c constraints.txt -e '.[test]'
	touch $(STAMP)

# The sample catalog draws Chinese promo text: it needs a CJK font (Debian package).
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  echo "installing a CJK font (fonts-wqy-zenhei)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq fonts-wqy-zenhei >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq fonts-wqy-zenhei >/dev/null; fi; }

# The production-like stack (catloc stack up) and its test run Prefect on PostgreSQL: Debian's server
# programs (initdb, pg_ctl under /usr/lib/postgresql/<version>/bin).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  echo "installing PostgreSQL (postgresql)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq postgresql >/dev/null; fi; }
# The review page's browser tests drive Debian's Chromium through Playwright (whose own browser
# download does not work offline).
chromium:
	@command -v chromium >/dev/null 2>&1 || [ -n "$$CATLOC_CHROMIUM" ] || { \
	  echo "installing chromium (for the review page's browser tests)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

$(SAMPLE): catalogs/make_sample.py | setup
	$(PY) catalogs/make_sample.py --out catalogs/sample

sample: setup $(SAMPLE)

demo: setup $(SAMPLE)
	$(VENV)/bin/catloc run $(SAMPLE) --market $(MARKET) --run-id $(RUN_ID)

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: setup
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

bench-clean: setup
	$(PY) bench/clean.py

# Orchestration overhead, 1 vs 2 worker processes, flow memory at 1k/10k SKUs, stage throughput
# (README "Running at scale"; quote figures only from a quiet machine).
bench-scale: setup $(SAMPLE)
	$(PY) bench/overhead.py
	$(PY) bench/scaling.py
	$(PY) bench/memory.py
	$(PY) bench/throughput.py

# A production-like stack on this machine: PostgreSQL, Prefect server, work pool + deployments,
# Prefect worker, Dask scheduler + workers. Then: eval "$$(.venv/bin/catloc stack env)"
stack-up: setup
	$(VENV)/bin/catloc stack up --cpu-workers $(or $(CPU_WORKERS),2) --gpu-workers $(or $(GPU_WORKERS),0)

stack-down:
	$(VENV)/bin/catloc stack down
bench-review-page: setup
	$(PY) bench/review_page.py

# on a GPU machine: SD 1.5 and SDXL (random full-size weights), 8 candidates at 768x1024, 20 steps
bench-generate: setup
	$(PY) bench/generate.py

clean-venv:
	rm -rf $(VENV)
