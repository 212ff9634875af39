# -*- test-case-name: tests.integration.test_startup_errors -*-
"""
The real C{twistd -n sctp-sip} given bad values: one line saying what is
wrong, a non-zero exit, no traceback; and a C{sctp-sipctl} call that leaves
no info line in the server's log (run under scripts/with-sctp-kernel).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from typing import Any, List, Tuple

from twisted.internet import defer, utils
from twisted.trial.unittest import TestCase

from tests.integration.helpers import waitFor
from tests.integration.support import requireSCTP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


class StartupErrorTests(TestCase):
    """
    C{twistd sctp-sip} with values that cannot work.
    """

    timeout = 180

    def setUp(self) -> None:
        requireSCTP()
        self.rundir = tempfile.mkdtemp(prefix="sctp-sip-errors-")
        self.addCleanup(shutil.rmtree, self.rundir, True)

    def twistd(self, *args: str) -> "defer.Deferred[Tuple[bytes, bytes, int]]":
        argv = ["-n", "--pidfile=", "-d", self.rundir, "sctp-sip", "--sip", "udp=false"] + list(args)
        env = dict(os.environ, PYTHONPATH=ROOT)
        return utils.getProcessOutputAndValue(TWISTD, argv, env=env, path=ROOT)

    @defer.inlineCallbacks
    def assertOneLine(self, expected: str, *args: str) -> Any:
        if not any(a == "--admin" for a in args):
            args += ("--admin", "unix:" + os.path.join(self.rundir, "admin"))
        out, err, code = yield self.twistd("--listen", "sctp:127.0.0.1:0", *args)
        self.assertNotEqual(code, 0, args)
        self.assertNotIn(b"Traceback", out + err, args)
        lines = err.decode("utf-8", "replace").splitlines()
        self.assertEqual(len(lines), 1, (args, lines, out[-2000:]))
        self.assertIn(expected, lines[0], args)

    @defer.inlineCallbacks
    def test_badEndpointValues(self) -> Any:
        """
        Out-of-range ports, unknown endpoint types and unusable addresses
        for C{--metrics} and C{--admin}: one line each.
        """
        cases: List[Tuple[str, Tuple[str, ...]]] = [
            ("twistd sctp-sip: --metrics tcp:99999: port '99999' is not a port number (0-65535)", ("--metrics", "tcp:99999")),
            ("twistd sctp-sip: --admin tcp:99999: port '99999' is not a port number (0-65535)", ("--admin", "tcp:99999")),
            ("Unknown endpoint type: 'bogus'", ("--metrics", "bogus:1")),
            ("cannot listen on 192.0.2.1:9464", ("--metrics", "tcp:9464:interface=192.0.2.1")),
            # issue 16 item 10: loopback TCP is open to every local account.
            ("can be reached by every local account, so it needs a shared secret: give --admin-secret-file", ("--admin", "tcp:0")),
        ]
        for expected, args in cases:
            yield self.assertOneLine(expected, *args)

    @defer.inlineCallbacks
    def test_portsInUse(self) -> Any:
        """
        A metrics port or an SCTP port that is taken: one line naming it.
        """
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        yield self.assertOneLine("cannot listen on 127.0.0.1:{}: Address already in use".format(port), "--metrics", "tcp:{}".format(port))
        sctp = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132)
        sctp.bind(("127.0.0.1", 0))
        sctp.listen()
        self.addCleanup(sctp.close)
        out, err, code = yield self.twistd("--listen", "sctp:{}:interface=127.0.0.1".format(sctp.getsockname()[1]),
                                           "--admin", "unix:" + os.path.join(self.rundir, "admin2"))
        self.assertNotEqual(code, 0)
        self.assertEqual(err.decode().splitlines(), ["twistd sctp-sip: cannot listen on 127.0.0.1:{}: Address already in use".format(sctp.getsockname()[1])])

    @defer.inlineCallbacks
    def test_badListenStrings(self) -> Any:
        """
        A bad C{--listen} endpoint string is a usage error (twistd prints its
        usage and the reason), never a traceback; an unknown style names the
        two there are.
        """
        for text, expected in [
            ("sctp:5060:style=stream", "style='stream': use one-to-many or one-to-one"),
            ("sctp:99999", "not a port number"),
            ("sctp:5060:autoclose=never", "autoclose: not an integer"),
        ]:
            out, err, code = yield self.twistd("--listen", text)
            self.assertNotEqual(code, 0, text)
            self.assertNotIn(b"Traceback", out + err, text)
            self.assertIn(expected.encode(), out + err, text)


class QuietCtlTests(TestCase):
    """
    The server's log across C{sctp-sipctl} calls.
    """

    timeout = 120

    def setUp(self) -> None:
        requireSCTP()

    @defer.inlineCallbacks
    def test_ctlCallsLogNothing(self) -> Any:
        """
        Three C{sctp-sipctl} calls add no line to the server's log (AMP's
        per-connection info lines are at debug).
        """
        from twisted.internet import reactor

        rundir = tempfile.mkdtemp(prefix="sctp-sip-quiet-")
        self.addCleanup(shutil.rmtree, rundir, True)
        log = os.path.join(rundir, "twistd.log")
        admin = os.path.join(rundir, "admin")
        env = dict(os.environ, PYTHONPATH=ROOT)
        from tests.integration.test_admin_live import _Process, runCtl

        child = _Process()
        transport = reactor.spawnProcess(child, TWISTD, [TWISTD, "-n", "--pidfile=", "-l", log, "-d", rundir, "sctp-sip", "--listen",
                                                         "sctp:127.0.0.1:0", "--sip", "udp=false", "--admin", "unix:" + admin], env=env, path=ROOT)

        def stop() -> Any:
            if child.running:
                transport.signalProcess("TERM")
            return child.ended

        self.addCleanup(stop)
        yield waitFor(lambda: os.path.exists(admin) or not child.running, timeout=60, what="the admin socket")
        self.assertTrue(child.running, child.output)
        yield waitFor(lambda: "admin endpoint listening" in open(log).read(), what="the start-up lines")
        before = open(log).read()
        for argv in (("info",), ("stats",), ("--json", "assocs")):
            out, err, code = yield runCtl("unix:" + admin, *argv)
            self.assertEqual((code, err), (0, b""), argv)
        after = open(log).read()
        self.maxDiff = None
        self.assertEqual(after[len(before):], "")
