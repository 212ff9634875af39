# -*- test-case-name: tests.test_engine_handshake -*-
"""
The sans-io SCTP endpoint: many associations on one local SCTP port.

Bytes in (L{Endpoint.receiveDatagram}), datagrams and events out
(L{Endpoint.datagramsToSend}, L{Endpoint.nextEvent}), time passed in, and
one timer to arm (L{Endpoint.nextTimeout}, L{Endpoint.handleTimer}).  No
sockets, no clock: the UDP carrier in L{twisted_sctp.engine.udp} drives it.

This module does what needs no per-association state: verification tag
checks (RFC 9260 section 8.5), out-of-the-blue packets (section 8.4),
INIT answered statelessly with a signed cookie (section 5.1), COOKIE-ECHO
checked and turned into an association, and INIT or COOKIE-ECHO on a live
association (collision and restart, section 5.2).
"""

from __future__ import annotations

import heapq
import os
import random
from collections import Counter, deque
from typing import Deque, Dict, List, Optional, Set, Tuple

from twisted_sctp.engine import chunks as C
from twisted_sctp.engine.association import Association, State, localParams
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.cookie import BadCookie, CookieState, makeCookie, openCookie
from twisted_sctp.engine.errors import CodecError, ChecksumError, EngineUsageError
from twisted_sctp.engine.events import AssocChange, AssociationChanged, Event
from twisted_sctp.engine.params import (
    CauseCode,
    ErrorCause,
    ForwardTSNSupportedParam,
    StateCookieParam,
    UnknownParam,
    UnrecognizedParam,
    encodeTLV,
)

#: A datagram to send: payload, destination host, destination UDP port.
Datagram = Tuple[bytes, str, int]


