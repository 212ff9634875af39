# -*- test-case-name: tests.test_sendhold -*-
"""
Issue 16 item 8: an association whose peer does not read is held (its
messages wait in our bounded queue) instead of taking the send buffer a
one-to-many socket shares; the others keep being served; it is released
when its peer reads again, or ABORTed after L{Sender.stallAbortAfter}.
Over L{FakeKernel} with a fake C{SCTP_STATUS}.
"""

from __future__ import annotations


from typing import Any, Dict, Tuple

from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests.test_port import PEER, PEER2, Recorder
from twisted_sctp.testing import FakeKernel, commUp
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPPort
from twisted_sctp.kernel.constants import SendFlags
from twisted_sctp.kernel.sockopt import Status

READING = (65536, 0)
STALLED = (0, 3)


class HoldTests(SynchronousTestCase):
    """
    The hold policy of the sending half, through a port.
    """

    def up(self, port: SCTPPort, assocID: int, peer: Any) -> Any:
        self.kernel.peers[assocID] = [peer]
        self.sock.feedNotification(commUp(assocID), peer)
        port.doRead()
        return port.registry.byKernelID(assocID)

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.kernel = FakeKernel()
        self.port = SCTPPort(5060, Factory.forProtocol(Recorder), ["127.0.0.1"], SCTPOptions(), self.reactor, kernel=self.kernel)
        self.port.startListening()
        self.sock = self.kernel.socket
        self.windows: Dict[int, Tuple[int, int]] = {}
        self.kernel.associationStatus = lambda sock, assocID: Status(  # type: ignore[attr-defined]
            assocID=assocID, rwnd=self.windows.get(assocID, READING)[0], unackdata=self.windows.get(assocID, READING)[1]
        )
        self.slow = self.up(self.port, 1, PEER)
        self.other = self.up(self.port, 2, PEER2)
        self.windows[1] = STALLED

    def sentTo(self, assocID: int) -> int:
        return sum(1 for _, info, _ in self.sock.sent if info.assocID == assocID and not info.flags & int(SendFlags.ABORT))

    def fill(self, count: int = 10) -> None:
        for _ in range(count):
            self.slow.transport.write(b"s" * 15000)

    def test_stalledAssociationHeld(self) -> None:
        """
        Past windowCheckBytes with the peer's window closed, the slow
        association's messages stay in our queue (counted C{held}); the
        kernel got only what came before the check.
        """
        self.fill()
        self.assertEqual(self.sentTo(1), 2)
        self.assertEqual(self.port.queuedMessages(self.slow), 8)
        self.assertEqual(self.port.stats["held"], 1)
        self.other.transport.write(b"probe")
        self.assertEqual(self.sentTo(2), 1)
        self.assertEqual(self.port.queuedMessages(self.other), 0)

    def test_othersDrainWhileOneIsHeld(self) -> None:
        """
        With the socket full both queue; once it has room the other
        association's queue drains though the held one comes first, and
        the writer stops (no spinning on held queues alone).
        """
        self.fill()
        self.sock.blocked = True
        self.other.transport.write(b"probe")
        self.assertEqual(self.port.queuedMessages(self.other), 1)
        self.sock.blocked = False
        self.port.doWrite()
        self.assertEqual((self.sentTo(2), self.port.queuedMessages(self.other)), (1, 0))
        self.assertEqual(self.port.queuedMessages(self.slow), 8)
        self.assertNotIn(self.port.backend, self.reactor.getWriters())

    def test_releasedWhenThePeerReads(self) -> None:
        """
        When the peer's window opens again, the recheck releases the
        association and its queue goes out in order.
        """
        self.fill()
        self.windows[1] = READING
        self.reactor.advance(self.port.holdRecheck)
        self.assertIn(self.port.backend, self.reactor.getWriters())
        self.port.doWrite()
        self.assertEqual(self.sentTo(1), 10)
        self.assertEqual(self.port.queuedMessages(self.slow), 0)

    def test_abortedAfterStallAbortAfter(self) -> None:
        """
        Held for stallAbortAfter seconds: ABORTed, counted
        C{stalled_aborted}; the other association is untouched.
        """
        self.fill()
        for _ in range(int(self.port.stallAbortAfter / self.port.holdRecheck) + 2):
            self.reactor.advance(self.port.holdRecheck)
        aborts = [info.assocID for _, info, _ in self.sock.sent if info.flags & int(SendFlags.ABORT)]
        self.assertEqual(aborts, [1])
        self.assertEqual(self.port.stats["stalled_aborted"], 1)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_noStatusNoHold(self) -> None:
        """
        A backend that cannot report the window (no SCTP_STATUS) holds
        nothing: the old behaviour.
        """
        del self.kernel.associationStatus  # type: ignore[attr-defined]
        self.fill()
        self.assertEqual((self.sentTo(1), self.port.stats["held"]), (10, 0))

    def test_wideWindowLooksLessOften(self) -> None:
        """
        Where the last look found the peer's window wide open, the next one
        comes after half of it (up to windowCheckMaxBytes), not after
        windowCheckBytes: fewer C{SCTP_STATUS} calls per message; as the
        window closes the looks come closer, and a closed one is held.
        """
        looks = []
        status = self.kernel.associationStatus  # type: ignore[attr-defined]

        def counting(sock: Any, assocID: int) -> Any:
            looks.append(assocID)
            return status(sock, assocID)

        self.kernel.associationStatus = counting  # type: ignore[attr-defined]
        self.windows[2] = (200000, 0)
        for _ in range(100):
            self.other.transport.write(b"o" * 1000)
        # A look after 16,000 bytes (window 200,000): the next after 100,000.
        self.assertEqual(len(looks), 1)
        self.windows[2] = (40000, 1)
        for _ in range(40):
            self.other.transport.write(b"o" * 1000)
        # Looks at 116,000 and 136,000 bytes, each finding 40,000: 20,000 apart.
        self.assertEqual(len(looks), 3)
        self.windows[2] = (1 << 30, 0)
        for _ in range(2000):
            self.other.transport.write(b"o" * 1000)
        # From 156,000 bytes to 2,140,000, one look in windowCheckMaxBytes.
        self.assertEqual(len(looks), 3 + 1 + (2140000 - 156000) // self.port.windowCheckMaxBytes)
        self.windows[2] = STALLED
        for _ in range(self.port.windowCheckMaxBytes // 1000 + 1):
            self.other.transport.write(b"o" * 1000)
        self.assertEqual(self.port.stats["held"], 1)
