# -*- test-case-name: tests.test_adminhostile -*-
"""
Hostile boxes on the admin endpoint (issue 16 item 10): an unterminated box
is dropped at L{admin.MAX_BOX_BYTES} on every endpoint (secret or not) and
its memory released; a box that is not a command and arguments that do not
parse give a typed error or a counted drop, never a traceback in the log.
"""

from __future__ import annotations

import struct
from typing import Any, List

from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from tests.test_admin import SECRET, AdminTestMixin
from twisted_sctp.admin import server as admin


def _pair(key: bytes, value: bytes) -> bytes:
    return struct.pack("!H", len(key)) + key + struct.pack("!H", len(value)) + value


class BadArguments(Exception):
    """
    The client side of BAD_ARGUMENTS.
    """


class RawAbort(amp.Command):
    """
    C{AbortAssociation} as a hostile client sends it: C{id} not a number.
    """

    commandName = admin.AbortAssociation.commandName
    arguments = [(b"id", amp.String())]
    response: List[Any] = []
    errors = {BadArguments: admin.BAD_ARGUMENTS}


class RawSet(amp.Command):
    """
    C{SetOption} without its C{value}.
    """

    commandName = admin.SetOption.commandName
    arguments = [(b"name", amp.String())]
    response: List[Any] = []
    errors = {BadArguments: admin.BAD_ARGUMENTS}


class HostileBoxTests(AdminTestMixin, SynchronousTestCase):
    """
    What a hostile client's boxes do to the admin protocol.
    """

    def setUp(self) -> None:
        self.setUpAdmin()
        self.events: List[Any] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def serverOn(self, secret: Any = None) -> Any:
        self.factory.secret = secret
        server = self.factory.buildProtocol(None)
        transport = StringTransport()
        server.makeConnection(transport)
        return server, transport

    def assertNoTraceback(self) -> None:
        failures = [e for e in self.events if e.get("log_failure") is not None]
        self.assertEqual(failures, [])

    def feedUnterminated(self, server: Any, limit: int) -> int:
        """
        Feed key/value pairs of an unterminated box, 4 KiB at a time, until
        the server drops the connection or C{limit} bytes were sent.

        @return: the bytes sent.
        """
        sent = 0
        n = 0
        while sent < limit and not server._dropped:
            chunk = b"".join(_pair(b"k%d" % (n + i), b"v" * 400) for i in range(10))
            n += 10
            server.dataReceived(chunk)
            sent += len(chunk)
        return sent

    def test_unterminatedBoxWithoutSecret(self) -> None:
        """
        Without a secret (the unix socket), an unterminated box was buffered
        whole (63 MB seen); now it is dropped past MAX_BOX_BYTES, counted
        as C{admin_bad_boxes}, and the parser's buffers are released.
        """
        server, transport = self.serverOn()
        sent = self.feedUnterminated(server, 64 * 1024 * 1024)
        self.assertTrue(server._dropped)
        self.assertLess(sent, admin.MAX_BOX_BYTES + 8192)
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(server._currentBox)
        self.assertEqual(server._unprocessed, b"")
        self.assertEqual(self.factory.counters.bad_boxes, 1)
        self.assertNoTraceback()

    def test_unterminatedBoxAfterAuthentication(self) -> None:
        """
        The same bound holds after a client has authenticated with the
        secret (the pre-auth byte limit no longer applies then).
        """
        client, server, pump = self.connect(SECRET)
        self.factory.secret = SECRET
        server.authenticated = True
        sent = self.feedUnterminated(server, 1024 * 1024)
        self.assertTrue(server._dropped)
        self.assertLess(sent, admin.MAX_BOX_BYTES + 8192)
        self.assertEqual(self.factory.counters.bad_boxes, 1)

    def test_boxesUnderTheBoundAreServed(self) -> None:
        """
        Many small commands in one write are not mistaken for one big box.
        """
        client, server, pump = self.connect()
        answers = [client.info() for _ in range(200)]
        pump.flush()
        self.assertEqual([self.successResultOf(d)["listeners"] for d in answers], [2] * 200)
        self.assertFalse(server._dropped)

    def test_emptyBox(self) -> None:
        """
        A box with neither a command nor an answer (AMP raised
        NoEmptyBoxes, a traceback in the log) drops the connection,
        counted, with a warning and no traceback.
        """
        server, transport = self.serverOn()
        server.dataReceived(_pair(b"hello", b"world") + b"\x00\x00")
        self.assertTrue(server._dropped)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.factory.counters.bad_boxes, 1)
        self.assertNoTraceback()
        warnings = [e for e in self.events if "neither a command" in str(e.get("why", ""))]
        self.assertEqual(len(warnings), 1)

    def test_badIntegerArgument(self) -> None:
        """
        C{AbortAssociation id=x} (AMP logged C{ValueError: invalid literal
        for int()} and closed the connection) is answered with the typed
        error BAD_ARGUMENTS, counted, and the connection still serves.
        """
        client, server, pump = self.connect()
        assert client.protocol is not None
        d = client.protocol.callRemote(RawAbort, id=b"x")
        errors: List[Any] = []
        d.addErrback(errors.append)
        pump.flush()
        [error] = errors
        self.assertIsInstance(error.value, BadArguments)
        self.assertIn("AbortAssociation", str(error.value))
        self.assertEqual(self.factory.counters.bad_arguments, 1)
        self.assertNoTraceback()
        self.assertEqual(self.call(client.info(), pump)["listeners"], 2)

    def test_missingArgument(self) -> None:
        """
        A command without a required argument gets BAD_ARGUMENTS too.
        """
        client, server, pump = self.connect()
        assert client.protocol is not None
        d = client.protocol.callRemote(RawSet, name=b"autoclose")
        errors: List[Any] = []
        d.addErrback(errors.append)
        pump.flush()
        self.assertEqual([e.type for e in errors], [BadArguments])
        self.assertEqual(self.factory.counters.bad_arguments, 1)
        self.assertNoTraceback()
