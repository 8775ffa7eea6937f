# bocage — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# extra options of `make demo`, e.g. make demo DEMO_ARGS="--port 8080 --departement 01"
DEMO_ARGS ?=
HASH := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# `make demo` installs what bocage needs to run; `make test` adds the test tools (browser
# driver, fuzzer, linters): the demo starts sooner on a fresh clone
STAMP := $(VENV)/.installed-$(HASH)
RUN_STAMP := $(VENV)/.installed-run-$(HASH)

.PHONY: demo serve test check bench screenshots fuzz clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "bocage needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@ $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --no-compile --disable-pip-version-check -e .
	rm -f $(VENV)/.installed-run-*
	touch $@

demo: $(RUN_STAMP)
	$(VENV)/bin/bocage demo $(DEMO_ARGS)

serve: $(RUN_STAMP)
	$(VENV)/bin/bocage serve

test: $(STAMP)
	$(PY) -m pytest -q

# schemathesis on /openapi.json with many more generated requests than `make test`
fuzz: $(STAMP)
	BOCAGE_FUZZ_EXAMPLES=$${BOCAGE_FUZZ_EXAMPLES:-200} $(PY) -m pytest -q tests/security/test_fuzz_openapi.py

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/jscodec.py
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/history.py

screenshots: $(STAMP)
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
