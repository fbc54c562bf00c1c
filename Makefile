# One entry point for every check; CI (.ci/run) calls `make test`, the README's test command.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint types proto proto-lint pytest clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	# Test oracle only: the OPA Go engine in process. Its metadata claims Python >= 3.14 but it
	# works on 3.11; it has no dependencies. Pinned: conformance is judged against this OPA.
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python 'opa-golib-python-bindings==0.4.4'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/fedgate demo

test: lint types proto-lint pytest

# The end-to-end benchmark harness (bench/README.md): real processes, about 15 minutes.
# Extra arguments: make bench ARGS="--quick"
bench: $(STAMP)
	$(PY) bench/harness.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest

# buf comes from npm (@bufbuild/buf ships the binary); skipped, with the reason, where npm is absent.
proto-lint:
	@if command -v npm >/dev/null 2>&1; then \
		npm install --no-audit --no-fund --silent >/dev/null && node_modules/.bin/buf lint && echo "buf lint: ok"; \
	else echo "buf lint: skipped (npm not found; install Node.js to lint protos)"; fi

# Regenerate fedgate/v1 from proto/ (tests/test_proto_drift.py fails when this is needed).
proto: $(STAMP)
	$(PY) tools/gen_proto.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
