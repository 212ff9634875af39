# -*- test-case-name: tests.test_engine_data -*-
"""
The sending half of an association: TSN assignment and fragmentation, SACK
processing, T3-rtx and fast retransmission, congestion control (RFC 9260
sections 6 and 7) and PR-SCTP abandonment with FORWARD-TSN (RFC 3758).
"""

from __future__ import annotations

import heapq
from collections import deque
from itertools import count
from typing import Deque, Dict, List, Optional, Set, Tuple, Union

import attrs

from twisted_sctp.engine.chunks import (
    FLAG_BEGIN,
    FLAG_END,
    FLAG_UNORDERED,
    DataChunk,
    ForwardTSNChunk,
    SackChunk,
)
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.rto import RTOEstimator
from twisted_sctp.engine.serial import unwrap, wire16, wire32

#: Common header + DATA chunk header.
DATA_OVERHEAD = 12 + 16


@attrs.define(eq=False)
class OutMessage:
    """
    One user message being sent.
    """

    data: bytes
    stream: int
    ppid: int
    expires: Optional[float]
    parts: int = 0
    firstTSN: int = 0
    acked: int = 0
    abandoned: bool = False


@attrs.define(eq=False)
class OutChunk:
    """
    One DATA chunk of ours, from queueing until the peer's cumulative ack
    passes it.
    """

    tsn: int
    chunk: DataChunk
    message: OutMessage
    #: The user bytes it carries.
    size: int = 0
    sent: int = 0
    sentAt: float = 0.0
    inFlight: bool = False
    acked: bool = False
    misses: int = 0
    retransmit: bool = False
    fastRetransmit: bool = False
    fastDone: bool = False


