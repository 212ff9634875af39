"""
Tests for L{twisted_sctp.kernel.mmsg} and the C{recvmmsg} extension
C{twisted_sctp.kernel._mmsg}: what one call reads is what
C{socket.recvmsg} reads, message by message.

The host has no SCTP; C{recvmmsg} is the same system call on any socket,
so these run on UDP sockets (the backend's use of it on SCTP sockets is
tested in the guest: C{tests.integration.test_kernelread}).
"""

from __future__ import annotations

import os
import socket
from typing import Any, List, Tuple

from twisted.trial import unittest

from twisted_sctp.kernel import mmsg

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)

_SKIP = None
if mmsg.recvmmsg is None:
    _SKIP = "the recvmmsg extension is not in use: " + mmsg.REASON
    if os.environ.get("CI") and not os.environ.get(mmsg.PURE_ENV):
        raise RuntimeError("CI: " + _SKIP)


def _pair(family: int = socket.AF_INET, host: str = "127.0.0.1") -> Tuple[socket.socket, socket.socket]:
    receiver = socket.socket(family, socket.SOCK_DGRAM)
    receiver.bind((host, 0))
    receiver.setblocking(False)
    sender = socket.socket(family, socket.SOCK_DGRAM)
    sender.bind((host, 0))
    return receiver, sender


