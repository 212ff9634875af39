# -*- test-case-name: tests.test_sipadapter -*-
"""
Tests for L{twisted_sctp.sip.adapter}: C{twisted.protocols.sip} datagram
applications over SCTP, on the transport's routing and keep-alives.
"""

from __future__ import annotations

from typing import Tuple

from zope.interface.verify import verifyObject

from twisted.internet.interfaces import IUDPTransport
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols import sip as tsip
from twisted.trial.unittest import SynchronousTestCase

from tests.test_sip import LogCapture
from twisted_sctp.sip.adapter import DatagramAdapter
from twisted_sctp.sip.parser import parseMessage
from twisted_sctp.testing import FakeKernel, commUp


class Contact:
    """
    A stand-in registry result for twisted.protocols.sip.
    """


class AdapterTests(SynchronousTestCase):
    """
    twisted.protocols.sip's RegisterProxy over SCTP through the adapter.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.kernel = FakeKernel()
        self.proxy = tsip.RegisterProxy(host="127.0.0.1", port=5060)
        self.registry = tsip.InMemoryRegistry("127.0.0.1")
        self.proxy.registry = self.proxy.locator = self.registry
        self.adapter = DatagramAdapter(self.proxy, self.reactor)
        self.port = self.adapter.listen(5060, ["127.0.0.1"], kernel=self.kernel)
        self.sock = self.kernel.socket
        for call in self.reactor.getDelayedCalls():
            call.cancel()

    def tearDown(self) -> None:
        for username in list(self.registry.users):
            self.registry.users[username][0].cancel()

    def up(self, assocID: int, peer: Tuple[str, int]) -> None:
        self.kernel.peers[assocID] = [peer]
        self.sock.feedNotification(commUp(assocID), peer)
        self.port.doRead()

    def test_transport(self) -> None:
        """
        The protocol gets an IUDPTransport whose host is the SCTP listener.
        """
        verifyObject(IUDPTransport, self.proxy.transport)
        self.assertEqual(self.proxy.transport.getHost().port, 5060)

    def test_registerAndProxy(self) -> None:
        """
        REGISTER is answered on the association it came on; an INVITE to the
        registered user goes to the contact address with the proxy's Via
        rewritten from UDP to SCTP.
        """
        self.up(7, ("127.0.0.1", 15070))
        register = (
            b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/SCTP 127.0.0.1:15070;branch=z9hG4bKr\r\n"
            b"From: <sip:bob@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n"
            b"Contact: <sip:bob@127.0.0.1:15070>\r\nContent-Length: 0\r\n\r\n"
        )
        self.sock.feedData(register, 7, ("127.0.0.1", 15070))
        self.port.doRead()
        [(data, info, address)] = self.sock.sent
        self.assertTrue(data.startswith(b"SIP/2.0 200 OK"), data)
        self.assertEqual((info.assocID, address), (7, None))
        for call in self.reactor.getDelayedCalls():
            call.cancel()
        self.up(8, ("127.0.0.2", 5080))
        invite = (
            b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/SCTP 127.0.0.2:5080;branch=z9hG4bKi\r\n"
            b"From: <sip:alice@127.0.0.1>;tag=2\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: i1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
        self.sock.feedData(invite, 8, ("127.0.0.2", 5080))
        self.port.doRead()
        data, info, address = self.sock.sent[-1]
        self.assertTrue(data.startswith(b"INVITE sip:bob@127.0.0.1 SIP/2.0"), data)
        self.assertEqual(info.assocID, 7)
        forwarded = parseMessage(data)
        self.assertEqual(str(forwarded.vias[0]).split(";")[0], "SIP/2.0/SCTP 127.0.0.1:5060")
        self.assertEqual(self.adapter.counters["messages_out"], 2)

    def test_keepAlive(self) -> None:
        """
        Keep-alives never reach the application: CRLFCRLF is answered, a lone
        CRLF dropped.
        """
        self.up(7, ("127.0.0.1", 15070))
        self.sock.feedData(b"\r\n\r\n", 7, ("127.0.0.1", 15070))
        self.sock.feedData(b"\r\n", 7, ("127.0.0.1", 15070))
        self.port.doRead()
        self.assertEqual([(d, i.assocID) for d, i, _ in self.sock.sent], [(b"\r\n", 7)])
        self.assertEqual((self.adapter.counters["keepalive_pings"], self.adapter.counters["lone_crlf"]), (1, 1))

    def test_applicationErrorIsAWarning(self) -> None:
        """
        Input that makes twisted.protocols.sip raise gives a warning without
        a traceback, and the adapter keeps going.
        """
        self.up(7, ("127.0.0.1", 15070))
        logs = LogCapture(self)
        self.sock.feedData(b"SIP/2.0 200 OK\r\nTo: x\r\n\r\n", 7, ("127.0.0.1", 15070))
        self.port.doRead()
        self.assertEqual(self.adapter.counters["application_errors"], 1)
        self.assertEqual(len(logs.warnings()), 1)
        self.assertEqual(logs.failures(), [])
        self.assertEqual(self.port.stats.drops["protocol_error"], 0)

    def test_writeOpensAssociation(self) -> None:
        """
        write() to a peer without an association sends by address (the
        kernel opens one); to a bad address, counts a failure.
        """
        self.proxy.transport.write(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060\r\n\r\n", ("127.0.0.5", 5060))
        [(data, info, address)] = self.sock.sent
        self.assertEqual(address, ("127.0.0.5", 5060))
        self.assertIn(b"Via: SIP/2.0/SCTP 127.0.0.1:5060", data)
        self.proxy.transport.write(b"x", ("not an address", 1))
        self.assertEqual(self.adapter.counters["send_failed"], 1)
