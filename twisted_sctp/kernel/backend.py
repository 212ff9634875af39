# -*- test-case-name: tests.test_kernelbackend -*-
"""
L{KernelBackend}: the Linux kernel SCTP backend, one one-to-many socket
(C{SOCK_SEQPACKET}) on the reactor (C{IReadDescriptor}/C{IWriteDescriptor}).

Receive: C{doRead} reads with C{recvmmsg} where the C extension is built
(L{twisted_sctp.kernel.mmsg}: one system call reads what is queued, up to
L{KernelBackend.batchSize}; a batch that comes back short ends the wake-up,
so no wake-up pays an empty read), else loops C{recvmsg} (after the first
message only where L{ReadPolicy} expects more); both bounded per wake-up
in reads and in bytes;
pieces of a message (no C{MSG_EOR}) are reassembled per association (the
socket's C{SCTP_FRAGMENT_INTERLEAVE} is 1, so pieces of different
associations' messages come interleaved, each with its receive info) up to
L{KernelBackend.maxMessageSize} and beyond it dropped and counted; the ancillary data and the notifications
become the neutral events of L{twisted_sctp.transport.events}
(L{twisted_sctp.kernel.translate}), handed to the sink (the association
layer) whole.  The backend keeps the peer addresses it knows of each
association (from COMM_UP the primary only: the kernel is not asked there,
the event says C{complete=False} and the layer asks L{peerAddresses} when a
lookup by peer address misses), so that a message from an address new to
it comes up with every address the kernel now reports.

Send: C{sendmsg} with one C{SCTP_SNDRCV} control message per distinct
parameters (packed once and kept), by assoc_id or by address; errnos become
C{BlockingIOError} (no room), L{AssociationGoneError} or C{OSError}.  The
PR-SCTP TTL policy is left out until the association is up (see L{send}).
"""

from __future__ import annotations

import socket as _socket
import struct
from socket import AF_INET, AF_INET6, ntohl
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from zope.interface import implementer

from twisted.internet import error as ierror, main
from twisted.internet.interfaces import ILoggingContext, IReadDescriptor, IWriteDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_sctp.kernel import mmsg
from twisted_sctp.kernel.constants import IPPROTO_SCTP, MSG_EOR, MSG_NOTIFICATION, AssocChangeState, SendFlags
from twisted_sctp.kernel.kerneloptions import FRAGMENT_INTERLEAVE
from twisted_sctp.kernel.notifications import AssocChange, decodeNotification
from twisted_sctp.kernel.readpolicy import ReadPolicy
from twisted_sctp.clock import IArrivalClock
from twisted_sctp.kernel.sockopt import CodecError, SndRcvInfo, receiveInfo, receiveTime
from twisted_sctp.kernel.translate import (
    ASSOC_GONE,
    READ_TRANSIENT,
    RETRY,
    WOULD_BLOCK,
    hostPort,
    sendInfo,
    toEvent,
)
from twisted_sctp.transport.address import HostPort, familyOf
from twisted_sctp.transport.backend import AssociationGoneError, ISCTPBackend, ISCTPBackendSink
from twisted_sctp.transport.events import AssociationDown, DataReceived, PartialDeliveryAborted, PathChanged, SendParameters
from twisted_sctp.transport.options import SCTPOptions

#: The ASSOC_CHANGE states that bring an association up.
_UP_STATES = frozenset((AssocChangeState.COMM_UP, AssocChangeState.RESTART))

#: Where C{sinfo_assoc_id} lies in a packed C{sctp_sndrcvinfo} (its last field), and its form.
_ASSOC_ID = struct.Struct("@i")
_ASSOC_ID_AT = SndRcvInfo._layout.size - _ASSOC_ID.size

#: How many packed control messages a backend keeps (it starts afresh when full).
_SEND_CACHE_SIZE = 4096

_log = Logger()

Ancillary = List[Tuple[int, int, bytes]]


