# -*- test-case-name: tests.test_port -*-
"""
L{SCTPPort}: a Twisted reactor port over one one-to-many SCTP socket
(C{SOCK_SEQPACKET}), with a protocol per association built by a factory.

Receive path: C{doRead} loops C{recvmsg} (bounded per wake-up); messages are
handed up whole (C{MSG_EOR}), partial deliveries are reassembled up to
L{SCTPPort.maxMessageSize} and beyond it dropped and counted; notifications
drive the L{AssociationRegistry} and the counters.

Send path: by association (kernel assoc_id, no address) or by address (the
kernel opens an association implicitly); on C{EAGAIN} the message goes to a
bounded per-association queue drained when the socket is writable, with
C{IPushProducer} backpressure to the protocol's registered producer.
"""

from __future__ import annotations

import collections
import errno
import socket
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import attrs
from zope.interface import implementer

from twisted.internet import defer, error as ierror, main
from twisted.internet.interfaces import (
    IListeningPort,
    ILoggingContext,
    IProducer,
    IProtocolFactory,
    IPushProducer,
    IReadDescriptor,
    IWriteDescriptor,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_sctp.transport.address import HostPort, SCTPAddress, familyOf, normalizeHost
from twisted_sctp.transport.registry import Association, AssociationRegistry, AssociationState
from twisted_sctp.kernel.constants import (
    IPPROTO_SCTP,
    MSG_EOR,
    MSG_NOTIFICATION,
    PR_SCTP_TTL,
    AssocChangeState,
    NotificationType,
    PeerAddrState,
    SendFlags,
)
from twisted_sctp.error import (
    AssociationLimitError,
    AssociationLost,
    ConnectError,
    SendQueueFullError,
    UnknownAssociationError,
)
from twisted_sctp.transport.interfaces import IAssociationTransport
from twisted_sctp.transport.options import SCTPOptions, RuntimeChange, changeOption
from twisted_sctp.kernel.readpolicy import ReadPolicy
from twisted_sctp.kernel.notifications import (
    AssocChange,
    PartialDeliveryEvent,
    PeerAddrChange,
    RemoteError,
    SendFailed,
    SendFailedEvent,
    ShutdownEvent,
    decodeNotification,
)
from twisted_sctp.kernel.sockopt import CodecError, SndRcvInfo, receiveInfo, receiveTime
from twisted_sctp.transport.stats import SCTPStats

#: The reason text carried in the ABORT of an association over max_assocs.
MAX_ASSOCS_REASON = b"Maximum configured number of open associations exceeded"

#: errnos after which reading or writing simply stops until the next wake-up.
_WOULD_BLOCK = (errno.EAGAIN, errno.EWOULDBLOCK)
#: errnos that are retried at once.
_RETRY = (errno.EINTR,)
#: errnos of recvmsg that do not stop the port (the reference continues too).
_READ_TRANSIENT = (errno.ECONNREFUSED, errno.ECONNRESET, errno.ENOBUFS, errno.ENOMEM)
#: errnos of a send by assoc_id meaning "that association is gone".
_ASSOC_GONE = (errno.EPIPE, errno.ENOENT, errno.EINVAL, errno.ESHUTDOWN)

#: How many send infos and packed control messages a port keeps (it
#: starts afresh when full).
_SEND_CACHE_SIZE = 4096

#: sinfo_context bits that carry the remaining send_retries; the rest is
#: the caller's context.
_RETRY_SHIFT = 28
_CONTEXT_MASK = (1 << _RETRY_SHIFT) - 1

_PATH_STATES: Dict[int, str] = {
    PeerAddrState.ADDR_AVAILABLE: "active",
    PeerAddrState.ADDR_UNREACHABLE: "unreachable",
    PeerAddrState.ADDR_REMOVED: "removed",
    PeerAddrState.ADDR_ADDED: "active",
    PeerAddrState.ADDR_MADE_PRIM: "active",
    PeerAddrState.ADDR_CONFIRMED: "active",
    PeerAddrState.ADDR_POTENTIALLY_FAILED: "potentially-failed",
}

Target = Union[Association, int, SCTPAddress, HostPort]

_log = Logger()


@attrs.frozen
class SCTPMessage:
    """
    One SCTP user message as received.

    @ivar payload: the message bytes (whole, reassembled if needed).
    @ivar stream: the stream it came on.
    @ivar ppid: the payload protocol identifier (host byte order).
    @ivar flags: the sinfo_flags of the receive info (e.g. unordered).
    @ivar association: the association it came on.
    @ivar source: the peer address it came from.
    """

    payload: bytes
    stream: int
    ppid: int
    flags: int
    association: Association
    source: HostPort


@attrs.frozen
class SCTPEvent:
    """
    A kernel SCTP event passed to observers (the reference's event hooks).

    @ivar kind: C{"assoc_change"}, C{"peer_addr_change"}, C{"send_failed"},
        C{"remote_error"}, C{"shutdown"}, C{"partial_delivery"},
        C{"sender_dry"} or C{"other"}.
    @ivar association: the association concerned, if known.
    @ivar notification: the decoded notification.
    @ivar peer: the peer address the kernel gave with it.
    """

    kind: str
    association: Optional[Association]
    notification: Any
    peer: Optional[HostPort]


@attrs.define
class _Outgoing:
    data: bytes
    info: SndRcvInfo
    address: Optional[HostPort]


def _hostPort(address: Any) -> Optional[HostPort]:
    if not address or not isinstance(address, tuple) or len(address) < 2:
        return None
    host = address[0]
    try:
        host = normalizeHost(host)
    except ValueError:
        pass
    return (host, address[1])


@implementer(IAssociationTransport)
class AssociationTransport:
    """
    The transport of one association (see L{IAssociationTransport}).
    """

    disconnecting = False
    connected = True

    def __init__(self, port: "SCTPPort", association: Association) -> None:
        self._port = port
        self.association = association
        self.producer: Optional[IProducer] = None
        self.streamingProducer = False
        self.producerPaused = False

    def write(self, data: bytes) -> None:
        self._port.sendMessage(data, self.association)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def writeMessage(
        self,
        data: bytes,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        ttl: Optional[int] = None,
        context: int = 0,
    ) -> None:
        self._port.sendMessage(data, self.association, stream, ppid, unordered, ttl, context)

    def loseConnection(self) -> None:
        if self.disconnecting or not self.connected:
            return
        self.disconnecting = True
        self._port.shutdownAssociation(self.association)

    def abortConnection(self, reason: bytes = b"") -> None:
        if not self.connected:
            return
        self.disconnecting = True
        self._port.abortAssociation(self.association, reason)

    def getPeer(self) -> SCTPAddress:
        return self.association.peer

    def getHost(self) -> SCTPAddress:
        return self._port.getHost()

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        if self.producer is not None:
            raise RuntimeError("a producer is already registered")
        self.producer = producer
        self.streamingProducer = streaming
        if not streaming:
            producer.resumeProducing()  # type: ignore[attr-defined]

    def unregisterProducer(self) -> None:
        self.producer = None

    def _pause(self) -> None:
        if self.producer is not None and self.streamingProducer and not self.producerPaused:
            self.producerPaused = True
            self.producer.pauseProducing()  # type: ignore[attr-defined]

    def _resume(self) -> None:
        if self.producer is not None and self.producerPaused:
            self.producerPaused = False
            self.producer.resumeProducing()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return "<AssociationTransport id={} assoc_id={} peer={}>".format(
            self.association.id, self.association.assocID, self.association.peer
        )


@implementer(IListeningPort, IReadDescriptor, IWriteDescriptor, ILoggingContext, IPushProducer)
class SCTPPort:
    """
    A one-to-many SCTP socket on the reactor.

    @ivar registry: the L{AssociationRegistry}.
    @ivar stats: the L{SCTPStats} counters.
    @ivar options: the current L{SCTPOptions}.
    @ivar observers: callables given each L{SCTPEvent}.
    @ivar maxMessageSize: the reassembly bound for partially delivered
        messages; bigger ones are dropped and counted.
    @ivar maxQueuedMessages: per-association send queue bound (messages).
    @ivar maxQueuedBytes: per-association send queue bound (bytes).
    @ivar highWaterBytes: queued bytes above which the protocol's producer
        is paused (resumed once the queue is empty).
    """

    maxReadsPerWakeup = 64
    readBufferSize = 65536
    ancillaryBufferSize = 1024
    maxMessageSize = 1 << 20
    maxQueuedMessages = 10000
    maxQueuedBytes = 8 << 20
    highWaterBytes = 256 << 10
    backlog = 128
    socket: Any = None

    def __init__(
        self,
        port: int,
        factory: IProtocolFactory,
        interfaces: Sequence[str] = ("127.0.0.1",),
        options: Optional[SCTPOptions] = None,
        reactor: Any = None,
        kernel: Any = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as _r

            reactor = _r
        self._reactor = reactor
        self.port = port
        self.factory = factory
        self.interfaces = [normalizeHost(h) for h in interfaces] or ["0.0.0.0"]
        self.options = options if options is not None else SCTPOptions()
        if kernel is None:
            from twisted_sctp.kernel import sctpsocket
            kernel = sctpsocket
        self._kernel: Any = kernel
        self.family = socket.AF_INET6 if any(familyOf(h) == socket.AF_INET6 for h in self.interfaces) else socket.AF_INET
        self.registry = AssociationRegistry(
            reactor, tracking=bool(self.options.assoc_tracking), maxAssocs=self.options.max_assocs
        )
        self.stats = SCTPStats()
        self.observers: List[Callable[[SCTPEvent], None]] = []
        self.warnings: List[str] = []
        self.bindFailures: List[Tuple[str, OSError]] = []
        self.boundPort = 0
        self.connected = False
        self.disconnected = False
        self._reading = False
        self._writing = False
        self._queues: Dict[Association, Deque[_Outgoing]] = {}
        self._queuedBytes: Dict[Association, int] = collections.defaultdict(int)
        self._partial: Dict[Tuple[bool, int], List[bytes]] = {}
        self._partialSize: Dict[Tuple[bool, int], int] = {}
        self._dropping: set[Tuple[bool, int]] = set()
        self._connecting: Dict[Association, List[defer.Deferred[Any]]] = {}
        #: The wake-up's time (the first message's arrival, or the reactor's
        #: clock), for the registry's activity times; None outside doRead.
        self._readTime: Optional[float] = None
        self._readPolicy = ReadPolicy()
        #: Send infos by _sndinfo's arguments, and packed control messages
        #: by (info, assoc_id): a port sends with few distinct ones.
        self._sndinfos: Dict[Tuple[int, int, bool, int, int, int], SndRcvInfo] = {}
        self._ancillaries: Dict[Tuple[SndRcvInfo, Optional[int]], List[Tuple[int, int, bytes]]] = {}

    # -- listening -------------------------------------------------------

    def startListening(self) -> None:
        """
        Open the socket, apply the options in the reference's order, bind
        every interface (the first is primary; a failing secondary is logged,
        not fatal), listen and start reading.

        @raise twisted.internet.error.CannotListenError: binding failed.
        @raise twisted_sctp.error.SCTPUnavailableError: no kernel SCTP.
        """
        sock = self._kernel.openSocket(self.family)
        try:
            self.warnings = self._kernel.applyOptions(sock, self.options, self.family)
            for text in self.warnings:
                _log.warn("setting some sctp sockopts failed: {problem}", problem=text)
            try:
                self.boundPort, self.bindFailures = self._kernel.bindAddresses(sock, self.interfaces, self.port)
            except OSError as e:
                raise ierror.CannotListenError(self.interfaces[0], self.port, e)
            for host, err in self.bindFailures:
                _log.warn("could not add address {host} to the SCTP listener: {err}", host=host, err=err)
            sock.listen(self.backlog)
        except BaseException:
            sock.close()
            raise
        self.socket = sock
        self.connected = True
        self.factory.doStart()
        self.startReading()
        _log.info("{prefix} listening on {address}", prefix=self.logPrefix(), address=self.getHost())

    def stopListening(self) -> defer.Deferred[None]:
        """
        Close the socket (the kernel shuts every association down) and tell
        each association's protocol.
        """
        self.loseConnection()
        return defer.succeed(None)

    def loseConnection(self) -> None:
        if not self.connected:
            return
        self.connectionLost(Failure(main.CONNECTION_DONE))

    def connectionLost(self, reason: Failure) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self.connected = False
        self.stopReading()
        self.stopWriting()
        for assoc in list(self.registry):
            if assoc.upSeen:
                self.registry.down(assoc.assocID, "port_closed")
            else:
                self.registry.failed(assoc, "port_closed")
            self._lost(assoc, "port_closed")
        if self.socket is not None:
            try:
                self.socket.close()
            except OSError:
                pass
        self.factory.doStop()

    def getHost(self) -> SCTPAddress:
        return SCTPAddress(self.interfaces[0], self.boundPort, tuple(self.interfaces))

    def fileno(self) -> int:
        if self.socket is None:
            return -1
        return int(self.socket.fileno())

    def logPrefix(self) -> str:
        return "SCTPPort({})".format(self.boundPort or self.port)

    def __repr__(self) -> str:
        return "<SCTPPort {} {}>".format(self.getHost(), "listening" if self.connected else "closed")

    # -- reactor plumbing ------------------------------------------------

    def startReading(self) -> None:
        if not self._reading and self.connected:
            self._reading = True
            self._reactor.addReader(self)

    def stopReading(self) -> None:
        if self._reading:
            self._reading = False
            self._reactor.removeReader(self)

    def startWriting(self) -> None:
        if not self._writing and self.connected:
            self._writing = True
            self._reactor.addWriter(self)

    def stopWriting(self) -> None:
        if self._writing:
            self._writing = False
            self._reactor.removeWriter(self)

    def pauseProducing(self) -> None:
        self.stopReading()

    def resumeProducing(self) -> None:
        self.startReading()

    def stopProducing(self) -> None:
        self.loseConnection()

    # -- receiving -------------------------------------------------------

    def doRead(self) -> Optional[Failure]:
        """
        Read up to L{maxReadsPerWakeup} messages; after the first, read on
        only where L{ReadPolicy} expects more (the socket stays readable, so
        a message left is read at the next wake-up).

        The activity times of everything received and sent during the
        wake-up are the first message's arrival time from the kernel
        (C{SO_TIMESTAMPNS}), or the reactor's clock where there is none.
        """
        try:
            return self._readMessages()
        finally:
            self._readTime = None

    def _readMessages(self) -> Optional[Failure]:
        recvmsg = self.socket.recvmsg
        policy = self._readPolicy
        got = 0
        asked = probing = False
        # A notification (COMM_UP comes with the data bundled behind it) or a
        # piece of a message says that more is queued: read on without
        # asking the policy.
        moreQueued = False
        for _ in range(self.maxReadsPerWakeup):
            if got and not asked and not moreQueued:
                if not policy.readOn():
                    return None
                asked = probing = True
            try:
                data, ancdata, flags, address = recvmsg(self.readBufferSize, self.ancillaryBufferSize)
            except OSError as e:
                if e.errno in _WOULD_BLOCK:
                    if probing:
                        policy.found(False)
                    return None
                if e.errno in _RETRY or e.errno in _READ_TRANSIENT:
                    continue
                _log.error("{prefix} recvmsg failed: {err}", prefix=self.logPrefix(), err=e)
                return Failure(main.CONNECTION_LOST)
            if probing:
                policy.found(True)
                probing = False
            got += 1
            moreQueued = bool(flags & MSG_NOTIFICATION or not flags & MSG_EOR)
            if self._readTime is None:
                arrived = receiveTime(ancdata)
                self._readTime = self._reactor.seconds() if arrived is None else arrived
            try:
                self._received(data, ancdata, flags, address)
            except Exception:
                _log.failure("while handling an SCTP message")
            if self.disconnected:
                return None
        return None

    def _received(self, data: bytes, ancdata: List[Tuple[int, int, bytes]], flags: int, address: Any) -> None:
        isNotification = bool(flags & MSG_NOTIFICATION)
        info = None if isNotification else receiveInfo(ancdata)
        key = (isNotification, info[0] if info is not None else 0)
        if not flags & MSG_EOR:
            self._partialPiece(key, data)
            return
        if key in self._dropping:
            self._dropping.discard(key)
            return
        if key in self._partial:
            data = b"".join(self._partial.pop(key)) + data
            del self._partialSize[key]
            self.stats.partial_reassembled += 1
        source = _hostPort(address)
        if isNotification:
            self._notification(data, source)
        else:
            self._data(data, info, source)

    def _partialPiece(self, key: Tuple[bool, int], data: bytes) -> None:
        if key in self._dropping:
            return
        size = self._partialSize.get(key, 0) + len(data)
        if size > self.maxMessageSize:
            self._partial.pop(key, None)
            self._partialSize.pop(key, None)
            self._dropping.add(key)
            self.stats.drop("oversize")
            _log.warn(
                "{prefix} dropping a message over {limit} bytes (association {assocID})",
                prefix=self.logPrefix(),
                limit=self.maxMessageSize,
                assocID=key[1],
            )
            return
        self._partial.setdefault(key, []).append(data)
        self._partialSize[key] = size

    def _data(self, data: bytes, info: Optional[Tuple[int, int, int, int]], source: Optional[HostPort]) -> None:
        """
        @param info: C{(assocID, stream, ppid, flags)} from L{receiveInfo}.
        """
        if source is not None and source[1] == 0:
            self.stats.drop("source_port_zero")
            return
        if info is None:
            assoc = self.registry.byPeer(source) if source else None
            if assoc is None:
                self.stats.drop("no_sndrcvinfo")
                _log.warn("{prefix} data without SCTP receive info from {source}", prefix=self.logPrefix(), source=source)
                return
        else:
            assoc = self._associationFor(info[0], source)
        if assoc.rejected:
            self.stats.drop("rejected_association")
            return
        size = len(data)
        self.registry.received(assoc, size, self._readTime)
        self.stats.messages_in += 1
        self.stats.bytes_in += size
        protocol = assoc.protocol
        if protocol is None:
            self.stats.drop("protocol_error")
            return
        try:
            handler = getattr(protocol, "messageReceived", None)
            if handler is not None:
                if info is None:
                    stream = ppid = mflags = 0
                else:
                    _, stream, ppid, mflags = info
                    ppid = socket.ntohl(ppid)
                handler(SCTPMessage(data, stream, ppid, mflags, assoc, source or assoc.peer.paths()[0]))
            else:
                protocol.dataReceived(data)
        except Exception:
            self.stats.drop("protocol_error")
            _log.failure("{prefix} protocol {protocol!r} raised", prefix=self.logPrefix(), protocol=protocol)

    def _associationFor(self, assocID: int, source: Optional[HostPort]) -> Association:
        assoc = self.registry.byKernelID(assocID, source)
        if assoc is not None:
            return assoc
        old = self.registry.byKernelID(assocID)
        if old is not None and source is not None:
            # A new peer address (ASCONF) or a reused kernel id: ask the kernel.
            paths = self._peerPaths(assocID, source)
            if source in paths and any(old.hasPath(p) for p in paths):
                self.registry.setPaths(old, paths)
                return old
            if old.upSeen:
                self.registry.down(assocID, "comm_lost")
            else:
                self.registry.failed(old, "comm_lost")
            self._lost(old, "comm_lost")
        assoc = self.registry.implicit(assocID, source or ("", 0))
        if source is not None:
            self.registry.setPaths(assoc, self._peerPaths(assocID, source))
        self._attachProtocol(assoc)
        return assoc

    def _peerPaths(self, assocID: int, fallback: HostPort) -> List[HostPort]:
        try:
            paths = [_hostPort(p) for p in self._kernel.peerAddresses(self.socket, assocID)]
        except OSError:
            return [fallback]
        return [p for p in paths if p is not None] or [fallback]

    # -- notifications ---------------------------------------------------

    def _notification(self, data: bytes, source: Optional[HostPort]) -> None:
        self.stats.notifications_in += 1
        try:
            note = decodeNotification(data)
        except CodecError as e:
            self.stats.drop("short_notification" if len(data) < 8 else "bad_notification")
            _log.warn("{prefix} bad SCTP notification: {err}", prefix=self.logPrefix(), err=e)
            return
        kind = "other"
        assoc: Optional[Association] = None
        if isinstance(note, AssocChange):
            kind = "assoc_change"
            assoc = self._assocChange(note, source)
        elif isinstance(note, PeerAddrChange):
            kind = "peer_addr_change"
            assoc = self._peerAddrChange(note)
        elif isinstance(note, (SendFailed, SendFailedEvent)):
            kind = "send_failed"
            assoc = self._sendFailed(note, source)
        elif isinstance(note, RemoteError):
            kind = "remote_error"
            assoc = self.registry.byKernelID(note.assocID)
            _log.warn("{prefix} remote error {error} on association {assocID}", prefix=self.logPrefix(), error=note.error, assocID=note.assocID)
        elif isinstance(note, ShutdownEvent):
            kind = "shutdown"
            self.stats.remote_shutdown += 1
            assoc = self.registry.byKernelID(note.assocID)
            if assoc is not None:
                assoc.shutdownSeen = True
                assoc.state = AssociationState.SHUTTING_DOWN
        elif isinstance(note, PartialDeliveryEvent):
            kind = "partial_delivery"
            key = (False, note.assocID)
            if key in self._partial or key in self._dropping:
                self._partial.pop(key, None)
                self._partialSize.pop(key, None)
                self._dropping.discard(key)
                self.stats.drop("no_eor")
            _log.error("{prefix} partial delivery aborted on association {assocID}", prefix=self.logPrefix(), assocID=note.assocID)
        elif getattr(note, "type", None) == NotificationType.SENDER_DRY_EVENT:
            kind = "sender_dry"
        self._notify(SCTPEvent(kind, assoc, note, source))

    def _notify(self, event: SCTPEvent) -> None:
        for observer in list(self.observers):
            try:
                observer(event)
            except Exception:
                _log.failure("SCTP event observer {observer!r} raised", observer=observer)

    def _assocChange(self, note: AssocChange, source: Optional[HostPort]) -> Optional[Association]:
        state = note.state
        if state == AssocChangeState.COMM_UP:
            return self._commUp(note, source)
        if state == AssocChangeState.COMM_LOST:
            self.stats.comm_lost += 1
            known = self.registry.byKernelID(note.assocID)
            how = "comm_lost"
            if known is not None:
                if known.rejected:
                    how = "rejected"
                elif known.closeRequested == "abort":
                    how = "aborted"
            assoc = self.registry.down(note.assocID, how)
            if assoc is not None:
                self._lost(assoc, how, note.error)
            return assoc
        if state == AssocChangeState.SHUTDOWN_COMP:
            self.stats.assoc_shutdown += 1
            known = self.registry.byKernelID(note.assocID)
            how = "shutdown"
            if known is not None and not known.shutdownSeen and known.closeRequested is None:
                how = "autoclose"
                self.stats.autoclosed += 1
            assoc = self.registry.down(note.assocID, how)
            if assoc is not None:
                self._lost(assoc, how)
            return assoc
        if state == AssocChangeState.RESTART:
            self.stats.restarts += 1
            return self.registry.byKernelID(note.assocID)
        if state == AssocChangeState.CANT_STR_ASSOC:
            self.stats.connect_failed += 1
            assoc = self.registry.byKernelID(note.assocID)
            if assoc is None and source is not None:
                assoc = self.registry.byPeer(source)
            if assoc is not None and assoc.state == AssociationState.CONNECTING:
                self.registry.failed(assoc, "connect_failed")
                self._lost(assoc, "connect_failed", note.error)
            return assoc
        return None

    def _commUp(self, note: AssocChange, source: Optional[HostPort]) -> Association:
        self.stats.established += 1
        primary = source or ("", 0)
        paths = self._peerPaths(note.assocID, primary)
        if primary not in paths:
            paths.insert(0, primary)
        # registry.up() completes a record made by connect(), by an implicit
        # send, or by data that got here before this COMM_UP.
        peer = SCTPAddress(primary[0], primary[1], tuple(h for h, _ in paths))
        assoc, stale = self.registry.up(note.assocID, peer, note.inboundStreams, note.outboundStreams)
        if stale is not None:
            self._lost(stale, "comm_lost")
        self.registry.setPaths(assoc, paths)
        limit = self.registry.maxAssocs
        if limit >= 0 and self.registry.opened > limit:
            assoc.rejected = True
            try:
                self._sendmsg(MAX_ASSOCS_REASON, SndRcvInfo(flags=SendFlags.UNORDERED | SendFlags.ABORT, assocID=note.assocID), None)
            except OSError as e:
                _log.warn("{prefix} could not abort association {assocID} over max_assocs: {err}", prefix=self.logPrefix(), assocID=note.assocID, err=e)
            else:
                self.stats.local_reject += 1
            self._failQueue(assoc, "rejected_association")
            self._failConnects(assoc, AssociationLimitError("max_assocs={} reached".format(limit)))
            return assoc
        if assoc.protocol is None:
            self._attachProtocol(assoc)
        if assoc.protocol is not None:
            for d in self._connecting.pop(assoc, []):
                d.callback(assoc.protocol)
        if self._queues.get(assoc):
            self.startWriting()
        return assoc

    def _attachProtocol(self, assoc: Association) -> None:
        try:
            protocol = self.factory.buildProtocol(assoc.peer)
        except Exception:
            _log.failure("{prefix} buildProtocol failed", prefix=self.logPrefix())
            protocol = None
        if protocol is None:
            self.abortAssociation(assoc, b"refused")
            return
        transport = AssociationTransport(self, assoc)
        assoc.protocol = protocol
        assoc.transport = transport
        try:
            protocol.makeConnection(transport)
        except Exception:
            _log.failure("{prefix} makeConnection failed", prefix=self.logPrefix())

    def _peerAddrChange(self, note: PeerAddrChange) -> Optional[Association]:
        assoc = self.registry.byKernelID(note.assocID)
        if assoc is not None:
            address = _hostPort(note.address)
            if address is not None:
                self.registry.pathChange(assoc, address, _PATH_STATES.get(note.state, str(note.state)))
        return assoc

    def _sendFailed(self, note: Union[SendFailed, SendFailedEvent], source: Optional[HostPort]) -> Optional[Association]:
        self.stats.send_failed += 1
        assoc = self.registry.byKernelID(note.assocID)
        context = note.info.context
        retries = context >> _RETRY_SHIFT
        address = source or (assoc.peer.paths()[0] if assoc is not None else None)
        if note.error == 0 and retries > 0 and address is not None and note.data:
            info = self._sndinfo(
                getattr(note.info, "stream", getattr(note.info, "sid", 0)),
                socket.ntohl(note.info.ppid),
                bool(note.info.flags & SendFlags.UNORDERED),
                None,
                context & _CONTEXT_MASK,
                retries - 1,
            )
            self.stats.send_force_retry += 1
            try:
                self._submit(self._resolveAddress(address), address, note.data, info)
            except Exception as e:
                _log.warn("{prefix} re-send after SEND_FAILED failed: {err}", prefix=self.logPrefix(), err=e)
        else:
            _log.warn(
                "{prefix} send failed to {peer} (error {error}, {size} bytes not re-sent)",
                prefix=self.logPrefix(),
                peer=address,
                error=note.error,
                size=len(note.data),
            )
        return assoc

    def _lost(self, assoc: Association, how: str, error: int = 0) -> None:
        # Our queue's messages never reached the kernel: re-send them when
        # the kernel's own unsent ones come back re-sendable (error 0).
        self._failQueue(assoc, "association_lost", resend=how != "port_closed" and error == 0)
        key = (False, assoc.assocID)
        if self._partial.pop(key, None) is not None:
            self._partialSize.pop(key, None)
            self.stats.drop("no_eor")
        self._failConnects(assoc, ConnectError(how, error) if how == "connect_failed" else AssociationLost(how, error))
        transport = assoc.transport
        if transport is not None:
            transport.connected = False
            transport.disconnecting = False
        protocol, assoc.protocol = assoc.protocol, None
        if protocol is not None:
            try:
                protocol.connectionLost(Failure(AssociationLost(how, error)))
            except Exception:
                _log.failure("{prefix} connectionLost raised", prefix=self.logPrefix())

    def _failConnects(self, assoc: Association, exc: Exception) -> None:
        for d in self._connecting.pop(assoc, []):
            d.errback(Failure(exc))

    # -- sending ---------------------------------------------------------

    def _sndinfo(
        self,
        stream: int,
        ppid: int,
        unordered: bool,
        ttl: Optional[int],
        context: int,
        retries: Optional[int] = None,
    ) -> SndRcvInfo:
        if ttl is None:
            ttl = self.options.send_ttl
        if retries is None:
            retries = self.options.send_retries
        key = (stream, ppid, unordered, ttl, context, retries)
        info = self._sndinfos.get(key)
        if info is not None:
            return info
        flags = SendFlags.UNORDERED if unordered else 0
        if ttl:
            flags |= PR_SCTP_TTL
        if not 0 <= context <= _CONTEXT_MASK:
            raise ValueError("context must be 0..{}".format(_CONTEXT_MASK))
        info = SndRcvInfo(
            stream=stream,
            flags=int(flags),
            ppid=socket.htonl(ppid & 0xFFFFFFFF),
            context=(retries << _RETRY_SHIFT) | context,
            timetolive=ttl,
        )
        if len(self._sndinfos) >= _SEND_CACHE_SIZE:
            self._sndinfos.clear()
        self._sndinfos[key] = info
        return info

    def sendMessage(
        self,
        data: bytes,
        target: Target,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = True,
        ttl: Optional[int] = None,
        context: int = 0,
    ) -> Association:
        """
        Send C{data} as one SCTP message.

        @param target: an L{Association} (or its id) to send on, or a peer
            address (C{(host, port)} or L{SCTPAddress}): an existing
            association to it is used, otherwise the kernel opens one.
        @param ttl: PR-SCTP time to live in ms (default: send_ttl; 0: none).
        @param context: the caller's context (0..2**28-1), reported back in
            SEND_FAILED; the top bits carry the remaining send_retries.
        @return: the association the message was sent or queued on.
        @raise AssociationLimitError: a new association would go over
            max_assocs (tracking on); nothing was sent.
        @raise SendQueueFullError: the per-association queue is full.
        @raise UnknownAssociationError: no tracked association has that id.
        """
        if not self.connected:
            raise ierror.NotListeningError("the SCTP port is closed")
        info = self._sndinfo(stream, ppid, unordered, ttl, context)
        if isinstance(target, int):
            found = self.registry.byID(target)
            if found is None:
                raise UnknownAssociationError(target)
            target = found
        if isinstance(target, Association):
            assoc = target
            if assoc.state == AssociationState.CLOSED or not self.options.assoc_reuse:
                address = assoc.peer.paths()[0]
                assoc = self._resolveAddress(address)
                self._submit(assoc, address, data, info)
                return assoc
            self._submit(assoc, None if assoc.assocID else assoc.peer.paths()[0], data, info)
            return assoc
        if isinstance(target, SCTPAddress):
            address = (normalizeHost(target.host), target.port)
            peer = target
        else:
            address = (normalizeHost(target[0]), int(target[1]))
            peer = SCTPAddress(address[0], address[1])
        assoc = self._resolveAddress(address, peer)
        self._submit(assoc, address, data, info)
        return assoc

    def _resolveAddress(self, address: HostPort, peer: Optional[SCTPAddress] = None) -> Association:
        assoc = self.registry.byPeer(address)
        if assoc is not None and not assoc.rejected:
            return assoc
        if self.registry.tracking and self.registry.wouldExceed():
            self.stats.outgoing_refused += 1
            raise AssociationLimitError(
                "max_assocs={} associations are open; not opening one to {}:{}".format(self.registry.maxAssocs, *address)
            )
        return self.registry.connecting(peer or SCTPAddress(address[0], address[1]))

    def _sockaddr(self, address: HostPort) -> Tuple[Any, ...]:
        if self.family == socket.AF_INET6:
            host = address[0]
            if familyOf(host) == socket.AF_INET:
                host = "::ffff:" + host
            return (host, address[1], 0, 0)
        return address

    def _ancillary(self, info: SndRcvInfo, assocID: Optional[int]) -> List[Tuple[int, int, bytes]]:
        """
        @return: the C{SCTP_SNDRCV} control message for C{info}, with
            C{assocID} in place of its own if given; packed once and kept.
        """
        key = (info, assocID)
        ancillary = self._ancillaries.get(key)
        if ancillary is None:
            packed = (info if assocID is None else attrs.evolve(info, assocID=assocID)).pack()
            if len(self._ancillaries) >= _SEND_CACHE_SIZE:
                self._ancillaries.clear()
            ancillary = self._ancillaries[key] = [(IPPROTO_SCTP, 1, packed)]
        return ancillary

    def _sendmsg(self, data: bytes, info: SndRcvInfo, address: Optional[HostPort], assocID: Optional[int] = None) -> int:
        """
        @param assocID: the kernel association to send on, in place of
            C{info}'s own C{assocID}.
        """
        ancillary = self._ancillary(info, assocID)
        while True:
            try:
                if address is None:
                    return int(self.socket.sendmsg([data], ancillary))
                return int(self.socket.sendmsg([data], ancillary, 0, self._sockaddr(address)))
            except InterruptedError:
                continue

    def _submit(self, assoc: Association, address: Optional[HostPort], data: bytes, info: SndRcvInfo) -> None:
        queue = self._queues.get(assoc)
        if queue:
            self._enqueue(assoc, _Outgoing(data, info, address))
            return
        try:
            self._sendOne(assoc, data, info, address)
        except BlockingIOError:
            self.stats.sendq_full += 1
            self._enqueue(assoc, _Outgoing(data, info, address))

    def _sendOne(self, assoc: Association, data: bytes, info: SndRcvInfo, address: Optional[HostPort]) -> None:
        """
        One sendmsg, by assoc_id when we have one, falling back to the
        address when the kernel says the association is gone.

        @raise BlockingIOError: on EAGAIN.
        """
        if info.flags & PR_SCTP_TTL and not assoc.upSeen:
            # Linux sets a message's PR-SCTP expiry only when it knows the
            # peer supports PR-SCTP, which it cannot before the INIT ACK: the
            # message that opens an association would expire at once
            # (SEND_FAILED, error 0).  Until COMM_UP, send without the policy.
            info = attrs.evolve(info, flags=info.flags & ~PR_SCTP_TTL)
        if address is None and assoc.assocID:
            try:
                self._sendmsg(data, info, None, assoc.assocID)
            except BlockingIOError:
                raise
            except OSError as e:
                if e.errno not in _ASSOC_GONE:
                    self.stats.send_errors += 1
                    raise
                address = assoc.peer.paths()[0]
                self._sendmsg(data, info, address)
        else:
            if address is None:
                address = assoc.peer.paths()[0]
            try:
                self._sendmsg(data, info, address)
            except BlockingIOError:
                raise
            except OSError:
                self.stats.send_errors += 1
                if assoc.state == AssociationState.CONNECTING and not self._connecting.get(assoc):
                    self.registry.failed(assoc, "send_error")
                raise
        size = len(data)
        self.registry.sent(assoc, size, self._readTime)
        self.stats.messages_out += 1
        self.stats.bytes_out += size

    def _enqueue(self, assoc: Association, item: _Outgoing) -> None:
        queue = self._queues.setdefault(assoc, collections.deque())
        size = len(item.data)
        if len(queue) >= self.maxQueuedMessages or self._queuedBytes[assoc] + size > self.maxQueuedBytes:
            self.stats.drop("queue_full")
            if not queue:
                del self._queues[assoc]
            raise SendQueueFullError(
                "send queue of association {} is full ({} messages, {} bytes)".format(
                    assoc.id or assoc.assocID, len(queue), self._queuedBytes[assoc]
                )
            )
        queue.append(item)
        self._queuedBytes[assoc] += size
        self.stats.queued += 1
        if self._queuedBytes[assoc] > self.highWaterBytes and assoc.transport is not None:
            assoc.transport._pause()
        self.startWriting()

    def queuedMessages(self, assoc: Association) -> int:
        """
        @return: how many messages wait in C{assoc}'s send queue.
        """
        return len(self._queues.get(assoc, ()))

    def doWrite(self) -> Optional[Failure]:
        """
        The socket is writable: drain the per-association queues in turn.
        """
        for assoc, queue in list(self._queues.items()):
            while queue:
                item = queue[0]
                try:
                    self._sendOne(assoc, item.data, item.info, item.address)
                except BlockingIOError:
                    return None
                except OSError as e:
                    self.stats.drop("association_lost")
                    _log.warn("{prefix} dropping a queued message: {err}", prefix=self.logPrefix(), err=e)
                queue.popleft()
                self._queuedBytes[assoc] -= len(item.data)
            del self._queues[assoc]
            self._queuedBytes.pop(assoc, None)
            if assoc.transport is not None:
                assoc.transport._resume()
        if not self._queues:
            self.stopWriting()
        return None

    def _failQueue(self, assoc: Association, reason: str, resend: bool = False) -> None:
        queue = self._queues.pop(assoc, None)
        self._queuedBytes.pop(assoc, None)
        dropped = self._resendQueued(assoc, queue) if queue and resend else list(queue or ())
        if dropped:
            self.stats.drop(reason, len(dropped))
            _log.warn("{prefix} {count} queued message(s) of association {id} dropped: {reason}", prefix=self.logPrefix(), count=len(dropped), id=assoc.id, reason=reason)
        if not self._queues:
            self.stopWriting()

    def _resendQueued(self, assoc: Association, queue: Iterable[_Outgoing]) -> List[_Outgoing]:
        """
        C{assoc} ended (without an error cause) with messages still in our
        queue (never given to the kernel): re-send by address those with
        send_retries left, as L{_sendFailed} does for the kernel's unsent
        ones (one retry fewer, counted in C{send_force_retry}).

        @return: the messages not re-sent (no retries left, or the re-send
            failed), for the caller to drop and count.
        """
        left: List[_Outgoing] = []
        for item in queue:
            retries = item.info.context >> _RETRY_SHIFT
            address = item.address or assoc.peer.paths()[0]
            if retries <= 0:
                left.append(item)
                continue
            info = self._sndinfo(
                item.info.stream,
                socket.ntohl(item.info.ppid),
                bool(item.info.flags & SendFlags.UNORDERED),
                None,
                item.info.context & _CONTEXT_MASK,
                retries - 1,
            )
            self.stats.send_force_retry += 1
            try:
                self._submit(self._resolveAddress(address), address, item.data, info)
            except Exception as e:
                _log.warn("{prefix} re-send of a queued message failed: {err}", prefix=self.logPrefix(), err=e)
                left.append(item)
        return left

    # -- association control ---------------------------------------------

    def connect(self, address: Union[SCTPAddress, HostPort]) -> defer.Deferred[Any]:
        """
        Open an association to C{address} (all of an L{SCTPAddress}'s hosts
        are given to the kernel, for a multihomed peer).

        @return: a Deferred firing with the association's protocol once it is
            up, or failing with L{ConnectError} / L{AssociationLimitError}.
        """
        if isinstance(address, SCTPAddress):
            peer = address
        else:
            peer = SCTPAddress(normalizeHost(address[0]), int(address[1]))
        existing = self.registry.byPeer(peer.paths()[0])
        if existing is not None and existing.protocol is not None and existing.upSeen:
            return defer.succeed(existing.protocol)
        try:
            assoc = existing or self._resolveAddress(peer.paths()[0], peer)
        except AssociationLimitError:
            return defer.fail()
        d: defer.Deferred[Any] = defer.Deferred()
        self._connecting.setdefault(assoc, []).append(d)
        if existing is None:
            try:
                assocID = self._kernel.connectx(self.socket, [(h, p) for h, p in peer.paths()])
            except OSError as e:
                self.registry.failed(assoc, "connect_failed")
                self.stats.connect_failed += 1
                self._failConnects(assoc, ConnectError(str(e)))
                return d
            if assocID and not assoc.assocID and assoc.state == AssociationState.CONNECTING:
                self.registry.setAssocID(assoc, assocID)
        return d

    def shutdownAssociation(self, assoc: Association) -> None:
        """
        Start a graceful SHUTDOWN of C{assoc} (queued messages go first).
        """
        if assoc.state == AssociationState.CLOSED or not assoc.assocID:
            return
        assoc.closeRequested = "shutdown"
        assoc.state = AssociationState.SHUTTING_DOWN
        try:
            self._sendmsg(b"", SndRcvInfo(flags=int(SendFlags.EOF), assocID=assoc.assocID), None)
        except OSError as e:
            _log.warn("{prefix} SHUTDOWN of association {id} failed: {err}", prefix=self.logPrefix(), id=assoc.id, err=e)

    def abortAssociation(self, assoc: Association, reason: bytes = b"") -> None:
        """
        ABORT C{assoc} with C{reason} as the user-initiated abort cause.
        """
        if assoc.state == AssociationState.CLOSED or not assoc.assocID:
            return
        assoc.closeRequested = "abort"
        try:
            self._sendmsg(reason, SndRcvInfo(flags=int(SendFlags.ABORT), assocID=assoc.assocID), None)
        except OSError as e:
            _log.warn("{prefix} ABORT of association {id} failed: {err}", prefix=self.logPrefix(), id=assoc.id, err=e)

    # -- options ---------------------------------------------------------

    def setOption(self, name: str, value: object) -> RuntimeChange:
        """
        Change an option at run time with the reference's rules.

        @return: the L{RuntimeChange}, saying whether it applies now, to new
            associations only, or changes nothing.
        @raise twisted_sctp.error.OptionError: the change is refused.
        """
        change = changeOption(self.options, name, value)
        if change.appliesTo == "new-associations" and self.socket is not None:
            self._kernel.applyRuntimeOption(self.socket, change.name, change.new, self.family)
        self.options = change.options
        if change.flushTracking:
            self.registry.setTracking(False)
        elif bool(self.options.assoc_tracking) != self.registry.tracking:
            self.registry.setTracking(bool(self.options.assoc_tracking))
        self.registry.maxAssocs = self.options.max_assocs
        _log.info("{prefix} option {name} = {value} ({applies})", prefix=self.logPrefix(), name=change.name, value=change.new, applies=change.appliesTo)
        return change

    def getOptions(self, live: bool = False) -> Dict[str, int]:
        """
        @param live: read the kernel's values of this socket (the five
            options that are not kernel state read 0, as the reference's
            C{sctp.options ADDRESS}).
        @return: the 19 options by name, in the documented order.
        """
        if live:
            return dict(self._kernel.readOptions(self.socket, self.family))
        return dict(self.options.asDict())

    def snapshot(self) -> Dict[str, object]:
        """
        @return: every counter, with the computed current_opened_connections
            and current_tracked_connections.
        """
        return self.stats.asDict(self.registry.opened, self.registry.tracked)


def listenSCTP(
    reactor: Any,
    port: int,
    factory: IProtocolFactory,
    interfaces: Sequence[str] = ("127.0.0.1",),
    options: Optional[SCTPOptions] = None,
) -> SCTPPort:
    """
    Listen for SCTP associations on C{port} of C{interfaces} (several
    addresses make a multihomed endpoint) with one one-to-many socket.

    @return: the started L{SCTPPort} (an C{IListeningPort}).
    """
    p = SCTPPort(port, factory, interfaces, options, reactor)
    p.startListening()
    return p
