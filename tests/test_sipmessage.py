# -*- test-case-name: tests.test_sipmessage -*-
"""
Tests for L{twisted_sctp.sip.message}, the sans-io SIP message layer.
"""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.sip import headers as _sipheaders

from twisted_sctp.sip import message as sipmessage
from twisted_sctp.sip.message import (
    KEEPALIVE_PONG,
    CSeq,
    LocalSIPError,
    NameAddr,
    SIPParseError,
    SIPRequest,
    SIPResponse,
    SIPURI,
    Via,
    isKeepAlivePing,
    isLoneCRLF,
    makeErrorResponse,
    makeResponse,
    newBranch,
    newTag,
    parseMessage,
    parseNameAddr,
    parseNameAddrList,
    parseURI,
    parseVia,
    popVia,
    prependVia,
    reasonPhrase,
    responseBytes,
)

REGISTER = (
    b"REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/SCTP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n"
    b"Call-ID: 843817637684230@998sdasdh09\r\n"
    b"CSeq: 1826 REGISTER\r\n"
    b"Contact: <sip:bob@192.0.2.4;transport=sctp>;expires=3600\r\n"
    b"Expires: 7200\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
    b"s=-\r\n"
    b"c=IN IP4 pc33.atlanta.example.com\r\n"
    b"t=0 0\r\n"
    b"m=audio 49172 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
)

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/SCTP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com;transport=sctp>\r\n"
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Route: <sip:p3.example.com:5070;lr;transport=sctp>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode("ascii") + b"\r\n"
    b"\r\n" + SDP
)

