# -*- test-case-name: tests.test_adminendpoints -*-
"""
Tests for L{twisted_sctp.admin.endpoints}: which endpoint strings the admin
endpoint and the metrics listen on, with what defaults, and the checks of
L{makeAdminService}, on paper and live.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import tempfile
from typing import Any, Optional

from twisted.internet import defer, error as ierror, reactor as globalReactor
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols import amp
from twisted.python import usage
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from tests.test_admin import SECRET, FakeSIPService
from twisted_sctp.admin import server as admin
from twisted_sctp.admin.auth import loadSecret
from twisted_sctp.admin.endpoints import DEFAULT_ADMIN_ENDPOINT, EndpointError, clientEndpoint, serverEndpoint, splitDescription
from twisted_sctp.admin.server import AdminClient, AuthenticationFailed, makeAdminService


class EndpointTests(SynchronousTestCase):
    """
    Endpoint defaults and the checks of makeAdminService.
    """

    def secretFile(self, content: bytes = SECRET, mode: int = 0o600) -> str:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def test_split(self) -> None:
        """
        Endpoint strings split as Twisted splits them, escapes included.
        """
        self.assertEqual(splitDescription(r"tcp6:7000:interface=\:\:1"), ("tcp6", ["7000"], {"interface": "::1"}))
        self.assertEqual(splitDescription("unix:/run/a.sock:mode=600"), ("unix", ["/run/a.sock"], {"mode": "600"}))

    def test_serverDefaults(self) -> None:
        """
        No endpoint is the unix socket with mode 600; tcp binds loopback;
        unix gets mode 600.
        """
        self.assertEqual(serverEndpoint(None).description, "unix:sctp-sip.admin:mode=600")
        self.assertEqual(DEFAULT_ADMIN_ENDPOINT, "unix:sctp-sip.admin:mode=600")
        self.assertTrue(serverEndpoint(None).local)
        self.assertEqual(serverEndpoint("tcp:7000").description, "tcp:7000:interface=127.0.0.1")
        self.assertEqual(serverEndpoint("tcp6:7000").description, r"tcp6:7000:interface=\:\:1")
        self.assertEqual(serverEndpoint("unix:/tmp/x").description, "unix:/tmp/x:mode=600")
        self.assertTrue(serverEndpoint("unix:/tmp/x:mode=660").local)
        for text in ("tcp:7000", "tcp:7000:interface=127.0.0.2", "tcp6:7000", "ssl:7000", "tcp:7000:interface=0.0.0.0", "tcp:7000:10.0.0.1", "tcp6:7000:interface=\\:\\:", "unix:/tmp/x:mode=666", "systemd:domain=UNIX:index=0"):
            self.assertFalse(serverEndpoint(text).local, text)

    def test_clientFromServerString(self) -> None:
        """
        sctp-sipctl takes the server's endpoint string as well as a client
        one.
        """
        self.assertEqual(clientEndpoint("unix:sctp-sip.admin:mode=600"), "unix:sctp-sip.admin")
        self.assertEqual(clientEndpoint("tcp:7000"), "tcp:host=127.0.0.1:port=7000")
        self.assertEqual(clientEndpoint("tcp:7000:interface=10.0.0.1"), "tcp:host=10.0.0.1:port=7000")
        self.assertEqual(clientEndpoint("tcp:host=10.0.0.1:port=7000"), "tcp:host=10.0.0.1:port=7000")
        self.assertEqual(clientEndpoint("tcp6:7000"), r"tcp:host=\:\:1:port=7000")
        self.assertRaises(EndpointError, clientEndpoint, "nonsense")

    def test_clientDefault(self) -> None:
        """
        Without --admin, the client uses $SCTP_SIP_ADMIN, else the default
        unix socket in the current directory.
        """
        self.patch(os, "environ", {})
        self.assertEqual(clientEndpoint(None), "unix:sctp-sip.admin")
        self.patch(os, "environ", {"SCTP_SIP_ADMIN": "tcp:7000"})
        self.assertEqual(clientEndpoint(None), "tcp:host=127.0.0.1:port=7000")

    def test_nonLoopbackNeedsSecret(self) -> None:
        """
        A non-loopback admin endpoint without a secret file refuses to start,
        saying why and what to do.
        """
        for text in ("tcp:7000:interface=0.0.0.0", "tcp:7000:interface=192.0.2.1", "unix:/tmp/x:mode=666"):
            e = self.assertRaises(usage.UsageError, makeAdminService, MemoryReactorClock(), text, FakeSIPService([]), None)
            self.assertIn("needs a shared secret", str(e))
            self.assertIn("--admin-secret-file", str(e))
        service = makeAdminService(MemoryReactorClock(), "tcp:7000:interface=0.0.0.0", FakeSIPService([]), self.secretFile())
        self.assertEqual(service.factory.secret, SECRET)

    def test_loopbackTCPNeedsSecret(self) -> None:
        """
        A TCP admin endpoint on loopback is reachable by every local
        account (issue 16 item 10: uid nobody could C{set max_assocs 0}), so
        it needs the secret too: refused without one, with a message naming
        --admin-secret-file and why.
        """
        for text in ("tcp:7000", "tcp:0:interface=127.0.0.1", "tcp6:7000", "tcp:7000:interface=localhost"):
            e = self.assertRaises(usage.UsageError, makeAdminService, MemoryReactorClock(), text, FakeSIPService([]), None)
            self.assertIn("--admin-secret-file", str(e))
            self.assertIn("every local account", str(e))
        service = makeAdminService(MemoryReactorClock(), "tcp:7000", FakeSIPService([]), self.secretFile())
        self.assertEqual(service.factory.secret, SECRET)

    def test_privateUnixNeedsNoSecret(self) -> None:
        """
        The default endpoint and unix sockets closed to others start
        without a secret.
        """
        for text in (None, "unix:/tmp/a.sock", "unix:/tmp/a.sock:mode=600", "unix:/tmp/a.sock:mode=660"):
            service = makeAdminService(MemoryReactorClock(), text, FakeSIPService([]), None)
            self.assertIsNone(service.factory.secret)

    def test_badEndpoint(self) -> None:
        """
        A bad endpoint string is a usage error naming it.
        """
        for text in ("", "nonsense", "tcp:notaport", "bogus:1234", "unix:/tmp/x:mode=9z"):
            e = self.assertRaises(usage.UsageError, makeAdminService, MemoryReactorClock(), text, FakeSIPService([]), self.secretFile())
            self.assertIn("--admin", str(e))

    def test_secretFileChecks(self) -> None:
        """
        The secret file must exist, not be empty, and not be accessible by
        others.
        """
        self.assertEqual(loadSecret(self.secretFile(SECRET + b"\n")), SECRET)
        self.assertEqual(loadSecret(self.secretFile(mode=0o640)), SECRET)
        for path, text in (
            (self.secretFile(mode=0o644), "accessible by other users"),
            (self.secretFile(mode=0o602), "accessible by other users"),
            (self.secretFile(b" \n"), "is empty"),
            (self.mktemp(), "cannot read"),
        ):
            e = self.assertRaises(usage.UsageError, makeAdminService, MemoryReactorClock(), "tcp:7000", FakeSIPService([]), path)
            self.assertIn(text, str(e))
            self.assertIn("--admin-secret-file", str(e))


def _connectAs(uid: int, path: str) -> str:
    """
    Connect to the unix socket C{path} from a forked child running as
    C{uid} (and group nogroup, no supplementary groups).

    @return: C{"OK"} or the errno name.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        result = b"?"
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                result = b"OK"
            except OSError as e:
                result = errno.errorcode.get(e.errno or 0, str(e.errno)).encode()
        finally:
            os.write(write, result)
            os._exit(0)
    os.close(write)
    try:
        out = b""
        while True:
            chunk = os.read(read, 100)
            if not chunk:
                break
            out += chunk
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    return out.decode()


