# -*- test-case-name: tests.integration.test_sip_auth -*-
"""
The security policy of C{twistd sctp-sip} on a real kernel SCTP stack (run
under scripts/with-sctp-kernel): SIPp over SCTP registering through the
Digest challenge of C{twistd -n sctp-sip --auth memory:...} (MD5, as SIPp
answers), and raw stdlib SEQPACKET clients for SHA-256, MD5, wrong
passwords, replays, AOR ownership, stale nonces, relay refusal, trusted
peers, OPTIONS pings and a flood from one source beside a well-behaved one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from twisted.cred import strcred
from twisted.internet import defer, reactor, task
from twisted.trial.unittest import TestCase

from tests.integration.helpers import sleep, waitFor
from tests.integration.support import IPPROTO_SCTP, requireSCTP
from tests.integration.test_sip_sipp import LOOPBACK_ALLOWED, SCENARIOS, LogWatch, freePort, requireSIPp, sctpListening, sipp, spawn
from twisted_sctp.sip.digest import NonceMint, answerChallenge, formatCredentials, parseChallenge
from twisted_sctp.sip.message import SIPMessage, parseMessage
from twisted_sctp.sip.policy import SecuritySettings
from twisted_sctp.tap import SIPService

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USERS = "memory:alice:secret1:bob:secret2"


class RawClient:
    """
    A stdlib one-to-many SCTP socket on C{host}: sends SIP requests to the
    server and collects what comes back, polled on the reactor.
    """

    def __init__(self, testCase: TestCase, host: str, server: Tuple[str, int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, IPPROTO_SCTP)
        testCase.addCleanup(self.sock.close)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.server = server
        self.inbox: List[SIPMessage] = []
        self.sequence = 0

    def poll(self) -> List[SIPMessage]:
        while True:
            try:
                data, _, flags, _ = self.sock.recvmsg(1 << 20, 1024)
            except BlockingIOError:
                return self.inbox
            if not flags & 0x8000 and data.strip():
                self.inbox.append(parseMessage(data))

    def request(self, method: str, uri: str, to: str, sender: str = "alice", extra: Sequence[Tuple[str, str]] = (), callID: Optional[str] = None, cseq: int = 1) -> bytes:
        self.sequence += 1
        callID = callID or "{}-{}-{}".format(self.host, self.port, self.sequence)
        lines = [
            "{} {} SIP/2.0".format(method, uri),
            "Via: SIP/2.0/SCTP {}:{};branch=z9hG4bK{}x{}".format(self.host, self.port, self.port, self.sequence),
            "Max-Forwards: 70", "From: <sip:{}@127.0.0.1>;tag=t{}".format(sender, self.sequence),
            "To: <{}>".format(to), "Call-ID: " + callID, "CSeq: {} {}".format(cseq, method),
            "Contact: <sip:{}@{}:{};transport=sctp>".format(sender, self.host, self.port),
        ] + ["{}: {}".format(n, v) for n, v in extra] + ["Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode()

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendto(data, self.server)
        except BlockingIOError:
            return False
        return True

    @defer.inlineCallbacks
    def ask(self, data: bytes, timeout: float = 10) -> Any:
        """
        Send one request; @return: a Deferred firing with its final response.
        """
        callID = parseMessage(data).callID
        self.send(data)

        def answered() -> Optional[SIPMessage]:
            for m in self.poll():
                if m.callID == callID and getattr(m, "code", 0) >= 200:
                    self.inbox.remove(m)
                    return m
            return None

        response = yield waitFor(answered, timeout=timeout, what="the response to {}".format(callID))
        return response


class ServerTests(TestCase):
    """
    An in-process server with C{--auth memory:alice:secret1:bob:secret2},
    C{trusted=127.0.0.3} and a known nonce secret, and raw clients.
    """

    timeout = 120

    def setUp(self) -> None:
        requireSCTP()
        self.secretFile = self.mktemp()
        with open(self.secretFile, "wb") as f:
            f.write(b"s" * 32)
        self.serve(SecuritySettings(trusted=("127.0.0.3",), nonceSecretFile=self.secretFile))

    def serve(self, security: SecuritySettings) -> None:
        self.service = SIPService(reactor, [(["127.0.0.1"], 0)], security=security, checkers=[strcred.makeChecker(USERS)], serverSettings=LOOPBACK_ALLOWED)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.address = ("127.0.0.1", self.service.ports[0].getHost().port)
        self.aor = "sip:127.0.0.1:{}".format(self.address[1])
        self.logs = LogWatch(self)

    def client(self, host: str = "127.0.0.2") -> RawClient:
        return RawClient(self, host, self.address)

    def stats(self) -> Dict[str, int]:
        return self.service.sipStats()

    @defer.inlineCallbacks
    def register(self, client: RawClient, user: str = "alice", password: bytes = b"secret1", aor: str = "alice", algorithm: str = "SHA-256") -> Any:
        """REGISTER through the challenge; @return: (401, final response, credentials)."""
        callID = "reg-{}-{}".format(client.port, client.sequence)
        first = yield client.ask(client.request("REGISTER", self.aor, "sip:{}@127.0.0.1".format(aor), user, callID=callID))
        [challenge] = [c for c in map(parseChallenge, first.getHeaders("WWW-Authenticate")) if c.algorithm == algorithm]
        creds = answerChallenge(challenge, user, password, "REGISTER", self.aor)
        data = client.request("REGISTER", self.aor, "sip:{}@127.0.0.1".format(aor), user, [("Authorization", formatCredentials(creds))], callID=callID, cseq=2)
        final = yield client.ask(data)
        return first, final, data

    @defer.inlineCallbacks
    def test_bothAlgorithms(self) -> Any:
        """
        The 401 offers SHA-256 and MD5; a SHA-256 answer and an MD5 answer
        both bind; no traceback.
        """
        client = self.client()
        first, final, _ = yield self.register(client, algorithm="SHA-256")
        self.assertEqual([parseChallenge(v).algorithm for v in first.getHeaders("WWW-Authenticate")], ["SHA-256", "MD5"])
        self.assertEqual(final.code, 200)
        _, final, _ = yield self.register(self.client("127.0.0.4"), "bob", b"secret2", "bob", "MD5")
        self.assertEqual(final.code, 200)
        self.assertEqual((self.stats()["auth_ok"], self.stats()["bindings"]), (2, 2))
        self.assertEqual(self.logs.tracebacks(), [])

    @defer.inlineCallbacks
    def test_wrongPasswordAndReplay(self) -> Any:
        """
        A wrong password is 403; replaying a good REGISTER (same nonce and
        nc) is refused with stale=true and binds nothing new.
        """
        client = self.client()
        _, final, _ = yield self.register(client, password=b"guess")
        self.assertEqual(final.code, 403)
        _, final, data = yield self.register(client)
        self.assertEqual(final.code, 200)
        replay = data.replace(b"CSeq: 2 REGISTER", b"CSeq: 3 REGISTER").replace(client.host.encode() + b":" + str(client.port).encode() + b";transport", b"10.6.6.6:5060;transport")
        again = yield client.ask(replay)
        self.assertEqual(again.code, 401)
        self.assertTrue(parseChallenge(again.getHeader("WWW-Authenticate") or "").stale)
        self.assertEqual(self.stats()["bindings"], 1)
        self.assertEqual((self.stats()["auth_failures"], self.stats()["auth_replays"]), (1, 1))

    @defer.inlineCallbacks
    def test_aorOwnership(self) -> Any:
        """
        bob's valid credentials cannot bind alice's AOR: 403.
        """
        _, final, _ = yield self.register(self.client(), "bob", b"secret2", "alice")
        self.assertEqual((final.code, self.stats()["bindings"], self.stats()["aor_denied"]), (403, 0, 1))

    @defer.inlineCallbacks
    def test_staleNonce(self) -> Any:
        """
        Credentials made with a nonce issued 10 minutes ago (same server
        secret) get 401 stale=true.
        """
        client = self.client()
        old = task.Clock()
        old.advance(time.time() - 600)
        nonce = NonceMint(old, "127.0.0.1", b"s" * 32).issue()
        first = yield client.ask(client.request("REGISTER", self.aor, "sip:alice@127.0.0.1"))
        challenge = parseChallenge(first.getHeader("WWW-Authenticate") or "")
        import attrs

        creds = answerChallenge(attrs.evolve(challenge, nonce=nonce), "alice", b"secret1", "REGISTER", self.aor)
        response = yield client.ask(client.request("REGISTER", self.aor, "sip:alice@127.0.0.1", extra=[("Authorization", formatCredentials(creds))]))
        self.assertEqual(response.code, 401)
        self.assertTrue(all(parseChallenge(v).stale for v in response.getHeaders("WWW-Authenticate")))

    @defer.inlineCallbacks
    def test_optionsNoChallenge(self) -> Any:
        """
        OPTIONS to the server itself is answered 200, no challenge.
        """
        client = self.client()
        response = yield client.ask(client.request("OPTIONS", self.aor, self.aor, "ping"))
        self.assertEqual(response.code, 200)
        self.assertEqual(self.stats().get("auth_challenges", 0), 0)

    @defer.inlineCallbacks
    def test_relay(self) -> Any:
        """
        A MESSAGE for a foreign domain (a listener on 127.0.0.4) from a
        stranger gets 407 and is not forwarded; from the trusted 127.0.0.3
        it is forwarded there.
        """
        target = self.client("127.0.0.4")
        uri = "sip:carol@127.0.0.4:{}".format(target.port)
        stranger = self.client("127.0.0.2")
        refused = yield stranger.ask(stranger.request("MESSAGE", uri, uri, "mallory"))
        self.assertEqual(refused.code, 407)
        self.assertEqual([parseChallenge(v).algorithm for v in refused.getHeaders("Proxy-Authenticate")], ["SHA-256", "MD5"])
        yield sleep(0.3)
        self.assertEqual(target.poll(), [])
        trusted = self.client("127.0.0.3")
        trusted.send(trusted.request("MESSAGE", uri, uri, "gateway"))
        [message] = yield waitFor(lambda: target.poll(), what="the MESSAGE at the target")
        self.assertEqual((message.method, message.uri), ("MESSAGE", uri))
        stats = self.stats()
        self.assertEqual((stats["relay_challenged"], stats["requests_forwarded"], stats["trusted_requests"]), (1, 1, 1))


class FloodTests(TestCase):
    """
    A flood from one source beside a well-behaved one.
    """

    timeout = 180

    def setUp(self) -> None:
        requireSCTP()

    @defer.inlineCallbacks
    def test_flood(self) -> Any:
        """
        5,000 OPTIONS sent as fast as possible from 127.0.0.2 (rate_limit=200
        per 2 s): most are answered 503 and counted; meanwhile 30 OPTIONS
        from 127.0.0.3, one at a time, all get 200; the limiter tracks at
        most rate_sources sources (here 2, with a third source too).
        """
        service = SIPService(reactor, [(["127.0.0.1"], 0)], security=SecuritySettings(rateLimit=200, rateWindow=2.0, rateSources=2), serverSettings=LOOPBACK_ALLOWED)
        service.startService()
        self.addCleanup(service.stopService)
        address = ("127.0.0.1", service.ports[0].getHost().port)
        aor = "sip:127.0.0.1:{}".format(address[1])
        logs = LogWatch(self)
        flooder, good, third = RawClient(self, "127.0.0.2", address), RawClient(self, "127.0.0.3", address), RawClient(self, "127.0.0.4", address)
        flood = [flooder.request("OPTIONS", aor, aor, "flood") for _ in range(5000)]
        started = time.monotonic()

        @defer.inlineCallbacks
        def sendFlood() -> Any:
            sent = 0
            while sent < len(flood):
                burst = 0
                while sent < len(flood) and burst < 200 and flooder.send(flood[sent]):
                    sent, burst = sent + 1, burst + 1
                flooder.poll()
                yield sleep(0.001)

        done = sendFlood()
        answers = []
        for i in range(30):
            response = yield good.ask(good.request("OPTIONS", aor, aor, "good"), timeout=20)
            answers.append(response.code)
        yield done
        thirdAnswer = yield third.ask(third.request("OPTIONS", aor, aor, "third"))
        yield waitFor(lambda: len(flooder.poll()) >= 5000, timeout=60, what="answers to the whole flood")
        elapsed = time.monotonic() - started
        codes = [m.code for m in flooder.inbox]
        from twisted.python import log

        log.msg("flood figures: {} requests in {:.2f}s: {} answered 200, {} answered 503; the good source's 30 all 200".format(
            len(codes), elapsed, codes.count(200), codes.count(503)))
        self.assertEqual(answers, [200] * 30)
        self.assertEqual(thirdAnswer.code, 200)
        stats = service.sipStats()
        # Within the limit: at most 200 per window over the run, plus one window.
        self.assertLessEqual(codes.count(200), 200 * (elapsed / 2.0 + 2))
        self.assertGreater(codes.count(503), 2500)
        self.assertEqual(stats["rate_limited"], codes.count(503))
        self.assertLessEqual(stats["ratelimit_sources"], 2)
        self.assertEqual(len([e for e in logs.warnings() if "rate limit" in e.get("log_format", "")]), 1)
        self.assertEqual(logs.tracebacks(), [])


class SIPpTests(TestCase):
    """
    SIPp over SCTP registering through the challenge of C{twistd -n
    sctp-sip --auth memory:...}.
    """

    timeout = 180

    def setUp(self) -> None:
        requireSCTP()
        requireSIPp()

    @defer.inlineCallbacks
    def test_sippRegister(self) -> Any:
        """
        SIPp with -au alice -ap secret1 gets 200 after the 401 (answering
        MD5: SIPp 3.6 reads only the first challenge and knows only MD5, so
        the server lists MD5 first, digest_algorithms=MD5,SHA-256); with a wrong password it does not (403); twistd says nothing
        of an open registrar, logs no password and no traceback.
        """
        port = freePort()
        work = tempfile.mkdtemp(prefix="sip-auth.")
        self.addCleanup(shutil.rmtree, work, True)
        logfile = os.path.join(work, "server.log")
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        server = spawn(self, [twistd, "-n", "--pidfile=", "--logfile=" + logfile, "sctp-sip", "--listen", "sctp:127.0.0.1:{}".format(port),
                              "--admin", "unix:" + os.path.join(work, "admin.sock"), "--auth", USERS,
                              "--sip", "digest_algorithms=MD5,SHA-256", "--sip", "allow_internal=127.0.0.0/8"], dict(os.environ, PYTHONPATH=ROOT))

        def started() -> bool:
            with open(logfile) as f:
                return "admin endpoint listening" in f.read() or not server.running

        yield waitFor(lambda: os.path.exists(logfile) and started(), timeout=30, what="twistd to start")
        self.assertTrue(server.running and sctpListening(port), open(logfile).read())
        target = "127.0.0.1:{}".format(port)
        scenario = os.path.join(SCENARIOS, "register-auth.xml")
        good = yield sipp(self, "-sf", scenario, "-i", "127.0.0.1", "-p", str(freePort()), "-s", "alice", "-au", "alice", "-ap", "secret1", "-key", "uas_port", "15070", "-m", "1", target)
        self.assertEqual((good.rc, good.successful, good.failed), (0, 1, 0), good)
        bad = yield sipp(self, "-sf", scenario, "-i", "127.0.0.1", "-p", str(freePort()), "-s", "bob", "-au", "bob", "-ap", "wrong", "-key", "uas_port", "15071", "-m", "1", target)
        self.assertNotEqual(bad.rc, 0, bad)
        self.assertEqual((bad.successful, bad.failed), (0, 1), bad)
        server.process.signalProcess("TERM")
        rc = yield server.ended
        self.assertIn(rc, (0, -signal.SIGTERM, 128 + signal.SIGTERM), server.text())
        with open(logfile) as f:
            log = f.read()
        self.assertNotIn("Traceback", log)
        self.assertNotIn("open registrar", log)
        self.assertNotIn("secret1", log)
        self.assertIn("authentication failed: user 'bob' from 127.0.0.1", log)
