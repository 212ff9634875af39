# twisted-sctp: `make demo` runs the SIP server against SIPp over SCTP,
# `make test` runs the whole suite (unit tests on the host, integration tests
# inside a real SCTP kernel via scripts/with-sctp-kernel, mypy).

VENV ?= .venv

.PHONY: setup test unit integration fault-lab fuzz typecheck docs check-install install-service demo bench clean

setup:
	scripts/setup-env

test: setup
	$(VENV)/bin/python scripts/run-tests

unit: setup
	$(VENV)/bin/python scripts/run-tests --unit-only

integration: setup
	$(VENV)/bin/python scripts/run-tests --integration-only

# The fault lab alone (docs/reliability.md): namespaces, veth paths, netem,
# path cuts, peer restarts, an association flood, a slow reader; about 2 min.
fault-lab: setup
	$(VENV)/bin/python scripts/run-tests --fault-lab-only

# The long fuzz run: 1,000,000 inputs per target with atheris (installed on
# demand; hypothesis if it cannot be); `make fuzz FUZZ_ARGS='--runs 10000'`.
fuzz: setup
	$(VENV)/bin/python scripts/fuzz $(FUZZ_ARGS)

typecheck: setup
	$(VENV)/bin/mypy twisted_sctp

# The API reference with pydoctor (epytext), into build/apidocs; fails on
# any docstring warning (scripts/run-tests runs it too).
docs: setup
	$(VENV)/bin/python scripts/build-docs

# pip install -e . and pip install . in throwaway virtualenvs: both must give
# twistd sctp-sip and the sctp: endpoints; the sdist must carry the docs.
# Needs a package index (about a minute).
check-install:
	scripts/check-install

# Install the server as a systemd service (as root): a virtualenv in
# $(SERVICE_VENV) with the package, the unit, /etc/sctp-sip/sctp-sip.toml
# (kept if present) and the logrotate file. DESTDIR stages it elsewhere.
SERVICE_VENV ?= /opt/twisted-sctp
install-service:
	scripts/install-service "$(SERVICE_VENV)" "$(DESTDIR)"

demo: setup
	scripts/demo

# Benchmark (bench/README.md): ours vs Kamailio vs the Python floor, in one
# boot of the SCTP kernel, plus host-side costs; writes bench/results/latest.*
# About 20 minutes; `make bench BENCH_ARGS='--preset quick'` for a short run.
bench: setup
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf _trial_temp* .mypy_cache .hypothesis build dist *.egg-info twisted/plugins/dropin.cache twisted_sctp/sip/_lean_c.*.so twisted_sctp/kernel/_mmsg.*.so twisted_sctp/sip/_leanhead.*.so
