# -*- test-case-name: tests.test_sipuri -*-
"""
Tests for L{twisted_sctp.sip.uri}: SIP URIs.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.sip.uri import SIPURI, parseURI
from twisted_sctp.sip.errors import SIPParseError


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
