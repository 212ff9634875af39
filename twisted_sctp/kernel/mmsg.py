# -*- test-case-name: tests.test_mmsg -*-
"""
Whether the kernel backend reads with C{recvmmsg(2)}: the C extension
C{twisted_sctp.kernel._mmsg} (C{_mmsg.c}, built by C{pip install .} where
a C compiler exists: C{setup.py}) when it is importable, C{recvmsg} and the
read policy (L{twisted_sctp.kernel.readpolicy}) otherwise.

With C{recvmmsg} one system call per wake-up reads every message queued,
up to a count: at low load it finds the one message and stops at the empty
queue inside the kernel, so no wake-up pays an empty C{recvmsg} to learn
that nothing more is queued, and under a backlog one call reads a batch.

C{TWISTED_SCTP_PURE=1} in the environment (as for the lean path,
L{twisted_sctp.sip.leanimpl}) leaves the extension unused.
L{IMPLEMENTATION} and L{REASON} say which read is in use and why;
C{twistd sctp-sip} logs them at start.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable, List, Optional, Tuple

__all__ = ["IMPLEMENTATION", "PURE_ENV", "REASON", "Received", "recvmmsg", "select"]

#: The environment variable that leaves the compiled modules unused (any
#: value but C{""} and C{"0"}); the same one as the lean path's.
PURE_ENV = "TWISTED_SCTP_PURE"

#: What one read gives per message, as C{socket.recvmsg}: data, ancillary
#: data, flags, address.
Received = Tuple[bytes, List[Tuple[int, int, bytes]], int, Any]


def select() -> Tuple[Optional[Callable[..., List[Received]]], str, str]:
    """
    @return: C{recvmmsg(fd, buffer, slot, ancillary, ancillarySlot, count)}
        (C{None} where it cannot be used), C{"recvmmsg"} or C{"recvmsg"},
        and why.
    """
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None, "recvmsg", "{} is set".format(PURE_ENV)
    try:
        module = importlib.import_module("twisted_sctp.kernel._mmsg")
    except ImportError as e:
        return None, "recvmsg", "the compiled module is not built ({})".format(e)
    return module.recvmmsg, "recvmmsg", str(module.__file__)


recvmmsg, IMPLEMENTATION, REASON = select()
