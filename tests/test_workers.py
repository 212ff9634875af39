# -*- test-case-name: tests.test_workers -*-
"""
Tests for L{twisted_sctp.workers} and C{twistd sctp-sip --workers N}: the
options, each worker's command line, admin socket and C{max_assocs} share,
C{SO_REUSEPORT} on the listen socket, and the supervisor restarting and
stopping real child processes.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any, List

from twisted.internet import defer, reactor, task
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twisted_sctp.tap import Options
from twisted_sctp.workers import ReusePortKernel, WorkerSupervisor, subcommandArguments, workerAdmin, workerArguments, workerMaxAssocs


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


class OptionTests(SynchronousTestCase):
    def test_default(self) -> None:
        options = parse()
        self.assertEqual((options["workerCount"], options["workerIndex"]), (1, None))

    def test_needsStore(self) -> None:
        """N > 1 without a shared store is refused, naming --store."""
        e = self.assertRaises(usage.UsageError, parse, "--workers", "2")
        self.assertIn("--store redis://", str(e))

    def test_withStore(self) -> None:
        options = parse("--workers", "3", "--store", "redis://127.0.0.1:6379/0")
        self.assertEqual(options["workerCount"], 3)

    def test_bad(self) -> None:
        for value in ("0", "-1", "two"):
            e = self.assertRaises(usage.UsageError, parse, "--workers", value, "--store", "redis://127.0.0.1:6379/0")
            self.assertIn("--workers", str(e))

    def test_metricsAccepted(self) -> None:
        """--metrics with several workers: the parent serves them merged."""
        config = parse("--workers", "2", "--store", "redis://127.0.0.1:6379/0", "--metrics", "tcp:9100")
        self.assertEqual(config["metrics"], "tcp:9100")

    def test_udpListenerRefused(self) -> None:
        e = self.assertRaises(usage.UsageError, parse, "--workers", "2", "--store", "redis://127.0.0.1:6379/0", "--listen", "sctp+udp:127.0.0.1:5060")
        self.assertIn("one-to-many", str(e))


class ArgumentTests(SynchronousTestCase):
    def test_subcommand(self) -> None:
        self.assertEqual(subcommandArguments(["/bin/twistd", "-n", "sctp-sip", "--workers", "2"]), ["--workers", "2"])
        self.assertEqual(subcommandArguments(["twistd"]), [])

    def test_workerArguments(self) -> None:
        argv = ["--listen", "sctp:127.0.0.1:5060", "--workers", "2", "--admin=unix:/run/a.sock", "--store", "redis://h:1/0", "--workers=2"]
        self.assertEqual(workerArguments(argv, "unix:/run/a.sock", 1),
                         ["--listen", "sctp:127.0.0.1:5060", "--workers", "2", "--store", "redis://h:1/0", "--workers=2", "--worker", "1", "--admin", "unix:/run/a.sock.worker-1:mode=600"])
        # The parent's --metrics is its own; each worker serves its metrics on a socket the parent merges.
        self.assertEqual(workerArguments(argv + ["--metrics", "tcp:9100"], "unix:/run/a.sock", 0, metrics=True)[-4:],
                         ["--admin", "unix:/run/a.sock.worker-0:mode=600", "--metrics", "unix:/run/a.sock.worker-0.metrics:mode=600"])

    def test_workerAdmin(self) -> None:
        self.assertEqual(workerAdmin(None, 0), "unix:sctp-sip.admin.worker-0:mode=600")
        self.assertEqual(workerAdmin("unix:/x/a:mode=660", 2), "unix:/x/a.worker-2:mode=660")
        self.assertEqual(workerAdmin("tcp:9000", 1), "unix:sctp-sip.admin.worker-1:mode=600")

    def test_maxAssocs(self) -> None:
        self.assertEqual([workerMaxAssocs(m, 2) for m in (-1, 0, 1, 1000, 1001)], [-1, 0, 1, 500, 501])


class ReusePortTests(SynchronousTestCase):
    def test_setsReusePort(self) -> None:
        """The wrapped kernel's options, then SO_REUSEPORT (a TCP socket stands in: the host has no SCTP)."""
        calls: List[Any] = []

        class Kernel:
            name = "kernel"

            def applyOptions(self, sock: socket.socket, options: Any, family: int, interleave: int = 1) -> List[str]:
                calls.append((options, family, interleave))
                return ["a warning"]

        kernel = ReusePortKernel(Kernel())
        with socket.socket() as s:
            self.assertEqual(kernel.applyOptions(s, "options", socket.AF_INET), ["a warning"])
            self.assertEqual(kernel.applyOptions(s, "options", socket.AF_INET, interleave=0), ["a warning"])
            self.assertEqual(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT), 1)
        # (Keyword arguments such as the fragment interleave level pass through.)
        self.assertEqual(calls, [("options", socket.AF_INET, 1), ("options", socket.AF_INET, 0)])
        self.assertEqual(kernel.name, "kernel")


