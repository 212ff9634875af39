"""
Tests for the RFC 6951 carrier: datagrams in and out, the learned remote
UDP port, the one timer driven from the engine's next timeout, and two
carriers over real UDP on this host (no kernel SCTP needed).
"""

from __future__ import annotations

import random
from typing import Any, List, Tuple

from twisted.internet import defer, reactor, task
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twisted_sctp.engine import chunks as C
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.endpoint import Endpoint
from twisted_sctp.engine.events import AssocChange, AssociationChanged, Event, MessageReceived
from twisted_sctp.engine.udp import MAX_DATAGRAM, UDPCarrier, describe


class MemoryUDP:
    """
    A UDP transport that records what is written.
    """

    maxPacketSize = 8192

    def __init__(self) -> None:
        self.written: List[Tuple[bytes, Tuple[str, int]]] = []

    def write(self, data: bytes, addr: Tuple[str, int]) -> None:
        self.written.append((data, addr))


def makeCarrier(clock: task.Clock, port: int = 5060, encapPort: int = 9899) -> Tuple[UDPCarrier, MemoryUDP, List[Event]]:
    events: List[Event] = []
    carrier = UDPCarrier(clock, lambda ep, e: events.append(e), encapPort=encapPort)
    carrier.addEndpoint(Endpoint(port, EngineConfig(hbInterval=None), secret=b"k" * 32, rng=random.Random(1)))
    udp = MemoryUDP()
    carrier.makeConnection(udp)  # type: ignore[arg-type]
    return carrier, udp, events


class CarrierTests(SynchronousTestCase):
    """
    The carrier on a memory transport and a fake clock.
    """

    def test_bigDatagrams(self) -> None:
        """
        The UDP port is told to read datagrams of up to 64 KB.
        """
        _, udp, _ = makeCarrier(task.Clock())
        self.assertEqual(udp.maxPacketSize, MAX_DATAGRAM)

    def test_connectUsesEncapPort(self) -> None:
        """
        An association we start sends its INIT to the default encapsulation
        port; the INIT timer is armed on the clock and retransmits.
        """
        clock = task.Clock()
        carrier, udp, _ = makeCarrier(clock, encapPort=9999)
        ep = carrier.endpoints[5060]
        ep.connect("127.0.0.1", 7000, clock.seconds())
        carrier.pump()
        self.assertEqual([addr for _, addr in udp.written], [("127.0.0.1", 9999)])
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(1.0)
        self.assertEqual(len(udp.written), 2)
        self.assertIn("InitChunk", describe(udp.written[1][0]))

    def test_learnedPort(self) -> None:
        """
        Two carriers wired through memory: B answers A at the UDP port A's
        packets came from, not at B's default; messages cross both ways.
        """
        clock = task.Clock()
        a, udpA, eventsA = makeCarrier(clock, port=5000, encapPort=9899)
        b, udpB, eventsB = makeCarrier(clock, port=5060, encapPort=1111)

        def shuttle() -> None:
            for _ in range(50):
                if not udpA.written and not udpB.written:
                    return
                fromA, udpA.written[:] = list(udpA.written), []
                fromB, udpB.written[:] = list(udpB.written), []
                for data, addr in fromA:
                    self.assertEqual(addr, ("127.0.0.1", 9899))
                    b.datagramReceived(data, ("127.0.0.1", 40000))
                for data, addr in fromB:
                    self.assertEqual(addr, ("127.0.0.1", 40000))
                    a.datagramReceived(data, ("127.0.0.1", 9899))

        aid = a.endpoints[5000].connect("127.0.0.1", 5060, clock.seconds())
        a.pump()
        shuttle()
        self.assertTrue(any(isinstance(e, AssociationChanged) and e.change is AssocChange.COMM_UP for e in eventsB))
        a.endpoints[5000].send(aid, b"over udp", clock.seconds())
        a.pump()
        shuttle()
        clock.advance(0.3)  # the delayed SACK
        shuttle()
        self.assertEqual([e.data for e in eventsB if isinstance(e, MessageReceived)], [b"over udp"])
        [assoc] = b.endpoints[5060].associations()
        self.assertEqual(assoc.udpPort, 40000)

    def test_garbageDropped(self) -> None:
        """
        Runts are counted; junk goes to the endpoint, which counts it.
        """
        carrier, udp, events = makeCarrier(task.Clock())
        carrier.datagramReceived(b"short", ("127.0.0.1", 1))
        carrier.datagramReceived(b"\0\0\x13\xc4" + b"\0" * 20, ("127.0.0.1", 1))
        self.assertEqual(carrier.dropped, 1)
        self.assertEqual(carrier.endpoints[5060].stats["drop_checksum"], 1)
        self.assertEqual((udp.written, events), ([], []))

    def test_stopCancelsTimer(self) -> None:
        """
        Stopping the protocol cancels the pending timer.
        """
        clock = task.Clock()
        carrier, _, _ = makeCarrier(clock)
        carrier.endpoints[5060].connect("127.0.0.1", 7000, 0.0)
        carrier.pump()
        carrier.doStop()
        self.assertEqual(clock.getDelayedCalls(), [])


