# -*- test-case-name: tests.test_port -*-
"""
Tests for L{twisted_sctp.transport.port} with a scripted socket (no kernel SCTP).
"""

from __future__ import annotations

import collections
import errno
import socket
from typing import Any, List

from zope.interface.verify import verifyObject

from twisted.internet import main
from twisted.internet.interfaces import IListeningPort, IReadDescriptor, IWriteDescriptor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.transport.registry import AssociationState
from twisted_sctp.kernel.constants import PR_SCTP_TTL, AssocChangeState, SendFlags
from twisted_sctp.error import AssociationLimitError, AssociationLost, ConnectError, SendQueueFullError
from twisted_sctp.transport.interfaces import IAssociationTransport
from twisted_sctp.kernel.notifications import AssocChange, PartialDeliveryEvent, SendFailed, ShutdownEvent
from twisted_sctp.transport.address import SCTPAddress
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import MAX_ASSOCS_REASON, SCTPMessage, SCTPPort
from twisted_sctp.kernel.sockopt import SndRcvInfo
from twisted_sctp.testing import FakeKernel, RecordingProducer as Producer, commUp

PEER = ("127.0.0.2", 5070)
PEER2 = ("127.0.0.3", 5071)


class Recorder(Protocol):
    """
    Records whole messages and the connection's end.
    """

    def __init__(self) -> None:
        self.messages: List[SCTPMessage] = []
        self.lost: List[Failure] = []
        self.made = 0

    def connectionMade(self) -> None:
        self.made += 1

    def messageReceived(self, message: SCTPMessage) -> None:
        self.messages.append(message)

    def connectionLost(self, reason: Failure = main.CONNECTION_DONE) -> None:  # type: ignore[assignment]
        self.lost.append(reason)


class PlainRecorder(Protocol):
    """
    A plain IProtocol: gets dataReceived once per message.
    """

    def __init__(self) -> None:
        self.data: List[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)


