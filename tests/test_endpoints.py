# -*- test-case-name: tests.test_endpoints -*-
"""
Tests for L{twisted_sctp.endpoints}: the C{sctp:} endpoint strings, parsed
through Twisted's own C{serverFromString} / C{clientFromString} (so the
drop-in in twisted/plugins is exercised), and the lenient
L{parseServerString} of C{twistd sctp-sip --listen}.  Listening and
connecting over the kernel: tests/integration/test_endpoints.py.
"""

from __future__ import annotations

from typing import Any, List

from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from tests.integration.helpers import RecordingFactory
from twisted_sctp import SCTPPort
from twisted_sctp.testing import commUp
from twisted_sctp.endpoints import (
    SCTPClientEndpoint,
    SCTPClientParser,
    SCTPEndpointError,
    SCTPServerEndpoint,
    SCTPServerParser,
    isServerString,
    parseServerString,
    splitDescription,
)
from twisted_sctp.transport.address import SCTPAddress
from twisted_sctp.transport.options import SCTPOptions


def server(text: str) -> SCTPServerEndpoint:
    endpoint = serverFromString(MemoryReactorClock(), text)
    assert isinstance(endpoint, SCTPServerEndpoint)
    return endpoint


def client(text: str) -> SCTPClientEndpoint:
    endpoint = clientFromString(MemoryReactorClock(), text)
    assert isinstance(endpoint, SCTPClientEndpoint)
    return endpoint


class PluginTests(SynchronousTestCase):
    """
    The drop-in registers both parsers.
    """

    def test_serverParserFound(self) -> None:
        """
        Twisted's plugin system finds the C{sctp} server parser.
        """
        parsers = [p for p in getPlugins(IStreamServerEndpointStringParser) if p.prefix == "sctp"]
        self.assertEqual(len(parsers), 1)
        self.assertIsInstance(parsers[0], SCTPServerParser)
        verifyObject(IStreamServerEndpointStringParser, parsers[0])

    def test_clientParserFound(self) -> None:
        """
        Twisted's plugin system finds the C{sctp} client parser.
        """
        parsers = [p for p in getPlugins(IStreamClientEndpointStringParserWithReactor) if p.prefix == "sctp"]
        self.assertEqual(len(parsers), 1)
        self.assertIsInstance(parsers[0], SCTPClientParser)
        verifyObject(IStreamClientEndpointStringParserWithReactor, parsers[0])