OPTIONS = (
    b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/SCTP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:carol@chicago.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 63104 OPTIONS\r\n"
    b"Accept: application/sdp\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

OK_MULTIPLE_VIAS = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/SCTP server10.biloxi.example.com"
    b";branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n"
    b"Via: SIP/2.0/SCTP bigbox3.site3.atlanta.example.com"
    b";branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2, "
    b"SIP/2.0/SCTP [2001:db8::10]:5070;branch=z9hG4bK776asdhds;rport=5071"
    b";received=2001:db8::99\r\n"
    b"Record-Route: <sip:server10.biloxi.example.com;lr>, "
    b"<sip:bigbox3.site3.atlanta.example.com;lr>\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def minimalRequest(extra: bytes = b"", method: bytes = b"OPTIONS") -> bytes:
    """
    @return: a small valid request, with C{extra} header lines added.
    """
    return (
        method + b" sip:x.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/SCTP a.example.com;branch=z9hG4bKa\r\n"
        b"From: <sip:a@a.example.com>;tag=1\r\n"
        b"To: <sip:b@x.example.com>\r\n"
        b"Call-ID: c1\r\n"
        b"CSeq: 1 " + method + b"\r\n" + extra + b"\r\n"
    )


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


class ViaTests(SynchronousTestCase):
    """
    Via values parse into L{Via} objects.
    """

    def viaOf(self, value: bytes) -> list[Via]:
        """
        @return: the Via values of a request with one C{value} Via line.
        """
        return parseMessage(b"OPTIONS sip:x SIP/2.0\r\nVia: " + value + b"\r\n\r\n").vias

    def test_rportWithoutValue(self) -> None:
        """
        A bare C{rport} is present with no value.
        """
        [via] = self.viaOf(b"SIP/2.0/SCTP 192.0.2.1:5060;rport;branch=z9hG4bKx")
        self.assertIn("rport", via.params)
        self.assertIsNone(via.params["rport"])
        self.assertIsNone(via.rport)
        self.assertIsNone(via.received)

    def test_whitespaceAndCase(self) -> None:
        """
        Linear white space around the slashes and colon is allowed, the
        transport is upper-cased and the host lower-cased.
        """
        [via] = self.viaOf(b"SIP / 2.0 / sctp  Host.Example.COM : 5062 ; Branch=z9hG4bKy")
        self.assertEqual(via, Via("SCTP", "host.example.com", 5062, {"branch": "z9hG4bKy"}))

    def test_ipv6WithoutPort(self) -> None:
        """
        A bracketed IPv6 host without port parses to the bare address.
        """
        [via] = self.viaOf(b"SIP/2.0/TLS-SCTP [::1];branch=z9hG4bKz")
        self.assertEqual((via.transport, via.host, via.port), ("TLS-SCTP", "::1", None))
        self.assertEqual(str(via), "SIP/2.0/TLS-SCTP [::1];branch=z9hG4bKz")

    def test_quotedParameterWithComma(self) -> None:
        """
        A comma inside a quoted parameter does not split the Via.
        """
        vias = self.viaOf(b'SIP/2.0/SCTP a;x="1,2";branch=z9hG4bK1, SIP/2.0/SCTP b')
        self.assertEqual([v.host for v in vias], ["a", "b"])
        self.assertEqual(vias[0].params["x"], '"1,2"')

    def test_badVias(self) -> None:
        """
        Malformed Via values are a parse error (400).
        """
        for bad in (b"SIP/2.0/SCTP", b"SIP/3.0/SCTP a", b"SCTP a", b"SIP/2.0/SCTP a:99999",
                    b"SIP/2.0/SCTP [zz::1]", b"SIP/2.0/SCTP a;;branch=1",
                    b"SIP/2.0/SCTP a b", b'SIP/2.0/SCTP a;x="open', b"SIP/2.0/SCTP a,"):
            with self.assertRaises(SIPParseError) as c:
                self.viaOf(bad)
            self.assertEqual(c.exception.statusHint, 400)
            self.assertIn("Via", c.exception.reason)


class URITests(SynchronousTestCase):
    """
    L{parseURI} and L{SIPURI}.
    """

    def test_full(self) -> None:
        """
        Every part of a SIP URI is read.
        """
        uri = parseURI("sips:alice:secret@atlanta.example.com:5061"
                       ";transport=tls-sctp;maddr=239.255.255.1;lr?subject=project&priority=urgent")
        self.assertEqual(uri, SIPURI(
            "sips", "alice", "secret", "atlanta.example.com", 5061,
            {"transport": "tls-sctp", "maddr": "239.255.255.1", "lr": None},
            {"subject": "project", "priority": "urgent"}))
        self.assertTrue(uri.lr)
        self.assertEqual(uri.param("MADDR"), "239.255.255.1")

    def test_ipv6(self) -> None:
        """
        An IPv6 host is bracketed in the text and bare in C{host}.
        """
        uri = parseURI("sip:bob@[2001:DB8::1]:5060;transport=sctp")
        self.assertEqual((uri.host, uri.port), ("2001:db8::1", 5060))
        self.assertEqual(str(uri), "sip:bob@[2001:db8::1]:5060;transport=sctp")
        self.assertEqual(str(parseURI("sip:[::1]")), "sip:[::1]")

    def test_transportCaseInsensitive(self) -> None:
        """
        The transport parameter is found whatever the case of its name and
        value.
        """
        uri = parseURI("sip:h.example.com;TRANSPORT=SCTP")
        self.assertEqual(uri.transport, "sctp")
        self.assertEqual(uri.param("Transport"), "SCTP")
        self.assertIsNone(parseURI("sip:h.example.com").transport)

    def test_canonicalText(self) -> None:
        """
        C{str()} lower-cases scheme, host and parameter names, and keeps the
        user part and values as written.
        """
        uri = parseURI("SIP:Alice%20B@Atlanta.Example.COM;Transport=SCTP;LR")
        self.assertEqual(str(uri), "sip:Alice%20B@atlanta.example.com;transport=SCTP;lr")
        self.assertEqual(parseURI(str(uri)), uri)

    def test_userWithSemicolon(self) -> None:
        """
        The user part may hold C{;} (user-unreserved).
        """
        uri = parseURI("sip:alice;day=tuesday@h.example.com")
        self.assertEqual((uri.user, uri.host, uri.params), ("alice;day=tuesday", "h.example.com", {}))

    def test_noUser(self) -> None:
        """
        A URI without a user part has C{user} C{None}.
        """
        uri = parseURI("sip:192.0.2.1:5060")
        self.assertEqual((uri.user, uri.password, uri.host, uri.port), (None, None, "192.0.2.1", 5060))

    def test_bad(self) -> None:
        """
        Malformed URIs raise L{SIPParseError}.
        """
        for bad in ("", "sip:", "tel:+123", "http://x", "sip:@h", "sip:h:port", "sip:h:70000",
                    "sip:[::1", "sip:[nope]", "sip:a b", "sip:h;", "sip:h?x", "sip:h\u00e9",
                    "sip:h;=v", "sip:u@"):
            self.assertRaises(SIPParseError, parseURI, bad)


class NameAddrTests(SynchronousTestCase):
    """
    From, To, Contact, Route and Record-Route values.
    """

    def test_quotedDisplayName(self) -> None:
        """
        A quoted display name may hold escaped quotes and C{<}, C{,} or C{;}.
        """
        m = parseMessage(minimalRequest(
            b'Contact: "Bob \\"B\\" <x>, y;z" <sip:bob@h>;q=0.7, <sip:b2@h>\r\n'))
        first, second = m.contacts
        self.assertEqual(first.displayName, 'Bob "B" <x>, y;z')
        self.assertEqual(first.params, {"q": "0.7"})
        self.assertEqual(str(first), '"Bob \\"B\\" <x>, y;z" <sip:bob@h>;q=0.7')
        self.assertEqual(second, NameAddr(None, "sip:b2@h", {}))

    def test_addrSpecParameters(self) -> None:
        """
        Without angle brackets, parameters belong to the header, not the URI.
        """
        m = parseMessage(minimalRequest().replace(
            b"From: <sip:a@a.example.com>;tag=1", b"From: sip:a@a.example.com;tag=77"))
        self.assertEqual(m.fromAddr, NameAddr(None, "sip:a@a.example.com", {"tag": "77"}))

    def test_contactWildcard(self) -> None:
        """
        The Contact wildcard parses with Expires 0.
        """
        m = parseMessage(minimalRequest(b"Contact: *\r\nExpires: 0\r\n", b"REGISTER"))
        [contact] = m.contacts
        self.assertTrue(contact.isWildcard)
        self.assertEqual(str(contact), "*")
        self.assertEqual(m.expires, 0)

    def test_contactExpires(self) -> None:
        """
        C{expires} reads the parameter; a huge value is clamped to 2**32-1.
        """
        m = parseMessage(minimalRequest(
            b"Contact: <sip:a@h>;expires=60, <sip:b@h>;expires=99999999999, <sip:c@h>\r\n"))
        self.assertEqual([c.expires for c in m.contacts], [60, 2**32 - 1, None])

    def test_badNameAddrs(self) -> None:
        """
        Malformed name-addrs are parse errors.
        """
        for line in (b"Contact: <sip:a@h", b'Contact: "open <sip:a@h>', b"Contact: ",
                     b"Contact: nouri", b"Route: <sip:a@h>;", b'Contact: "a" sip:a@h',
                     b"Contact: <sip:a b@h>"):
            with self.assertRaises(SIPParseError, msg=line):
                parseMessage(minimalRequest(line + b"\r\n"))


class SerialisationTests(SynchronousTestCase):
    """
    L{SIPRequest.toBytes}, L{SIPResponse.toBytes} and header editing.
    """

    def test_contentLengthRecomputed(self) -> None:
        """
        C{toBytes} rewrites the first Content-Length in place from the body
        and drops any others.
        """
        r = SIPRequest("MESSAGE", "sip:a@h", [("l", "99"), ("X", "1"), ("Content-Length", "5")],
                       b"hello!")
        self.assertEqual(r.toBytes(), b"MESSAGE sip:a@h SIP/2.0\r\nl: 6\r\nX: 1\r\n\r\nhello!")

    def test_contentLengthAdded(self) -> None:
        """
        Without a Content-Length, one is added last.
        """
        r = SIPResponse(200, "OK", [("CSeq", "1 OPTIONS")])
        self.assertEqual(r.toBytes(), b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")

    def test_headerEditing(self) -> None:
        """
        C{addHeader}, C{setHeader} and C{removeHeader} match names without
        regard to case or compact form.
        """
        r = SIPRequest("OPTIONS", "sip:h", [("s", "one"), ("X", "x"), ("Subject", "two")])
        r.setHeader("SUBJECT", "three")
        self.assertEqual(r.headers, [("SUBJECT", "three"), ("X", "x")])
        r.addHeader("x", "y")
        self.assertEqual(r.getHeaders("X"), ["x", "y"])
        self.assertEqual(r.removeHeader("x"), 2)
        self.assertEqual(r.headers, [("SUBJECT", "three")])

    def test_localErrors(self) -> None:
        """
        Values that cannot be written raise L{LocalSIPError}, not
        L{SIPParseError}.
        """
        bad = [
            SIPRequest("OPTIONS", "sip:h", [("X", "a\r\nVia: injected")]),
            SIPRequest("OPTIONS", "sip:h", [("Bad Name", "a")]),
            SIPRequest("BAD METHOD", "sip:h"),
            SIPRequest("OPTIONS", "sip:h h"),
            SIPRequest("OPTIONS", "sip:h", [("X", "\ud800")]),
            SIPResponse(700, "Too High"),
            SIPResponse(200, "OK\r\n"),
        ]
        for message in bad:
            with self.assertRaises(LocalSIPError):
                message.toBytes()
            self.assertFalse(issubclass(LocalSIPError, SIPParseError))

    def test_parseMessageMisuse(self) -> None:
        """
        Passing text, or a limit below 1, is local misuse.
        """
        self.assertRaises(LocalSIPError, parseMessage, "OPTIONS")
        self.assertRaises(LocalSIPError, parseMessage, OPTIONS, 0)


class ResponseBuildingTests(SynchronousTestCase):
    """
    L{makeResponse}, L{prependVia}, L{popVia} and friends.
    """

    def test_makeResponseCopiesHeaders(self) -> None:
        """
        A response copies every Via in order, From, To, Call-ID and CSeq,
        and only those.
        """
        request = parseMessage(INVITE.replace(
            b"Via: SIP/2.0/SCTP pc33",
            b"Via: SIP/2.0/SCTP p1.example.com;branch=z9hG4bK1, SIP/2.0/SCTP p2;branch=z9hG4bK2\r\n"
            b"v: SIP/2.0/SCTP pc33"))
        assert isinstance(request, SIPRequest)
        response = makeResponse(request, 486)
        self.assertEqual((response.code, response.reason), (486, "Busy Here"))
        self.assertEqual(response.vias, request.vias)
        self.assertEqual(len(response.vias), 3)
        self.assertEqual([n for n, _ in response.headers],
                         ["Via", "v", "From", "To", "Call-ID", "CSeq"])
        for name in ("From", "To", "Call-ID", "CSeq"):
            self.assertEqual(response.getHeader(name), request.getHeader(name))
        self.assertEqual(response.body, b"")
        again = parseMessage(response.toBytes())
        self.assertEqual(again.cseq, CSeq(314159, "INVITE"))

    def test_makeResponseToTag(self) -> None:
        """
        C{toTag} is added to a To without a tag and never replaces one.
        """
        request = parseMessage(INVITE)
        assert isinstance(request, SIPRequest)
        response = makeResponse(request, 200, toTag="abc")
        self.assertEqual(response.getHeader("To"), "Bob <sip:bob@biloxi.example.com>;tag=abc")
        self.assertEqual(response.toTag, "abc")
        request.setHeader("To", "<sip:bob@b>;tag=old")
        self.assertEqual(makeResponse(request, 200, toTag="new").toTag, "old")

    def test_makeResponseExtras(self) -> None:
        """
        Reason, extra headers and body are used as given; a 100 copies
        Timestamp.
        """
        request = parseMessage(minimalRequest(b"Timestamp: 54\r\n"))
        assert isinstance(request, SIPRequest)
        response = makeResponse(request, 200, "Fine", [("Allow", "INVITE, OPTIONS")], b"x")
        self.assertEqual(response.reason, "Fine")
        self.assertEqual(response.headers[-1], ("Allow", "INVITE, OPTIONS"))
        self.assertEqual(response.body, b"x")
        self.assertIsNone(response.getHeader("Timestamp"))
        self.assertEqual(makeResponse(request, 100).getHeader("Timestamp"), "54")

    def test_makeResponseMisuse(self) -> None:
        """
        Answering an ACK or a response, or a code outside 100-699, is local
        misuse.
        """
        ack = parseMessage(minimalRequest(method=b"ACK"))
        assert isinstance(ack, SIPRequest)
        self.assertRaises(LocalSIPError, makeResponse, ack, 200)
        options = parseMessage(OPTIONS)
        assert isinstance(options, SIPRequest)
        self.assertRaises(LocalSIPError, makeResponse, options, 99)
        self.assertRaises(LocalSIPError, makeResponse, parseMessage(OK_MULTIPLE_VIAS), 200)

    def test_reasonPhrase(self) -> None:
        """
        Known codes have their RFC phrase, others their class name.
        """
        self.assertEqual(reasonPhrase(200), "OK")
        self.assertEqual(reasonPhrase(513), "Message Too Large")
        self.assertEqual(reasonPhrase(499), "Client Error")

    def test_prependVia(self) -> None:
        """
        C{prependVia} writes an SCTP Via above the existing ones.
        """
        request = parseMessage(OPTIONS)
        via = prependVia(request, "proxy.example.com", 5060, "z9hG4bKp1",
                         extraParams={"rport": None})
        self.assertEqual(request.headers[0], (
            "Via", "SIP/2.0/SCTP proxy.example.com:5060;branch=z9hG4bKp1;rport"))
        self.assertEqual(request.vias[0], via)
        self.assertEqual(request.branch, "z9hG4bKp1")
        self.assertEqual(len(request.vias), 2)

    def test_prependViaBelowStartOfOtherHeaders(self) -> None:
        """
        The new Via goes where the first Via is, or first when there is
        none; IPv6 hosts are bracketed and a branch is made when not given.
        """
        r = SIPRequest("OPTIONS", "sip:h", [("Max-Forwards", "70"), ("Via", "SIP/2.0/SCTP a")])
        prependVia(r, "2001:db8::1", 5060)
        self.assertEqual(r.headers[1][0], "Via")
        self.assertTrue(r.headers[1][1].startswith("SIP/2.0/SCTP [2001:db8::1]:5060;branch=z9hG4bK"))
        empty = SIPRequest("OPTIONS", "sip:h")
        self.assertEqual(prependVia(empty, "[::1]", transport="tls-sctp", branch="z9hG4bKq"),
                         Via("TLS-SCTP", "::1", None, {"branch": "z9hG4bKq"}))
        self.assertEqual(empty.headers, [("Via", "SIP/2.0/TLS-SCTP [::1];branch=z9hG4bKq")])

    def test_prependViaMisuse(self) -> None:
        """
        Values that would not read back raise L{LocalSIPError}.
        """
        r = SIPRequest("OPTIONS", "sip:h")
        for kwargs in ({"host": "bad host"}, {"host": "h", "port": 70000},
                       {"host": "h", "branch": "a,b"}, {"host": "h", "branch": "a;b=c"},
                       {"host": "h", "transport": "S C"}, {"host": "h", "extraParams": {"x y": "1"}}):
            self.assertRaises(LocalSIPError, prependVia, r, **kwargs)
        self.assertEqual(r.headers, [])

    def test_prependPopRoundTrip(self) -> None:
        """
        C{popVia} after C{prependVia} gives back the message unchanged.
        """
        response = parseMessage(OK_MULTIPLE_VIAS)
        added = prependVia(response, "192.0.2.9", 5060)
        self.assertEqual(popVia(response), added)
        self.assertEqual(response.toBytes(), OK_MULTIPLE_VIAS)

    def test_popViaCommaList(self) -> None:
        """
        C{popVia} takes the first value of a comma-separated line and keeps
        the rest; it gives C{None} when no Via is left.
        """
        r = SIPResponse(200, "OK", [("v", "SIP/2.0/SCTP a, SIP/2.0/SCTP b"),
                                    ("Via", "SIP/2.0/SCTP c")])
        self.assertEqual([popVia(r).host for _ in range(3)], ["a", "b", "c"])  # type: ignore[union-attr]
        self.assertEqual(r.headers, [])
        self.assertIsNone(popVia(r))

    def test_newBranchAndTag(self) -> None:
        """
        Branches carry the RFC 3261 magic cookie and random hex; tags are
        random hex.
        """
        branch = newBranch()
        self.assertTrue(branch.startswith("z9hG4bK"))
        int(branch[7:], 16)
        self.assertNotEqual(branch, newBranch())
        self.assertEqual(newBranch(lambda n: b"\x01" * n), "z9hG4bK" + "01" * 16)
        self.assertEqual(newTag(lambda n: b"\xab" * n), "ab" * 8)


class KeepAliveTests(SynchronousTestCase):
    """
    RFC 5626 CRLF keep-alive helpers.
    """

    def test_ping(self) -> None:
        """
        Only exactly CRLFCRLF is a ping.
        """
        self.assertTrue(isKeepAlivePing(b"\r\n\r\n"))
        for data in (b"\r\n", b"\r\n\r\n\r\n", b"\n\n", b"", OPTIONS):
            self.assertFalse(isKeepAlivePing(data))

    def test_loneCRLF(self) -> None:
        """
        Only exactly CRLF is a lone CRLF, which is also the pong.
        """
        self.assertTrue(isLoneCRLF(b"\r\n"))
        self.assertTrue(isLoneCRLF(KEEPALIVE_PONG))
        for data in (b"\r\n\r\n", b"\n", b""):
            self.assertFalse(isLoneCRLF(data))


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
        Empty, 2- and 4-byte messages are refused with a reason each.
        """
        self.assertParseError(b"", "empty")
        self.assertParseError(b"\r\n", "lone CRLF")
        self.assertParseError(b"\r\n\r\n", "keep-alive ping")
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
        64 KB of headers are refused quickly (513), after reading no more
        than the limit, keeping the headers that came before.
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


class KeptValueTests(SynchronousTestCase):
    """
    What a message parses once it keeps only while its header lines (or its
    Request-URI) stay the same.
    """

    def test_accessorsFollowEdits(self) -> None:
        """
        Editing C{headers} in place, replacing it, or editing through the
        message's methods is seen by the next accessor; the lists the
        accessors return are the caller's.
        """
        m = parseMessage(INVITE)
        self.assertEqual(m.cseq, CSeq(314159, "INVITE"))
        self.assertEqual(len(m.routes), 3)
        vias = m.vias
        vias.append(vias[0])
        self.assertEqual(len(m.vias), 1)
        m.headers.insert(0, ("v", "SIP/2.0/SCTP p.example.com;branch=z9hG4bKp"))
        self.assertEqual([v.host for v in m.vias], ["p.example.com", "pc33.atlanta.example.com"])
        self.assertEqual(m.topVia, m.vias[0])
        index = [name for name, _ in m.headers].index("CSeq")
        m.headers[index] = ("CSeq", "7 INVITE")
        self.assertEqual(m.cseq, CSeq(7, "INVITE"))
        m.removeHeader("route")
        self.assertEqual(m.routes, [])
        m.headers = [("To", "<sip:x@h>;tag=9")]
        self.assertEqual((m.toTag, m.vias, m.getHeader("cseq")), ("9", [], None))
        m.headers.append(("t", "<sip:y@h>"))
        self.assertRaises(SIPParseError, lambda: m.toAddr)

    def test_requestURI(self) -> None:
        """
        C{requestURI} is C{uri} parsed, and follows it.
        """
        m = parseMessage(OPTIONS)
        assert isinstance(m, SIPRequest)
        self.assertEqual(m.requestURI, parseURI("sip:carol@chicago.example.com"))
        m.uri = "sip:dave@h:5070"
        self.assertEqual((m.requestURI.user, m.requestURI.port), ("dave", 5070))
        m.uri = "tel:+15551234567"
        self.assertRaises(SIPParseError, lambda: m.requestURI)

    def test_hasAndMissingHeaders(self) -> None:
        """
        C{hasHeader} and C{missingHeaders} match names as C{getHeaders}
        does.
        """
        m = parseMessage(minimalRequest().replace(b"Call-ID: c1\r\n", b""))
        self.assertEqual(m.missingHeaders(["From", "t", "Call-ID", "cseq", "Max-Forwards"]),
                         ["Call-ID", "Max-Forwards"])
        self.assertTrue(m.hasHeader("f"))
        self.assertFalse(m.hasHeader("i"))

    def test_presentHeaders(self) -> None:
        """
        C{presentHeaders} gives the canonical names of the headers present,
        compact forms expanded, and follows edits of C{headers}.
        """
        m = parseMessage(minimalRequest().replace(b"From:", b"f:"))
        present = m.presentHeaders()
        self.assertIn("from", present)
        self.assertNotIn("f", present)
        self.assertNotIn("expires", present)
        m.headers.append(("Expires", "60"))
        self.assertIn("expires", m.presentHeaders())

    def test_editedResponse(self) -> None:
        """
        A response from C{makeResponse} that is then edited is written, and
        read, as it then is.
        """
        request = parseMessage(OPTIONS)
        assert isinstance(request, SIPRequest)
        response = makeResponse(request, 200, extraHeaders=[("Allow", "OPTIONS")], toTag="t")
        self.assertEqual(response.toTag, "t")
        response.addHeader("l", "99")
        response.body = b"abc"
        data = response.toBytes()
        self.assertTrue(data.endswith(b"\r\nAllow: OPTIONS\r\nl: 3\r\n\r\nabc"), data)
        self.assertNotIn(b"Content-Length", data)
        response.headers[0] = ("Via", "SIP/2.0/SCTP other.example.com;branch=z9hG4bKo")
        self.assertEqual(response.topVia.host, "other.example.com")  # type: ignore[union-attr]
        self.assertEqual(request.topVia.host, "pc33.atlanta.example.com")  # type: ignore[union-attr]


_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
_tokens = st.text(_TOKEN_ALPHABET, min_size=1, max_size=12)
_hostLabels = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_hosts = st.one_of(
    st.lists(_hostLabels, min_size=1, max_size=3).map(".".join),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
_ports = st.none() | st.integers(0, 65535)
_paramNames = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
_paramValues = st.none() | st.text("abcdefghijklmnopqrstuvwxyzABC0123456789-._~", min_size=1,
                                   max_size=10)
_params = st.dictionaries(_paramNames, _paramValues, max_size=3)
_safeText = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
    max_size=30,
).map(lambda s: s.strip(" \t"))


@st.composite
def _uris(draw: st.DrawFn) -> SIPURI:
    user = draw(st.none() | st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()&=+$,;?/",
                                    min_size=1, max_size=10).filter(lambda u: "@" not in u))
    password = draw(st.none() | st.text("abc123", min_size=1, max_size=5)) if user else None
    headers = draw(st.dictionaries(st.text("abcXYZ", min_size=1, max_size=4),
                                   st.text("abc123", max_size=4), max_size=2))
    return SIPURI(draw(st.sampled_from(["sip", "sips"])), user, password, draw(_hosts),
                  draw(_ports), draw(_params), headers)


_RESERVED = {"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "contact", "m",
             "content-length", "l", "max-forwards", "expires", "route", "record-route"}


@st.composite
def _requests(draw: st.DrawFn) -> SIPRequest:
    method = draw(_tokens)
    headers: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 3))):
        via = Via(draw(_tokens).upper(), draw(_hosts), draw(_ports), draw(_params))
        headers.append((draw(st.sampled_from(["Via", "v", "VIA"])), str(via)))
    if draw(st.booleans()):
        headers.append(("CSeq", "{} {}".format(draw(st.integers(0, 2**31 - 1)), method)))
    if draw(st.booleans()):
        headers.append(("From", str(NameAddr(draw(st.none() | _safeText), str(draw(_uris())),
                                                 {"tag": draw(_tokens)}))))
    for _ in range(draw(st.integers(0, 5))):
        name = draw(_tokens.filter(lambda n: n.lower() not in _RESERVED))
        headers.append((name, draw(_safeText)))
    headers = draw(st.permutations(headers))
    return SIPRequest(method, str(draw(_uris())), headers, draw(st.binary(max_size=64)))


_lines = st.sampled_from([
    b"INVITE sip:a@h SIP/2.0", b"SIP/2.0 200 OK", b"Via: SIP/2.0/SCTP h;branch=z9hG4bK1",
    b"v: SIP/2.0/SCTP [::1]:5060;rport, SIP/2.0/UDP x", b"CSeq: 1 INVITE", b"CSeq: -1 X",
    b"From: \"a\" <sip:a@h>;tag=1", b"To: sip:b@h", b"Contact: *", b"m: <sip:c@h>;expires=1",
    b"Content-Length: 3", b"l: 99", b"Route: <sip:r@h;lr>", b"Max-Forwards: 70",
    b"Expires: 10", b"Call-ID: x@y", b" folded", b"\tfolded", b"", b"X: \xff\xfe",
    b"Record-Route: <sip:h;lr>,", b"Via: SIP/2.0/SCTP [::1", b"From: <", b"To: \"",
])


class KnownValueCacheTests(SynchronousTestCase):
    """
    The parser's caches of header lines and CSeq values: results as without
    them, and bounded.
    """

    def setUp(self) -> None:
        sipmessage._KNOWN_LINES.clear()
        _sipheaders._CSEQS.clear()

    def test_repeatedLinesParseTheSame(self) -> None:
        """
        A message parsed with its lines known parses as it did the first
        time; lines over the length bound are not kept.
        """
        long = b"Subject: " + b"s" * 200
        data = minimalRequest(long + b"\r\n")
        first = parseMessage(data)
        self.assertIn("CSeq: 1 OPTIONS", sipmessage._KNOWN_LINES)
        self.assertNotIn(long.decode(), sipmessage._KNOWN_LINES)
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
        for n in range(sipmessage._KNOWN_LINES_SIZE + 50):
            parseMessage(minimalRequest(b"X-N: %d\r\n" % n))
            self.assertLessEqual(len(sipmessage._KNOWN_LINES), sipmessage._KNOWN_LINES_SIZE)
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


def _outcome(call: Any) -> Any:
    try:
        return call()
    except (SIPParseError, LocalSIPError) as e:
        return type(e), str(e)


class PropertyTests(SynchronousTestCase):
    """
    Hypothesis properties of the parser and the writer.
    """

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=300))
    def test_arbitraryBytes(self, data: bytes) -> None:
        """
        Any bytes either parse or raise L{SIPParseError}.
        """
        try:
            parseMessage(data)
        except SIPParseError as e:
            self.assertIsInstance(e.reason, str)
            self.assertIn(e.statusHint, (400, 505, 513))

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(_lines | st.binary(max_size=20), min_size=1, max_size=12),
           st.sampled_from([b"\r\n", b"\n"]), st.binary(max_size=10), st.integers(8, 200))
    def test_nearlySIP(self, lines: list[bytes], eol: bytes, body: bytes, limit: int) -> None:
        """
        Messages made of plausible and broken lines parse or raise
        L{SIPParseError}; when they parse, every accessor works and the
        message survives C{toBytes}.
        """
        data = eol.join(lines) + eol + eol + body
        try:
            message = parseMessage(data, limit)
        except SIPParseError:
            return
        for accessor in ("vias", "topVia", "branch", "fromAddr", "toAddr", "fromTag", "toTag",
                         "callID", "cseq", "maxForwards", "contacts", "expires", "routes",
                         "recordRoutes", "contentLength"):
            getattr(message, accessor)
        again = parseMessage(message.toBytes())
        self.assertEqual(again.body, message.body)
        message.removeHeader("content-length")
        again.removeHeader("content-length")
        self.assertEqual(again, message)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_requests(), st.sampled_from([100, 180, 200, 404, 99, 700]),
           st.none() | _safeText | st.just("bad\rreason"),
           st.lists(st.tuples(st.sampled_from(["Server", "Content-Length", "l", "Bad Name", ""]),
                              st.sampled_from(["x", "0", "a\r\nb", "\x7f"]) | _safeText), max_size=4),
           st.binary(max_size=20), st.none() | _tokens, st.booleans())
    def test_responseBytesAsMakeResponse(self, request: SIPRequest, code: int, reason: str | None,
                                         extra: list[tuple[str, str]], body: bytes, toTag: str | None,
                                         ack: bool) -> None:
        """
        C{responseBytes} gives the bytes of C{makeResponse(...).toBytes()},
        or raises the same error.
        """
        if ack:
            request.method = "ACK"
        built = _outcome(lambda: makeResponse(request, code, reason, extra, body, toTag).toBytes())
        direct = _outcome(lambda: responseBytes(request, code, reason, extra, body, toTag))
        self.assertEqual(direct, built)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_requests())
    def test_wellFormedRequestsRoundTrip(self, request: SIPRequest) -> None:
        """
        Parsing C{toBytes()} of a request gives back its method, URI, headers
        (plus Content-Length) and body.
        """
        parsed = parseMessage(request.toBytes())
        assert isinstance(parsed, SIPRequest)
        self.assertEqual((parsed.method, parsed.uri, parsed.body),
                         (request.method, request.uri, request.body))
        self.assertEqual(parsed.headers,
                         request.headers + [("Content-Length", str(len(request.body)))])
        self.assertEqual(len(parsed.vias), len(request.getHeaders("via")))

    @settings(max_examples=200, deadline=None)
    @given(_uris())
    def test_uriRoundTrip(self, uri: SIPURI) -> None:
        """
        The canonical text of a URI parses back to the same URI.
        """
        self.assertEqual(parseURI(str(uri)), uri)

    @settings(max_examples=100, deadline=None)
    @given(_hosts, _ports, _tokens, _params.filter(lambda p: "branch" not in p))
    def test_viaRoundTrip(self, host: str, port: int | None, branch: str,
                          params: dict[str, str | None]) -> None:
        """
        C{prependVia} then C{popVia} on a response gives back the same bytes
        and the same Via.
        """
        response = parseMessage(OK_MULTIPLE_VIAS)
        added = prependVia(response, host, port, branch, extraParams=params)
        self.assertEqual(parseMessage(response.toBytes()).topVia, added)
        self.assertEqual(popVia(response), added)
        self.assertEqual(response.toBytes(), OK_MULTIPLE_VIAS)

    @settings(max_examples=200, deadline=None)
    @given(_uris())
    def test_uriFastAndGeneralPathsAgree(self, uri: SIPURI) -> None:
        """
        A URI reads the same through the fast path and (with its scheme in
        capitals) through the general one.
        """
        text = str(uri)
        self.assertEqual(parseURI(text[:3].upper() + text[3:]), parseURI(text))

    @settings(max_examples=200, deadline=None)
    @given(_tokens, _hosts, _ports, _params)
    def test_viaFastAndGeneralPathsAgree(self, transport: str, host: str, port: int | None,
                                         params: dict[str, str | None]) -> None:
        """
        A Via reads the same through the fast path and (with C{sip/2.0} in
        small letters) through the general one.
        """
        text = str(Via(transport.upper(), host, port, params))
        self.assertEqual(parseVia("sip" + text[3:]), parseVia(text))

    @settings(max_examples=200, deadline=None)
    @given(st.none() | _safeText, _uris(), _params)
    def test_nameAddrFastAndGeneralPathsAgree(self, name: str | None, uri: SIPURI,
                                              params: dict[str, str | None]) -> None:
        """
        A name-addr reads the same through the fast path and (with a space
        after its C{<}) through the general one, alone and as a list.
        """
        text = str(NameAddr(name, str(uri), params))
        before, _, after = text.rpartition("<")
        general = before + "< " + after
        self.assertEqual(parseNameAddr(general, "To"), parseNameAddr(text, "To"))
        both = parseNameAddrList([text + ", " + general], "Contact")
        self.assertEqual(both, [parseNameAddr(text, "Contact")] * 2)
