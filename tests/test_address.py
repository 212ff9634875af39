# -*- test-case-name: tests.test_address -*-
"""
Tests for L{twisted_sctp.transport.address}: listen-address parsing, L{SCTPAddress}
and host normalisation.
"""

from __future__ import annotations

import ipaddress
import socket

import attrs
from zope.interface.verify import verifyObject

from twisted.internet.interfaces import IAddress
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.transport.address import SCTPAddress, familyOf, normalizeHost, parseListen


class ParseListenTests(SynchronousTestCase):
    """
    L{parseListen} reads the C{--listen} forms of the command line.
    """

    def test_hostPort(self) -> None:
        """
        C{sctp:HOST:PORT} gives one host and the port.
        """
        self.assertEqual(parseListen("sctp:127.0.0.1:5070"), (["127.0.0.1"], 5070))

    def test_prefixOptionalAndCaseless(self) -> None:
        """
        The C{sctp:} prefix may be left out or written in capitals, and
        surrounding blanks are ignored.
        """
        self.assertEqual(parseListen("10.0.0.1:5080"), (["10.0.0.1"], 5080))
        self.assertEqual(parseListen("SCTP:10.0.0.1:5080"), (["10.0.0.1"], 5080))
        self.assertEqual(parseListen("  sctp:10.0.0.1:5080\n"), (["10.0.0.1"], 5080))

    def test_multihomed(self) -> None:
        """
        C{sctp:(H1,H2):PORT} gives every host, primary first; blanks and
        brackets around the hosts are allowed.
        """
        self.assertEqual(
            parseListen("sctp:(10.0.0.1,10.0.1.1):5060"), (["10.0.0.1", "10.0.1.1"], 5060)
        )
        self.assertEqual(
            parseListen("sctp:( 10.0.1.1 , [::1] ):5061"), (["10.0.1.1", "::1"], 5061)
        )

    def test_ipv6(self) -> None:
        """
        C{sctp:[::1]:5060} gives the IPv6 host in canonical form.
        """
        self.assertEqual(parseListen("sctp:[::1]:5060"), (["::1"], 5060))
        self.assertEqual(parseListen("sctp:[2001:DB8:0::1]:5090"), (["2001:db8::1"], 5090))

    def test_defaultPort(self) -> None:
        """
        Without a port (or with an empty one), the port is 5060.
        """
        self.assertEqual(parseListen("sctp:127.0.0.1"), (["127.0.0.1"], 5060))
        self.assertEqual(parseListen("sctp:127.0.0.1:"), (["127.0.0.1"], 5060))
        self.assertEqual(parseListen("sctp:[::1]"), (["::1"], 5060))
        self.assertEqual(parseListen("sctp:(127.0.0.1,127.0.0.2)"), (["127.0.0.1", "127.0.0.2"], 5060))

    def test_portLimits(self) -> None:
        """
        Ports 0 (ephemeral) and 65535 are accepted.
        """
        self.assertEqual(parseListen("sctp:127.0.0.1:0"), (["127.0.0.1"], 0))
        self.assertEqual(parseListen("sctp:127.0.0.1:65535"), (["127.0.0.1"], 65535))

    def test_mappedHostNormalized(self) -> None:
        """
        An IPv4-mapped IPv6 host is given as plain IPv4.
        """
        self.assertEqual(parseListen("sctp:[::ffff:127.0.0.1]:5060"), (["127.0.0.1"], 5060))

    def assertRefused(self, text: str, *fragments: str) -> None:
        """
        Assert that L{parseListen} refuses C{text} with a C{ValueError}
        whose message contains each of C{fragments}.
        """
        e = self.assertRaises(ValueError, parseListen, text)
        for fragment in fragments:
            self.assertIn(fragment, str(e))

    def test_empty(self) -> None:
        """
        An empty address is refused.
        """
        self.assertRefused("sctp:", "empty")
        self.assertRefused("", "empty")

    def test_unclosedBrackets(self) -> None:
        """
        An unclosed C{(} or C{[} is refused, naming the bracket and the
        text.
        """
        self.assertRefused("sctp:(10.0.0.1,10.0.1.1:5060", "unclosed '('", "sctp:(10.0.0.1,10.0.1.1:5060")
        self.assertRefused("sctp:[::1:5060", "unclosed '['", "sctp:[::1:5060")

    def test_badPort(self) -> None:
        """
        A port that is not a number in 0-65535, or junk after the hosts, is
        refused, naming the text.
        """
        self.assertRefused("sctp:127.0.0.1:http", "bad port", "127.0.0.1:http")
        self.assertRefused("sctp:127.0.0.1:-1", "bad port")
        self.assertRefused("sctp:127.0.0.1:50 60", "bad port")
        self.assertRefused("sctp:[::1]5060", "bad port")
        self.assertRefused("sctp:(127.0.0.1)x", "bad port")
        self.assertRefused("sctp:127.0.0.1:65536", "port out of range", "65536")
        self.assertRefused("sctp:127.0.0.1:99999999999", "port out of range")

    def test_nonDigitPortClearMessage(self) -> None:
        """
        A port made of characters that C{str.isdigit} accepts but that are
        not ASCII digits is refused as a bad port, like any other.
        """
        self.assertRefused("sctp:127.0.0.1:\u00b2", "bad port")


    def test_notAnIPAddress(self) -> None:
        """
        A host that is not an IP literal (names are not resolved) is
        refused, naming the host.
        """
        self.assertRefused("sctp:localhost:5060", "'localhost' is not an IP address")
        self.assertRefused("sctp:(127.0.0.1,example.com):5060", "'example.com' is not an IP address")
        self.assertRefused("sctp:[]:5060", "is not an IP address")
        self.assertRefused("sctp:256.0.0.1:5060", "'256.0.0.1'")

    def test_noHost(self) -> None:
        """
        An empty host list is refused.
        """
        self.assertRefused("sctp:():5060", "no address")
        self.assertRefused("sctp:( , ):5060", "no address")

    def test_roundTrip(self) -> None:
        """
        The text form of an L{SCTPAddress} parses back to its hosts and port.
        """
        for address in [
            SCTPAddress("127.0.0.1", 5060),
            SCTPAddress("::1", 5061),
            SCTPAddress("10.0.0.1", 5062, ("10.0.0.1", "10.0.1.1")),
            SCTPAddress("10.0.0.1", 5063, ("10.0.0.1", "2001:db8::1")),
        ]:
            self.assertEqual(parseListen(str(address)), (list(address.hosts), address.port))