class ServerStringTests(SynchronousTestCase):
    """
    C{sctp:} server strings through C{serverFromString}.
    """

    def test_portAndInterface(self) -> None:
        """
        C{sctp:PORT:interface=ADDR} gives an endpoint on that port and
        address with the default options and style.
        """
        endpoint = server("sctp:5060:interface=127.0.0.1")
        verifyObject(IStreamServerEndpoint, endpoint)
        self.assertEqual((endpoint.spec.port, endpoint.spec.interfaces), (5060, ("127.0.0.1",)))
        self.assertEqual(endpoint.spec.style, "one-to-many")
        self.assertEqual(endpoint.spec.options, SCTPOptions())
        self.assertEqual(endpoint.spec.given, {})

    def test_defaultInterface(self) -> None:
        """
        Without C{interface=} the endpoint binds every IPv4 address, as
        C{tcp:} does.
        """
        self.assertEqual(server("sctp:0").spec.interfaces, ("0.0.0.0",))

    def test_portKeyword(self) -> None:
        """
        The port may be given as C{port=}.
        """
        self.assertEqual(server("sctp:port=5070:interface=127.0.0.2").spec.port, 5070)

    def test_multihomed(self) -> None:
        """
        Comma-separated interfaces make a multihomed endpoint, primary first.
        """
        endpoint = server("sctp:5060:interface=127.0.0.1,127.0.0.2")
        self.assertEqual(endpoint.spec.interfaces, ("127.0.0.1", "127.0.0.2"))
        self.assertIn("(127.0.0.1,127.0.0.2)", repr(endpoint))

    def test_ipv6Escaped(self) -> None:
        """
        An IPv6 address with its colons escaped, bare or in brackets.
        """
        self.assertEqual(server(r"sctp:5060:interface=\:\:1").spec.interfaces, ("::1",))
        self.assertEqual(server(r"sctp:5060:interface=[\:\:1],127.0.0.1").spec.interfaces, ("::1", "127.0.0.1"))

    def test_ipv6Unescaped(self) -> None:
        """
        Unescaped colons (which Twisted's grammar splits on) are a clear
        error saying how to escape them.
        """
        e = self.assertRaises(SCTPEndpointError, serverFromString, MemoryReactorClock(), "sctp:5060:interface=[::1]")
        self.assertIn(r"interface=[\:\:1]", str(e))

    def test_options(self) -> None:
        """
        Option keywords set the 19 options, with or without the C{sctp_}
        prefix, and say which were given.
        """
        endpoint = server("sctp:5060:autoclose=120:max_assocs=1000:sctp_send_retries=2")
        self.assertEqual(endpoint.spec.options, SCTPOptions(autoclose=120, max_assocs=1000, send_retries=2))
        self.assertEqual(endpoint.spec.given, {"autoclose": 120, "max_assocs": 1000, "send_retries": 2})

    def test_badOptions(self) -> None:
        """
        An unknown keyword, a non-integer, an out-of-range value and a
        broken cross-option rule are each an error naming the option.
        """
        for text, words in [
            ("sctp:5060:autoclos=3", ["unknown keyword 'autoclos'", "interface, style"]),
            ("sctp:5060:autoclose=soon", ["autoclose", "not an integer"]),
            ("sctp:5060:autoclose=-1", ["autoclose", "out of range"]),
            ("sctp:5060:srto_min=2000:srto_max=1000", ["srto"]),
        ]:
            e = self.assertRaises(SCTPEndpointError, serverFromString, MemoryReactorClock(), text)
            for word in words:
                self.assertIn(word, str(e))

    def test_badPortAndAddress(self) -> None:
        """
        A port out of range, a non-numeric port, no port and a non-IP
        interface are errors.
        """
        for text, word in [
            ("sctp:70000", "not a port number"),
            ("sctp:http", "not a port number"),
            ("sctp:interface=127.0.0.1", "expected sctp:PORT"),
            ("sctp:5060:interface=localhost", "'localhost' is not an IP address"),
            ("sctp:5060:interface=", "no address"),
            ("sctp:5060:style=many", "use one-to-many or one-to-one"),
        ]:
            e = self.assertRaises(SCTPEndpointError, serverFromString, MemoryReactorClock(), text)
            self.assertIn(word, str(e))

    def test_styles(self) -> None:
        """
        C{style=one-to-one} (also spelt C{one_to_one}, any case) and
        C{style=one-to-many} are accepted; the default is one-to-many.
        """
        self.assertEqual(server("sctp:5060:style=one-to-one").spec.style, "one-to-one")
        self.assertEqual(server("sctp:5060:style=One_To_One").spec.style, "one-to-one")
        self.assertEqual(server("sctp:5060:style=one-to-many").spec.style, "one-to-many")
        self.assertEqual(server("sctp:5060").spec.style, "one-to-many")

    def test_listenFailsCleanly(self) -> None:
        """
        C{listen} on a reactor that cannot run the port gives a failed
        Deferred, not an exception.
        """
        endpoint = SCTPServerParser().parseStreamServer(object(), "0", interface="127.0.0.1")
        d = endpoint.listen(Factory.forProtocol(Protocol))
        self.failureResultOf(d)


class LenientServerStringTests(SynchronousTestCase):
    """
    L{parseServerString}, used by C{--listen}.
    """

    def test_unescapedBrackets(self) -> None:
        """
        Colons inside brackets need no escapes.
        """
        self.assertEqual(parseServerString("sctp:5060:interface=[::1]").interfaces, ("::1",))

    def test_repeatedInterface(self) -> None:
        """
        A repeated C{interface=} adds an address (Twisted's parser would keep
        the last one only).
        """
        spec = parseServerString("sctp:5060:interface=127.0.0.1:interface=[::1]:autoclose=5")
        self.assertEqual(spec.interfaces, ("127.0.0.1", "::1"))
        self.assertEqual(spec.given, {"autoclose": 5})

    def test_repeatedOption(self) -> None:
        """
        Any other repeated keyword is an error.
        """
        e = self.assertRaises(SCTPEndpointError, parseServerString, "sctp:5060:autoclose=1:autoclose=2")
        self.assertIn("autoclose= given twice", str(e))

    def test_notSCTP(self) -> None:
        """
        Another prefix is refused.
        """
        self.assertRaises(SCTPEndpointError, parseServerString, "tcp:5060")

    def test_isServerString(self) -> None:
        """
        The endpoint form is told from the short C{sctp:HOST:PORT} form.
        """
        for text in ("sctp:5060", "sctp:5060:interface=127.0.0.1", "sctp:port=1", "sctp:0:autoclose=1"):
            self.assertTrue(isServerString(text), text)
        for text in ("sctp:127.0.0.1:5060", "sctp:[::1]:5060", "sctp:(127.0.0.1,127.0.0.2):5060", "tcp:5060", ""):
            self.assertFalse(isServerString(text), text)

    def test_split(self) -> None:
        """
        Backslashes escape, brackets protect colons, keywords keep their
        order.
        """
        self.assertEqual(
            splitDescription(r"sctp:5060:interface=[::1]:a=b\:c:interface=1.2.3.4"),
            (["sctp", "5060"], [("interface", "[::1]"), ("a", "b:c"), ("interface", "1.2.3.4")]),
        )


