# -*- test-case-name: tests.integration.test_bench_smoke -*-
"""
A smoke run of the bench harness (C{bench/run.py}) on a real kernel SCTP
stack: tiny durations, one server (the stdlib floor), no UML boot of its
own (the suite already runs under scripts/with-sctp-kernel).  It checks
that the driver runs SIPp, accounts CPU, traces system calls, searches a
rate and writes a well-formed JSON and Markdown result; it asserts no
timing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.integration.support import kernelRequired, requireSCTP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class BenchSmokeTests(SynchronousTestCase):
    """
    C{bench/run.py --preset smoke --guest-only} against the floor responder.
    """

    def setUp(self) -> None:
        requireSCTP()
        missing = [tool for tool in ("sipp", "strace") if shutil.which(tool) is None]
        if missing:
            message = "{} missing: apt-get install sip-tester strace (scripts/setup-env does)".format(" and ".join(missing))
            if kernelRequired():
                self.fail(message)
            raise SkipTest(message)
        self.out = tempfile.mkdtemp(prefix="bench-smoke-")
        self.addCleanup(shutil.rmtree, self.out, True)

    def runBench(self) -> dict:
        argv = [
            sys.executable, os.path.join(ROOT, "bench", "run.py"), "--preset", "smoke", "--guest-only",
            "--skip-host", "--no-apt", "--servers", "floor", "--out-dir", self.out, "--name", "smoke",
        ]
        env = dict(os.environ, PYTHONPATH=ROOT)
        env.pop("BENCH_CONTROL_DIR", None)
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace")[-2000:])
        with open(os.path.join(self.out, "smoke.json")) as f:
            result: dict = json.load(f)
        return result

    def test_wellFormedResult(self) -> None:
        """
        The run answers every call, and the result holds the CPU run, the
        latency run, the system-call counts, both searches and the targets,
        in JSON and in Markdown.
        """
        result = self.runBench()
        self.assertEqual(result["preset"], "smoke")
        floor = result["guest"]["servers"]["floor"]
        self.assertNotIn("error", floor)
        s1 = floor["fixed_s1"]
        self.assertGreater(s1["transactions"], 0)
        self.assertEqual(s1["sipp"]["failed"], 0)
        self.assertEqual(s1["sipp"]["successful"], s1["sipp"]["calls"])
        self.assertIn("cpu_us_per_txn", s1["guest"])
        self.assertGreater(floor["fixed_sn"]["transactions"], 0)
        self.assertGreater(floor["latency"]["wire_us"]["samples"], 0)
        self.assertGreater(floor["strace"]["syscalls"], 0)
        self.assertIn("sendmsg", floor["strace"]["by_name_per_txn"])
        for transport in ("s1", "sn"):
            search = floor["search_" + transport]
            self.assertGreaterEqual(len(search["steps"]), 1)
            self.assertIsInstance(search["max_sustained_rate"], int)
        self.assertIsInstance(result["targets"], list)
        with open(os.path.join(self.out, "smoke.md")) as f:
            text = f.read()
        self.assertIn("## In the guest, side by side", text)
        self.assertIn("stdlib floor", text)
