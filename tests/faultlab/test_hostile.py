# -*- test-case-name: tests.faultlab.test_hostile -*-
"""
Hostile peers against the SIP server across the lab's network (issue 16):
the server (an in-process L{SIPService} with default settings, so no
C{allow_internal}) on host C{a}, the hostile peers and the third parties on
hosts C{b} and C{c}, each a namespace of its own joined by veth paths (with
netem delay), so every address is an ordinary, routable one: only the
server's own rules (the Via seal, loop detection, fair reading and the send
hold) stand between the attack and its effect.

  - reflection: a forged response whose top Via names the server (no seal)
    is dropped, not forwarded to the third party in its second Via, though
    the server does forward requests to that party;
  - loop: a Request-URI that reaches the server itself is answered 482 on
    the first hop, whatever Max-Forwards says;
  - starvation: while one peer streams 1,000,000-byte messages and another
    never reads its replies, small OPTIONS from a third host are each
    answered within 2 s.

Each test prints C{FAULTLAB <name> {json}} and writes its figures as the
other fault tests do.
"""

from __future__ import annotations

import socket
import time
from typing import Any, List

from twisted.internet import defer, reactor

from bench.fairness import senderArgv
from tests.faultlab import topology
from tests.faultlab.test_faults import FaultLabCase, record
from tests.integration.helpers import sleep, waitFor
from tests.integration.test_hostile_sctp import bigClient, probeLatencies
from tests.integration.test_sip_auth import RawClient
from tests.integration.test_sip_hardening import Peer, request
from tests.integration.test_sip_sipp import LogWatch
from twisted_sctp.tap import SIPService


