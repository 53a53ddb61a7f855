# ajo: `make demo` runs the whole product locally, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN := .run
ANVIL := node_modules/.bin/anvil
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
DEMO_RPC_PORT ?= 8545

.PHONY: help venv node test lint demo demo-data serve chain stop contracts bench-sync bench-api bench-admin clean

help:
	@echo "make demo   - local chain + contracts + simulated activity + sync + server (SQLite)"
	@echo "make test   - lint, import rules, migration check and the whole test suite"
	@echo "make stop   - stop the demo's anvil node"
	@echo "make chain  - run anvil in the foreground on 127.0.0.1:$(DEMO_RPC_PORT)"
	@echo "make contracts | bench-sync | bench-api | bench-admin"

# --- installs (re-run only when the pinned requirements change) -----------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.installed
node: node_modules/.installed

# --- tests ------------------------------------------------------------------------------------
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run --settings=ajo.settings_test

test: venv node lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# --- the demo ---------------------------------------------------------------------------------
.env:
	sed "s|^SECRET_KEY=.*|SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')|" .env.example > .env

chain: node
	$(ANVIL) --host 127.0.0.1 --port $(DEMO_RPC_PORT)

$(RUN)/anvil.pid: | node
	mkdir -p $(RUN)
	$(ANVIL) --host 127.0.0.1 --port $(DEMO_RPC_PORT) --silent > $(RUN)/anvil.log 2>&1 & echo $$! > $@
	$(PY) -m devtools.anvil wait http://127.0.0.1:$(DEMO_RPC_PORT)

demo-data: venv node .env
	$(MAKE) stop
	rm -f db.sqlite3 db.sqlite3-wal db.sqlite3-shm
	$(MAKE) $(RUN)/anvil.pid
	$(PY) manage.py migrate --noinput
	$(PY) manage.py deploy_contracts --write-env .env
	$(PY) manage.py simulate_chain --groups 30 --members 5 --rounds 5 --seed 7
	$(PY) manage.py sync_chain
	$(PY) manage.py verify_chain
	$(PY) manage.py demo_admin

serve: venv
	$(PY) manage.py collectstatic --noinput -v0
	@echo "ajo is at http://$(DEMO_HOST):$(DEMO_PORT)/  (admin: /admin/, API: /api/, docs: /api/docs/)"
	HOST=$(DEMO_HOST) PORT=$(DEMO_PORT) $(VENV)/bin/gunicorn -c gunicorn.conf.py ajo.wsgi

demo: demo-data serve

stop:
	@if [ -f $(RUN)/anvil.pid ]; then kill $$(cat $(RUN)/anvil.pid) 2>/dev/null || true; rm -f $(RUN)/anvil.pid; echo "anvil stopped"; fi

contracts: node
	npm run --silent build:contracts

# --- benchmarks -------------------------------------------------------------------------------
bench-sync: venv node
	$(PY) bench/sync.py

bench-api: venv
	$(PY) bench/api.py

# make bench-admin BROWSER=1: the same dataset in headless Chromium (time until rows show)
bench-admin: venv
	$(PY) bench/admin.py $(if $(BROWSER),--browser)

clean: stop
	rm -rf $(RUN) staticfiles .pytest_cache .import_linter_cache
