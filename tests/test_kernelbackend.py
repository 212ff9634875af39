# -*- test-case-name: tests.test_kernelbackend -*-
"""
Tests for the kernel backend's own work: L{twisted_sctp.kernel.translate}
(notifications to events, send parameters to control messages and back)
and L{twisted_sctp.kernel.backend.KernelBackend} over a scripted socket
(ancillary data to events, errno mapping, the PR-SCTP TTL workaround,
peer addresses read where a source is new).
"""

from __future__ import annotations

import errno
import socket
from typing import Any, List

from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.kernel.backend import KernelBackend
from twisted_sctp.kernel.constants import IPPROTO_SCTP, PR_SCTP_TTL, AssocChangeState, PeerAddrState, SendFlags
from twisted_sctp.kernel.notifications import (
    AdaptationEvent,
    AssocChange,
    PartialDeliveryEvent,
    PeerAddrChange,
    RemoteError,
    SendFailed as KernelSendFailed,
    SendFailedEvent as KernelSendFailedEvent,
    SenderDryEvent,
    ShutdownEvent,
)
from twisted_sctp.kernel.sockopt import SndInfo, SndRcvInfo
from twisted_sctp.kernel.translate import hostPort, sendInfo, sendParameters, toEvent
from twisted_sctp.testing import FakeKernel, commUp
from twisted_sctp.transport.backend import AssociationGoneError, ISCTPBackend, ISCTPBackendSink
from twisted_sctp.transport.events import (
    AssociationDown,
    AssociationUp,
    DataReceived,
    OtherEvent,
    PartialDeliveryAborted,
    PathChanged,
    PeerShutdown,
    RemoteErrorReceived,
    SendFailed,
    SendParameters,
)
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.stats import SCTPStats

PEER = ("127.0.0.2", 5070)
PEER2 = ("127.0.0.3", 5070)


