# -*- test-case-name: tests.test_sipparser -*-
"""
Tests for L{twisted_sctp.sip.parser}: the one parse path, its errors and
its caches.
"""

from __future__ import annotations

import time

from twisted.trial.unittest import SynchronousTestCase

from tests.sipsamples import INVITE, OK_MULTIPLE_VIAS, OPTIONS, REGISTER, SDP, minimalRequest
from twisted_sctp.sip import headers as _sipheaders
from twisted_sctp.sip import parser as sipparser
from twisted_sctp.sip.message import CSeq, NameAddr, SIPParseError, SIPRequest, SIPResponse, Via, makeErrorResponse
from twisted_sctp.sip.parser import parseMessage
from twisted_sctp.sip.uri import parseURI


class ParseRequestTests(SynchronousTestCase):
    """
    Well-formed requests parse into L{SIPRequest}s.
    """

    def test_register(self) -> None:
        """
        A REGISTER over SCTP gives its method, URI and structured headers.
        """
        m = parseMessage(REGISTER)
        assert isinstance(m, SIPRequest)
        self.assertEqual(m.method, "REGISTER")
        self.assertEqual(m.uri, "sip:registrar.biloxi.example.com")
        self.assertEqual(
            m.vias,
            [Via("SCTP", "bobspc.biloxi.example.com", 5060, {"branch": "z9hG4bKnashds7"})],
        )
        self.assertEqual(m.branch, "z9hG4bKnashds7")
        self.assertEqual(m.maxForwards, 70)
        self.assertEqual(m.fromTag, "456248")
        self.assertIsNone(m.toTag)
        self.assertEqual(m.toAddr, NameAddr("Bob", "sip:bob@biloxi.example.com", {}))
        self.assertEqual(m.callID, "843817637684230@998sdasdh09")
        self.assertEqual(m.cseq, CSeq(1826, "REGISTER"))
        [contact] = m.contacts
        self.assertEqual(contact.uri, "sip:bob@192.0.2.4;transport=sctp")
        self.assertEqual(contact.expires, 3600)
        self.assertEqual(parseURI(contact.uri).transport, "sctp")
        self.assertEqual(m.expires, 7200)
        self.assertEqual(m.contentLength, 0)
        self.assertEqual(m.body, b"")
        self.assertEqual(m.toBytes(), REGISTER)

    def test_inviteWithSDP(self) -> None:
        """
        An INVITE keeps its SDP body and its Route set.
        """
        m = parseMessage(INVITE)
        assert isinstance(m, SIPRequest)
        self.assertEqual(m.method, "INVITE")
        self.assertEqual(m.body, SDP)
        self.assertEqual(m.contentLength, len(SDP))
        self.assertEqual(m.getHeader("content-type"), "application/sdp")
        self.assertEqual(m.fromAddr, NameAddr("Alice", "sip:alice@atlanta.example.com",
                                              {"tag": "1928301774"}))
        self.assertEqual(
            [r.uri for r in m.routes],
            ["sip:p1.example.com;lr", "sip:p2.example.com;lr",
             "sip:p3.example.com:5070;lr;transport=sctp"],
        )
        last = parseURI(m.routes[-1].uri)
        self.assertTrue(last.lr)
        self.assertEqual((last.host, last.port, last.transport),
                         ("p3.example.com", 5070, "sctp"))
        self.assertEqual(m.recordRoutes, [])
        self.assertEqual(m.toBytes(), INVITE)

    def test_options(self) -> None:
        """
        An OPTIONS request parses, and unknown headers are kept in order.
        """
        m = parseMessage(OPTIONS)
        assert isinstance(m, SIPRequest)
        self.assertEqual(m.method, "OPTIONS")
        self.assertEqual(m.cseq, CSeq(63104, "OPTIONS"))
        self.assertEqual(m.getHeaders("Accept"), ["application/sdp"])
        self.assertEqual([n for n, _ in m.headers][-2:], ["Accept", "Content-Length"])
        self.assertEqual(m.toBytes(), OPTIONS)

    def test_compactHeaders(self) -> None:
        """
        Compact forms are found under their full names and written back as
        they came.
        """
        data = (
            b"INVITE sip:bob@b.example.com SIP/2.0\r\n"
            b"v: SIP/2.0/SCTP a.example.com;branch=z9hG4bK1\r\n"
            b"f: <sip:alice@a.example.com>;tag=9\r\n"
            b"t: <sip:bob@b.example.com>\r\n"
            b"i: cid@a\r\n"
            b"CSeq: 1 INVITE\r\n"
            b"m: <sip:alice@192.0.2.1>\r\n"
            b"c: application/sdp\r\n"
            b"e: gzip\r\n"
            b"k: outbound\r\n"
            b"s: lunch\r\n"
            b"l: 3\r\n\r\nabc"
        )
        m = parseMessage(data)
        self.assertEqual(m.topVia, Via("SCTP", "a.example.com", None, {"branch": "z9hG4bK1"}))
        self.assertEqual(m.fromTag, "9")
        self.assertEqual(m.toAddr, NameAddr(None, "sip:bob@b.example.com", {}))
        self.assertEqual(m.callID, "cid@a")
        self.assertEqual(m.contacts[0].uri, "sip:alice@192.0.2.1")
        self.assertEqual(m.getHeader("Content-Type"), "application/sdp")
        self.assertEqual(m.getHeader("CONTENT-ENCODING"), "gzip")
        self.assertEqual(m.getHeader("Supported"), "outbound")
        self.assertEqual(m.getHeader("subject"), "lunch")
        self.assertEqual(m.contentLength, 3)
        self.assertEqual(m.getHeader("L"), "3")
        self.assertEqual(m.toBytes(), data)

    def test_foldedHeaders(self) -> None:
        """
        Continuation lines join the previous header with one space.
        """
        m = parseMessage(minimalRequest(
            b"Subject: I know you're there,\r\n"
            b"        pick up the phone\r\n"
            b"\tand talk to me!\r\n"
            b"Route: <sip:p1.example.com;lr>,\r\n <sip:p2.example.com;lr>\r\n"
        ))
        self.assertEqual(m.getHeader("Subject"),
                         "I know you're there, pick up the phone and talk to me!")
        self.assertEqual(len(m.routes), 2)

    def test_headerWhitespace(self) -> None:
        """
        Space before the colon and around the value is not part of it.
        """
        m = parseMessage(minimalRequest(b"X-Thing   :   spaced  value \t\r\nX-Empty:\r\n"))
        self.assertEqual(m.getHeader("x-thing"), "spaced  value")
        self.assertEqual(m.getHeader("X-Empty"), "")
        self.assertIsNone(m.getHeader("X-Missing"))

    def test_bareLineFeeds(self) -> None:
        """
        Lines ending in a bare LF are accepted.
        """
        m = parseMessage(minimalRequest().replace(b"\r\n", b"\n") + b"body")
        self.assertEqual(m.callID, "c1")
        self.assertEqual(m.body, b"body")

    def test_leadingLineBreaks(self) -> None:
        """
        Line breaks before the start line are skipped (RFC 3261 7.5).
        """
        m = parseMessage(b"\r\n\r\n\r\n" + OPTIONS)
        self.assertEqual(m.toBytes(), OPTIONS)

    def test_nonUTF8Headers(self) -> None:
        """
        Header octets that are not UTF-8 survive a round trip unchanged, and
        UTF-8 is decoded.
        """
        data = minimalRequest(b"Subject: caf\xc3\xa9 \xff\xfe\r\n")
        m = parseMessage(data)
        self.assertEqual(m.getHeader("Subject"), "caf\xe9 \udcff\udcfe")
        self.assertEqual(m.toBytes(), data.replace(b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n"))

    def test_contentLengthShorterThanBody(self) -> None:
        """
        As for UDP (RFC 3261 18.3), bytes after Content-Length are discarded,
        whitespace or not.
        """
        m = parseMessage(minimalRequest(b"Content-Length: 2\r\n") + b"ab\r\n")
        self.assertEqual(m.body, b"ab")
        m = parseMessage(minimalRequest(b"Content-Length: 2\r\n") + b"abINVITE sip:x")
        self.assertEqual(m.body, b"ab")

    def test_noContentLength(self) -> None:
        """
        Without Content-Length the body is the rest of the message.
        """
        m = parseMessage(minimalRequest() + b"\x00binary\r\n")
        self.assertEqual(m.body, b"\x00binary\r\n")
        self.assertIsNone(m.contentLength)

    def test_missingViaIsNotAParseError(self) -> None:
        """
        A request without Via or other mandatory headers parses, with empty
        accessors: refusing it is for the layer above.
        """
        m = parseMessage(b"OPTIONS sip:x.example.com SIP/2.0\r\n\r\n")
        self.assertEqual(m.vias, [])
        self.assertIsNone(m.topVia)
        self.assertIsNone(m.branch)
        self.assertIsNone(m.cseq)
        self.assertIsNone(m.callID)
        self.assertIsNone(m.fromAddr)
        self.assertEqual(m.contacts, [])

    def test_nonSIPRequestURI(self) -> None:
        """
        A Request-URI of another scheme (tel:) is accepted as text.
        """
        m = parseMessage(b"INVITE tel:+15551234567 SIP/2.0\r\n\r\n")
        assert isinstance(m, SIPRequest)
        self.assertEqual(m.uri, "tel:+15551234567")


class ParseResponseTests(SynchronousTestCase):
    """
    Well-formed responses parse into L{SIPResponse}s.
    """

    def test_okWithMultipleVias(self) -> None:
        """
        Via values on several lines and comma-separated on one are listed in
        order, with IPv6, rport and received.
        """
        m = parseMessage(OK_MULTIPLE_VIAS)
        assert isinstance(m, SIPResponse)
        self.assertEqual((m.code, m.reason), (200, "OK"))
        vias = m.vias
        self.assertEqual(len(vias), 3)
        self.assertEqual(m.topVia, vias[0])
        self.assertEqual(vias[0].received, "192.0.2.3")
        self.assertEqual(m.branch, "z9hG4bK4b43c2ff8.1")
        self.assertEqual(vias[1].host, "bigbox3.site3.atlanta.example.com")
        self.assertEqual(
            vias[2],
            Via("SCTP", "2001:db8::10", 5070,
                {"branch": "z9hG4bK776asdhds", "rport": "5071", "received": "2001:db8::99"}),
        )
        self.assertEqual(vias[2].rport, 5071)
        self.assertEqual(str(vias[2]), "SIP/2.0/SCTP [2001:db8::10]:5070"
                         ";branch=z9hG4bK776asdhds;rport=5071;received=2001:db8::99")
        self.assertEqual(m.toTag, "a6c85cf")
        self.assertEqual(len(m.recordRoutes), 2)
        self.assertEqual(m.toBytes(), OK_MULTIPLE_VIAS)

    def test_emptyReasonPhrase(self) -> None:
        """
        A status line without a reason phrase parses with an empty one.
        """
        for line in (b"SIP/2.0 180", b"SIP/2.0 180 "):
            m = parseMessage(line + b"\r\n\r\n")
            assert isinstance(m, SIPResponse)
            self.assertEqual((m.code, m.reason), (180, ""))

    def test_reasonWithSpaces(self) -> None:
        """
        The reason phrase runs to the end of the line.
        """
        m = parseMessage(b"SIP/2.0 481 Call/Transaction Does Not Exist\r\n\r\n")
        assert isinstance(m, SIPResponse)
        self.assertEqual(m.reason, "Call/Transaction Does Not Exist")


class ParseErrorTests(SynchronousTestCase):
    """
    Bad input raises L{SIPParseError} with a reason and status hint.
    """

    def assertParseError(self, data: bytes, reasonPart: str, statusHint: int = 400,
                         maxHeaderBytes: int = 16384) -> SIPParseError:
        """
        Assert that C{data} fails to parse with C{reasonPart} in the reason.
        """
        with self.assertRaises(SIPParseError) as c:
            parseMessage(data, maxHeaderBytes)
        error: SIPParseError = c.exception
        self.assertIn(reasonPart, error.reason)
        self.assertEqual(error.statusHint, statusHint)
        self.assertIn(reasonPart, str(error))
        return error

    def test_tinyMessages(self) -> None:
        """
        Empty, 2- and 4-byte messages are refused with a reason each (a
        keep-alive holds only line breaks: the transport answers or drops
        it before parsing).
        """
        self.assertParseError(b"", "empty")
        self.assertParseError(b"\r\n", "only line breaks")
        self.assertParseError(b"\r\n\r\n", "only line breaks")
        self.assertParseError(b"\n\n", "only line breaks")
        self.assertParseError(b"SIP/", "no empty line")
        self.assertParseError(b"ab\r\n", "no empty line")

    def test_garbage(self) -> None:
        """
        Random bytes are a bad start line.
        """
        e = self.assertParseError(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                                  "control character in start line")
        self.assertIsNone(e.method)
        self.assertParseError(b"\xde\xad\xbe\xef\r\n\r\n", "bad start line")
        self.assertParseError(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad start line")

    def test_badStartLines(self) -> None:
        """
        Malformed request and status lines are refused.
        """
        for line, reason in [(b"INVITE sip:x SIP/2.0 extra", "bad start line"),
                             (b"INVITE  sip:x SIP/2.0", "bad start line"),
                             (b"INVITE sip:x", "bad start line"),
                             (b"INV@TE sip:x SIP/2.0", "bad start line"),
                             (b"INVITE sip:a@ SIP/2.0", "Request-URI"),
                             (b"INVITE noscheme SIP/2.0", "Request-URI"),
                             (b"SIP/2.0 OK", "bad status line"),
                             (b"SIP/2.0 099 Low", "not in 100-699"),
                             (b"SIP/2.0 2000 OK", "bad status line"),
                             (b"SIP/1.0 200 OK", "bad status line")]:
            self.assertParseError(line + b"\r\n\r\n", reason)

    def test_unsupportedVersion(self) -> None:
        """
        A request line of another SIP version hints 505 and keeps what a
        server needs to answer.
        """
        e = self.assertParseError(minimalRequest().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1),
                                  "version", 505)
        self.assertEqual(e.method, "OPTIONS")
        self.assertEqual([n for n, _ in e.headers], ["Via", "From", "To", "Call-ID", "CSeq"])
        response = makeErrorResponse(e, toTag="t1")
        assert response is not None
        self.assertEqual((response.code, response.reason), (505, "Version Not Supported"))
        self.assertEqual(response.toTag, "t1")
        self.assertEqual(response.branch, "z9hG4bKa")

    def test_hugeHeaderBlock(self) -> None:
        """
        64 KB of headers are refused quickly (513), keeping the headers
        that came before.
        """
        data = minimalRequest(b"X-Pad: " + b"a" * 65536 + b"\r\n")
        started = time.perf_counter()
        e = self.assertParseError(data, "larger than 16384 bytes", 513)
        self.assertLess(time.perf_counter() - started, 0.5)
        self.assertEqual(e.method, "OPTIONS")
        self.assertEqual(len(e.headers), 5)
        manyLines = minimalRequest(b"X-A: b\r\n" * 8000)
        e = self.assertParseError(manyLines, "larger than", 513)
        self.assertEqual(e.headers[0][0], "Via")

    def test_hugeHeaderBeforeDialogHeaders(self) -> None:
        """
        A header block over the limit because of one huge header that comes
        before From, To, Call-ID and CSeq (issue 16 item 9: a 1,000,000-byte
        message got a bare 513): the dialog headers past the limit are
        still found (compact forms and continuation lines too), so the 513
        carries the Call-ID; the lines kept stay within the limit.
        """
        request = minimalRequest()
        via, rest = request.split(b"From:", 1)
        data = via + b"X-Pad: " + b"p" * 999000 + b"\r\n f: <sip:a@a.example.com>;tag=9\r\nFrom:" + rest
        data = data.replace(b"Call-ID: c1\r\n", b"i: c1\r\n").replace(b"CSeq: 1 OPTIONS\r\n", b"CSeq:\r\n  1 OPTIONS\r\n")
        e = self.assertParseError(data, "larger than 16384 bytes", 513)
        self.assertEqual((e.method, [n for n, _ in e.headers]), ("OPTIONS", ["Via", "From", "To", "i", "CSeq"]))
        response = makeErrorResponse(e, toTag="t1")
        assert response is not None
        self.assertEqual((response.code, response.callID, response.cseq.number, response.branch), (513, "c1", 1, "z9hG4bKa"))
        manyVias = minimalRequest(b"Via: SIP/2.0/SCTP b.example.com;branch=z9hG4bKb\r\n" * 2000)
        e = self.assertParseError(manyVias, "larger than", 513)
        self.assertLessEqual(sum(len(n) + len(v) + 4 for n, v in e.headers), 16384)
        self.assertEqual([n for n, _ in e.headers[:4]], ["Via", "From", "To", "Call-ID"])

    def test_headerLimitBoundary(self) -> None:
        """
        A header block of exactly C{maxHeaderBytes} is accepted; one byte
        more is not.
        """
        data = minimalRequest(b"X: 1\r\n")
        size = len(data) - 4
        self.assertEqual(parseMessage(data, size).callID, "c1")
        self.assertParseError(data, "larger than", 513, size - 1)
        self.assertParseError(b"\r\n" * 10 + data, "larger than", 513, size)

    def test_badContentLength(self) -> None:
        """
        Content-Length larger than the body, not a number, negative or
        repeated is refused.
        """
        self.assertParseError(minimalRequest(b"Content-Length: 10\r\n") + b"short", "exceeds")
        for value in (b"ten", b"-1", b"1.5", b"", b"9" * 5000, b"\xd9\xa3"):
            self.assertParseError(minimalRequest(b"Content-Length: " + value + b"\r\n"),
                                  "Content-Length")
        self.assertParseError(minimalRequest(b"l: 0\r\nContent-Length: 0\r\n"),
                              "more than one Content-Length")

    def test_badCSeq(self) -> None:
        """
        A negative, non-numeric, oversized or mismatched CSeq is refused, and
        the error still carries the dialog headers.
        """
        for value in (b"-1 OPTIONS", b"abc OPTIONS", b"1", b"2147483648 OPTIONS",
                      b"1 OPTIONS extra", b"12345678901 OPTIONS"):
            data = minimalRequest().replace(b"CSeq: 1 OPTIONS", b"CSeq: " + value)
            e = self.assertParseError(data, "CSeq")
            self.assertEqual(e.method, "OPTIONS")
            self.assertIn(("Call-ID", "c1"), e.headers)
            self.assertIsNotNone(makeErrorResponse(e))
        self.assertParseError(minimalRequest().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"),
                              "does not match")

    def test_otherBadHeaders(self) -> None:
        """
        Bad Max-Forwards, Expires, Call-ID and duplicated single headers are
        refused.
        """
        for line, reason in [(b"Max-Forwards: many", "Max-Forwards"),
                             (b"Expires: Thu, 01 Dec 1994 16:00:00 GMT", "Expires"),
                             (b"Call-ID: a b", "Call-ID"),
                             (b"To: <sip:c@h>", "more than one To")]:
            data = minimalRequest(line + b"\r\n").replace(b"Call-ID: c1\r\n", b"")
            self.assertParseError(data, reason)

    def test_badHeaderLines(self) -> None:
        """
        A line without a colon, a continuation first, a NUL or a bare CR is
        refused, keeping the dialog headers read before it.
        """
        e = self.assertParseError(minimalRequest(b"No colon here\r\n"), "bad header line")
        self.assertEqual(len(e.headers), 5)
        e = self.assertParseError(b"OPTIONS sip:x SIP/2.0\r\n folded\r\n\r\n", "continuation")
        self.assertEqual(e.method, "OPTIONS")
        self.assertParseError(minimalRequest(b"X: a\x00b\r\n"), "control character")
        self.assertParseError(minimalRequest(b"X: a\rb\r\n"), "control character")
        e = self.assertParseError(
            b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/SCTP a\r\n: novalue\r\nCSeq: 1 OPTIONS\r\n\r\n",
            "bad header line")
        self.assertEqual(e.headers, [("Via", "SIP/2.0/SCTP a")])

    def test_makeErrorResponseRefusals(self) -> None:
        """
        No error response is made for responses, ACKs, or without a Via.
        """
        for data in (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/SCTP a\r\nCSeq: x\r\n\r\n",
                     minimalRequest(method=b"ACK").replace(b"CSeq: 1 ACK", b"CSeq: x"),
                     b"OPTIONS sip:x SIP/2.0\r\nCSeq: x\r\n\r\n"):
            with self.assertRaises(SIPParseError) as c:
                parseMessage(data)
            self.assertIsNone(makeErrorResponse(c.exception))


class KnownValueCacheTests(SynchronousTestCase):
    """
    The parser's caches of header lines and CSeq values: results as without
    them, and bounded.
    """

    def setUp(self) -> None:
        sipparser._KNOWN_LINES.clear()
        _sipheaders._CSEQS.clear()

    def test_repeatedLinesParseTheSame(self) -> None:
        """
        A message parsed with its lines known parses as it did the first
        time; lines over the length bound are not kept.
        """
        long = b"Subject: " + b"s" * 200
        data = minimalRequest(long + b"\r\n")
        first = parseMessage(data)
        self.assertIn("CSeq: 1 OPTIONS", sipparser._KNOWN_LINES)
        self.assertNotIn(long.decode(), sipparser._KNOWN_LINES)
        again = parseMessage(data)
        self.assertEqual(again, first)
        self.assertEqual(again.cseq, first.cseq)

    def test_knownLinesDoNotHideErrors(self) -> None:
        """
        A known line does not make a message with a bad line parse.
        """
        parseMessage(minimalRequest())
        self.assertRaises(SIPParseError, parseMessage, minimalRequest(b"Bad Name: x\r\n"))
        self.assertRaises(SIPParseError, parseMessage, minimalRequest(b"X: a\x01b\r\n"))

    def test_linesBounded(self) -> None:
        """
        A flood of distinct lines keeps at most C{_KNOWN_LINES_SIZE} of them.
        """
        for n in range(sipparser._KNOWN_LINES_SIZE + 50):
            parseMessage(minimalRequest(b"X-N: %d\r\n" % n))
            self.assertLessEqual(len(sipparser._KNOWN_LINES), sipparser._KNOWN_LINES_SIZE)
        self.assertEqual(parseMessage(minimalRequest(b"X-N: 1\r\n")).getHeader("x-n"), "1")

    def test_cseqKept(self) -> None:
        """
        A CSeq text parsed again gives an equal value; bad ones still fail,
        long ones are not kept, the cache stays bounded.
        """
        self.assertEqual(_sipheaders.parseCSeq("7 INVITE"), CSeq(7, "INVITE"))
        self.assertEqual(_sipheaders.parseCSeq("7 INVITE"), CSeq(7, "INVITE"))
        self.assertRaises(SIPParseError, _sipheaders.parseCSeq, "7 INVITE x")
        self.assertRaises(SIPParseError, _sipheaders.parseCSeq, "2147483648 INVITE")
        padded = "7 " + "X" * 100
        self.assertEqual(_sipheaders.parseCSeq(padded).method, "X" * 100)
        self.assertNotIn(padded, _sipheaders._CSEQS)
        for n in range(_sipheaders._CSEQS_SIZE + 10):
            self.assertEqual(_sipheaders.parseCSeq("{} ACK".format(n)).number, n)
        self.assertLessEqual(len(_sipheaders._CSEQS), _sipheaders._CSEQS_SIZE)
