# -*- test-case-name: tests.integration.test_reactor -*-
"""
L{twisted_sctp.reactor.KernelClockReactor} on the real kernel: the
arrival stamps of C{SO_TIMESTAMPNS} stand in for the clock while timed
calls still fire, none early; and C{twistd -n sctp-sip} runs on it by
default (and on Twisted's epoll with C{--reactor epoll}), answering SIPp.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, List

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.integration.helpers import waitFor
from tests.integration.support import requireSCTP
from tests.integration.test_sip_sipp import SCENARIOS, ROOT, freePort, requireSIPp, sctpListening, sipp, spawn


class KernelClockReactorTests(TestCase):
    timeout = 180

    def setUp(self) -> None:
        requireSCTP()
        self.env = dict(os.environ, PYTHONPATH=ROOT)

    @defer.inlineCallbacks
    def test_stampsStandInTimersOnTime(self) -> Any:
        """
        An echo served on the reactor, 1,000 messages a millisecond apart
        while 200 timed calls run 3 ms apart: every message echoed, every
        timer fired and none before its due time by C{time.time}, and most
        timer checks took the kernel's stamp instead of reading the clock.
        """
        probe = spawn(self, [sys.executable, "-m", "tests.integration.clockprobe", str(freePort())], self.env, limit=120)
        rc = yield probe.ended
        self.assertEqual(rc, 0, probe.text())
        result = json.loads(probe.text().strip().splitlines()[-1])
        self.assertEqual(result.get("error"), None, result)
        self.assertEqual((result["reactor"], result["echoed"], result["fired"], result["early"]), ("KernelClockReactor", 1000, 200, []), result)
        self.assertGreater(result["standIns"], 500, result)

    @defer.inlineCallbacks
    def twistdAnswers(self, extra: List[str], reactorClass: str) -> Any:
        requireSIPp()
        port = freePort()
        work = os.path.abspath(self.mktemp())
        os.makedirs(work)
        logfile = os.path.join(work, "server.log")
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        server = spawn(self, [twistd, "-n", "--pidfile=", "--logfile=" + logfile, *extra, "sctp-sip", "--listen", "sctp:127.0.0.1:{}".format(port)], self.env, limit=120)
        yield waitFor(lambda: sctpListening(port) or not server.running, timeout=40, what="twistd to listen")
        self.assertTrue(server.running, server.text())
        result = yield sipp(self, "-sf", os.path.join(SCENARIOS, "options.xml"), "-i", "127.0.0.1", "-p", str(freePort()), "-m", "400", "-r", "200", "127.0.0.1:{}".format(port))
        self.assertEqual((result.rc, result.successful, result.failed), (0, 400, 0), result)
        server.process.signalProcess("TERM")
        yield server.ended
        with open(logfile, encoding="utf-8", errors="replace") as f:
            log = f.read()
        self.assertIn("reactor class: " + reactorClass, log)
        self.assertNotIn("Traceback", log)

    def test_twistdDefault(self) -> Any:
        """
        C{twistd -n sctp-sip} with no C{--reactor} runs on the kernel clock
        reactor and answers 400 SIPp OPTIONS at 200/s.
        """
        return self.twistdAnswers([], "twisted_sctp.reactor.KernelClockReactor")

    def test_twistdPluginName(self) -> Any:
        """
        C{--reactor sctp-epoll} names it too.
        """
        return self.twistdAnswers(["--reactor", "sctp-epoll"], "twisted_sctp.reactor.KernelClockReactor")

    def test_twistdOtherReactor(self) -> Any:
        """
        C{--reactor epoll} keeps Twisted's own.
        """
        return self.twistdAnswers(["--reactor", "epoll"], "twisted.internet.epollreactor.EPollReactor")
