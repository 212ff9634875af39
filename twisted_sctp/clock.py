# -*- test-case-name: tests.test_reactor -*-
"""
The interface between a reader that has the kernel's arrival stamp of a
message and a reactor that can use it for the time of its timer check
(L{twisted_sctp.reactor.KernelClockReactor}); apart from the reactor so
that backends import it without importing an epoll reactor.
"""

from __future__ import annotations

from zope.interface import Interface


class IArrivalClock(Interface):
    """
    A reactor that can take a read message's kernel arrival stamp for the
    time of its next timer check.
    """

    def arrived(when: float) -> None:
        """
        A reader of this reactor got a message the kernel stamped C{when}
        (seconds since the epoch, the clock of C{time.time}).
        """


__all__ = ["IArrivalClock"]
