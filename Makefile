# The README's two commands are `make demo` and `make test`; everything else is for developers.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bootstrap lint bench docs cards clean

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	@bash scripts/demo.sh

test: bootstrap
	@bash scripts/test.sh

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

docs: bootstrap
	$(PY) -m core.docs_gen > docs/rules.md
	$(PY) -m core.docs_gen --openapi > docs/openapi.json

# Render the demo's Teams cards to PNG (headless Chromium, Microsoft's renderer, Teams light) in build/cards/.
cards: bootstrap
	$(PY) -m tests.support.make_cards

bench: bootstrap
	@bash scripts/bench.sh

clean:
	rm -rf $(VENV) .checkov-venv .audit-venv node_modules .pytest_cache .mypy_cache .ruff_cache
