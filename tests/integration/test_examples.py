# -*- test-case-name: tests.integration.test_examples -*-
"""
The example scripts (C{examples/echo_server.py}, C{examples/echo_client.py})
run as separate processes on a real kernel SCTP stack (run under
scripts/with-sctp-kernel).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any, Dict, List, Optional, Tuple

from twisted.internet import defer, error, protocol, reactor
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from tests.integration.support import requireSCTP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")

#: Seconds any one wait (start-up, client run, exit after a signal) may take.
WAIT = 30.0


def basePort() -> int:
    """
    @return: a port unlikely to clash with other runs (15099 + pid % 1000).
    """
    return 15099 + os.getpid() % 1000


class ScriptProcess(protocol.ProcessProtocol):
    """
    Collects a child's output; lets a test wait for a line or for its end.

    @ivar ended: fires with C{(exit code, stdout, stderr)} once it exits.
    """

    def __init__(self) -> None:
        self.out = b""
        self.err = b""
        self.running = True
        self.ended: defer.Deferred[Tuple[Optional[int], str, str]] = defer.Deferred()
        self._waiting: List[Tuple[bytes, defer.Deferred[None]]] = []

    def outReceived(self, data: bytes) -> None:
        self.out += data
        for item in list(self._waiting):
            if item[0] in self.out:
                self._waiting.remove(item)
                item[1].callback(None)

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        self.running = False
        code = getattr(reason.value, "exitCode", None)
        for _, d in self._waiting:
            d.errback(AssertionError("process exited ({}) before saying that; stderr: {!r}".format(code, self.err)))
        self._waiting = []
        self.ended.callback((code, self.out.decode("utf-8", "replace"), self.err.decode("utf-8", "replace")))

    def waitForOutput(self, text: bytes, timeout: float = WAIT) -> defer.Deferred[None]:
        """
        @return: a Deferred that fires once C{text} appears on stdout, or
            fails after C{timeout} seconds or if the process exits first.
        """
        d: defer.Deferred[None] = defer.Deferred()
        if text in self.out:
            d.callback(None)
            return d
        if not self.running:
            d.errback(AssertionError("process already exited; stdout: {!r}".format(self.out)))
            return d
        self._waiting.append((text, d))
        return d.addTimeout(timeout, reactor)


class ExampleTests(TestCase):
    """
    The echo server and client examples, as a user would run them.
    """

    timeout = 120

    def setUp(self) -> None:
        requireSCTP()

    def spawn(self, script: str, *args: str) -> ScriptProcess:
        """
        Start C{examples/script} with this interpreter; it is killed at the
        test's end if it is still running.
        """
        proc = ScriptProcess()
        env: Dict[str, str] = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        transport = reactor.spawnProcess(
            proc, sys.executable, [sys.executable, os.path.join(EXAMPLES, script)] + list(args), env=env, path=ROOT
        )
        self.addCleanup(self.kill, proc, transport)
        return proc

    def kill(self, proc: ScriptProcess, transport: Any) -> Any:
        """
        SIGKILL C{proc} if it still runs and wait (bounded) for its end.
        """
        if proc.running:
            try:
                transport.signalProcess("KILL")
            except error.ProcessExitedAlready:
                pass
        return proc.ended.addTimeout(WAIT, reactor).addErrback(lambda f: None)

    def runClient(self, *args: str) -> defer.Deferred[Tuple[Optional[int], str, str]]:
        """
        Run the client to its end, bounded by L{WAIT}.
        """
        return self.spawn("echo_client.py", *args).ended.addTimeout(WAIT, reactor)

    @defer.inlineCallbacks
    def startServer(self, host: str, port: int) -> Any:
        """
        Start the server and wait until it says it is listening.
        """
        server = self.spawn("echo_server.py", "--host", host, "--port", str(port))
        yield server.waitForOutput(b"echo server listening on")
        return server

    @defer.inlineCallbacks
    def test_clientGetsEchoes(self) -> Any:
        """
        The client sends each message given on its command line to the server
        and prints each echo, in order, then exits 0; the server saw each
        message and keeps running.
        """
        port = basePort()
        server = yield self.startServer("127.0.0.1", port)
        self.assertIn("sctp:127.0.0.1:{}".format(port), server.out.decode())
        code, out, err = yield self.runClient(
            "--host", "127.0.0.1", "--port", str(port), "--timeout", "10", "one", "two words", "three"
        )
        self.assertEqual(code, 0, "client failed: stdout {!r} stderr {!r}".format(out, err))
        echoes = [line for line in out.splitlines() if line.startswith("echo: ")]
        self.assertEqual(echoes, ["echo: one", "echo: two words", "echo: three"])
        self.assertIn("3 of 3 messages echoed", out)
        yield server.waitForOutput(b"echoing 5 bytes on stream 0")
        self.assertEqual(server.out.count(b"echoing "), 3)
        self.assertTrue(server.running)

    @defer.inlineCallbacks
    def test_ipv6(self) -> Any:
        """
        Server and client work over IPv6 loopback.
        """
        requireSCTP(socket.AF_INET6)
        port = basePort() + 1
        yield self.startServer("::1", port)
        code, out, err = yield self.runClient("--host", "::1", "--port", str(port), "--timeout", "10", "over six")
        self.assertEqual(code, 0, "client failed: stdout {!r} stderr {!r}".format(out, err))
        self.assertIn("echo: over six", out.splitlines())

    @defer.inlineCallbacks
    def test_serverStopsOnSignal(self) -> Any:
        """
        SIGTERM stops the server cleanly (exit 0, no traceback).
        """
        server = yield self.startServer("127.0.0.1", basePort() + 2)
        os.kill(server.transport.pid, signal.SIGTERM)
        code, out, err = yield server.ended.addTimeout(WAIT, reactor)
        self.assertEqual(code, 0, "server: stdout {!r} stderr {!r}".format(out, err))
        self.assertNotIn("Traceback", err)

    @defer.inlineCallbacks
    def test_clientNoServer(self) -> Any:
        """
        With nothing listening, the client fails with one clear line on
        stderr and exit code 1, within its timeout.
        """
        code, out, err = yield self.runClient("--host", "127.0.0.1", "--port", str(basePort() + 3), "--timeout", "5")
        self.assertEqual(code, 1, "stdout {!r} stderr {!r}".format(out, err))
        self.assertNotIn("Traceback", err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].startswith("echo_client: "), err)
        self.assertIn("127.0.0.1:{}".format(basePort() + 3), lines[0])
