# -*- test-case-name: tests.test_sip -*-
"""
Tests for L{twisted_sctp.sip.transport}: SIP framing over SCTP, keep-alives, answers
to malformed input, reply routing, and the datagram adapter, over
L{twisted_sctp.testing.FakeKernel} (no kernel SCTP).
"""

from __future__ import annotations

import socket
from typing import Any, List, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.transport.registry import AssociationState
from twisted_sctp.kernel.constants import SendFlags
from twisted_sctp.kernel.notifications import AssocChange
from twisted_sctp.kernel.constants import AssocChangeState
from twisted_sctp.sip.transport import (
    SCTP, UDP, Destination, Origin, SIPSettings, SIPStats, SIPTransport, encodeFlowToken, keepAlive,
    viaDestination,
)
from twisted_sctp.sip.message import SIPParseError, SIPRequest, SIPResponse, parseMessage, parseVia
from twisted_sctp.testing import FakeKernel, commUp

UAC = ("127.0.0.2", 5070)


def request(method: str = "OPTIONS", uri: str = "sip:127.0.0.1:5060", via: str = "SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK1", extra: str = "", body: bytes = b"") -> bytes:
    """
    @return: a well-formed request as bytes.
    """
    head = (
        "{method} {uri} SIP/2.0\r\n"
        "Via: {via}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@127.0.0.2>;tag=a1\r\n"
        "To: <sip:bob@127.0.0.1>\r\n"
        "Call-ID: call-1@127.0.0.2\r\n"
        "CSeq: 1 {method}\r\n"
        "{extra}"
        "Content-Length: {length}\r\n\r\n"
    ).format(method=method, uri=uri, via=via, extra=extra, length=len(body))
    return head.encode() + body


class Receiver:
    """
    An L{twisted_sctp.sip.transport.ISIPReceiver} that records, and can be told to
    raise.
    """

    def __init__(self) -> None:
        self.requests: List[Tuple[SIPRequest, Origin]] = []
        self.responses: List[Tuple[SIPResponse, Origin]] = []
        self.error: Optional[BaseException] = None

    def requestReceived(self, request: SIPRequest, origin: Origin) -> None:
        if self.error is not None:
            raise self.error
        self.requests.append((request, origin))

    def responseReceived(self, response: SIPResponse, origin: Origin) -> None:
        self.responses.append((response, origin))


class FakeUDP:
    """
    Records what a listener's UDP port writes.
    """

    def __init__(self) -> None:
        self.written: List[Tuple[bytes, Any]] = []

    def write(self, data: bytes, addr: Any) -> None:
        self.written.append((data, addr))

    def stopListening(self) -> None:
        pass


class LogCapture:
    """
    Collects log events for a test (and checks that none has a traceback).
    """

    def __init__(self, testCase: SynchronousTestCase) -> None:
        self.events: List[dict] = []
        globalLogPublisher.addObserver(self.events.append)
        testCase.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def warnings(self) -> List[dict]:
        return [e for e in self.events if e.get("log_level") == LogLevel.warn]

    def failures(self) -> List[dict]:
        return [e for e in self.events if "log_failure" in e and e.get("log_level") != LogLevel.debug]


class SIPTestMixin:
    """
    A L{SIPTransport} with one listener on a L{FakeKernel}.
    """

    def makeTransport(self, receiver: Any = None, **settings: Any) -> SIPTransport:
        self.reactor = MemoryReactorClock()
        self.kernel = FakeKernel()
        self.receiver = receiver if receiver is not None else Receiver()
        self.transport = SIPTransport(self.reactor, self.receiver, SIPSettings(**settings))
        self.listener = self.transport.listen(["127.0.0.1"], 5060, kernel=self.kernel)
        self.port = self.listener.sctp
        self.sock = self.kernel.socket
        return self.transport

    def up(self, assocID: int, peer: Tuple[str, int] = UAC) -> Any:
        self.kernel.peers[assocID] = [peer]
        self.sock.feedNotification(commUp(assocID), peer)
        self.port.doRead()
        return self.port.registry.byKernelID(assocID)

    def feed(self, data: bytes, assocID: int = 7, peer: Tuple[str, int] = UAC, **kw: Any) -> None:
        self.sock.feedData(data, assocID, peer, **kw)
        self.port.doRead()

    def sentMessages(self) -> List[Any]:
        return [parseMessage(data) for data, _, _ in self.sock.sent]