@implementer(ISCTPBackend, IReadDescriptor, IWriteDescriptor, ILoggingContext)
class KernelBackend:
    """
    One kernel one-to-many SCTP socket.

    @ivar socket: the socket, once listening.
    @ivar maxMessageSize: the reassembly bound for partially delivered
        messages; bigger ones are dropped and counted.
    @ivar maxReadsPerWakeup: the most messages (or pieces) read in one
        wake-up.
    @ivar batchSize: the most messages one C{recvmmsg} reads (at most
        C{twisted_sctp.kernel._mmsg.MAX_COUNT}); the read buffers are
        this many times L{readBufferSize} and L{ancillaryBufferSize},
        made once per socket.
    @ivar maxBytesPerWakeup: a wake-up stops once it has read this many
        bytes (the reactor then serves its other descriptors and timers;
        the socket stays readable): a peer streaming big messages costs at
        most this much work between two turns of the reactor.
    @ivar fragmentInterleave: the listen socket's C{SCTP_FRAGMENT_INTERLEAVE}
        level (see L{twisted_sctp.kernel.kerneloptions.FRAGMENT_INTERLEAVE});
        set before listening.  0 is the reference's level, under which one
        association's partly delivered message holds every other
        association's input.
    """

    maxReadsPerWakeup = 64
    batchSize = 16
    maxBytesPerWakeup = 1 << 20
    fragmentInterleave = FRAGMENT_INTERLEAVE
    readBufferSize = 65536
    ancillaryBufferSize = 1024
    maxMessageSize = 1 << 20
    backlog = 128
    socket: Any = None

    def __init__(self, reactor: Any, kernel: Any = None, family: int = AF_INET) -> None:
        """
        @param kernel: the kernel calls (L{twisted_sctp.kernel.sctpsocket},
            or a fake such as L{twisted_sctp.testing.FakeKernel}).
        """
        if kernel is None:
            from twisted_sctp.kernel import sctpsocket

            kernel = sctpsocket
        self._reactor = reactor
        self.kernel: Any = kernel
        self.family = family
        self.boundPort = 0
        self.warnings: List[str] = []
        self.bindFailures: List[Tuple[str, OSError]] = []
        self._sink: Any = None
        self._reading = False
        self._writing = False
        self._closed = False
        self._partial: Dict[Tuple[bool, int], List[bytes]] = {}
        self._partialSize: Dict[Tuple[bool, int], int] = {}
        self._dropping: Set[Tuple[bool, int]] = set()
        #: The peer addresses of each association that came up (kernel id).
        self._paths: Dict[int, Tuple[HostPort, ...]] = {}
        self._readPolicy = ReadPolicy()
        #: C{recvmmsg} where it is built and the socket is a real one.
        self._recvmmsg: Any = None
        self._buffers: Tuple[bytearray, bytearray] = (bytearray(), bytearray())
        #: Told each wake-up's first arrival stamp (L{twisted_sctp.reactor}).
        self._arrived = reactor.arrived if IArrivalClock.providedBy(reactor) else None
        self._ancillaries: Dict[Tuple[SendParameters, int, bool], Ancillary] = {}

    # -- ISCTPBackend ----------------------------------------------------

    def listen(self, sink: ISCTPBackendSink, hosts: Sequence[str], port: int, options: SCTPOptions) -> None:
        kernel = self.kernel
        sock = kernel.openSocket(self.family)
        self._sink = sink
        try:
            self.warnings = kernel.applyOptions(sock, options, self.family, interleave=self.fragmentInterleave)
            for text in self.warnings:
                _log.warn("setting some sctp sockopts failed: {problem}", problem=text)
            try:
                self.boundPort, self.bindFailures = kernel.bindAddresses(sock, list(hosts), port)
            except OSError as e:
                raise ierror.CannotListenError(hosts[0], port, e)
            for host, err in self.bindFailures:
                _log.warn("could not add address {host} to the SCTP listener: {err}", host=host, err=err)
            sock.listen(self.backlog)
        except BaseException:
            sock.close()
            raise
        self.socket = sock
        if mmsg.recvmmsg is not None and isinstance(sock, _socket.socket):
            self._recvmmsg = mmsg.recvmmsg
        self.resumeReading()

    def send(self, payload: bytes, params: SendParameters, assocID: int = 0, address: Optional[HostPort] = None) -> None:
        """
        See L{ISCTPBackend.send}.

        Linux sets a message's PR-SCTP expiry only when it knows the peer
        supports PR-SCTP, which it cannot before the INIT ACK: the message
        that opens an association would expire at once (SEND_FAILED, error
        0).  Until the association is up here, the TTL policy is left out.
        """
        up = assocID in self._paths
        if address is None:
            # The reply path, once per message: the control message's cache
            # and sendmsg inline.
            ancillary = self._ancillaries.get((params, assocID, up))
            if ancillary is None:
                ancillary = self._ancillary(params, assocID, up)
            while True:
                try:
                    self.socket.sendmsg([payload], ancillary)
                    return
                except InterruptedError:
                    continue
                except BlockingIOError:
                    raise
                except OSError as e:
                    if e.errno in ASSOC_GONE:
                        raise AssociationGoneError(e.errno, e.strerror) from e
                    raise
        self._sendmsg(payload, self._ancillary(params, 0, up), address)

    def connect(self, paths: Sequence[HostPort]) -> int:
        return int(self.kernel.connectx(self.socket, list(paths)))

    def shutdown(self, assocID: int) -> None:
        self._sendmsg(b"", [(IPPROTO_SCTP, 1, SndRcvInfo(flags=int(SendFlags.EOF), assocID=assocID).pack())], None)

    def abort(self, assocID: int, reason: bytes = b"") -> None:
        self._sendmsg(reason, [(IPPROTO_SCTP, 1, SndRcvInfo(flags=int(SendFlags.ABORT), assocID=assocID).pack())], None)

    def peerAddresses(self, assocID: int) -> List[HostPort]:
        return [p for p in (hostPort(a) for a in self.kernel.peerAddresses(self.socket, assocID)) if p is not None]

    def localAddresses(self, assocID: int = 0) -> List[HostPort]:
        return list(self.kernel.localAddresses(self.socket, assocID))

    def sendWindow(self, assocID: int) -> Optional[Tuple[int, int]]:
        """
        @return: the peer's receive window and our DATA chunks waiting
            for acknowledgement (C{SCTP_STATUS}), or C{None} where the
            kernel cannot say (the association is gone).
        """
        status = getattr(self.kernel, "associationStatus", None)
        if status is None or self.socket is None:
            return None
        try:
            got = status(self.socket, assocID)
        except (OSError, CodecError):
            return None
        return int(got.rwnd), int(got.unackdata)

    def applyOption(self, name: str, value: int) -> None:
        if self.socket is not None:
            self.kernel.applyRuntimeOption(self.socket, name, value, self.family)

    def readOptions(self) -> Dict[str, int]:
        return dict(self.kernel.readOptions(self.socket, self.family))

    def startWriting(self) -> None:
        if not self._writing and not self._closed and self.socket is not None:
            self._writing = True
            self._reactor.addWriter(self)

    def stopWriting(self) -> None:
        if self._writing:
            self._writing = False
            self._reactor.removeWriter(self)

    def pauseReading(self) -> None:
        if self._reading:
            self._reading = False
            self._reactor.removeReader(self)

    def resumeReading(self) -> None:
        if not self._reading and not self._closed and self.socket is not None:
            self._reading = True
            self._reactor.addReader(self)

    def close(self) -> None:
        if self._closed:
            return
        self.pauseReading()
        self.stopWriting()
        self._closed = True
        if self.socket is not None:
            try:
                self.socket.close()
            except OSError:
                pass

    # -- the reactor's side ----------------------------------------------

    def fileno(self) -> int:
        if self.socket is None:
            return -1
        return int(self.socket.fileno())

    def logPrefix(self) -> str:
        return self._sink.logPrefix() if self._sink is not None else "KernelBackend"

    def connectionLost(self, reason: Failure) -> None:
        self._reading = self._writing = False
        if self._sink is not None and not self._closed:
            self._sink.backendLost(reason)

    def doWrite(self) -> Optional[Failure]:
        self._sink.writable()
        return None

    def doRead(self) -> Optional[Failure]:
        """
        Read up to L{maxReadsPerWakeup} messages or L{maxBytesPerWakeup}
        bytes: in batches of L{batchSize} with C{recvmmsg}, until one comes
        back short (the queue was empty); else with C{recvmsg}, after the
        first, reading on only where L{ReadPolicy} expects more.  The socket
        stays readable, so a message left is read at the next wake-up.

        The sink's C{readTime} during the wake-up is the arrival time from
        the kernel (C{SO_TIMESTAMPNS}) of its first data message, or the
        reactor's clock where that has none; notifications carry no time,
        so a batch read with C{recvmmsg} is dated, before any of it is
        reported, by its first message that has one (the OPTIONS bundled
        behind a COMM_UP dates the COMM_UP: no clock read for either), and
        a batch of notifications only (a SHUTDOWN_COMP) leaves it C{None}
        (no clock read unless a consumer needs the time).  A reactor that
        provides L{twisted_sctp.clock.IArrivalClock} is told that arrival
        time (it stands in for the clock read of the reactor's next timer
        check).
        """
        try:
            if self._recvmmsg is not None:
                return self._readBatches()
            return self._readMessages()
        finally:
            self._sink.readTime = None

    def _readBatches(self) -> Optional[Failure]:
        recvmmsg = self._recvmmsg
        sink = self._sink
        slot, ancSlot = self.readBufferSize, self.ancillaryBufferSize
        data, anc = self._buffers
        if len(data) != slot * self.batchSize or len(anc) != ancSlot * self.batchSize:
            data, anc = self._buffers = bytearray(slot * self.batchSize), bytearray(ancSlot * self.batchSize)
        fd = self.socket.fileno()
        left = self.maxReadsPerWakeup
        taken = 0
        budget = self.maxBytesPerWakeup
        while left > 0:
            count = min(left, self.batchSize)
            try:
                batch = recvmmsg(fd, data, slot, anc, ancSlot, count)
            except OSError as e:
                if e.errno in WOULD_BLOCK:
                    return None
                if e.errno in RETRY or e.errno in READ_TRANSIENT:
                    left -= 1
                    continue
                _log.error("{prefix} recvmmsg failed: {err}", prefix=self.logPrefix(), err=e)
                return Failure(main.CONNECTION_LOST)
            if not batch:
                return None
            if sink.readTime is None:
                self._dateBatch(batch)
            for message in batch:
                try:
                    self._received(*message)
                except Exception:
                    _log.failure("while handling an SCTP message")
                if self._closed:
                    return None
                taken += len(message[0])
            # (A batch that came back short found the queue empty.)
            if len(batch) < count or taken >= budget:
                return None
            left -= count
        return None

    def _dateBatch(self, batch: List[Tuple[bytes, Ancillary, int, Any]]) -> None:
        """
        Set the sink's C{readTime} from the batch's first message that has
        an arrival time, or the reactor's clock where a data message has
        none; a batch of notifications only leaves it C{None}.
        """
        for data, ancdata, flags, address in batch:
            if not flags & MSG_NOTIFICATION:
                self._dateWakeup(ancdata)
                return

    def _dateWakeup(self, ancdata: Ancillary) -> None:
        """
        Set the sink's C{readTime} from the wake-up's first data message.
        """
        arrived = receiveTime(ancdata)
        if arrived is None:
            self._sink.readTime = self._reactor.seconds()
        else:
            self._sink.readTime = arrived
            if self._arrived is not None:
                self._arrived(arrived)

    def _readMessages(self) -> Optional[Failure]:
        recvmsg = self.socket.recvmsg
        policy = self._readPolicy
        sink = self._sink
        got = taken = 0
        budget = self.maxBytesPerWakeup
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
                if e.errno in WOULD_BLOCK:
                    if probing:
                        policy.found(False)
                    return None
                if e.errno in RETRY or e.errno in READ_TRANSIENT:
                    continue
                _log.error("{prefix} recvmsg failed: {err}", prefix=self.logPrefix(), err=e)
                return Failure(main.CONNECTION_LOST)
            if probing:
                policy.found(True)
                probing = False
            got += 1
            moreQueued = bool(flags & MSG_NOTIFICATION or not flags & MSG_EOR)
            if sink.readTime is None and not flags & MSG_NOTIFICATION:
                self._dateWakeup(ancdata)
            try:
                self._received(data, ancdata, flags, address)
            except Exception:
                _log.failure("while handling an SCTP message")
            if self._closed:
                return None
            taken += len(data)
            if taken >= budget:
                return None
        return None

    def _received(self, data: bytes, ancdata: Ancillary, flags: int, address: Any) -> None:
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
            self._sink.stats.partial_reassembled += 1
        source = hostPort(address)
        if isNotification:
            self._notification(data, source)
            return
        # A data message (inline: once per message received).
        if source is not None and source[1] == 0:
            self._sink.stats.drop("source_port_zero")
            return
        if info is None:
            self._sink.dataReceived(DataReceived(0, data, 0, 0, 0, source))
            return
        assocID, stream, ppid, mflags = info
        paths = None
        if source is not None:
            known = self._paths.get(assocID)
            if known is None or source not in known:
                # A new peer address (ASCONF), a reused kernel id, or data
                # ahead of its COMM_UP: say what the kernel reports now.
                paths = self._paths[assocID] = self._peerPaths(assocID, source)
        self._sink.dataReceived(DataReceived(assocID, data, stream, ntohl(ppid), mflags, source, paths))

    def _partialPiece(self, key: Tuple[bool, int], data: bytes) -> None:
        if key in self._dropping:
            return
        size = self._partialSize.get(key, 0) + len(data)
        if size > self.maxMessageSize:
            self._forgetPartial(key)
            self._dropping.add(key)
            self._sink.stats.drop("oversize")
            _log.warn(
                "{prefix} dropping a message over {limit} bytes (association {assocID})",
                prefix=self.logPrefix(),
                limit=self.maxMessageSize,
                assocID=key[1],
            )
            return
        self._partial.setdefault(key, []).append(data)
        self._partialSize[key] = size

    def _forgetPartial(self, key: Tuple[bool, int]) -> bool:
        """
        @return: whether a partly read message was dropped.
        """
        dropped = self._partial.pop(key, None) is not None
        self._partialSize.pop(key, None)
        return dropped

    def _peerPaths(self, assocID: int, fallback: HostPort) -> Tuple[HostPort, ...]:
        try:
            paths = self.peerAddresses(assocID)
        except OSError:
            return (fallback,)
        return tuple(paths) or (fallback,)

    def _notification(self, data: bytes, source: Optional[HostPort]) -> None:
        stats = self._sink.stats
        stats.notifications_in += 1
        try:
            note = decodeNotification(data)
        except CodecError as e:
            stats.drop("short_notification" if len(data) < 8 else "bad_notification")
            _log.warn("{prefix} bad SCTP notification: {err}", prefix=self.logPrefix(), err=e)
            return
        assocID = getattr(note, "assocID", 0)
        if type(note) is AssocChange and note.state in _UP_STATES:
            # No SCTP_GET_PEER_ADDRS here (a system call per association):
            # the layer asks for the other addresses when it needs them.
            paths = self._paths[assocID] = (source or ("", 0),)
            self._sink.eventReceived(toEvent(note, source, paths, complete=False))
            return
        event = toEvent(note, source)
        if isinstance(event, AssociationDown):
            self._paths.pop(assocID, None)
            if self._forgetPartial((False, assocID)):
                stats.drop("no_eor")
        elif isinstance(event, PartialDeliveryAborted):
            key = (False, assocID)
            if self._forgetPartial(key) | (key in self._dropping):
                self._dropping.discard(key)
                stats.drop("no_eor")
        elif isinstance(event, PathChanged) and event.address is not None and assocID in self._paths:
            known = self._paths[assocID]
            if event.state == "removed":
                self._paths[assocID] = tuple(p for p in known if p != event.address)
            elif event.address not in known:
                self._paths[assocID] = known + (event.address,)
        self._sink.eventReceived(event)

    # -- sending ---------------------------------------------------------

    def _ancillary(self, params: SendParameters, assocID: int, ttl: bool) -> Ancillary:
        """
        @return: the C{SCTP_SNDRCV} control message for C{params} on
            C{assocID}; packed once and kept.
        """
        key = (params, assocID, ttl)
        ancillary = self._ancillaries.get(key)
        if ancillary is None:
            if len(self._ancillaries) >= _SEND_CACHE_SIZE:
                self._ancillaries.clear()
            # A new association's first send: the parameters' packed form
            # (assoc_id 0, kept too) with the id put in its last four bytes.
            packed = self._ancillaries.get((params, 0, ttl))
            if packed is None:
                packed = self._ancillaries[(params, 0, ttl)] = [(IPPROTO_SCTP, 1, sendInfo(params, 0, ttl).pack())]
            if assocID:
                data = packed[0][2]
                packed = [(IPPROTO_SCTP, 1, data[:_ASSOC_ID_AT] + _ASSOC_ID.pack(assocID))]
            ancillary = self._ancillaries[key] = packed
        return ancillary

    def _sockaddr(self, address: HostPort) -> Tuple[Any, ...]:
        if self.family == AF_INET6:
            host = address[0]
            if familyOf(host) == AF_INET:
                host = "::ffff:" + host
            return (host, address[1], 0, 0)
        return address

    def _sendmsg(self, data: bytes, ancillary: Ancillary, address: Optional[HostPort]) -> int:
        while True:
            try:
                if address is None:
                    return int(self.socket.sendmsg([data], ancillary))
                return int(self.socket.sendmsg([data], ancillary, 0, self._sockaddr(address)))
            except InterruptedError:
                continue