class _Sleepers(WorkerSupervisor):
    """Workers that are real processes doing nothing until signalled."""

    def command(self, index: int) -> List[str]:
        return [sys.executable, "-c", "import time; print('worker up', flush=True); time.sleep(120)"]


class SupervisorTests(TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def waitFor(self, condition: Any, what: str) -> Any:
        for _ in range(500):
            if condition():
                return
            yield task.deferLater(reactor, 0.02, lambda: None)
        self.fail("timed out waiting for " + what)

    @defer.inlineCallbacks
    def test_restartAndStop(self) -> Any:
        """A worker killed is started again; stopService ends them all."""
        supervisor = _Sleepers(reactor, 2, [], None)
        supervisor.startService()
        self.addCleanup(lambda: supervisor.running and supervisor.stopService())
        first = {i: w.transport.pid for i, w in supervisor.workers.items()}  # type: ignore[union-attr]
        self.assertEqual(sorted(first), [0, 1])
        os.kill(first[0], signal.SIGKILL)
        yield self.waitFor(lambda: 0 in supervisor.workers and supervisor.workers[0].transport.pid != first[0], "worker 0 restarted")  # type: ignore[union-attr]
        self.assertEqual(supervisor.restarts, {0: 1, 1: 0})
        self.assertEqual(supervisor.workers[1].transport.pid, first[1])  # type: ignore[union-attr]
        pids = [w.transport.pid for w in supervisor.workers.values()]  # type: ignore[union-attr]
        yield supervisor.stopService()
        self.assertEqual(supervisor.workers, {})
        for pid in pids:
            self.assertRaises(OSError, os.kill, pid, 0)


class SumInfoTests(SynchronousTestCase):
    def test_sum(self) -> None:
        from twisted_sctp.workers import sumInfo

        a = {"total_connections": 99, "opened_connections": 1, "listeners": 1, "listen": ["sctp:127.0.0.1:5060"], "uptime": 3.0, "assoc_tracking": 1}
        b = {"total_connections": 101, "opened_connections": 2, "listeners": 1, "listen": ["sctp:127.0.0.1:5060"], "uptime": 9.0, "assoc_tracking": 1}
        self.assertEqual(sumInfo([a, b]), {"total_connections": 200, "opened_connections": 3, "listeners": 1, "listen": ["sctp:127.0.0.1:5060"],
                                           "uptime": 9.0, "assoc_tracking": 1, "workers": 2})
        self.assertEqual(sumInfo([]), {"workers": 0})


class SumCountersTests(SynchronousTestCase):
    """
    L{sumCounters}: the parent's C{stats}.
    """

    def test_sum(self) -> None:
        """
        Numbers are summed, nested dictionaries key by key; other values
        are the first worker's.
        """
        from twisted_sctp.workers import sumCounters

        a = {"messages_in": 3, "drops": {"malformed": 1}, "name": "x", "flag": True}
        b = {"messages_in": 4, "drops": {"malformed": 2, "no_via": 5}, "name": "y", "flag": False}
        self.assertEqual(sumCounters([a, b]), {"messages_in": 7, "drops": {"malformed": 3, "no_via": 5}, "name": "x", "flag": True})
        self.assertEqual(sumCounters([]), {})


class MergeMetricsTests(SynchronousTestCase):
    """
    L{twisted_sctp.workermetrics.mergeMetrics}: the parent's C{/metrics}.
    """

    def test_merge(self) -> None:
        """
        Counters and gauges summed per label set; option and kernel
        families the first worker's; process families per worker.
        """
        from prometheus_client.exposition import generate_latest

        from twisted_sctp.workermetrics import _Merged, mergeMetrics

        def text(messages: int, associations: int, rss: int) -> str:
            return (
                "# HELP sctp_messages_received_total Messages.\n# TYPE sctp_messages_received_total counter\n"
                'sctp_messages_received_total{{listener="a"}} {m}\n'
                "# HELP sctp_associations Open associations.\n# TYPE sctp_associations gauge\n"
                'sctp_associations{{listener="a"}} {a}\n'
                "# HELP sctp_option_send_ttl_seconds TTL.\n# TYPE sctp_option_send_ttl_seconds gauge\n"
                'sctp_option_send_ttl_seconds{{listener="a"}} 5.0\n'
                "# HELP process_resident_memory_bytes RSS.\n# TYPE process_resident_memory_bytes gauge\n"
                "process_resident_memory_bytes {r}\n"
            ).format(m=messages, a=associations, r=rss)

        out = generate_latest(_Merged(mergeMetrics([(0, text(10, 3, 100)), (1, text(5, 4, 200))]))).decode()  # type: ignore[arg-type]
        self.assertIn('sctp_messages_received_total{listener="a"} 15.0', out)
        self.assertIn('sctp_associations{listener="a"} 7.0', out)
        self.assertIn('sctp_option_send_ttl_seconds{listener="a"} 5.0', out)
        self.assertIn('process_resident_memory_bytes{worker="0"} 100.0', out)
        self.assertIn('process_resident_memory_bytes{worker="1"} 200.0', out)
        self.assertEqual(mergeMetrics([]), [])