class FramingTests(SIPTestMixin, SynchronousTestCase):
    """
    One SCTP message is one SIP message, sent on stream 0, unordered, PPID 0.
    """

    def test_oneMessagePerSCTPMessage(self) -> None:
        """
        Each SCTP message reaches the application as one SIP message with its
        origin (transport, listener, source, association), whatever its
        stream and PPID.
        """
        self.makeTransport()
        assoc = self.up(7)
        self.feed(request(), stream=3, ppid=99)
        self.feed(request("INFO"))
        [(first, origin), (second, _)] = self.receiver.requests
        self.assertEqual((first.method, second.method), ("OPTIONS", "INFO"))
        self.assertEqual(origin, Origin(SCTP, 0, UAC, assoc))
        self.assertEqual(self.transport.stats.requests_in, 2)

    def test_bodyCutByContentLength(self) -> None:
        """
        A Content-Length shorter than the SCTP message cuts the body (there is
        never a second SIP message in one SCTP message).
        """
        self.makeTransport()
        self.up(7)
        data = request(body=b"hello").replace(b"Content-Length: 5", b"Content-Length: 2") + b"INVITE sip:x SIP/2.0\r\n\r\n"
        self.feed(data)
        [(message, _)] = self.receiver.requests
        self.assertEqual(message.body, b"he")

    def test_sendDefaults(self) -> None:
        """
        Our messages go on stream 0, unordered, PPID 0, one SCTP message each.
        """
        self.makeTransport()
        assoc = self.up(7)
        self.transport.sendResponse(SIPResponse(200, "OK", [("Via", "SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK1")]), Origin(SCTP, 0, UAC, assoc))
        [(data, info, address)] = self.sock.sent
        self.assertEqual((info.stream, info.ppid, info.assocID, address), (0, 0, 7, None))
        self.assertTrue(info.flags & SendFlags.UNORDERED)
        self.assertTrue(data.startswith(b"SIP/2.0 200 OK\r\n"))

    def test_sendConfigured(self) -> None:
        """
        The PPID (network order on the wire), stream and ordering are
        settings.
        """
        self.makeTransport(ppid=46, stream=1, unordered=False)
        assoc = self.up(7)
        self.transport.send(b"x", Destination(SCTP, 0, UAC, assoc))
        [(_, info, _)] = self.sock.sent
        self.assertEqual((info.ppid, info.stream, info.flags & SendFlags.UNORDERED), (socket.htonl(46), 1, 0))

    def test_settingsValidated(self) -> None:
        """
        A PPID or stream out of range is refused.
        """
        self.assertRaises(ValueError, SIPSettings, ppid=-1)
        self.assertRaises(ValueError, SIPSettings, stream=70000)

    def test_viaReceivedAndRport(self) -> None:
        """
        The top Via gets received= when its host is not the source address,
        and rport= (with received=) when rport was asked for.
        """
        self.makeTransport()
        self.up(7)
        self.feed(request(via="SIP/2.0/SCTP uac.example.com:5070;branch=z9hG4bK1"))
        self.feed(request(via="SIP/2.0/SCTP 127.0.0.2:5070;rport;branch=z9hG4bK2, SIP/2.0/SCTP 10.0.0.1;branch=z9hG4bK0"))
        self.feed(request())
        vias = [message.vias for message, _ in self.receiver.requests]
        self.assertEqual(vias[0][0].received, "127.0.0.2")
        self.assertEqual((vias[1][0].received, vias[1][0].rport), ("127.0.0.2", 5070))
        self.assertEqual(vias[1][1].host, "10.0.0.1")
        self.assertNotIn("received", vias[2][0].params)


