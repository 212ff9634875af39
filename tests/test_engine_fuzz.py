"""
Arbitrary packets thrown at live engine endpoints: every one is handled or
counted, none raises, and state stays bounded.
"""

from __future__ import annotations

from typing import List

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.engine import chunks as C
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.testing import EnginePair
from tests.test_engine_codec import chunkStrategy


class EndpointFuzzTests(SynchronousTestCase):
    """
    Garbage in, no traceback out.
    """

    @settings(max_examples=300, deadline=None)
    @given(st.lists(chunkStrategy, min_size=1, max_size=4), st.booleans(), st.integers(0, 3), st.booleans())
    def test_chunksOnLiveAssociation(self, chunks: List[C.Chunk], rightTag: bool, port: int, toA: bool) -> None:
        """
        Any chunks, with the right tag or not, to either side of a live
        association: nothing raises, and the engines can still run their
        timers to the end.
        """
        p = EnginePair(EngineConfig(rtoMin=0.1, rtoInitial=0.2, rtoMax=0.5, hbInterval=1.0, assocMaxRetrans=3))
        p.connect()
        target, source = (p.a, "10.0.0.2") if toA else (p.b, "10.0.0.1")
        assocs = target.associations()
        vtag = assocs[0].myTag if rightTag and assocs else 12345
        srcPort = (5060, 5061, 1, 65535)[port]
        packet = C.encodePacket(C.Packet(srcPort, 5060, vtag, tuple(chunks)))
        target.receiveDatagram(packet, source, 9899, p.now)
        p.run(limit=p.now + 30)

    @settings(max_examples=300, deadline=None)
    @given(st.binary(min_size=12, max_size=300))
    def test_rawBytes(self, data: bytes) -> None:
        """
        Random bytes with a correct CRC32c (so they reach the chunk parser
        and the state machine) are handled or counted.
        """
        p = EnginePair()
        p.connect()
        raw = C.encodeRaw(5060, 5060, p.b.associations()[0].myTag, [data[12:]])
        p.b.receiveDatagram(raw, "10.0.0.1", 9899, p.now)
        p.b.receiveDatagram(data, "10.0.0.1", 9899, p.now)
        p.run(limit=p.now + 5)

    def test_badTagFlood(self) -> None:
        """
        Ten thousand packets with wrong tags: all counted, no state grows.
        """
        p = EnginePair()
        p.connect()
        for i in range(10000):
            raw = C.encodePacket(C.Packet(5060, 5060, i + 1, (C.DataChunk(i, 0, 0, 0, b"x" * 100),)))
            p.b.receiveDatagram(raw, "10.0.0.1", 9899, p.now)
        self.assertEqual(p.b.stats["drop_bad_vtag"], 10000)
        self.assertEqual(len(p.b.associations()), 1)
        self.assertEqual(p.b.datagramsToSend(), [])
