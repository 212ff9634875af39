# twisted-sctp: `make demo` runs the SIP server against SIPp over SCTP,
# `make test` runs the whole suite (unit tests on the host, integration tests
# inside a real SCTP kernel via scripts/with-sctp-kernel, mypy).

VENV ?= .venv

.PHONY: setup test unit integration typecheck demo clean

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

clean:
	rm -rf _trial_temp* .mypy_cache .hypothesis build dist *.egg-info twisted/plugins/dropin.cache