class KeepAliveTests(SIPTestMixin, SynchronousTestCase):
    """
    RFC 5626 CRLF keep-alives.
    """

    def test_pingAnsweredOnSameAssociation(self) -> None:
        """
        CRLFCRLF is answered with one CRLF message on the same association;
        the application sees nothing.
        """
        self.makeTransport()
        self.up(7)
        self.feed(b"\r\n\r\n")
        [(data, info, address)] = self.sock.sent
        self.assertEqual((data, info.assocID, address), (b"\r\n", 7, None))
        self.assertEqual((self.transport.stats.keepalive_pings, self.transport.stats.keepalive_pongs), (1, 1))
        self.assertEqual(self.receiver.requests, [])

    def test_pingPongOff(self) -> None:
        """
        With crlfPingPong off, a ping is counted and not answered.
        """
        self.makeTransport(crlfPingPong=False)
        self.up(7)
        self.feed(b"\r\n\r\n")
        self.assertEqual(self.sock.sent, [])
        self.assertEqual(self.transport.stats.drops["keepalive_unanswered"], 1)

    def test_loneCRLFDropped(self) -> None:
        """
        A lone CRLF is dropped quietly and counted.
        """
        self.makeTransport()
        self.up(7)
        logs = LogCapture(self)
        self.feed(b"\r\n")
        self.assertEqual((self.sock.sent, self.transport.stats.lone_crlf, self.transport.stats.parse_errors), ([], 1, 0))
        self.assertEqual(logs.warnings(), [])

    def test_loneCRLFNotDropped(self) -> None:
        """
        With crlfDrop off, a lone CRLF is malformed input: counted as a parse
        error and warned about.
        """
        self.makeTransport(crlfDrop=False)
        self.up(7)
        logs = LogCapture(self)
        self.feed(b"\r\n")
        self.assertEqual((self.transport.stats.lone_crlf, self.transport.stats.parse_errors), (0, 1))
        self.assertEqual(len(logs.warnings()), 1)


class KeepAliveFunctionTests(SynchronousTestCase):
    """
    L{keepAlive}, the one place keep-alives are handled (the transport and
    the adapter both call it).
    """

    def test_pingPong(self) -> None:
        """
        CRLFCRLF is answered through C{pong} and counted; unanswered (no
        pong, or ping-pong off) it is counted as a drop; a lone CRLF is
        dropped quietly when asked; anything else is not a keep-alive.
        """
        stats, sent = SIPStats(), []
        self.assertTrue(keepAlive(b"\r\n\r\n", stats, True, True, lambda data: sent.append(data) is None))
        self.assertEqual((sent, stats.keepalive_pings, stats.keepalive_pongs), ([b"\r\n"], 1, 1))
        self.assertTrue(keepAlive(b"\r\n\r\n", stats, True, True, None))
        self.assertTrue(keepAlive(b"\r\n\r\n", stats, False, True, lambda data: sent.append(data) is None))
        self.assertEqual((len(sent), stats.keepalive_pings, stats.drops["keepalive_unanswered"]), (1, 3, 2))
        self.assertTrue(keepAlive(b"\r\n", stats, True, True, None))
        self.assertFalse(keepAlive(b"\r\n", stats, True, False, None))
        self.assertFalse(keepAlive(b"\n\n", stats, True, True, None))
        self.assertEqual(stats.lone_crlf, 1)