class Endpoint:
    """
    One local SCTP port's associations.

    @ivar stats: counters by name (packets in/out, drops by reason, INITs
        answered, associations opened).
    """

    def __init__(
        self,
        localPort: int,
        config: Optional[EngineConfig] = None,
        secret: Optional[bytes] = None,
        rng: Optional[random.Random] = None,
        defaultUDPPort: int = 9899,
    ) -> None:
        self.localPort = localPort
        self.config = config or EngineConfig()
        self._secret = secret if secret is not None else os.urandom(32)
        self._rng = rng if rng is not None else random.SystemRandom()
        self.defaultUDPPort = defaultUDPPort
        self._byPeer: Dict[Tuple[str, int], Association] = {}
        self._byID: Dict[int, Association] = {}
        self._nextID = 1
        self._events: Deque[Event] = deque()
        self._out: List[Datagram] = []
        #: Associations with messages sent but not yet packetized.
        self._pending: Set[int] = set()
        self._deadline: Dict[int, float] = {}
        self._timers: List[Tuple[float, int]] = []
        self.stats: Counter[str] = Counter()

    # -- the driver's API ----------------------------------------------------

    def associations(self) -> List[Association]:
        """
        @return: the live associations.
        """
        return list(self._byID.values())

    def association(self, assocID: int) -> Association:
        """
        @raise EngineUsageError: no such live association.
        """
        try:
            return self._byID[assocID]
        except KeyError:
            raise EngineUsageError("no association {}".format(assocID)) from None

    def associationWith(self, peer: Tuple[str, int]) -> Optional[Association]:
        """
        @return: the live association with C{peer} (host, SCTP port), if any.
        """
        return self._byPeer.get(peer)

    def connect(self, host: str, port: int, now: float, udpPort: Optional[int] = None) -> int:
        """
        Start an association to C{host}:C{port} (sends INIT).

        @param udpPort: the peer's UDP encapsulation port; the default one
            when not given.
        @return: the new association's id.
        @raise EngineUsageError: an association with that peer exists.
        """
        if (host, port) in self._byPeer:
            raise EngineUsageError("already associated with {}:{}".format(host, port))
        a = self._new((host, port), udpPort or self.defaultUDPPort)
        a.startInit(now)
        self._flush(a, now)
        return a.assocID

    def send(
        self,
        assocID: int,
        data: bytes,
        now: float,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        ttl: Optional[float] = None,
        flush: bool = True,
    ) -> None:
        """
        Send one user message.

        @param ttl: PR-SCTP lifetime in seconds (C{send_ttl}); C{None} for
            fully reliable.
        @param flush: whether to packetize at once; C{False} leaves the
            message queued until L{flushPending} (or any other input for
            the association), so that messages sent together share packets.
        @raise EngineUsageError: see L{Association.send}.
        """
        a = self.association(assocID)
        a.send(data, stream, ppid, unordered, ttl, now)
        if flush:
            self._flush(a, now)
        else:
            self._pending.add(assocID)

    @property
    def sendsPending(self) -> bool:
        """
        Whether L{send} left messages for L{flushPending}.
        """
        return bool(self._pending)

    def flushPending(self, now: float) -> None:
        """
        Packetize what L{send} left queued with C{flush=False}.
        """
        pending, self._pending = self._pending, set()
        for assocID in pending:
            a = self._byID.get(assocID)
            if a is not None:
                self._flush(a, now)

    def shutdown(self, assocID: int, now: float) -> None:
        """
        Graceful shutdown of one association.
        """
        a = self.association(assocID)
        a.shutdown(now)
        self._flush(a, now)

    def abort(self, assocID: int, now: float, reason: bytes = b"") -> None:
        """
        Abort one association.
        """
        a = self.association(assocID)
        a.abort(now, reason)
        self._flush(a, now)

    def close(self, now: float, graceful: bool = True) -> None:
        """
        End every association: SHUTDOWN (C{graceful}) or ABORT.  For a port
        that stops listening.
        """
        for a in list(self._byID.values()):
            if graceful:
                a.shutdown(now)
            else:
                a.abort(now, b"endpoint closed")
            self._flush(a, now)

    def nextEvent(self) -> Optional[Event]:
        """
        @return: the next event, or C{None}.
        """
        return self._events.popleft() if self._events else None

    def datagramsToSend(self) -> List[Datagram]:
        """
        @return: the datagrams queued since the last call.
        """
        out, self._out = self._out, []
        return out

    def nextTimeout(self) -> Optional[float]:
        """
        @return: when L{handleTimer} must next be called, or C{None}.
        """
        timers, deadline = self._timers, self._deadline
        while timers and deadline.get(timers[0][1]) != timers[0][0]:
            heapq.heappop(timers)  # superseded
        return timers[0][0] if timers else None

    def handleTimer(self, now: float) -> None:
        """
        Run every timer due at C{now}.
        """
        due = []
        while True:
            t = self.nextTimeout()
            if t is None or t > now:
                break
            _, assocID = heapq.heappop(self._timers)
            del self._deadline[assocID]
            due.append(assocID)
        for assocID in due:
            a = self._byID.get(assocID)
            if a is not None:
                a.handleTimer(now)
                self._flush(a, now)

    def _schedule(self, a: Association) -> None:
        t = a.nextTimeout() if a.state is not State.CLOSED else None
        if t is None:
            self._deadline.pop(a.assocID, None)
            return
        if self._deadline.get(a.assocID) == t:
            return
        self._deadline[a.assocID] = t
        heapq.heappush(self._timers, (t, a.assocID))
        if len(self._timers) > 4 * len(self._deadline) + 64:
            self._timers = [(d, i) for i, d in self._deadline.items()]
            heapq.heapify(self._timers)

    # -- input -------------------------------------------------------------

    def receiveDatagram(self, data: bytes, host: str, udpPort: int, now: float) -> None:
        """
        Take one SCTP packet that arrived in a UDP datagram from
        C{host}:C{udpPort}.  Bad input is counted in L{stats} and dropped.
        """
        self.stats["packets_in"] += 1
        try:
            packet = C.decodePacket(data)
        except ChecksumError:
            self.stats["drop_checksum"] += 1
            return
        except CodecError:
            self.stats["drop_malformed"] += 1
            return
        if not packet.chunks:
            self.stats["drop_malformed"] += 1
            return
        first = packet.chunks[0]
        if packet.dstPort != self.localPort:
            self._outOfTheBlue(packet, host, udpPort, now)
            return
        a = self._byPeer.get((host, packet.srcPort))
        if first.TYPE == C.ChunkType.INIT:
            self._onInit(packet, first, host, udpPort, a, now)  # type: ignore[arg-type]
            return
        if a is None:
            if first.TYPE == C.ChunkType.COOKIE_ECHO:
                self._onCookieEcho(packet, first, host, udpPort, None, now)  # type: ignore[arg-type]
            else:
                self._outOfTheBlue(packet, host, udpPort, now)
            return
        if first.TYPE == C.ChunkType.COOKIE_ECHO:
            self._onCookieEcho(packet, first, host, udpPort, a, now)  # type: ignore[arg-type]
            return
        if not self._tagOK(packet, first, a):
            self.stats["drop_bad_vtag"] += 1
            return
        a.udpPort = udpPort
        a.handlePacket(packet, now)
        self._flush(a, now)

    @staticmethod
    def _tagOK(packet: C.Packet, first: C.Chunk, a: Association) -> bool:
        kind = first.TYPE
        if kind in (C.ChunkType.ABORT, C.ChunkType.SHUTDOWN_COMPLETE):
            expected = a.peerTag if first.flags & C.FLAG_T else a.myTag
            return packet.vtag == expected
        if kind == C.ChunkType.SHUTDOWN_ACK and a.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            return False
        return packet.vtag == a.myTag

    def _reply(self, host: str, udpPort: int, dstPort: int, vtag: int, *chunks: C.Chunk) -> None:
        self._out.append((C.encodePacket(C.Packet(self.localPort, dstPort, vtag, chunks)), host, udpPort))
        self.stats["packets_out"] += 1

    def _outOfTheBlue(self, packet: C.Packet, host: str, udpPort: int, now: float) -> None:
        """
        Section 8.4.
        """
        self.stats["out_of_the_blue"] += 1
        kinds = {c.TYPE for c in packet.chunks}
        if kinds & {C.ChunkType.ABORT, C.ChunkType.SHUTDOWN_COMPLETE, C.ChunkType.ERROR}:
            return
        if C.ChunkType.SHUTDOWN_ACK in kinds:
            self._replyFrom(packet, host, udpPort, C.ShutdownCompleteChunk(C.FLAG_T))
            return
        if kinds & {C.ChunkType.INIT, C.ChunkType.COOKIE_ECHO}:
            return  # INIT not first, or COOKIE-ECHO to another port: discard
        self._replyFrom(packet, host, udpPort, C.AbortChunk((), C.FLAG_T))

    def _replyFrom(self, packet: C.Packet, host: str, udpPort: int, chunk: C.Chunk) -> None:
        # Reflect the packet's ports and tag (T bit set).
        raw = C.encodePacket(C.Packet(packet.dstPort, packet.srcPort, packet.vtag, (chunk,)))
        self._out.append((raw, host, udpPort))
        self.stats["packets_out"] += 1

    def _newTag(self) -> int:
        while True:
            tag = self._rng.getrandbits(32)
            if tag:
                return tag

    def _onInit(
        self, packet: C.Packet, init: C.InitChunk, host: str, udpPort: int, a: Optional[Association], now: float
    ) -> None:
        if packet.vtag != 0 or len(packet.chunks) != 1 or init.initiateTag == 0:
            self.stats["drop_bad_init"] += 1
            return
        if init.outStreams == 0 or init.inStreams == 0:
            self.stats["drop_bad_init"] += 1
            self._reply(host, udpPort, packet.srcPort, init.initiateTag,
                        C.AbortChunk((ErrorCause(CauseCode.INVALID_MANDATORY_PARAM),)))
            return
        unrecognized = []
        peerFTSN = False
        for p in init.params:
            if isinstance(p, ForwardTSNSupportedParam):
                peerFTSN = True
            elif isinstance(p, UnknownParam):
                if p.type & 0x4000:
                    unrecognized.append(UnrecognizedParam(encodeTLV(p.type, p.value)))
                if not p.type & 0x8000:
                    break
        tieMy = tiePeer = 0
        if a is None:
            myTag, myTSN = self._newTag(), self._newTag()
        elif a.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
            # Section 5.2.1: collision; answer with our INIT's tag and TSN.
            myTag, myTSN = a.myTag, a.myTSN
            tieMy, tiePeer = a.myTag, a.peerTag
        else:
            # Section 5.2.2: unexpected INIT on a live association.
            myTag, myTSN = self._newTag(), self._newTag()
            tieMy, tiePeer = a.myTag, a.peerTag
        cfg = self.config
        state = CookieState(
            created=now,
            lifetime=cfg.cookieLifetime,
            myTag=myTag,
            peerTag=init.initiateTag,
            myTSN=myTSN,
            peerTSN=init.initialTSN,
            peerRwnd=init.rwnd,
            myRwnd=cfg.rwnd,
            outStreams=min(cfg.outStreams, init.inStreams),
            inStreams=min(cfg.inStreams, init.outStreams),
            peerForwardTSN=peerFTSN,
            tieMyTag=tieMy,
            tiePeerTag=tiePeer,
            myPort=self.localPort,
            peerPort=packet.srcPort,
            peerHost=host,
        )
        params = (StateCookieParam(makeCookie(self._secret, state)),) + localParams() + tuple(unrecognized)
        ack = C.InitAckChunk(myTag, cfg.rwnd, cfg.outStreams, cfg.inStreams, myTSN, params)
        self.stats["init_answered"] += 1
        self._reply(host, udpPort, packet.srcPort, init.initiateTag, ack)

    def _onCookieEcho(
        self,
        packet: C.Packet,
        echo: C.CookieEchoChunk,
        host: str,
        udpPort: int,
        a: Optional[Association],
        now: float,
    ) -> None:
        try:
            s = openCookie(self._secret, echo.cookie)
        except BadCookie:
            self.stats["drop_bad_cookie"] += 1
            return
        if packet.vtag != s.myTag or s.peerHost != host or s.peerPort != packet.srcPort or s.myPort != self.localPort:
            self.stats["drop_bad_cookie"] += 1
            return
        same = a is not None and s.myTag == a.myTag and s.peerTag == a.peerTag
        if not same and s.isStale(now):
            self.stats["stale_cookie"] += 1
            cause = ErrorCause(CauseCode.STALE_COOKIE, s.staleness(now).to_bytes(4, "big"))
            self._reply(host, udpPort, packet.srcPort, s.peerTag, C.ErrorChunk((cause,)))
            return
        if a is None:
            a = self._new((host, packet.srcPort), udpPort, s.myTag, s.myTSN)
            self._establishFrom(a, s, now)
            a.packets.append(C.encodePacket(C.Packet(self.localPort, packet.srcPort, s.peerTag, (C.CookieAckChunk(),))))
            self.stats["established_passive"] += 1
        elif s.myTag != a.myTag and s.peerTag != a.peerTag and (s.tieMyTag, s.tiePeerTag) == (a.myTag, a.peerTag):
            # Section 5.2.4 case A: the peer restarted.
            if a.state is State.SHUTDOWN_ACK_SENT:
                cause = ErrorCause(CauseCode.COOKIE_WHILE_SHUTTING_DOWN)
                self._reply(host, udpPort, packet.srcPort, s.peerTag, C.ShutdownAckChunk(), C.ErrorChunk((cause,)))
                return
            self.stats["restarts"] += 1
            a.myTag, a.myTSN = s.myTag, s.myTSN
            if a.sender is not None:
                a._failed(a.sender.unacknowledged(), "peer restarted")
            self._establishFrom(a, s, now, AssocChange.RESTART)
            a.packets.append(C.encodePacket(C.Packet(self.localPort, packet.srcPort, s.peerTag, (C.CookieAckChunk(),))))
        elif s.myTag == a.myTag and s.peerTag != a.peerTag:
            # Case B: INIT collision; take the peer's new tag.
            wasUp = a.sender is not None and a.state is not State.COOKIE_ECHOED
            if wasUp:
                a.peerTag = s.peerTag
            else:
                self._establishFrom(a, s, now)
            a.packets.append(C.encodePacket(C.Packet(self.localPort, packet.srcPort, s.peerTag, (C.CookieAckChunk(),))))
        elif same:
            # Case D: both tags match.
            if a.state in (State.COOKIE_WAIT, State.COOKIE_ECHOED):
                self._establishFrom(a, s, now)
            a.packets.append(C.encodePacket(C.Packet(self.localPort, packet.srcPort, s.peerTag, (C.CookieAckChunk(),))))
        else:
            self.stats["drop_bad_cookie"] += 1
            return
        a.udpPort = udpPort
        if len(packet.chunks) > 1:
            a.handlePacket(packet, now, skip=1)
        self._flush(a, now)

    def _establishFrom(
        self, a: Association, s: CookieState, now: float, change: AssocChange = AssocChange.COMM_UP
    ) -> None:
        a.myTSN = s.myTSN
        a.establish(s.peerTag, s.peerTSN, s.peerRwnd, s.outStreams, s.inStreams, s.peerForwardTSN, now)
        self._events.append(AssociationChanged(a.assocID, change, a.peer, a.outStreams, a.inStreams))
        a.shutdownIfRequested(now)

    def _new(self, peer: Tuple[str, int], udpPort: int, myTag: int = 0, myTSN: int = 0) -> Association:
        assocID = self._nextID
        self._nextID += 1
        a = Association(
            assocID,
            self.config,
            self.localPort,
            peer,
            udpPort,
            myTag or self._newTag(),
            myTSN or self._newTag(),
            self._events.append,
        )
        self._byPeer[peer] = a
        self._byID[assocID] = a
        return a

    def _flush(self, a: Association, now: float) -> None:
        for raw in a.flush(now):
            self._out.append((raw, a.peer[0], a.udpPort))
            self.stats["packets_out"] += 1
        self._schedule(a)
        if a.state is State.CLOSED:
            self._byID.pop(a.assocID, None)
            if self._byPeer.get(a.peer) is a:
                del self._byPeer[a.peer]