class RecvmmsgTests(unittest.TestCase):
    skip = _SKIP

    def setUp(self) -> None:
        self.receiver, self.sender = _pair()
        self.addCleanup(self.receiver.close)
        self.addCleanup(self.sender.close)

    def read(self, count: int, slot: int = 2048, ancSlot: int = 256) -> List[Any]:
        assert mmsg.recvmmsg is not None
        return mmsg.recvmmsg(self.receiver.fileno(), bytearray(slot * count), slot, bytearray(ancSlot * count), ancSlot, count)

    def send(self, *payloads: bytes) -> None:
        for payload in payloads:
            self.sender.sendto(payload, self.receiver.getsockname())

    def test_batchAndEmpty(self) -> None:
        """
        One call reads as many queued messages as it is allowed, in order,
        and stops at the empty queue without an error; a call on an empty
        queue raises C{BlockingIOError}, as C{recvmsg} would.
        """
        self.send(b"one", b"two", b"three")
        first = self.read(2)
        self.assertEqual([m[0] for m in first], [b"one", b"two"])
        rest = self.read(8)
        self.assertEqual([m[0] for m in rest], [b"three"])
        self.assertRaises(BlockingIOError, self.read, 8)

    def test_sameAsRecvmsg(self) -> None:
        """
        Data, flags, address and the ancillary data's levels, types and
        (where they do not hold a time) bytes are C{socket.recvmsg}'s for
        the same message.
        """
        for sock in (self.receiver,):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        self.send(b"x" * 100, b"y" * 7)
        expected = self.receiver.recvmsg(2048, 256)
        [got] = self.read(1)
        self.assertEqual(len(got), 4)
        self.assertEqual(got[0], b"y" * 7)
        self.assertEqual(expected[0], b"x" * 100)
        self.assertEqual(got[2], expected[2])
        self.assertEqual(got[3], expected[3])
        self.assertEqual(got[3], self.sender.getsockname())
        self.assertEqual([(lvl, typ, len(data)) for lvl, typ, data in got[1]], [(lvl, typ, len(data)) for lvl, typ, data in expected[1]])
        info = [data for lvl, typ, data in got[1] if (lvl, typ) == (socket.IPPROTO_IP, IP_PKTINFO)]
        self.assertEqual(info, [data for lvl, typ, data in expected[1] if (lvl, typ) == (socket.IPPROTO_IP, IP_PKTINFO)])
        self.assertEqual(len(info), 1)

    def test_truncation(self) -> None:
        """
        A message longer than its slot comes cut to the slot with
        C{MSG_TRUNC}; ancillary data longer than its slot with
        C{MSG_CTRUNC}, as from C{recvmsg} with the same sizes.
        """
        self.receiver.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.receiver.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        self.send(b"z" * 300, b"z" * 300)
        expected = self.receiver.recvmsg(100, socket.CMSG_SPACE(16))
        [got] = self.read(1, slot=100, ancSlot=socket.CMSG_SPACE(16))
        self.assertEqual(got[0], expected[0])
        self.assertEqual(got[0], b"z" * 100)
        self.assertEqual(got[2], expected[2])
        self.assertTrue(got[2] & socket.MSG_TRUNC)
        self.assertTrue(got[2] & socket.MSG_CTRUNC)
        self.assertEqual([(lvl, typ, len(data)) for lvl, typ, data in got[1]], [(lvl, typ, len(data)) for lvl, typ, data in expected[1]])

    def test_noAncillary(self) -> None:
        """
        With no room for ancillary data each message comes with none.
        """
        self.receiver.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.send(b"a", b"b")
        got = self.read(2, ancSlot=0)
        self.assertEqual([(m[0], m[1]) for m in got], [(b"a", []), (b"b", [])])

    def test_ipv6(self) -> None:
        """
        An IPv6 source comes as C{socket.recvmsg} gives it: host, port,
        flow info and scope id.
        """
        try:
            self.receiver, self.sender = _pair(socket.AF_INET6, "::1")
        except OSError as e:
            raise unittest.SkipTest("no IPv6 loopback: {}".format(e))
        self.addCleanup(self.receiver.close)
        self.addCleanup(self.sender.close)
        self.send(b"six", b"six")
        expected = self.receiver.recvmsg(2048)
        [got] = self.read(4)
        self.assertEqual(got[3], expected[3])
        self.assertEqual(got[3][:2], self.sender.getsockname()[:2])

    def test_badArguments(self) -> None:
        """
        A count out of range or buffers too small for the count are a
        C{ValueError}; a closed descriptor an C{OSError}; nothing is read.
        """
        assert mmsg.recvmmsg is not None
        fd = self.receiver.fileno()
        self.send(b"kept")
        for args in ((bytearray(10), 10, bytearray(10), 10, 2), (bytearray(10), 10, bytearray(0), 0, 0),
                     (bytearray(10 * 65), 10, bytearray(0), 0, 65), (bytearray(10), 0, bytearray(0), 0, 1)):
            self.assertRaises(ValueError, mmsg.recvmmsg, fd, *args)
        self.assertRaises(TypeError, mmsg.recvmmsg, fd, b"read-only", 9, bytearray(0), 0, 1)
        self.assertEqual([m[0] for m in self.read(4)], [b"kept"])
        closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        number = closed.fileno()
        closed.close()
        with self.assertRaises(OSError) as caught:
            mmsg.recvmmsg(number, bytearray(10), 10, bytearray(0), 0, 1)
        self.assertNotIsInstance(caught.exception, BlockingIOError)


class SelectTests(unittest.TestCase):
    def test_pureEnvironment(self) -> None:
        """
        C{TWISTED_SCTP_PURE} leaves the extension unused, and says so.
        """
        self.patch(os, "environ", dict(os.environ, **{mmsg.PURE_ENV: "1"}))
        read, implementation, reason = mmsg.select()
        self.assertIsNone(read)
        self.assertEqual(implementation, "recvmsg")
        self.assertIn(mmsg.PURE_ENV, reason)

    def test_selected(self) -> None:
        """
        Without it, the built extension is used.
        """
        if _SKIP:
            raise unittest.SkipTest(_SKIP)
        self.patch(os, "environ", {k: v for k, v in os.environ.items() if k != mmsg.PURE_ENV})
        read, implementation, reason = mmsg.select()
        self.assertIsNotNone(read)
        self.assertEqual(implementation, "recvmmsg")
        self.assertIn("_mmsg", reason)
