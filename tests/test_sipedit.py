# -*- test-case-name: tests.test_sipedit -*-
"""
Tests for L{twisted_sctp.sip.edit}: every Via / Route rewrite.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.sipsamples import INVITE, OK_MULTIPLE_VIAS, OPTIONS
from twisted_sctp.sip.edit import fixTopVia, popVia, prependVia, removeFirstRoute, rewriteTopVia, setMaxForwards, strictRoute
from twisted_sctp.sip.message import LocalSIPError, SIPRequest, SIPResponse, Via
from twisted_sctp.sip.parser import parseMessage


class EditTests(SynchronousTestCase):
    """
    L{prependVia}, L{popVia}, L{fixTopVia}, L{removeFirstRoute},
    L{strictRoute}, L{setMaxForwards} and L{rewriteTopVia}.
    """

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

    def test_fixTopViaReceived(self) -> None:
        """
        C{fixTopVia} adds C{received} where the sent-by host is not the
        source address, leaving the line's other values alone; nothing
        where it is.
        """
        request = parseMessage(INVITE.replace(
            b"Via: SIP/2.0/SCTP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
            b"Via: SIP/2.0/SCTP pc33.atlanta.example.com;branch=z9hG4bK776asdhds , SIP/2.0/SCTP b.example.com"))
        assert isinstance(request, SIPRequest)
        fixTopVia(request, "192.0.2.7", 5070)
        self.assertEqual(request.getHeader("via"),
                         "SIP/2.0/SCTP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.7,"
                         "SIP/2.0/SCTP b.example.com")
        same = parseMessage(INVITE.replace(b"pc33.atlanta.example.com;branch", b"192.0.2.7;branch"))
        assert isinstance(same, SIPRequest)
        before = list(same.headers)
        fixTopVia(same, "192.0.2.7", 5070)
        self.assertEqual(same.headers, before)

    def test_fixTopViaRport(self) -> None:
        """
        An empty C{rport} gets the source port, with C{received} even when
        the host is the same (RFC 3581).
        """
        request = parseMessage(OPTIONS.replace(b"branch=z9hG4bKhjhs8ass877", b"branch=z9hG4bKhjhs8ass877;rport"))
        assert isinstance(request, SIPRequest)
        fixTopVia(request, "pc33.atlanta.example.com", 5071)
        via = request.topVia
        assert via is not None
        self.assertEqual((via.rport, via.received), (5071, "pc33.atlanta.example.com"))

    def test_fixTopViaOverridesClient(self) -> None:
        """
        A C{received} and an C{rport} value the client wrote are replaced by
        the real source; a C{received} is removed where the sent-by host is
        the source.
        """
        request = parseMessage(OPTIONS.replace(b"branch=z9hG4bKhjhs8ass877", b"branch=z9hG4bKhjhs8ass877;received=127.0.0.2;rport=7777"))
        assert isinstance(request, SIPRequest)
        fixTopVia(request, "192.0.2.9", 5071)
        via = request.topVia
        assert via is not None
        self.assertEqual((via.rport, via.received), (5071, "192.0.2.9"))
        same = parseMessage(OPTIONS.replace(b"branch=z9hG4bKhjhs8ass877", b"branch=z9hG4bKhjhs8ass877;received=127.0.0.2"))
        assert isinstance(same, SIPRequest)
        fixTopVia(same, same.topVia.host, 5071)  # type: ignore[union-attr]
        self.assertNotIn("received", same.topVia.params)  # type: ignore[union-attr]

    def test_removeFirstRoute(self) -> None:
        """
        C{removeFirstRoute} takes the first value of the first Route line,
        then the line itself once empty.
        """
        request = parseMessage(INVITE)
        assert isinstance(request, SIPRequest)
        removeFirstRoute(request)
        self.assertEqual(request.getHeaders("route"), ["<sip:p2.example.com;lr>", "<sip:p3.example.com:5070;lr;transport=sctp>"])
        removeFirstRoute(request)
        self.assertEqual(request.getHeaders("route"), ["<sip:p3.example.com:5070;lr;transport=sctp>"])
        removeFirstRoute(request)
        removeFirstRoute(request)
        self.assertFalse(request.hasHeader("route"))

    def test_strictRoute(self) -> None:
        """
        C{strictRoute}: the first Route becomes the Request-URI, the old
        Request-URI goes last in Route (RFC 3261 16.6 step 6).
        """
        request = parseMessage(INVITE)
        assert isinstance(request, SIPRequest)
        strictRoute(request, "sip:p1.example.com")
        self.assertEqual(request.uri, "sip:p1.example.com")
        self.assertEqual([r.uri for r in request.routes], ["sip:p2.example.com;lr", "sip:p3.example.com:5070;lr;transport=sctp", "sip:bob@biloxi.example.com"])

    def test_setMaxForwards(self) -> None:
        """
        C{setMaxForwards} takes one off, or writes 70 where there was none.
        """
        request = parseMessage(INVITE)
        assert isinstance(request, SIPRequest)
        setMaxForwards(request)
        self.assertEqual(request.maxForwards, 69)
        request.removeHeader("max-forwards")
        setMaxForwards(request)
        self.assertEqual(request.maxForwards, 70)

    def test_rewriteTopVia(self) -> None:
        """
        Only the first Via of a request is rewritten; responses are left
        alone.
        """
        req = b"INVITE sip:x SIP/2.0\r\nv: SIP/2.0/UDP a:1\r\nVia: SIP/2.0/UDP b:2\r\n\r\nVia: SIP/2.0/UDP body"
        self.assertEqual(rewriteTopVia(req), req.replace(b"v: SIP/2.0/UDP", b"v: SIP/2.0/SCTP"))
        resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a:1\r\n\r\n"
        self.assertEqual(rewriteTopVia(resp), resp)
