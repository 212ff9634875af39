# twisted-sctp: `make demo` runs the SIP server against SIPp over SCTP,
# `make test` runs the whole suite (unit tests on the host, integration tests
# inside a real SCTP kernel via scripts/with-sctp-kernel, mypy).

VENV ?= .venv

.PHONY: setup test unit integration typecheck demo bench clean

setup:
	scripts/setup-env

test: setup
	$(VENV)/bin/python scripts/run-tests

unit: setup
	$(VENV)/bin/python scripts/run-tests --unit-only

integration: setup
	$(VENV)/bin/python scripts/run-tests --integration-only

typecheck: setup
	$(VENV)/bin/mypy twisted_sctp

demo: setup
	scripts/demo

# Benchmark (bench/README.md): ours vs Kamailio vs the Python floor, in one
# boot of the SCTP kernel, plus host-side costs; writes bench/results/latest.*
# About 15 minutes; `make bench BENCH_ARGS='--preset quick'` for a short run.
bench: setup
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf _trial_temp* .mypy_cache .hypothesis build dist *.egg-info twisted/plugins/dropin.cache
