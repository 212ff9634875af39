# -*- test-case-name: tests.integration.test_sip_store -*-
"""
Two C{twistd -n sctp-sip} nodes on one real C{redis-server} (issue 12):
a SIPp UAS registers through node A; SIPp calls through node B reach it;
A killed with SIGKILL, B still routes; Redis stopped, B answers the INVITE
with 503 and OPTIONS to itself with 200, and when Redis is back a REGISTER
through B succeeds without a restart; B's log has one line per state change
and no traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from typing import Any, Dict, List

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.integration.helpers import waitFor
from tests.integration.support import requireSCTP
from tests.integration.test_sip_sipp import SCENARIOS, SIPP, SIPP_COMMON, SIPpResult, freePort, requireSIPp, sctpListening, sipp, spawn
from tests.redisserver import startRedis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TwoNodesTests(TestCase):
    """
    Two twistd processes sharing registrations through Redis.
    """

    timeout = 240

    def setUp(self) -> None:
        requireSCTP()
        requireSIPp()
        self.redis = startRedis(self, password="n0des")
        self.logfiles: Dict[int, str] = {}

    def node(self, port: int) -> Any:
        work = tempfile.mkdtemp(prefix="sip-node.")
        self.addCleanup(shutil.rmtree, work, True)
        logfile = os.path.join(work, "server.log")
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        process = spawn(self, [twistd, "-n", "--pidfile=", "--logfile=" + logfile, "sctp-sip", "--listen", "sctp:127.0.0.1:{}".format(port),
                               "--admin", "unix:" + os.path.join(work, "admin.sock"), "--sip", "allow_internal=127.0.0.0/8",
                               "--store", self.redis.url], dict(os.environ, PYTHONPATH=ROOT), limit=200)
        self.logfiles[id(process)] = logfile
        return process

    @defer.inlineCallbacks
    def stats(self, process: Any) -> Any:
        """@return: a Deferred firing with C{sctp-sipctl --json stats} of C{process}."""
        ctl = os.path.join(os.path.dirname(sys.executable), "sctp-sipctl")
        admin = "unix:" + os.path.join(os.path.dirname(self.logfiles[id(process)]), "admin.sock")
        run = spawn(self, [ctl, "--admin", admin, "--json", "stats"], dict(os.environ, PYTHONPATH=ROOT))
        rc = yield run.ended
        self.assertEqual(rc, 0, run.text())
        return json.loads(run.text())

    def log(self, process: Any) -> str:
        with open(self.logfiles[id(process)], encoding="utf-8", errors="replace") as f:
            return f.read()

    @defer.inlineCallbacks
    def test_registerThroughARouteThroughB(self) -> Any:
        """
        The module docstring's sequence, with real processes: 10 calls
        through B to a UAS registered through A (5 after A's SIGKILL);
        Redis down: the call fails (503), OPTIONS to B is 200; Redis back
        (empty): a REGISTER through B succeeds; one log line per change.
        """
        portA, portB = freePort(), freePort()
        a, b = self.node(portA), self.node(portB)
        for n in (a, b):
            yield waitFor(lambda: os.path.exists(self.logfiles[id(n)]) and ("admin endpoint listening" in self.log(n) or not n.running), timeout=30, what="twistd to start")
            self.assertTrue(n.running, n.text() + self.log(n))
        uasPort = freePort()
        registered = yield sipp(self, "-sf", os.path.join(SCENARIOS, "register.xml"), "-i", "127.0.0.1", "-p", str(uasPort), "-s", "bob",
                                "-key", "uas_port", str(uasPort), "-key", "expires", "300", "-m", "1", "127.0.0.1:{}".format(portA))
        self.assertEqual((registered.rc, registered.successful), (0, 1), registered)
        uas = spawn(self, [str(SIPP)] + SIPP_COMMON + ["-sf", os.path.join(SCENARIOS, "uas.xml"), "-i", "127.0.0.1", "-p", str(uasPort), "-m", "10"])
        yield waitFor(lambda: sctpListening(uasPort) or not uas.running, timeout=20, what="the SIPp UAS to listen")

        def calls(count: int, port: int = portB) -> Any:
            return sipp(self, "-sf", os.path.join(SCENARIOS, "uac.xml"), "-i", "127.0.0.1", "-p", str(freePort()), "-s", "bob",
                        "-m", str(count), "-r", "10", "127.0.0.1:{}".format(port))

        first = yield calls(5)
        self.assertEqual((first.rc, first.successful, first.failed), (0, 5, 0), first)
        a.process.signalProcess("KILL")
        yield a.ended
        second = yield calls(5)
        self.assertEqual((second.rc, second.successful, second.failed), (0, 5, 0), second)
        uasResult = SIPpResult((yield uas.ended), uas.text())
        self.assertEqual((uasResult.successful, uasResult.failed), (10, 0), uasResult)

        self.redis.stop()
        down = yield calls(1)
        self.assertEqual((down.successful, down.failed), (0, 1), down)
        stats = yield self.stats(b)
        # The INVITE got the 503; SIPp's ACK to it needed the store too (absorbed).
        self.assertEqual((stats["sip_store_unavailable"], stats["sip_replies_503"], stats["sip_acks_absorbed"], stats["sip_store_available"]),
                         (2, 1, 1, 0), stats)
        options = yield sipp(self, "-sf", os.path.join(SCENARIOS, "options.xml"), "-i", "127.0.0.1", "-p", str(freePort()), "-m", "1",
                             "127.0.0.1:{}".format(portB))
        self.assertEqual((options.rc, options.successful), (0, 1), options)
        self.assertTrue(b.running)

        self.redis.start()
        again: List[Any] = []

        @defer.inlineCallbacks
        def register() -> Any:
            result = yield sipp(self, "-sf", os.path.join(SCENARIOS, "register.xml"), "-i", "127.0.0.1", "-p", str(uasPort), "-s", "bob",
                                "-key", "uas_port", str(uasPort), "-key", "expires", "300", "-m", "1", "127.0.0.1:{}".format(portB))
            again.append(result)
            return result.successful == 1

        for _ in range(20):  # the client reconnects within Retry-After (5 s)
            if (yield register()):
                break
        self.assertEqual(again[-1].successful, 1, again[-1])
        b.process.signalProcess("TERM")
        rc = yield b.ended
        self.assertIn(rc, (0, -signal.SIGTERM, 128 + signal.SIGTERM), b.text())
        log = self.log(b)
        self.assertNotIn("Traceback", log)
        self.assertEqual(log.count("unreachable ("), 1, log)
        self.assertEqual(log.count("reachable again"), 1, log)
