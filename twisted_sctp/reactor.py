# -*- test-case-name: tests.test_reactor -*-
"""
An epoll reactor that takes "now" for its timer check from the kernel's
arrival stamp of the message it just read, instead of reading the clock.

Twisted's reactor loop reads the clock once an iteration, in
C{runUntilCurrent}, to see which timed calls are due; a wake-up that read
one SIP message therefore costs C{epoll_wait}, C{recvmsg}, C{sendmsg} and
C{clock_gettime}.  Where the C library answers C{clock_gettime} from the
vDSO that read is cheap, but where it cannot (a UML guest, a virtual
machine whose clock source has no vDSO path) it is a real system call:
one in four of the transaction's.  The SCTP backend already has, for each
wake-up, the kernel's C{SO_TIMESTAMPNS} arrival time of the first message
each port read (L{twisted_sctp.kernel.sockopt.receiveTime}), on the clock of
C{time.time}: L{KernelClockReactor} uses it, through L{IArrivalClock}, as
the "now" of the timer check that follows the wake-up.

The rules, which keep timers from firing early or being lost:

  - The stand-in is only ever the timer check's clock read in the
    C{runUntilCurrent} right after the wake-up that stamped it (it is set
    after that method's thread calls have run, right before the check):
    every other read, C{callLater} and C{timeout} included, is the real
    clock.  A timed call is therefore scheduled from the real time and
    found due against a time at or before the real one (the message
    arrived before it was read): it never fires early.
  - The stand-in is used only if it is at or after every time the reactor
    has handed out before (real or stand-in), so that a message that
    waited in the queue while the process was busy, whose stamp is older
    than what the reactor has already seen, brings a real clock read.
  - A timed call that came due between the stamp and the real now is not
    run by that check; C{timeout} reads the real clock, sees it due and
    lets the poll return at once, and the next check (whose stand-in, if
    any, must be at or after that reading) runs it: one extra iteration,
    no wait, late by at most the time of that iteration.

A step of the system clock (C{settimeofday}, an NTP step) moves both the
stamps and C{time.time}, so it affects timed calls here as it does on
Twisted's own reactors.

An iteration whose reads gave no stamp (a timer's wake-up, a UDP or
engine socket, a backend without C{SO_TIMESTAMPNS}) reads the clock as
Twisted does.  With timed calls pending, C{timeout} still reads the clock,
and CPython's C{epoll.poll} reads the monotonic clock to compute its
deadline whenever it is given a timeout: those two reads are not replaced.

Each ready descriptor is called as Twisted's epoll reactor calls it, in
the legacy log context of its C{logPrefix()} (what a C{log.msg} made
during its C{doRead} reads as its C{system}), with an exception it lets
out logged there; only the context dictionary it pushes is made once per
prefix and outer context instead of once a call (C{log.callWithLogger}
copies and pushes a new one each time: about a microsecond a wake-up, a
tenth of a SIP transaction's user-space cost).

C{twistd sctp-sip} installs this reactor when no other has been chosen
(C{--reactor} picks another: C{--reactor epoll} for Twisted's own); the
plugin C{twisted/plugins/twisted_sctp_reactor.py} offers it to every
C{twistd} and C{trial} as C{--reactor sctp-epoll}.
"""

from __future__ import annotations

import errno
from typing import Any, Callable, Dict, Optional, Tuple

from zope.interface import implementer

from twisted.internet.epollreactor import EPollReactor
from twisted.python import context, log
from twisted.python.log import ILogContext
from twisted.internet.main import installReactor
from twisted.python.runtime import seconds as runtimeSeconds

from twisted_sctp.clock import IArrivalClock


#: The most log prefixes whose context dictionaries are kept.
_LOG_CONTEXTS_SIZE = 64


