# -*- test-case-name: tests.test_engine_backend -*-
"""
The association layer over the user-space engine
(L{twisted_sctp.engine.backend.EngineBackend}) on this host, where the
kernel has no SCTP: L{tests.test_layer.LayerTestsMixin} with each peer a
second engine port, over real UDP on the loopback in one reactor; and the
backend's own behaviour (options, events, errors).
"""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

from zope.interface.verify import verifyObject

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Recorder, RecordingFactory, waitFor
from tests.test_layer import LayerTestsMixin, Peer
from twisted_sctp import listenSCTPOverUDP
from twisted_sctp.engine.backend import EngineBackend, engineConfig
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.transport.backend import ISCTPBackend
from twisted_sctp.transport.events import UNORDERED
from twisted_sctp.transport.options import APPLIES_NEW_ASSOCIATIONS, APPLIES_NOT_APPLICABLE, SCTPOptions
from twisted_sctp.transport.port import SCTPPort


def engineListen(testCase: Any, factory: Any = None, encapPort: int = 9899, **options: Any) -> SCTPPort:
    """
    An engine port on 127.0.0.1, on an ephemeral UDP port, closed at the
    test's end.
    """
    factory = factory if factory is not None else RecordingFactory(Recorder)
    port = listenSCTPOverUDP(reactor, 0, factory, "127.0.0.1", SCTPOptions(**options), udpPort=0, encapPort=encapPort)
    testCase.addCleanup(port.stopListening)
    return port


def udpPortOf(port: SCTPPort) -> int:
    backend = port.backend
    assert isinstance(backend, EngineBackend)
    return backend.boundUDPPort


class EnginePeer(Peer):
    """
    The protocol of a client engine port's association.
    """

    def __init__(self, protocol: Recorder) -> None:
        self.protocol = protocol

    def send(self, payload: bytes, stream: int = 0, ppid: int = 0, unordered: bool = False) -> None:
        self.protocol.transport.writeMessage(payload, stream=stream, ppid=ppid, unordered=unordered)  # type: ignore[union-attr]

    def received(self) -> List[Tuple[bytes, int, int, bool]]:
        return [(m.payload, m.stream, m.ppid, bool(m.flags & UNORDERED)) for m in self.protocol.messages]

    def shutdown(self) -> None:
        self.protocol.transport.loseConnection()  # type: ignore[union-attr]


class EngineDriver:
    """
    Engine ports on the real reactor, over UDP on the loopback.
    """

    def __init__(self) -> None:
        self.ports: List[SCTPPort] = []

    def listen(self, testCase: Any, factory: Any, **options: Any) -> SCTPPort:
        port = engineListen(testCase, factory, **options)
        self.ports.append(port)
        return port

    @defer.inlineCallbacks
    def openPeer(self, testCase: Any, port: SCTPPort, waitForServer: bool = True) -> Any:
        before = port.stats.established
        client = engineListen(testCase, encapPort=udpPortOf(port))
        protocol = yield client.connect(("127.0.0.1", port.getHost().port))
        yield waitFor(lambda: port.stats.established > before, what="the association at the port")
        if waitForServer:
            yield waitFor(lambda: any(a.protocol is not None for a in port.registry), what="the port's protocol")
        return EnginePeer(protocol)

    def peerAddress(self, testCase: Any) -> defer.Deferred[Tuple[str, int]]:
        peer = engineListen(testCase)
        # The ports under test open associations to this peer's UDP port.
        for p in self.ports:
            p.backend.encapPort = udpPortOf(peer)  # type: ignore[attr-defined]
        return defer.succeed(("127.0.0.1", peer.getHost().port))

    def waitFor(self, condition: Callable[[], Any], what: str) -> defer.Deferred[Any]:
        return waitFor(condition, timeout=30, what=what)


class EngineBackendLayerTests(LayerTestsMixin, TestCase):
    """
    The association layer over the engine backend, engine to engine.
    """

    timeout = 60

    def setUp(self) -> None:
        self.driver = EngineDriver()


