# -*- test-case-name: tests.test_sipmessage -*-
"""
Tests for L{twisted_sctp.sip.message}, the sans-io SIP message layer.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.sipsamples import INVITE, OK_MULTIPLE_VIAS, OPTIONS, minimalRequest
from twisted_sctp.sip.edit import popVia, prependVia
from twisted_sctp.sip.headers import parseNameAddr, parseNameAddrList, parseSingleVia, parseVia, parseViaList
from twisted_sctp.sip.message import (
    KEEPALIVE_PONG, CSeq, LocalSIPError, NameAddr, SIPParseError, SIPRequest, SIPResponse, SIPURI,
    Via, isKeepAlivePing, isLoneCRLF, makeResponse, reasonPhrase,
)
from twisted_sctp.sip.parser import parseMessage
from twisted_sctp.sip.uri import parseURI


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




#: What the serialiser refuses: a control character, a name not a token.
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")


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
    def test_makeResponseReadsBack(self, request: SIPRequest, code: int, reason: str | None,
                                   extra: list[tuple[str, str]], body: bytes, toTag: str | None,
                                   ack: bool) -> None:
        """
        C{makeResponse(...).toBytes()}, the one response builder, refuses
        with L{LocalSIPError} exactly an ACK, a status out of 100-699, a
        reason or header value with a control character or a header name
        that is not a token; otherwise its bytes parse back as that
        response: the status, the reason, the request's Via lines, the
        extras (Content-Length rewritten) and the body.
        """
        if ack:
            request.method = "ACK"
        bad = (ack or not 100 <= code <= 699 or (reason is not None and _CTL.search(reason) is not None)
               or any(not _TOKEN.fullmatch(n) or _CTL.search(v) for n, v in extra))
        outcome = _outcome(lambda: makeResponse(request, code, reason, extra, body, toTag).toBytes())
        if bad:
            self.assertEqual(outcome[0], LocalSIPError)
            return
        assert isinstance(outcome, bytes), outcome
        parsed = parseMessage(outcome)
        assert isinstance(parsed, SIPResponse)
        self.assertEqual((parsed.code, parsed.reason, parsed.body),
                         (code, reasonPhrase(code) if reason is None else reason, body))
        self.assertEqual(parsed.getHeaders("via"), request.getHeaders("via"))
        others = [(n, v) for n, v in extra if n.lower() not in ("content-length", "l")]
        self.assertEqual([line for line in parsed.headers if line in others], others)
        self.assertEqual(parsed.contentLength, len(body))

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

    @settings(max_examples=300, deadline=None)
    @given(_tokens, _hosts, _ports, _params | _params.map(lambda p: dict(p, branch="first")), st.sampled_from(["", ";branch=", ";Branch=", ";branch=z9hG4bK"]),
           st.sampled_from(["", "x", "1-2-0", "a=b", "a b", "a,b", "a;b", '"q"', "\u00e9", "*"]))
    def test_singleViaAsList(self, transport: str, host: str, port: int | None, params: dict[str, str | None],
                             branchParam: str, branch: str) -> None:
        """
        L{parseSingleVia} reads a line as L{parseViaList} does, whatever the
        last parameter, first seen or remembered: the same L{Via}, C{None}
        for several values, or the same L{SIPParseError}.
        """
        text = str(Via(transport.upper(), host, port, params)) + branchParam + branch
        for _ in range(2):  # the head parsed, then remembered
            try:
                expected = parseViaList(text)
            except SIPParseError:
                self.assertRaises(SIPParseError, parseSingleVia, text)
                continue
            self.assertEqual(parseSingleVia(text), expected[0] if len(expected) == 1 else None)

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
