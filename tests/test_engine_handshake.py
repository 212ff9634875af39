"""
Tests for the engine's association set-up and tear-down: the stateless
INIT-ACK and its cookie, verification tags, out-of-the-blue packets,
collision and restart, shutdown and abort.
"""

from __future__ import annotations

import random
import struct
from typing import List

from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.engine import chunks as C
from twisted_sctp.engine.association import State
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.crc32c import crc32cPure
from twisted_sctp.engine.endpoint import Endpoint
from twisted_sctp.engine.errors import EngineUsageError
from twisted_sctp.engine.events import AssocChange, AssociationChanged, Event, MessageReceived, SendFailed
from twisted_sctp.engine.params import CauseCode, ErrorCause, StateCookieParam
from twisted_sctp.engine.testing import EnginePair


def crafted(vtag: int, chunk: bytes, src: int = 40000, dst: int = 5060) -> bytes:
    """
    A packet built by hand, CRC32c stored little-endian.
    """
    body = struct.pack("!HHII", src, dst, vtag, 0) + chunk
    return body[:8] + struct.pack("<I", crc32cPure(body)) + body[12:]


def rawInit(tag: int = 0x11223344, tsn: int = 1000) -> bytes:
    return struct.pack("!BBHIIHHI", 1, 0, 20, tag, 65536, 10, 10, tsn)


def changes(events: List[Event], change: AssocChange) -> List[AssociationChanged]:
    return [e for e in events if isinstance(e, AssociationChanged) and e.change is change]


class StatelessInitTests(SynchronousTestCase):
    """
    INIT is answered without keeping state (section 5.1).
    """

    def setUp(self) -> None:
        self.ep = Endpoint(5060, secret=b"s" * 32, rng=random.Random(3))

    def test_craftedInit(self) -> None:
        """
        A hand-made INIT gets an INIT-ACK to the sender's UDP port, tagged
        with the INIT's initiate tag, with a valid CRC32c and a state cookie,
        and no association exists yet.
        """
        self.ep.receiveDatagram(crafted(0, rawInit()), "127.0.0.1", 40001, 0.0)
        [(raw, host, port)] = self.ep.datagramsToSend()
        self.assertEqual((host, port), ("127.0.0.1", 40001))
        self.assertEqual(struct.unpack_from("<I", raw, 8)[0], crc32cPure(raw[:8] + bytes(4) + raw[12:]))
        packet = C.decodePacket(raw)
        self.assertEqual((packet.srcPort, packet.dstPort, packet.vtag), (5060, 40000, 0x11223344))
        [ack] = packet.chunks
        assert isinstance(ack, C.InitAckChunk)
        self.assertNotEqual(ack.initiateTag, 0)
        self.assertTrue(any(isinstance(p, StateCookieParam) for p in ack.params))
        self.assertEqual(self.ep.associations(), [])

    def test_initFlood(self) -> None:
        """
        Thousands of INITs from many ports leave no state behind.
        """
        for i in range(2000):
            self.ep.receiveDatagram(crafted(0, rawInit(i + 1), src=1024 + i), "127.0.0.1", 40001, 0.0)
        self.assertEqual(len(self.ep.datagramsToSend()), 2000)
        self.assertEqual(self.ep.associations(), [])
        self.assertEqual(self.ep.nextTimeout(), None)

    def test_badInits(self) -> None:
        """
        An INIT with a non-zero verification tag or a zero initiate tag is
        dropped and counted.
        """
        self.ep.receiveDatagram(crafted(7, rawInit()), "127.0.0.1", 40001, 0.0)
        self.ep.receiveDatagram(crafted(0, rawInit(tag=0)), "127.0.0.1", 40001, 0.0)
        self.assertEqual(self.ep.datagramsToSend(), [])
        self.assertEqual(self.ep.stats["drop_bad_init"], 2)

    def cookieFor(self, now: float = 0.0) -> tuple:
        self.ep.receiveDatagram(crafted(0, rawInit()), "127.0.0.1", 40001, now)
        [(raw, _, _)] = self.ep.datagramsToSend()
        ack = C.decodePacket(raw).chunks[0]
        assert isinstance(ack, C.InitAckChunk) and ack.cookie is not None
        return ack.initiateTag, ack.cookie

    def test_cookieEcho(self) -> None:
        """
        The echoed cookie creates the association: COOKIE-ACK, COMM_UP.
        """
        tag, cookie = self.cookieFor()
        echo = C.encodeChunk(C.CookieEchoChunk(cookie))
        self.ep.receiveDatagram(crafted(tag, echo), "127.0.0.1", 40001, 1.0)
        [(raw, _, _)] = self.ep.datagramsToSend()
        self.assertEqual(C.decodePacket(raw), C.Packet(5060, 40000, 0x11223344, (C.CookieAckChunk(),)))
        [a] = self.ep.associations()
        self.assertEqual((a.state, a.peer, a.myTag), (State.ESTABLISHED, ("127.0.0.1", 40000), tag))
        self.assertEqual(changes([self.ep.nextEvent()], AssocChange.COMM_UP)[0].peer, ("127.0.0.1", 40000))  # type: ignore[list-item]

    def test_forgedAndMisdirectedCookies(self) -> None:
        """
        A cookie changed in one byte, or echoed from another address or with
        another tag, creates nothing.
        """
        tag, cookie = self.cookieFor()
        forged = cookie[:-1] + bytes([cookie[-1] ^ 1])
        self.ep.receiveDatagram(crafted(tag, C.encodeChunk(C.CookieEchoChunk(forged))), "127.0.0.1", 40001, 1.0)
        self.ep.receiveDatagram(crafted(tag, C.encodeChunk(C.CookieEchoChunk(cookie))), "127.0.0.9", 40001, 1.0)
        self.ep.receiveDatagram(crafted(tag ^ 1, C.encodeChunk(C.CookieEchoChunk(cookie))), "127.0.0.1", 40001, 1.0)
        self.assertEqual(self.ep.associations(), [])
        self.assertEqual(self.ep.stats["drop_bad_cookie"], 3)

    def test_staleCookie(self) -> None:
        """
        A cookie older than its lifetime gets an ERROR with a Stale Cookie
        cause giving the staleness in microseconds.
        """
        tag, cookie = self.cookieFor(now=0.0)
        self.ep.receiveDatagram(crafted(tag, C.encodeChunk(C.CookieEchoChunk(cookie))), "127.0.0.1", 40001, 62.0)
        [(raw, _, _)] = self.ep.datagramsToSend()
        [err] = C.decodePacket(raw).chunks
        assert isinstance(err, C.ErrorChunk)
        self.assertEqual(err.causes[0].code, CauseCode.STALE_COOKIE)
        self.assertEqual(struct.unpack("!I", err.causes[0].value)[0], 2000000)
        self.assertEqual(self.ep.associations(), [])


