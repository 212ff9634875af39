"""
Tests for the engine's data transfer: SACKs (delayed, gaps, duplicates),
RTO, retransmission, congestion control, fragmentation, ordered and
unordered delivery, PR-SCTP, heartbeats and association failure.
"""

from __future__ import annotations

import random
from typing import List, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.engine import chunks as C
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.errors import EngineUsageError
from twisted_sctp.engine.events import (
    AssocChange,
    AssociationChanged,
    MessageReceived,
    PeerAddressChanged,
    SendFailed,
)
from twisted_sctp.engine.receive import Receiver
from twisted_sctp.engine.rto import RTOEstimator
from twisted_sctp.engine.serial import unwrap
from twisted_sctp.engine.testing import EnginePair

FAST = EngineConfig(rtoMin=0.1, rtoInitial=0.5, rtoMax=5.0, hbInterval=None)
#: For heavy random loss: enough retries that giving up (COMM_LOST, a
#: correct outcome after ten straight losses) is vanishingly unlikely.
LOSSY = EngineConfig(
    rtoMin=0.1, rtoInitial=0.5, rtoMax=1.0, hbInterval=None, assocMaxRetrans=40, pathMaxRetrans=40, maxInitRetransmits=40
)


def received(pair: EnginePair, name: str) -> List[MessageReceived]:
    return [e for e in pair.events[name] if isinstance(e, MessageReceived)]


def data(tsn: int, payload: bytes = b"x", flags: int = C.FLAG_BEGIN | C.FLAG_END, stream: int = 0, ssn: int = 0) -> C.DataChunk:
    return C.DataChunk(tsn, stream, ssn, 0, payload, flags)


class SerialTests(SynchronousTestCase):
    """
    Serial number arithmetic.
    """

    def test_unwrap(self) -> None:
        """
        Values just past the wrap land after the reference, values just
        before it before.
        """
        self.assertEqual(unwrap(2, 0xFFFFFFFE), 0x100000002)
        self.assertEqual(unwrap(0xFFFFFFFF, 0x100000001), 0xFFFFFFFF)
        self.assertEqual(unwrap(5, 65534, 16), 65541)


