"""
L{twisted_sctp.kernel.onetoone} over L{FakeKernel}: accepting, the
socket's id as the association's, message boundaries, the ends of an
association, backpressure per socket, connecting and the C{kernel} route
to a one-to-one port.
"""

from __future__ import annotations

import errno
import socket
from typing import Any, Tuple

from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from tests.integration.helpers import Recorder, RecordingFactory
from twisted_sctp.kernel.constants import AssocChangeState
from twisted_sctp.kernel.notifications import AssocChange
from twisted_sctp.kernel.onetoone import OneToOneBackend, OneToOneKernel
from twisted_sctp.testing import FakeKernel, FakeSCTPSocket, commUp
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPPort

PEER = ("127.0.0.9", 5061)


class OneToOneBackendTests(SynchronousTestCase):
    """
    A one-to-one port on scripted sockets.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.kernel = FakeKernel(5060)
        self.factory = RecordingFactory(Recorder)
        self.port = SCTPPort(5060, self.factory, ["127.0.0.1"], SCTPOptions(), self.reactor, kernel=self.kernel, style="one-to-one")
        self.port.startListening()
        self.backend: Any = self.port.backend

    def accept(self, kernelID: int = 7) -> Tuple[FakeSCTPSocket, Any]:
        """
        Script an association's socket with its COMM_UP, accept and read it.

        @return: the socket and the backend's reader of it.
        """
        sock = FakeSCTPSocket()
        sock.feedNotification(commUp(kernelID))
        self.kernel.peers[kernelID] = [PEER]
        self.kernel.socket.pending.append((sock, PEER))
        self.backend.doRead()
        (connection,) = [c for c in self.backend.connections.values() if c.socket is sock]
        connection.doRead()
        return sock, connection

    def test_listens(self) -> None:
        """
        The port opens one C{SOCK_STREAM} socket, binds, listens and reads
        it for associations.
        """
        self.assertIsInstance(self.backend, OneToOneBackend)
        self.assertEqual(self.kernel.kinds, [socket.SOCK_STREAM])
        self.assertEqual(self.kernel.bound, ["127.0.0.1"])
        self.assertEqual(self.kernel.socket.listening, OneToOneBackend.backlog)
        self.assertIn(self.backend, self.reactor.getReaders())

    def test_acceptedSocketIsAnAssociation(self) -> None:
        """
        An accepted socket is read on its own and its association gets a
        protocol; the association's id is the backend's, not the kernel's.
        """
        sock, connection = self.accept(kernelID=7)
        self.assertIn(connection, self.reactor.getReaders())
        (assoc,) = list(self.port.registry)
        self.assertEqual(assoc.assocID, connection.id)
        self.assertNotEqual(assoc.assocID, 7)
        self.assertEqual(assoc.peer.port, PEER[1])
        self.assertEqual(len(self.factory.built), 1)

    def test_messagesKeepTheirBoundaries(self) -> None:
        """
        Messages read back to back are separate C{messageReceived} calls,
        with their stream and PPID; one in pieces is reassembled.
        """
        sock, connection = self.accept()
        sock.feedData(b"one", 7, PEER, stream=1, ppid=5)
        sock.feedData(b"two", 7, PEER, stream=2, ppid=5)
        sock.feedData(b"x" * 70000, 7, PEER)
        connection.doRead()
        messages = self.factory.built[0].messages
        self.assertEqual([(m.payload[:3], len(m.payload), m.stream) for m in messages], [(b"one", 3, 1), (b"two", 3, 2), (b"xxx", 70000, 0)])
        self.assertEqual(self.port.stats.partial_reassembled, 1)

    def test_sourceFromThePeer(self) -> None:
        """
        A message read without a source address (a connected socket need
        not give one) is from the socket's peer.
        """
        sock, connection = self.accept()
        sock.feedData(b"one", 7, None)  # type: ignore[arg-type]
        connection.doRead()
        self.assertEqual(self.factory.built[0].messages[0].source, PEER)

    def test_endOfSocketEndsAssociation(self) -> None:
        """
        0 bytes read (the socket's end) without a notification ends the
        association (C{comm_lost}) and closes the socket.
        """
        sock, connection = self.accept()
        sock.incoming.append((b"", [], 0, None))
        connection.doRead()
        self.reactor.advance(0)
        (lost,) = self.factory.built[0].lost
        self.assertEqual(lost.value.how, "comm_lost")
        self.assertTrue(sock.closed)
        self.assertEqual(self.backend.connections, {})

    def test_shutdown(self) -> None:
        """
        C{loseConnection} is C{shutdown(SHUT_WR)}; the SHUTDOWN_COMP that
        follows ends the protocol with C{"shutdown"}, reported once.
        """
        sock, connection = self.accept()
        self.factory.built[0].transport.loseConnection()
        self.assertEqual(sock.shutdowns, [socket.SHUT_WR])
        sock.feedNotification(AssocChange(state=AssocChangeState.SHUTDOWN_COMP, error=0, outboundStreams=0, inboundStreams=0, assocID=7))
        sock.incoming.append((b"", [], 0, None))
        connection.doRead()
        self.reactor.advance(0)
        self.assertEqual([f.value.how for f in self.factory.built[0].lost], ["shutdown"])
        self.assertTrue(sock.closed)

    def test_abort(self) -> None:
        """
        C{abortConnection} closes the socket with C{SO_LINGER} 0 (an ABORT)
        and then ends the protocol with C{"aborted"}.
        """
        sock, connection = self.accept()
        self.factory.built[0].transport.abortConnection(b"bye")
        self.assertTrue(sock.closed)
        self.assertEqual(sock.options[(socket.SOL_SOCKET, socket.SO_LINGER)], b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.assertEqual(self.factory.built[0].lost, [])
        self.reactor.advance(0)
        self.assertEqual([f.value.how for f in self.factory.built[0].lost], ["aborted"])

    def test_abortWithoutLinger(self) -> None:
        """
        A socket that refuses C{SO_LINGER} is closed all the same, and the
        association still ends.
        """
        sock, connection = self.accept()

        def refuse(level: int, name: int, value: Any) -> None:
            raise OSError(errno.EBADF, "scripted")

        sock.setsockopt = refuse  # type: ignore[method-assign]
        self.factory.built[0].transport.abortConnection()
        self.reactor.advance(0)
        self.assertTrue(sock.closed)
        self.assertEqual([f.value.how for f in self.factory.built[0].lost], ["aborted"])

    def test_readFailureEndsAssociation(self) -> None:
        """
        A read that stops the socket (the reactor calls its
        C{connectionLost}) ends the association that was up (C{comm_lost}).
        """
        sock, connection = self.accept()
        sock.feedError(errno.ENOTCONN)
        failure = connection.doRead()
        self.assertIsInstance(failure, Failure)
        connection.connectionLost(failure)
        self.assertEqual([f.value.how for f in self.factory.built[0].lost], ["comm_lost"])

    def test_maxAssocs(self) -> None:
        """
        Over C{max_assocs} the new association's socket is aborted; the
        first one stays.
        """
        self.port.setOption("max_assocs", 1)
        first, _ = self.accept(7)
        second, _ = self.accept(8)
        self.reactor.advance(0)
        self.assertTrue(second.closed)
        self.assertFalse(first.closed)
        self.assertEqual(self.port.stats.local_reject, 1)
        self.assertEqual(len(self.backend.connections), 1)

    def test_sendOnTheAssociationsSocket(self) -> None:
        """
        Writes go to that association's socket; a full socket queues them
        and is watched for room alone, and the queue drains when it has
        room.
        """
        sock, connection = self.accept(7)
        other, _ = self.accept(8)
        transport = self.factory.built[0].transport
        transport.writeMessage(b"a", stream=3, ppid=9)
        self.assertEqual([(d, i.stream, socket.ntohl(i.ppid)) for d, i, _ in sock.sent], [(b"a", 3, 9)])
        self.assertEqual(other.sent, [])
        sock.blocked = True
        transport.write(b"b")
        self.assertEqual(self.port.queuedMessages(transport.association), 1)
        self.assertEqual(self.reactor.getWriters(), [connection])
        sock.blocked = False
        connection.doWrite()
        self.assertEqual([d for d, _, _ in sock.sent], [b"a", b"b"])
        self.assertEqual(self.reactor.getWriters(), [])

    def test_fullSocketHoldsUpNoOther(self) -> None:
        """
        With two sockets full, the one that gets room drains its queue
        though the other, first in the queues, is still full.
        """
        first, firstReader = self.accept(7)
        second, secondReader = self.accept(8)
        a, b = (p.transport for p in self.factory.built)
        first.blocked = second.blocked = True
        a.write(b"to first")
        b.write(b"to second")
        self.assertEqual(sorted(map(id, self.reactor.getWriters())), sorted(map(id, [firstReader, secondReader])))
        second.blocked = False
        secondReader.doWrite()
        self.assertEqual([d for d, _, _ in second.sent], [b"to second"])
        self.assertEqual((first.sent, self.port.queuedMessages(a.association)), ([], 1))
        self.assertEqual(self.reactor.getWriters(), [firstReader])
        # Woken while still full: it stays watched, and drains once it has room.
        firstReader.doWrite()
        self.assertEqual(self.reactor.getWriters(), [firstReader])
        first.blocked = False
        firstReader.doWrite()
        self.assertEqual([d for d, _, _ in first.sent], [b"to first"])
        self.assertEqual(self.reactor.getWriters(), [])

    def test_connect(self) -> None:
        """
        C{connect} opens a socket of its own with the options, bound to the
        port's addresses (any port), and connects it; its COMM_UP fires the
        Deferred with the protocol.
        """
        d = self.port.connect(PEER)
        (sock,) = self.kernel.opened
        self.assertEqual(self.kernel.kinds, [socket.SOCK_STREAM, socket.SOCK_STREAM])
        self.assertEqual(self.kernel.connects, [[PEER]])
        self.assertIs(self.kernel.applied, self.port.options)
        self.assertNoResult(d)
        self.kernel.peers[3] = [PEER]
        sock.feedNotification(commUp(3))
        (connection,) = self.backend.connections.values()
        connection.doRead()
        self.assertIs(self.successResultOf(d), self.factory.built[0])

    def test_connectFails(self) -> None:
        """
        A socket that ends before its association came up fails the
        connect.
        """
        from twisted_sctp.error import ConnectError

        d = self.port.connect(PEER)
        (sock,) = self.kernel.opened
        sock.incoming.append((b"", [], 0, None))
        (connection,) = self.backend.connections.values()
        connection.doRead()
        self.failureResultOf(d, ConnectError)

    def test_close(self) -> None:
        """
        Closing the port closes every socket and ends every protocol.
        """
        sock, _ = self.accept()
        self.port.stopListening()
        self.assertTrue(sock.closed and self.kernel.socket.closed)
        self.assertEqual([f.value.how for f in self.factory.built[0].lost], ["port_closed"])
        self.assertEqual(self.reactor.getReaders(), [])


class KernelRouteTests(SynchronousTestCase):
    """
    How callers pick the style.
    """

    def test_oneToOneKernel(self) -> None:
        """
        An L{SCTPPort} given L{OneToOneKernel} calls uses the one-to-one
        backend over them (what the SIP transport gets).
        """
        kernel = FakeKernel()
        port = SCTPPort(5060, RecordingFactory(), ["127.0.0.1"], None, Clock(), kernel=OneToOneKernel(kernel))
        self.assertIsInstance(port.backend, OneToOneBackend)
        self.assertEqual(port.backend.kernel.connects, kernel.connects)

    def test_badStyle(self) -> None:
        """
        An unknown style is a C{ValueError} naming the two.
        """
        e = self.assertRaises(ValueError, SCTPPort, 5060, RecordingFactory(), ["127.0.0.1"], None, Clock(), style="many")
        self.assertIn("one-to-many or one-to-one", str(e))