class OutOfTheBlueTests(SynchronousTestCase):
    """
    Section 8.4.
    """

    def setUp(self) -> None:
        self.ep = Endpoint(5060, secret=b"s" * 32, rng=random.Random(3))

    def reply(self, chunk: bytes, vtag: int = 0xABCD) -> List[C.Packet]:
        self.ep.receiveDatagram(crafted(vtag, chunk), "127.0.0.1", 40001, 0.0)
        return [C.decodePacket(raw) for raw, _, _ in self.ep.datagramsToSend()]

    def test_dataGetsAbort(self) -> None:
        """
        DATA with no association: ABORT with the T bit and the packet's tag.
        """
        [p] = self.reply(C.encodeChunk(C.DataChunk(1, 0, 0, 0, b"x")))
        self.assertEqual(p, C.Packet(5060, 40000, 0xABCD, (C.AbortChunk((), C.FLAG_T),)))

    def test_shutdownAckGetsComplete(self) -> None:
        """
        SHUTDOWN-ACK: SHUTDOWN-COMPLETE with the T bit.
        """
        [p] = self.reply(C.encodeChunk(C.ShutdownAckChunk()))
        self.assertEqual(p.chunks, (C.ShutdownCompleteChunk(C.FLAG_T),))

    def test_silentOnes(self) -> None:
        """
        ABORT, SHUTDOWN-COMPLETE and ERROR are discarded silently.
        """
        for chunk in (C.AbortChunk(), C.ShutdownCompleteChunk(), C.ErrorChunk()):
            self.assertEqual(self.reply(C.encodeChunk(chunk)), [])
        self.assertEqual(self.ep.stats["out_of_the_blue"], 3)

    def test_garbage(self) -> None:
        """
        A bad checksum or a malformed packet is counted and dropped.
        """
        good = crafted(1, C.encodeChunk(C.CookieAckChunk()))
        self.ep.receiveDatagram(good[:-1] + b"\1", "127.0.0.1", 1, 0.0)
        self.ep.receiveDatagram(b"\0" * 5, "127.0.0.1", 1, 0.0)
        self.assertEqual((self.ep.stats["drop_checksum"], self.ep.stats["drop_malformed"]), (1, 1))
        self.assertEqual(self.ep.datagramsToSend(), [])


