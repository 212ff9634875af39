# -*- test-case-name: tests.test_layer -*-
"""
The association layer's behaviour (L{twisted_sctp.transport.layer}),
written once and run over every backend: L{LayerTestsMixin} holds the
cases, a driver gives them a port and peers.  L{FakeBackendLayerTests} runs
them here over L{twisted_sctp.testing.FakeBackend} (the driver plays the
peer and the kernel by feeding events), and C{tests.integration.test_layer}
over the kernel backend with real peers in the SCTP guest.
"""

from __future__ import annotations

import io
from typing import Any, Callable, List, Tuple

from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted.internet import defer
from twisted.internet.interfaces import IPullProducer
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols.basic import FileSender
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Recorder, RecordingFactory
from twisted_sctp.error import AssociationLost
from twisted_sctp.testing import FakeBackend, RecordingProducer
from twisted_sctp.transport.backend import ISCTPBackend, ISCTPBackendSink
from twisted_sctp.transport.events import UNORDERED, AssociationDown, AssociationUp
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPPort


class PlainRecorder(Recorder):
    """
    A plain C{IProtocol}: C{dataReceived} once per message.
    """

    messageReceived = None  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: List[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)


class Peer:
    """
    The far end of one association, as a driver gives it.
    """

    def send(self, payload: bytes, stream: int = 0, ppid: int = 0, unordered: bool = False) -> None:
        """Send a message to the port."""
        raise NotImplementedError()

    def received(self) -> List[Tuple[bytes, int, int, bool]]:
        """@return: C{(payload, stream, ppid, unordered)} of each message the peer got."""
        raise NotImplementedError()

    def shutdown(self) -> None:
        """Close the association gracefully from the peer's side."""
        raise NotImplementedError()


