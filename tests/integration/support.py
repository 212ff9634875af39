"""
Shared helpers for the real-kernel integration tests.
"""

from __future__ import annotations

import errno
import os
import socket

from twisted.trial.unittest import SkipTest

IPPROTO_SCTP = 132


def kernelRequired() -> bool:
    """
    @return: whether the harness demands a working SCTP kernel.
    """
    return os.environ.get("TWISTED_SCTP_REQUIRE_KERNEL") == "1"


def sctpUnavailableReason(family: int = socket.AF_INET) -> str | None:
    """
    @return: C{None} if a one-to-many SCTP socket of C{family} can be opened
        here, otherwise a sentence saying why not.
    """
    try:
        s = socket.socket(family, socket.SOCK_SEQPACKET, IPPROTO_SCTP)
    except OSError as e:
        name = errno.errorcode.get(e.errno or 0, str(e.errno))
        return "kernel SCTP unavailable ({}: {}); load the sctp module or run under scripts/with-sctp-kernel".format(
            name, e.strerror
        )
    s.close()
    return None


def requireSCTP(family: int = socket.AF_INET) -> None:
    """
    Call from C{setUp}: skip when SCTP is missing on a developer machine, but
    fail when the harness asked for a real kernel.

    @raise SkipTest: SCTP is missing and not required.
    @raise AssertionError: SCTP is missing and required.
    """
    reason = sctpUnavailableReason(family)
    if reason is None:
        return
    if kernelRequired():
        raise AssertionError("TWISTED_SCTP_REQUIRE_KERNEL=1 but " + reason)
    raise SkipTest(reason)
