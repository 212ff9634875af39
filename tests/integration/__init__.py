"""
Integration tests on a real kernel SCTP stack.

Run them under C{scripts/with-sctp-kernel} (C{make test} does).  The harness
sets C{TWISTED_SCTP_REQUIRE_KERNEL=1}; with it set, a missing SCTP stack makes
every test here fail loudly instead of skipping.
"""
