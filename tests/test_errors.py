# -*- test-case-name: tests.test_errors -*-
"""
Bad command-line values are one clear line and a documented exit code, never
a traceback: C{sctp-sipctl} (bad C{--admin}, C{--version}) and the
C{twistd sctp-sip} start-up path (bad C{--admin}/C{--metrics} ports, an
unexpected error while starting).  The admin server logs no info line per
C{sctp-sipctl} call.  With real sockets: tests/integration/test_startup_errors.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import Any, List, Tuple

from twisted.application import service
from twisted.internet import defer
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.test_admin import AdminTestMixin
from twisted_sctp.admin import ctl
from twisted_sctp.tap import _TopService, checkEndpointPort, startupError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def runCtl(*argv: str) -> Tuple[int, str, str]:
    """
    Run C{ctl.run} on a memory reactor with the real client.
    """
    out, err = io.StringIO(), io.StringIO()
    d = defer.Deferred.fromCoroutine(ctl.run(MemoryReactorClock(), argv, out, err))
    code = d.result if d.called else None
    return code, out.getvalue(), err.getvalue()


class CtlErrorTests(SynchronousTestCase):
    """
    C{sctp-sipctl}'s answers to a bad endpoint, and C{--version}.
    """

    def test_unknownEndpointType(self) -> None:
        """
        C{--admin bogus:xx} is a usage error (exit 2) naming the string and
        the problem, on one line.
        """
        code, out, err = runCtl("--admin", "bogus:xx", "info")
        self.assertEqual((code, out), (ctl.EXIT_USAGE, ""))
        self.assertEqual(err.count("\n"), 1)
        self.assertIn("bad admin endpoint 'bogus:xx': Unknown endpoint type: 'bogus'", err)

    def test_badPorts(self) -> None:
        """
        An out-of-range or non-numeric TCP port is a usage error before any
        connection is tried.
        """
        for endpoint, word in [("tcp:host=127.0.0.1:port=99999", "'99999'"), ("tcp:127.0.0.1:http", "'http'")]:
            code, out, err = runCtl("--admin", endpoint, "info")
            self.assertEqual(code, ctl.EXIT_USAGE, endpoint)
            self.assertIn("port {} is not a port number (0-65535)".format(word), err)

    def test_exitCodeDocumented(self) -> None:
        """
        --help says that a bad endpoint string exits 2.
        """
        self.assertIn("  2  bad command line, endpoint string or secret file", ctl.makeParser().format_help())

    def test_version(self) -> None:
        """
        C{--version} prints our version and Twisted's and exits 0, without a
        command; --help lists it.
        """
        code, out, err = runCtl("--version")
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, r"^sctp-sipctl \(twisted-sctp\) \S+ \(Twisted \S+, Python \S+\)\n$")
        self.assertIn("--version", ctl.makeParser().format_help())

    def test_consoleScript(self) -> None:
        """
        The installed command: a bad endpoint is one line on stderr, nothing
        on stdout, exit 2; C{--version} exits 0.
        """
        script = os.path.join(os.path.dirname(sys.executable), "sctp-sipctl")
        command = [script] if os.path.exists(script) else [sys.executable, "-m", "twisted_sctp.admin.ctl"]
        env = dict(os.environ, PYTHONPATH=ROOT)
        result = subprocess.run(command + ["--admin", "bogus:xx", "info"], capture_output=True, env=env, timeout=60)
        self.assertEqual((result.returncode, result.stdout), (2, b""))
        self.assertEqual(result.stderr.count(b"\n"), 1, result.stderr)
        self.assertNotIn(b"Traceback", result.stderr)
        result = subprocess.run(command + ["--version"], capture_output=True, env=env, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith(b"sctp-sipctl (twisted-sctp) "))


class _Broken(service.Service):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def privilegedStartService(self) -> None:
        raise self.error


class StartupErrorTests(SynchronousTestCase):
    """
    The twistd side.
    """

    def test_endpointPorts(self) -> None:
        """
        C{--admin}/C{--metrics} server strings with a port outside 0-65535
        are refused, naming the flag; good strings and unix sockets pass.
        """
        for text in ("tcp:99999", "tcp:port=70000:interface=127.0.0.1", "tcp6:abc", "ssl:65536"):
            e = self.assertRaises(usage.UsageError, checkEndpointPort, "--metrics", text)
            self.assertIn("--metrics " + text, str(e))
            self.assertIn("is not a port number (0-65535)", str(e))
        for text in ("tcp:9464", "tcp:0:interface=127.0.0.1", "unix:/tmp/x", "tcp:port=65535"):
            checkEndpointPort("--admin", text)

    def test_unexpectedStartupError(self) -> None:
        """
        Any other exception while starting is one line on stderr and exit
        status 1 (its traceback is logged at debug level only).
        """
        top = _TopService()
        _Broken(OverflowError("bind(): port must be 0-65535.")).setServiceParent(top)
        events: List[Any] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        stderr = io.StringIO()
        self.patch(sys, "__stderr__", stderr)
        e = self.assertRaises(SystemExit, top.privilegedStartService)
        self.assertEqual(e.code, 1)
        self.assertEqual(stderr.getvalue(), "twistd sctp-sip: cannot start: bind(): port must be 0-65535.\n")
        failures = [ev for ev in events if "log_failure" in ev]
        self.assertEqual([ev["log_level"] for ev in failures], [LogLevel.debug])
        self.assertEqual(len(self.flushLoggedErrors(OverflowError)), 1)

    def test_startupErrorLine(self) -> None:
        """
        A usage error keeps its text; anything else says it could not start.
        """
        self.assertEqual(startupError(usage.UsageError("--metrics x: bad")), "twistd sctp-sip: --metrics x: bad")
        self.assertEqual(startupError(ValueError("odd")), "twistd sctp-sip: cannot start: odd")


class QuietAdminTests(AdminTestMixin, SynchronousTestCase):
    """
    An admin connection (one per C{sctp-sipctl} call) logs nothing at info.
    """

    def test_noInfoPerConnection(self) -> None:
        """
        Connecting, running a command and closing logs nothing on the
        server's side (amp.AMP would log two info lines; twistd's log keeps
        even debug ones); the factory still counts the connection.
        """
        self.setUpAdmin()
        events: List[Any] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        client, server, pump = self.connect()
        self.call(client.info(), pump)
        client.close()
        pump.flush()
        self.assertIsNone(server.transport)
        server = [ev.get("log_format") for ev in events if ev.get("cls") == "AdminProtocol" or "admin" in str(ev.get("log_namespace"))]
        self.assertEqual(server, [])
        self.assertEqual(self.factory.counters.connections_total, 1)
