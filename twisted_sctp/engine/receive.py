# -*- test-case-name: tests.test_engine_data -*-
"""
The receiving half of an association: which TSNs arrived (cumulative ack,
gap blocks, duplicates), when a SACK is due (RFC 9260 section 6.2, delayed
SACK), reassembly of fragments and ordered/unordered delivery per stream
(section 6.5-6.9), and FORWARD-TSN (RFC 3758 section 3.6).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import attrs

from twisted_sctp.engine.chunks import (
    FLAG_BEGIN,
    FLAG_END,
    FLAG_IMMEDIATE,
    FLAG_UNORDERED,
    DataChunk,
    ForwardTSNChunk,
    SackChunk,
)
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.serial import unwrap, wire32

#: Received TSNs further ahead of the cumulative ack than this are dropped.
_MAX_AHEAD = 0xFFFF

#: What one held fragment costs against the receive window beyond its
#: payload, so that a flood of tiny fragments is bounded too.
_OVERHEAD = 64


@attrs.frozen
class Delivery:
    """
    One reassembled user message ready for the application.
    """

    data: bytes
    stream: int
    ppid: int
    unordered: bool


class Receiver:
    """
    Inbound DATA bookkeeping for one association.

    @ivar cumTSN: the cumulative TSN (unwrapped): every TSN up to it arrived.
    @ivar sackDeadline: when the delayed SACK must go, or C{None}.
    @ivar sackNow: a SACK must go with the next packet.
    """

    def __init__(self, peerInitialTSN: int, config: EngineConfig, inStreams: int) -> None:
        self._config = config
        self._inStreams = inStreams
        self.cumTSN = peerInitialTSN - 1
        self._received: Set[int] = set()
        self._fragments: Dict[int, DataChunk] = {}
        self._begin: Dict[int, int] = {}
        self._end: Dict[int, int] = {}
        self._held = 0
        self._duplicates: List[int] = []
        self._nextSSN: Dict[int, int] = {}
        self._pending: Dict[int, Dict[int, Delivery]] = {}
        self._pendingBytes = 0
        self._packets = 0
        self.sackDeadline: Optional[float] = None
        self.sackNow = False
        self.dropped = 0

    def _unwrap(self, tsn: int) -> int:
        return unwrap(tsn, self.cumTSN)

    @property
    def rwnd(self) -> int:
        """
        @return: the window to advertise: our buffer less what is held.
        """
        return max(0, self._config.rwnd - self._held - self._pendingBytes)

    def receiveData(self, chunk: DataChunk) -> List[Delivery]:
        """
        Take one DATA chunk.

        @return: the messages it completes, in delivery order.
        """
        tsn = self._unwrap(chunk.tsn)
        if chunk.flags & FLAG_IMMEDIATE:
            self.sackNow = True
        if tsn <= self.cumTSN or tsn in self._received:
            if len(self._duplicates) < self._config.maxDuplicatesReported:
                self._duplicates.append(chunk.tsn)
            self.sackNow = True
            return []
        if tsn - self.cumTSN > _MAX_AHEAD or (
            tsn != self.cumTSN + 1 and self._held + len(chunk.data) + _OVERHEAD > self._config.rwnd
        ):
            self.dropped += 1
            return []
        if chunk.stream >= self._inStreams:
            # Invalid stream: the TSN counts as received, the data is
            # discarded (section 6.5; the ERROR cause is not sent here).
            self._markReceived(tsn)
            return []
        self._markReceived(tsn)
        flags = chunk.flags
        if flags & (FLAG_BEGIN | FLAG_END) == FLAG_BEGIN | FLAG_END:
            # A whole message in one chunk: nothing to reassemble.
            return self._deliver(Delivery(chunk.data, chunk.stream, chunk.ppid, bool(flags & FLAG_UNORDERED)), chunk.ssn)
        self._fragments[tsn] = chunk
        self._held += len(chunk.data) + _OVERHEAD
        return self._reassemble(tsn)

    def _markReceived(self, tsn: int) -> None:
        if tsn == self.cumTSN + 1:
            self.cumTSN = tsn
            received = self._received
            while self.cumTSN + 1 in received:
                self.cumTSN += 1
                received.discard(self.cumTSN)
        else:
            self._received.add(tsn)
            self.sackNow = True  # out of order: report the gap at once

    def _joins(self, before: DataChunk, after: DataChunk) -> bool:
        """
        @return: whether two chunks with consecutive TSNs can belong to one
            message.
        """
        return (
            not before.flags & FLAG_END
            and not after.flags & FLAG_BEGIN
            and before.stream == after.stream
            and (before.flags & FLAG_UNORDERED) == (after.flags & FLAG_UNORDERED)
        )

    def _reassemble(self, tsn: int) -> List[Delivery]:
        """
        Reassembly in amortised constant time per fragment: every held
        fragment learns, once, the TSN of its message's first fragment
        (L{_begin}) and last fragment (L{_end}) as soon as a contiguous run
        reaches them; a message is complete when one fragment knows both.
        """
        frags, begin, end = self._fragments, self._begin, self._end
        chunk = frags[tsn]  # a fragment (whole messages never get here)
        prev, nxt = frags.get(tsn - 1), frags.get(tsn + 1)
        if chunk.flags & FLAG_BEGIN:
            begin[tsn] = tsn
        elif prev is not None and tsn - 1 in begin and self._joins(prev, chunk):
            begin[tsn] = begin[tsn - 1]
        if tsn in begin:
            u = tsn + 1
            while u in frags and u not in begin and self._joins(frags[u - 1], frags[u]):
                begin[u] = begin[tsn]
                u += 1
        if chunk.flags & FLAG_END:
            end[tsn] = tsn
        elif nxt is not None and tsn + 1 in end and self._joins(chunk, nxt):
            end[tsn] = end[tsn + 1]
        if tsn in end:
            u = tsn - 1
            while u in frags and u not in end and self._joins(frags[u], frags[u + 1]):
                end[u] = end[tsn]
                u -= 1
        if tsn not in begin or tsn not in end:
            return []
        first, last = begin[tsn], end[tsn]
        parts = []
        for t in range(first, last + 1):
            part = frags.pop(t, None)
            begin.pop(t, None)
            end.pop(t, None)
            if part is not None:
                parts.append(part)
        if len(parts) != last - first + 1:
            # Only a peer that split a message with FORWARD-TSN gets here.
            self._held -= sum(len(p.data) + _OVERHEAD for p in parts)
            self.dropped += 1
            return []
        data = b"".join(p.data for p in parts)
        self._held -= len(data) + _OVERHEAD * len(parts)
        head = parts[0]
        if len(data) > self._config.maxMessage:
            self.dropped += 1
            return []
        message = Delivery(data, head.stream, head.ppid, bool(head.flags & FLAG_UNORDERED))
        return self._deliver(message, head.ssn)

    def _deliver(self, message: Delivery, ssn: int) -> List[Delivery]:
        if message.unordered:
            return [message]
        stream = message.stream
        expected = self._nextSSN.get(stream, 0)
        seq = unwrap(ssn, expected, 16)
        if seq == expected and not self._pending.get(stream):
            # In sequence with nothing held on the stream: the common case.
            self._nextSSN[stream] = expected + 1
            return [message]
        if seq < expected:
            return []  # already skipped by a FORWARD-TSN
        pending = self._pending.setdefault(stream, {})
        pending[seq] = message
        self._pendingBytes += len(message.data)
        return self._drain(stream)

    def _drain(self, stream: int) -> List[Delivery]:
        pending = self._pending.get(stream, {})
        expected = self._nextSSN.get(stream, 0)
        out = []
        while expected in pending:
            m = pending.pop(expected)
            self._pendingBytes -= len(m.data)
            out.append(m)
            expected += 1
        self._nextSSN[stream] = expected
        return out

    def forwardTSN(self, chunk: ForwardTSNChunk) -> List[Delivery]:
        """
        Skip to the FORWARD-TSN's new cumulative TSN (RFC 3758 section 3.6).

        @return: messages released by the skip.
        """
        newCum = self._unwrap(chunk.newCumTSN)
        self.sackNow = True
        if newCum <= self.cumTSN:
            return []
        for tsn in [t for t in self._fragments if t <= newCum]:
            self._held -= len(self._fragments.pop(tsn).data) + _OVERHEAD
            self._begin.pop(tsn, None)
            self._end.pop(tsn, None)
        for tsn in [t for t, b in self._begin.items() if b <= newCum]:
            del self._begin[tsn]  # the message's start was skipped
        self._received = {t for t in self._received if t > newCum}
        self.cumTSN = newCum
        while self.cumTSN + 1 in self._received:
            self.cumTSN += 1
            self._received.discard(self.cumTSN)
        out: List[Delivery] = []
        for stream, ssn in chunk.streams:
            expected = self._nextSSN.get(stream, 0)
            skipped = unwrap(ssn, expected, 16)
            pending = self._pending.get(stream, {})
            # Deliver what was waiting up to the skipped number, then move on.
            for seq in sorted(s for s in pending if s <= skipped):
                m = pending.pop(seq)
                self._pendingBytes -= len(m.data)
                out.append(m)
            if skipped + 1 > expected:
                self._nextSSN[stream] = skipped + 1
            out.extend(self._drain(stream))
        return out

    def packetDone(self, now: float, hadData: bool) -> None:
        """
        Decide, after a packet's chunks, whether the SACK goes now or later.
        """
        if not hadData:
            return
        self._packets += 1
        if self._received:
            self.sackNow = True
        if self._packets >= self._config.sackFreq:
            self.sackNow = True
        if not self.sackNow and self.sackDeadline is None:
            self.sackDeadline = now + self._config.sackDelay

    def makeSack(self) -> SackChunk:
        """
        @return: a SACK for the current state; resets the SACK triggers and
            the duplicate list.
        """
        gaps: List[Tuple[int, int]] = []
        cum = self.cumTSN
        for tsn in sorted(self._received):
            off = tsn - cum
            if gaps and off == gaps[-1][1] + 1:
                gaps[-1] = (gaps[-1][0], off)
            else:
                if len(gaps) >= self._config.maxGapsReported:
                    break
                gaps.append((off, off))
        sack = SackChunk(wire32(cum), self.rwnd, tuple(gaps), tuple(self._duplicates))
        self._duplicates = []
        self._packets = 0
        self.sackNow = False
        self.sackDeadline = None
        return sack
