# Two commands do all the set-up on a fresh machine:
#   make run   — install, build the console, migrate, seed the demo city, serve at http://127.0.0.1:8080
#   make test  — install what the tests need (Debian packages too, when root) and run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONSOLE := web_console
CONSOLE_SRC := $(shell find $(CONSOLE)/src $(CONSOLE)/index.html $(CONSOLE)/vite.config.* $(CONSOLE)/public -type f 2>/dev/null)

.PHONY: run test deps deps-test console system-deps lint bench clean

run: deps console
	$(BIN)/python -m command_server

test: deps-test console system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

deps: $(VENV)/.deps
deps-test: $(VENV)/.deps-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.deps: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.deps-test: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.deps $@

console: $(CONSOLE)/dist/index.html

$(CONSOLE)/node_modules/.package-lock.json: $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	cd $(CONSOLE) && npm ci --no-audit --no-fund --loglevel=error

$(CONSOLE)/dist/index.html: $(CONSOLE)/node_modules/.package-lock.json $(CONSOLE_SRC)
	cd $(CONSOLE) && npm run build

# Debian packages the tests drive (a real browser now; media peers come with later modules).
system-deps:
	@scripts/system-deps.sh

lint: deps-test
	$(BIN)/ruff check command_server gis dispersion media_gateway tests bench

clean:
	rm -rf $(VENV) $(CONSOLE)/node_modules $(CONSOLE)/dist