class SCTPAddressTests(SynchronousTestCase):
    """
    L{SCTPAddress}: an SCTP endpoint with one or more addresses.
    """

    def test_providesIAddress(self) -> None:
        """
        L{SCTPAddress} provides L{IAddress} and has type C{"SCTP"}.
        """
        address = SCTPAddress("127.0.0.1", 5060)
        self.assertTrue(verifyObject(IAddress, address))
        self.assertEqual(address.type, "SCTP")

    def test_hostsDefault(self) -> None:
        """
        Without C{hosts}, the primary is the only address.
        """
        self.assertEqual(SCTPAddress("127.0.0.1", 5060).hosts, ("127.0.0.1",))

    def test_primaryFirst(self) -> None:
        """
        The primary address is put first in C{hosts}, once, whether it was
        listed elsewhere or not at all.
        """
        self.assertEqual(
            SCTPAddress("10.0.1.1", 1, ("10.0.0.1", "10.0.1.1", "10.0.2.1")).hosts,
            ("10.0.1.1", "10.0.0.1", "10.0.2.1"),
        )
        self.assertEqual(SCTPAddress("10.0.9.1", 1, ("10.0.0.1",)).hosts, ("10.0.9.1", "10.0.0.1"))
        self.assertEqual(SCTPAddress("10.0.0.1", 1, ("10.0.0.1", "10.0.1.1")).hosts, ("10.0.0.1", "10.0.1.1"))

    def test_paths(self) -> None:
        """
        C{paths()} gives C{(host, port)} for every address, primary first.
        """
        self.assertEqual(
            SCTPAddress("10.0.0.1", 5060, ("10.0.0.1", "::1")).paths(),
            [("10.0.0.1", 5060), ("::1", 5060)],
        )

    def test_strSingle(self) -> None:
        """
        One address prints as C{sctp:HOST:PORT}, IPv6 in brackets.
        """
        self.assertEqual(str(SCTPAddress("127.0.0.1", 5060)), "sctp:127.0.0.1:5060")
        self.assertEqual(str(SCTPAddress("::1", 5060)), "sctp:[::1]:5060")

    def test_strMultihomed(self) -> None:
        """
        Several addresses print as C{sctp:(H1,H2):PORT}, IPv6 ones in
        brackets.
        """
        self.assertEqual(
            str(SCTPAddress("10.0.0.1", 5060, ("10.0.0.1", "10.0.1.1"))), "sctp:(10.0.0.1,10.0.1.1):5060"
        )
        self.assertEqual(
            str(SCTPAddress("::1", 5061, ("::1", "127.0.0.1"))), "sctp:([::1],127.0.0.1):5061"
        )

    def test_family(self) -> None:
        """
        C{family} is that of the primary address.
        """
        self.assertEqual(SCTPAddress("127.0.0.1", 1).family, socket.AF_INET)
        self.assertEqual(SCTPAddress("::1", 1, ("::1", "127.0.0.1")).family, socket.AF_INET6)

    def test_frozen(self) -> None:
        """
        Addresses cannot be changed.
        """
        address = SCTPAddress("127.0.0.1", 5060)
        self.assertRaises(attrs.exceptions.FrozenInstanceError, setattr, address, "port", 1)
        self.assertRaises(attrs.exceptions.FrozenInstanceError, setattr, address, "hosts", ())

    def test_hashableAndEqual(self) -> None:
        """
        Equal addresses hash alike and can key a dict; addresses with other
        hosts, another port or another order of secondaries differ.
        """
        a = SCTPAddress("10.0.0.1", 5060, ("10.0.0.1", "10.0.1.1"))
        b = SCTPAddress("10.0.0.1", 5060, ("10.0.1.1",))
        self.assertEqual(a, b)
        self.assertEqual(hash(a), hash(b))
        self.assertEqual({a: 1}[b], 1)
        self.assertEqual(len({a, b, SCTPAddress("10.0.0.1", 5060)}), 2)
        self.assertNotEqual(a, SCTPAddress("10.0.0.1", 5061, ("10.0.1.1",)))
        self.assertNotEqual(SCTPAddress("10.0.0.1", 1), SCTPAddress("10.0.0.2", 1))


