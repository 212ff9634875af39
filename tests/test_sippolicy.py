# -*- test-case-name: tests.test_sippolicy -*-
"""
Tests for L{twisted_sctp.sip.policy}: the server's security decisions end to
end through L{SIPService} over L{twisted_sctp.testing.FakeKernel} (no kernel
SCTP): Digest REGISTER, AOR ownership, relay refusal, trusted peers, flood
limits and loop detection; and the C{twistd sctp-sip} options for them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twisted.cred import strcred
from twisted.cred.credentials import IUsernameHashedPassword
from twisted.internet import defer
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.sip.digest import answerChallenge, calcHA1, formatCredentials, parseChallenge
from twisted_sctp.sip.message import SIPRequest, parseMessage
from twisted_sctp.sip.policy import SecuritySettings, defaultRealm
from twisted_sctp.sip.server import ServerSettings
from twisted_sctp.tap import Options, SIPService
from twisted_sctp.testing import FakeKernel, commUp

UAC = ("127.0.0.2", 5070)
UAS = ("127.0.0.3", 5080)
PEER = ("127.0.0.5", 5090)
DOMAIN = "example.com"
USERS = "memory:alice:secret1:bob:secret2"


def request(method: str, uri: str, to: str = "alice", sender: str = "alice", extra: Sequence[Tuple[str, str]] = (), cseq: int = 1,
            via: str = "SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bKp1", callID: str = "c1", domain: str = DOMAIN) -> bytes:
    """
    @return: a request from C{sender}@example.com to C{to}@C{domain}.
    """
    lines = [
        "{} {} SIP/2.0".format(method, uri), "Via: " + via, "Max-Forwards: 70",
        "From: <sip:{}@{}>;tag=f{}".format(sender, DOMAIN, sender), "To: <sip:{}@{}>".format(to, domain),
        "Call-ID: " + callID, "CSeq: {} {}".format(cseq, method),
    ] + ["{}: {}".format(n, v) for n, v in extra] + ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


class PolicyTestsMixin:
    """
    A SIPService on a fake kernel with a security policy.
    """

    def serve(self, security: Optional[SecuritySettings] = None, checkers: Sequence[Any] = ()) -> None:
        self.reactor = MemoryReactorClock()
        self.reactor.advance(1000)
        self.kernel = FakeKernel()
        self.service = SIPService(self.reactor, [(["127.0.0.1", "127.0.0.4"], 5060)], kernel=self.kernel,
                                  serverSettings=ServerSettings(domains=(DOMAIN,), allowInternal=("127.0.0.0/8",)), security=security, checkers=checkers)
        self.events: List[Dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)  # type: ignore[attr-defined]
        self.service.startService()
        self.addCleanup(self.service.stopService)  # type: ignore[attr-defined]
        self.server = self.service.server
        self.port = self.service.ports[0]
        self.sock = self.kernel.socket
        self.assocs: Dict[Tuple[str, int], int] = {}

    def feed(self, data: bytes, peer: Tuple[str, int] = UAC) -> None:
        if peer not in self.assocs:
            assocID = self.assocs[peer] = 7 + len(self.assocs)
            self.kernel.peers[assocID] = [peer]
            self.sock.feedNotification(commUp(assocID), peer)
            self.port.doRead()
        self.sock.feedData(data, self.assocs[peer], peer)
        self.port.doRead()

    def sent(self) -> List[Tuple[Any, Any, Any]]:
        out = [(parseMessage(d), i, a) for d, i, a in self.sock.sent]
        del self.sock.sent[:]
        return out

    def one(self) -> Any:
        [(message, _, _)] = self.sent()  # type: ignore[misc]
        return message

    def exchange(self, data: bytes, peer: Tuple[str, int] = UAC) -> Any:
        self.feed(data, peer)
        return self.one()


class DigestRegisterTests(PolicyTestsMixin, SynchronousTestCase):
    """
    REGISTER through the Digest challenge.
    """

    def setUp(self) -> None:
        self.serve(SecuritySettings(aliases=("sales:bob",)), [strcred.makeChecker(USERS)])

    def challenge(self, to: str = "alice", algorithm: str = "SHA-256", **kw: Any) -> Any:
        response = self.exchange(request("REGISTER", "sip:example.com", to, extra=[("Contact", "<sip:{}@127.0.0.2:5070>".format(to))], **kw))
        self.assertEqual(response.code, 401)
        [found] = [c for c in map(parseChallenge, response.getHeaders("WWW-Authenticate")) if c.algorithm == algorithm]
        return found

    def register(self, challenge: Any, user: str = "alice", password: bytes = b"secret1", to: str = "alice", nc: int = 1, cseq: int = 2,
                 contact: str = "<sip:alice@127.0.0.2:5070>", cnonce: str = "cn1") -> Any:
        creds = answerChallenge(challenge, user, password, "REGISTER", "sip:example.com", nc, cnonce)
        return self.exchange(request("REGISTER", "sip:example.com", to, cseq=cseq, extra=[("Contact", contact), ("Authorization", formatCredentials(creds))]))

    def test_challengeBothAlgorithms(self) -> None:
        """
        A REGISTER without credentials gets 401 with a SHA-256 and an MD5
        challenge (that order), realm example.com, qop="auth", one nonce;
        nothing is bound.
        """
        response = self.exchange(request("REGISTER", "sip:example.com", extra=[("Contact", "<sip:alice@127.0.0.2:5070>")]))
        self.assertEqual(response.code, 401)
        found = [parseChallenge(v) for v in response.getHeaders("WWW-Authenticate")]
        self.assertEqual([(c.algorithm, c.realm, c.qop, c.stale) for c in found], [("SHA-256", DOMAIN, ("auth",), False), ("MD5", DOMAIN, ("auth",), False)])
        self.assertEqual(found[0].nonce, found[1].nonce)
        self.assertIsNotNone(response.toTag)
        stats = self.service.sipStats()
        self.assertEqual((stats["auth_challenges"], stats["replies_401"], stats["bindings"]), (1, 1, 0))

    def test_sha256AndMD5Accepted(self) -> None:
        """
        The right password answered with SHA-256 or with MD5 binds the AOR.
        """
        self.assertEqual(self.register(self.challenge("alice", "SHA-256")).code, 200)
        response = self.register(self.challenge("bob", "MD5"), "bob", b"secret2", "bob", contact="<sip:bob@127.0.0.2:5070>")
        self.assertEqual((response.code, response.getHeaders("Contact")), (200, ["<sip:bob@127.0.0.2:5070>;expires=3600"]))
        stats = self.service.sipStats()
        self.assertEqual((stats["auth_ok"], stats["registrations"], stats["aors"]), (2, 2, 2))

    def test_wrongPassword(self) -> None:
        """
        A wrong password after the challenge is 403, counted, one warning
        naming the source and user, and nothing bound.
        """
        response = self.register(self.challenge(), password=b"guess")
        self.assertEqual((response.code, response.reason), (403, "Forbidden"))
        self.register(self.challenge(), password=b"guess2")
        stats = self.service.sipStats()
        self.assertEqual((stats["auth_failures"], stats["bindings"]), (2, 0))
        warnings = [formatEvent(e) for e in self.events if "authentication failed" in formatEvent(e)]
        self.assertEqual(len(warnings), 1)
        self.assertIn("127.0.0.2", warnings[0])
        self.assertEqual((self.server.guard.failures.get("127.0.0.2"), stats["auth_failing_sources"]), (2, 1))
        self.reactor.advance(60)
        self.register(self.challenge(), password=b"guess3")
        self.assertIn("3 failure(s) from it", formatEvent(self.events[-1]))

    def test_replayRefused(self) -> None:
        """
        The same Authorization again (same nonce and nc), even with another
        Contact, is refused with a fresh stale=true challenge and changes
        nothing; the next nc on the same nonce is good.
        """
        challenge = self.challenge()
        self.assertEqual(self.register(challenge).code, 200)
        replay = self.register(challenge, cseq=3, contact="<sip:alice@10.6.6.6>")
        self.assertEqual(replay.code, 401)
        self.assertTrue(all(parseChallenge(v).stale for v in replay.getHeaders("WWW-Authenticate")))
        self.assertEqual([str(b.uri) for b in self.server.registrar.bindings("alice@")], ["sip:alice@127.0.0.2:5070"])
        self.assertEqual(self.register(challenge, nc=2, cseq=4, contact="<sip:alice@10.0.0.7>").code, 200)
        self.assertEqual(self.service.sipStats()["auth_replays"], 1)

    def test_staleNonce(self) -> None:
        """
        A nonce past its lifetime gets 401 with stale=true, and one from
        another server (restart) the same; the fresh nonce then works.
        """
        challenge = self.challenge()
        self.reactor.advance(300)
        response = self.register(challenge)
        self.assertEqual(response.code, 401)
        fresh = [parseChallenge(v) for v in response.getHeaders("WWW-Authenticate")]
        self.assertTrue(all(c.stale for c in fresh))
        import attrs

        self.assertEqual(self.register(attrs.evolve(challenge, nonce="x" * 43), cseq=3).code, 401)
        self.assertEqual(self.register(fresh[0], cseq=4).code, 200)
        self.assertEqual(self.service.sipStats()["auth_stale"], 2)

    def test_aorOwnership(self) -> None:
        """
        bob's valid credentials cannot bind alice's AOR nor an AOR in
        another domain (403); an alias given for bob (sales) can be bound.
        """
        response = self.register(self.challenge("alice"), "bob", b"secret2", "alice")
        self.assertEqual((response.code, response.reason), (403, "Not Your Address-of-Record"))
        creds = answerChallenge(self.challenge("bob"), "bob", b"secret2", "REGISTER", "sip:example.com", 1, "c")
        foreign = self.exchange(request("REGISTER", "sip:example.com", "bob", domain="example.org", cseq=3, extra=[("Contact", "<sip:bob@127.0.0.2>"), ("Authorization", formatCredentials(creds))]))
        self.assertEqual(foreign.code, 403)
        self.assertEqual(self.register(self.challenge("sales"), "bob", b"secret2", "sales", contact="<sip:sales@127.0.0.2>").code, 200)
        stats = self.service.sipStats()
        self.assertEqual((stats["aor_denied"], stats["bindings"]), (2, 1))

    def test_badAuthorization(self) -> None:
        """
        A malformed Authorization, one without qop, another algorithm or a
        digest uri that is not the Request-URI is 400; credentials for
        another realm are ignored (a challenge).
        """
        challenge = self.challenge()
        good = answerChallenge(challenge, "alice", b"secret1", "REGISTER", "sip:example.com", 1, "c")
        import attrs

        for value in ("Digest username=", formatCredentials(attrs.evolve(good, qop=None)),
                      formatCredentials(attrs.evolve(good, algorithm="SHA-512")), formatCredentials(attrs.evolve(good, uri="sip:other.example"))):
            response = self.exchange(request("REGISTER", "sip:example.com", extra=[("Contact", "<sip:alice@127.0.0.2>"), ("Authorization", value)]))
            self.assertEqual(response.code, 400, value)
        other = formatCredentials(attrs.evolve(good, realm="elsewhere"))
        self.assertEqual(self.exchange(request("REGISTER", "sip:example.com", extra=[("Contact", "<sip:alice@127.0.0.2>"), ("Authorization", other)])).code, 401)
        self.assertEqual(self.service.sipStats()["auth_malformed"], 4)

    def test_noSecretsLogged(self) -> None:
        """
        After good, wrong, replayed and malformed attempts no log event holds
        a password, an HA1, a response or a whole Authorization value.
        """
        challenge = self.challenge()
        good = answerChallenge(challenge, "alice", b"secret1", "REGISTER", "sip:example.com", 1, "c")
        self.register(challenge, cnonce="c")
        self.register(challenge, cnonce="c", cseq=3)
        self.register(self.challenge(), password=b"guess", cseq=4)
        self.exchange(request("REGISTER", "sip:example.com", extra=[("Authorization", "Digest response=secret1")]))
        text = "\n".join(formatEvent(e) + repr(e) for e in self.events)
        for secret in ("secret1", "guess", good.response, calcHA1("MD5", "alice", DOMAIN, b"secret1"), calcHA1("SHA-256", "alice", DOMAIN, b"secret1")):
            self.assertNotIn(secret, text)

    def test_algorithmsConfigured(self) -> None:
        """
        digest_algorithms=MD5 offers MD5 only, and a SHA-256 answer is then
        refused (400).
        """
        self.serve(SecuritySettings(algorithms=("MD5",)), [strcred.makeChecker(USERS)])
        response = self.exchange(request("REGISTER", "sip:example.com", extra=[("Contact", "<sip:alice@127.0.0.2>")]))
        [challenge] = [parseChallenge(v) for v in response.getHeaders("WWW-Authenticate")]
        self.assertEqual(challenge.algorithm, "MD5")
        import attrs

        self.assertEqual(self.register(attrs.evolve(challenge, algorithm="SHA-256")).code, 400)
        self.assertEqual(self.register(challenge, cseq=3).code, 200)

    def test_asynchronousChecker(self) -> None:
        """
        With a checker that answers later the request waits, then is handled.
        """
        later: List[defer.Deferred[bytes]] = []

        class Later:
            credentialInterfaces = (IUsernameHashedPassword,)

            def requestAvatarId(self, c: Any) -> defer.Deferred[bytes]:
                later.append(defer.Deferred())
                later[-1].addCallback(lambda _: c.checkPassword(b"secret1") and b"alice")
                return later[-1]

        self.server.guard.authenticator.checkers = [Later()]
        creds = answerChallenge(self.challenge(), "alice", b"secret1", "REGISTER", "sip:example.com", 1, "c")
        self.feed(request("REGISTER", "sip:example.com", cseq=2, extra=[("Contact", "<sip:alice@127.0.0.2>"), ("Authorization", formatCredentials(creds))]))
        self.assertEqual(self.sent(), [])
        later[0].callback(None)
        self.assertEqual(self.one().code, 200)


class RelayTests(PolicyTestsMixin, SynchronousTestCase):
    """
    No open relay: foreign domains only for authenticated users and trusted
    peers; our own users and the server itself reachable without a challenge.
    """

    def setUp(self) -> None:
        self.serve(SecuritySettings(trusted=("127.0.0.5", "10.1.0.0/16")), [strcred.makeChecker(USERS)])

    def bindBob(self, expires: int = 300, cseq: int = 1) -> None:
        """Register bob at the UAS (from a trusted peer: no challenge)."""
        data = request("REGISTER", "sip:example.com", to="bob", sender="bob", callID="reg-bob", cseq=cseq, via="SIP/2.0/SCTP 127.0.0.5:5090;branch=z9hG4bKb{}".format(cseq),
                       extra=[("Contact", "<sip:bob@127.0.0.3:5080>"), ("Expires", str(expires))])
        self.assertEqual(self.exchange(data, PEER).code, 200)

    def test_optionsToServer(self) -> None:
        """
        OPTIONS to the server itself is answered 200 with no challenge.
        """
        self.assertEqual(self.exchange(request("OPTIONS", "sip:example.com", to="")).code, 200)
        self.assertEqual(self.exchange(request("OPTIONS", "sip:127.0.0.1:5060", to="", cseq=2)).code, 200)
        self.assertEqual(self.service.sipStats().get("auth_challenges", 0), 0)

    def test_callToOurUser(self) -> None:
        """
        A stranger's INVITE to a registered user is routed without a
        challenge, and so are the ACK and BYE sent to its contact.
        """
        self.bindBob()
        self.feed(request("INVITE", "sip:bob@example.com", to="bob", sender="stranger"))
        [(invite, _, address)] = self.sent()
        self.assertEqual((invite.method, address), ("INVITE", UAS))
        for method, uri in (("ACK", "sip:bob@127.0.0.3:5080"), ("BYE", "sip:127.0.0.3:5080;transport=sctp")):
            self.feed(request(method, uri, to="bob", sender="stranger", cseq=2))
            [(message, _, address)] = self.sent()
            self.assertEqual((message.method, address), (method, UAS))
        self.assertEqual(self.exchange(request("INVITE", "sip:nobody@example.com", to="nobody", cseq=3)).code, 404)
        self.assertEqual(self.service.sipStats()["contact_addresses"], 1)

    def test_contactGoneChallenged(self) -> None:
        """
        Once bob's binding is removed (or lapses), its address is foreign
        again: a stranger's request to it is challenged.
        """
        self.bindBob()
        self.bindBob(expires=0, cseq=2)
        self.assertEqual(self.exchange(request("BYE", "sip:127.0.0.3:5080", to="bob", sender="stranger", cseq=2)).code, 407)
        self.bindBob(expires=60, cseq=3)
        self.reactor.advance(61)
        self.assertEqual(self.exchange(request("BYE", "sip:127.0.0.3:5080", to="bob", sender="stranger", cseq=3)).code, 407)
        # The lapsed entry is forgotten at the next sweep (every 75 s).
        self.reactor.advance(100)
        self.exchange(request("OPTIONS", "sip:example.com", to="", cseq=4))
        self.assertEqual(self.service.sipStats()["contact_addresses"], 0)

    def test_foreignFromStrangerChallenged(self) -> None:
        """
        A request for a foreign domain (Request-URI or Route) from a
        stranger gets 407 with Proxy-Authenticate, SHA-256 and MD5; an
        unrelated ACK is dropped and an unrelated CANCEL refused (never
        challenged).
        """
        response = self.exchange(request("INVITE", "sip:carol@10.9.9.9", to="carol"))
        self.assertEqual(response.code, 407)
        self.assertEqual([parseChallenge(v).algorithm for v in response.getHeaders("Proxy-Authenticate")], ["SHA-256", "MD5"])
        routed = self.exchange(request("MESSAGE", "sip:bob@example.com", extra=[("Route", "<sip:10.9.9.9;lr>")], cseq=2))
        self.assertEqual(routed.code, 407)
        self.feed(request("ACK", "sip:carol@10.9.9.9", to="carol", cseq=3))
        self.assertEqual(self.sent(), [])
        self.assertEqual(self.exchange(request("CANCEL", "sip:carol@10.9.9.9", to="carol", cseq=4)).code, 403)
        stats = self.service.sipStats()
        self.assertEqual((stats["relay_challenged"], stats["relay_refused"], stats.get("requests_forwarded", 0)), (2, 2, 0))

    def authorised(self, method: str, user: str = "alice", password: bytes = b"secret1", sender: str = "alice", cseq: int = 2) -> bytes:
        response = self.exchange(request(method, "sip:carol@10.9.9.9", to="carol", sender=sender, cseq=cseq - 1, callID="r{}".format(cseq)))
        self.assertEqual(response.code, 407)
        [challenge] = [c for c in map(parseChallenge, response.getHeaders("Proxy-Authenticate")) if c.algorithm == "MD5"]
        creds = answerChallenge(challenge, user, password, method, "sip:carol@10.9.9.9", 1, "c")
        return request(method, "sip:carol@10.9.9.9", to="carol", sender=sender, cseq=cseq, callID="r{}".format(cseq), extra=[("Proxy-Authorization", formatCredentials(creds))])

    def test_foreignFromAuthenticatedUser(self) -> None:
        """
        With Proxy-Authorization for alice (From alice) the INVITE is
        forwarded without the credentials; its CANCEL follows unchallenged.
        """
        self.feed(self.authorised("INVITE"))
        [(invite, _, address)] = self.sent()
        self.assertEqual((invite.method, address, invite.hasHeader("Proxy-Authorization")), ("INVITE", ("10.9.9.9", 5060), False))
        self.feed(request("CANCEL", "sip:carol@10.9.9.9", to="carol", cseq=2, callID="r2"))
        [(cancel, _, address)] = self.sent()
        self.assertEqual((cancel.method, address), ("CANCEL", ("10.9.9.9", 5060)))
        self.assertEqual(self.service.sipStats()["relay_authorized"], 1)

    def test_foreignFromWrongIdentity(self) -> None:
        """
        alice's credentials on a request From bob are refused (403); a wrong
        password is 403.
        """
        self.assertEqual(self.exchange(self.authorised("INVITE", sender="bob")).reason, "From Identity Mismatch")
        self.assertEqual(self.exchange(self.authorised("INVITE", password=b"nope", cseq=4)).code, 403)

    def test_trustedPeer(self) -> None:
        """
        A trusted peer relays to a foreign domain and registers without a
        challenge.
        """
        self.feed(request("INVITE", "sip:carol@10.9.9.9", to="carol", via="SIP/2.0/SCTP 127.0.0.5:5090;branch=z9hG4bKt"), PEER)
        [(invite, _, address)] = self.sent()
        self.assertEqual((invite.method, address), ("INVITE", ("10.9.9.9", 5060)))
        response = self.exchange(request("REGISTER", "sip:example.com", to="gw", cseq=2, via="SIP/2.0/SCTP 127.0.0.5:5090;branch=z9hG4bKt2", extra=[("Contact", "<sip:gw@127.0.0.5:5090>")]), PEER)
        self.assertEqual(response.code, 200)
        self.assertEqual(self.service.sipStats()["trusted_requests"], 2)


class RateLimitTests(PolicyTestsMixin, SynchronousTestCase):
    """
    Flood limits.
    """

    def options(self, n: int, peer: Tuple[str, int] = UAC) -> List[int]:
        codes = []
        for i in range(n):
            self.feed(request("OPTIONS", "sip:example.com", to="", cseq=i + 1, via="SIP/2.0/SCTP {}:{};branch=z9hG4bKo{}".format(peer[0], peer[1], i)), peer)
            codes += [m.code for m, _, _ in self.sent()]
        return codes

    def test_limited(self) -> None:
        """
        Past rate_limit per window a source gets 503 with Retry-After,
        counted, one warning; another source keeps getting its 200s; once
        the source slows down it is served again.
        """
        self.serve(SecuritySettings(rateLimit=20, rateWindow=2.0))
        codes = self.options(1000)
        self.assertEqual(codes.count(200), 20)
        self.assertEqual(codes.count(503), 980)
        self.assertEqual(self.options(10, ("127.0.0.3", 5080)), [200] * 10)
        self.feed(request("OPTIONS", "sip:example.com", to="", cseq=5000))
        self.assertEqual(self.one().getHeader("Retry-After"), "2")
        stats = self.service.sipStats()
        self.assertEqual((stats["rate_limited"], stats["ratelimit_sources"]), (981, 2))
        self.assertEqual(len([e for e in self.events if "rate limit" in formatEvent(e)]), 1)
        self.reactor.advance(10)
        self.assertEqual(self.options(5), [200] * 5)

    def test_drop(self) -> None:
        """
        rate_action=drop answers nothing past the limit; trusted peers are
        not limited.
        """
        self.serve(SecuritySettings(rateLimit=5, rateAction="drop", trusted=("127.0.0.5",)))
        self.assertEqual(self.options(50), [200] * 5)
        self.assertEqual(self.options(50, PEER), [200] * 50)
        self.assertEqual(self.service.sipStats()["rate_limited"], 45)


class LoopTests(PolicyTestsMixin, SynchronousTestCase):
    """
    RFC 3261 16.3 loop detection (482) and Max-Forwards (483), open server.
    """

    def setUp(self) -> None:
        self.serve()

    def forwarded(self) -> SIPRequest:
        self.feed(request("INVITE", "sip:carol@127.0.0.3:5080", to="carol"))
        [(invite, _, address)] = self.sent()
        self.assertEqual(address, UAS)
        return invite  # type: ignore[no-any-return]

    def test_loop(self) -> None:
        """
        Our forwarded INVITE coming back unchanged (the next hop sent it to
        us) is a loop: 482.
        """
        invite = self.forwarded()
        invite.headers.insert(0, ("Via", "SIP/2.0/SCTP 127.0.0.3:5080;branch=z9hG4bKhop"))
        response = self.exchange(invite.toBytes(), UAS)
        self.assertEqual(response.code, 482)
        self.assertEqual(self.service.sipStats()["loops_detected"], 1)

    def test_spiral(self) -> None:
        """
        Coming back with another Request-URI is a spiral: forwarded again.
        """
        invite = self.forwarded()
        invite.headers.insert(0, ("Via", "SIP/2.0/SCTP 127.0.0.3:5080;branch=z9hG4bKhop"))
        invite.uri = "sip:dave@127.0.0.6:5080"
        self.feed(invite.toBytes(), UAS)
        [(again, _, address)] = self.sent()
        self.assertEqual((again.method, address), ("INVITE", ("127.0.0.6", 5080)))

    def test_maxForwardsZero(self) -> None:
        """
        Max-Forwards 0 on a request to forward is 483, before any challenge.
        """
        data = request("INVITE", "sip:carol@10.9.9.9", to="carol").replace(b"Max-Forwards: 70", b"Max-Forwards: 0")
        self.assertEqual(self.exchange(data).code, 483)

    def test_openRegistrar(self) -> None:
        """
        Without --auth anyone registers any AOR, and the start says so.
        """
        self.assertEqual(self.exchange(request("REGISTER", "sip:example.com", to="alice", sender="mallory", extra=[("Contact", "<sip:x@10.6.6.6>")])).code, 200)
        self.assertIn("open registrar", self.server.guard.startupWarnings()[0])
        self.assertEqual(len([e for e in self.events if "open registrar" in formatEvent(e)]), 1)


class OptionsTests(SynchronousTestCase):
    """
    The command line.
    """

    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    def test_auth(self) -> None:
        """
        --auth memory:... and --auth file:... give checkers; --sip realm,
        trusted, rate_* and aliases give the settings.
        """
        users = self.mktemp()
        with open(users, "w") as f:
            f.write("carol:secret3\n")
        options = self.parse("--auth", USERS, "--auth", "file:" + users, "--sip", "realm=voip.example", "--sip", "trusted=10.0.0.1,192.168.0.0/16",
                             "--sip", "rate_limit=50", "--sip", "rate_window=1.5", "--sip", "rate_action=drop", "--sip", "aliases=sales:bob")
        self.assertEqual(len(options["credCheckers"]), 2)
        security = options["securitySettings"]
        self.assertEqual((security.realm, security.trusted, security.rateLimit, security.rateWindow, security.rateAction, security.aliases),
                         ("voip.example", ("10.0.0.1", "192.168.0.0/16"), 50, 1.5, "drop", ("sales:bob",)))
        self.assertEqual(self.parse()["credCheckers"], [])
        self.assertEqual(self.parse("--sip", "digest_algorithms=md5,sha-256")["securitySettings"].algorithms, ("MD5", "SHA-256"))

    def test_badValues(self) -> None:
        """
        A bad trusted network, rate, action, realm or auth type is a usage
        error naming it.
        """
        for argv in (["--sip", "trusted=10.0.0.300"], ["--sip", "rate_limit=x"], ["--sip", "rate_action=tarpit"], ["--sip", "digest_algorithms=SHA-512"],
                     ["--sip", 'realm=a"b'], ["--auth", "nosuch:x"], ["--sip", "nonce_secret_file=/nonexistent"]):
            e = self.assertRaises(usage.UsageError, self.parse, *argv)
            self.assertIn(argv[1].split("=")[0].split(":")[0] if argv[0] == "--sip" else "Auth plugin", str(e))

    def test_configFile(self) -> None:
        """
        The security names work in the config file's [sip] section, and the
        command line wins.
        """
        path = self.mktemp() + ".ini"
        with open(path, "w") as f:
            f.write("[sip]\nrealm = file.example\ntrusted = 10.0.0.0/8, 2001:db8::/32\nrate_limit = 30\n")
        security = self.parse("--config", path, "--sip", "rate_limit=40")["securitySettings"]
        self.assertEqual((security.realm, security.trusted, security.rateLimit), ("file.example", ("10.0.0.0/8", "2001:db8::/32"), 40))
        from twisted_sctp.sip.policy import RequestGuard

        guard = RequestGuard(None, MemoryReactorClock(), security, realm="r")
        self.assertEqual([guard.isTrusted(h) for h in ("10.1.2.3", "2001:db8::1", "[2001:db8::2]", "11.0.0.1", "::1", "name.example")],
                         [True, True, True, False, False, False])

    def test_defaultRealm(self) -> None:
        """
        The realm: --sip realm, else the first domain, else the first
        listening address.
        """
        listeners = [(["127.0.0.9"], 5060)]
        self.assertEqual(defaultRealm(SecuritySettings(realm="r"), ("d",), listeners), "r")
        self.assertEqual(defaultRealm(SecuritySettings(), ("d", "e"), listeners), "d")
        self.assertEqual(defaultRealm(SecuritySettings(), (), listeners), "127.0.0.9")

    def test_secretShared(self) -> None:
        """
        With nonce_secret_file two servers (workers, or a restart) accept
        each other's nonces.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"k" * 32)
        clock = MemoryReactorClock()
        from twisted_sctp.sip.policy import RequestGuard

        a, b = (RequestGuard(None, clock, SecuritySettings(nonceSecretFile=path), realm="r") for _ in range(2))
        self.assertIsNotNone(b.mint.issuedAt(a.mint.issue()))