class ClientStringTests(SynchronousTestCase):
    """
    C{sctp:} client strings through C{clientFromString}.
    """

    def test_hostAndPort(self) -> None:
        """
        C{sctp:host=H:port=P} names the peer; the socket binds every address
        of the peer's family, port 0.
        """
        endpoint = client("sctp:host=127.0.0.1:port=5060")
        verifyObject(IStreamClientEndpoint, endpoint)
        self.assertEqual(endpoint.spec.peer, SCTPAddress("127.0.0.1", 5060))
        self.assertEqual((endpoint.spec.bindAddresses, endpoint.spec.bindPort), (("0.0.0.0",), 0))
        self.assertEqual(endpoint.spec.timeout, 30.0)

    def test_positional(self) -> None:
        """
        C{sctp:HOST:PORT} works too, as C{tcp:HOST:PORT} does.
        """
        self.assertEqual(client("sctp:127.0.0.2:5070").spec.peer, SCTPAddress("127.0.0.2", 5070))

    def test_ipv6(self) -> None:
        """
        An IPv6 peer binds C{::} by default.
        """
        endpoint = client(r"sctp:host=\:\:1:port=5060")
        self.assertEqual(endpoint.spec.peer.host, "::1")
        self.assertEqual(endpoint.spec.bindAddresses, ("::",))

    def test_bindAndMultihomedPeer(self) -> None:
        """
        C{bindAddress} (several: a multihomed client), C{bindPort},
        C{timeout}, a multihomed peer and options.
        """
        endpoint = client("sctp:host=127.0.0.1,127.0.0.2:port=5060:bindAddress=127.0.0.3,127.0.0.4:bindPort=4000:timeout=2.5:autoclose=9")
        self.assertEqual(endpoint.spec.peer, SCTPAddress("127.0.0.1", 5060, ("127.0.0.1", "127.0.0.2")))
        self.assertEqual(endpoint.spec.bindAddresses, ("127.0.0.3", "127.0.0.4"))
        self.assertEqual((endpoint.spec.bindPort, endpoint.spec.timeout), (4000, 2.5))
        self.assertEqual(endpoint.spec.options, SCTPOptions(autoclose=9))

    def test_bad(self) -> None:
        """
        Missing host or port, bad values, unknown keywords and an unknown
        style are clear errors; C{style=one-to-one} is accepted.
        """
        for text, word in [
            ("sctp:host=127.0.0.1", "expected sctp:host=HOST:port=PORT"),
            ("sctp:port=5060", "expected sctp:host=HOST:port=PORT"),
            ("sctp:host=example.org:port=5060", "not an IP address"),
            ("sctp:host=127.0.0.1:port=x", "not a port number"),
            ("sctp:host=127.0.0.1:port=1:timeout=0", "timeout='0'"),
            ("sctp:host=127.0.0.1:port=1:timeout=abc", "timeout='abc'"),
            ("sctp:host=127.0.0.1:port=1:colour=red", "unknown keyword 'colour'"),
            ("sctp:host=127.0.0.1:port=1:max_assocs=-7", "max_assocs"),
            ("sctp:host=::1:port=1", "unexpected argument"),
            ("sctp:host=127.0.0.1:port=1:style=tcp", "use one-to-many or one-to-one"),
        ]:
            e = self.assertRaises(SCTPEndpointError, clientFromString, MemoryReactorClock(), text)
            self.assertIn(word, str(e))
        endpoint: Any = clientFromString(MemoryReactorClock(), "sctp:host=127.0.0.1:port=1:style=one-to-one")
        self.assertEqual(endpoint.spec.style, "one-to-one")

    def test_connectFailsCleanly(self) -> None:
        """
        C{connect} on a reactor that cannot run the port gives a failed
        Deferred, not an exception.
        """
        endpoint: Any = SCTPClientParser().parseStreamClient(object(), host="127.0.0.1", port="1")
        self.failureResultOf(endpoint.connect(Factory.forProtocol(Protocol)))