@implementer(IArrivalClock)
class KernelClockReactor(EPollReactor):
    """
    L{EPollReactor} whose timer check after a wake-up uses the newest
    kernel arrival stamp reported during the wake-up for "now" where the module's rules allow.

    @ivar clockReads: the times L{seconds} read the clock.
    @ivar standIns: the times L{seconds} answered with an arrival stamp.
    """

    def __init__(self, clock: Callable[[], float] = runtimeSeconds) -> None:
        """
        @param clock: the real clock (C{time.time}; a fake in tests).
        """
        self._clock = clock
        #: The newest arrival stamp of the current wake-up.
        self._arrival: Optional[float] = None
        #: The stand-in for the next clock read, while a timer check runs.
        self._standIn: Optional[float] = None
        #: The latest time handed out, real or stand-in.
        self._latest = float("-inf")
        #: In C{runUntilCurrent}, before its timer check.
        self._checking = False
        self.clockReads = 0
        self.standIns = 0
        #: By log prefix: the outer log context it was made in, and the
        #: context dictionary pushed for a call (L{_callInContext}).
        self._logContexts: Dict[str, Tuple[Any, Dict[Any, Any]]] = {}
        super().__init__()

    def arrived(self, when: float) -> None:
        arrival = self._arrival
        if arrival is None or when > arrival:
            self._arrival = when

    def seconds(self) -> float:
        """
        @return: the stand-in set for this timer check, once; otherwise the
            real clock.
        """
        standIn = self._standIn
        if standIn is not None:
            self._standIn = None
            self.standIns += 1
            self._latest = standIn
            return standIn
        now = self._clock()
        self.clockReads += 1
        if now > self._latest:
            self._latest = now
        return now

    def runUntilCurrent(self) -> None:
        self._checking = True
        try:
            super().runUntilCurrent()
        finally:
            self._checking = False
            self._standIn = None
            self._arrival = None

    def _insertNewDelayedCalls(self) -> None:
        """
        Twisted's C{runUntilCurrent} calls this after the thread calls and
        right before it reads the clock for its timer check: set the
        stand-in there, once a check (where Twisted's code differs, the
        stand-in is never set and every read is the real clock).
        """
        super()._insertNewDelayedCalls()
        if self._checking:
            self._checking = False
            arrival, self._arrival = self._arrival, None
            if arrival is not None and arrival >= self._latest:
                self._standIn = arrival

    def doPoll(self, timeout: Optional[float]) -> None:
        """
        Poll, then call each ready descriptor (L{_callInContext}).
        """
        if timeout is None:
            timeout = -1  # (wait indefinitely)
        try:
            ready = self._poller.poll(timeout, len(self._selectables))
        except OSError as err:
            if err.errno == errno.EINTR:
                return
            raise
        if not ready:
            return
        selectables = self._selectables
        call = self._doReadOrWrite
        contexts = context.theContextTracker.currentContext().contexts
        for fd, event in ready:
            selectable = selectables.get(fd)
            if selectable is not None:
                self._callInContext(contexts, selectable, call, fd, event)

    def _callInContext(self, contexts: Any, selectable: Any, call: Callable[..., Any], fd: int, event: int) -> None:
        """
        C{log.callWithLogger(selectable, call, selectable, fd, event)}: the
        same prefix (C{"(buggy logPrefix method)"}, logged, where
        C{logPrefix} raises), the same context during the call (the outer
        log context with C{system} set to the prefix), the same logging of
        what the call raises; the pushed dictionary is kept per prefix while
        the outer context is the same object.
        """
        try:
            prefix = selectable.logPrefix()
        except KeyboardInterrupt:
            raise
        except BaseException:
            prefix = "(buggy logPrefix method)"
            log.err(system=prefix)
        outer = None
        for ctx in reversed(contexts):
            outer = ctx.get(ILogContext)
            if outer is not None:
                break
        pushed = self._logContexts.get(prefix)
        if pushed is None or pushed[0] is not outer:
            inner = dict(outer or {})
            inner["system"] = prefix
            if len(self._logContexts) >= _LOG_CONTEXTS_SIZE:
                self._logContexts.clear()
            pushed = self._logContexts[prefix] = (outer, {ILogContext: inner})
        try:
            contexts.append(pushed[1])
            try:
                call(selectable, fd, event)
            finally:
                contexts.pop()
        except KeyboardInterrupt:
            raise
        except BaseException:
            log.err(system=prefix)

    def doIteration(self, timeout: Optional[float]) -> None:
        """
        Poll and dispatch, collecting the arrival stamps the readers report
        (only this wake-up's count).
        """
        self._arrival = None
        self.doPoll(timeout)


def install() -> KernelClockReactor:
    """
    Install L{KernelClockReactor} as the global reactor.
    """
    reactor = KernelClockReactor()
    installReactor(reactor)
    return reactor


__all__ = ["IArrivalClock", "KernelClockReactor", "install"]
