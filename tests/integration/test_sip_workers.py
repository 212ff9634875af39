# -*- test-case-name: tests.integration.test_sip_workers -*-
"""
C{twistd -n sctp-sip --workers 2} in the SCTP guest, on a real
C{redis-server} (issue 12): 200 SIPp OPTIONS calls, each on its own
association (C{sipp -t sn}), all answered; the kernel spread the
associations over both workers' C{SO_REUSEPORT} sockets (each worker's
admin socket counts its own); a worker killed with SIGKILL is started again
by the parent and every later call is answered; SIGTERM stops the parent
and every worker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from typing import Any, Dict, Optional

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.integration.helpers import waitFor
from tests.integration.support import requireSCTP
from tests.integration.test_sip_sipp import SCENARIOS, SIPP, SIPpResult, freePort, requireSIPp, sctpListening, spawn
from tests.redisserver import startRedis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: One association per call: 200 calls are 200 associations.
SIPP_SN = ["-t", "sn", "-buff_size", "4194304", "-nostdin", "-timeout", "60s", "-timeout_error"]


class WorkersTests(TestCase):
    timeout = 240

    def setUp(self) -> None:
        requireSCTP()
        requireSIPp()
        self.redis = startRedis(self)
        self.work = tempfile.mkdtemp(prefix="sip-workers.")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.env = dict(os.environ, PYTHONPATH=ROOT)

    def log(self) -> str:
        with open(os.path.join(self.work, "server.log"), encoding="utf-8", errors="replace") as f:
            return f.read()

    @defer.inlineCallbacks
    def ctl(self, index: Optional[int], *command: str) -> Any:
        """@return: C{sctp-sipctl --json COMMAND} of worker C{index} (C{None}: the parent's)."""
        ctl = os.path.join(os.path.dirname(sys.executable), "sctp-sipctl")
        name = "admin.sock" if index is None else "admin.sock.worker-{}".format(index)
        run = spawn(self, [ctl, "--admin", "unix:" + os.path.join(self.work, name), "--json"] + list(command), self.env)
        rc = yield run.ended
        self.assertEqual(rc, 0, run.text())
        return json.loads(run.text())

    def info(self, index: Optional[int]) -> Any:
        """@return: C{sctp-sipctl --json info} of worker C{index} (C{None}: the parent's, summed)."""
        return self.ctl(index, "info")

    @defer.inlineCallbacks
    def options(self, port: int, calls: int) -> Any:
        run = spawn(self, [SIPP] + SIPP_SN + ["-sf", os.path.join(SCENARIOS, "options.xml"), "-i", "127.0.0.1", "-p", str(freePort()), "-m", str(calls), "-r", "100",  # type: ignore[list-item]
                                               "-l", "50", "127.0.0.1:{}".format(port)])
        result = SIPpResult((yield run.ended), run.text())
        self.assertEqual((result.rc, result.successful, result.failed), (0, calls, 0), result)

    @defer.inlineCallbacks
    def test_twoWorkers(self) -> Any:
        port, metricsPort = freePort(), freePort()
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        parent = spawn(self, [twistd, "-n", "--pidfile=", "--logfile=" + os.path.join(self.work, "server.log"), "sctp-sip", "--workers", "2",
                              "--listen", "sctp:127.0.0.1:{}".format(port), "--admin", "unix:" + os.path.join(self.work, "admin.sock"),
                              "--store", self.redis.url, "--option", "autoclose=60",
                              "--metrics", "tcp:{}:interface=127.0.0.1".format(metricsPort)], self.env, limit=220)

        def up(*indexes: int) -> bool:
            return all(os.path.exists(os.path.join(self.work, "admin.sock.worker-{}".format(i))) for i in indexes) or not parent.running

        try:
            yield waitFor(lambda: up(0, 1) and sctpListening(port), timeout=40, what="both workers to start")
        except AssertionError as e:
            self.fail("{}: {}{}".format(e, parent.text(), self.log()))
        self.assertTrue(parent.running, parent.text())
        yield self.options(port, 200)
        infos: Dict[int, Any] = {}
        for index in (0, 1):
            infos[index] = yield self.info(index)
        totals = [infos[i]["total_connections"] for i in (0, 1)]
        self.assertEqual(sum(totals), 200, infos)
        self.assertTrue(all(totals), infos)
        # The parent's admin socket sums the workers.
        whole = yield self.info(None)
        self.assertEqual((whole["total_connections"], whole["workers"]), (200, 2), whole)
        # ... and its stats (the SIP counters summed), its association list
        # (every worker's, each entry naming its worker), and a change of an
        # option reaches every worker.
        stats = []
        for i in (None, 0, 1):
            stats.append((yield self.ctl(i, "stats")))
        self.assertEqual(stats[0]["sip_requests_in"], stats[1]["sip_requests_in"] + stats[2]["sip_requests_in"], stats)
        self.assertGreaterEqual(stats[0]["sip_requests_in"], 200, stats[0])
        listed = yield self.ctl(None, "assocs")
        perWorker = []
        for i in (0, 1):
            perWorker.append(len((yield self.ctl(i, "assocs"))["associations"]))
        self.assertEqual(len(listed["associations"]), sum(perWorker), (listed, perWorker))
        self.assertEqual({e["worker"] for e in listed["associations"]}, {i for i in (0, 1) if perWorker[i]}, listed)
        changed = yield self.ctl(None, "set", "send_ttl", "5000")
        self.assertEqual((changed["name"], changed["new"], changed["listeners"]), ("send_ttl", 5000, 2), changed)
        for i in (0, 1):
            options = yield self.ctl(i, "options")
            self.assertEqual(options["sctp_send_ttl"], 5000, (i, options))
        # The parent's --metrics: every worker's, merged (SIP counters summed).
        from twisted.internet import reactor
        from twisted.web.client import Agent, readBody

        response = yield Agent(reactor).request(b"GET", "http://127.0.0.1:{}/metrics".format(metricsPort).encode())
        text = (yield readBody(response)).decode()
        self.assertIn("sctp_workers_answering 2.0", text)
        merged = [line for line in text.splitlines() if line.startswith("sip_requests_in_total ")]
        self.assertEqual(merged, ["sip_requests_in_total {}".format(float(stats[1]["sip_requests_in"] + stats[2]["sip_requests_in"]))], text[:3000])
        self.assertIn('process_resident_memory_bytes{worker="1"}', text)
        # Worker 0 killed: the parent starts it again; service continues.
        pids = [line.split("(pid ")[1].split(")")[0] for line in self.log().splitlines() if "worker 0 started (pid" in line]
        self.assertEqual(len(pids), 1, self.log())
        os.kill(int(pids[0]), signal.SIGKILL)
        yield waitFor(lambda: "worker 0 exited" in self.log(), timeout=20, what="the parent to see worker 0 exit")
        yield self.options(port, 50)
        yield waitFor(lambda: self.log().count("worker 0 started (pid") == 2 and up(0), timeout=40, what="worker 0 to start again")
        yield self.options(port, 100)
        again = yield self.info(0)
        other = yield self.info(1)
        # Worker 1 took the 50 calls while worker 0 was down, and (Linux
        # 6.1, measured) the 100 after it too: a socket that joins the
        # SO_REUSEPORT group later got none of them (docs/store.md).  Every
        # call was answered and counted by exactly one worker.
        self.assertEqual(again["total_connections"] + other["total_connections"] - totals[1], 150, (totals, again, other))
        parent.process.signalProcess("TERM")
        rc = yield parent.ended
        self.assertIn(rc, (0, -signal.SIGTERM, 128 + signal.SIGTERM), parent.text())
        log = self.log()
        self.assertNotIn("Traceback", log)
        self.assertEqual(log.count("exited ("), 1, log)
