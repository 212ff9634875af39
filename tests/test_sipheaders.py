# -*- test-case-name: tests.test_sipheaders -*-
"""
Tests for L{twisted_sctp.sip.headers}: Via and name-addr values.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.sipsamples import minimalRequest
from twisted_sctp.sip.headers import NameAddr, SIPParseError, Via
from twisted_sctp.sip.parser import parseMessage


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