class ClientConnectTests(SynchronousTestCase):
    """
    L{SCTPClientEndpoint.connect} over L{FakeKernel}: the socket it opens,
    the association's protocol, the timeout, cancellation and the socket
    closing with the association.
    """

    def setUp(self) -> None:
        import twisted_sctp
        from twisted_sctp.testing import FakeKernel

        self.reactor = MemoryReactorClock()
        self.kernel = FakeKernel(40000)
        self.ports: List[SCTPPort] = []

        def fakeListen(reactor: Any, port: int, factory: Any, interfaces: Any, options: Any, style: str = "one-to-many") -> SCTPPort:
            p = SCTPPort(port, factory, interfaces, options, reactor, kernel=self.kernel, style=style)
            p.startListening()
            self.ports.append(p)
            return p

        self.patch(twisted_sctp, "listenSCTP", fakeListen)
        self.factory = RecordingFactory()
        self.endpoint = clientFromString(self.reactor, "sctp:host=127.0.0.9:port=5060:bindAddress=127.0.0.3:timeout=5")

    def comeUp(self) -> None:
        assocID = self.kernel.nextAssocID
        self.kernel.peers[assocID] = [("127.0.0.9", 5060)]
        self.kernel.socket.feedNotification(commUp(assocID), ("127.0.0.9", 5060))
        self.ports[0].doRead()

    def test_connect(self) -> None:
        """
        The socket binds the bind address, port 0; connectx gets the peer;
        the Deferred fires with the protocol once the association is up.
        """
        d = self.endpoint.connect(self.factory)
        self.assertNoResult(d)
        self.assertEqual((self.kernel.bound, self.ports[0].port), (["127.0.0.3"], 0))
        self.assertEqual(self.kernel.connects, [[("127.0.0.9", 5060)]])
        self.comeUp()
        protocol = self.successResultOf(d)
        self.assertIs(protocol, self.factory.built[0])
        self.assertEqual(protocol.transport.getPeer().host, "127.0.0.9")
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_strangerRefused(self) -> None:
        """
        A second association on the client's socket gets no protocol.
        """
        d = self.endpoint.connect(self.factory)
        self.comeUp()
        self.successResultOf(d)
        self.kernel.peers[77] = [("127.0.0.8", 7000)]
        self.kernel.socket.feedNotification(commUp(77), ("127.0.0.8", 7000))
        self.ports[0].doRead()
        self.assertEqual(len(self.factory.built), 1)

    def test_closesWithTheAssociation(self) -> None:
        """
        When the association ends the socket is closed (on the next turn of
        the reactor).
        """
        from twisted_sctp.kernel.constants import AssocChangeState
        from twisted_sctp.kernel.notifications import AssocChange

        d = self.endpoint.connect(self.factory)
        self.comeUp()
        protocol = self.successResultOf(d)
        assocID = protocol.transport.association.assocID
        lost = AssocChange(state=AssocChangeState.COMM_LOST, error=0, outboundStreams=0, inboundStreams=0, assocID=assocID)
        self.kernel.socket.feedNotification(lost, ("127.0.0.9", 5060))
        self.ports[0].doRead()
        self.assertEqual(protocol.lost[0].value.how, "comm_lost")
        self.assertTrue(self.ports[0].connected)
        self.reactor.advance(0)
        self.assertFalse(self.ports[0].connected)

    def test_timeout(self) -> None:
        """
        No association within the timeout: C{TimeoutError}, socket closed.
        """
        from twisted.internet import defer

        d = self.endpoint.connect(self.factory)
        self.reactor.advance(5)
        failure = self.failureResultOf(d, defer.TimeoutError)
        self.assertIn("not up after 5.0 s", str(failure.value))
        self.assertFalse(self.ports[0].connected)

    def test_cancel(self) -> None:
        """
        Cancelling closes the socket and stops the timer.
        """
        from twisted.internet import defer

        d = self.endpoint.connect(self.factory)
        d.cancel()
        self.failureResultOf(d, defer.CancelledError)
        self.assertFalse(self.ports[0].connected)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_connectFailed(self) -> None:
        """
        C{connectx} failing: C{ConnectError}, socket closed.
        """
        from twisted_sctp.error import ConnectError

        def refuse(sock: Any, paths: Any) -> int:
            raise OSError(111, "Connection refused")

        self.kernel.connectx = refuse  # type: ignore[method-assign]
        d = self.endpoint.connect(self.factory)
        self.failureResultOf(d, ConnectError)
        self.assertFalse(self.ports[0].connected)