class EngineBackendTests(TestCase):
    """
    The backend's own behaviour.
    """

    def test_interface(self) -> None:
        """
        L{EngineBackend} provides L{ISCTPBackend}.
        """
        port = engineListen(self)
        verifyObject(ISCTPBackend, port.backend)
        self.assertEqual(port.getHost().host, "127.0.0.1")
        self.assertTrue(49152 <= port.getHost().port <= 65535)

    def test_optionsMapToEngineConfig(self) -> None:
        """
        The protocol options (ms) become the engine's config (s); unset
        ones keep the engine's defaults.
        """
        config = engineConfig(SCTPOptions(srto_initial=300, srto_min=100, srto_max=2000, hbinterval=5000,
                                          asocmaxrxt=4, pathmaxrxt=3, init_max_attempts=2, sack_delay=40, sack_freq=1))
        self.assertEqual(
            (config.rtoInitial, config.rtoMin, config.rtoMax, config.hbInterval, config.assocMaxRetrans,
             config.pathMaxRetrans, config.maxInitRetransmits, config.sackDelay, config.sackFreq),
            (0.3, 0.1, 2.0, 5.0, 4, 3, 2, 0.04, 1),
        )
        self.assertEqual(engineConfig(SCTPOptions()).rtoInitial, EngineConfig().rtoInitial)

    def test_liveOptions(self) -> None:
        """
        C{getOptions(live=True)} reads the engine's values in ms.
        """
        port = engineListen(self, srto_min=200, srto_initial=500)
        live = port.getOptions(live=True)
        self.assertEqual((live["srto_min"], live["srto_initial"], live["autoclose"], live["socket_rcvbuf"]), (200, 500, 180, 0))

    def test_runtimeOptionReachesEngine(self) -> None:
        """
        A run-time change of a protocol option changes the config new
        associations get.
        """
        port = engineListen(self)
        change = port.setOption("srto_max", 5000)
        self.assertEqual(change.appliesTo, APPLIES_NEW_ASSOCIATIONS)
        self.assertEqual(port.backend.endpoint.config.rtoMax, 5.0)  # type: ignore[attr-defined]

    def test_unsupportedOptionSaysSo(self) -> None:
        """
        C{socket_rcvbuf} cannot apply: set at start-up it is a warning.
        """
        port = engineListen(self, socket_rcvbuf=65536)
        self.assertEqual(port.warnings, ["socket_rcvbuf=65536 does not apply to the UDP engine (ignored)"])

    def test_inapplicableRuntimeChange(self) -> None:
        """
        A run-time change of an option the backend lists as unsupported
        reports "not-applicable" and reaches no backend.
        """
        port = engineListen(self)
        port.backend.unsupportedOptions = frozenset({"srto_max"})  # type: ignore[attr-defined]
        change = port.setOption("srto_max", 5000)
        self.assertEqual(change.appliesTo, APPLIES_NOT_APPLICABLE)
        self.assertEqual(port.backend.endpoint.config.rtoMax, 60.0)  # type: ignore[attr-defined]

    @defer.inlineCallbacks
    def test_autoclose(self) -> Any:
        """
        With autoclose=1 an idle association is shut down after a second:
        the protocol ends with "autoclose", and it is counted.
        """
        port = engineListen(self, autoclose=1)
        self.assertEqual(port.getOptions(live=True)["autoclose"], 1)
        yield EngineDriver().openPeer(self, port)
        factory = port.factory
        yield waitFor(lambda: factory.built[0].lost, timeout=10, what="the autoclose")
        self.assertEqual((factory.built[0].lost[0].value.how, port.stats.autoclosed), ("autoclose", 1))

    def test_sendOnUnknownAssociation(self) -> None:
        """
        Sending on an id the engine does not have raises
        L{AssociationGoneError}, an C{OSError}.
        """
        from twisted_sctp.transport.backend import AssociationGoneError
        from twisted_sctp.transport.events import SendParameters

        port = engineListen(self)
        self.assertRaises(AssociationGoneError, port.backend.send, b"x", SendParameters(), 42)

    @defer.inlineCallbacks
    def test_connectToSilentPeerFails(self) -> Any:
        """
        An association to a UDP port nobody answers on ends in
        C{connect_failed} after C{init_max_attempts}.
        """
        port = engineListen(self, encapPort=9, init_max_attempts=1, srto_initial=50, srto_min=50, srto_max=100,
                            init_max_timeo=100)
        d = port.connect(("127.0.0.1", 5999))
        failure = yield self.assertFailure(d, Exception)
        self.assertEqual(port.stats.connect_failed, 1, failure)

    @defer.inlineCallbacks
    def test_bigMessageBothWays(self) -> Any:
        """
        A 200 KB message goes each way whole.
        """
        from tests.integration.helpers import Echo

        server = engineListen(self, RecordingFactory(Echo))
        client = engineListen(self, encapPort=udpPortOf(server))
        protocol = yield client.connect(("127.0.0.1", server.getHost().port))
        payload = bytes(range(256)) * 800
        protocol.transport.writeMessage(payload)
        yield waitFor(lambda: protocol.messages, timeout=30, what="the echo")
        self.assertEqual(protocol.messages[0].payload, payload)
