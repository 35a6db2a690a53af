# Gonghui: developer and CI entry points.
#
#   make run              migrate, load the demo (prints the logins), serve on 127.0.0.1:8000
#   make test             every tier: lint, SQLite, PostgreSQL, browser; fails if any fails
#   make lint | fmt       ruff format --check + ruff check + mypy | ruff format + ruff check --fix
#   make test-sqlite | test-postgres | test-browser
#   make bench [NAME=x]   benchmarks/run.py
#   make messages         refresh the zh_Hans catalogue from the source strings and compile it
#   make clean            caches and build output (keeps .venv and the dev database in var/)
#   make distclean        clean, plus .venv and var/
#
# Extra pytest arguments: make test-sqlite PYTEST_ARGS="-k queue -x"

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/pytest
PYTEST_ARGS ?=
NAME ?=

.PHONY: help venv vendor run test lint fmt test-sqlite test-postgres test-browser bench messages clean distclean

help:
	@sed -n '2,12s/^# \{0,1\}//p' Makefile

venv: $(STAMP)

# Reinstall whenever pyproject.toml changes; `pip install -e` is a no-op for what is already there.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

# Browser libraries served from the package (no CDN), fetched at a pinned version and
# checked against the registry's integrity hash; not committed (scripts/vendor.py).
VENDORED := src/gonghui/web/static/vendor/echarts.min.js

vendor: $(VENDORED)

$(VENDORED): scripts/vendor.py
	$(PYTHON) scripts/vendor.py
	@touch $@

run: venv vendor
	$(BIN)/gonghui migrate --noinput
	$(BIN)/gonghui load_demo
	$(BIN)/gonghui runserver 127.0.0.1:8000

# Each tier runs even when an earlier one failed, so one CI run shows every failure;
# the exit status is non-zero if any tier failed. (pytest's exit 5, "no tests ran",
# counts as a failure like any other non-zero status.)
TIERS := lint test-sqlite test-postgres test-browser

test: venv
	@failed=""; summary=""; \
	for tier in $(TIERS); do \
		echo; echo "=================== $$tier ==================="; \
		start=$$(date +%s); \
		if $(MAKE) --no-print-directory $$tier; then result=ok; else result=FAILED; failed="$$failed $$tier"; fi; \
		summary="$$summary$$(printf '%-14s %-6s %4ss' $$tier $$result $$(( $$(date +%s) - start )))\n"; \
	done; \
	echo; echo "=================== summary ==================="; printf "$$summary"; \
	if [ -n "$$failed" ]; then echo "failed tiers:$$failed"; exit 1; fi

lint: venv
	@rc=0; \
	echo "+ ruff format --check ."; $(BIN)/ruff format --check . || rc=1; \
	echo "+ ruff check ."; $(BIN)/ruff check . || rc=1; \
	echo "+ mypy"; $(BIN)/mypy || rc=1; \
	exit $$rc

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# SQLite: DATABASE_URL is removed so a developer's own setting cannot turn this into another tier.
test-sqlite: venv vendor
	bash scripts/java.sh
	env -u DATABASE_URL $(PYTEST) -m "not browser" $(PYTEST_ARGS)

# A throwaway PostgreSQL 15 (scripts/postgres.sh), stopped and deleted however pytest ends.
test-postgres: venv vendor
	bash scripts/java.sh
	@trap 'bash scripts/postgres.sh stop' EXIT; \
	url="$$(bash scripts/postgres.sh start | tail -n 1)"; \
	case "$$url" in postgres://*) ;; *) echo "scripts/postgres.sh start gave no URL" >&2; exit 1;; esac; \
	echo "+ DATABASE_URL=$$url $(PYTEST) -m 'not browser' $(PYTEST_ARGS)"; \
	DATABASE_URL="$$url" $(PYTEST) -m "not browser" $(PYTEST_ARGS)

# Debian's Chromium, driven by Playwright through executable_path=/usr/bin/chromium.
test-browser: venv vendor
	bash scripts/chromium.sh
	env -u DATABASE_URL $(PYTEST) -m browser $(PYTEST_ARGS)

bench: venv
	$(BIN)/python benchmarks/run.py $(NAME)

# Translations (GNU gettext). Run from the package so the catalogue's paths are package-relative;
# no source locations and no obsolete entries, to keep diffs small. When only the
# POT-Creation-Date would change, the old catalogue is put back, so a second run changes nothing.
PO := src/gonghui/locale/zh_Hans/LC_MESSAGES/django.po

messages: venv
	@old="$$(mktemp)"; trap 'rm -f "$$old"' EXIT; \
	if [ -f $(PO) ]; then cp -p $(PO) "$$old"; fi; \
	(cd src/gonghui && ../../$(BIN)/gonghui makemessages -l zh_Hans --no-location --no-obsolete \
		-i .venv -i benchmarks -i tests); \
	if [ -s "$$old" ] && diff -q -I '^"POT-Creation-Date: ' "$$old" $(PO) >/dev/null; then \
		cp -p "$$old" $(PO); \
	fi
	cd src/gonghui && ../../$(BIN)/gonghui compilemessages -l zh_Hans

clean:
	-bash scripts/postgres.sh stop
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist benchmarks/out test-results var/pg
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -print0 \
		| xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) var