class MalformedTests(SIPTestMixin, SynchronousTestCase):
    """
    Bad input is answered where a reply can be routed, otherwise dropped;
    always counted and warned about, never with a traceback.
    """

    def check(self, data: bytes, answered: Optional[int]) -> None:
        self.makeTransport()
        self.up(7)
        logs = LogCapture(self)
        self.feed(data)
        stats = self.transport.stats
        self.assertEqual((stats.parse_errors, stats.requests_in), (1, 0))
        self.assertEqual(self.receiver.requests, [])
        if answered is None:
            self.assertEqual(self.sock.sent, [])
            self.assertEqual(stats.error_replies, 0)
        else:
            [(data, info, address)] = self.sock.sent
            self.assertTrue(data.startswith(b"SIP/2.0 %d " % answered), data[:40])
            self.assertEqual((info.assocID, address), (7, None))
            self.assertRegex(data, rb"\nTo: <sip:bob@127.0.0.1>;tag=[0-9a-f]{16}\r\n")
            self.assertEqual(stats.error_replies, 1)
        [warning] = logs.warnings()
        self.assertNotIn("log_failure", warning)
        self.assertEqual(logs.failures(), [])

    def test_garbage(self) -> None:
        """
        Bytes that are not SIP are dropped.
        """
        self.check(b"\x00\xff garbage \x16\x03\x01", None)

    def test_badStartLine(self) -> None:
        """
        A start line that is neither a request nor a status line is dropped
        (there is no method to answer).
        """
        self.check(request().replace(b"OPTIONS sip:127.0.0.1:5060 SIP/2.0", b"HELLO WORLD"), None)

    def test_badHeaderAnswered400(self) -> None:
        """
        A request with a malformed header and a Via is answered 400 on its
        association.
        """
        self.check(request().replace(b"CSeq: 1 OPTIONS", b"CSeq: one OPTIONS"), 400)

    def test_wrongVersionAnswered505(self) -> None:
        """
        Another SIP version is answered 505.
        """
        self.check(request().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505)

    def test_missingViaDropped(self) -> None:
        """
        A request without Via cannot be answered: dropped and counted.
        """
        self.check(b"\r\n".join(line for line in request().split(b"\r\n") if not line.startswith(b"Via")), None)
        self.assertEqual(self.transport.stats.drops["no_via"], 1)

    def test_missingFromAnswered400(self) -> None:
        """
        A request without From is answered 400.
        """
        self.check(b"\r\n".join(line for line in request().split(b"\r\n") if not line.startswith(b"From")), 400)

    def test_hugeHeaderAnswered513(self) -> None:
        """
        64 KB of headers is answered 513 (Message Too Large) when the Via is
        within the parser's limit.
        """
        self.check(request(extra="X-Filler: {}\r\n".format("a" * 65536)), 513)

    def test_empty(self) -> None:
        """
        An empty message is dropped.
        """
        self.check(b"", None)

    def test_ackNeverAnswered(self) -> None:
        """
        A malformed ACK is dropped, never answered.
        """
        self.check(request("ACK").replace(b"To: <sip:bob@127.0.0.1>", b"To: <sip:bob@"), None)

    def test_applicationParseError(self) -> None:
        """
        A request the application finds malformed (SIPParseError) is answered
        with the error's status.
        """
        receiver = Receiver()
        receiver.error = SIPParseError("bad Request-URI for us")
        self.makeTransport(receiver)
        self.up(7)
        self.feed(request())
        [response] = self.sentMessages()
        self.assertEqual(response.code, 400)

    def test_applicationBug(self) -> None:
        """
        An application that raises anything else is a bug: logged with its
        traceback, counted, and the request answered 500.
        """
        receiver = Receiver()
        receiver.error = ZeroDivisionError()
        self.makeTransport(receiver)
        self.up(7)
        self.feed(request())
        [response] = self.sentMessages()
        self.assertEqual(response.code, 500)
        self.assertEqual(self.transport.stats.drops["application_error"], 1)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_warningsLimited(self) -> None:
        """
        A flood of garbage gives a bounded number of warnings, then one line
        saying how many were held back.
        """
        self.makeTransport()
        self.up(7)
        logs = LogCapture(self)
        for _ in range(100):
            self.feed(b"garbage")
        self.assertEqual(len(logs.warnings()), 20)
        self.reactor.advance(11)
        self.feed(b"garbage")
        texts = [e["log_format"] for e in logs.warnings()]
        self.assertIn("{count} more SIP warnings (bad input, failed sends) were suppressed", texts)
        self.assertEqual(self.transport.stats.parse_errors, 101)