class LifecycleTests(SynchronousTestCase):
    """
    Two endpoints back to back.
    """

    def test_handshake(self) -> None:
        """
        Four packets, both sides ESTABLISHED, COMM_UP on both.
        """
        p = EnginePair()
        p.connect()
        self.assertEqual(p.sent, 4)
        self.assertEqual(len(changes(p.events["a"], AssocChange.COMM_UP)), 1)
        self.assertEqual(len(changes(p.events["b"], AssocChange.COMM_UP)), 1)
        self.assertEqual(p.a.associations()[0].peerTag, p.b.associations()[0].myTag)

    def test_badTagDropped(self) -> None:
        """
        A packet with the wrong verification tag on a live association is
        dropped and counted; the association carries on.
        """
        p = EnginePair()
        aid, bid = p.connect()
        b = p.b.associations()[0]
        bogus = C.encodePacket(C.Packet(5060, 5060, b.myTag ^ 0xFF, (C.AbortChunk(),)))
        p.b.receiveDatagram(bogus, "10.0.0.1", 9899, p.now)
        self.assertEqual(p.b.stats["drop_bad_vtag"], 1)
        p.a.send(aid, b"still here", p.now)
        p.run(lambda: any(isinstance(e, MessageReceived) for e in p.events["b"]))
        self.assertEqual(b.state, State.ESTABLISHED)

    def test_shutdownEachWay(self) -> None:
        """
        Either side's shutdown ends both with SHUTDOWN_COMP and no timers.
        """
        for side in ("a", "b"):
            p = EnginePair()
            ids = dict(zip("ab", p.connect()))
            p.endpoints[side].shutdown(ids[side], p.now)
            p.run()
            for name in "ab":
                self.assertEqual(len(changes(p.events[name], AssocChange.SHUTDOWN_COMP)), 1)
                self.assertEqual(p.endpoints[name].associations(), [])
                self.assertIsNone(p.endpoints[name].nextTimeout())

    def test_shutdownWaitsForData(self) -> None:
        """
        Data queued before the shutdown is delivered first.
        """
        p = EnginePair()
        aid, _ = p.connect()
        p.a.send(aid, b"x" * 50000, p.now)
        p.a.shutdown(aid, p.now)
        self.assertRaises(EngineUsageError, p.a.send, aid, b"late", p.now)
        p.run()
        [m] = [e for e in p.events["b"] if isinstance(e, MessageReceived)]
        self.assertEqual(len(m.data), 50000)
        self.assertEqual(len(changes(p.events["b"], AssocChange.SHUTDOWN_COMP)), 1)

    def test_abort(self) -> None:
        """
        ABORT ends both sides at once: local abort here, peer abort there.
        """
        p = EnginePair()
        aid, _ = p.connect()
        p.a.abort(aid, p.now, b"bye")
        p.run()
        self.assertEqual(changes(p.events["a"], AssocChange.COMM_LOST)[0].reason, "local abort")
        self.assertEqual(changes(p.events["b"], AssocChange.COMM_LOST)[0].reason, "peer abort")
        self.assertEqual(p.b.associations(), [])

    def test_initTimesOut(self) -> None:
        """
        INIT to nobody is retried max_init_retransmits times with back-off,
        then CANT_STR_ASSOC.
        """
        p = EnginePair(config=EngineConfig(maxInitRetransmits=3), policy=lambda data, src: [])
        p.a.connect("10.0.0.2", 5060, 0.0)
        p.run()
        self.assertEqual(p.sent, 4)
        [e] = changes(p.events["a"], AssocChange.CANT_STR_ASSOC)
        self.assertEqual(e.reason, "init failed")
        self.assertEqual(p.now, 1 + 2 + 4 + 8)

    def test_collision(self) -> None:
        """
        Both sides INIT at once: each ends with one established association.
        """
        p = EnginePair()
        p.a.connect("10.0.0.2", 5060, 0.0)
        p.b.connect("10.0.0.1", 5060, 0.0)
        p.run(limit=5)
        for name in "ab":
            [a] = p.endpoints[name].associations()
            self.assertEqual(a.state, State.ESTABLISHED)
            self.assertEqual(len(changes(p.events[name], AssocChange.COMM_UP)), 1)
        self.assertEqual(p.a.associations()[0].peerTag, p.b.associations()[0].myTag)
        self.assertEqual(p.b.associations()[0].peerTag, p.a.associations()[0].myTag)

    def test_peerRestart(self) -> None:
        """
        The peer loses its state and INITs again: the live association
        restarts (RESTART event, new tags, same id) and carries data.
        """
        p = EnginePair()
        aid, bid = p.connect()
        oldTag = p.b.associations()[0].myTag
        fresh = Endpoint(5060, secret=b"c" * 32, rng=random.Random(9), defaultUDPPort=9900)
        p.a = p.endpoints["a"] = fresh
        newID = fresh.connect("10.0.0.2", 5060, p.now)
        p.run(lambda: bool(fresh.associations()) and fresh.associations()[0].state is State.ESTABLISHED)
        [restart] = changes(p.events["b"], AssocChange.RESTART)
        self.assertEqual(restart.assocID, bid)
        [b] = p.b.associations()
        self.assertNotEqual(b.myTag, oldTag)
        fresh.send(newID, b"after restart", p.now)
        p.run(lambda: any(isinstance(e, MessageReceived) for e in p.events["b"]))
        self.assertEqual([e.data for e in p.events["b"] if isinstance(e, MessageReceived)], [b"after restart"])

    def test_unknownChunkReported(self) -> None:
        """
        An unknown chunk whose type says "skip and report" draws an ERROR
        with an Unrecognized Chunk Type cause.
        """
        p = EnginePair()
        p.connect()
        b = p.b.associations()[0]
        seen: List[C.Chunk] = []
        p.tap = lambda name, raw: seen.extend(C.decodePacket(raw).chunks) if name == "b" else None
        p.b.receiveDatagram(
            C.encodePacket(C.Packet(5060, 5060, b.myTag, (C.UnknownChunk(0xC7, b"zz"),))), "10.0.0.1", 9899, p.now
        )
        p.collect()
        [err] = [c for c in seen if isinstance(c, C.ErrorChunk)]
        self.assertEqual(err.causes[0].code, CauseCode.UNRECOGNIZED_CHUNK)

    def test_sendBeforeUp(self) -> None:
        """
        Messages sent while the handshake runs go once it completes; if it
        fails they are reported as SEND_FAILED.
        """
        p = EnginePair()
        aid = p.a.connect("10.0.0.2", 5060, 0.0)
        p.a.send(aid, b"early", 0.0, stream=1)
        p.run(lambda: any(isinstance(e, MessageReceived) for e in p.events["b"]))
        self.assertEqual([(e.data, e.stream) for e in p.events["b"] if isinstance(e, MessageReceived)], [(b"early", 1)])
        q = EnginePair(config=EngineConfig(maxInitRetransmits=1), policy=lambda data, src: [])
        qid = q.a.connect("10.0.0.2", 5060, 0.0)
        q.a.send(qid, b"never", 0.0)
        q.run()
        self.assertEqual([e.data for e in q.events["a"] if isinstance(e, SendFailed)], [b"never"])

    def test_invalidStream(self) -> None:
        """
        DATA on a stream beyond those negotiated draws an ERROR (Invalid
        Stream Identifier) and is not delivered, but its TSN is acked.
        """
        p = EnginePair()
        p.connect()
        b = p.b.associations()[0]
        seen: List[C.Chunk] = []
        p.tap = lambda name, raw: seen.extend(C.decodePacket(raw).chunks) if name == "b" else None
        bad = C.DataChunk(p.a.associations()[0].myTSN, 500, 0, 0, b"x")
        p.b.receiveDatagram(C.encodePacket(C.Packet(5060, 5060, b.myTag, (bad,))), "10.0.0.1", 9899, p.now)
        p.collect()
        [err] = [c for c in seen if isinstance(c, C.ErrorChunk)]
        self.assertEqual(err.causes[0], ErrorCause(CauseCode.INVALID_STREAM, b"\x01\xf4\0\0"))
        self.assertEqual([e for e in p.events["b"] if isinstance(e, MessageReceived)], [])

    def test_emptyData(self) -> None:
        """
        DATA without user data is answered with ABORT (No User Data, the
        TSN as its value) and ends the association.
        """
        p = EnginePair()
        p.connect()
        b = p.b.associations()[0]
        seen: List[C.Chunk] = []
        p.tap = lambda name, raw: seen.extend(C.decodePacket(raw).chunks) if name == "b" else None
        empty = C.DataChunk(1234, 0, 0, 0, b"")
        p.b.receiveDatagram(C.encodePacket(C.Packet(5060, 5060, b.myTag, (empty,))), "10.0.0.1", 9899, p.now)
        p.collect()
        [abort] = [c for c in seen if isinstance(c, C.AbortChunk)]
        self.assertEqual(abort.causes[0], ErrorCause(CauseCode.NO_USER_DATA, struct.pack("!I", 1234)))
        self.assertEqual(p.b.associations(), [])
        p.run()
        self.assertEqual(changes(p.events["a"], AssocChange.COMM_LOST)[0].reason, "peer abort")

    def test_closeEndpoint(self) -> None:
        """
        Closing an endpoint shuts every association down (or aborts them).
        """
        for graceful, expected in ((True, AssocChange.SHUTDOWN_COMP), (False, AssocChange.COMM_LOST)):
            p = EnginePair()
            p.connect()
            p.b.close(p.now, graceful=graceful)
            p.run()
            self.assertEqual([e.change for e in changes(p.events["a"], expected)], [expected])
            self.assertEqual((p.a.associations(), p.b.associations()), ([], []))