class RealUDPTests(TestCase):
    """
    Two engines over real loopback UDP on this host.
    """

    timeout = 30

    @defer.inlineCallbacks
    def test_craftedInitOverUDP(self) -> Any:
        """
        A hand-made INIT sent from a plain UDP socket to the carrier's port
        is answered, to that socket's port, with an INIT-ACK carrying our
        tag, a valid CRC32c and a State Cookie.
        """
        import socket
        import struct

        from twisted_sctp.engine.crc32c import crc32cPure

        carrier = UDPCarrier(reactor, lambda ep, e: None)
        carrier.addEndpoint(Endpoint(5060, EngineConfig()))
        port = reactor.listenUDP(0, carrier, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(client.close)
        client.bind(("127.0.0.1", 0))
        client.setblocking(False)
        body = struct.pack("!HHII", 40000, 5060, 0, 0) + struct.pack("!BBHIIHHI", 1, 0, 20, 0xCAFEF00D, 65536, 5, 5, 77)
        client.sendto(body[:8] + struct.pack("<I", crc32cPure(body)) + body[12:], ("127.0.0.1", port.getHost().port))
        reply = None
        for _ in range(100):
            yield task.deferLater(reactor, 0.01, lambda: None)
            try:
                reply = client.recv(65536)
                break
            except BlockingIOError:
                continue
        assert reply is not None
        self.assertEqual(struct.unpack_from("<I", reply, 8)[0], crc32cPure(reply[:8] + bytes(4) + reply[12:]))
        packet = C.decodePacket(reply)
        self.assertEqual((packet.srcPort, packet.dstPort, packet.vtag), (5060, 40000, 0xCAFEF00D))
        [ack] = packet.chunks
        assert isinstance(ack, C.InitAckChunk)
        self.assertIsNotNone(ack.cookie)
        self.assertEqual(carrier.endpoints[5060].associations(), [])

    @defer.inlineCallbacks
    def test_messagesOverLoopback(self) -> Any:
        """
        An association over real UDP sockets: COMM_UP, a 100 KB message each
        way, then a graceful shutdown.
        """
        cfg = EngineConfig(rtoMin=0.05, rtoInitial=0.2, hbInterval=None)
        got: dict = {"a": [], "b": []}
        sides = {}
        for name, sctpPort in (("a", 5001), ("b", 5002)):
            carrier = UDPCarrier(reactor, lambda ep, e, name=name: got[name].append(e))  # type: ignore[misc]
            carrier.addEndpoint(Endpoint(sctpPort, cfg))
            port = reactor.listenUDP(0, carrier, interface="127.0.0.1")  # type: ignore[attr-defined]
            self.addCleanup(port.stopListening)
            sides[name] = (carrier, port)
        carrierA, _ = sides["a"]
        carrierB, portB = sides["b"]
        ep = carrierA.endpoints[5001]
        aid = ep.connect("127.0.0.1", 5002, carrierA.now(), udpPort=portB.getHost().port)
        big = bytes(range(256)) * 400
        ep.send(aid, big, carrierA.now())
        carrierA.pump()
        for _ in range(200):
            if any(isinstance(e, MessageReceived) for e in got["b"]):
                break
            yield task.deferLater(reactor, 0.02, lambda: None)
        [m] = [e for e in got["b"] if isinstance(e, MessageReceived)]
        self.assertEqual(m.data, big)
        bid = carrierB.endpoints[5002].associations()[0].assocID
        carrierB.endpoints[5002].send(bid, big[::-1], carrierB.now())
        carrierB.pump()
        for _ in range(200):
            if any(isinstance(e, MessageReceived) for e in got["a"]):
                break
            yield task.deferLater(reactor, 0.02, lambda: None)
        self.assertEqual([e.data for e in got["a"] if isinstance(e, MessageReceived)], [big[::-1]])
        ep.shutdown(aid, carrierA.now())
        carrierA.pump()
        for _ in range(200):
            if not ep.associations() and not carrierB.endpoints[5002].associations():
                break
            yield task.deferLater(reactor, 0.02, lambda: None)
        self.assertEqual(ep.associations(), [])
        self.assertTrue(any(isinstance(e, AssociationChanged) and e.change is AssocChange.SHUTDOWN_COMP for e in got["b"]))