class PolicyFuzzTests(PolicyTestsMixin, SynchronousTestCase):
    """
    Arbitrary Authorization and Proxy-Authorization values through the
    whole server: always one answer (400, 401, 403, 407), never a crash.
    """

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=200)
           | st.lists(st.sampled_from(['Digest ', 'username="alice"', ",", 'realm="example.com"', 'nonce="', "=", '"', "qop=auth", "nc=00000001",
                                       'cnonce="c"', 'uri="sip:example.com"', 'response="00"', "algorithm=MD5", "algorithm=SHA-256", "\\", " "]), max_size=30).map("".join))
    def test_anyCredentials(self, value: str) -> None:
        """
        One reply per request; no logged failure.
        """
        if not hasattr(self, "service"):
            self.serve(SecuritySettings(), [strcred.makeChecker(USERS)])
        value = value.strip() or "x"
        for method, uri, header, codes in (("REGISTER", "sip:example.com", "Authorization", (400, 401, 403)),
                                           ("INVITE", "sip:carol@10.9.9.9", "Proxy-Authorization", (400, 403, 407))):
            self.feed(request(method, uri, to="carol" if method == "INVITE" else "alice", extra=[("Contact", "<sip:alice@127.0.0.2>"), (header, value)]))
            replies = [m for m, _, _ in self.sent()]
            if not replies:
                # Only a request the transport refused (its own 400) or
                # dropped: a header value the SIP parser itself rejects.
                continue
            self.assertIn(replies[0].code, codes, value)
        self.assertEqual([e for e in self.events if "log_failure" in e], [])