class TranslateTests(SynchronousTestCase):
    """
    Kernel notifications and send information to neutral values.
    """

    def test_assocChanges(self) -> None:
        """
        COMM_UP and RESTART become L{AssociationUp}; COMM_LOST,
        SHUTDOWN_COMP and CANT_STR_ASSOC become L{AssociationDown} with their
        reasons and error causes; the notification rides along as native.
        """
        up = AssocChange(state=AssocChangeState.COMM_UP, outboundStreams=5, inboundStreams=6, assocID=7)
        event = toEvent(up, PEER, [PEER, PEER2])
        self.assertEqual(event, AssociationUp(7, "comm_up", PEER, (PEER, PEER2), 6, 5))
        self.assertIs(event.native, up)
        self.assertEqual(toEvent(AssocChange(state=AssocChangeState.RESTART, assocID=7), PEER).reason, "restart")  # type: ignore[union-attr]
        for state, reason in [
            (AssocChangeState.COMM_LOST, "comm_lost"),
            (AssocChangeState.SHUTDOWN_COMP, "shutdown_complete"),
            (AssocChangeState.CANT_STR_ASSOC, "cant_start"),
        ]:
            self.assertEqual(toEvent(AssocChange(state=state, error=12, assocID=7), PEER), AssociationDown(7, reason, 12, PEER))

    def test_oneSendFailedForBothForms(self) -> None:
        """
        The legacy SEND_FAILED and SEND_FAILED_EVENT both become the one
        L{SendFailed} event: PPID in host order, the retries left out of the
        context's top bits, unordered and stream kept.
        """
        info = SndRcvInfo(stream=2, flags=int(SendFlags.UNORDERED), ppid=socket.htonl(46), context=3 << 28 | 9, assocID=7)
        legacy = toEvent(KernelSendFailed(flags=0, error=0, info=info, assocID=7, data=b"p"), PEER)
        params = SendParameters(stream=2, ppid=46, unordered=True, ttl=0, context=9, retries=3)
        self.assertEqual(legacy, SendFailed(7, b"p", params, 0, True, PEER))
        newer = toEvent(KernelSendFailedEvent(flags=1, error=5, info=SndInfo(2, int(SendFlags.UNORDERED), socket.htonl(46), 3 << 28 | 9, 7), assocID=7, data=b"p"), None)
        self.assertEqual(newer, SendFailed(7, b"p", params, 5, False, None))

    def test_otherNotifications(self) -> None:
        """
        Path changes carry the path state's word; SHUTDOWN, partial delivery
        and remote errors have their own events; sender dry and the rest are
        L{OtherEvent}s.
        """
        self.assertEqual(
            toEvent(PeerAddrChange(address=PEER2, state=PeerAddrState.ADDR_UNREACHABLE, assocID=7), None),
            PathChanged(7, PEER2, "unreachable"),
        )
        self.assertEqual(toEvent(PeerAddrChange(address=PEER2, state=99, assocID=7), None).state, "99")  # type: ignore[union-attr]
        self.assertEqual(toEvent(ShutdownEvent(assocID=7), None), PeerShutdown(7))
        self.assertEqual(toEvent(PartialDeliveryEvent(indication=0, assocID=7, stream=1, seq=2), None), PartialDeliveryAborted(7, 1, 2))
        self.assertEqual(toEvent(RemoteError(error=3, assocID=7, data=b"x"), None), RemoteErrorReceived(7, 3, b"x"))
        self.assertEqual(toEvent(SenderDryEvent(assocID=7), None), OtherEvent("sender_dry", 7))
        self.assertEqual(toEvent(AdaptationEvent(adaptationInd=1, assocID=7), None).kind, "other")

    def test_sendInfoRoundTrip(self) -> None:
        """
        L{sendInfo} lays parameters out as the kernel wants them (PPID in
        network order, retries in the context's top bits, PR-SCTP TTL
        policy only with a TTL) and L{sendParameters} reads them back.
        """
        params = SendParameters(stream=4, ppid=46, unordered=True, ttl=300, context=77, retries=2)
        info = sendInfo(params, 9)
        self.assertEqual(
            (info.stream, info.ppid, info.flags, info.context, info.timetolive, info.assocID),
            (4, socket.htonl(46), int(SendFlags.UNORDERED | PR_SCTP_TTL), 2 << 28 | 77, 300, 9),
        )
        self.assertEqual(sendParameters(info), params)
        self.assertEqual(sendInfo(params, ttl=False).flags, int(SendFlags.UNORDERED))
        self.assertEqual(sendInfo(SendParameters()).flags, 0)

    def test_hostPort(self) -> None:
        """
        Socket addresses become C{(host, port)} with IPv6 text normalised;
        nothing becomes L{None}.
        """
        self.assertEqual(hostPort(("::FFFF:127.0.0.1", 5060, 0, 0)), ("127.0.0.1", 5060))
        self.assertEqual(hostPort(("127.0.0.1", 5060)), ("127.0.0.1", 5060))
        self.assertIsNone(hostPort(None))
        self.assertIsNone(hostPort(""))


@implementer(ISCTPBackendSink)
class RecordingSink:
    """
    Records what a backend reports.
    """

    def __init__(self) -> None:
        self.stats = SCTPStats()
        self.readTime: Any = None
        self.data: List[DataReceived] = []
        self.events: List[Any] = []
        self.writables = 0
        self.lost: List[Failure] = []

    def dataReceived(self, event: DataReceived) -> None:
        self.data.append(event)

    def eventReceived(self, event: Any) -> None:
        self.events.append(event)

    def writable(self) -> None:
        self.writables += 1

    def backendLost(self, reason: Failure) -> None:
        self.lost.append(reason)

    def logPrefix(self) -> str:
        return "RecordingSink"