class PortTestCase(SynchronousTestCase):
    """
    Read and write paths of L{SCTPPort} over L{FakeKernel}.
    """

    def makePort(self, protocolClass: Any = Recorder, **options: Any) -> SCTPPort:
        self.reactor = MemoryReactorClock()
        self.kernel = FakeKernel()
        self.protocols: List[Any] = []

        def build(addr: Any) -> Any:
            p = protocolClass()
            self.protocols.append(p)
            return p

        factory = Factory.forProtocol(protocolClass)
        factory.buildProtocol = build  # type: ignore[method-assign]
        port = SCTPPort(5060, factory, ["127.0.0.1"], SCTPOptions(**options), self.reactor, kernel=self.kernel)
        port.startListening()
        self.sock = self.kernel.socket
        return port

    def up(self, port: SCTPPort, assocID: int, peer: Any = PEER) -> Any:
        self.kernel.peers[assocID] = [peer]
        self.sock.feedNotification(commUp(assocID), peer)
        port.doRead()
        return port.registry.byKernelID(assocID)

    def test_interfaces(self) -> None:
        """
        The port provides IListeningPort; association transports provide
        IAssociationTransport; listening adds the port as a reader.
        """
        port = self.makePort()
        verifyObject(IListeningPort, port)
        verifyObject(IReadDescriptor, port.backend)
        verifyObject(IWriteDescriptor, port.backend)
        self.assertIn(port.backend, self.reactor.getReaders())
        self.assertEqual(self.sock.listening, port.backlog)
        assoc = self.up(port, 7)
        verifyObject(IAssociationTransport, assoc.transport)

    def test_commUpBuildsProtocol(self) -> None:
        """
        COMM_UP creates an association with a unique id, builds its protocol
        and counts established, opened and tracked.
        """
        port = self.makePort()
        assoc = self.up(port, 7)
        self.assertEqual(len(self.protocols), 1)
        self.assertEqual(self.protocols[0].made, 1)
        self.assertGreater(assoc.id, 0)
        self.assertEqual(assoc.state, AssociationState.ESTABLISHED)
        stats = port.snapshot()
        self.assertEqual((stats["established"], stats["current_opened_connections"], stats["current_tracked_connections"]), (1, 1, 1))

    def test_messageReceived(self) -> None:
        """
        A data message reaches the association's protocol whole, with stream,
        PPID (host order) and source.
        """
        port = self.makePort()
        assoc = self.up(port, 7)
        self.sock.feedData(b"hello", 7, PEER, stream=3, ppid=socket.htonl(46))
        port.doRead()
        [msg] = self.protocols[0].messages
        self.assertEqual((msg.payload, msg.stream, msg.ppid, msg.source), (b"hello", 3, 46, PEER))
        self.assertIs(msg.association, assoc)
        self.assertEqual((assoc.messagesIn, assoc.bytesIn), (1, 5))
        self.assertEqual(port.stats.messages_in, 1)

    def test_dataReceivedForPlainProtocols(self) -> None:
        """
        A protocol without messageReceived gets dataReceived once per message.
        """
        port = self.makePort(PlainRecorder)
        self.up(port, 7)
        self.sock.feedData(b"one", 7, PEER)
        self.sock.feedData(b"two", 7, PEER)
        port.doRead()
        self.assertEqual(self.protocols[0].data, [b"one", b"two"])

    def test_partialDeliveryReassembled(self) -> None:
        """
        A message delivered in pieces (no MSG_EOR until the last) is handed
        up whole, once.
        """
        port = self.makePort()
        port.readBufferSize = 1000
        self.up(port, 7)
        big = bytes(range(256)) * 20
        self.sock.feedData(big, 7, PEER)
        port.doRead()
        self.assertEqual([m.payload for m in self.protocols[0].messages], [big])
        self.assertEqual(port.stats.partial_reassembled, 1)

    def test_oversizeDropped(self) -> None:
        """
        A partially delivered message beyond maxMessageSize is dropped and
        counted; the next message is delivered.
        """
        port = self.makePort()
        port.readBufferSize = 1000
        port.maxMessageSize = 2500
        self.up(port, 7)
        self.sock.feedData(b"x" * 5000, 7, PEER)
        self.sock.feedData(b"after", 7, PEER)
        port.doRead()
        self.assertEqual([m.payload for m in self.protocols[0].messages], [b"after"])
        self.assertEqual(port.stats.drops["oversize"], 1)

    def test_partialDeliveryAbortedCounted(self) -> None:
        """
        A PARTIAL_DELIVERY_EVENT discards the half-read message, counted.
        """
        port = self.makePort()
        port.readBufferSize = 1000
        self.up(port, 7)
        self.sock.feedData(b"x" * 500, 7, PEER, eor=False)
        self.sock.feedNotification(PartialDeliveryEvent(indication=0, assocID=7, stream=0, seq=0), PEER)
        self.sock.feedData(b"next", 7, PEER)
        port.doRead()
        self.assertEqual([m.payload for m in self.protocols[0].messages], [b"next"])
        self.assertEqual(port.stats.drops["no_eor"], 1)

    def test_replyByAssociation(self) -> None:
        """
        transport.write sends one message by assoc_id with no address,
        stream 0, ordered (the default everywhere), the send_ttl as a PR-SCTP
        TTL and send_retries in the context's top bits; port.sendMessage
        sends ordered by default too, unordered when asked.
        """
        port = self.makePort(send_ttl=5000, send_retries=2)
        assoc = self.up(port, 7)
        assoc.transport.write(b"reply")
        [(data, info, address)] = self.sock.sent
        self.assertEqual((data, address), (b"reply", None))
        self.assertEqual(info.assocID, 7)
        self.assertEqual(info.stream, 0)
        self.assertEqual(info.flags, PR_SCTP_TTL)
        self.assertEqual(info.timetolive, 5000)
        self.assertEqual(info.context >> 28, 2)
        self.assertEqual((assoc.messagesOut, port.stats.bytes_out), (1, 5))
        port.sendMessage(b"default", assoc)
        port.sendMessage(b"unordered", assoc, unordered=True)
        flags = [i.flags & SendFlags.UNORDERED for _, i, _ in self.sock.sent[1:]]
        self.assertEqual(flags, [0, SendFlags.UNORDERED])

    def test_writeMessageParameters(self) -> None:
        """
        writeMessage passes stream, PPID (network order on the wire), order,
        TTL and context; ttl=0 means no PR-SCTP policy.
        """
        port = self.makePort()
        assoc = self.up(port, 7)
        assoc.transport.writeMessage(b"m", stream=2, ppid=46, unordered=False, ttl=0, context=77)
        [(_, info, _)] = self.sock.sent
        self.assertEqual((info.stream, info.ppid, info.flags, info.timetolive, info.context & 0xFFFFFFF), (2, socket.htonl(46), 0, 0, 77))

    def test_replyFallsBackToAddressOnEPIPE(self) -> None:
        """
        A send by assoc_id that fails with EPIPE is re-sent by address, as
        the reference does.
        """
        port = self.makePort()
        assoc = self.up(port, 7)
        self.sock.sendErrors.append(OSError(errno.EPIPE, "gone"))
        assoc.transport.write(b"reply")
        [(data, info, address)] = self.sock.sent
        self.assertEqual((data, info.assocID, address), (b"reply", 0, PEER))

    def test_reuseOffSendsByAddress(self) -> None:
        """
        With assoc_reuse=0 a reply goes by the peer's address.
        """
        port = self.makePort(assoc_reuse=0)
        assoc = self.up(port, 7)
        assoc.transport.write(b"reply")
        [(_, info, address)] = self.sock.sent
        self.assertEqual((info.assocID, address), (0, PEER))

    def test_eagainQueuesAndDrains(self) -> None:
        """
        EAGAIN counts sendq_full, queues the message and starts writing;
        doWrite sends the queue in order once the socket takes data.
        """
        port = self.makePort()
        assoc = self.up(port, 7)
        self.sock.blocked = True
        for i in range(5):
            assoc.transport.write(b"m%d" % i)
        self.assertEqual(port.stats.sendq_full, 1)
        self.assertEqual(port.queuedMessages(assoc), 5)
        self.assertIn(port.backend, self.reactor.getWriters())
        port.doWrite()
        self.assertEqual(port.queuedMessages(assoc), 5)
        self.sock.blocked = False
        port.doWrite()
        self.assertEqual([d for d, _, _ in self.sock.sent], [b"m%d" % i for i in range(5)])
        self.assertNotIn(port.backend, self.reactor.getWriters())

    def test_backpressure(self) -> None:
        """
        A registered streaming producer is paused when the queue passes the
        high-water mark and resumed once it drains.
        """
        port = self.makePort()
        port.highWaterBytes = 100
        assoc = self.up(port, 7)
        producer = Producer()
        assoc.transport.registerProducer(producer, True)
        self.sock.blocked = True
        for _ in range(5):
            assoc.transport.write(b"x" * 40)
        self.assertEqual(producer.calls, ["pause"])
        self.sock.blocked = False
        port.doWrite()
        self.assertEqual(producer.calls, ["pause", "resume"])

    def test_queueOverflow(self) -> None:
        """
        Beyond the queue bound a send raises SendQueueFullError, counted;
        what was queued still goes out.
        """
        port = self.makePort()
        port.maxQueuedMessages = 3
        assoc = self.up(port, 7)
        self.sock.blocked = True
        for i in range(3):
            assoc.transport.write(b"q%d" % i)
        self.assertRaises(SendQueueFullError, assoc.transport.write, b"too much")
        self.assertEqual(port.stats.drops["queue_full"], 1)
        self.sock.blocked = False
        port.doWrite()
        self.assertEqual(len(self.sock.sent), 3)

    def test_maxAssocsAbortsIncoming(self) -> None:
        """
        With max_assocs=2 a third association is ABORTed right after COMM_UP
        with the reason text; established+1, local_reject+1, and after the
        kernel's COMM_LOST comm_lost+1 with opened back at 2.
        """
        port = self.makePort(max_assocs=2)
        self.up(port, 1)
        self.up(port, 2, PEER2)
        third = self.up(port, 3, ("127.0.0.4", 5072))
        self.assertTrue(third.rejected)
        [(data, info, address)] = self.sock.sent
        self.assertEqual(data, MAX_ASSOCS_REASON)
        self.assertEqual(len(MAX_ASSOCS_REASON), 55)
        self.assertTrue(info.flags & SendFlags.ABORT)
        self.assertEqual(info.assocID, 3)
        self.assertEqual(len(self.protocols), 2)
        self.sock.feedNotification(AssocChange(state=AssocChangeState.COMM_LOST, error=12, assocID=3), ("127.0.0.4", 5072))
        port.doRead()
        stats = port.snapshot()
        self.assertEqual(
            (stats["established"], stats["local_reject"], stats["comm_lost"], stats["current_opened_connections"]),
            (3, 1, 1, 2),
        )

    def test_maxAssocsRefusesOutgoingBeforeSending(self) -> None:
        """
        With tracking on, a send that would open an association over
        max_assocs fails before anything is sent.
        """
        port = self.makePort(max_assocs=1)
        self.up(port, 1)
        self.assertRaises(AssociationLimitError, port.sendMessage, b"x", PEER2)
        self.assertEqual(self.sock.sent, [])
        self.assertEqual(port.stats.outgoing_refused, 1)
        port.sendMessage(b"ok", PEER)
        self.assertEqual(len(self.sock.sent), 1)

    def test_pendingOutgoingCountsTowardsCap(self) -> None:
        """
        An outgoing association still connecting counts towards max_assocs.
        """
        port = self.makePort(max_assocs=1)
        port.sendMessage(b"first", PEER)
        port.sendMessage(b"again", PEER)
        self.assertRaises(AssociationLimitError, port.sendMessage, b"x", PEER2)
        self.assertEqual([a for _, _, a in self.sock.sent], [PEER, PEER])

    def test_implicitOutgoingBecomesEstablished(self) -> None:
        """
        A send to a new address creates a connecting association that its
        COMM_UP completes (same record, same id, protocol built).
        """
        port = self.makePort()
        assoc = port.sendMessage(b"hi", PEER)
        self.assertEqual(assoc.state, AssociationState.CONNECTING)
        same = self.up(port, 9)
        self.assertIs(same, assoc)
        self.assertEqual(assoc.state, AssociationState.ESTABLISHED)
        self.assertTrue(assoc.outgoing)
        self.assertEqual(len(self.protocols), 1)

    def test_sendFailedResent(self) -> None:
        """
        SEND_FAILED with error 0 and retries left re-sends the payload by
        address with one retry fewer; send_failed and send_force_retry count.
        """
        port = self.makePort(send_retries=2)
        self.up(port, 7)
        failed = SendFailed(flags=0, error=0, info=SndRcvInfo(flags=1, context=2 << 28 | 5, assocID=7), assocID=7, data=b"payload")
        self.sock.feedNotification(failed, PEER)
        port.doRead()
        [(data, info, address)] = self.sock.sent
        self.assertEqual((data, info.assocID, address), (b"payload", 0, PEER))
        self.assertEqual(info.context, 1 << 28 | 5)
        self.assertEqual((port.stats.send_failed, port.stats.send_force_retry), (1, 1))

    def test_sendFailedNotResent(self) -> None:
        """
        SEND_FAILED with an error, or with no retries left, is counted and
        not re-sent.
        """
        port = self.makePort()
        self.up(port, 7)
        for error, context in [(5, 2 << 28), (0, 0)]:
            self.sock.feedNotification(
                SendFailed(flags=0, error=error, info=SndRcvInfo(context=context, assocID=7), assocID=7, data=b"p"), PEER
            )
        port.doRead()
        self.assertEqual(self.sock.sent, [])
        self.assertEqual((port.stats.send_failed, port.stats.send_force_retry), (2, 0))

    def test_queuedMessagesResentWhenAssociationLost(self) -> None:
        """
        Messages still in our queue (EAGAIN) when their association is lost
        are re-sent by address like the kernel's SEND_FAILED ones, one retry
        fewer (send_force_retry); without retries left, or when the peer's
        ABORT gave an error cause (not re-sent, as its SEND_FAILEDs are not),
        they are dropped and counted (association_lost).  Found by the fault
        lab's peer restart.
        """
        port = self.makePort(send_retries=2)
        assoc = self.up(port, 7)
        self.sock.blocked = True
        port.sendMessage(b"q0", assoc, context=5)
        port.sendMessage(b"q1", assoc, context=6)
        self.assertEqual(port.queuedMessages(assoc), 2)
        self.sock.blocked = False
        self.sock.feedNotification(AssocChange(state=AssocChangeState.COMM_LOST, assocID=7), PEER)
        port.doRead()
        self.assertEqual([(d, i.assocID, a, i.context) for d, i, a in self.sock.sent],
                         [(b"q0", 0, PEER, 1 << 28 | 5), (b"q1", 0, PEER, 1 << 28 | 6)])
        self.assertEqual((port.stats.send_force_retry, port.stats.drops["association_lost"]), (2, 0))
        [again] = [a for a in port.registry if a.state == AssociationState.CONNECTING]
        self.assertIsNot(again, assoc)

        for retries, error in [(0, 0), (2, 3072)]:
            port = self.makePort(send_retries=retries)
            assoc = self.up(port, 7)
            self.sock.blocked = True
            port.sendMessage(b"q0", assoc)
            self.sock.blocked = False
            self.sock.feedNotification(AssocChange(state=AssocChangeState.COMM_LOST, error=error, assocID=7), PEER)
            port.doRead()
            self.assertEqual(self.sock.sent, [])
            self.assertEqual((port.stats.send_force_retry, port.stats.drops["association_lost"]), (0, 1))

    def test_peerShutdown(self) -> None:
        """
        A peer's graceful close counts remote_shutdown and assoc_shutdown and
        ends the protocol with reason "shutdown".
        """
        port = self.makePort()
        self.up(port, 7)
        self.sock.feedNotification(ShutdownEvent(assocID=7), PEER)
        self.sock.feedNotification(AssocChange(state=AssocChangeState.SHUTDOWN_COMP, assocID=7), PEER)
        port.doRead()
        [reason] = self.protocols[0].lost
        self.assertIsInstance(reason.value, AssociationLost)
        self.assertEqual(reason.value.how, "shutdown")
        stats = port.snapshot()
        self.assertEqual((stats["remote_shutdown"], stats["assoc_shutdown"], stats["current_opened_connections"], stats["current_tracked_connections"]), (1, 1, 0, 0))

    def test_autoclose(self) -> None:
        """
        SHUTDOWN_COMP with no SHUTDOWN from the peer and none asked for is
        the autoclose timer: assoc_shutdown+1, remote_shutdown unchanged.
        """
        port = self.makePort()
        self.up(port, 7)
        self.sock.feedNotification(AssocChange(state=AssocChangeState.SHUTDOWN_COMP, assocID=7), PEER)
        port.doRead()
        self.assertEqual(self.protocols[0].lost[0].value.how, "autoclose")
        self.assertEqual((port.stats.assoc_shutdown, port.stats.remote_shutdown, port.stats.autoclosed), (1, 0, 1))

    def test_multihomedPeerLazyPaths(self) -> None:
        """
        COMM_UP asks the kernel nothing; a multihomed peer is still found
        by a secondary address (one C{SCTP_GET_PEER_ADDRS} then), so a send
        to that address goes on its association, not a new one.
        """
        port = self.makePort()
        assoc = self.up(port, 7)
        self.kernel.peers[7] = [PEER, ("127.0.0.4", PEER[1])]
        self.assertEqual((self.kernel.peerQueries, port.registry.unresolved), ([], 1))
        self.assertIs(port.sendMessage(b"to the second path", ("127.0.0.4", PEER[1])), assoc)
        self.assertEqual(self.kernel.peerQueries, [7])
        self.assertEqual(assoc.peer.hosts, (PEER[0], "127.0.0.4"))
        self.assertEqual(len(port.registry), 1)
        self.assertEqual((assoc.messagesOut, port.registry.wouldExceed()), (1, False))

    def test_shortAssociationNeverQueried(self) -> None:
        """
        An association that comes up, carries a message from its primary
        address and ends costs no peer-address query.
        """
        port = self.makePort()
        self.up(port, 7)
        self.sock.feedData(b"hello", 7, PEER)
        self.sock.feedNotification(AssocChange(state=AssocChangeState.SHUTDOWN_COMP, assocID=7), PEER)
        port.doRead()
        self.assertEqual([m.payload for m in self.protocols[0].messages], [b"hello"])
        self.assertEqual(self.kernel.peerQueries, [])
        self.assertEqual((len(port.registry), port.registry.unresolved, port.registry.opened), (0, 0, 0))

    def test_reusedKernelIDNotConfused(self) -> None:
        """
        Data with a kernel assoc_id that now belongs to another peer (the old
        association's end was missed) is not given to the old association:
        the old one is ended, the new one gets a new id and protocol.
        """
        port = self.makePort()
        old = self.up(port, 7)
        self.kernel.peers[7] = [PEER2]
        self.sock.feedData(b"from the new peer", 7, PEER2)
        port.doRead()
        self.assertEqual(len(self.protocols), 2)
        self.assertEqual(self.protocols[0].messages, [])
        self.assertEqual(self.protocols[0].lost[0].value.how, "comm_lost")
        [msg] = self.protocols[1].messages
        self.assertNotEqual(msg.association.id, old.id)
        self.assertIsNone(port.registry.byID(old.id))

    def test_reusedKernelIDOnCommUp(self) -> None:
        """
        A COMM_UP whose kernel id still names a live association with another
        peer closes the old record first.
        """
        port = self.makePort()
        old = self.up(port, 7)
        new = self.up(port, 7, PEER2)
        self.assertIsNot(old, new)
        self.assertEqual(old.state, AssociationState.CLOSED)
        self.assertEqual(port.registry.opened, 1)
        self.assertEqual(len(self.protocols[0].lost), 1)

    def test_badNotificationsCounted(self) -> None:
        """
        Notifications shorter than their header or struct are dropped and
        counted, and reading goes on.
        """
        port = self.makePort()
        self.sock.feedNotification(b"\x01\x80")
        self.sock.feedNotification(AssocChange(state=0, assocID=1).pack()[:12])
        self.up(port, 7)
        self.assertEqual(port.stats.drops["short_notification"] + port.stats.drops["bad_notification"], 2)
        self.assertEqual(len(self.protocols), 1)

    def test_sourcePortZeroDropped(self) -> None:
        """
        Data from source port 0 is dropped and counted.
        """
        port = self.makePort()
        self.up(port, 7)
        self.sock.feedData(b"x", 7, ("127.0.0.2", 0))
        port.doRead()
        self.assertEqual(port.stats.drops["source_port_zero"], 1)

    def test_readErrors(self) -> None:
        """
        EAGAIN ends a read pass quietly; a transient errno is skipped; a
        fatal one loses the port.
        """
        port = self.makePort()
        self.assertIsNone(port.doRead())
        self.sock.feedError(errno.ECONNREFUSED)
        self.sock.feedError(errno.EBADF)
        result = port.doRead()
        self.assertIsInstance(result, Failure)

    def test_connect(self) -> None:
        """
        connect() starts an association with connectx and fires with its
        protocol at COMM_UP.
        """
        port = self.makePort()
        d = port.connect(PEER)
        self.assertEqual(self.kernel.connects, [[PEER]])
        self.assertNoResult(d)
        assoc = self.up(port, self.kernel.nextAssocID)
        self.assertIs(self.successResultOf(d), self.protocols[0])
        self.assertEqual(assoc.state, AssociationState.ESTABLISHED)
        self.assertTrue(assoc.outgoing)
        self.assertEqual(port.registry.opened, 1)

    def test_connectMultihomedPathsActive(self) -> None:
        """
        An association opened to a multihomed peer has every address given
        to connect active once up, though COMM_UP asked the kernel nothing.
        """
        port = self.makePort()
        second = ("127.0.0.4", PEER[1])
        d = port.connect(SCTPAddress(PEER[0], PEER[1], (PEER[0], second[0])))
        self.assertEqual(self.kernel.connects, [[PEER, second]])
        assoc = self.up(port, self.kernel.nextAssocID)
        self.assertIs(self.successResultOf(d), self.protocols[0])
        self.assertEqual(assoc.paths, {PEER: "active", second: "active"})
        self.assertEqual(assoc.peer.hosts, (PEER[0], second[0]))
        self.assertIs(port.registry.byPeer(second), assoc)
        self.assertEqual(self.kernel.peerQueries, [])

    def test_connectFails(self) -> None:
        """
        CANT_STR_ASSOC fails the connect Deferred with ConnectError and
        counts connect_failed.
        """
        port = self.makePort()
        d = port.connect(PEER)
        self.sock.feedNotification(AssocChange(state=AssocChangeState.CANT_STR_ASSOC, error=0, assocID=self.kernel.nextAssocID), PEER)
        port.doRead()
        self.failureResultOf(d, ConnectError)
        self.assertEqual(port.stats.connect_failed, 1)
        self.assertEqual(len(port.registry), 0)

    def test_setOptionRuntime(self) -> None:
        """
        A kernel option change goes to the socket for new associations; a
        refused one raises; tracking off flushes ids.
        """
        from twisted_sctp.error import OptionError

        port = self.makePort()
        change = port.setOption("srto_min", 500)
        self.assertEqual(change.appliesTo, "new-associations")
        self.assertEqual(self.kernel.runtime, [("srto_min", 500)])
        self.assertRaises(OptionError, port.setOption, "assoc_tracking", 0)
        self.up(port, 7)
        port.setOption("assoc_reuse", 0)
        port.setOption("assoc_tracking", 0)
        self.assertEqual(port.snapshot()["current_tracked_connections"], -1)
        self.assertEqual(port.setOption("max_assocs", 5).appliesTo, "now")
        self.assertEqual(port.registry.maxAssocs, 5)

    def test_stopListening(self) -> None:
        """
        Stopping the port closes the socket and ends every protocol.
        """
        port = self.makePort()
        self.up(port, 7)
        port.stopListening()
        self.assertEqual(port.snapshot()["current_opened_connections"], 0)
        self.assertTrue(self.sock.closed)
        self.assertEqual(self.protocols[0].lost[0].value.how, "port_closed")
        self.assertNotIn(port.backend, self.reactor.getReaders())

    def test_dataBeforeCommUp(self) -> None:
        """
        Data whose COMM_UP has not been read yet is not lost: a record and a
        protocol are made for it, and the later COMM_UP completes that same
        record (opened counts it once).
        """
        port = self.makePort()
        self.kernel.peers[7] = [PEER]
        self.sock.feedData(b"early", 7, PEER)
        port.doRead()
        self.assertEqual([m.payload for m in self.protocols[0].messages], [b"early"])
        self.assertEqual(port.registry.opened, 0)
        assoc = self.up(port, 7)
        self.assertIs(assoc, self.protocols[0].messages[0].association)
        self.assertEqual(len(self.protocols), 1)
        self.assertEqual((port.registry.opened, port.stats.established), (1, 1))

    def test_idsUniqueAcrossPorts(self) -> None:
        """
        Association ids are unique in the process: two listeners never hand
        out the same id.
        """
        first = self.makePort()
        a = self.up(first, 7)
        second = self.makePort()
        b = self.up(second, 7)
        self.assertNotEqual(a.id, b.id)

    def test_clockReadOncePerWakeup(self) -> None:
        """
        One doRead reads the clock once, at its first message: the activity
        time of every message received, and of every reply sent, during the
        wake-up is that time.  Outside doRead a send reads the clock.
        """
        port = self.makePort()
        assoc = self.up(port, 7)
        reads: List[float] = []
        seconds = self.reactor.seconds

        def counted() -> float:
            reads.append(seconds())
            return reads[-1]

        self.reactor.seconds = counted  # type: ignore[method-assign]
        replier = self.protocols[0]
        replier.messageReceived = lambda m: (self.reactor.advance(1), assoc.transport.write(b"re"))
        start = self.reactor.seconds()
        reads.clear()
        for payload in (b"a", b"b", b"c"):
            self.sock.feedData(payload, 7, PEER)
        port.doRead()
        self.assertEqual(reads, [start])
        self.assertEqual((assoc.messagesIn, assoc.messagesOut, assoc.lastActivity), (3, 3, start))
        assoc.transport.write(b"later")
        self.assertEqual(assoc.lastActivity, start + 3)
        self.assertEqual(len(reads), 2)
        port.doRead()  # nothing to read: no clock read
        self.assertEqual(len(reads), 2)

    def test_kernelArrivalTimeDatesTheWakeup(self) -> None:
        """
        Where the first message of a wake-up carries the kernel's arrival time
        (C{SCM_TIMESTAMPNS}), the wake-up's activity times are that time and
        the reactor's clock is not read at all.
        """
        port = self.makePort()
        assoc = self.up(port, 7)
        reads: List[float] = []
        seconds = self.reactor.seconds
        self.reactor.seconds = lambda: reads.append(seconds()) or seconds()  # type: ignore[method-assign]
        self.protocols[0].messageReceived = lambda m: assoc.transport.write(b"re")
        self.sock.feedData(b"a", 7, PEER, arrival=(1795305957, 120674244))
        self.sock.feedData(b"b", 7, PEER, arrival=(1795305958, 0))
        port.doRead()
        self.assertEqual(reads, [])
        self.assertEqual((assoc.messagesIn, assoc.messagesOut), (2, 2))
        self.assertAlmostEqual(assoc.lastActivity, 1795305957.120674244, places=6)

    def countClockReads(self) -> List[float]:
        reads: List[float] = []
        seconds = self.reactor.seconds
        self.reactor.seconds = lambda: reads.append(seconds()) or seconds()  # type: ignore[method-assign]
        return reads

    def commUpWithData(self, port: SCTPPort) -> Any:
        """
        Read a COMM_UP with an OPTIONS (stamped 1795305957.5) behind it in
        one wake-up.

        @return: the association's record.
        """
        self.kernel.peers[7] = [PEER]
        self.sock.feedNotification(commUp(7), PEER)
        self.sock.feedData(b"a", 7, PEER, arrival=(1795305957, 500000000))
        port.doRead()
        return port.registry.byKernelID(7)

    def test_commUpDatedByTheClockOnce(self) -> None:
        """
        With C{recvmsg}, a COMM_UP (no arrival time: a notification) read
        first costs one clock read, the record's creation time; the data
        bundled behind it dates the rest of the wake-up.
        """
        port = self.makePort()
        self.reactor.advance(3)
        reads = self.countClockReads()
        assoc = self.commUpWithData(port)
        self.assertEqual(reads, [3.0])
        self.assertEqual(assoc.created, 3.0)
        self.assertEqual(assoc.lastActivity, 1795305957.5)

    def batchReads(self, port: SCTPPort) -> List[int]:
        """
        Make C{port}'s backend read with a C{recvmmsg} that serves the
        scripted socket's queue.

        @return: the batch sizes it returns, as it returns them.
        """
        sizes: List[int] = []

        def recvmmsg(fd: int, data: Any, slot: int, anc: Any, ancSlot: int, count: int) -> List[Any]:
            batch = []
            while len(batch) < count and self.sock.incoming:
                batch.append(self.sock.recvmsg(slot, ancSlot))
            if not batch:
                raise BlockingIOError(errno.EAGAIN, "no scripted input")
            sizes.append(len(batch))
            return batch

        port.backend._recvmmsg = recvmmsg
        return sizes

    def test_batchDatedByItsData(self) -> None:
        """
        With C{recvmmsg}, a batch is dated by its first data message's
        arrival time before any of it is reported: a COMM_UP with the
        OPTIONS behind it reads no clock at all, and the record is created
        at the data's arrival time.
        """
        port = self.makePort()
        sizes = self.batchReads(port)
        reads = self.countClockReads()
        assoc = self.commUpWithData(port)
        self.assertEqual(sizes, [2])
        self.assertEqual(reads, [])
        self.assertEqual((assoc.created, assoc.lastActivity), (1795305957.5, 1795305957.5))
        self.assertEqual([m.payload for m in self.protocols[0].messages], [b"a"])

    def test_batchOfNotificationsReadsNoClock(self) -> None:
        """
        With C{recvmmsg}, a batch of notifications only (a SHUTDOWN_COMP)
        reads no clock; a COMM_UP alone reads it once, for the record's
        creation time; data without an arrival time reads it once a batch.
        """
        port = self.makePort()
        self.batchReads(port)
        reads = self.countClockReads()
        self.kernel.peers[7] = [PEER]
        self.sock.feedNotification(commUp(7), PEER)
        port.doRead()
        self.assertEqual(len(reads), 1)
        self.sock.feedData(b"a", 7, PEER)
        self.sock.feedData(b"b", 7, PEER)
        port.doRead()
        self.assertEqual(len(reads), 2)
        self.sock.feedNotification(AssocChange(state=AssocChangeState.SHUTDOWN_COMP, assocID=7), PEER)
        port.doRead()
        self.assertEqual(len(reads), 2)
        self.assertIsNone(port.registry.byKernelID(7))

    def test_oneRecvmsgPerMessageAtLowLoad(self) -> None:
        """
        When wake-ups keep finding one message each, the port stops making
        the second, empty C{recvmsg}: after two such wake-ups it makes one
        call per message, with an extra read 8, 16, 32, 64 and from then on
        128 wake-ups apart.
        """
        port = self.makePort()
        self.up(port, 7)
        self.sock.recvCalls = 0
        for n in range(300):
            self.sock.feedData(b"%d" % n, 7, PEER)
            port.doRead()
        self.assertEqual([m.payload for m in self.protocols[0].messages], [b"%d" % n for n in range(300)])
        # The first two messages' wake-ups each ended with EAGAIN (the policy
        # starts with a credit of two); then probes at wake-ups 9, 25, 57,
        # 121 and 249.
        self.assertEqual(self.sock.recvCalls, 300 + 2 + 5)

    def test_notificationAndPieceReadOn(self) -> None:
        """
        Even when wake-ups stop at one message, a notification or a piece of
        a message is followed by another read in the same wake-up: COMM_UP
        with the data bundled behind it, and the rest of a big message, are
        read in one wake-up.
        """
        port = self.makePort()
        self.up(port, 7)
        for n in range(3):
            self.sock.feedData(b"warm%d" % n, 7, PEER)
            port.doRead()
        self.kernel.peers[8] = [PEER2]
        self.sock.feedNotification(commUp(8), PEER2)
        self.sock.feedData(b"first", 8, PEER2)
        self.sock.feedData(b"b" * (port.readBufferSize + 10), 7, PEER)
        port.doRead()
        self.assertEqual([m.payload for m in self.protocols[1].messages], [b"first"])
        self.assertEqual(len(self.protocols[0].messages), 3)
        port.doRead()
        self.assertEqual(self.protocols[0].messages[-1].payload, b"b" * (port.readBufferSize + 10))
        self.assertEqual(self.sock.incoming, collections.deque())

    def test_backlogReadInFewWakeups(self) -> None:
        """
        Once stopping at one message per wake-up, a backlog is noticed at the
        next probe and then read in one wake-up; nothing is lost or reordered.
        """
        port = self.makePort()
        self.up(port, 7)
        for n in range(3):
            self.sock.feedData(b"warm%d" % n, 7, PEER)
            port.doRead()
        for n in range(100):
            self.sock.feedData(b"%d" % n, 7, PEER)
        wakeups = 0
        while self.sock.incoming:
            port.doRead()
            wakeups += 1
        self.assertLessEqual(wakeups, 8)
        payloads = [m.payload for m in self.protocols[0].messages][3:]
        self.assertEqual(payloads, [b"%d" % n for n in range(100)])

    def test_sendInfosAndControlMessagesKept(self) -> None:
        """
        Sends with the same parameters share one send info and one packed
        control message; other parameters, associations or option values
        get their own.
        """
        port = self.makePort(send_ttl=100)
        a = self.up(port, 7)
        b = self.up(port, 8, PEER2)
        a.transport.writeMessage(b"1", ppid=46)
        a.transport.writeMessage(b"2", ppid=46)
        b.transport.writeMessage(b"3", ppid=46)
        a.transport.writeMessage(b"4", ppid=47)
        port.setOption("send_ttl", 200)
        a.transport.writeMessage(b"5", ppid=46)
        infos = [(info.assocID, socket.ntohl(info.ppid), info.timetolive) for _, info, _ in self.sock.sent]
        self.assertEqual(infos, [(7, 46, 100), (7, 46, 100), (8, 46, 100), (7, 47, 100), (7, 46, 200)])
        self.assertIs(port.sendParameters(0, 46, True, None, 0), port.sendParameters(0, 46, True, None, 0))
        # One per association and parameters (each made from its
        # parameters' assoc_id 0 form, kept beside them).
        self.assertEqual(sorted(k[1] for k in port.backend._ancillaries), [0, 0, 0, 7, 7, 7, 8])

    def test_logPrefixNamesTheListener(self) -> None:
        """
        Two listeners on the same port are told apart in log lines and
        reprs: the prefix names the host(s) and the port, IPv6 in brackets,
        a multihomed listener's hosts in parentheses.
        """
        prefixes = []
        for hosts in (["127.0.0.1"], ["127.0.0.2"], ["::1"], ["127.0.0.1", "127.0.0.2"]):
            port = SCTPPort(15060, Factory.forProtocol(Recorder), hosts, reactor=MemoryReactorClock(), kernel=FakeKernel())
            port.startListening()
            prefixes.append(port.logPrefix())
            self.assertEqual(port.backend.logPrefix(), port.logPrefix())  # type: ignore[attr-defined]
        self.assertEqual(prefixes, [
            "SCTPPort(127.0.0.1:15060)",
            "SCTPPort(127.0.0.2:15060)",
            "SCTPPort([::1]:15060)",
            "SCTPPort((127.0.0.1,127.0.0.2):15060)",
        ])
