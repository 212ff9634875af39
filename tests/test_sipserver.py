# -*- test-case-name: tests.test_sipserver -*-
"""
Tests for L{twisted_sctp.sip.server}: the registrar on a L{task.Clock}, and
the OPTIONS responder and stateless proxy end to end over
L{twisted_sctp.testing.FakeKernel} (no kernel SCTP).
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from twisted.internet import task
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests.test_sip import FakeUDP
from twisted_sctp.kernel.constants import AssocChangeState
from twisted_sctp.kernel.notifications import AssocChange
from twisted_sctp.sip.transport import encodeFlowToken
from twisted_sctp.sip.message import NameAddr, SIPResponse, parseMessage, parseNameAddr
from twisted_sctp.sip.server import ALLOW, Registrar, RegistrarError, ServerSettings
from twisted_sctp.tap import SIPService
from twisted_sctp.testing import FakeKernel, commUp

UAC = ("127.0.0.2", 5070)
UAS = ("127.0.0.3", 5080)


def contact(text: str) -> NameAddr:
    return parseNameAddr(text, "Contact", True)


class RegistrarTests(SynchronousTestCase):
    """
    The location service with an injected clock.
    """

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.registrar = Registrar(self.clock, ServerSettings(minExpires=60, maxExpires=7200, defaultExpires=3600, maxContacts=3, maxBindings=5))

    def register(self, contacts: List[str], expires: Optional[int] = None, callID: str = "c1", cseq: int = 1, aor: str = "bob@") -> List[Any]:
        return self.registrar.register(aor, [contact(c) for c in contacts], expires, callID, cseq)

    def error(self, *args: Any, **kw: Any) -> RegistrarError:
        return self.assertRaises(RegistrarError, self.register, *args, **kw)

    def test_registerAndLifetimes(self) -> None:
        """
        The Expires header sets the lifetime, a contact's expires= wins over
        it, the default applies without either, and long ones are cut to the
        maximum.
        """
        [b] = self.register(["<sip:bob@10.0.0.1>"], expires=300)
        self.assertEqual((b.expiresIn(0), str(b.uri), b.listed(0)), (300, "sip:bob@10.0.0.1", "<sip:bob@10.0.0.1>;expires=300"))
        found = self.register(["<sip:bob@10.0.0.2>;expires=120"], expires=300, cseq=2)
        self.assertEqual(sorted(b.expiresIn(0) for b in found), [120, 300])
        self.assertEqual(self.register(["<sip:bob@10.0.0.3>"], aor="carol@")[0].expiresIn(0), 3600)
        self.assertEqual(self.register(["<sip:bob@10.0.0.4>"], expires=99999, aor="dave@")[0].expiresIn(0), 7200)

    def test_refresh(self) -> None:
        """
        Re-registering a contact with a higher CSeq extends its lifetime.
        """
        self.register(["<sip:bob@10.0.0.1>"], expires=300)
        self.clock.advance(200)
        [b] = self.register(["<sip:bob@10.0.0.1>"], expires=300, cseq=2)
        self.assertEqual(b.expiresIn(self.clock.seconds()), 300)
        self.clock.advance(299)
        self.assertEqual(len(self.registrar.bindings("bob@")), 1)

    def test_expiry(self) -> None:
        """
        A binding lapses when its lifetime is over: lookups stop finding it
        and purge() forgets it.
        """
        self.register(["<sip:bob@10.0.0.1>"], expires=60)
        self.register(["<sip:carol@10.0.0.1>"], expires=120, aor="carol@")
        self.assertEqual(len(self.registrar), 2)
        self.clock.advance(60)
        self.assertIsNone(self.registrar.lookup("bob@"))
        self.assertEqual(self.registrar.purge(), 0)
        self.assertEqual(len(self.registrar), 1)
        self.clock.advance(60)
        self.assertEqual(self.registrar.purge(), 1)
        self.assertEqual((len(self.registrar), self.registrar.aors), (0, 0))

    def test_purgeTimerOnlyWithBindings(self) -> None:
        """
        After C{startPurging}, a purge is pending only while there are
        bindings: none before the first, one after it, none once every
        binding has been purged; C{stopPurging} cancels it.
        """
        self.registrar.startPurging(30)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.register(["<sip:bob@10.0.0.1>"], expires=60)
        self.register(["<sip:carol@10.0.0.1>"], expires=60, aor="carol@")
        [call] = self.clock.getDelayedCalls()
        self.assertEqual(call.getTime(), 30)
        self.clock.advance(30)
        self.assertEqual(len(self.registrar), 2)
        [call] = self.clock.getDelayedCalls()
        self.clock.advance(30)
        self.assertEqual((len(self.registrar), self.clock.getDelayedCalls()), (0, []))
        self.register(["<sip:bob@10.0.0.1>"], expires=60, cseq=2)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.registrar.stopPurging()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.register(["<sip:bob@10.0.0.2>"], expires=60, cseq=3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_removal(self) -> None:
        """
        Expires: 0 or expires=0 removes that contact only.
        """
        self.register(["<sip:bob@10.0.0.1>", "<sip:bob@10.0.0.2>", "<sip:bob@10.0.0.3>"], expires=300)
        left = self.register(["<sip:bob@10.0.0.1>"], expires=0, cseq=2)
        self.assertEqual(len(left), 2)
        left = self.register(["<sip:bob@10.0.0.2>;expires=0"], expires=300, cseq=3)
        self.assertEqual([str(b.uri) for b in left], ["sip:bob@10.0.0.3"])

    def test_wildcard(self) -> None:
        """
        Contact: * with Expires: 0 removes every binding; without Expires: 0
        or with another contact it is refused with 400.
        """
        self.register(["<sip:bob@10.0.0.1>", "<sip:bob@10.0.0.2>"], expires=300)
        self.assertEqual(self.error(["*"], expires=300, cseq=2).code, 400)
        self.assertEqual(self.error(["*", "<sip:bob@10.0.0.1>"], expires=0, cseq=2).code, 400)
        self.assertEqual(self.register(["*"], expires=0, cseq=2), [])
        self.assertEqual(len(self.registrar), 0)

    def test_query(self) -> None:
        """
        A REGISTER without Contact lists the bindings and changes nothing.
        """
        self.register(["<sip:bob@10.0.0.1>"], expires=300)
        self.assertEqual(len(self.register([], cseq=2)), 1)

    def test_intervalTooBrief(self) -> None:
        """
        A lifetime below the minimum is refused with 423 and Min-Expires.
        """
        e = self.error(["<sip:bob@10.0.0.1>"], expires=30)
        self.assertEqual((e.code, e.headers), (423, [("Min-Expires", "60")]))

    def test_cseqOrder(self) -> None:
        """
        Within one Call-ID, an older CSeq is refused with 500 and the same
        CSeq (a retransmission) changes nothing.
        """
        self.register(["<sip:bob@10.0.0.1>"], expires=300, cseq=5)
        self.clock.advance(100)
        self.assertEqual(self.error(["<sip:bob@10.0.0.1>"], expires=0, cseq=4).code, 500)
        [b] = self.register(["<sip:bob@10.0.0.1>"], expires=900, cseq=5)
        self.assertEqual(b.expiresIn(self.clock.seconds()), 200)
        self.assertEqual(self.register(["<sip:bob@10.0.0.1>"], expires=0, callID="other", cseq=1), [])

    def test_limits(self) -> None:
        """
        Too many contacts for an AOR gives 403; too many bindings in all 503;
        nothing is changed by a refused REGISTER.
        """
        self.assertEqual(self.error(["<sip:b@10.0.0.{}>".format(i) for i in range(4)]).code, 403)
        self.register(["<sip:b@10.0.0.1>", "<sip:b@10.0.0.2>", "<sip:b@10.0.0.3>"])
        self.register(["<sip:c@10.0.0.1>", "<sip:c@10.0.0.2>"], aor="carol@")
        self.assertEqual(self.error(["<sip:d@10.0.0.1>"], aor="dave@").code, 503)
        self.assertEqual(len(self.registrar), 5)

    def test_badContacts(self) -> None:
        """
        A Contact that is not a SIP URI, a bad expires or q is refused with
        400.
        """
        self.assertEqual(self.error(["<tel:+1234>"]).code, 400)
        self.assertEqual(self.error(["<sip:bob@10.0.0.1>;expires=soon"]).code, 400)
        self.assertEqual(self.error(["<sip:bob@10.0.0.1>;q=2"]).code, 400)

    def test_lookupPrefersQThenNewest(self) -> None:
        """
        lookup() gives the highest q, then the most recently registered.
        """
        self.register(["<sip:bob@10.0.0.1>;q=0.5", "<sip:bob@10.0.0.2>;q=0.9"])
        self.assertEqual(str(self.registrar.lookup("bob@").uri), "sip:bob@10.0.0.2")
        self.clock.advance(1)
        self.register(["<sip:bob@10.0.0.3>;q=0.9"], cseq=2)
        self.assertEqual(str(self.registrar.lookup("bob@").uri), "sip:bob@10.0.0.3")

    def test_settingsChecked(self) -> None:
        """
        Inconsistent lifetimes are refused.
        """
        self.assertRaises(ValueError, ServerSettings, minExpires=100, defaultExpires=50)
        self.assertRaises(ValueError, ServerSettings, maxContacts=0)


def req(method: str, uri: str, via: str = "SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK1", extra: str = "", fromTag: str = "a1", callID: str = "call-1", cseq: int = 1, to: str = "<sip:bob@127.0.0.1>") -> bytes:
    """
    @return: a request as bytes.
    """
    return (
        "{m} {u} SIP/2.0\r\nVia: {v}\r\nFrom: <sip:alice@127.0.0.2>;tag={f}\r\nTo: {t}\r\n"
        "Call-ID: {c}\r\nCSeq: {n} {m}\r\n{e}Content-Length: 0\r\n\r\n"
    ).format(m=method, u=uri, v=via, f=fromTag, t=to, c=callID, n=cseq, e=extra).encode()


class RegistrarBytesTests(SynchronousTestCase):
    """
    The registrar is bounded by bytes, not only by count (issue 16 item 7:
    3,000 bindings with 15 KB Contacts took 137 MB before).
    """

    def registrar(self, **settings: Any) -> Registrar:
        return Registrar(task.Clock(), ServerSettings(**settings))

    def test_longValuesRefused(self) -> None:
        """
        An AOR, a Contact or a Call-ID over its bound is refused 400 with a
        reason and a Warning naming the bound; nothing is bound.
        """
        r = self.registrar(maxAORBytes=64, maxContactBytes=128)
        cases = [
            ("u" * 65 + "@", [contact("<sip:u@10.0.0.1>")], "c", "Address-of-Record Too Long"),
            ("u@", [contact("<sip:{}@10.0.0.1>".format("x" * 200))], "c", "Contact Too Long"),
            ("u@", [contact("<sip:u@10.0.0.1>")], "c" * 129, "Call-ID Too Long"),
        ]
        for aor, contacts, callID, reason in cases:
            e = self.assertRaises(RegistrarError, r.register, aor, contacts, 300, callID, 1)
            self.assertEqual((e.code, e.reason), (400, reason))
            self.assertIn("at most", e.headers[0][1])
        self.assertEqual((len(r), r.bytes), (0, 0))

    def test_totalBytesBounded(self) -> None:
        """
        Past C{maxBindingBytes} a REGISTER that adds bytes gets 503; one
        that removes bindings still passes, and expiry gives the bytes back.
        """
        clock = task.Clock()
        r = Registrar(clock, ServerSettings(maxBindingBytes=4096, maxContactBytes=1024))
        big = "<sip:{}@10.0.0.1>".format("x" * 900)
        added = 0
        with self.assertRaises(RegistrarError) as caught:
            for i in range(10):
                r.register("u{}@".format(i), [contact(big)], 300, "c", 1)
                added += 1
        self.assertEqual((caught.exception.code, caught.exception.reason), (503, "Registrar Full (Bytes)"))
        self.assertTrue(0 < r.bytes <= 4096)
        self.assertEqual(len(r), added)
        r.register("u0@", [contact(big)], 0, "c", 2)
        self.assertEqual(len(r), added - 1)
        clock.advance(301)
        r.purge()
        self.assertEqual((len(r), r.bytes), (0, 0))


class ServerTestMixin:
    """
    A L{SIPService} on a fake kernel, listening on 127.0.0.1 and 127.0.0.4.
    """

    #: The server settings (the UAs of these tests are on loopback: allowed).
    serverSettings = ServerSettings(domains=("example.com",), allowInternal=("127.0.0.0/8",))

    def setUp(self) -> None:
        self.startServer(self.addCleanup)

    def startServer(self, cleanup: Any, **kwargs: Any) -> None:
        """Start the service (more L{SIPService} arguments in C{kwargs}); C{cleanup} stops it."""
        self.reactor = MemoryReactorClock()
        self.kernel = FakeKernel()
        self.service = SIPService(self.reactor, [(["127.0.0.1", "127.0.0.4"], 5060)], kernel=self.kernel, serverSettings=self.serverSettings, **kwargs)
        self.service.startService()
        cleanup(self.service.stopService)
        self.server = self.service.server
        self.port = self.service.ports[0]
        self.sock = self.kernel.socket
        self.uac = self.up(7, UAC)

    def up(self, assocID: int, peer: Tuple[str, int]) -> Any:
        self.kernel.peers[assocID] = [peer]
        self.sock.feedNotification(commUp(assocID), peer)
        self.port.doRead()
        return self.port.registry.byKernelID(assocID)

    def feed(self, data: bytes, assocID: int = 7, peer: Tuple[str, int] = UAC) -> None:
        self.sock.feedData(data, assocID, peer)
        self.port.doRead()

    def sent(self) -> List[Tuple[Any, Any, Any]]:
        out = [(parseMessage(d), i, a) for d, i, a in self.sock.sent]
        del self.sock.sent[:]
        return out

    def one(self) -> Tuple[Any, Any, Any]:
        [result] = self.sent()
        return result

    def registerUAS(self, contactURI: str = "sip:bob@127.0.0.3:5080;transport=sctp", assocID: int = 8, expires: int = 300) -> None:
        if self.port.registry.byKernelID(assocID) is None:
            self.up(assocID, UAS)
        self.feed(req("REGISTER", "sip:127.0.0.1", "SIP/2.0/SCTP 127.0.0.3:5080;branch=z9hG4bKr", "Contact: <{}>\r\nExpires: {}\r\n".format(contactURI, expires), to="<sip:bob@127.0.0.1>", callID="reg-1", fromTag="r"), assocID, UAS)
        response, _, _ = self.one()
        self.assertEqual(response.code, 200)



class InternalTargetTests(ServerTestMixin, SynchronousTestCase):
    """
    Without C{allow_internal} the proxy forwards to no internal address
    (issue 16 item 4: a Route to a loopback UDP service was followed).
    """

    serverSettings = ServerSettings(domains=("example.com",))

    def test_internalRefused(self) -> None:
        """
        By Request-URI, Route or registered Contact: loopback, unspecified
        (another port than ours), link-local, multicast, broadcast and the
        other reserved ranges (240.0.0.0/4, "this network" 0.0.0.0/8),
        IPv4-mapped ones and one of our own hosts on another port are refused 403,
        counted; nothing is sent.
        """
        targets = ["sip:x@127.0.0.2:6000;transport=udp", "sip:x@0.0.0.0:6000", "sip:x@169.254.1.1", "sip:x@224.0.0.1",
                   "sip:x@[::1]:5070", "sip:x@[::ffff:127.0.0.1]:5070", "sip:x@[fe80::1]", "sip:x@127.0.0.4:7000",
                   "sip:x@255.255.255.255;transport=udp", "sip:x@240.0.0.1", "sip:x@0.1.2.3:5060", "sip:x@[::ffff:255.255.255.255]"]
        for n, uri in enumerate(targets):
            self.feed(req("INVITE", uri, callID="r{}".format(n)))
            response, _, _ = self.one()
            self.assertEqual((response.code, response.reason), (403, "Internal Destination"), uri)
        self.feed(req("INVITE", "sip:bob@10.0.0.1", callID="route", extra="Route: <sip:127.0.0.2:6000;transport=udp;lr>\r\n"))
        self.assertEqual(self.one()[0].code, 403)
        self.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: <sip:bob@127.0.0.3:5080>\r\nExpires: 300\r\n", callID="reg"))
        self.assertEqual(self.one()[0].code, 200)
        self.feed(req("INVITE", "sip:bob@127.0.0.1", callID="contact"))
        self.assertEqual(self.one()[0].code, 403)
        self.assertEqual(self.server.counters["forward_refused_internal"], len(targets) + 2)
        self.assertEqual(self.server.counters["requests_forwarded"], 0)

    def test_externalForwarded(self) -> None:
        """
        An ordinary address is forwarded as before.
        """
        self.feed(req("MESSAGE", "sip:bob@10.0.0.1"))
        message, _, address = self.one()
        self.assertEqual((message.method, address), ("MESSAGE", ("10.0.0.1", 5060)))

    def test_allowInternalSetting(self) -> None:
        """
        C{--sip allow_internal} takes addresses and CIDR networks; anything
        else is a usage error.
        """
        from twisted.python import usage

        from twisted_sctp.tap import sipSettingsFrom

        _, settings = sipSettingsFrom({"allow_internal": "127.0.0.0/8, ::1"})
        self.assertEqual(settings.allowInternal, ("127.0.0.0/8", "::1"))
        self.assertRaises(usage.UsageError, sipSettingsFrom, {"allow_internal": "localhost"})


class ServerTests(ServerTestMixin, SynchronousTestCase):
    """
    The server through the SIP transport and a fake kernel.
    """

    def test_noTimerWhileNoBindings(self) -> None:
        """
        The service keeps no timed call while nothing is registered (an idle
        reactor is not woken up); a registration starts the purge timer and
        stopping the service cancels it.
        """
        self.feed(req("OPTIONS", "sip:127.0.0.1:5060", "SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bKo"))
        self.assertEqual(self.one()[0].code, 200)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.registerUAS()
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        self.service.stopService()
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_optionsAnswered(self) -> None:
        """
        OPTIONS to the server is answered 200 with Allow, Accept and
        Supported, on its association, with a To tag.
        """
        self.feed(req("OPTIONS", "sip:127.0.0.1:5060"))
        response, info, address = self.one()
        self.assertEqual((response.code, info.assocID, address), (200, 7, None))
        self.assertEqual(response.getHeader("Allow"), ALLOW)
        self.assertEqual(response.getHeader("Accept"), "application/sdp")
        self.assertEqual(response.getHeader("Supported"), "")
        self.assertIsNotNone(response.toTag)
        self.assertEqual(self.server.counters["options_answered"], 1)

    def test_registerListsBindings(self) -> None:
        """
        A REGISTER is answered 200 listing every binding with its expires;
        Expires: 0 removes it, and the 200 lists none.
        """
        self.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: <sip:bob@127.0.0.2:5070>\r\nExpires: 300\r\n"))
        response, _, _ = self.one()
        self.assertEqual(response.getHeaders("Contact"), ["<sip:bob@127.0.0.2:5070>;expires=300"])
        self.reactor.advance(100)
        self.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: <sip:bob@10.0.0.1>;expires=600\r\n", cseq=2))
        response, _, _ = self.one()
        self.assertEqual(sorted(response.getHeaders("Contact")), ["<sip:bob@10.0.0.1>;expires=600", "<sip:bob@127.0.0.2:5070>;expires=200"])
        self.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: *\r\nExpires: 0\r\n", cseq=3))
        response, _, _ = self.one()
        self.assertEqual((response.code, response.getHeaders("Contact")), (200, []))
        self.assertEqual(self.service.sipStats()["bindings"], 0)

    def test_registerForeignDomainRefused(self) -> None:
        """
        Only our domains (listening addresses, C{domains}) are registrable:
        a REGISTER for C{sip:x@evil.example} is refused 403 and binds
        nothing (issue 16 item 6: it got 200 before).
        """
        self.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: <sip:x@127.0.0.2:5070>\r\nExpires: 300\r\n", to="<sip:x@evil.example>"))
        response, _, _ = self.one()
        self.assertEqual((response.code, response.reason), (403, "Not Our Domain"))
        self.assertEqual(self.service.sipStats()["bindings"], 0)
        self.assertEqual(self.server.counters["register_foreign"], 1)
        for to in ("<sip:x@example.com>", "<sip:x@127.0.0.4>"):
            self.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: <sip:x@127.0.0.2:5070>\r\nExpires: 300\r\n", to=to, callID=to))
            self.assertEqual(self.one()[0].code, 200)

    def test_registerLogLineBounded(self) -> None:
        """
        The log line of a REGISTER names the AOR cut to 80 characters, so a
        7 KB user part does not make a 7 KB line per REGISTER.
        """
        from tests.test_sip import LogCapture

        logs = LogCapture(self)
        user = "u" * 200
        self.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: <sip:x@127.0.0.2:5070>\r\nExpires: 300\r\n", to="<sip:{}@127.0.0.1>".format(user)))
        self.assertEqual(self.one()[0].code, 200)
        [event] = [e for e in logs.events if "REGISTER" in e.get("log_format", "")]
        self.assertTrue(event["aor"].startswith("u" * 80))
        self.assertLess(len(event["aor"]), 100)

    def test_registerErrors(self) -> None:
        """
        A refused REGISTER is answered with the registrar's status and
        headers.
        """
        self.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: <sip:bob@127.0.0.2>\r\nExpires: 10\r\n"))
        response, _, _ = self.one()
        self.assertEqual((response.code, response.getHeader("Min-Expires")), (423, "60"))
        self.assertEqual(self.server.counters["register_errors"], 1)

    def test_registrationsExpire(self) -> None:
        """
        After its lifetime, a binding no longer routes (404) and the periodic
        purge forgets it.
        """
        self.registerUAS(expires=60)
        self.reactor.advance(61)
        self.feed(req("INVITE", "sip:bob@127.0.0.1"))
        response, _, _ = self.one()
        self.assertEqual(response.code, 404)
        self.reactor.advance(30)
        self.assertEqual(len(self.server.registrar), 0)

    def test_inviteForwardedToContact(self) -> None:
        """
        An INVITE to a registered user goes to the contact: Request-URI
        rewritten, Max-Forwards decremented, our Via on top (SCTP, our
        address, a branch, ;i= naming the UAC's association), on the
        association to the contact.
        """
        self.registerUAS()
        self.feed(req("INVITE", "sip:bob@127.0.0.1:5060", extra="Max-Forwards: 10\r\n"))
        message, info, address = self.one()
        self.assertEqual(message.uri, "sip:bob@127.0.0.3:5080;transport=sctp")
        self.assertEqual(message.maxForwards, 9)
        top, second = message.vias
        self.assertEqual((top.transport, top.host, top.port), ("SCTP", "127.0.0.1", 5060))
        self.assertTrue(top.branch.startswith("z9hG4bK"))
        self.assertEqual(top.params["i"], encodeFlowToken(self.uac.id))
        self.assertEqual((second.host, second.branch), ("127.0.0.2", "z9hG4bK1"))
        self.assertEqual(info.assocID, 8)
        self.assertEqual(self.server.counters["requests_forwarded"], 1)

    def test_maxForwardsAdded(self) -> None:
        """
        Without Max-Forwards, 70 is added.
        """
        self.registerUAS()
        self.feed(req("MESSAGE", "sip:bob@127.0.0.1"))
        message, _, _ = self.one()
        self.assertEqual(message.maxForwards, 70)

    def test_tooManyHops(self) -> None:
        """
        Max-Forwards 0 is answered 483, except OPTIONS (answered by us) and
        ACK (dropped).
        """
        self.registerUAS()
        self.feed(req("INVITE", "sip:bob@127.0.0.1", extra="Max-Forwards: 0\r\n"))
        self.assertEqual(self.one()[0].code, 483)
        self.feed(req("OPTIONS", "sip:bob@127.0.0.1", extra="Max-Forwards: 0\r\n"))
        self.assertEqual(self.one()[0].code, 200)
        self.feed(req("ACK", "sip:bob@127.0.0.1", extra="Max-Forwards: 0\r\n"))
        self.assertEqual(self.sent(), [])

    def test_loopToUnspecifiedAddress(self) -> None:
        """
        A Request-URI or a registered Contact of C{0.0.0.0} (or C{::}) with
        our port reaches ourselves: 482 on the first hop, nothing forwarded
        (issue 16 item 5: forwarded 70 times before).
        """
        self.feed(req("INVITE", "sip:x@0.0.0.0:5060;transport=udp"))
        self.assertEqual(self.one()[0].code, 482)
        self.feed(req("INVITE", "sip:x@[::]:5060", callID="c6"))
        self.assertEqual(self.one()[0].code, 482)
        self.registerUAS("sip:bob@0.0.0.0:5060;transport=udp")
        self.feed(req("INVITE", "sip:bob@127.0.0.1", callID="c2"))
        self.assertEqual(self.one()[0].code, 482)
        self.assertEqual(self.server.counters["loops_detected"], 3)
        self.assertEqual(self.server.counters["requests_forwarded"], 0)

    def test_maxForwardsClamped(self) -> None:
        """
        Max-Forwards above 255 (RFC 3261 20.22) is clamped to 70 before it
        is decremented, and counted; 255 itself is passed on less one.
        """
        self.registerUAS()
        for given, expected in (("999999999", 69), ("256", 69), ("255", 254)):
            self.feed(req("MESSAGE", "sip:bob@127.0.0.1", extra="Max-Forwards: {}\r\n".format(given), callID=given))
            message, _, _ = self.one()
            self.assertEqual(message.maxForwards, expected, given)
        self.assertEqual(self.server.counters["max_forwards_clamped"], 2)

    def test_unknownUser(self) -> None:
        """
        A request for a user with no binding is answered 404; an ACK for one
        is absorbed.
        """
        self.feed(req("INVITE", "sip:nobody@127.0.0.1"))
        self.assertEqual(self.one()[0].code, 404)
        self.feed(req("ACK", "sip:nobody@127.0.0.1"))
        self.assertEqual(self.sent(), [])
        self.assertEqual(self.server.counters["acks_absorbed"], 1)

    def test_aorIsTheSameOnEveryLocalAddress(self) -> None:
        """
        On a multihomed server, sip:bob@ADDRESS1 and sip:bob@ADDRESS2 (and a
        configured domain) are the same AOR.
        """
        self.registerUAS()
        for uri in ("sip:bob@127.0.0.4:5060", "sip:bob@example.com"):
            self.feed(req("INVITE", uri))
            self.assertEqual(self.one()[0].uri, "sip:bob@127.0.0.3:5080;transport=sctp")

    def test_cancelAndAckGetTheInviteBranch(self) -> None:
        """
        CANCEL and the ACK of a non-2xx are forwarded with the INVITE's
        branch (stateless proxy, RFC 3261 16.11); a 2xx ACK (new branch from
        the UAC) gets another.
        """
        self.registerUAS()
        self.feed(req("INVITE", "sip:bob@127.0.0.1"))
        invite = self.one()[0]
        self.feed(req("CANCEL", "sip:bob@127.0.0.1"))
        cancel = self.one()[0]
        self.feed(req("ACK", "sip:bob@127.0.0.1"))
        ack = self.one()[0]
        self.feed(req("ACK", "sip:bob@127.0.0.1", via="SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK2"))
        ack2xx = self.one()[0]
        self.assertEqual(invite.branch, cancel.branch)
        self.assertEqual(invite.branch, ack.branch)
        self.assertNotEqual(invite.branch, ack2xx.branch)

    def test_responseBackOnUACAssociation(self) -> None:
        """
        A response from the UAS loses our Via and goes back on the UAC's
        association named by ;i=.
        """
        self.registerUAS()
        self.feed(req("INVITE", "sip:bob@127.0.0.1"))
        invite = self.one()[0]
        response = SIPResponse(180, "Ringing", [("Via", v) for v in (str(invite.vias[0]), str(invite.vias[1]))] + [(n, v) for n, v in invite.headers if n in ("From", "To", "Call-ID", "CSeq")])
        self.feed(response.toBytes(), 8, UAS)
        message, info, address = self.one()
        self.assertEqual((message.code, len(message.vias), info.assocID, address), (180, 1, 7, None))
        self.assertEqual(message.vias[0].branch, "z9hG4bK1")
        self.assertEqual(self.server.counters["responses_forwarded"], 1)

    def test_responseFallsBackToVia(self) -> None:
        """
        If the UAC's association is gone, the response goes to the next
        Via's address (received/rport).
        """
        self.registerUAS()
        self.feed(req("INVITE", "sip:bob@127.0.0.1", via="SIP/2.0/SCTP uac.example.com;rport;branch=z9hG4bK1"))
        invite = self.one()[0]
        self.sock.feedNotification(AssocChange(state=AssocChangeState.COMM_LOST, error=0, outboundStreams=0, inboundStreams=0, assocID=7), UAC)
        self.port.doRead()
        response = SIPResponse(200, "OK", [("Via", str(v)) for v in invite.vias] + [(n, v) for n, v in invite.headers if n in ("From", "To", "Call-ID", "CSeq")])
        self.feed(response.toBytes(), 8, UAS)
        message, info, address = self.one()
        self.assertEqual((message.code, info.assocID, address), (200, 0, UAC))

    def test_responseNotOursDropped(self) -> None:
        """
        A response whose top Via is not ours, or that is ours but unsealed,
        is dropped.
        """
        self.feed(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/SCTP 10.9.9.9:5060;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")
        self.feed(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/SCTP 127.0.0.1:5060;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")
        self.assertEqual(self.sent(), [])
        counters = self.server.counters
        self.assertEqual((counters["responses_not_ours"], counters["responses_forged"], counters["responses_absorbed"]), (1, 1, 0))

    def test_forgedResponseNotReflected(self) -> None:
        """
        A stranger's response whose top Via names us but carries no seal
        (or a seal of its own making) is not forwarded to its second Via, over
        SCTP or UDP (issue 16 item 1: reflected to 127.0.0.2 before).
        """
        udp = FakeUDP()
        self.service.transport.listeners[0].udp = udp
        for seal in ("", ";tsig=" + "0" * 20, ";tsig=zz"):
            for second in ("SIP/2.0/UDP 127.0.0.2:7779", "SIP/2.0/SCTP 127.0.0.2:5091"):
                self.feed("SIP/2.0 200 OK\r\nVia: SIP/2.0/SCTP 127.0.0.1:5060;branch=z9hG4bKts1{}\r\nVia: {};branch=z9hG4bKv\r\n"
                          "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n".format(seal, second).encode())
        self.assertEqual((self.sent(), udp.written), ([], []))
        self.assertEqual(self.server.counters["responses_forged"], 6)
        self.assertEqual(self.server.counters["responses_forwarded"], 0)

    def test_flowTokenNotInjectable(self) -> None:
        """
        A stranger trying C{i} tokens 1..59 in responses (with the seal of a
        real Via from another transaction, or none) gets nothing into
        another user's association; a real response changed to another
        C{i}, or arriving from another host than the request went to, is
        dropped too (issue 16 item 2).
        """
        self.registerUAS()
        self.feed(req("INVITE", "sip:bob@127.0.0.1"))
        invite, _, _ = self.one()
        ours = invite.vias[0]
        self.assertIn("tsig", ours.params)
        stranger = self.up(9, ("127.0.0.9", 5999))
        for n in range(1, 60):
            params = dict(ours.params, i=encodeFlowToken(n))
            via = "SIP/2.0/SCTP 127.0.0.1:5060;" + ";".join("{}={}".format(k, v) for k, v in params.items())
            self.feed("SIP/2.0 200 OK\r\nVia: {}\r\nVia: SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK1\r\n"
                      "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: injected-{}\r\nCSeq: 1 INVITE\r\n\r\n".format(via, n).encode(), 9, ("127.0.0.9", 5999))
        self.assertEqual(self.sent(), [])
        self.assertEqual(self.server.counters["responses_forged"], 59)
        self.assertIsNotNone(stranger)
        # The real response, from where the INVITE went, is forwarded.
        response = SIPResponse(200, "OK", [("Via", str(v)) for v in invite.vias] + [(n, v) for n, v in invite.headers if n in ("From", "To", "Call-ID", "CSeq")])
        self.feed(response.toBytes(), 8, UAS)
        message, info, _ = self.one()
        self.assertEqual((message.code, info.assocID), (200, 7))

    def test_looseRouting(self) -> None:
        """
        A first Route naming us is removed; the request goes to the next
        Route with its Request-URI unchanged.
        """
        self.up(9, ("127.0.0.9", 5070))
        self.feed(req("BYE", "sip:bob@10.1.1.1:5099", extra="Route: <sip:127.0.0.1:5060;lr>, <sip:127.0.0.9:5070;lr>\r\n"))
        message, info, _ = self.one()
        self.assertEqual(message.uri, "sip:bob@10.1.1.1:5099")
        self.assertEqual([r.uri for r in message.routes], ["sip:127.0.0.9:5070;lr"])
        self.assertEqual(info.assocID, 9)

    def test_strictRouteNextHop(self) -> None:
        """
        A next hop without lr is a strict router: it becomes the
        Request-URI, and the old Request-URI the last Route.
        """
        self.feed(req("BYE", "sip:bob@10.1.1.1:5099", extra="Route: <sip:127.0.0.9:5070>, <sip:127.0.0.8;lr>\r\n"))
        message, _, address = self.one()
        self.assertEqual(message.uri, "sip:127.0.0.9:5070")
        self.assertEqual([r.uri for r in message.routes], ["sip:127.0.0.8;lr", "sip:bob@10.1.1.1:5099"])
        self.assertEqual(address, ("127.0.0.9", 5070))

    def test_foreignRequestURIRelayed(self) -> None:
        """
        A Request-URI that is not ours is forwarded to it (an in-dialog
        request to the UAS's contact, as the proxy does not Record-Route).
        """
        self.feed(req("BYE", "sip:127.0.0.3:5080;transport=sctp"))
        message, _, address = self.one()
        self.assertEqual((message.method, address), ("BYE", ("127.0.0.3", 5080)))

    def test_unroutable(self) -> None:
        """
        A host name is not resolved (478), tel: is not routable (416), TCP
        is not available (503), and sending to ourselves is a loop (482).
        """
        for uri, code in (("sip:bob@name.example", 478), ("tel:+1234", 416), ("sip:bob@10.0.0.1;transport=tcp", 503), ("sip:bob@127.0.0.4:5060;transport=sctp", None)):
            if code is None:
                self.registerUAS("sip:bob@127.0.0.1:5060")
                self.feed(req("INVITE", "sip:bob@127.0.0.1"))
                code = 482
            else:
                self.feed(req("INVITE", uri))
            self.assertEqual(self.one()[0].code, code, uri)

    def test_udpContact(self) -> None:
        """
        A contact with transport=udp is reached over the listener's UDP port
        with a UDP Via; its response, arriving over UDP, goes back to the
        UAC's association.
        """
        udp = FakeUDP()
        self.service.transport.listeners[0].udp = udp
        self.registerUAS("sip:bob@127.0.0.5:5090;transport=udp")
        self.feed(req("INVITE", "sip:bob@127.0.0.1"))
        self.assertEqual(self.sent(), [])
        [(data, addr)] = udp.written
        invite = parseMessage(data)
        self.assertEqual(addr, ("127.0.0.5", 5090))
        self.assertEqual(str(invite.vias[0]).split(";")[0], "SIP/2.0/UDP 127.0.0.1:5060")
        response = SIPResponse(200, "OK", [("Via", str(v)) for v in invite.vias] + [(n, v) for n, v in invite.headers if n in ("From", "To", "Call-ID", "CSeq")])
        from twisted_sctp.sip.transport import UDP, Origin

        self.service.transport.dataReceived(response.toBytes(), Origin(UDP, 0, ("127.0.0.5", 5090)))
        message, info, _ = self.one()
        self.assertEqual((message.code, info.assocID), (200, 7))

    def test_forwardFailureAnswered503(self) -> None:
        """
        A request the port refuses to send is answered 503.
        """
        self.registerUAS("sip:bob@127.0.0.6:5090")
        self.sock.sendErrors.append(OSError(22, "scripted"))
        self.feed(req("INVITE", "sip:bob@127.0.0.1"))
        response = self.one()[0]
        self.assertEqual((response.code, len(response.vias)), (503, 1))
        self.assertEqual(self.server.counters["forward_failed"], 1)

    def test_sipStats(self) -> None:
        """
        sipStats() merges the transport's and the server's counters, all
        ints.
        """
        self.feed(req("OPTIONS", "sip:127.0.0.1"))
        self.feed(b"\r\n\r\n")
        stats = self.service.sipStats()
        self.assertEqual((stats["requests_in"], stats["options_answered"], stats["keepalive_pings"], stats["bindings"]), (1, 1, 1, 0))
        self.assertTrue(all(isinstance(v, int) for v in stats.values()))