class KernelBackendTests(SynchronousTestCase):
    """
    L{KernelBackend} over L{FakeKernel}'s scripted socket.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.kernel = FakeKernel()
        self.backend = KernelBackend(self.reactor, self.kernel)
        self.sink = RecordingSink()
        self.backend.listen(self.sink, ["127.0.0.1"], 5060, SCTPOptions())
        self.sock = self.kernel.socket

    def test_interfaces(self) -> None:
        """
        The backend provides L{ISCTPBackend} and is the reactor's reader.
        """
        verifyObject(ISCTPBackend, self.backend)
        self.assertIn(self.backend, self.reactor.getReaders())

    def test_commUpCarriesPaths(self) -> None:
        """
        COMM_UP comes up with the primary address only, marked incomplete,
        without asking the kernel; data from the primary then needs no
        kernel call and carries no paths, data from a new address carries
        what the kernel now reports.
        """
        self.kernel.peers[7] = [PEER, PEER2]
        self.sock.feedNotification(commUp(7), PEER)
        self.sock.feedData(b"a", 7, PEER, stream=1, ppid=socket.htonl(46))
        self.backend.doRead()
        [up] = self.sink.events
        self.assertEqual((up.assocID, up.paths, up.complete), (7, (PEER,), False))
        self.assertEqual(self.kernel.peerQueries, [])
        [data] = self.sink.data
        self.assertEqual(data, DataReceived(7, b"a", 1, 46, 0, PEER, None))
        self.sock.feedData(b"a2", 7, PEER2)
        self.backend.doRead()
        self.assertEqual(self.sink.data[-1].paths, (PEER, PEER2))
        self.assertEqual(self.kernel.peerQueries, [7])
        third = ("127.0.0.4", 5070)
        self.kernel.peers[7] = [PEER, PEER2, third]
        self.sock.feedData(b"b", 7, third)
        self.backend.doRead()
        self.assertEqual(self.sink.data[-1].paths, (PEER, PEER2, third))

    def test_controlMessageOfEachAssociation(self) -> None:
        """
        The packed C{SCTP_SNDRCV} of a send on an association is the one
        L{sendInfo} packs for it, for any id (the largest and the
        negative ones the kernel never gives included) and parameters.
        """
        params = [SendParameters(), SendParameters(stream=3, ppid=46, unordered=True, ttl=500, context=9, retries=2)]
        for p in params:
            for ttl in (True, False):
                for assocID in (0, 1, 7, 0x7FFFFFFF, -1, -0x80000000):
                    want = [(IPPROTO_SCTP, 1, sendInfo(p, assocID, ttl).pack())]
                    self.assertEqual(self.backend._ancillary(p, assocID, ttl), want)
                    self.assertEqual(self.backend._ancillary(p, assocID, ttl), want)

    def test_sendErrnos(self) -> None:
        """
        A send by assoc_id failing with an errno that means "gone" raises
        L{AssociationGoneError}; EAGAIN raises C{BlockingIOError}; any other
        errno, and any failure of a send by address, is a plain C{OSError}.
        """
        params = SendParameters()
        for code in (errno.EPIPE, errno.ENOENT, errno.EINVAL, errno.ESHUTDOWN):
            self.sock.sendErrors.append(OSError(code, "gone"))
            self.assertRaises(AssociationGoneError, self.backend.send, b"x", params, 7)
        self.sock.blocked = True
        self.assertRaises(BlockingIOError, self.backend.send, b"x", params, 7)
        self.sock.blocked = False
        self.sock.sendErrors.append(OSError(errno.EBADF, "bad"))
        e = self.assertRaises(OSError, self.backend.send, b"x", params, 7)
        self.assertNotIsInstance(e, AssociationGoneError)
        self.sock.sendErrors.append(OSError(errno.EPIPE, "gone"))
        e = self.assertRaises(OSError, self.backend.send, b"x", params, 0, PEER)
        self.assertNotIsInstance(e, AssociationGoneError)

    def test_ttlLeftOutUntilUp(self) -> None:
        """
        Until the association is up, a send goes without the PR-SCTP TTL
        policy (Linux would expire it at once); after COMM_UP, with it.
        """
        params = SendParameters(ttl=500)
        self.backend.send(b"first", params, 0, PEER)
        self.sock.feedNotification(commUp(7), PEER)
        self.backend.doRead()
        self.backend.send(b"later", params, 7)
        [(_, first, address), (_, later, none)] = self.sock.sent
        self.assertEqual((first.flags, first.assocID, address), (0, 0, PEER))
        self.assertEqual((later.flags, later.timetolive, later.assocID, none), (int(PR_SCTP_TTL), 500, 7, None))

    def test_downForgetsPartialMessage(self) -> None:
        """
        An association's end drops the piece of a message it left and counts
        it (no_eor), before the sink hears of the end.
        """
        self.backend.readBufferSize = 100
        self.sock.feedNotification(commUp(7), PEER)
        self.sock.feedData(b"x" * 150, 7, PEER, eor=False)
        self.sock.feedNotification(AssocChange(state=AssocChangeState.COMM_LOST, assocID=7), PEER)
        self.backend.doRead()
        self.assertEqual([type(e) for e in self.sink.events], [AssociationUp, AssociationDown])
        self.assertEqual(self.sink.stats.drops["no_eor"], 1)
        self.assertEqual(self.sink.data, [])

    def test_interleavedPiecesReassembledPerAssociation(self) -> None:
        """
        With C{SCTP_FRAGMENT_INTERLEAVE} 1 the pieces of two associations'
        messages come interleaved, each with its receive info: each
        association's message is reassembled from its own pieces, and a
        whole message of a third association between them goes up at once.
        """
        for assocID, peer in ((7, PEER), (8, PEER2), (9, ("127.0.0.4", 5070))):
            self.kernel.peers[assocID] = [peer]
            self.sock.feedNotification(commUp(assocID), peer)
        self.sock.feedData(b"A1", 7, PEER, eor=False)
        self.sock.feedData(b"B1", 8, PEER2, eor=False)
        self.sock.feedData(b"small", 9, ("127.0.0.4", 5070))
        self.sock.feedData(b"A2", 7, PEER, eor=False)
        self.sock.feedData(b"B2", 8, PEER2)
        self.sock.feedData(b"A3", 7, PEER)
        self.backend.doRead()
        self.assertEqual([(d.assocID, d.payload) for d in self.sink.data], [(9, b"small"), (8, b"B1B2"), (7, b"A1A2A3")])
        self.assertEqual(self.sink.stats.partial_reassembled, 2)

    def test_listenAsksForInterleave(self) -> None:
        """
        The listen socket gets C{SCTP_FRAGMENT_INTERLEAVE} 1 unless the
        backend was set to another level before listening.
        """
        self.assertEqual(self.kernel.interleave, 1)
        kernel = FakeKernel()
        backend = KernelBackend(self.reactor, kernel)
        backend.fragmentInterleave = 0
        backend.listen(RecordingSink(), ["127.0.0.1"], 5061, SCTPOptions())
        self.assertEqual(kernel.interleave, 0)

    def test_wakeupBoundedInBytes(self) -> None:
        """
        A wake-up stops once it has read C{maxBytesPerWakeup} bytes, though
        reads are left (C{maxReadsPerWakeup}) and more is queued: the rest of
        the big message and the small message behind it are read at the
        next wake-up.
        """
        self.backend.readBufferSize = 1000
        self.backend.maxBytesPerWakeup = 3000
        self.sock.feedNotification(commUp(7), PEER)
        self.sock.feedData(b"x" * 5500, 7, PEER)
        self.sock.feedData(b"small", 8, PEER2)
        self.backend.doRead()
        self.assertEqual((self.sock.recvCalls, self.sink.data), (4, []))
        self.backend.doRead()
        self.assertEqual([d.payload for d in self.sink.data], [b"x" * 5500, b"small"])

    def test_shutdownAndAbort(self) -> None:
        """
        SHUTDOWN and ABORT are empty/reason messages on the association with
        the EOF/ABORT flag.
        """
        self.backend.shutdown(7)
        self.backend.abort(8, b"why")
        [(d1, i1, a1), (d2, i2, a2)] = self.sock.sent
        self.assertEqual((d1, i1.flags, i1.assocID, a1), (b"", int(SendFlags.EOF), 7, None))
        self.assertEqual((d2, i2.flags, i2.assocID, a2), (b"why", int(SendFlags.ABORT), 8, None))

    def test_fatalReadErrorLosesTheBackend(self) -> None:
        """
        A fatal recvmsg errno makes doRead return a failure; the reactor's
        connectionLost reaches the sink.
        """
        self.sock.feedError(errno.EBADF)
        result = self.backend.doRead()
        self.assertIsInstance(result, Failure)
        self.backend.connectionLost(result)  # type: ignore[arg-type]
        self.assertEqual(len(self.sink.lost), 1)
