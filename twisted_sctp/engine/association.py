# -*- test-case-name: tests.test_engine_handshake -*-
"""
One SCTP association's state machine (RFC 9260 sections 4-9): the
initiator's side of the handshake, data transfer through L{Sender} and
L{Receiver}, heartbeats, error counting, graceful shutdown and abort.

The endpoint (L{twisted_sctp.engine.endpoint}) does the stateless part:
answering INITs, checking cookies and verification tags.
"""

from __future__ import annotations

import enum
import struct
from typing import Callable, List, Optional, Tuple

from twisted_sctp.engine import chunks as C
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.errors import EngineUsageError
from twisted_sctp.engine.events import (
    AssocChange,
    AssociationChanged,
    Event,
    MessageReceived,
    PeerAddressChanged,
    SendFailed,
)
from twisted_sctp.engine.params import (
    CauseCode,
    ErrorCause,
    ForwardTSNSupportedParam,
    SupportedExtensionsParam,
)
from twisted_sctp.engine.receive import Delivery, Receiver
from twisted_sctp.engine.rto import RTOEstimator
from twisted_sctp.engine.send import OutMessage, Sender
from twisted_sctp.engine.serial import wire32

_HB = struct.Struct("!dI")


class State(enum.Enum):
    """
    Association states (RFC 9260 section 4).
    """

    COOKIE_WAIT = "COOKIE-WAIT"
    COOKIE_ECHOED = "COOKIE-ECHOED"
    ESTABLISHED = "ESTABLISHED"
    SHUTDOWN_PENDING = "SHUTDOWN-PENDING"
    SHUTDOWN_SENT = "SHUTDOWN-SENT"
    SHUTDOWN_RECEIVED = "SHUTDOWN-RECEIVED"
    SHUTDOWN_ACK_SENT = "SHUTDOWN-ACK-SENT"
    CLOSED = "CLOSED"


_OPEN = (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_SENT, State.SHUTDOWN_RECEIVED, State.SHUTDOWN_ACK_SENT)


def localParams() -> Tuple[ForwardTSNSupportedParam, SupportedExtensionsParam]:
    """
    @return: the INIT/INIT-ACK parameters announcing what we support.
    """
    return (ForwardTSNSupportedParam(), SupportedExtensionsParam((C.ChunkType.FORWARD_TSN,)))


