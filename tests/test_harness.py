# -*- test-case-name: tests.test_harness -*-
"""
Tests for the real-kernel test harness: a missing SCTP kernel must fail the
run loudly, never skip quietly.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.integration import support

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "scripts", "with-sctp-kernel")


def _noSCTP(*args: Any, **kwargs: Any) -> socket.socket:
    raise OSError(errno.ESOCKTNOSUPPORT, "Socket type not supported")


class RequireSCTPTests(SynchronousTestCase):
    """
    L{support.requireSCTP} on a kernel without SCTP.
    """

    def setUp(self) -> None:
        self.patch(support.socket, "socket", _noSCTP)

    def test_failsWhenRequired(self) -> None:
        """
        With TWISTED_SCTP_REQUIRE_KERNEL=1 (the harness sets it) a missing
        SCTP stack is an assertion failure naming the cause and the fix.
        """
        self.patch(os, "environ", dict(os.environ, TWISTED_SCTP_REQUIRE_KERNEL="1"))
        e = self.assertRaises(AssertionError, support.requireSCTP)
        self.assertIn("ESOCKTNOSUPPORT", str(e))
        self.assertIn("sctp module", str(e))

    def test_skipsOtherwise(self) -> None:
        """
        On a developer machine without the variable the tests skip.
        """
        env = dict(os.environ)
        env.pop("TWISTED_SCTP_REQUIRE_KERNEL", None)
        self.patch(os, "environ", env)
        self.assertRaises(SkipTest, support.requireSCTP)


class HarnessScriptTests(SynchronousTestCase):
    """
    scripts/with-sctp-kernel's own failure modes (no guest is booted).
    """

    def run_(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HARNESS, *argv],
            env=dict(os.environ, **env),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_usage(self) -> None:
        """
        Without a command it prints its usage and exits non-zero.
        """
        result = self.run_()
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("usage: with-sctp-kernel", result.stderr)

    def test_missingUML(self) -> None:
        """
        When the guest kernel is needed but missing, one clear line says what
        to install, and the exit code is non-zero (CI fails loudly).
        """
        probe = subprocess.run(
            [sys.executable, "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132)"],
            capture_output=True,
        )
        force = {} if probe.returncode else {"WITH_SCTP_KERNEL_FORCE_UML": "1"}
        result = self.run_("true", WITH_SCTP_KERNEL_UML="/nonexistent/linux.uml", **force)
        self.assertEqual(result.returncode, 125)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1)
        self.assertIn("user-mode-linux", result.stderr)
