# -*- test-case-name: tests.integration.test_transport -*-
"""
The transport on a real kernel SCTP stack: SCTPPort, the registry and the
counters, end to end over loopback (run under scripts/with-sctp-kernel).
"""

from __future__ import annotations

import io
import os
import socket
import time
from typing import Any, List

from twisted.internet import defer, task
from twisted.protocols.basic import FileSender
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Echo, Recorder, RecordingFactory, listen, sleep, waitFor
from tests.integration.support import requireSCTP
from twisted_sctp.kernel import sctpsocket
from twisted_sctp.kernel.constants import SO_TIMESTAMPNS, AssocChangeState
from twisted_sctp.error import AssociationLimitError
from twisted_sctp.kernel.notifications import AssocChange
from twisted_sctp.transport.port import MAX_ASSOCS_REASON, SCTPEvent
from twisted_sctp.testing import RecordingProducer as Producer


def assocsInKernel() -> int:
    """
    @return: how many associations /proc/net/sctp/assocs lists.
    """
    with open("/proc/net/sctp/assocs") as f:
        return max(0, len(f.read().splitlines()) - 1)


class TransportTests(TestCase):
    """
    SCTPPort against itself on the guest's loopback.
    """

    timeout = 120

    def setUp(self) -> None:
        requireSCTP()

    @defer.inlineCallbacks
    def test_multihomedListenerReachableOnBothAddresses(self) -> Any:
        """
        A listener bound to 127.0.0.1 and 127.0.0.2 accepts associations on
        each address and answers on each.
        """
        server = listen(self, RecordingFactory(Echo), ["127.0.0.1", "127.0.0.2"])
        port = server.getHost().port
        self.assertEqual(server.getHost().hosts, ("127.0.0.1", "127.0.0.2"))
        local = sorted(h for h, _ in sctpsocket.localAddresses(server.socket))
        self.assertEqual(local, ["127.0.0.1", "127.0.0.2"])
        for host in ("127.0.0.1", "127.0.0.2"):
            client = listen(self, RecordingFactory(Recorder), ["127.0.0.3"])
            proto = yield client.connect((host, port))
            proto.transport.write(b"via " + host.encode())
            yield waitFor(lambda: proto.messages, what="echo via " + host)
            self.assertEqual(proto.messages[0].payload, b"via " + host.encode())
            self.assertIn(host, proto.transport.getPeer().hosts)
        self.assertEqual(server.stats.established, 2)

    @defer.inlineCallbacks
    def test_multihomedPeerFoundBySecondaryAddress(self) -> Any:
        """
        A peer bound to 127.0.0.3 and 127.0.0.4 connects: the server's
        COMM_UP asks the kernel nothing more than its primary address, yet
        the association is found by the other address (the lookup miss
        asks the kernel), and a message sent to that address goes on it:
        no second association on either side, and the peer gets it.
        """
        server = listen(self, RecordingFactory(Echo))
        client = listen(self, RecordingFactory(Recorder), ["127.0.0.3", "127.0.0.4"])
        proto = yield client.connect(("127.0.0.1", server.getHost().port))
        proto.transport.write(b"hello")
        yield waitFor(lambda: proto.messages, what="echo")
        [assoc] = list(server.registry)
        primary = assoc.peer.host
        self.assertIn(primary, ("127.0.0.3", "127.0.0.4"))
        other = ("127.0.0.4" if primary == "127.0.0.3" else "127.0.0.3", client.getHost().port)
        # Only the primary so far (the kernel's ADDR_CONFIRMED for the other
        # path comes after its first heartbeat, an RTO, 3 s, later).
        self.assertEqual((server.registry.unresolved, list(assoc.paths)), (1, [(primary, other[1])]))
        found = server.registry.byPeer(other)
        self.assertIs(found, assoc)
        self.assertEqual(server.registry.unresolved, 0)
        self.assertEqual(sorted(assoc.peer.hosts), ["127.0.0.3", "127.0.0.4"])
        self.assertIs(server.sendMessage(b"to the other address", other), assoc)
        yield waitFor(lambda: len(proto.messages) >= 2, what="the message sent to the other address")
        self.assertEqual(proto.messages[1].payload, b"to the other address")
        self.assertEqual((len(server.registry), len(client.registry)), (1, 1))
        self.assertEqual((server.stats.established, client.stats.established), (1, 1))
        self.assertEqual(len(client.factory.built), 1)

    @defer.inlineCallbacks
    def test_ipv6(self) -> Any:
        """
        A listener on [::1] exchanges messages with a client on [::1].
        """
        requireSCTP(socket.AF_INET6)
        server = listen(self, RecordingFactory(Echo), ["::1"])
        client = listen(self, RecordingFactory(Recorder), ["::1"])
        self.assertEqual(server.family, socket.AF_INET6)
        proto = yield client.connect(("::1", server.getHost().port))
        proto.transport.write(b"over IPv6")
        yield waitFor(lambda: proto.messages, what="IPv6 echo")
        self.assertEqual(proto.messages[0].payload, b"over IPv6")
        self.assertEqual(proto.messages[0].source, ("::1", server.getHost().port))
        serverAssoc = server.factory.built[0].transport.association
        self.assertEqual(serverAssoc.peer.host, "::1")

    @defer.inlineCallbacks
    def test_hundredAssociationsHundredMessages(self) -> Any:
        """
        100 client associations each send 100 ordered messages and get each
        echoed back: none lost, none out of order, on either side.
        """
        clients, count = 100, 100
        server = listen(self, RecordingFactory(Echo), socket_rcvbuf=1 << 20, socket_sndbuf=1 << 20)
        port = server.getHost().port
        ports = [listen(self, RecordingFactory(Recorder)) for _ in range(clients)]
        protos = yield defer.gatherResults([p.connect(("127.0.0.1", port)) for p in ports])
        for i, proto in enumerate(protos):
            for n in range(count):
                proto.transport.writeMessage(b"%d:%d" % (i, n), unordered=False)
        yield waitFor(lambda: all(len(p.messages) >= count for p in protos), timeout=90, what="all echoes")
        for i, proto in enumerate(protos):
            self.assertEqual([m.payload for m in proto.messages], [b"%d:%d" % (i, n) for n in range(count)])
        byPeer = {}
        for sp in server.factory.built:
            byPeer[sp.transport.association.id] = [m.payload for m in sp.messages]
        self.assertEqual(len(byPeer), clients)
        for payloads in byPeer.values():
            i = payloads[0].split(b":")[0]
            self.assertEqual(payloads, [i + b":%d" % n for n in range(count)])
        self.assertEqual(server.stats.messages_in, clients * count)
        self.assertEqual(server.stats.messages_out, clients * count)
        self.assertEqual(server.registry.opened, clients)

    @defer.inlineCallbacks
    def test_bigMessageWhole(self) -> Any:
        """
        A 200 KB message, delivered by the kernel in pieces, reaches the
        protocol whole, and its echo comes back whole.
        """
        big = os.urandom(200 * 1024)
        server = listen(self, RecordingFactory(Echo), socket_rcvbuf=1 << 20, socket_sndbuf=1 << 20)
        client = listen(self, RecordingFactory(Recorder), socket_rcvbuf=1 << 20, socket_sndbuf=1 << 20)
        proto = yield client.connect(("127.0.0.1", server.getHost().port))
        proto.transport.write(big)
        yield waitFor(lambda: proto.messages, timeout=30, what="200 KB echo")
        self.assertEqual(len(server.factory.built[0].messages), 1)
        self.assertEqual(server.factory.built[0].messages[0].payload, big)
        self.assertEqual(proto.messages[0].payload, big)
        self.assertGreaterEqual(server.stats.partial_reassembled, 1)

    @defer.inlineCallbacks
    def test_maxAssocsAbortsThird(self) -> Any:
        """
        With max_assocs=2 a third incoming association is ABORTed with the
        reason text; established 3, local_reject 1, comm_lost 1, opened 2.
        """
        server = listen(self, RecordingFactory(Echo), max_assocs=2)
        port = server.getHost().port
        first = listen(self)
        second = listen(self)
        third = listen(self)
        events: List[SCTPEvent] = []
        third.observers.append(events.append)
        yield first.connect(("127.0.0.1", port))
        yield second.connect(("127.0.0.1", port))
        d = third.connect(("127.0.0.1", port))
        d.addErrback(lambda f: f)
        yield waitFor(lambda: server.stats.comm_lost == 1, what="the third association's abort")
        snap = server.snapshot()
        self.assertEqual(
            (snap["established"], snap["local_reject"], snap["comm_lost"], snap["current_opened_connections"]),
            (3, 1, 1, 2),
        )
        self.assertEqual(len(server.factory.built), 2)
        yield waitFor(
            lambda: any(isinstance(e.notification, AssocChange) and e.notification.state == AssocChangeState.COMM_LOST for e in events),
            what="COMM_LOST at the rejected client",
        )
        lost = [e.notification for e in events if isinstance(e.notification, AssocChange) and e.notification.state == AssocChangeState.COMM_LOST]
        self.assertIn(MAX_ASSOCS_REASON, lost[0].info)

    @defer.inlineCallbacks
    def test_outgoingOverCapRefusedBeforeInit(self) -> Any:
        """
        With max_assocs=1 reached and tracking on, a send to a new peer
        raises before any INIT leaves: the other listener never sees an
        association and the kernel's association count does not grow.
        """
        server = listen(self, max_assocs=1)
        other = listen(self)
        client = listen(self)
        yield client.connect(("127.0.0.1", server.getHost().port))
        yield waitFor(lambda: server.registry.opened == 1, what="the first association")
        before = assocsInKernel()
        snmp = sctpsocket.readSNMP()
        self.assertRaises(AssociationLimitError, server.sendMessage, b"x", ("127.0.0.1", other.getHost().port))
        yield sleep(0.5)
        self.assertEqual(assocsInKernel(), before)
        self.assertEqual(sctpsocket.readSNMP()["SctpActiveEstabs"], snmp["SctpActiveEstabs"])
        self.assertEqual(other.stats.established, 0)
        self.assertEqual(server.stats.outgoing_refused, 1)

    @defer.inlineCallbacks
    def test_autoclose(self) -> Any:
        """
        autoclose=2 closes an idle association after about 2 s: counted as
        assoc_shutdown (not remote_shutdown), the protocol told "autoclose".
        """
        server = listen(self, RecordingFactory(Echo), autoclose=2)
        client = listen(self)
        proto = yield client.connect(("127.0.0.1", server.getHost().port))
        proto.transport.write(b"one")
        yield waitFor(lambda: server.stats.autoclosed == 1, timeout=15, what="autoclose")
        self.assertEqual((server.stats.assoc_shutdown, server.stats.remote_shutdown), (1, 0))
        self.assertEqual(server.factory.built[0].lost[0].value.how, "autoclose")
        yield waitFor(lambda: proto.lost, what="the client seeing the shutdown")
        self.assertEqual(proto.lost[0].value.how, "shutdown")
        self.assertEqual(client.stats.remote_shutdown, 1)

    @defer.inlineCallbacks
    def test_reusedPeerNotConfused(self) -> Any:
        """
        A peer that ends its association and comes back from the same
        address and port gets a new association: new unique id, new kernel
        assoc_id, a new protocol; the old protocol saw the end and gets none
        of the new messages.
        """
        server = listen(self, RecordingFactory(Echo))
        port = server.getHost().port
        first = listen(self, port=0)
        clientPort = first.getHost().port
        proto1 = yield first.connect(("127.0.0.1", port))
        proto1.transport.write(b"old")
        yield waitFor(lambda: proto1.messages, what="first echo")
        yield first.stopListening()
        yield waitFor(lambda: server.factory.built[0].lost, what="the old association's end")
        second = listen(self, port=clientPort)
        proto2 = yield second.connect(("127.0.0.1", port))
        proto2.transport.write(b"new")
        yield waitFor(lambda: proto2.messages, what="second echo")
        old, new = server.factory.built
        self.assertEqual([m.payload for m in old.messages], [b"old"])
        self.assertEqual([m.payload for m in new.messages], [b"new"])
        self.assertNotEqual(old.transport.association.id, new.transport.association.id)
        self.assertNotEqual(old.transport.association.assocID, new.transport.association.assocID)
        self.assertEqual(old.transport.association.peer, new.transport.association.peer)
        self.assertIs(server.registry.byPeer(("127.0.0.1", clientPort)), new.transport.association)

    @defer.inlineCallbacks
    def test_fileSenderOverAnAssociation(self) -> Any:
        """
        C{FileSender} (a pull producer) sends a 300 KB file over an
        association: every chunk arrives, in order, one message each, and a
        C{loseConnection} after it shuts the association down gracefully;
        two listeners' log prefixes name their addresses.
        """
        data = os.urandom(300 * 1024)
        server = listen(self, RecordingFactory(Recorder), socket_rcvbuf=1 << 20)
        client = listen(self, RecordingFactory(Recorder), ["127.0.0.2"])
        proto = yield client.connect(("127.0.0.1", server.getHost().port))
        yield FileSender().beginFileTransfer(io.BytesIO(data), proto.transport)
        proto.transport.loseConnection()
        receiver = server.factory.built[0]
        yield waitFor(lambda: receiver.lost, timeout=60, what="the file and the shutdown")
        self.assertEqual(b"".join(m.payload for m in receiver.messages), data)
        self.assertEqual(len(receiver.messages), -(-len(data) // FileSender.CHUNK_SIZE))
        self.assertEqual(receiver.lost[0].value.how, "shutdown")
        self.assertEqual(server.logPrefix(), "SCTPPort(127.0.0.1:{})".format(server.getHost().port))
        self.assertEqual(client.logPrefix(), "SCTPPort(127.0.0.2:{})".format(client.getHost().port))


def rawClient(family: int = socket.AF_INET, rcvbuf: int = 0) -> socket.socket:
    """
    A plain non-blocking one-to-many SCTP socket that we read by hand
    (or not at all).
    """
    s = socket.socket(family, socket.SOCK_SEQPACKET, 132)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def drain(sock: socket.socket, into: List[bytes]) -> None:
    """
    Read every data message waiting on C{sock} (notifications skipped).
    """
    while True:
        try:
            data, _, flags, _ = sock.recvmsg(1 << 16, 1024)
        except BlockingIOError:
            return
        if not flags & 0x8000:
            into.append(data)


class SlowPeerTests(TestCase):
    """
    A peer that stops reading: EAGAIN, the queue, backpressure, TTL and
    send_retries, on the real kernel.
    """

    timeout = 120

    def setUp(self) -> None:
        requireSCTP()

    @defer.inlineCallbacks
    def test_slowReaderQueueAndBackpressure(self) -> Any:
        """
        Sending to a peer that does not read fills the socket buffers: the
        kernel answers EAGAIN (sendq_full), messages wait in the association's
        queue, the protocol's producer is paused; once the peer reads, all
        messages arrive in order and the producer is resumed.
        """
        server = listen(self, socket_sndbuf=32768)
        server.highWaterBytes = 64 * 1024
        peer = rawClient(rcvbuf=8192)
        self.addCleanup(peer.close)
        peer.sendto(b"hello", ("127.0.0.1", server.getHost().port))
        yield waitFor(lambda: server.factory.built and server.factory.built[0].messages, what="the peer's first message")
        proto = server.factory.built[0]
        producer = Producer()
        proto.transport.registerProducer(producer, True)
        payload = b"m" * 1000
        sent = 0
        while not producer.calls and sent < 5000:
            proto.transport.writeMessage(b"%05d" % sent + payload, unordered=False)
            sent += 1
        self.assertEqual(producer.calls, ["pause"])
        self.assertGreater(server.stats.sendq_full, 0)
        queued = server.queuedMessages(proto.transport.association)
        self.assertGreater(queued, 0)
        yield sleep(0.5)
        got: List[bytes] = []
        reader = task.LoopingCall(drain, peer, got)
        reader.start(0.005)
        self.addCleanup(lambda: reader.running and reader.stop())
        yield waitFor(lambda: len(got) >= sent, timeout=60, what="all {} messages at the peer".format(sent))
        self.assertEqual([g[:5] for g in got], [b"%05d" % i for i in range(sent)])
        self.assertEqual(producer.calls, ["pause", "resume"])
        self.assertEqual(server.queuedMessages(proto.transport.association), 0)
        self.assertEqual(server.stats.drops.get("queue_full", 0), 0)
        self.assertEqual(server.stats.messages_out, sent)

    @defer.inlineCallbacks
    def test_sendFailedResentPerSendRetries(self) -> Any:
        """
        A message whose PR-SCTP TTL runs out while it waits in the kernel
        behind a peer that is not reading is abandoned: SEND_FAILED (error 0)
        brings it back with its send_retries in the context, it is re-sent
        by address (send_failed, send_force_retry), and the peer gets it
        exactly once, after the messages sent before it.
        """
        server = listen(self, socket_sndbuf=1 << 20, send_retries=1, send_ttl=0)
        peer = rawClient(rcvbuf=4096)
        self.addCleanup(peer.close)
        peer.sendto(b"hello", ("127.0.0.1", server.getHost().port))
        yield waitFor(lambda: server.factory.built and server.factory.built[0].messages, what="the peer's first message")
        transport = server.factory.built[0].transport
        fillers = 100
        for n in range(fillers):
            transport.writeMessage(b"F%04d" % n + b"." * 500, ttl=0)
        self.assertEqual(server.stats.sendq_full, 0)
        server.sendMessage(b"EXPIRING", transport.association, ttl=50)
        yield sleep(0.5)
        self.assertEqual(server.stats.send_failed, 0)
        got: List[bytes] = []
        reader = task.LoopingCall(drain, peer, got)
        reader.start(0.005)
        self.addCleanup(lambda: reader.running and reader.stop())
        yield waitFor(lambda: b"EXPIRING" in got, timeout=30, what="the re-sent message")
        self.assertEqual((server.stats.send_failed, server.stats.send_force_retry), (1, 1))
        self.assertEqual(got.count(b"EXPIRING"), 1)
        self.assertEqual([g[:5] for g in got if g.startswith(b"F")], [b"F%04d" % n for n in range(fillers)])


class CountingSocket:
    """
    A real socket that counts the port's C{recvmsg} calls (each one a
    system call, C{EAGAIN} ones included).
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.recvCalls = 0

    @classmethod
    def onPort(cls, port: Any) -> "CountingSocket":
        """
        Count C{port}'s reads, on the C{recvmsg} path: the one taken where
        the C{recvmmsg} extension is not built (that one's reads:
        L{tests.integration.test_kernelread}).
        """
        counting = cls(port.socket)
        port.socket = counting
        port.backend._recvmmsg = None
        return counting

    def recvmsg(self, *args: Any) -> Any:
        self.recvCalls += 1
        return self._sock.recvmsg(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class ReadPathTests(TestCase):
    """
    How the port reads on the real kernel: the arrival time from the kernel,
    and how many C{recvmsg} calls a message costs.
    """

    timeout = 120

    def setUp(self) -> None:
        requireSCTP()

    @defer.inlineCallbacks
    def test_activityDatedByKernelArrival(self) -> Any:
        """
        The port's socket has C{SO_TIMESTAMPNS} on, and an association's
        activity time is when the kernel received the message, not when the
        port got round to reading it.
        """
        server = listen(self)
        self.assertEqual(server.socket.getsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS), 1)
        peer = rawClient()
        self.addCleanup(peer.close)
        address = ("127.0.0.1", server.getHost().port)
        peer.sendto(b"first", address)
        yield waitFor(lambda: server.factory.built and server.factory.built[0].messages, what="the first message")
        assoc = server.factory.built[0].transport.association
        server.stopReading()
        sentAt = time.time()
        peer.sendto(b"second", address)
        yield sleep(0.5)
        server.startReading()
        yield waitFor(lambda: len(server.factory.built[0].messages) == 2, what="the second message")
        self.assertGreaterEqual(assoc.lastActivity, sentAt)
        self.assertLess(assoc.lastActivity, sentAt + 0.3)

    @defer.inlineCallbacks
    def test_oneRecvmsgPerMessageInPingPong(self) -> Any:
        """
        Messages that come one at a time (each sent after the previous echo
        came back) cost the server about one C{recvmsg} each, not two (the
        data and an C{EAGAIN}): the extra reads (probes) back off from one
        in 8 wake-ups to one in 128.
        """
        count = 300
        server = listen(self, RecordingFactory(Echo))
        counting = CountingSocket.onPort(server)
        client = listen(self, RecordingFactory(Recorder))
        proto = yield client.connect(("127.0.0.1", server.getHost().port))
        proto.onMessage = lambda m: len(proto.messages) < count and proto.transport.write(b"%d" % len(proto.messages))
        proto.transport.write(b"0")
        yield waitFor(lambda: len(proto.messages) >= count, timeout=60, what="{} echoes".format(count))
        self.assertEqual([m.payload for m in proto.messages], [b"%d" % n for n in range(count)])
        # 300 data messages and COMM_UP; the first wake-ups read on (2), then
        # probes 8, 16, 32, 64 and 128 wake-ups apart (5): 310 at most (2 to
        # spare), against 342 at one probe in 8 and 602 when every wake-up
        # reads until EAGAIN.
        self.assertLessEqual(counting.recvCalls, count + 1 + 2 + 5 + 2)

    @defer.inlineCallbacks
    def test_backlogReadInBatches(self) -> Any:
        """
        A backlog that builds up while the port is not reading (here: 300
        messages) is read in a few wake-ups of up to maxReadsPerWakeup
        messages each, in order, and with a few EAGAIN reads at most.
        """
        count = 300
        server = listen(self, socket_rcvbuf=1 << 20)
        counting = CountingSocket.onPort(server)
        peer = rawClient()
        self.addCleanup(peer.close)
        address = ("127.0.0.1", server.getHost().port)
        peer.sendto(b"first", address)
        yield waitFor(lambda: server.factory.built and server.factory.built[0].messages, what="the first message")
        for n in range(3):
            peer.sendto(b"warm%d" % n, address)
            yield waitFor(lambda: len(server.factory.built[0].messages) == n + 2, what="warm-up message")
        server.stopReading()
        peer.settimeout(10)  # blocking: wait for the peer's own send buffer
        for n in range(count):
            peer.sendto(b"%d" % n, address)
        yield sleep(0.3)
        wakeups = []
        doRead = server.doRead
        server.doRead = lambda: wakeups.append(1) or doRead()  # type: ignore[method-assign]
        counting.recvCalls = 0
        server.startReading()
        yield waitFor(lambda: len(server.factory.built[0].messages) == count + 4, timeout=30, what="the backlog")
        payloads = [m.payload for m in server.factory.built[0].messages][4:]
        self.assertEqual(payloads, [b"%d" % n for n in range(count)])
        self.assertLessEqual(len(wakeups), 8 + count // server.maxReadsPerWakeup + 3)
        self.assertLessEqual(counting.recvCalls, count + 3)