class HostileSIPTests(FaultLabCase):
    """
    The server on C{a}, listening on its path-1 addresses toward C{b} and
    C{c}; 5 ms of netem delay each way on both paths.
    """

    timeout = 240

    def setUp(self) -> None:
        FaultLabCase.setUp(self)
        self.topo = self.makeTopology(("a", "b", "c"))
        self.ab = self.topo.paths("a", "b")[0]
        self.ac = self.topo.paths("a", "c")[0]
        for path in (self.ab, self.ac):
            self.topo.netem(path, delay=5)
        self.service = SIPService(reactor, [([self.ab.address("a"), self.ac.address("a")], 0)])
        with topology.inNamespace(self.topo.hosts["a"].namespace):
            self.service.startService()
        self.addCleanup(self.service.stopService)
        port = self.service.ports[0].getHost().port
        self.toB = (self.ab.address("a"), port)
        self.toC = (self.ac.address("a"), port)
        self.logs = LogWatch(self)

    def on(self, host: str, make: Any, *args: Any) -> Any:
        """@return: C{make(*args)}, its socket opened in C{host}'s namespace."""
        with topology.inNamespace(self.topo.hosts[host].namespace):
            return make(*args)

    def stats(self) -> Any:
        return self.service.sipStats()

    @defer.inlineCallbacks
    def test_forgedResponseNotReflected(self) -> Any:
        """
        A stranger on C{b} sends forged 200s whose top Via names the server
        (no seal) and whose second Via is a UDP or SCTP listener on C{c}:
        both are dropped (C{responses_forged}) and C{c} gets nothing, while
        a request the stranger sends to that same UDP listener is forwarded
        and arrives (so the path is open: only the seal stops the
        reflection).
        """
        mallory = self.on("b", Peer, self, self.ab.address("b"))
        victimUDP = self.on("c", Peer, self, self.ac.address("c"))
        victimSCTP = self.on("c", Peer, self, self.ac.address("c"), True)
        via = "SIP/2.0/UDP {}:{};rport;branch=z9hG4bKfwd1".format(*mallory.address)
        uri = "sip:bob@{}:{};transport=udp".format(*victimUDP.address)
        mallory.send(request("MESSAGE", uri, via, "forward-1"), self.toB)
        yield waitFor(lambda: len(victimUDP.poll()) == 1, timeout=20, what="the forwarded MESSAGE at c")
        forwarded = victimUDP.inbox.pop()[0]
        self.assertEqual(forwarded.callID, "forward-1")
        for n, victim in enumerate(("SIP/2.0/UDP {}:{}".format(*victimUDP.address), "SIP/2.0/SCTP {}:{}".format(*victimSCTP.address))):
            mallory.send(("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {}:{};branch=z9hG4bKts{}\r\nVia: {};branch=z9hG4bKv\r\n"
                          "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: forged-{}\r\nCSeq: 1 INVITE\r\n"
                          "Content-Length: 0\r\n\r\n").format(self.toB[0], self.toB[1], n, victim, n).encode(), self.toB)
        yield waitFor(lambda: self.stats().get("responses_forged", 0) >= 2, timeout=20, what="two forged responses counted")
        yield sleep(1.0)
        got = victimUDP.poll() + victimSCTP.poll()
        figures = {"forwarded_request_arrived": True, "responses_forged": self.stats().get("responses_forged", 0),
                   "responses_forwarded": self.stats().get("responses_forwarded", 0), "third_party_got": len(got)}
        record("hostile_reflection", figures)
        self.assertEqual(got, [])
        self.assertEqual(figures["responses_forwarded"], 0, figures)
        self.assertEqual(self.logs.tracebacks(), [])

    @defer.inlineCallbacks
    def test_loopAnswered482OnFirstHop(self) -> Any:
        """
        An INVITE from C{b} whose Request-URI is C{0.0.0.0} with the
        server's port (which reaches the server itself) and whose
        Max-Forwards is 999999999 is answered 482 at once: one request in,
        none forwarded.
        """
        mallory = self.on("b", Peer, self, self.ab.address("b"))
        via = "SIP/2.0/UDP {}:{};rport;branch=z9hG4bKl1".format(*mallory.address)
        started = time.monotonic()
        mallory.send(request("INVITE", "sip:x@0.0.0.0:{};transport=udp".format(self.toB[1]), via, "loop-1", maxForwards="999999999"), self.toB)
        yield waitFor(lambda: mallory.poll(), timeout=20, what="the answer to the looping INVITE")
        elapsed = time.monotonic() - started
        response = mallory.inbox[0][0]
        yield sleep(1.0)
        stats = self.stats()
        figures = {"code": response.code, "seconds": round(elapsed, 3), "requests_in": stats["requests_in"],
                   "requests_forwarded": stats.get("requests_forwarded", 0), "answers": len(mallory.poll())}
        record("hostile_loop", figures)
        self.assertEqual((figures["code"], figures["requests_in"], figures["requests_forwarded"], figures["answers"]), (482, 1, 0, 1), figures)
        self.assertEqual(self.logs.tracebacks(), [])

    @defer.inlineCallbacks
    def test_othersServedDuringBigStreamAndSlowReader(self) -> Any:
        """
        From C{b}, one association streams 1,000,000-byte OPTIONS (its own
        process, L{bench.fairness.sender}) and another sends 100 OPTIONS
        whose 15 KB Via comes back in each 200 and never reads (a 4 KiB
        receive buffer); then 12 small OPTIONS from three associations on
        C{c} are each answered within 2 s, big messages keep coming, and the
        slow reader's association is held.
        """
        port = self.service.ports[0]
        sender = self.topo.spawn("b", senderArgv(self.toB, self.ab.address("b"), 1000000, 120), label="bigsender-b")
        yield waitFor(lambda: port.stats.partial_reassembled >= 1 or not sender.alive(), timeout=60, what="a big message read")
        self.assertTrue(sender.alive(), sender.stderr()[-2000:])
        slow = self.on("b", bigClient, self, self.ab.address("b"), self.toB)
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slowSent = 0
        for _ in range(100):
            data = slow.request("OPTIONS", "sip:" + self.toB[0], "sip:" + self.toB[0])
            slowSent += slow.send(data.replace(b";branch=", b";pad=" + b"p" * 15000 + b";branch=", 1))
            yield sleep(0.005)
        probes: List[RawClient] = [self.on("c", RawClient, self, self.ac.address("c"), self.toC) for _ in range(3)]
        before = port.stats.partial_reassembled
        latencies = yield probeLatencies(probes, lambda probe: probe.request("OPTIONS", "sip:" + self.toC[0], "sip:" + self.toC[0]))
        big: int = port.stats.partial_reassembled - before
        held: int = port.stats["held"]
        figures = {"latencies": latencies, "big_messages_during": big,
                   "slow_sent": slowSent, "held": held, "drops": dict(port.stats.drops)}
        record("hostile_starvation", figures)
        self.assertEqual([x for x in latencies if not isinstance(x, float)], [], figures)
        self.assertGreaterEqual(big, 1, figures)
        self.assertGreaterEqual(held, 1, figures)
        self.assertEqual(self.logs.tracebacks(), [])

