# -*- test-case-name: tests.test_engine_backend -*-
"""
L{EngineBackend}: the user-space SCTP engine (L{twisted_sctp.engine}) as an
L{ISCTPBackend}, so that L{twisted_sctp.transport.port.SCTPPort} (registry,
protocols, send queue, counters, options) runs over SCTP carried in UDP
(RFC 6951) where the kernel has no SCTP.

One backend is one local SCTP port on one local UDP port (default 9899).
The peer's UDP port is learned per association from what it sends
(section 5.4); associations we open use C{encapPort} (default 9899).

The engine's events become the neutral events of
L{twisted_sctp.transport.events}.  The engine has no notification of a
SHUTDOWN received, so the backend reports L{PeerShutdown} when an
association it did not shut down itself enters the peer's shutdown states.

Options: the protocol parameters (C{srto_*}, C{init_max_*}, C{asocmaxrxt},
C{pathmaxrxt}, C{hbinterval}, C{sack_*}, C{max_burst}) become the
endpoint's L{EngineConfig}; C{send_ttl} is PR-SCTP; C{socket_sndbuf} bounds
each association's send queue; C{autoclose} shuts idle associations down
(L{twisted_sctp.engine.idle}); C{socket_rcvbuf} does not apply
(L{UNSUPPORTED_OPTIONS}): set at start-up it gives a warning, and a
run-time change says it does not apply.
"""

from __future__ import annotations

import errno
import random
import socket
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import attrs
from zope.interface import implementer

from twisted.internet import defer, error as ierror
from twisted.logger import Logger

from twisted_sctp.engine.association import State
from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.endpoint import Endpoint
from twisted_sctp.engine.errors import EngineUsageError
from twisted_sctp.engine.events import AssocChange, AssociationChanged, MessageReceived, PeerAddressChanged
from twisted_sctp.engine.events import Event as EngineEvent
from twisted_sctp.engine.events import SendFailed as EngineSendFailed
from twisted_sctp.engine.idle import IdleCloser
from twisted_sctp.engine.udp import SCTP_UDP_PORT, UDPCarrier
from twisted_sctp.transport.address import HostPort, familyOf
from twisted_sctp.transport.backend import AssociationGoneError, ISCTPBackend, ISCTPBackendSink
from twisted_sctp.transport.events import (
    UNORDERED,
    AssociationDown,
    AssociationUp,
    DataReceived,
    PathChanged,
    PeerShutdown,
    SendFailed,
    SendParameters,
)
from twisted_sctp.transport.options import OPTION_NAMES, SCTPOptions

__all__ = ["EngineBackend", "UNSUPPORTED_OPTIONS", "engineConfig", "listenSCTPOverUDP"]

_log = Logger()

#: Options the engine cannot apply (C{setOption} reports C{"not-applicable"}).
UNSUPPORTED_OPTIONS = frozenset({"socket_rcvbuf"})

#: The send queue bound of an association when C{socket_sndbuf} is 0.
DEFAULT_SEND_BUFFER = 4 << 20

#: The engine's SCTP ports picked for port 0 (the IANA dynamic range).
_EPHEMERAL = (49152, 65535)

_PEER_SHUTDOWN_STATES = (State.SHUTDOWN_RECEIVED, State.SHUTDOWN_ACK_SENT)

#: How the engine's reasons for an unsent message map to the layer's error
#: (0: the association ended before it went, so it may be re-sent).
_EXPIRED = "message lifetime expired"


def engineConfig(options: SCTPOptions, base: Optional[EngineConfig] = None) -> EngineConfig:
    """
    @return: C{base} (the engine's defaults) with the protocol options of
        C{options} that are set (non-zero) applied, converted from
        milliseconds to seconds.
    """
    config = base or EngineConfig()
    changes: Dict[str, Any] = {}
    seconds = {"srto_initial": "rtoInitial", "srto_min": "rtoMin", "srto_max": "rtoMax",
               "init_max_timeo": "maxInitTimeout", "hbinterval": "hbInterval", "sack_delay": "sackDelay"}
    counts = {"init_max_attempts": "maxInitRetransmits", "asocmaxrxt": "assocMaxRetrans",
              "pathmaxrxt": "pathMaxRetrans", "sack_freq": "sackFreq", "max_burst": "maxBurst"}
    for name, field in seconds.items():
        value = getattr(options, name)
        if value:
            changes[field] = value / 1000.0
    for name, field in counts.items():
        value = getattr(options, name)
        if value:
            changes[field] = value
    # Keep rtoMin <= rtoInitial <= rtoMax when only some are given.
    low = changes.get("rtoMin", config.rtoMin)
    high = changes.get("rtoMax", max(config.rtoMax, low))
    changes["rtoMax"] = max(high, low)
    changes["rtoInitial"] = min(max(changes.get("rtoInitial", config.rtoInitial), low), changes["rtoMax"])
    changes["rtoMin"] = low
    return attrs.evolve(config, **changes)


