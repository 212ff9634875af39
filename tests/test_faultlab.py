# -*- test-case-name: tests.test_faultlab -*-
"""
The fault lab's pure parts, on the host: the address plan, the names, the
netem arguments, the parsers of C{ip}/C{tc}/C{/proc} output, and the peer
program's SIP helpers and transaction client over the fake kernel.  The
fault tests themselves are in L{tests.faultlab.test_faults} (real kernel).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from tests.faultlab import topology
from tests.faultlab.peer import Answers, PeerFactory, TransactionClient, optionsRequest, transactionOf
from twisted_sctp.transport.address import SCTPAddress
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPPort
from twisted_sctp.sip.message import SIPRequest, makeResponse, parseMessage
from twisted_sctp.testing import FakeKernel, commUp


class TopologyHelperTests(SynchronousTestCase):
    """
    Names, addresses and commands.
    """

    def test_addressPlan(self) -> None:
        """
        Path k of pair i is the i-th /29 of the k-th documentation range;
        the first host gets .1, the second .2 of it.
        """
        self.assertEqual(topology.addressPlan(0, 1), ("192.0.2.0/29", "192.0.2.1", "192.0.2.2"))
        self.assertEqual(topology.addressPlan(2, 2), ("198.51.100.16/29", "198.51.100.17", "198.51.100.18"))
        self.assertEqual(topology.addressPlan(31, 3), ("203.0.113.248/29", "203.0.113.249", "203.0.113.250"))
        self.assertRaises(topology.TopologyError, topology.addressPlan, 32, 1)
        self.assertRaises(topology.TopologyError, topology.addressPlan, 0, 4)

    def test_names(self) -> None:
        """
        Namespaces and veths carry our prefixes; a device name longer than
        an interface name may be is refused.
        """
        self.assertEqual(topology.namespaceName("123", "a"), "faultlab-123-a")
        self.assertEqual(topology.deviceName("a", "b", 2), "fla-b2")
        self.assertRaises(topology.TopologyError, topology.deviceName, "alpha123", "beta456", 1)

    def test_netemArgs(self) -> None:
        """
        netem parameters in tc's words; nonsense refused.
        """
        self.assertEqual(topology.netemArgs(loss=10, delay=20), ["limit", "10000", "delay", "20ms", "loss", "10%"])
        self.assertEqual(
            topology.netemArgs(delay=10, jitter=2, reorder=25, duplicate=1, limit=50),
            ["limit", "50", "delay", "10ms", "2ms", "reorder", "25%", "duplicate", "1%"],
        )
        self.assertRaises(topology.TopologyError, topology.netemArgs, loss=101)
        self.assertRaises(topology.TopologyError, topology.netemArgs, reorder=5)
        self.assertRaises(topology.TopologyError, topology.netemArgs, delay=-1)

    def test_parsers(self) -> None:
        """
        SNMP counters and their deltas; our namespaces and veths picked out
        of C{ip} output.
        """
        snmp = topology.parseSNMP("SctpCurrEstab                   \t1\nSctpT3Retransmits \t7\nbogus line here\n")
        self.assertEqual(snmp, {"SctpCurrEstab": 1, "SctpT3Retransmits": 7})
        self.assertEqual(
            topology.counterDelta({"SctpT3Retransmits": 2}, {"SctpT3Retransmits": 7, "SctpFastRetransmits": 1}),
            {"SctpT3Retransmits": 5, "SctpFastRetransmits": 1},
        )
        self.assertEqual(topology.parseNamespaces("faultlab-1-a (id: 0)\nother\nfaultlab-1-b\n"), ["faultlab-1-a", "faultlab-1-b"])
        links = "1: lo: <LOOPBACK,UP> mtu 65536\n7: fla-b1@if6: <BROADCAST> mtu 1500\n9: eth0: <UP>\n"
        self.assertEqual(topology.parseLinks(links), ["fla-b1"])


class PeerProgramTests(SynchronousTestCase):
    """
    The peer program's SIP helpers and transaction client.
    """

    def test_optionsAndAnswer(self) -> None:
        """
        Our OPTIONS parse as SIP; the 200 built for it is recognised as the
        answer to its transaction; other responses are not.
        """
        data = optionsRequest(41, ("192.0.2.1", 5060), ("192.0.2.2", 5060), "t1")
        request = parseMessage(data)
        assert isinstance(request, SIPRequest)
        self.assertEqual((request.method, request.callID), ("OPTIONS", "fl-t1-41"))
        self.assertEqual(request.topVia.transport, "SCTP")  # type: ignore[union-attr]
        answer = makeResponse(request, 200).toBytes()
        self.assertEqual(transactionOf(answer, "t1"), (41, 200))
        self.assertIsNone(transactionOf(answer, "other"))
        self.assertIsNone(transactionOf(data, "t1"))
        self.assertIsNone(transactionOf(b"junk", "t1"))

    def test_transactionClientWindow(self) -> None:
        """
        The client keeps C{window} transactions outstanding, counts answers
        and duplicates, and is done when all are answered.
        """
        kernel = FakeKernel()
        factory = PeerFactory(Answers)
        port = SCTPPort(0, factory, ["192.0.2.1"], SCTPOptions(), MemoryReactorClock(), kernel=kernel)
        port.startListening()
        peer = ("192.0.2.2", 5060)
        kernel.peers[5] = [peer]
        kernel.socket.feedNotification(commUp(5), peer)
        port.doRead()
        client = factory.client = TransactionClient(port, SCTPAddress(*peer), 5, window=2, sip=True, tag="x")
        done = client.start()
        self.assertEqual(client.sent, 2)

        def answerAll() -> None:
            sent, kernel.socket.sent[:] = list(kernel.socket.sent), []
            for data, _, _ in sent:
                request = parseMessage(data)
                assert isinstance(request, SIPRequest)
                kernel.socket.feedData(makeResponse(request, 200).toBytes(), 5, peer)
            port.doRead()

        answerAll()
        self.assertEqual(client.sent, 4)
        answerAll()
        answerAll()
        self.assertEqual(self.successResultOf(done), None)
        self.assertEqual(client.figures()["answered"], 5)
        self.assertEqual((client.figures()["lost"], client.figures()["duplicates"]), (0, 0))
        kernel.socket.feedData(makeResponse(parseMessage(optionsRequest(0, ("192.0.2.1", 1), peer, "x")), 200).toBytes(), 5, peer)  # type: ignore[arg-type]
        port.doRead()
        self.assertEqual(client.duplicates, 1)
        self.assertEqual(client.unanswered(), [])

    def test_peerFactoryEcho(self) -> None:
        """
        The echo responder answers SIP requests with 200 and echoes the rest.
        """
        from tests.faultlab.peer import Echo

        kernel = FakeKernel()
        factory = PeerFactory(Echo, sip=True)
        port = SCTPPort(5060, factory, ["192.0.2.2"], SCTPOptions(), MemoryReactorClock(), kernel=kernel)
        port.startListening()
        peer: Any = ("192.0.2.1", 5060)
        kernel.peers[3] = [peer]
        kernel.socket.feedNotification(commUp(3), peer)
        kernel.socket.feedData(optionsRequest(1, peer, ("192.0.2.2", 5060), "y"), 3, peer)
        kernel.socket.feedData(b"plain", 3, peer)
        port.doRead()
        [(answer, _, _), (plain, _, _)] = kernel.socket.sent
        self.assertEqual(transactionOf(answer, "y"), (1, 200))
        self.assertEqual(plain, b"plain")
        self.assertEqual((factory.received, factory.answered), (2, 1))