class Sender:
    """
    Outbound DATA bookkeeping for one association (one path).

    @ivar cumAck: the peer's cumulative TSN ack of our TSNs, unwrapped.
    @ivar t3Deadline: when the retransmission timer expires, or C{None}.
    """

    def __init__(
        self,
        myInitialTSN: int,
        peerRwnd: int,
        config: EngineConfig,
        peerForwardTSN: bool,
        outStreams: int,
        rto: RTOEstimator,
    ) -> None:
        self._config = config
        self._mtu = config.mtu
        self._maxPayload = config.mtu - DATA_OVERHEAD
        self.peerForwardTSN = peerForwardTSN
        self.outStreams = outStreams
        self.rto = rto
        self.nextTSN = myInitialTSN
        self.cumAck = myInitialTSN - 1
        self.advancedPeerAck = self.cumAck
        self._chunks: Deque[OutChunk] = deque()
        self._unsentTSN = myInitialTSN
        self._ssn: Dict[int, int] = {}
        self._rtx: List[OutChunk] = []
        self._gapAcked: Set[int] = set()
        self._queued = 0
        #: (expires, order, message) for every message with a lifetime
        #: not yet abandoned; popped when it expires (acknowledged or not).
        self._expiries: List[Tuple[float, int, OutMessage]] = []
        self._order = count()
        self.peerRwnd = peerRwnd
        self.cwnd = min(4 * self._mtu, max(2 * self._mtu, 4380))
        self.ssthresh = peerRwnd
        self.partialBytesAcked = 0
        self.flightSize = 0
        self.fastRecoveryExit: Optional[int] = None
        self.t3Deadline: Optional[float] = None
        self.forwardTSNDue = False
        self._rttTSN: Optional[int] = None
        self._rttSentAt = 0.0
        self.retransmissions = 0
        self.fastRetransmissions = 0
        self.t3Expiries = 0

    @property
    def idle(self) -> bool:
        """
        @return: whether everything we queued is acknowledged (or abandoned
            and skipped).
        """
        return not self._chunks

    @property
    def queuedBytes(self) -> int:
        """
        @return: user bytes queued or not yet acknowledged.
        """
        return self._queued

    def enqueue(
        self, data: bytes, stream: int, ppid: int, unordered: bool, ttl: Optional[float], now: float
    ) -> None:
        """
        Fragment one user message and give its chunks TSNs.
        """
        expires = now + ttl if ttl is not None and self.peerForwardTSN else None
        message = OutMessage(data, stream, ppid, expires, firstTSN=self.nextTSN)
        if expires is not None:
            heapq.heappush(self._expiries, (expires, next(self._order), message))
        if unordered:
            ssn = 0
            base = FLAG_UNORDERED
        else:
            ssn = self._ssn.get(stream, 0)
            self._ssn[stream] = ssn + 1
            base = 0
        step = self._maxPayload
        chunks = self._chunks
        if len(data) <= step:
            # The common case: one chunk, no slicing.
            message.parts = 1
            tsn = self.nextTSN
            self.nextTSN = tsn + 1
            chunk = DataChunk(tsn & 0xFFFFFFFF, stream, ssn & 0xFFFF, ppid, data, base | FLAG_BEGIN | FLAG_END)
            chunks.append(OutChunk(tsn, chunk, message, len(data)))
            self._queued += len(data)
            return
        pieces = [data[i : i + step] for i in range(0, len(data), step)]
        message.parts = len(pieces)
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            flags = base | (FLAG_BEGIN if i == 0 else 0) | (FLAG_END if i == last else 0)
            tsn = self.nextTSN
            self.nextTSN += 1
            chunk = DataChunk(wire32(tsn), stream, wire16(ssn), ppid, piece, flags)
            chunks.append(OutChunk(tsn, chunk, message, len(piece)))
        self._queued += len(data)

    def _at(self, tsn: int) -> Optional[OutChunk]:
        if not self._chunks:
            return None
        i = tsn - self._chunks[0].tsn
        if 0 <= i < len(self._chunks):
            return self._chunks[i]
        return None

    def _leaveFlight(self, c: OutChunk) -> None:
        if c.inFlight:
            c.inFlight = False
            self.flightSize -= c.size

    def _ackOne(self, c: OutChunk, now: float) -> int:
        if c.acked:
            return 0
        c.acked = True
        c.message.acked += 1
        self._leaveFlight(c)
        c.retransmit = c.fastRetransmit = False
        if self._rttTSN == c.tsn:
            if c.sent == 1:
                self.rto.sample(now - self._rttSentAt)
            self._rttTSN = None
        return c.size

    def handleSack(self, sack: SackChunk, now: float) -> Tuple[bool, List[OutMessage]]:
        """
        Process a SACK (section 6.2.1 and 7.2).

        @return: whether the cumulative ack advanced, and the messages
            abandoned meanwhile (PR-SCTP).
        """
        cum = unwrap(sack.cumTSN, self.cumAck)
        if cum < self.cumAck or cum >= self.nextTSN:
            return False, []  # out of date, or acks what we never sent
        advanced = cum > self.cumAck
        flightBefore = self.flightSize
        bytesAcked = 0
        highestNew: Optional[int] = None
        while self._chunks and self._chunks[0].tsn <= cum:
            c = self._chunks.popleft()
            self._queued -= c.size
            if not c.acked:
                bytesAcked += self._ackOne(c, now)
                highestNew = c.tsn
        self.cumAck = cum
        if self.advancedPeerAck < cum:
            self.advancedPeerAck = cum
        if self._unsentTSN <= cum:
            self._unsentTSN = cum + 1
        gapAcked: Set[int] = set()
        for start, end in sack.gaps:
            if start > end or start < 1:
                continue
            for tsn in range(cum + start, min(cum + end, self.nextTSN - 1) + 1):
                g = self._at(tsn)
                if g is None or g.sent == 0:
                    continue
                c = g
                gapAcked.add(tsn)
                if not c.acked:
                    bytesAcked += self._ackOne(c, now)
                    highestNew = tsn
        for tsn in self._gapAcked - gapAcked:
            r = self._at(tsn)
            if r is not None and r.acked:
                # Revoked (the peer reneged): send it again.
                r.acked = False
                r.message.acked -= 1
                self._markRetransmit(r)
        self._gapAcked = gapAcked
        if highestNew is not None:
            self._missIndications(highestNew)
        if self.fastRecoveryExit is not None and cum >= self.fastRecoveryExit:
            self.fastRecoveryExit = None
        if advanced:
            self._growCwnd(bytesAcked, flightBefore)
        self.peerRwnd = max(0, sack.rwnd - self.flightSize)
        abandoned = self.abandonExpired(now)
        if self.advancedPeerAck > self.cumAck:
            self.forwardTSNDue = True
        if self.flightSize == 0 and self.advancedPeerAck <= self.cumAck:
            self.t3Deadline = None
        elif advanced:
            self.t3Deadline = now + self.rto.rto
        return advanced, abandoned

    def _growCwnd(self, bytesAcked: int, flightBefore: int) -> None:
        if self.fastRecoveryExit is not None:
            return
        if self.cwnd <= self.ssthresh:
            if flightBefore >= self.cwnd - self._mtu:
                self.cwnd += min(bytesAcked, self._mtu)
        else:
            self.partialBytesAcked += bytesAcked
            if self.partialBytesAcked >= self.cwnd and flightBefore >= self.cwnd - self._mtu:
                self.partialBytesAcked -= self.cwnd
                self.cwnd += self._mtu
        if self.flightSize == 0:
            self.partialBytesAcked = 0

    def _missIndications(self, highestNew: int) -> None:
        for c in self._chunks:
            if c.tsn >= highestNew:
                break
            if c.acked or c.sent == 0 or c.fastDone or c.message.abandoned:
                continue
            c.misses += 1
            if c.misses >= 3:
                c.fastRetransmit = True
                c.fastDone = True
                self._markRetransmit(c)
                if self.fastRecoveryExit is None:
                    self.ssthresh = max(self.cwnd // 2, 4 * self._mtu)
                    self.cwnd = self.ssthresh
                    self.partialBytesAcked = 0
                    self.fastRecoveryExit = self.nextTSN - 1

    def _markRetransmit(self, c: OutChunk) -> None:
        self._leaveFlight(c)
        if not c.retransmit:
            c.retransmit = True
            self._rtx.append(c)
        if self._rttTSN == c.tsn:
            self._rttTSN = None

    def onT3(self, now: float) -> List[OutMessage]:
        """
        The retransmission timer expired (section 6.3.3): back off, collapse
        the window, and mark everything outstanding for retransmission.

        @return: messages abandoned meanwhile.
        """
        self.t3Expiries += 1
        self.rto.backOff()
        self.ssthresh = max(self.cwnd // 2, 4 * self._mtu)
        self.cwnd = self._mtu
        self.partialBytesAcked = 0
        self.fastRecoveryExit = None
        for c in self._chunks:
            if c.sent and not c.acked and not c.message.abandoned:
                self._markRetransmit(c)
        abandoned = self.abandonExpired(now)
        if self.advancedPeerAck > self.cumAck:
            self.forwardTSNDue = True
        self.t3Deadline = None
        return abandoned

    def abandonExpired(self, now: float) -> List[OutMessage]:
        """
        Abandon every message whose lifetime passed and that is not fully
        acknowledged (RFC 3758 section 3.5), and move the advanced peer ack
        point over abandoned chunks.

        @return: the messages newly abandoned.
        """
        out: List[OutMessage] = []
        expiries = self._expiries
        while expiries and now >= expiries[0][0]:
            m = heapq.heappop(expiries)[2]
            if m.abandoned or m.acked >= m.parts:
                continue
            m.abandoned = True
            out.append(m)
            for tsn in range(m.firstTSN, m.firstTSN + m.parts):
                c = self._at(tsn)
                if c is not None:
                    self._leaveFlight(c)
                    c.retransmit = False
        while True:
            nxt = self._at(self.advancedPeerAck + 1)
            if nxt is None or not nxt.message.abandoned:
                break
            self.advancedPeerAck += 1
        if self._unsentTSN <= self.advancedPeerAck:
            self._unsentTSN = self.advancedPeerAck + 1
        return out

    def forwardTSN(self) -> ForwardTSNChunk:
        """
        @return: the FORWARD-TSN for the current advanced peer ack point.
        """
        self.forwardTSNDue = False
        streams: Dict[int, int] = {}
        for tsn in range(self.cumAck + 1, self.advancedPeerAck + 1):
            c = self._at(tsn)
            if c is not None and c.message.abandoned and not c.chunk.flags & FLAG_UNORDERED:
                streams[c.chunk.stream] = c.chunk.ssn
        return ForwardTSNChunk(wire32(self.advancedPeerAck), tuple(sorted(streams.items())))

    def _send(self, c: OutChunk, now: float, out: List[DataChunk]) -> None:
        if c.sent == 0 and self._rttTSN is None:
            self._rttTSN = c.tsn
            self._rttSentAt = now
        elif c.sent:
            self.retransmissions += 1
        c.sent += 1
        c.sentAt = now
        c.inFlight = True
        self.flightSize += c.size
        self.peerRwnd = max(0, self.peerRwnd - c.size)
        out.append(c.chunk)
        if self.t3Deadline is None:
            self.t3Deadline = now + self.rto.rto

    def transmit(self, now: float) -> List[DataChunk]:
        """
        @return: the DATA chunks that may go now: fast retransmissions (one
            packet's worth, regardless of cwnd), then other retransmissions
            and new data while cwnd, the peer's window and max burst allow.
        """
        if self._expiries and now >= self._expiries[0][0]:
            self.abandonExpired(now)
        out: List[DataChunk] = []
        if self._rtx:
            pending = sorted(
                (c for c in self._rtx if c.retransmit and not c.acked and not c.message.abandoned),
                key=lambda c: c.tsn,
            )
            room = self._mtu - 12
            rest = []
            for c in pending:
                if c.fastRetransmit and room >= c.size + 16:
                    room -= c.size + 16
                    c.retransmit = c.fastRetransmit = False
                    self.fastRetransmissions += 1
                    self._send(c, now, out)
                    if c is self._chunks[0]:
                        self.t3Deadline = now + self.rto.rto
                else:
                    rest.append(c)
            for c in rest:
                if self.flightSize >= self.cwnd:
                    break
                c.retransmit = c.fastRetransmit = False
                self._send(c, now, out)
            self._rtx = [c for c in rest if c.retransmit]
        burst = self._config.maxBurst * self._mtu
        while burst > 0 and self.flightSize < self.cwnd:
            n = self._at(self._unsentTSN)
            if n is None:
                break
            c = n
            if c.message.abandoned:
                self._unsentTSN += 1
                continue
            if c.size > self.peerRwnd and self.flightSize > 0:
                break
            self._unsentTSN += 1
            burst -= c.size + 16
            self._send(c, now, out)
        return out

    def unacknowledged(self) -> List[OutMessage]:
        """
        @return: the messages not wholly acknowledged nor abandoned (for
            SEND_FAILED when the association ends).
        """
        seen: Dict[int, OutMessage] = {}
        for c in self._chunks:
            m = c.message
            if not m.abandoned and m.acked < m.parts:
                seen.setdefault(id(m), m)
        return list(seen.values())


Outbound = Union[DataChunk, ForwardTSNChunk]