def _liveOptions(config: EngineConfig, options: SCTPOptions) -> Dict[str, int]:
    ms = lambda s: int(round(s * 1000))  # noqa: E731
    live = {name: 0 for name in OPTION_NAMES}
    live.update(
        socket_sndbuf=options.socket_sndbuf or DEFAULT_SEND_BUFFER,
        autoclose=options.autoclose,
        srto_initial=ms(config.rtoInitial),
        srto_min=ms(config.rtoMin),
        srto_max=ms(config.rtoMax),
        asocmaxrxt=config.assocMaxRetrans,
        init_max_attempts=config.maxInitRetransmits,
        init_max_timeo=ms(config.maxInitTimeout),
        hbinterval=ms(config.hbInterval) if config.hbInterval is not None else 0,
        pathmaxrxt=config.pathMaxRetrans,
        sack_delay=ms(config.sackDelay),
        sack_freq=config.sackFreq,
        max_burst=config.maxBurst,
    )
    return live


class _Carrier(UDPCarrier):
    """
    The UDP carrier of one backend: it marks the sink's read time around
    each datagram and looks for a peer's SHUTDOWN after it.
    """

    def __init__(self, backend: "EngineBackend", encapPort: int) -> None:
        super().__init__(backend._reactor, backend._engineEvent, encapPort)
        self.backend = backend

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        backend = self.backend
        sink = backend._sink
        if backend._closed or sink is None:
            return
        sink.readTime = self.now()
        try:
            super().datagramReceived(datagram, addr)
            backend._afterInput(addr[0], datagram)
        finally:
            sink.readTime = None


