# -*- test-case-name: tests.test_reactor -*-
"""
Tests for L{twisted_sctp.reactor} and L{twisted_sctp.clock}: the clock
logic over a fake clock, and the kernel backend reporting its arrival
stamps.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, List

from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.clock import IArrivalClock
from twisted_sctp.kernel.backend import KernelBackend
from twisted_sctp.testing import FakeKernel
from twisted_sctp.transport.options import SCTPOptions

from .test_kernelbackend import PEER, RecordingSink

if sys.platform.startswith("linux"):
    from twisted_sctp.reactor import KernelClockReactor
else:  # pragma: no cover
    KernelClockReactor = None  # type: ignore[assignment,misc]


class FakeClock:
    """
    A settable real clock.
    """

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class KernelClockReactorTests(SynchronousTestCase):
    """
    L{KernelClockReactor}'s timer check over a fake clock (its epoll is
    real but never waits: these tests drive the check themselves).
    """

    if KernelClockReactor is None:  # pragma: no cover
        skip = "epoll reactor: Linux only"

    def setUp(self) -> None:
        self.clock = FakeClock(1000.0)
        self.reactor = KernelClockReactor(self.clock)
        self.addCleanup(self.closeReactor)
        self.fired: List[str] = []

    def closeReactor(self) -> None:
        reactor: Any = self.reactor
        waker = reactor.waker
        reactor.removeReader(waker)
        waker.connectionLost(None)
        reactor._poller.close()

    def wakeUp(self, *stamps: float) -> None:
        """
        One wake-up (a poll that finds nothing: the epoll is idle) during
        which readers report C{stamps}.
        """
        self.reactor.doIteration(0)
        for stamp in stamps:
            self.reactor.arrived(stamp)

    def test_interface(self) -> None:
        """
        The reactor provides L{IArrivalClock}.
        """
        verifyObject(IArrivalClock, self.reactor)

    def test_stampStandsInForTheClock(self) -> None:
        """
        The timer check after a wake-up that reported a stamp takes the
        newest stamp for now and does not read the clock.
        """
        reads = self.reactor.clockReads
        self.wakeUp(999.9, 999.95, 999.92)
        self.reactor.runUntilCurrent()
        self.assertEqual((self.reactor.clockReads, self.reactor.standIns), (reads, 1))
        self.assertEqual(self.reactor._latest, 999.95)

    def test_noStampReadsTheClock(self) -> None:
        """
        A wake-up without a stamp (a timer's, a socket without
        C{SO_TIMESTAMPNS}) brings a real read; so does the next check
        after a stamped one: a stamp serves one check only.
        """
        reads = self.reactor.clockReads
        self.wakeUp()
        self.reactor.runUntilCurrent()
        self.assertEqual((self.reactor.clockReads, self.reactor.standIns), (reads + 1, 0))
        self.wakeUp(1000.0)
        self.reactor.runUntilCurrent()
        self.reactor.runUntilCurrent()
        self.assertEqual((self.reactor.clockReads, self.reactor.standIns), (reads + 2, 1))

    def test_dueTimersFireAgainstTheStamp(self) -> None:
        """
        A timed call due at or before the stamp runs in the check; one due
        after the stamp does not, however late the real clock is.
        """
        self.reactor.callLater(1.0, self.fired.append, "at 1001")
        self.reactor.callLater(2.0, self.fired.append, "at 1002")
        self.clock.now = 1005.0
        self.wakeUp(1001.5)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.fired, ["at 1001"])

    def test_neverEarly(self) -> None:
        """
        A timed call is scheduled from the real clock, also when a callback
        of the check schedules it: a stamp before the real time never makes
        a timer fire before its real due time.
        """

        def reschedule() -> None:
            self.fired.append("first")
            self.reactor.callLater(0.5, self.fired.append, "second")

        self.reactor.callLater(1.0, reschedule)
        self.clock.now = 1003.0
        self.wakeUp(1002.0)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.fired, ["first"])
        # "second" is due at 1003.5, real time, not 1002.5 (the stamp).
        [call] = self.reactor.getDelayedCalls()
        self.assertEqual(call.getTime(), 1003.5)
        self.clock.now = 1003.4
        self.wakeUp(1003.3)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.fired, ["first"])

    def test_timerBetweenStampAndNowRunsNextIteration(self) -> None:
        """
        A timed call that came due between the stamp and the real time is
        not lost: the poll timeout, from the real clock, is zero, and the
        next check runs it.
        """
        self.reactor.callLater(1.0, self.fired.append, "due")
        self.clock.now = 1001.2
        self.wakeUp(1000.9)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.fired, [])
        self.assertEqual(self.reactor.timeout(), 0)
        self.wakeUp()
        self.reactor.runUntilCurrent()
        self.assertEqual(self.fired, ["due"])

    def test_olderStampThanSeenReadsTheClock(self) -> None:
        """
        A stamp older than a time the reactor has handed out (a message
        that waited while the process was busy, or one read after the
        poll timeout's reading) is not used: the check reads the clock.
        This is what makes a timer found due by L{timeout} run at the
        next check even when the next wake-up reads such a message.
        """
        self.reactor.callLater(1.0, self.fired.append, "due")
        self.clock.now = 1001.2
        self.wakeUp(1000.9)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.reactor.timeout(), 0)
        reads = self.reactor.clockReads
        self.wakeUp(1000.95)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.fired, ["due"])
        self.assertEqual(self.reactor.clockReads, reads + 1)

    def test_threadCallsRunFirst(self) -> None:
        """
        Thread calls run before the stand-in is set: one that schedules a
        timed call schedules it from the real clock, and the check, whose
        stamp is then older than that reading, reads the clock too; one
        that reads no clock leaves the stamp to stand in.
        """
        self.reactor.threadCallQueue.append((self.reactor.callLater, (1.0, self.fired.append, "from a thread"), {}))
        self.clock.now = 1000.5
        reads = self.reactor.clockReads
        self.wakeUp(1000.4)
        self.reactor.runUntilCurrent()
        [call] = self.reactor.getDelayedCalls()
        self.assertEqual(call.getTime(), 1001.5)
        self.assertEqual((self.reactor.clockReads, self.reactor.standIns), (reads + 2, 0))
        self.reactor.threadCallQueue.append((self.fired.append, ("thread",), {}))
        self.wakeUp(1000.6)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.fired, ["thread"])
        self.assertEqual((self.reactor.clockReads, self.reactor.standIns), (reads + 2, 1))

    def test_timeoutReadsTheClock(self) -> None:
        """
        With timed calls pending, L{timeout} always reads the real clock.
        """
        self.reactor.callLater(3.0, self.fired.append, "later")
        self.clock.now = 1001.0
        self.wakeUp(1000.5)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.reactor.timeout(), 2.0)


@implementer(IArrivalClock)
class ArrivalRecordingReactor(MemoryReactorClock):
    """
    A memory reactor that records the stamps it is told.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stamps: List[float] = []

    def arrived(self, when: float) -> None:
        self.stamps.append(when)


class BackendReportsArrivalTests(SynchronousTestCase):
    """
    L{KernelBackend} tells a reactor providing L{IArrivalClock} each
    wake-up's first arrival stamp.
    """

    def listen(self, reactor: Any) -> Any:
        kernel = FakeKernel()
        backend = KernelBackend(reactor, kernel)
        backend.listen(RecordingSink(), ["127.0.0.1"], 5060, SCTPOptions())
        return backend, kernel.socket

    def test_stampReported(self) -> None:
        """
        A wake-up's first stamped message's stamp goes to the reactor, once
        a wake-up; a message without one reports nothing.
        """
        reactor = ArrivalRecordingReactor()
        backend, sock = self.listen(reactor)
        sock.feedData(b"a", 7, PEER, arrival=(1795305957, 500000000))
        sock.feedData(b"b", 7, PEER, arrival=(1795305958, 0))
        backend.doRead()
        self.assertEqual(reactor.stamps, [1795305957.5])
        sock.feedData(b"c", 7, PEER)
        backend.doRead()
        self.assertEqual(reactor.stamps, [1795305957.5])

    def test_otherReactorsUntouched(self) -> None:
        """
        A reactor without L{IArrivalClock} is only asked for the time where
        a message has no stamp.
        """
        reactor = MemoryReactorClock()
        reactor.advance(5)
        backend, sock = self.listen(reactor)
        sink = backend._sink
        seen = []
        original = sink.dataReceived
        sink.dataReceived = lambda event: (seen.append(sink.readTime), original(event))
        sock.feedData(b"a", 7, PEER)
        backend.doRead()
        self.assertEqual(seen, [5])


class _Reader:
    """
    A reader over one end of a socket pair that does C{action} on each
    C{doRead} (after reading what is there).
    """

    def __init__(self, prefix: Any, action: Any) -> None:
        self.ends = socket.socketpair()
        for end in self.ends:
            end.setblocking(False)
        self.prefix = prefix
        self.action = action

    def fileno(self) -> int:
        return self.ends[0].fileno()

    def logPrefix(self) -> str:
        if isinstance(self.prefix, Exception):
            raise self.prefix
        return str(self.prefix)

    def doRead(self) -> Any:
        self.ends[0].recv(100)
        return self.action()

    def connectionLost(self, reason: Any) -> None:
        for end in self.ends:
            end.close()


class LogContextTests(SynchronousTestCase):
    """
    L{KernelClockReactor} calls a ready descriptor in the legacy log
    context that Twisted's L{EPollReactor} calls it in: for each case, the
    same log events (their C{system}, text and outer-context keys) on both.
    """

    if KernelClockReactor is None:  # pragma: no cover
        skip = "epoll reactor: Linux only"

    def events(self, reactorClass: Any, prefix: Any, action: Any, outer: Any = None, wakeUps: int = 2) -> List[Any]:
        """
        Run C{wakeUps} wake-ups of one reader on a new reactor of
        C{reactorClass} (in the legacy log context C{outer}, if given; a
        list: one after the other, wake-up by wake-up).

        @return: the legacy log events seen, as comparable tuples.
        """
        from twisted.internet.epollreactor import EPollReactor  # noqa: F401 (Linux only)
        from twisted.python import context, log

        reactor = reactorClass()
        reader = _Reader(prefix, action)
        seen: List[Any] = []

        def observer(event: Any) -> None:
            failure = event.get("failure")
            seen.append((event.get("system"), event.get("isError"), log.textFromEventDict(event) if failure is None else str(failure.value), event.get("outer")))

        log.addObserver(observer)
        try:
            reactor.addReader(reader)
            for n in range(wakeUps):
                reader.ends[1].send(b"x")
                this = outer[n % len(outer)] if isinstance(outer, list) else outer
                if this is None:
                    reactor.doIteration(0)
                else:
                    context.call({log.ILogContext: this}, reactor.doIteration, 0)
        finally:
            log.removeObserver(observer)
            if reader in reactor.getReaders():
                reactor.removeReader(reader)
            reader.connectionLost(None)
            waker = reactor.waker
            reactor.removeReader(waker)
            waker.connectionLost(None)
            reactor._poller.close()
        return [e for e in seen if e[2] is None or "Main loop terminated" not in e[2]]

    def assertSameAsTwisted(self, prefix: Any, action: Any, outer: Any = None, wakeUps: int = 2) -> List[Any]:
        from twisted.internet.epollreactor import EPollReactor

        ours = self.events(KernelClockReactor, prefix, action, outer, wakeUps)
        self.flushLoggedErrors()
        twisted = self.events(EPollReactor, prefix, action, outer, wakeUps)
        self.flushLoggedErrors()
        self.assertEqual(ours, twisted)
        return ours

    def test_legacyMessageHasThePrefix(self) -> None:
        """
        A C{log.msg} during C{doRead} has the descriptor's prefix as its
        C{system}, on each wake-up.
        """
        from twisted.python import log

        seen = self.assertSameAsTwisted("SCTPPort (SCTP)", lambda: log.msg("read one"))
        self.assertEqual(seen, [("SCTPPort (SCTP)", 0, "read one", None)] * 2)

    def test_outerContextKept(self) -> None:
        """
        The outer context's other keys are seen inside, and a new outer
        context (another object) is not confused with the first.
        """
        from twisted.python import log

        seen = self.assertSameAsTwisted("p", lambda: log.msg("m"), outer={"system": "outer", "outer": 1})
        self.assertEqual(seen, [("p", 0, "m", 1)] * 2)
        seen = self.assertSameAsTwisted("p", lambda: log.msg("m"), outer=[{"system": "outer", "outer": 2}, {"outer": 3}, None], wakeUps=4)
        self.assertEqual(seen, [("p", 0, "m", 2), ("p", 0, "m", 3), ("p", 0, "m", None), ("p", 0, "m", 2)])

    def test_buggyPrefix(self) -> None:
        """
        A C{logPrefix} that raises is logged, and the call goes on under
        C{"(buggy logPrefix method)"}.
        """
        from twisted.python import log

        seen = self.assertSameAsTwisted(ValueError("no prefix"), lambda: log.msg("still read"))
        self.assertIn(("(buggy logPrefix method)", 0, "still read", None), seen)
        self.assertIn(("(buggy logPrefix method)", 1, "no prefix", None), seen)

    def test_raisingReadLogged(self) -> None:
        """
        What C{doRead} raises is logged under its prefix, and the
        descriptor is disconnected, as Twisted does.
        """
        def boom() -> None:
            raise RuntimeError("read failed")

        seen = self.assertSameAsTwisted("p", boom, wakeUps=1)
        self.assertEqual(seen, [("p", 1, "read failed", None)])


class TapInstallsTests(SynchronousTestCase):
    """
    L{twisted_sctp.tap.installReactor}, in a fresh interpreter (this one
    has trial's reactor installed).
    """

    if KernelClockReactor is None:  # pragma: no cover
        skip = "epoll reactor: Linux only"

    def reactorAfter(self, first: str) -> str:
        import subprocess

        code = first + "from twisted_sctp.tap import installReactor; installReactor()\nfrom twisted.internet import reactor\nprint(type(reactor).__name__)\n"
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=dict(os.environ, PYTHONPATH=root)).stdout.strip()

    def test_installsWhereNoneIs(self) -> None:
        """
        With no reactor installed, it installs L{KernelClockReactor}.
        """
        self.assertEqual(self.reactorAfter(""), "KernelClockReactor")

    def test_keepsAnInstalledOne(self) -> None:
        """
        A reactor already installed (C{twistd --reactor poll}) is kept.
        """
        self.assertEqual(self.reactorAfter("from twisted.internet import pollreactor; pollreactor.install()\n"), "PollReactor")