class Association:
    """
    One association.

    @ivar peer: C{(host, sctpPort)} of the peer.
    @ivar udpPort: the peer's UDP encapsulation port, learned from the
        source port of what it sends (RFC 6951 section 5.4).
    """

    def __init__(
        self,
        assocID: int,
        config: EngineConfig,
        localPort: int,
        peer: Tuple[str, int],
        udpPort: int,
        myTag: int,
        myTSN: int,
        emit: Callable[[Event], None],
    ) -> None:
        self.assocID = assocID
        self._config = config
        self.localPort = localPort
        self.peer = peer
        self.udpPort = udpPort
        self.myTag = myTag
        self.myTSN = myTSN
        self.peerTag = 0
        self._emit = emit
        self.state = State.CLOSED
        self.rto = RTOEstimator(config)
        self.sender: Optional[Sender] = None
        self.receiver: Optional[Receiver] = None
        self.outStreams = 0
        self.inStreams = 0
        self._control: List[C.Chunk] = []
        self.packets: List[bytes] = []
        self._t1: Optional[float] = None
        self._t1Timeout = config.rtoInitial
        self._initAttempts = 0
        self._t1Chunk: Optional[C.Chunk] = None
        self._t2: Optional[float] = None
        self._hb: Optional[float] = None
        self._hbOutstanding = False
        self._hbNonce = 0
        self.errors = 0
        self.reachable = True
        self._early: List[Tuple[bytes, int, int, bool, Optional[float]]] = []
        self._shutdownWhenUp = False
        self.stats = {"packets_in": 0, "packets_out": 0, "messages_in": 0, "messages_out": 0}

    # -- handshake, initiator side ------------------------------------------

    def startInit(self, now: float) -> None:
        """
        Send our INIT and wait for the INIT-ACK (section 5.1 A).
        """
        self.state = State.COOKIE_WAIT
        self._t1Chunk = C.InitChunk(
            self.myTag,
            self._config.rwnd,
            self._config.outStreams,
            self._config.inStreams,
            self.myTSN,
            localParams(),
        )
        self._sendT1(now, 0)

    def _sendT1(self, now: float, vtag: int) -> None:
        assert self._t1Chunk is not None
        self._initAttempts += 1
        self.packets.append(C.encodePacket(C.Packet(self.localPort, self.peer[1], vtag, (self._t1Chunk,))))
        self._t1 = now + self._t1Timeout

    def establish(
        self,
        peerTag: int,
        peerTSN: int,
        peerRwnd: int,
        outStreams: int,
        inStreams: int,
        peerForwardTSN: bool,
        now: float,
    ) -> None:
        """
        Enter ESTABLISHED with the negotiated parameters.
        """
        self.peerTag = peerTag
        self.outStreams = outStreams
        self.inStreams = inStreams
        self.sender = Sender(self.myTSN, peerRwnd, self._config, peerForwardTSN, outStreams, self.rto)
        self.receiver = Receiver(peerTSN, self._config, inStreams)
        self.state = State.ESTABLISHED
        self._t1 = None
        self.errors = 0
        self._armHeartbeat(now)
        early, self._early = self._early, []
        for data, stream, ppid, unordered, ttl in early:
            if stream < outStreams:
                self.sender.enqueue(data, stream, ppid, unordered, ttl, now)
            else:
                self._emit(SendFailed(self.assocID, data, stream, ppid, "stream not granted by the peer"))

    def _up(self, change: AssocChange = AssocChange.COMM_UP) -> None:
        self._emit(AssociationChanged(self.assocID, change, self.peer, self.outStreams, self.inStreams))

    def _onInitAck(self, chunk: C.InitAckChunk, now: float) -> None:
        cookie = chunk.cookie
        if self.state is not State.COOKIE_WAIT or cookie is None or chunk.initiateTag == 0:
            return
        peerFTSN = any(isinstance(p, ForwardTSNSupportedParam) for p in chunk.params)
        outStreams = min(self._config.outStreams, chunk.inStreams)
        inStreams = min(self._config.inStreams, chunk.outStreams)
        self.peerTag = chunk.initiateTag
        self._pendingPeer = (chunk.initiateTag, chunk.initialTSN, chunk.rwnd, outStreams, inStreams, peerFTSN)
        self.state = State.COOKIE_ECHOED
        self._t1Chunk = C.CookieEchoChunk(cookie)
        self._t1Timeout = self._config.rtoInitial
        self._initAttempts = 0
        self._sendT1(now, self.peerTag)

    def _onCookieAck(self, now: float) -> None:
        if self.state is not State.COOKIE_ECHOED:
            return
        self.establish(*self._pendingPeer, now=now)
        self._up()
        self.shutdownIfRequested(now)

    def shutdownIfRequested(self, now: float) -> None:
        """
        Start the shutdown asked for during the handshake, now that the
        association is up.
        """
        if self._shutdownWhenUp and self.state is State.ESTABLISHED:
            self._shutdownWhenUp = False
            self.shutdown(now)

    # -- chunks of an accepted packet ------------------------------------

    def handlePacket(self, packet: C.Packet, now: float, skip: int = 0) -> None:
        """
        Process the chunks of a packet whose verification tag the endpoint
        accepted, from index C{skip} on.
        """
        self.stats["packets_in"] += 1
        hadData = False
        for chunk in packet.chunks[skip:]:
            if self.state is State.CLOSED:
                return
            kind = chunk.TYPE
            if kind == C.ChunkType.DATA:
                hadData = True
                self._onData(chunk, now)  # type: ignore[arg-type]
            elif kind == C.ChunkType.SACK:
                self._onSack(chunk, now)  # type: ignore[arg-type]
            elif kind == C.ChunkType.INIT_ACK:
                self._onInitAck(chunk, now)  # type: ignore[arg-type]
            elif kind == C.ChunkType.COOKIE_ACK:
                self._onCookieAck(now)
            elif kind == C.ChunkType.HEARTBEAT:
                self._control.append(C.HeartbeatAckChunk(chunk.info))  # type: ignore[union-attr]
            elif kind == C.ChunkType.HEARTBEAT_ACK:
                self._onHeartbeatAck(chunk, now)  # type: ignore[arg-type]
            elif kind == C.ChunkType.ABORT:
                self._close(AssocChange.COMM_LOST, "peer abort")
                return
            elif kind == C.ChunkType.SHUTDOWN:
                self._onShutdown(chunk, now)  # type: ignore[arg-type]
            elif kind == C.ChunkType.SHUTDOWN_ACK:
                self._onShutdownAck()
            elif kind == C.ChunkType.SHUTDOWN_COMPLETE:
                if self.state is State.SHUTDOWN_ACK_SENT:
                    self._close(AssocChange.SHUTDOWN_COMP, "shutdown")
                    return
            elif kind == C.ChunkType.FORWARD_TSN:
                if self.receiver is not None:
                    self._deliver(self.receiver.forwardTSN(chunk))  # type: ignore[arg-type]
            elif kind == C.ChunkType.ERROR:
                self._onError(chunk, now)  # type: ignore[arg-type]
            elif isinstance(chunk, C.UnknownChunk):
                action = chunk.type >> 6
                if action & 1:
                    raw = C.encodeChunk(chunk)
                    self._control.append(C.ErrorChunk((ErrorCause(CauseCode.UNRECOGNIZED_CHUNK, raw),)))
                if not action & 2:
                    break
        if self.receiver is not None:
            self.receiver.packetDone(now, hadData)
            if hadData and self.state is State.SHUTDOWN_SENT:
                self._control.append(C.ShutdownChunk(wire32(self.receiver.cumTSN)))
                self._t2 = now + self.rto.rto

    def _deliver(self, deliveries: List[Delivery]) -> None:
        for d in deliveries:
            self.stats["messages_in"] += 1
            self._emit(MessageReceived(self.assocID, d.data, d.stream, d.ppid, d.unordered))

    def _onData(self, chunk: C.DataChunk, now: float) -> None:
        if self.receiver is None or self.state not in _OPEN:
            return
        if not chunk.data:
            # Section 6.2: ABORT with a No User Data cause.
            cause = ErrorCause(CauseCode.NO_USER_DATA, struct.pack("!I", chunk.tsn))
            self.packets.append(C.encodePacket(C.Packet(self.localPort, self.peer[1], self.peerTag, (C.AbortChunk((cause,)),))))
            self._close(AssocChange.COMM_LOST, "protocol violation: DATA without user data")
            return
        if chunk.stream >= self.inStreams:
            cause = ErrorCause(CauseCode.INVALID_STREAM, struct.pack("!HH", chunk.stream, 0))
            self._control.append(C.ErrorChunk((cause,)))
        self._deliver(self.receiver.receiveData(chunk))

    def _onSack(self, chunk: C.SackChunk, now: float) -> None:
        if self.sender is None:
            return
        advanced, abandoned = self.sender.handleSack(chunk, now)
        self._failed(abandoned, "message lifetime expired")
        if advanced:
            self._ackSeen()
        self._checkShutdown(now)

    def _ackSeen(self) -> None:
        self.errors = 0
        if not self.reachable:
            self.reachable = True
            self._emit(PeerAddressChanged(self.assocID, self.peer, True))

    def _failed(self, messages: List[OutMessage], reason: str) -> None:
        for m in messages:
            self._emit(SendFailed(self.assocID, m.data, m.stream, m.ppid, reason))

    def _onError(self, chunk: C.ErrorChunk, now: float) -> None:
        stale = any(c.code == CauseCode.STALE_COOKIE for c in chunk.causes)
        if stale and self.state is State.COOKIE_ECHOED:
            # Section 5.2.6: start over with a fresh INIT.
            self.state = State.COOKIE_WAIT
            self.peerTag = 0
            self._t1Chunk = C.InitChunk(
                self.myTag, self._config.rwnd, self._config.outStreams, self._config.inStreams, self.myTSN, localParams()
            )
            self._sendT1(now, 0)

    # -- heartbeats --------------------------------------------------------

    def _armHeartbeat(self, now: float) -> None:
        if self._config.hbInterval is None:
            self._hb = None
        else:
            self._hb = now + self._config.hbInterval + self.rto.rto

    def _onHeartbeatAck(self, chunk: C.HeartbeatAckChunk, now: float) -> None:
        if len(chunk.info) != _HB.size:
            return
        sentAt, nonce = _HB.unpack(chunk.info)
        if nonce != self._hbNonce or not self._hbOutstanding:
            return
        self._hbOutstanding = False
        self.rto.sample(now - sentAt)
        self._ackSeen()

    def _heartbeat(self, now: float) -> None:
        if self._hbOutstanding:
            self.rto.backOff()
            if self._countError():
                return
        self._hbNonce = (self._hbNonce + 1) & 0xFFFFFFFF
        self._hbOutstanding = True
        self._control.append(C.HeartbeatChunk(_HB.pack(now, self._hbNonce)))
        self._armHeartbeat(now)

    def _countError(self) -> bool:
        """
        Count one unanswered retransmission or heartbeat (section 8.1/8.2).

        @return: whether the association is now lost.
        """
        self.errors += 1
        if self.reachable and self.errors > self._config.pathMaxRetrans:
            self.reachable = False
            self._emit(PeerAddressChanged(self.assocID, self.peer, False))
        if self.errors > self._config.assocMaxRetrans:
            self._close(AssocChange.COMM_LOST, "retransmissions exceeded")
            return True
        return False

    # -- the user's side ---------------------------------------------------

    def send(self, data: bytes, stream: int, ppid: int, unordered: bool, ttl: Optional[float], now: float) -> None:
        """
        Queue one user message; before the handshake completes it waits and
        goes once the association is up.

        @raise EngineUsageError: not open for sending, a bad stream, or a
            message larger than C{maxMessage}.
        """
        if len(data) > self._config.maxMessage:
            raise EngineUsageError("message of {} bytes over the {} limit".format(len(data), self._config.maxMessage))
        if self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED) and not self._shutdownWhenUp:
            if not 0 <= stream < self._config.outStreams:
                raise EngineUsageError("stream {} out of range (0..{})".format(stream, self._config.outStreams - 1))
            self._early.append((data, stream, ppid, unordered, ttl))
            self.stats["messages_out"] += 1
            return
        if self.state is not State.ESTABLISHED or self.sender is None:
            raise EngineUsageError("association {} is {}".format(self.assocID, self.state.value))
        if not 0 <= stream < self.outStreams:
            raise EngineUsageError("stream {} out of range (0..{})".format(stream, self.outStreams - 1))
        self.sender.enqueue(data, stream, ppid, unordered, ttl, now)
        self.stats["messages_out"] += 1

    def queuedBytes(self) -> int:
        """
        @return: user bytes given to L{send} and not yet acknowledged.
        """
        early = sum(len(m[0]) for m in self._early) if self._early else 0
        return early + (self.sender.queuedBytes if self.sender is not None else 0)

    def shutdown(self, now: float) -> None:
        """
        Start a graceful shutdown (section 9.2): SHUTDOWN once all our data is
        acknowledged.
        """
        if self.state is State.ESTABLISHED:
            self.state = State.SHUTDOWN_PENDING
            self._checkShutdown(now)
        elif self.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            # Finish the handshake, send what was queued, then shut down.
            self._shutdownWhenUp = True

    def abort(self, now: float, reason: bytes = b"") -> None:
        """
        Send ABORT and end the association at once.
        """
        if self.state is State.CLOSED:
            return
        cause = ErrorCause(CauseCode.USER_ABORT, reason)
        vtag = self.peerTag
        if vtag:
            self.packets.append(C.encodePacket(C.Packet(self.localPort, self.peer[1], vtag, (C.AbortChunk((cause,)),))))
        self._close(AssocChange.COMM_LOST, "local abort")

    # -- shutdown ----------------------------------------------------------

    def _checkShutdown(self, now: float) -> None:
        if self.sender is None or not self.sender.idle:
            return
        if self.state is State.SHUTDOWN_PENDING:
            self.state = State.SHUTDOWN_SENT
            self._control.append(self._shutdownChunk())
            self._t2 = now + self.rto.rto
        elif self.state is State.SHUTDOWN_RECEIVED:
            self.state = State.SHUTDOWN_ACK_SENT
            self._control.append(C.ShutdownAckChunk())
            self._t2 = now + self.rto.rto

    def _shutdownChunk(self) -> C.ShutdownChunk:
        assert self.receiver is not None
        return C.ShutdownChunk(wire32(self.receiver.cumTSN))

    def _onShutdown(self, chunk: C.ShutdownChunk, now: float) -> None:
        if self.sender is None:
            return
        sack = C.SackChunk(chunk.cumTSN, self.sender.peerRwnd + self.sender.flightSize)
        advanced, abandoned = self.sender.handleSack(sack, now)
        self._failed(abandoned, "message lifetime expired")
        if self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING):
            self.state = State.SHUTDOWN_RECEIVED
        elif self.state is State.SHUTDOWN_SENT:
            self.state = State.SHUTDOWN_ACK_SENT
            self._control.append(C.ShutdownAckChunk())
            self._t2 = now + self.rto.rto
            return
        self._checkShutdown(now)

    def _onShutdownAck(self) -> None:
        if self.state in (State.SHUTDOWN_SENT, State.SHUTDOWN_ACK_SENT):
            self.packets.append(
                C.encodePacket(C.Packet(self.localPort, self.peer[1], self.peerTag, (C.ShutdownCompleteChunk(),)))
            )
            self._close(AssocChange.SHUTDOWN_COMP, "shutdown")

    def _close(self, change: AssocChange, reason: str) -> None:
        if self.state is State.CLOSED:
            return
        wasUp = self.state in _OPEN
        self.state = State.CLOSED
        self._t1 = self._t2 = self._hb = None
        for data, stream, ppid, _, _ in self._early:
            self._emit(SendFailed(self.assocID, data, stream, ppid, reason))
        self._early = []
        if self.sender is not None:
            self._failed(self.sender.unacknowledged(), reason)
            self.sender.t3Deadline = None
        if self.receiver is not None:
            self.receiver.sackDeadline = None
        if not wasUp:
            change = AssocChange.CANT_STR_ASSOC
        self._emit(AssociationChanged(self.assocID, change, self.peer, self.outStreams, self.inStreams, reason))

    # -- timers ------------------------------------------------------------

    def nextTimeout(self) -> Optional[float]:
        """
        @return: the earliest timer deadline, or C{None}.
        """
        times = [self._t1, self._t2, self._hb]
        if self.sender is not None:
            times.append(self.sender.t3Deadline)
        if self.receiver is not None:
            times.append(self.receiver.sackDeadline)
        live = [t for t in times if t is not None]
        return min(live) if live else None

    def handleTimer(self, now: float) -> None:
        """
        Fire every timer due at C{now}.
        """
        if self._t1 is not None and now >= self._t1:
            if self._initAttempts > self._config.maxInitRetransmits:
                self._close(AssocChange.CANT_STR_ASSOC, "init failed")
                return
            self.rto.backOff()
            self._t1Timeout = min(self._t1Timeout * 2, self._config.maxInitTimeout)
            self._sendT1(now, 0 if self.state is State.COOKIE_WAIT else self.peerTag)
        if self._t2 is not None and now >= self._t2:
            self.rto.backOff()
            if self._countError():
                return
            chunk = self._shutdownChunk() if self.state is State.SHUTDOWN_SENT else C.ShutdownAckChunk()
            self._control.append(chunk)
            self._t2 = now + self.rto.rto
        sender = self.sender
        if sender is not None and sender.t3Deadline is not None and now >= sender.t3Deadline:
            abandoned = sender.onT3(now)
            self._failed(abandoned, "message lifetime expired")
            if self._countError():
                return
            if sender.idle:
                self._checkShutdown(now)
        receiver = self.receiver
        if receiver is not None and receiver.sackDeadline is not None and now >= receiver.sackDeadline:
            receiver.sackNow = True
        if self._hb is not None and now >= self._hb and self.state in _OPEN:
            self._heartbeat(now)

    # -- output ------------------------------------------------------------

    def flush(self, now: float) -> List[bytes]:
        """
        Bundle what is due into packets.

        @return: the packets to send to the peer, in order.
        """
        out = self.packets
        self.packets = []
        if self.state is State.CLOSED:
            return out
        chunks: List[C.Chunk] = []
        receiver, sender = self.receiver, self.sender
        if receiver is not None and receiver.sackNow:
            chunks.append(receiver.makeSack())
        chunks.extend(self._control)
        self._control = []
        if sender is not None and self.state in _OPEN:
            if sender.forwardTSNDue:
                chunks.append(sender.forwardTSN())
                if sender.t3Deadline is None:
                    # The FORWARD-TSN itself may be lost: T3 resends it.
                    sender.t3Deadline = now + self.rto.rto
            if self.state in (State.ESTABLISHED, State.SHUTDOWN_PENDING, State.SHUTDOWN_RECEIVED):
                data = sender.transmit(now)
                if data and not self._hbOutstanding:
                    self._armHeartbeat(now)
                chunks.extend(data)
        if chunks:
            out.extend(self._pack(chunks))
        return out

    def _pack(self, chunks: List[C.Chunk]) -> List[bytes]:
        limit = self._config.mtu - 12
        packets: List[bytes] = []
        current: List[bytes] = []
        size = 0
        for chunk in chunks:
            raw = C.encodeChunk(chunk)
            if current and size + len(raw) > limit:
                packets.append(C.encodeRaw(self.localPort, self.peer[1], self.peerTag, current))
                current, size = [], 0
            current.append(raw)
            size += len(raw)
        if current:
            packets.append(C.encodeRaw(self.localPort, self.peer[1], self.peerTag, current))
        self.stats["packets_out"] += len(packets)
        return packets
