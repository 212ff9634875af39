# -*- test-case-name: tests.integration.test_endpoints -*-
"""
The C{sctp:} endpoint strings on a real kernel: C{serverFromString(...)
.listen()} gives a live SCTP port, C{clientFromString(...).connect()} the
protocol of a new association, and C{twistd sctp-sip --listen} takes them
(run under scripts/with-sctp-kernel).
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Echo, Recorder, RecordingFactory, listen, waitFor
from tests.integration.support import requireSCTP
from twisted_sctp import SCTPPort
from twisted_sctp.error import ConnectError
from twisted_sctp.kernel import sctpsocket
from twisted_sctp.tap import Options, SIPService


class EndpointTests(TestCase):
    """
    Server and client endpoints from strings, over loopback.
    """

    timeout = 60

    def setUp(self) -> None:
        requireSCTP()

    @defer.inlineCallbacks
    def serve(self, description: str, factory: Any = None) -> Any:
        port = yield serverFromString(reactor, description).listen(factory or RecordingFactory(Echo))
        self.addCleanup(port.stopListening)
        return port

    @defer.inlineCallbacks
    def test_listenAndConnect(self) -> Any:
        """
        A server endpoint listens (the Deferred gives the SCTP port, with the
        string's options), a client endpoint opens an association (the
        Deferred gives its protocol) and messages keep their boundaries
        both ways.
        """
        server = yield self.serve("sctp:0:interface=127.0.0.1:autoclose=77:sack_delay=120")
        self.assertIsInstance(server, SCTPPort)
        live = server.getOptions(live=True)
        self.assertEqual((live["autoclose"], live["sack_delay"]), (77, 120))
        port = server.getHost().port
        proto = yield clientFromString(reactor, "sctp:host=127.0.0.1:port={}:bindAddress=127.0.0.3".format(port)).connect(RecordingFactory(Recorder))
        self.addCleanup(proto.transport.abortConnection)
        self.assertIsInstance(proto, Recorder)
        self.assertEqual((proto.transport.getPeer().host, proto.transport.getPeer().port), ("127.0.0.1", port))
        self.assertEqual(proto.transport.getHost().host, "127.0.0.3")
        proto.transport.writeMessage(b"one", stream=0)
        proto.transport.writeMessage(b"two", stream=0)
        yield waitFor(lambda: len(proto.messages) == 2, what="two echoes")
        self.assertEqual([m.payload for m in proto.messages], [b"one", b"two"])
        (peer,) = server.registry
        self.assertEqual(peer.peer.host, "127.0.0.3")

    @defer.inlineCallbacks
    def test_multihomedServer(self) -> Any:
        """
        C{interface=A,B} binds both addresses to one socket; a client
        reaches it on the second.
        """
        server = yield self.serve("sctp:0:interface=127.0.0.1,127.0.0.2")
        self.assertEqual(sorted(h for h, _ in sctpsocket.localAddresses(server.socket)), ["127.0.0.1", "127.0.0.2"])
        proto = yield clientFromString(reactor, "sctp:127.0.0.2:{}".format(server.getHost().port)).connect(RecordingFactory(Recorder))
        self.addCleanup(proto.transport.abortConnection)
        proto.transport.write(b"ping")
        yield waitFor(lambda: proto.messages, what="the echo")
        self.assertEqual(proto.messages[0].payload, b"ping")

    @defer.inlineCallbacks
    def test_ipv6(self) -> Any:
        """
        Escaped IPv6 addresses on both sides.
        """
        requireSCTP(socket.AF_INET6)
        server = yield self.serve(r"sctp:0:interface=[\:\:1]")
        self.assertEqual(server.getHost().host, "::1")
        proto = yield clientFromString(reactor, r"sctp:host=\:\:1:port={}".format(server.getHost().port)).connect(RecordingFactory(Recorder))
        self.addCleanup(proto.transport.abortConnection)
        proto.transport.write(b"six")
        yield waitFor(lambda: proto.messages, what="the echo over IPv6")
        self.assertEqual(proto.messages[0].payload, b"six")

    @defer.inlineCallbacks
    def test_clientSocketClosesWithItsAssociation(self) -> Any:
        """
        The client endpoint's socket closes once its association has shut
        down; an association opened to that socket by someone else is
        refused.
        """
        server = yield self.serve("sctp:0:interface=127.0.0.1")
        factory = RecordingFactory(Recorder)
        proto = yield clientFromString(reactor, "sctp:host=127.0.0.1:port={}:bindAddress=127.0.0.4".format(server.getHost().port)).connect(factory)
        clientPort = proto.transport._port
        self.assertTrue(clientPort.connected)
        stranger = listen(self, RecordingFactory(Recorder), ["127.0.0.2"])
        strangerProto = yield stranger.connect(("127.0.0.4", clientPort.getHost().port))
        yield waitFor(lambda: strangerProto.lost, what="the stranger's association to be refused")
        self.assertEqual(len(factory.built), 1)
        self.assertTrue(clientPort.connected)
        proto.transport.loseConnection()
        yield waitFor(lambda: proto.lost, what="the shutdown")
        self.assertEqual(proto.lost[0].value.how, "shutdown")
        yield waitFor(lambda: not clientPort.connected, what="the client socket to close")

    @defer.inlineCallbacks
    def test_connectRefused(self) -> Any:
        """
        Nobody listening: the Deferred fails with L{ConnectError} and the
        client's socket is closed.
        """
        probe = listen(self, RecordingFactory(Recorder), ["127.0.0.1"])
        port = probe.getHost().port
        yield probe.stopListening()
        endpoint = clientFromString(reactor, "sctp:host=127.0.0.1:port={}:timeout=20".format(port))
        d = endpoint.connect(RecordingFactory(Recorder))
        yield waitFor(lambda: d.called, what="the connect to fail")
        failure = self.failureResultOf(d)
        self.assertTrue(failure.check(ConnectError), failure)

    def test_twistdListenTakesEndpointStrings(self) -> None:
        """
        C{--listen} endpoint strings (brackets unescaped, a repeated
        interface, options) and the short form side by side: each listener
        binds its addresses, and the string's options (over C{--option})
        reach the kernel on that listener only.
        """
        requireSCTP(socket.AF_INET6)
        options = Options()
        options.parseOptions([
            "--listen", "sctp:0:interface=127.0.0.1:interface=127.0.0.2:autoclose=33",
            "--listen", "sctp:[::1]:0",
            "--option", "sack_delay=150", "--sip", "udp=false",
        ])
        service = SIPService(reactor, options["listeners"], options["sctpOptions"], options["sipSettings"],
                             options["serverSettings"], listenerOptions=options["listenerOptions"])
        service.startService()
        self.addCleanup(service.stopService)
        first, second = service.ports
        self.assertEqual(sorted(h for h, _ in sctpsocket.localAddresses(first.socket)), ["127.0.0.1", "127.0.0.2"])
        self.assertEqual(second.getHost().host, "::1")
        one, two = first.getOptions(live=True), second.getOptions(live=True)
        self.assertEqual((one["autoclose"], one["sack_delay"]), (33, 150))
        self.assertEqual((two["autoclose"], two["sack_delay"]), (180, 150))