class ReceiverTests(SynchronousTestCase):
    """
    The receiving half on its own.
    """

    def setUp(self) -> None:
        self.r = Receiver(100, EngineConfig(), 10)

    def test_gapsAndDuplicates(self) -> None:
        """
        Out-of-order TSNs appear as gap blocks (offsets from the cumulative
        ack), repeats as duplicates, and each asks for an immediate SACK.
        """
        for tsn in (100, 102, 103, 105, 100):
            self.r.receiveData(data(tsn))
        self.assertTrue(self.r.sackNow)
        sack = self.r.makeSack()
        self.assertEqual((sack.cumTSN, sack.gaps, sack.duplicates), (100, ((2, 3), (5, 5)), (100,)))
        self.r.receiveData(data(101))
        self.r.receiveData(data(104))
        self.assertEqual(self.r.makeSack().cumTSN, 105)

    def test_delayedSack(self) -> None:
        """
        In-order DATA waits up to sack_delay; the sack_freq-th packet does not.
        """
        r = Receiver(1, EngineConfig(sackDelay=0.2, sackFreq=2), 10)
        r.receiveData(data(1))
        r.packetDone(10.0, True)
        self.assertEqual((r.sackNow, r.sackDeadline), (False, 10.2))
        r.receiveData(data(2))
        r.packetDone(10.1, True)
        self.assertTrue(r.sackNow)
        self.assertEqual(r.makeSack().cumTSN, 2)
        self.assertIsNone(r.sackDeadline)

    def test_reassemblyAndOrder(self) -> None:
        """
        Fragments arriving out of order make one message; ordered messages
        wait for their predecessors, unordered ones do not.
        """
        out = []
        out += self.r.receiveData(data(102, b"c", C.FLAG_END, ssn=1))
        out += self.r.receiveData(data(103, b"u", C.FLAG_BEGIN | C.FLAG_END | C.FLAG_UNORDERED))
        out += self.r.receiveData(data(101, b"b", C.FLAG_BEGIN, ssn=1))
        self.assertEqual([m.data for m in out], [b"u"])
        out += self.r.receiveData(data(100, b"a", ssn=0))
        self.assertEqual([m.data for m in out], [b"u", b"a", b"bc"])

    def test_forwardTSN(self) -> None:
        """
        FORWARD-TSN moves the cumulative ack past abandoned TSNs and releases
        ordered messages held behind a skipped one.
        """
        out = self.r.receiveData(data(103, b"later", ssn=2))
        self.assertEqual(out, [])
        out = self.r.forwardTSN(C.ForwardTSNChunk(102, ((0, 1),)))
        self.assertEqual([m.data for m in out], [b"later"])
        self.assertEqual(self.r.makeSack().cumTSN, 103)

    def test_windowBound(self) -> None:
        """
        Beyond the receive window, out-of-order data is dropped, not held.
        """
        r = Receiver(1, EngineConfig(rwnd=4000), 10)
        for tsn in range(3, 10):
            r.receiveData(data(tsn, b"y" * 1000, C.FLAG_BEGIN))
        self.assertEqual(r.dropped, 4)
        self.assertEqual(r.rwnd, 4000 - 3 * (1000 + 64))

    def test_hostileFragments(self) -> None:
        """
        A long run of middle fragments (no first, no last) is held within
        the window and never delivered; adjacent messages are not merged
        across a last-fragment flag.
        """
        r = Receiver(1, EngineConfig(rwnd=100000), 10)
        out = []
        for tsn in range(2, 3000):
            out += r.receiveData(data(tsn, b"m", 0))
        self.assertEqual(out, [])
        self.assertLessEqual(r.rwnd, 100000)
        self.assertGreater(r.dropped, 0)
        s = Receiver(1, EngineConfig(), 10)
        got = s.receiveData(data(2, b"x", C.FLAG_END, ssn=0))
        got += s.receiveData(data(3, b"y", C.FLAG_END, ssn=1))
        got += s.receiveData(data(1, b"w", C.FLAG_BEGIN, ssn=0))
        self.assertEqual([m.data for m in got], [b"wx"])

    def test_forwardTSNSplitsMessage(self) -> None:
        """
        A FORWARD-TSN that skips the start of a partly received message
        leaves its tail undeliverable, without an error.
        """
        r = Receiver(1, EngineConfig(), 10)
        r.receiveData(data(2, b"a", C.FLAG_BEGIN))
        r.receiveData(data(4, b"c", C.FLAG_END))
        r.forwardTSN(C.ForwardTSNChunk(2, ()))
        self.assertEqual(r.receiveData(data(3, b"b", 0)), [])
        self.assertEqual(r.makeSack().cumTSN, 4)
        self.assertEqual(r.rwnd, EngineConfig().rwnd - 2 * (1 + 64))


class RTOTests(SynchronousTestCase):
    """
    Section 6.3.1.
    """

    def test_samples(self) -> None:
        """
        The first sample sets SRTT=R, RTTVAR=R/2; later ones smooth; the RTO
        stays within [rto_min, rto_max] and doubles on back-off.
        """
        e = RTOEstimator(EngineConfig(rtoMin=0.1, rtoInitial=1.0, rtoMax=2.0))
        self.assertEqual(e.rto, 1.0)
        e.sample(0.2)
        self.assertEqual((e.srtt, e.rttvar), (0.2, 0.1))
        self.assertAlmostEqual(e.rto, 0.6)
        e.sample(0.2)
        self.assertAlmostEqual(e.rttvar, 0.075)
        self.assertAlmostEqual(e.rto, 0.5)
        for _ in range(5):
            e.backOff()
        self.assertEqual(e.rto, 2.0)
        e.sample(0.001)
        e.sample(0.001)
        self.assertGreaterEqual(e.rto, 0.1)