class LayerTestsMixin:
    """
    Cases for a C{TestCase} whose C{driver} provides C{listen(testCase,
    factory, **options)}, C{openPeer(testCase, port, waitForServer=True)}
    (a Deferred firing with a L{Peer}), C{peerAddress(testCase)} (a Deferred
    firing with the address of a peer that accepts associations) and
    C{waitFor(condition, what)} (a Deferred).
    """

    driver: Any
    fileSize = 100 * 1024
    assertEqual: Callable[..., None]
    assertIsInstance: Callable[..., None]
    assertTrue: Callable[..., None]

    def serve(self, protocolClass: Any = Recorder, **options: Any) -> Tuple[SCTPPort, RecordingFactory]:
        factory = RecordingFactory(protocolClass)
        return self.driver.listen(self, factory, **options), factory

    @defer.inlineCallbacks
    def test_messageReachesProtocol(self) -> Any:
        """
        A message from the peer reaches its association's protocol whole,
        with its stream and PPID, and is counted.
        """
        port, factory = self.serve()
        peer = yield self.driver.openPeer(self, port)
        peer.send(b"hello", stream=3, ppid=46)
        yield self.driver.waitFor(lambda: factory.built[0].messages, "the message")
        [message] = factory.built[0].messages
        self.assertEqual((message.payload, message.stream, message.ppid, message.flags & UNORDERED), (b"hello", 3, 46, 0))
        self.assertEqual((message.association.messagesIn, message.association.bytesIn), (1, 5))
        self.assertEqual((port.stats.messages_in, port.registry.opened), (1, 1))

    @defer.inlineCallbacks
    def test_plainProtocolGetsDataReceived(self) -> Any:
        """
        A protocol without C{messageReceived} gets C{dataReceived} once per
        message.
        """
        port, factory = self.serve(PlainRecorder)
        peer = yield self.driver.openPeer(self, port)
        peer.send(b"one")
        peer.send(b"two")
        yield self.driver.waitFor(lambda: len(factory.built[0].data) == 2, "two messages")
        self.assertEqual(factory.built[0].data, [b"one", b"two"])

    @defer.inlineCallbacks
    def test_sendsOrderedByDefault(self) -> Any:
        """
        C{write}, C{writeMessage} and C{port.sendMessage} all send ordered
        unless C{unordered=True} is asked for.
        """
        port, factory = self.serve()
        peer = yield self.driver.openPeer(self, port)
        transport = factory.built[0].transport
        transport.write(b"write")
        transport.writeMessage(b"writeMessage", stream=1, ppid=7)
        port.sendMessage(b"sendMessage", transport.association)
        transport.writeMessage(b"unordered", unordered=True)
        port.sendMessage(b"unordered too", transport.association, unordered=True)
        yield self.driver.waitFor(lambda: len(peer.received()) == 5, "five messages")
        got = {payload: (stream, ppid, unordered) for payload, stream, ppid, unordered in peer.received()}
        self.assertEqual(got, {
            b"write": (0, 0, False),
            b"writeMessage": (1, 7, False),
            b"sendMessage": (0, 0, False),
            b"unordered": (0, 0, True),
            b"unordered too": (0, 0, True),
        })

    @defer.inlineCallbacks
    def test_peerShutdownEndsProtocol(self) -> Any:
        """
        The peer's graceful close ends the protocol with reason "shutdown"
        and is counted.
        """
        port, factory = self.serve()
        peer = yield self.driver.openPeer(self, port)
        peer.shutdown()
        yield self.driver.waitFor(lambda: factory.built[0].lost, "the end")
        [reason] = factory.built[0].lost
        self.assertIsInstance(reason.value, AssociationLost)
        self.assertEqual(reason.value.how, "shutdown")
        self.assertEqual((port.stats.remote_shutdown, port.stats.assoc_shutdown, port.registry.opened), (1, 1, 0))

    @defer.inlineCallbacks
    def test_loseConnectionShutsDown(self) -> Any:
        """
        C{loseConnection} shuts the association down gracefully: the protocol
        ends with "shutdown", and the port keeps listening.
        """
        port, factory = self.serve()
        yield self.driver.openPeer(self, port)
        factory.built[0].transport.loseConnection()
        yield self.driver.waitFor(lambda: factory.built[0].lost, "the end")
        self.assertEqual(factory.built[0].lost[0].value.how, "shutdown")
        self.assertEqual(port.registry.opened, 0)
        self.assertTrue(port.connected)

    @defer.inlineCallbacks
    def test_maxAssocsRejectsOneTooMany(self) -> Any:
        """
        With max_assocs=1 a second association is aborted right after it
        comes up: no protocol is built for it, local_reject counts it.
        """
        port, factory = self.serve(max_assocs=1)
        yield self.driver.openPeer(self, port)
        yield self.driver.openPeer(self, port, waitForServer=False)
        yield self.driver.waitFor(lambda: port.stats.comm_lost == 1, "the rejected association's end")
        self.assertEqual(len(factory.built), 1)
        self.assertEqual((port.stats.established, port.stats.local_reject, port.registry.opened), (2, 1, 1))

    @defer.inlineCallbacks
    def test_connectFiresWithProtocol(self) -> Any:
        """
        C{connect} opens an association and fires with its protocol once it
        is up; the protocol can send on it at once.
        """
        port, factory = self.serve()
        address = yield self.driver.peerAddress(self)
        connecting = port.connect(address)
        yield self.driver.waitFor(lambda: factory.built, "the association")
        protocol = yield connecting
        self.assertEqual(factory.built, [protocol])
        self.assertTrue(protocol.transport.association.outgoing)
        self.assertEqual(port.registry.opened, 1)

    @defer.inlineCallbacks
    def test_pullProducerSendsEverything(self) -> Any:
        """
        A pull producer (C{FileSender}) is resumed after each of its writes
        is sent, until the file is done; a C{loseConnection} asked for at the
        start waits for it, then shuts the association down.
        """
        data = bytes(range(256)) * (self.fileSize // 256)
        port, factory = self.serve()
        peer = yield self.driver.openPeer(self, port)
        transport = factory.built[0].transport
        done = FileSender().beginFileTransfer(io.BytesIO(data), transport)
        transport.loseConnection()
        yield self.driver.waitFor(lambda: factory.built[0].lost, "the end after the file")
        yield done
        got = [payload for payload, _, _, _ in peer.received()]
        self.assertEqual(len(got), -(-len(data) // FileSender.CHUNK_SIZE))
        self.assertEqual(b"".join(got), data)
        self.assertEqual(factory.built[0].lost[0].value.how, "shutdown")

    @defer.inlineCallbacks
    def test_streamingProducerStoppedAtEnd(self) -> Any:
        """
        A streaming producer registered on an association is stopped when
        the association ends.
        """
        port, factory = self.serve()
        peer = yield self.driver.openPeer(self, port)
        producer = RecordingProducer()
        factory.built[0].transport.registerProducer(producer, True)
        peer.shutdown()
        yield self.driver.waitFor(lambda: factory.built[0].lost, "the end")
        self.assertEqual(producer.calls, ["stop"])
        self.assertEqual(factory.built[0].transport.producer, None)


class FakePeer(Peer):
    """
    A peer on a L{FakeBackend}: its sends are fed in as events, what it got
    is what the backend was given for its association.
    """

    def __init__(self, backend: FakeBackend, assocID: int, address: Tuple[str, int]) -> None:
        self.backend = backend
        self.assocID = assocID
        self.address = address

    def send(self, payload: bytes, stream: int = 0, ppid: int = 0, unordered: bool = False) -> None:
        self.backend.data(self.assocID, payload, self.address, stream, ppid, UNORDERED if unordered else 0)

    def received(self) -> List[Tuple[bytes, int, int, bool]]:
        return [
            (s.payload, s.params.stream, s.params.ppid, s.params.unordered)
            for s in self.backend.sent
            if s.assocID == self.assocID and (s.address is None or s.address == self.address)
        ]

    def shutdown(self) -> None:
        self.backend.peerShutdown(self.assocID)


class FakeDriver:
    """
    Plays the peers and the kernel around a port on a L{FakeBackend}: each
    tick the backend has room again (C{writable}), and SHUTDOWNs, ABORTs and
    connects the port asked for complete.
    """

    def __init__(self) -> None:
        self.backends: List[FakeBackend] = []
        self.nextAssocID = 1
        self.nextPeer = 2
        self._done: set[Tuple[int, int, str]] = set()

    def listen(self, testCase: Any, factory: Any, **options: Any) -> SCTPPort:
        backend = FakeBackend()
        port = SCTPPort(0, factory, ["127.0.0.1"], SCTPOptions(**options), MemoryReactorClock(), backend=backend)
        port.startListening()
        self.backends.append(backend)
        return port

    def openPeer(self, testCase: Any, port: SCTPPort, waitForServer: bool = True) -> defer.Deferred[Peer]:
        backend = port.backend
        assert isinstance(backend, FakeBackend)
        assocID, self.nextAssocID = self.nextAssocID, self.nextAssocID + 1
        address = ("127.0.0.{}".format(self.nextPeer), 5000 + assocID)
        self.nextPeer += 1
        backend.up(assocID, address)
        return defer.succeed(FakePeer(backend, assocID, address))

    def peerAddress(self, testCase: Any) -> defer.Deferred[Tuple[str, int]]:
        self.nextPeer += 1
        return defer.succeed(("127.0.0.{}".format(self.nextPeer), 6000))

    def tick(self) -> None:
        for backend in self.backends:
            backend.flush()
            for n, assocID in enumerate(backend.shutdowns):
                if (id(backend), n, "shutdown") not in self._done:
                    self._done.add((id(backend), n, "shutdown"))
                    backend.feed(AssociationDown(assocID, "shutdown_complete"))
            for n, (assocID, _) in enumerate(backend.aborts):
                if (id(backend), n, "abort") not in self._done:
                    self._done.add((id(backend), n, "abort"))
                    backend.feed(AssociationDown(assocID, "comm_lost"))
            for n, paths in enumerate(backend.connects):
                if (id(backend), n, "connect") not in self._done:
                    self._done.add((id(backend), n, "connect"))
                    backend.feed(AssociationUp(101 + n, "comm_up", paths[0], tuple(paths)))

    def waitFor(self, condition: Callable[[], Any], what: str) -> defer.Deferred[Any]:
        for _ in range(1000):
            self.tick()
            value = condition()
            if value:
                return defer.succeed(value)
        raise AssertionError("{} did not happen".format(what))


@implementer(IPullProducer)
class CountingPullProducer:
    """
    A pull producer that writes one message per C{resumeProducing}, up to
    C{limit}, then unregisters.
    """

    def __init__(self, transport: Any, limit: int) -> None:
        self.transport = transport
        self.limit = limit
        self.resumed = 0
        self.stopped = False

    def resumeProducing(self) -> None:
        self.resumed += 1
        if self.resumed > self.limit:
            self.transport.unregisterProducer()
            return
        self.transport.write(b"%d" % self.resumed)

    def stopProducing(self) -> None:
        self.stopped = True


class FakeBackendLayerTests(LayerTestsMixin, TestCase):
    """
    The association layer over L{FakeBackend}.
    """

    def setUp(self) -> None:
        self.driver = FakeDriver()

    def test_interfaces(self) -> None:
        """
        The fake provides L{ISCTPBackend}; the port is its L{ISCTPBackendSink}.
        """
        port, _ = self.serve()
        verifyObject(ISCTPBackend, port.backend)
        verifyObject(ISCTPBackendSink, port)

    def up(self, **options: Any) -> Tuple[SCTPPort, FakeBackend, Any]:
        port, factory = self.serve(**options)
        self.driver.openPeer(self, port)
        backend = port.backend
        assert isinstance(backend, FakeBackend)
        return port, backend, factory.built[0].transport

    def test_pullProducerResumedOncePerDrain(self) -> None:
        """
        A pull producer is resumed at registration, then once each time the
        backend has room after its write, never while its write waits in
        the queue; after it unregisters it is not resumed again.
        """
        port, backend, transport = self.up()
        producer = CountingPullProducer(transport, 3)
        transport.registerProducer(producer, False)
        self.assertEqual((producer.resumed, len(backend.sent)), (1, 1))
        self.assertTrue(backend.writing)
        backend.blocked = True
        backend.flush()
        self.assertEqual((producer.resumed, port.queuedMessages(transport.association)), (2, 1))
        backend.flush()
        self.assertEqual(producer.resumed, 2)
        backend.blocked = False
        backend.flush()
        self.assertEqual((producer.resumed, len(backend.sent)), (3, 3))
        backend.flush()
        backend.flush()
        self.assertEqual((producer.resumed, transport.producer), (4, None))
        self.assertFalse(backend.writing)
        self.assertEqual([s.payload for s in backend.sent], [b"1", b"2", b"3"])

    def test_loseConnectionWaitsForTheQueue(self) -> None:
        """
        C{loseConnection} with messages still queued shuts the association
        down only once they are all sent.
        """
        port, backend, transport = self.up()
        backend.blocked = True
        for n in range(3):
            transport.write(b"q%d" % n)
        transport.loseConnection()
        self.assertEqual(backend.shutdowns, [])
        backend.flush()
        self.assertEqual(backend.shutdowns, [])
        backend.blocked = False
        backend.flush()
        self.assertEqual([s.payload for s in backend.sent], [b"q0", b"q1", b"q2"])
        self.assertEqual(backend.shutdowns, [transport.association.assocID])
        self.assertFalse(backend.writing)

    def test_loseConnectionWaitsForThePullProducer(self) -> None:
        """
        C{loseConnection} while a pull producer is registered waits for it to
        unregister, then shuts the association down.
        """
        port, backend, transport = self.up()
        producer = CountingPullProducer(transport, 2)
        transport.registerProducer(producer, False)
        transport.loseConnection()
        self.assertEqual(backend.shutdowns, [])
        for _ in range(3):
            backend.flush()
        self.assertEqual(len(backend.sent), 2)
        self.assertEqual(backend.shutdowns, [transport.association.assocID])

    def test_closeWaitingForAnIdleProducerDoesNotSpin(self) -> None:
        """
        A close that waits for a pull producer with nothing to write asks
        for no wake-ups (no busy loop); the producer's C{unregisterProducer}
        then closes.
        """
        port, backend, transport = self.up()
        producer = CountingPullProducer(transport, 0)
        producer.resumeProducing = lambda: None  # type: ignore[method-assign]
        transport.registerProducer(producer, False)
        transport.loseConnection()
        self.assertFalse(backend.writing)
        self.assertEqual(backend.shutdowns, [])
        transport.unregisterProducer()
        self.assertEqual(backend.shutdowns, [transport.association.assocID])

    def test_producerStoppedWhenAssociationLost(self) -> None:
        """
        A pull producer, too, is stopped and dropped when its association is
        lost, and not resumed afterwards.
        """
        port, backend, transport = self.up()
        producer = CountingPullProducer(transport, 5)
        transport.registerProducer(producer, False)
        backend.down(transport.association.assocID)
        backend.flush()
        self.assertEqual((producer.stopped, producer.resumed, transport.producer), (True, 1, None))