class HostTests(SynchronousTestCase):
    """
    L{normalizeHost} and L{familyOf}.
    """

    def test_mappedIPv6BecomesIPv4(self) -> None:
        """
        IPv4-mapped IPv6 addresses become plain IPv4, in any spelling.
        """
        self.assertEqual(normalizeHost("::ffff:127.0.0.1"), "127.0.0.1")
        self.assertEqual(normalizeHost("::FFFF:10.1.2.3"), "10.1.2.3")
        self.assertEqual(normalizeHost("::ffff:7f00:1"), "127.0.0.1")

    def test_canonicalText(self) -> None:
        """
        Other addresses come back in canonical text form.
        """
        self.assertEqual(normalizeHost("127.0.0.1"), "127.0.0.1")
        self.assertEqual(normalizeHost("2001:DB8:0:0::1"), "2001:db8::1")
        self.assertEqual(normalizeHost("::1"), "::1")
        self.assertEqual(normalizeHost("::"), "::")

    def test_notIPRefused(self) -> None:
        """
        Names and malformed literals raise C{ValueError}.
        """
        for text in ["localhost", "", "1.2.3", "::ffff:1.2.3.4.5", "1::2::3"]:
            self.assertRaises(ValueError, normalizeHost, text)

    def test_dottedQuadAsIpaddress(self) -> None:
        """
        IPv4 text (the fast path) comes back as C{ipaddress} writes it, and
        what C{ipaddress} refuses is still refused.
        """
        for text in ["0.0.0.0", "255.255.255.255", "10.1.2.3", "01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3.4 ",
                     " 1.2.3.4", "1.2.3.4\n", "1.2.3.4\x00", "0x1.2.3.4", "1.2.3.", "1..2.3", "127.1", "1.2.3.4%eth0"]:
            try:
                want = str(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                self.assertRaises(ValueError, normalizeHost.__wrapped__, text)
            else:
                self.assertEqual(normalizeHost.__wrapped__(text), want, text)

    def test_familyOf(self) -> None:
        """
        C{familyOf} tells IPv6 literals from IPv4 ones and refuses names.
        """
        self.assertEqual(familyOf("127.0.0.1"), socket.AF_INET)
        self.assertEqual(familyOf("::1"), socket.AF_INET6)
        self.assertEqual(familyOf("::ffff:127.0.0.1"), socket.AF_INET6)
        self.assertRaises(ValueError, familyOf, "localhost")