class TransferTests(SynchronousTestCase):
    """
    Two engines back to back.
    """

    def test_fragmentation(self) -> None:
        """
        A 200 KB message crosses as MTU-sized packets and arrives whole with
        its stream and PPID.
        """
        p = EnginePair(FAST)
        sizes: List[int] = []
        p.tap = lambda name, raw: sizes.append(len(raw))
        aid, _ = p.connect()
        payload = bytes(random.Random(1).getrandbits(8) for _ in range(200000))
        p.a.send(aid, payload, p.now, stream=3, ppid=42)
        p.run(lambda: bool(received(p, "b")))
        [m] = received(p, "b")
        self.assertEqual((m.data, m.stream, m.ppid, m.unordered), (payload, 3, 42, False))
        self.assertLessEqual(max(sizes), FAST.mtu)

    def test_bundling(self) -> None:
        """
        Messages sent with C{flush=False} wait for L{Endpoint.flushPending}
        and then share packets up to the mtu: twenty 1 KB messages with an
        mtu of 9000 go as packets of several DATA chunks, none over the mtu,
        and arrive in order.
        """
        config = EngineConfig(mtu=9000, hbInterval=None)
        p = EnginePair(config)
        chunksPerPacket: List[int] = []
        sizes: List[int] = []

        def tap(name: str, raw: bytes) -> None:
            if name == "a":
                sizes.append(len(raw))
                chunksPerPacket.append(sum(isinstance(c, C.DataChunk) for c in C.decodePacket(raw).chunks))

        p.tap = tap
        aid, _ = p.connect()
        messages = [bytes([i]) * 1024 for i in range(20)]
        for m in messages:
            p.a.send(aid, m, p.now, flush=False)
        self.assertEqual(p.a.datagramsToSend(), [])
        p.a.flushPending(p.now)
        p.run(lambda: len(received(p, "b")) == 20)
        self.assertEqual([m.data for m in received(p, "b")], messages)
        self.assertGreater(max(chunksPerPacket), 4)
        self.assertLessEqual(max(sizes), 9000)
        self.assertRaises(ValueError, EngineConfig, mtu=65508)

    def test_limits(self) -> None:
        """
        A message over maxMessage, or on a stream the peer did not grant,
        is refused at once.
        """
        p = EnginePair(EngineConfig(maxMessage=1000, outStreams=2, hbInterval=None))
        aid, _ = p.connect()
        self.assertRaises(EngineUsageError, p.a.send, aid, b"x" * 1001, p.now)
        self.assertRaises(EngineUsageError, p.a.send, aid, b"x", p.now, stream=2)
        self.assertRaises(EngineUsageError, p.a.send, 99, b"x", p.now)

    def test_fastRetransmit(self) -> None:
        """
        One lost DATA packet among many is repaired by fast retransmit (three
        miss indications) without a T3 timeout; cwnd is halved, not collapsed.
        """
        state = {"n": 0}

        def dropFifthData(raw: bytes, src: str) -> List[float]:
            if src == "a" and any(isinstance(c, C.DataChunk) for c in C.decodePacket(raw).chunks):
                state["n"] += 1
                if state["n"] == 5:
                    return []
            return [0.01]

        p = EnginePair(FAST, policy=dropFifthData)
        aid, _ = p.connect()
        for i in range(40):
            p.a.send(aid, b"%d" % i * 300, p.now)
        p.run(lambda: len(received(p, "b")) == 40)
        s = p.a.associations()[0].sender
        assert s is not None
        self.assertEqual((s.fastRetransmissions, s.t3Expiries), (1, 0))
        self.assertEqual([m.data for m in received(p, "b")], [b"%d" % i * 300 for i in range(40)])
        self.assertGreaterEqual(s.ssthresh, 4 * FAST.mtu)

    def test_t3Timeout(self) -> None:
        """
        With the path silent, T3 fires, the RTO backs off and cwnd drops to
        one MTU; the data still arrives once the path returns.
        """
        state = {"down": True}
        p = EnginePair(FAST, policy=lambda raw, src: [] if state["down"] else [0.01])
        state["down"] = False
        aid, _ = p.connect()
        s = p.a.associations()[0].sender
        assert s is not None
        rtoBefore = s.rto.rto
        state["down"] = True
        p.a.send(aid, b"z" * 5000, p.now)
        p.run(limit=p.now + 1.0)
        self.assertGreaterEqual(s.t3Expiries, 1)
        self.assertEqual(s.cwnd, FAST.mtu)
        self.assertGreater(s.rto.rto, rtoBefore)
        state["down"] = False
        p.run(lambda: bool(received(p, "b")), limit=p.now + 30)
        self.assertEqual(received(p, "b")[0].data, b"z" * 5000)

    def test_slowStart(self) -> None:
        """
        cwnd grows from its initial value while data flows without loss.
        """
        p = EnginePair(FAST)
        aid, _ = p.connect()
        s = p.a.associations()[0].sender
        assert s is not None
        initial = s.cwnd
        for i in range(200):
            p.a.send(aid, b"w" * 1000, p.now)
        p.run(lambda: len(received(p, "b")) == 200)
        self.assertGreater(s.cwnd, initial)

    def test_prsctp(self) -> None:
        """
        Messages with a lifetime that cannot be delivered in time are
        abandoned (SEND_FAILED), FORWARD-TSN moves the peer on, and later
        messages on the same ordered stream arrive.
        """
        state = {"down": False}
        p = EnginePair(FAST, policy=lambda raw, src: [] if state["down"] and src == "a" else [0.01])
        aid, _ = p.connect()
        state["down"] = True
        for i in range(3):
            p.a.send(aid, b"doomed%d" % i, p.now, ttl=0.3)
        p.run(limit=p.now + 0.5)
        state["down"] = False
        p.a.send(aid, b"survivor", p.now)
        p.run(lambda: bool(received(p, "b")), limit=p.now + 30)
        failed = [e for e in p.events["a"] if isinstance(e, SendFailed)]
        self.assertEqual(sorted(e.data for e in failed), [b"doomed0", b"doomed1", b"doomed2"])
        self.assertEqual([m.data for m in received(p, "b")], [b"survivor"])

    def test_lostForwardTSN(self) -> None:
        """
        The first FORWARD-TSN is lost: T3 sends it again, the peer catches
        up, and a shutdown afterwards completes.
        """
        state = {"down": False, "dropFTSN": 1}

        def policy(raw: bytes, src: str) -> List[float]:
            if state["down"] and src == "a":
                return []
            if src == "a" and state["dropFTSN"] and any(c.TYPE == C.ChunkType.FORWARD_TSN for c in C.decodePacket(raw).chunks):
                state["dropFTSN"] -= 1
                return []
            return [0.01]

        p = EnginePair(FAST, policy=policy)
        aid, _ = p.connect()
        state["down"] = True
        p.a.send(aid, b"short-lived", p.now, ttl=0.2)
        p.run(limit=p.now + 0.3)
        state["down"] = False
        p.run(lambda: p.b.associations()[0].receiver.cumTSN == p.a.associations()[0].sender.advancedPeerAck, limit=p.now + 30)  # type: ignore[union-attr]
        self.assertEqual(state["dropFTSN"], 0)
        p.a.shutdown(aid, p.now)
        p.run(limit=p.now + 30)
        self.assertEqual((p.a.associations(), p.b.associations()), ([], []))
        self.assertTrue(any(isinstance(e, AssociationChanged) and e.change is AssocChange.SHUTDOWN_COMP for e in p.events["a"]))

    def test_heartbeatsAndCommLost(self) -> None:
        """
        An idle association exchanges heartbeats; when the peer goes silent,
        heartbeat misses make the path unreachable after pathmaxrxt and the
        association lost after asocmaxrxt.
        """
        state = {"down": False}
        beats: List[str] = []

        def tap(name: str, raw: bytes) -> None:
            for c in C.decodePacket(raw).chunks:
                if c.TYPE in (C.ChunkType.HEARTBEAT, C.ChunkType.HEARTBEAT_ACK):
                    beats.append("%s:%s" % (name, type(c).__name__))

        cfg = EngineConfig(rtoMin=0.1, rtoInitial=0.5, rtoMax=1.0, hbInterval=1.0, pathMaxRetrans=2, assocMaxRetrans=4)
        p = EnginePair(cfg, policy=lambda raw, src: [] if state["down"] else [0.01])
        p.tap = tap
        p.connect()
        p.run(limit=p.now + 5)
        self.assertIn("a:HeartbeatChunk", beats)
        self.assertIn("b:HeartbeatAckChunk", beats)
        state["down"] = True
        p.run(limit=p.now + 60)
        unreachable = [e for e in p.events["a"] if isinstance(e, PeerAddressChanged) and not e.reachable]
        self.assertEqual(len(unreachable), 1)
        [lost] = [e for e in p.events["a"] if isinstance(e, AssociationChanged) and e.change is AssocChange.COMM_LOST]
        self.assertEqual(lost.reason, "retransmissions exceeded")
        self.assertEqual(p.a.associations(), [])

    def test_dataCommLost(self) -> None:
        """
        Unacknowledged data past asocmaxrxt T3 expiries ends the association
        with COMM_LOST and SEND_FAILED for the message.
        """
        cfg = EngineConfig(rtoMin=0.1, rtoInitial=0.2, rtoMax=0.4, hbInterval=None, assocMaxRetrans=3)
        state = {"down": False}
        p = EnginePair(cfg, policy=lambda raw, src: [] if state["down"] else [0.01])
        aid, _ = p.connect()
        state["down"] = True
        p.a.send(aid, b"lost", p.now)
        p.run(limit=p.now + 30)
        s = [e for e in p.events["a"] if isinstance(e, SendFailed)]
        self.assertEqual([e.data for e in s], [b"lost"])
        self.assertTrue(any(isinstance(e, AssociationChanged) and e.change is AssocChange.COMM_LOST for e in p.events["a"]))


