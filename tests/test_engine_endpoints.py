# -*- test-case-name: tests.test_engine_endpoints -*-
"""
C{sctp+udp:} endpoint strings, C{twistd sctp-sip --listen sctp+udp:...},
and the SIP server over the user-space engine, on this host (no kernel
SCTP): L{twisted_sctp.engine.endpoints} and L{twisted_sctp.tap}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.python import usage
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Echo, Recorder, RecordingFactory, waitFor
from tests.test_engine_backend import engineListen, udpPortOf
from twisted_sctp.endpoints import SCTPEndpointError
from twisted_sctp.engine.backend import EngineBackend
from twisted_sctp.engine.endpoints import (
    SCTPOverUDPClientEndpoint,
    SCTPOverUDPServerEndpoint,
    parseUDPClientArguments,
    parseUDPListen,
    parseUDPServerArguments,
)
from twisted_sctp.tap import Options, SIPService

OPTIONS = (
    b"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/SCTP 127.0.0.1:{client};branch=z9hG4bKeng1\r\n"
    b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: engine-1\r\nCSeq: 1 OPTIONS\r\n"
    b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)


class ParseTests(TestCase):
    """
    The strings' grammar.
    """

    def test_server(self) -> None:
        """
        C{sctp+udp:PORT:interface=H:udp_port=N} with options.
        """
        u = parseUDPServerArguments(["5060"], {"interface": "127.0.0.1", "udp_port": "9900", "srto_min": "100"})
        self.assertEqual((u.spec.port, u.spec.interfaces, u.udpPort, u.encapPort), (5060, ("127.0.0.1",), 9900, 9899))
        self.assertEqual(u.spec.options.srto_min, 100)

    def test_serverDefaults(self) -> None:
        """
        Without udp_port/encap_port both are 9899 (RFC 6951's port).
        """
        u = parseUDPServerArguments(["5060"], {"interface": "127.0.0.1"})
        self.assertEqual((u.udpPort, u.encapPort), (9899, 9899))

    def test_listenShortForm(self) -> None:
        """
        C{--listen sctp+udp:HOST:PORT:udp_port=N:encap_port=N}, IPv6 in
        brackets, and the endpoint form give the same.
        """
        u = parseUDPListen("sctp+udp:127.0.0.1:5060:udp_port=9900:encap_port=9899")
        self.assertEqual((u.spec.interfaces, u.spec.port, u.udpPort, u.encapPort), (("127.0.0.1",), 5060, 9900, 9899))
        self.assertEqual(parseUDPListen("sctp+udp:[::1]:5060").spec.interfaces, ("::1",))
        self.assertEqual(parseUDPListen("sctp+udp:5060:interface=127.0.0.1:udp_port=9900"), u.__class__(u.spec, 9900, 9899))

    def test_badStrings(self) -> None:
        """
        Bad UDP ports, several addresses or unknown keywords are refused
        with a reason.
        """
        for text in ("sctp+udp:127.0.0.1:5060:udp_port=70000", "sctp+udp:127.0.0.1:5060:encap_port=0",
                     "sctp+udp:(127.0.0.1,127.0.0.2):5060", "sctp+udp:127.0.0.1:5060:bogus=1"):
            self.assertRaises(SCTPEndpointError, parseUDPListen, text)

    def test_mtu(self) -> None:
        """
        C{mtu=N} (256 to 65507) is kept for the engine; by default it is
        left to the engine (C{None}); out of range or not a number, refused.
        """
        self.assertEqual(parseUDPListen("sctp+udp:127.0.0.1:5060:mtu=65000").mtu, 65000)
        self.assertIsNone(parseUDPListen("sctp+udp:127.0.0.1:5060").mtu)
        client = parseUDPClientArguments([], {"host": "127.0.0.1", "port": "5060", "mtu": "9000"})
        self.assertEqual(client.mtu, 9000)
        for value in ("255", "65508", "big"):
            self.assertRaises(SCTPEndpointError, parseUDPListen, "sctp+udp:127.0.0.1:5060:mtu=" + value)

    def test_client(self) -> None:
        """
        C{sctp+udp:host=H:port=P:udp_port=N:encap_port=N}; a client's
        udp_port defaults to any free port.
        """
        u = parseUDPClientArguments([], {"host": "127.0.0.1", "port": "5060", "encap_port": "9900"})
        self.assertEqual((u.spec.peer.host, u.spec.peer.port, u.udpPort, u.encapPort), ("127.0.0.1", 5060, 0, 9900))

    def test_fromString(self) -> None:
        """
        The plugins give the endpoints to C{serverFromString} and
        C{clientFromString}.
        """
        server = serverFromString(reactor, "sctp+udp:5060:interface=127.0.0.1:udp_port=9900")
        client = clientFromString(reactor, "sctp+udp:host=127.0.0.1:port=5060:encap_port=9900")
        self.assertIsInstance(server, SCTPOverUDPServerEndpoint)
        self.assertIsInstance(client, SCTPOverUDPClientEndpoint)


class EndpointTests(TestCase):
    """
    The endpoints over real UDP on the loopback.
    """

    timeout = 30

    @defer.inlineCallbacks
    def test_serverAndClient(self) -> Any:
        """
        A client endpoint opens an association to a server endpoint; a
        message is echoed.
        """
        server = yield serverFromString(reactor, "sctp+udp:0:interface=127.0.0.1:udp_port=0").listen(RecordingFactory(Echo))
        self.addCleanup(server.stopListening)
        self.assertIsInstance(server.backend, EngineBackend)
        endpoint = clientFromString(reactor, "sctp+udp:host=127.0.0.1:port={}:bindAddress=127.0.0.1:encap_port={}".format(
            server.getHost().port, udpPortOf(server)))
        protocol = yield endpoint.connect(RecordingFactory(Recorder))
        self.addCleanup(protocol.transport.abortConnection)
        protocol.transport.write(b"over udp")
        yield waitFor(lambda: protocol.messages, what="the echo")
        self.assertEqual(protocol.messages[0].payload, b"over udp")

    @defer.inlineCallbacks
    def test_mtuBundles(self) -> Any:
        """
        With C{mtu=65000} on both ends, 1 KB messages written in one reactor
        turn share packets: 40 messages are echoed in far fewer DATA
        packets than messages, and arrive whole and in order.
        """
        server = yield serverFromString(reactor, "sctp+udp:0:interface=127.0.0.1:udp_port=0:mtu=65000").listen(RecordingFactory(Echo))
        self.addCleanup(server.stopListening)
        endpoint = clientFromString(reactor, "sctp+udp:host=127.0.0.1:port={}:bindAddress=127.0.0.1:encap_port={}:mtu=65000".format(
            server.getHost().port, udpPortOf(server)))
        protocol = yield endpoint.connect(RecordingFactory(Recorder))
        self.addCleanup(protocol.transport.abortConnection)
        before = server.backend.endpoint.stats["packets_in"]
        messages = [bytes([i]) * 1024 for i in range(40)]
        for m in messages:
            protocol.transport.write(m)
        yield waitFor(lambda: len(protocol.messages) == 40, what="the echoes")
        self.assertEqual([m.payload for m in protocol.messages], messages)
        self.assertEqual(server.backend.endpoint.config.mtu, 65000)
        self.assertLess(server.backend.endpoint.stats["packets_in"] - before, 20)


class TapTests(TestCase):
    """
    C{twistd sctp-sip} over the engine.
    """

    timeout = 30

    def test_listenOption(self) -> None:
        """
        C{--listen sctp+udp:...} is a listener on the engine with its UDP
        ports; a kernel listener beside it is not.
        """
        config = Options()
        config.parseOptions(["--listen", "sctp+udp:127.0.0.1:5070:udp_port=9901:encap_port=9902",
                             "--listen", "sctp:127.0.0.1:5060"])
        self.assertEqual(config["listeners"], [(["127.0.0.1"], 5070), (["127.0.0.1"], 5060)])
        self.assertEqual(config["udpListeners"], {(("127.0.0.1",), 5070): (9901, 9902)})

    def test_badListen(self) -> None:
        """
        A bad C{sctp+udp:} string is a usage error.
        """
        self.assertRaises(usage.UsageError, Options().parseOptions, ["--listen", "sctp+udp:127.0.0.1:5070:udp_port=x"])

    @defer.inlineCallbacks
    def test_sipOptionsAnswered(self) -> Any:
        """
        The SIP server on an engine listener answers OPTIONS from an engine
        client: 200 OK on the request's association.
        """
        from twisted_sctp.tap import buildService

        config = Options()
        config.parseOptions(["--listen", "sctp+udp:127.0.0.1:0:udp_port=0", "--sip", "udp=false"])
        probed = []
        top = buildService(config, reactor, probe=probed.append)
        self.assertEqual(probed, [[]])
        sip = [s for s in top if isinstance(s, SIPService)][0]
        sip.startService()
        self.addCleanup(sip.stopService)
        [port] = sip.ports
        client = engineListen(self, encapPort=udpPortOf(port))
        protocol = yield client.connect(("127.0.0.1", port.getHost().port))
        protocol.transport.write(OPTIONS.replace(b"{port}", str(port.getHost().port).encode()).replace(
            b"{client}", str(client.getHost().port).encode()))
        yield waitFor(lambda: protocol.messages, what="the answer")
        self.assertTrue(protocol.messages[0].payload.startswith(b"SIP/2.0 200"), protocol.messages[0].payload[:80])