@implementer(ISCTPBackend)
class EngineBackend:
    """
    One engine endpoint on one UDP port.

    @ivar udpPort: the local UDP port asked for (0: any).
    @ivar encapPort: the peer's UDP port for associations we open.
    @ivar udpInterface: the address the UDP port binds (default: the first
        listening host).
    @ivar endpoint: the engine's L{Endpoint}, once listening.
    @ivar udpListener: the Twisted UDP port, once listening.
    """

    maxMessageSize = 1 << 20
    unsupportedOptions = UNSUPPORTED_OPTIONS
    readBufferSize = 65535
    ancillaryBufferSize = 0
    maxReadsPerWakeup = 1
    backlog = 0

    def __init__(
        self,
        reactor: Any,
        udpPort: int = SCTP_UDP_PORT,
        encapPort: int = SCTP_UDP_PORT,
        udpInterface: Optional[str] = None,
        config: Optional[EngineConfig] = None,
    ) -> None:
        self._reactor = reactor
        self.udpPort = udpPort
        self.encapPort = encapPort
        self.udpInterface = udpInterface
        self._baseConfig = config
        self.family = socket.AF_INET
        self.boundPort = 0
        self.warnings: List[str] = []
        self.bindFailures: List[Tuple[str, OSError]] = []
        self.endpoint: Optional[Endpoint] = None
        self.udpListener: Any = None
        self._carrier: Optional[_Carrier] = None
        self._sink: Any = None
        self._options = SCTPOptions()
        self._closed = False
        self._reading = False
        self._writing = False
        self._wakeup: Any = None
        #: The reactor call that packetizes this turn's messages.
        self._sendCall: Any = None
        self._sendBuffer = DEFAULT_SEND_BUFFER
        #: Associations we shut down or aborted ourselves.
        self._localEnd: Set[int] = set()
        #: Associations whose PeerShutdown was reported.
        self._peerEnd: Set[int] = set()
        #: Associations whose first message was reported (with its paths).
        self._seen: Set[int] = set()
        self._stopped: Optional[defer.Deferred[None]] = None
        self._idle = IdleCloser(reactor, 0, self._autoclose)

    # -- ISCTPBackend ----------------------------------------------------

    def listen(self, sink: ISCTPBackendSink, hosts: Sequence[str], port: int, options: SCTPOptions) -> None:
        host = self.udpInterface or (hosts[0] if hosts else "0.0.0.0")
        self.family = socket.AF_INET6 if familyOf(host) == socket.AF_INET6 else socket.AF_INET
        self._sink = sink
        self._options = options
        self.warnings = self._unsupported(options)
        for text in self.warnings:
            _log.warn("{text}", text=text)
        for extra in hosts[1:]:
            self.bindFailures.append((extra, OSError(errno.EOPNOTSUPP, "the UDP engine has one address per endpoint")))
        sctpPort = port or random.randint(*_EPHEMERAL)
        self._sendBuffer = options.socket_sndbuf or DEFAULT_SEND_BUFFER
        self._idle.seconds = options.autoclose
        try:
            config = engineConfig(options, self._baseConfig)
        except ValueError as e:
            raise ierror.CannotListenError(host, port, e)
        self.endpoint = Endpoint(sctpPort, config, defaultUDPPort=self.encapPort)
        carrier = self._carrier = _Carrier(self, self.encapPort)
        carrier.addEndpoint(self.endpoint)
        self.udpListener = self._reactor.listenUDP(self.udpPort, carrier, interface=host)
        self.boundPort = sctpPort
        self._reading = True
        _log.info(
            "SCTP port {sctpPort} carried in UDP on {host}:{udpPort} (RFC 6951; peers we open: UDP port {encapPort})",
            sctpPort=sctpPort, host=host, udpPort=self.boundUDPPort, encapPort=self.encapPort,
        )

    @property
    def boundUDPPort(self) -> int:
        """The local UDP port, once listening (0 before)."""
        return int(self.udpListener.getHost().port) if self.udpListener is not None else 0

    def send(self, payload: bytes, params: SendParameters, assocID: int = 0, address: Optional[HostPort] = None) -> None:
        endpoint = self._open()
        now = self._reactor.seconds()
        if address is None:
            try:
                a = endpoint.association(assocID)
            except EngineUsageError:
                raise AssociationGoneError(errno.EPIPE, "association {} is gone".format(assocID)) from None
        else:
            peer = (address[0], address[1])
            found = endpoint.associationWith(peer)
            if found is None:
                try:
                    assocID = endpoint.connect(peer[0], peer[1], now, self.encapPort)
                except EngineUsageError as e:
                    raise OSError(errno.EINVAL, str(e)) from None
                found = endpoint.association(assocID)
            a = found
        if a.queuedBytes() + len(payload) > self._sendBuffer and a.queuedBytes():
            raise BlockingIOError(errno.EAGAIN, "association {} send queue full".format(a.assocID))
        ttl = params.ttl / 1000.0 if params.ttl else None
        try:
            endpoint.send(a.assocID, payload, now, params.stream, params.ppid, params.unordered, ttl, flush=False)
        except EngineUsageError as e:
            raise OSError(errno.EPIPE if a.state is not State.ESTABLISHED else errno.EINVAL, str(e)) from None
        self._idle.touch(a.assocID, now)
        # The messages sent in this reactor turn go out together, several
        # DATA chunks to a packet where the mtu allows.
        if self._sendCall is None:
            self._sendCall = self._reactor.callLater(0, self._sendPending)

    def _sendPending(self) -> None:
        self._sendCall = None
        if self._closed or self.endpoint is None:
            return
        now = self._reactor.seconds()
        self.endpoint.flushPending(now)
        self._pump(now)

    def connect(self, paths: Sequence[HostPort]) -> int:
        endpoint = self._open()
        host, port = paths[0][0], paths[0][1]
        now = self._reactor.seconds()
        try:
            assocID = endpoint.connect(host, port, now, self.encapPort)
        except EngineUsageError as e:
            raise OSError(errno.EISCONN, str(e)) from None
        self._pump(now)
        return assocID

    def shutdown(self, assocID: int) -> None:
        self._end(assocID, graceful=True)

    def abort(self, assocID: int, reason: bytes = b"") -> None:
        self._end(assocID, graceful=False, reason=reason)

    def peerAddresses(self, assocID: int) -> List[HostPort]:
        try:
            return [self._open().association(assocID).peer]
        except EngineUsageError as e:
            raise OSError(errno.EINVAL, str(e)) from None

    def localAddresses(self, assocID: int = 0) -> List[HostPort]:
        if self.udpListener is None:
            raise OSError(errno.ENOTCONN, "not listening")
        return [(self.udpListener.getHost().host, self.boundPort)]

    def applyOption(self, name: str, value: int) -> None:
        """
        Apply a run-time change to future associations (the engine's config
        is what new associations are made with).  An option in
        L{UNSUPPORTED_OPTIONS} changes nothing (the port says so).
        """
        if self.endpoint is None or name in UNSUPPORTED_OPTIONS:
            return
        options = attrs.evolve(self._options, **{name: value})
        if name == "socket_sndbuf":
            self._sendBuffer = value or DEFAULT_SEND_BUFFER
        elif name == "autoclose":
            self._idle.setSeconds(value)
        else:
            try:
                self.endpoint.config = engineConfig(options, self.endpoint.config)
            except ValueError as e:
                raise OSError(errno.EINVAL, str(e)) from None
        self._options = options

    def readOptions(self) -> Dict[str, int]:
        endpoint = self._open()
        return _liveOptions(endpoint.config, self._options)

    def startWriting(self) -> None:
        if not self._writing and not self._closed:
            self._writing = True
            self._scheduleWritable()

    def stopWriting(self) -> None:
        self._writing = False
        if self._wakeup is not None and self._wakeup.active():
            self._wakeup.cancel()
        self._wakeup = None

    def pauseReading(self) -> None:
        if self._reading and self.udpListener is not None:
            self._reading = False
            self.udpListener.stopReading()

    def resumeReading(self) -> None:
        if not self._reading and not self._closed and self.udpListener is not None:
            self._reading = True
            self.udpListener.startReading()

    def close(self) -> None:
        """
        ABORT every association (the peers hear of it at once), then close
        the UDP port; nothing more is reported.
        """
        if self._closed:
            return
        self.stopWriting()
        self._idle.stop()
        self._closed = True
        if self._sendCall is not None and self._sendCall.active():
            self._sendCall.cancel()
        self._sendCall = None
        if self.endpoint is not None:
            now = self._reactor.seconds()
            self.endpoint.close(now, graceful=False)
            self._pump(now)
        while self.endpoint is not None and self.endpoint.nextEvent() is not None:
            pass
        if self._carrier is not None:
            self._carrier.stopProtocol()
        if self.udpListener is not None:
            self._stopped = defer.maybeDeferred(self.udpListener.stopListening)

    def whenClosed(self) -> defer.Deferred[None]:
        """
        @return: a Deferred that fires once the UDP port is closed.
        """
        if self._stopped is None:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._stopped.addBoth(lambda r: d.callback(None))
        return d

    # -- the engine's side -----------------------------------------------

    def _open(self) -> Endpoint:
        if self.endpoint is None or self._closed:
            raise OSError(errno.EBADF, "the engine backend is not listening")
        return self.endpoint

    def _pump(self, now: Optional[float] = None) -> None:
        if self._carrier is not None and self._carrier.transport is not None:
            self._carrier.pump(now)

    def _end(self, assocID: int, graceful: bool, reason: bytes = b"") -> None:
        endpoint = self._open()
        now = self._reactor.seconds()
        try:
            if graceful:
                endpoint.shutdown(assocID, now)
            else:
                endpoint.abort(assocID, now, reason)
        except EngineUsageError as e:
            raise OSError(errno.EINVAL, str(e)) from None
        self._localEnd.add(assocID)
        self._pump(now)

    def _autoclose(self, assocID: int) -> None:
        # Idle for autoclose seconds: a graceful shutdown that the layer
        # reports as "autoclose" (no close was asked for, no SHUTDOWN seen).
        if self._closed or self.endpoint is None:
            return
        try:
            a = self.endpoint.association(assocID)
        except EngineUsageError:
            return
        if a.state is not State.ESTABLISHED:
            return
        try:
            self._end(assocID, graceful=True)
        except OSError:
            pass

    def _unsupported(self, options: SCTPOptions) -> List[str]:
        problems = []
        for name in sorted(UNSUPPORTED_OPTIONS):
            value = getattr(options, name)
            if value == 0:
                continue
            problems.append("{}={} does not apply to the UDP engine (ignored)".format(name, value))
        return problems

    def _afterInput(self, host: str, datagram: bytes) -> None:
        """
        After a datagram from C{host}: report a SHUTDOWN the peer sent, and
        room to write.
        """
        endpoint = self.endpoint
        if endpoint is None or len(datagram) < 2:
            return
        a = endpoint.associationWith((host, int.from_bytes(datagram[0:2], "big")))
        if (
            a is not None
            and a.state in _PEER_SHUTDOWN_STATES
            and a.assocID not in self._localEnd
            and a.assocID not in self._peerEnd
        ):
            self._peerEnd.add(a.assocID)
            self._sink.eventReceived(PeerShutdown(a.assocID))
        if self._writing:
            self._scheduleWritable()

    def _scheduleWritable(self) -> None:
        if self._wakeup is None or not self._wakeup.active():
            self._wakeup = self._reactor.callLater(0, self._wroteOut)

    def _wroteOut(self) -> None:
        self._wakeup = None
        if self._writing and not self._closed and self._sink is not None:
            self._sink.writable()

    def _engineEvent(self, endpoint: Endpoint, event: EngineEvent) -> None:
        sink = self._sink
        if self._closed or sink is None:
            return
        if isinstance(event, MessageReceived):
            paths = None
            if event.assocID not in self._seen:
                self._seen.add(event.assocID)
                paths = (self._peerOf(event.assocID),)
            source = paths[0] if paths else self._peerOf(event.assocID)
            flags = UNORDERED if event.unordered else 0
            self._idle.touch(event.assocID, sink.readTime or self._reactor.seconds())
            sink.dataReceived(DataReceived(event.assocID, event.data, event.stream, event.ppid, flags, source, paths))
            return
        if isinstance(event, AssociationChanged):
            self._associationChanged(event)
        elif isinstance(event, EngineSendFailed):
            params = SendParameters(event.stream, event.ppid)
            error = 1 if event.reason == _EXPIRED else 0
            sink.eventReceived(SendFailed(event.assocID, event.data, params, error, error == 0, native=event))
        elif isinstance(event, PeerAddressChanged):
            state = "active" if event.reachable else "unreachable"
            sink.eventReceived(PathChanged(event.assocID, event.peer, state, native=event))

    def _associationChanged(self, event: AssociationChanged) -> None:
        sink = self._sink
        assocID, peer = event.assocID, event.peer
        change = event.change
        if change in (AssocChange.COMM_UP, AssocChange.RESTART):
            self._seen.add(assocID)
            self._idle.touch(assocID, self._reactor.seconds())
            reason = "comm_up" if change is AssocChange.COMM_UP else "restart"
            sink.eventReceived(AssociationUp(assocID, reason, peer, (peer,), event.inStreams, event.outStreams, native=event))
            return
        self._idle.forget(assocID)
        local = assocID in self._localEnd
        peerEnded = assocID in self._peerEnd
        for known in (self._localEnd, self._peerEnd, self._seen):
            known.discard(assocID)
        if change is AssocChange.SHUTDOWN_COMP:
            if not local and not peerEnded:
                sink.eventReceived(PeerShutdown(assocID, native=event))
            sink.eventReceived(AssociationDown(assocID, "shutdown_complete", source=peer, native=event))
        elif change is AssocChange.CANT_STR_ASSOC:
            sink.eventReceived(AssociationDown(assocID, "cant_start", source=peer, native=event))
        else:
            sink.eventReceived(AssociationDown(assocID, "comm_lost", source=peer, native=event))
        if self._writing:
            self._scheduleWritable()

    def _peerOf(self, assocID: int) -> HostPort:
        try:
            peer = self._open().association(assocID).peer
        except (EngineUsageError, OSError):
            return ("", 0)
        return (peer[0], peer[1])

    def logPrefix(self) -> str:
        return self._sink.logPrefix() if self._sink is not None else "EngineBackend"