Messages = List[Tuple[int, int, bool]]


class LossyNetworkTests(SynchronousTestCase):
    """
    Hypothesis drives loss, duplication and reordering.
    """

    @settings(max_examples=25, deadline=None)
    @given(
        st.integers(0, 2**32 - 1),
        st.floats(0.0, 0.3),
        st.floats(0.0, 0.2),
        st.floats(0.0, 0.05),
        st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 3), st.booleans()), min_size=1, max_size=40),
    )
    def test_exactlyOnceInOrder(self, seed: int, loss: float, dup: float, jitter: float, messages: Messages) -> None:
        """
        Every message arrives exactly once, both ways; ordered messages of a
        stream in the order sent.
        """
        r = random.Random(seed)

        def policy(raw: bytes, src: str) -> List[float]:
            if r.random() < loss:
                return []
            delays = [0.001 + r.random() * jitter]
            if r.random() < dup:
                delays.append(0.001 + r.random() * jitter)
            return delays

        p = EnginePair(LOSSY, policy=policy, seed=seed)
        aid, bid = p.connect()
        sent = {"a": [], "b": []}  # type: dict[str, list[tuple[bytes, int, bool]]]
        for i, (size, stream, unordered) in enumerate(messages):
            for name, ep, assoc in (("a", p.a, aid), ("b", p.b, bid)):
                payload = (b"%s%d." % (name.encode(), i)) * (size // 4 + 1)
                ep.send(assoc, payload, p.now, stream=stream, unordered=unordered)
                sent[name].append((payload, stream, unordered))
        n = len(messages)
        p.run(lambda: len(received(p, "a")) >= n and len(received(p, "b")) >= n, limit=p.now + 3000)
        for src, dst in (("a", "b"), ("b", "a")):
            got = received(p, dst)
            self.assertEqual(sorted(m.data for m in got), sorted(s[0] for s in sent[src]))
            for stream in range(4):
                ordered = [m.data for m in got if m.stream == stream and not m.unordered]
                expected = [s[0] for s in sent[src] if s[1] == stream and not s[2]]
                self.assertEqual(ordered, expected)

    @settings(max_examples=25, deadline=None)
    @given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.35), st.integers(1, 20))
    def test_wholeLifeUnderLoss(self, seed: int, loss: float, count: int) -> None:
        """
        Handshake, data and shutdown all under loss: every message arrives
        once and in order, and both sides end with SHUTDOWN_COMP and no
        timers left.
        """
        r = random.Random(seed)
        p = EnginePair(LOSSY, policy=lambda raw, src: [] if r.random() < loss else [0.001 + r.random() * 0.01], seed=seed)
        aid = p.a.connect("10.0.0.2", 5060, 0.0)
        payloads = [b"m%d-" % i * (i * 97 % 3000 + 1) for i in range(count)]
        for m in payloads:
            p.a.send(aid, m, 0.0)
        p.a.shutdown(aid, 0.0)
        p.run(limit=3000)
        self.assertEqual([m.data for m in received(p, "b")], payloads)
        ends = {
            name: [(e.change, e.reason) for e in p.events[name] if isinstance(e, AssociationChanged) and e.change is not AssocChange.COMM_UP]
            for name in "ab"
        }
        self.assertEqual(ends["a"], [(AssocChange.SHUTDOWN_COMP, "shutdown")])
        # A SACK that b sent before its SHUTDOWN-ACK but that arrives after
        # it finds a closed: section 8.4 answers it with ABORT, which b, in
        # SHUTDOWN-ACK-SENT, may see before the SHUTDOWN-COMPLETE.
        self.assertIn(ends["b"], ([(AssocChange.SHUTDOWN_COMP, "shutdown")], [(AssocChange.COMM_LOST, "peer abort")]))
        for name in "ab":
            self.assertIsNone(p.endpoints[name].nextTimeout())