class LiveEndpointTests(TestCase):
    """
    The admin service on real sockets of the real reactor.
    """

    def socketDir(self) -> str:
        path = tempfile.mkdtemp(prefix="sctp-admin-test-")
        self.addCleanup(shutil.rmtree, path, True)
        os.chmod(path, 0o755)
        return path

    def startService(self, description: Optional[str], secretFile: Optional[str] = None) -> Any:
        service = makeAdminService(globalReactor, description, FakeSIPService([]), secretFile)
        service.startService()
        self.addCleanup(service.stopService)
        return service

    def test_defaultSocketMode(self) -> None:
        """
        The default endpoint is a unix socket in the run directory with mode
        0600.
        """
        directory = self.socketDir()
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(directory)
        self.startService(None)
        info = os.stat(os.path.join(directory, "sctp-sip.admin"))
        self.assertTrue(stat.S_ISSOCK(info.st_mode))
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o600)

    def test_otherUserCannotConnect(self) -> None:
        """
        A process running as another user (nobody) gets EACCES on the
        default unix socket; with mode 666 it could connect, so the refusal is
        the socket's mode.
        """
        if os.getuid() != 0:
            raise SkipTest("needs root to run a process as nobody")
        directory = self.socketDir()
        closed = os.path.join(directory, "sctp-sip.admin")
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(directory)
        self.startService(None)
        self.assertEqual(_connectAs(65534, closed), "EACCES")
        self.assertEqual(_connectAs(0, closed), "OK")
        opened = os.path.join(directory, "open.admin")
        secret = os.path.join(directory, "secret")
        with open(secret, "wb") as f:
            f.write(SECRET)
        os.chmod(secret, 0o600)
        self.startService("unix:{}:mode=666".format(opened), secret)
        self.assertEqual(_connectAs(65534, opened), "OK")

    @defer.inlineCallbacks
    def test_unauthenticatedTCPClientGetsNoAnswer(self) -> Any:
        """
        Over real TCP with a secret: an unauthenticated client's command is
        never answered (the connection is dropped); a client with the secret
        is answered.
        """
        secret = self.mktemp()
        with open(secret, "wb") as f:
            f.write(SECRET)
        os.chmod(secret, 0o600)
        service = self.startService("tcp:0", secret)
        port = service._waitingForPort.result.getHost().port
        proto = yield endpointsConnect("tcp:host=127.0.0.1:port={}".format(port))
        for command in (admin.Info, admin.Stats, admin.Associations):
            if proto.transport is None:
                break
            try:
                answer = yield proto.callRemote(command)
            except (ierror.ConnectionDone, ierror.ConnectionLost):
                pass
            else:
                self.fail("answered {} without authentication: {!r}".format(command.__name__, answer))
        good = AdminClient(globalReactor, "tcp:{}".format(port), secret=SECRET)
        yield good.connect()
        info = yield good.info()
        self.assertEqual(info["listeners"], 0)
        bad = AdminClient(globalReactor, "tcp:{}".format(port), secret=b"guess")
        yield self.assertFailure(bad.connect(), AuthenticationFailed)
        good.close()
        self.assertEqual(service.factory.counters.auth_failures, 1)
        self.assertEqual(service.factory.counters.refused, 1)


def endpointsConnect(description: str) -> "defer.Deferred[amp.AMP]":
    from twisted.internet import endpoints

    return endpoints.connectProtocol(endpoints.clientFromString(globalReactor, description), amp.AMP())