def listenSCTPOverUDP(
    reactor: Any,
    port: int,
    factory: Any,
    interface: str = "127.0.0.1",
    options: Optional[SCTPOptions] = None,
    udpPort: int = SCTP_UDP_PORT,
    encapPort: int = SCTP_UDP_PORT,
    mtu: Optional[int] = None,
) -> Any:
    """
    Listen for SCTP associations on SCTP port C{port} carried in UDP
    (RFC 6951) on C{interface}:C{udpPort}, with the user-space engine: the
    same L{twisted_sctp.transport.port.SCTPPort} as L{listenSCTP} gives,
    where the kernel has no SCTP.

    @param port: the SCTP port (0: one from the dynamic range).
    @param udpPort: the local UDP port (Linux's C{net.sctp.udp_port} name;
        0: any).
    @param encapPort: the peer's UDP port for associations we open
        (Linux's C{net.sctp.encap_port}).
    @param mtu: the largest SCTP packet sent (L{EngineConfig.mtu}; C{None}:
        the engine's default, 1200).
    @return: the started port.
    @raise ValueError: C{mtu} is out of range.
    @raise twisted.internet.error.CannotListenError: the UDP port is taken.
    """
    from twisted_sctp.transport.port import SCTPPort

    config = EngineConfig(mtu=mtu) if mtu is not None else None
    backend = EngineBackend(reactor, udpPort, encapPort, config=config)
    p = SCTPPort(port, factory, [interface], options, reactor, backend=backend)
    p.startListening()
    return p