class ReplyRoutingTests(SIPTestMixin, SynchronousTestCase):
    """
    Responses go back on the request's association, else by Via.
    """

    def test_isOpenAndFlowDestination(self) -> None:
        """
        C{isOpen} says whether an origin's association is open (never for
        UDP); C{flowDestination} gives the open association a flow token
        names, and nothing for a bad token, another listener, or once the
        association has closed; C{replyDestination} then falls back to the
        top Via.
        """
        self.makeTransport()
        assoc = self.up(7)
        origin = Origin(SCTP, 0, UAC, assoc)
        self.assertTrue(self.transport.isOpen(origin))
        self.assertFalse(self.transport.isOpen(Origin(UDP, 0, UAC)))
        token = encodeFlowToken(assoc.id)
        found = self.transport.flowDestination(token)
        assert found is not None
        self.assertEqual((found.transport, found.listener, found.address, found.association), (SCTP, 0, UAC, assoc))
        for bad in (None, "zz", encodeFlowToken(assoc.id, 3), encodeFlowToken(assoc.id + 99)):
            self.assertIsNone(self.transport.flowDestination(bad), bad)
        response = parseMessage(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/SCTP 127.0.0.9:5080;branch=z9hG4bK2\r\n\r\n")
        assert isinstance(response, SIPResponse)
        self.assertEqual(self.transport.replyDestination(response, origin), origin.reply)
        self.assertEqual(self.transport.replyDestination(response, token=token), found)
        lost = AssocChange(state=AssocChangeState.COMM_LOST, error=0, outboundStreams=0, inboundStreams=0, assocID=7)
        self.sock.feedNotification(lost, UAC)
        self.port.doRead()
        self.assertFalse(self.transport.isOpen(origin))
        self.assertIsNone(self.transport.flowDestination(token))
        byVia = self.transport.replyDestination(response, origin, token)
        assert byVia is not None
        self.assertEqual((byVia.transport, byVia.address, byVia.association), (SCTP, ("127.0.0.9", 5080), None))

    def test_responseOnRequestAssociation(self) -> None:
        """
        With the association open, the response goes on it (assoc_id, no
        address).
        """
        self.makeTransport()
        self.up(7)
        self.up(8, ("127.0.0.3", 5080))
        self.feed(request(), 8, ("127.0.0.3", 5080))
        [(message, origin)] = self.receiver.requests
        from twisted_sctp.sip.message import makeResponse

        self.assertTrue(self.transport.sendResponse(makeResponse(message, 200), origin))
        [(_, info, address)] = self.sock.sent
        self.assertEqual((info.assocID, address), (8, None))

    def test_fallBackToViaWhenAssociationGone(self) -> None:
        """
        If the association ended before the response, the response goes to
        the Via's received/rport address (a new association).
        """
        self.makeTransport()
        assoc = self.up(7)
        self.feed(request(via="SIP/2.0/SCTP uac.example.com:5999;rport;branch=z9hG4bK1"))
        [(message, origin)] = self.receiver.requests
        lost = AssocChange(state=AssocChangeState.COMM_LOST, error=0, outboundStreams=0, inboundStreams=0, assocID=7)
        self.sock.feedNotification(lost, UAC)
        self.port.doRead()
        self.assertEqual(assoc.state, AssociationState.CLOSED)
        from twisted_sctp.sip.message import makeResponse

        self.assertTrue(self.transport.sendResponse(makeResponse(message, 200), origin))
        [(_, info, address)] = self.sock.sent
        self.assertEqual((info.assocID, address), (0, UAC))

    def test_sendReplyAsSendResponse(self) -> None:
        """
        C{sendReply} sends what C{sendResponse(makeResponse(...))} sends, on
        the request's association or, once it has ended, to the Via
        address; each counts one response out.
        """
        from twisted_sctp.sip.message import makeResponse

        self.makeTransport()
        assoc = self.up(7)
        self.feed(request(via="SIP/2.0/SCTP uac.example.com:5999;rport;branch=z9hG4bK1"))
        [(message, origin)] = self.receiver.requests
        extra = [("Allow", "OPTIONS"), ("Server", "test")]
        for _ in range(2):
            self.assertTrue(self.transport.sendReply(message, origin, 200, None, extra, toTag="t1"))
            self.assertTrue(self.transport.sendResponse(makeResponse(message, 200, None, extra, toTag="t1"), origin))
            lost = AssocChange(state=AssocChangeState.COMM_LOST, error=0, outboundStreams=0, inboundStreams=0, assocID=7)
            self.sock.feedNotification(lost, UAC)
            self.port.doRead()
        self.assertEqual(assoc.state, AssociationState.CLOSED)
        [a, b, c, d] = self.sock.sent
        self.assertEqual(a, b)
        self.assertEqual((a[1].assocID, a[2]), (7, None))
        self.assertEqual(c[0], a[0])
        self.assertEqual(c, d)
        self.assertEqual((c[1].assocID, c[2]), (0, UAC))
        self.assertEqual(self.transport.stats.responses_out, 4)

    def test_sendReplyUnserializable(self) -> None:
        """
        A reply that cannot be written (a header value with a line break) is
        not sent: dropped as unserializable, C{False}.
        """
        self.makeTransport()
        self.up(7)
        self.feed(request())
        [(message, origin)] = self.receiver.requests
        self.assertFalse(self.transport.sendReply(message, origin, 200, None, [("Server", "a\r\nX: y")]))
        self.assertEqual(self.sock.sent, [])
        self.assertEqual(self.transport.stats.drops["unserializable"], 1)
        self.assertEqual(self.transport.stats.responses_out, 0)

    def test_originKeptPerAssociation(self) -> None:
        """
        Messages on one association from one address share one L{Origin};
        a message from another of the peer's addresses gets its own.
        """
        self.makeTransport()
        self.up(7)
        self.kernel.peers[7] = [UAC, ("127.0.0.3", 5070)]  # a second path, learnt later
        self.feed(request())
        self.feed(request())
        self.feed(request(), 7, ("127.0.0.3", 5070))
        [(_, first), (_, second), (_, third)] = self.receiver.requests
        self.assertIs(first, second)
        self.assertEqual(third.address, ("127.0.0.3", 5070))
        self.assertIs(third.association, first.association)

    def test_viaDestination(self) -> None:
        """
        received overrides the sent-by host, rport the port; the default port
        is 5060; names and other transports give no destination.
        """
        self.assertEqual(viaDestination(parseVia("SIP/2.0/SCTP 10.0.0.1")), (SCTP, ("10.0.0.1", 5060)))
        self.assertEqual(viaDestination(parseVia("SIP/2.0/UDP h.example:5070;received=10.0.0.2")), (UDP, ("10.0.0.2", 5070)))
        self.assertEqual(viaDestination(parseVia("SIP/2.0/SCTP [::1]:5070;rport=6000")), (SCTP, ("::1", 6000)))
        self.assertIsNone(viaDestination(parseVia("SIP/2.0/SCTP h.example:5070")))
        self.assertIsNone(viaDestination(parseVia("SIP/2.0/TCP 10.0.0.1")))

    def test_udpResponseByVia(self) -> None:
        """
        A request that came over UDP is answered over UDP to its Via
        (received/rport filled in from the source).
        """
        self.makeTransport()
        udp = FakeUDP()
        self.listener.udp = udp
        self.transport.dataReceived(request(via="SIP/2.0/UDP 192.0.2.1:5070;rport;branch=z9hG4bK1"), Origin(UDP, 0, ("198.51.100.7", 40000)))
        [(message, origin)] = self.receiver.requests
        from twisted_sctp.sip.message import makeResponse

        self.transport.sendResponse(makeResponse(message, 200), origin)
        [(data, addr)] = udp.written
        self.assertEqual(addr, ("198.51.100.7", 40000))
        self.assertEqual(self.sock.sent, [])

    def test_clientReceivedRportOverridden(self) -> None:
        """
        A C{received}/C{rport} the client wrote does not choose where the
        answer goes (RFC 3261 18.2.1, RFC 3581): the packet's real source
        does (issue 16 item 3: answered at a third party before).
        """
        self.makeTransport()
        udp = FakeUDP()
        self.listener.udp = udp
        from twisted_sctp.sip.message import makeResponse

        for via in ("SIP/2.0/UDP 198.51.100.7:5070;received=127.0.0.2;rport=7777;branch=z9hG4bK1",
                    "SIP/2.0/UDP 198.51.100.7:40000;received=127.0.0.2;branch=z9hG4bK2"):
            self.transport.dataReceived(request(via=via), Origin(UDP, 0, ("198.51.100.7", 40000)))
            message, origin = self.receiver.requests.pop()
            self.transport.sendResponse(makeResponse(message, 200), origin)
            data, addr = udp.written.pop()
            self.assertEqual(addr, ("198.51.100.7", 40000))
            self.assertNotIn("127.0.0.2", parseMessage(data).getHeader("via") or "")

    def test_routeChoosesListener(self) -> None:
        """
        route() prefers the listener with an association to the peer, then
        the hint, then the first listener of the peer's family; UDP needs a
        UDP port.
        """
        self.makeTransport()
        second = self.transport.listen(["::1"], 5062, kernel=FakeKernel())
        self.up(7)
        self.assertEqual(self.transport.route(SCTP, UAC), Destination(SCTP, 0, UAC, self.port.registry.byPeer(UAC)))
        self.assertEqual(self.transport.route(SCTP, ("::1", 5070)), Destination(SCTP, 1, ("::1", 5070)))
        self.assertEqual(self.transport.route(SCTP, ("10.0.0.9", 5070), hint=1), Destination(SCTP, 0, ("10.0.0.9", 5070)))
        self.assertIsNone(self.transport.route(UDP, ("10.0.0.9", 5070)))
        self.assertIsNone(self.transport.route(SCTP, ("name.example", 5070)))
        self.assertTrue(self.transport.isLocal("127.0.0.1", 5060))
        self.assertTrue(self.transport.isLocal("[::1]", None))
        self.assertFalse(self.transport.isLocal("::1", 5060))
        self.assertTrue(self.transport.isLocal("example.com", 5062, ("example.com",)))
        self.assertEqual(second.port, 5062)

    def test_isLocalFollowsListeners(self) -> None:
        """
        isLocal's remembered answers change with the listeners: an address
        becomes ours when a listener on it starts, and stops being ours
        when the listeners stop.
        """
        self.makeTransport()
        self.assertFalse(self.transport.isLocal("::1", 5062))
        self.assertFalse(self.transport.isLocal("example.com", 5062, ("example.com",)))
        self.transport.listen(["::1"], 5062, kernel=FakeKernel())
        self.assertTrue(self.transport.isLocal("::1", 5062))
        self.assertTrue(self.transport.isLocal("example.com", 5062, ("example.com",)))
        self.assertTrue(self.transport.isLocal("127.0.0.1", 5060))
        self.transport.stopListening()
        self.assertFalse(self.transport.isLocal("127.0.0.1", 5060))
        self.assertFalse(self.transport.isLocal("::1", 5062))

    def test_sendFailureCounted(self) -> None:
        """
        A send the port refuses is counted and logged, and reported as not
        sent.
        """
        self.makeTransport()
        self.up(7)
        self.sock.sendErrors.append(OSError(22, "scripted"))
        logs = LogCapture(self)
        self.assertFalse(self.transport.send(b"x", Destination(SCTP, 0, ("10.0.0.9", 5060))))
        self.assertEqual(self.transport.stats.drops["send_failed"], 1)
        self.assertEqual(len(logs.warnings()), 1)

    def test_firstMessageToNewPeerWithoutTTLPolicy(self) -> None:
        """
        The message that opens an association goes without the PR-SCTP TTL
        policy (Linux would expire it at once); once the association is up,
        messages carry send_ttl again.
        """
        from twisted_sctp.kernel.constants import PR_SCTP_TTL

        self.makeTransport()
        self.transport.send(b"first", Destination(SCTP, 0, ("127.0.0.9", 5070)))
        self.up(9, ("127.0.0.9", 5070))
        self.transport.send(b"second", Destination(SCTP, 0, ("127.0.0.9", 5070)))
        [(_, first, _), (_, second, _)] = self.sock.sent
        self.assertEqual((first.flags & PR_SCTP_TTL, first.timetolive), (0, 32000))
        self.assertEqual(second.flags & PR_SCTP_TTL, PR_SCTP_TTL)


_TOKENS = st.sampled_from([
    b"INVITE", b"ACK", b"BYE", b"CANCEL", b"OPTIONS", b"REGISTER", b"SIP/2.0", b"SIP/2.0 200 OK", b"sip:", b"sips:",
    b"bob@127.0.0.1", b"127.0.0.1:5060", b"[::1]", b"Via:", b"v:", b"SIP/2.0/SCTP", b"SIP/2.0/UDP", b"branch=z9hG4bK",
    b"received=", b"rport", b";i=", b"a1", b"From:", b"To:", b"Call-ID:", b"CSeq:", b"1 INVITE", b"Contact:", b"*",
    b"Expires:", b"0", b"3600", b"Max-Forwards:", b"Route:", b"<sip:127.0.0.1;lr>", b"transport=udp", b"transport=sctp",
    b"Content-Length:", b"tag=", b";", b",", b"<", b">", b"\"", b" ", b"\t", b":", b"=", b"\r\n", b"\n", b"\r\n\r\n",
    b"\x00", b"\xff", b"\xc3\xa9",
])


_URIS = [
    "sip:127.0.0.1:5060", "sip:bob@127.0.0.1", "sip:bob@127.0.0.1:5060;transport=udp", "sip:bob@10.0.0.1:5070",
    "sip:name.example", "tel:+1234", "sips:bob@127.0.0.1", "sip:[::1]:5060", "sip:bob@127.0.0.1;transport=tcp",
    "sip:127.0.0.1:5070;lr", "sip:127.0.0.1;lr", "sip:bob@127.0.0.2:5070", "sip:bob@127.0.0.1:5060",
]
_OPTIONAL = st.sampled_from([
    "Route: <{uri};lr>", "Route: <{uri}>, <sip:127.0.0.1:5060;lr>", "Contact: <{uri}>", "Contact: <{uri}>;expires={n}",
    "Contact: *", "Contact: <{uri}>;q=0.{n}", "Contact: <{uri}>;q=7", "Expires: {n}", "Max-Forwards: {n}",
    "Via: SIP/2.0/SCTP 127.0.0.1:5060;branch=z9hG4bKts1;i={n}", "Via: SIP/2.0/UDP 10.0.0.1:{n};rport", "Record-Route: <{uri};lr>",
])


@st.composite
def sipMessages(draw: Any) -> bytes:
    """
    A SIP-like message: a request or a response (often carrying our own Via)
    with random, plausible headers.
    """
    uri = st.sampled_from(_URIS)
    number = st.sampled_from(["0", "1", "59", "60", "70", "3600", "a1", "99999999999", "-1", ""])
    lines = []
    if draw(st.booleans()):
        method = draw(st.sampled_from(["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "FOO"]))
        lines.append("{} {} SIP/2.0".format(method, draw(uri)))
        lines.append("Via: SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK{}{}".format(draw(number), draw(st.sampled_from(["", ";rport"]))))
    else:
        method = draw(st.sampled_from(["INVITE", "BYE", "OPTIONS"]))
        lines.append("SIP/2.0 {} Whatever".format(draw(st.sampled_from(["100", "180", "200", "404", "699"]))))
        token = draw(st.sampled_from(["1", "2", "a1", "1.1", "1.9", "zz", ""]))
        lines.append("Via: SIP/2.0/SCTP 127.0.0.1:5060;branch=z9hG4bKts0;i={}".format(token))
        lines.append(draw(st.sampled_from(["Via: SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK1", "Via: SIP/2.0/UDP 10.0.0.1:5070", "Via: SIP/2.0/SCTP name.example", "Via: SIP/2.0/TLS 10.0.0.1"])))
    lines += ["From: <sip:alice@127.0.0.2>;tag=a", "To: <sip:bob@127.0.0.1>", "Call-ID: {}".format(draw(number) or "c"), "CSeq: {} {}".format(draw(st.sampled_from(["1", "2", "1"])), method)]
    for template in draw(st.lists(_OPTIONAL, max_size=5)):
        lines.append(template.format(uri=draw(uri), n=draw(number)))
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


class PropertyTests(SIPTestMixin, SynchronousTestCase):
    """
    The full receive path (fake socket, port, SIP transport, server) never
    raises, whatever arrives.
    """

    def serve(self, messages: List[bytes]) -> Any:
        from twisted_sctp.tap import SIPService

        reactor = MemoryReactorClock()
        kernel = FakeKernel()
        service = SIPService(reactor, [(["127.0.0.1"], 5060)], kernel=kernel)
        service.startService()
        port, sock = service.ports[0], kernel.socket
        for assocID, peer in ((7, UAC), (8, ("127.0.0.3", 5080))):
            kernel.peers[assocID] = [peer]
            sock.feedNotification(commUp(assocID), peer)
        port.doRead()
        logs = LogCapture(self)
        for i, data in enumerate(messages):
            sock.feedData(data, 7 + i % 2, UAC if i % 2 == 0 else ("127.0.0.3", 5080))
            port.doRead()
            reactor.advance(30)
        self.assertEqual(port.stats.drops["protocol_error"], 0)
        self.assertEqual(logs.failures(), [])
        self.assertTrue(all(isinstance(v, int) for v in service.sipStats().values()))
        service.stopService()
        return service

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(_TOKENS, st.binary(max_size=8)), max_size=40), st.sampled_from([request(), request("INVITE", "sip:bob@127.0.0.1"), request("REGISTER", extra="Contact: <sip:bob@127.0.0.2:5070>\r\n"), b""]))
    def test_tokenSoupNeverRaises(self, tokens: List[bytes], base: bytes) -> None:
        """
        Token soup, and valid requests with soup spliced in, are answered or
        dropped without an exception reaching the port and without a logged
        failure.
        """
        soup = b"".join(tokens)
        cut = len(soup) % (len(base) + 1)
        self.serve([soup, base[:cut] + soup + base[cut:], base.replace(b"\r\n", soup or b"\r\n", 2)])

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(sipMessages(), min_size=1, max_size=6))
    def test_sipLikeMessagesNeverRaise(self, messages: List[bytes]) -> None:
        """
        Sequences of plausible requests and responses (registrations,
        routes, our own Via with good and bad flow tokens) drive the
        registrar and proxy without an exception or a logged failure.
        """
        self.serve(messages)
