# -*- test-case-name: tests.test_onetoone,tests.integration.test_onetoone -*-
"""
L{OneToOneBackend}: the Linux kernel SCTP backend with one-to-one
(C{SOCK_STREAM}, TCP-style) sockets.

A listening socket accepts; each accepted socket, and each socket that
L{OneToOneBackend.connect} (or a send to a new peer) opens, carries one
association and is its own reactor reader and writer.  The backend names
each socket by an id of its own and presents it to the association layer
as that association: the layer above (registry, protocols, queues,
producers, C{max_assocs}, counters) is the same as over the one-to-many
L{twisted_sctp.kernel.backend.KernelBackend}.

Each socket is read by a L{KernelBackend} of its own (L{_StreamSocket}):
the same C{recvmsg} loop, C{MSG_EOR} reassembly, ancillary data and
notification translation; the events it reports are relayed to the layer
with the socket's id (L{_Relay}).  What differs on a one-to-one socket:

  - The options are set on the listening socket and inherited by the
    accepted ones (Linux copies them at C{accept}); a client socket gets
    them set on its own.  C{autoclose} does not exist there (Linux refuses
    C{SCTP_AUTOCLOSE} on one-to-one sockets).
  - Linux refuses C{SCTP_EOF} and C{SCTP_ABORT} in C{sendmsg} on a
    one-to-one socket (C{EINVAL}): a SHUTDOWN is C{shutdown(SHUT_WR)} and
    an ABORT is a close with C{SO_LINGER} 0, so the ABORT carries no
    reason text; after the close nothing more is read, so the backend
    reports the association's end itself.
  - The end of the socket (C{recvmsg} gives 0 bytes, or fails) ends the
    association if no notification said so.
"""

from __future__ import annotations

import errno
import struct
from socket import AF_INET, SHUT_WR, SO_LINGER, SOCK_STREAM, SOL_SOCKET
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import attrs
from zope.interface import implementer

from twisted.internet import error as ierror, main
from twisted.internet.interfaces import ILoggingContext, IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_sctp.kernel.backend import KernelBackend
from twisted_sctp.kernel.constants import MSG_EOR, MSG_NOTIFICATION
from twisted_sctp.kernel.translate import RETRY, WOULD_BLOCK, hostPort
from twisted_sctp.transport.address import HostPort
from twisted_sctp.transport.backend import AssociationGoneError, ISCTPBackend, ISCTPBackendSink
from twisted_sctp.transport.events import AssociationDown, AssociationUp, DataReceived, Event, PeerShutdown, SendParameters
from twisted_sctp.transport.options import SCTPOptions

__all__ = ["OneToOneBackend"]

_log = Logger()

#: C{struct linger} with l_onoff=1, l_linger=0: close() sends an ABORT.
_ABORT_LINGER = struct.pack("ii", 1, 0)


class _Relay:
    """
    The sink of one socket's L{_StreamSocket}: its events go to the
    backend's sink with the socket's id as the association id.
    """

    def __init__(self, backend: "OneToOneBackend", connection: "_StreamSocket") -> None:
        self._backend = backend
        self._connection = connection

    @property
    def stats(self) -> Any:
        return self._backend._sink.stats

    @property
    def readTime(self) -> Optional[float]:
        return self._backend._sink.readTime  # type: ignore[no-any-return]

    @readTime.setter
    def readTime(self, value: Optional[float]) -> None:
        self._backend._sink.readTime = value

    def dataReceived(self, event: DataReceived) -> None:
        # The event is the socket reader's own, not yet handed to anyone.
        event.assocID = self._connection.id
        self._backend._sink.dataReceived(event)

    def eventReceived(self, event: Event) -> None:
        connection = self._connection
        if isinstance(event, AssociationUp):
            connection.kernelID = event.assocID
            connection.up = True
        elif isinstance(event, PeerShutdown):
            connection.shutdownSeen = True
        if hasattr(event, "assocID"):
            event = attrs.evolve(event, assocID=connection.id)
        if isinstance(event, AssociationDown):
            if connection.ended:
                return
            connection.ended = True
            self._backend._sink.eventReceived(event)
            self._backend._forget(connection)
            return
        self._backend._sink.eventReceived(event)

    def writable(self) -> None:
        self._backend._writable(self._connection)

    def backendLost(self, reason: Failure) -> None:
        self._backend._ended(self._connection)

    def logPrefix(self) -> str:
        return "{}#{}".format(self._backend.logPrefix(), self._connection.id)


class _StreamSocket(KernelBackend):
    """
    One one-to-one socket: one association, read as the kernel backend
    reads, ended at the socket's end.

    @ivar id: the backend's id of the association.
    @ivar kernelID: the kernel's id, once the association is up.
    @ivar peer: the peer address (accepted from, or connected to).
    """

    def __init__(self, backend: "OneToOneBackend", id: int, sock: Any, peer: Optional[HostPort]) -> None:
        KernelBackend.__init__(self, backend._reactor, backend.kernel, backend.family)
        for name in ("maxReadsPerWakeup", "maxBytesPerWakeup", "readBufferSize", "ancillaryBufferSize", "maxMessageSize"):
            setattr(self, name, getattr(backend, name))
        self.id = id
        self.kernelID = 0
        self.peer = peer
        self.up = False
        self.shutdownSeen = False
        self.shutdownAsked = False
        self.ended = False
        self.socket = sock
        self._sink = _Relay(backend, self)

    def _received(self, data: bytes, ancdata: Any, flags: int, address: Any) -> None:
        if not data and not flags & (MSG_EOR | MSG_NOTIFICATION):
            # recvmsg gave 0 bytes: the association is over.
            self.pauseReading()
            self._sink.backendLost(Failure(main.CONNECTION_DONE))
            return
        if hostPort(address) is None and self.peer is not None:
            address = self.peer
        KernelBackend._received(self, data, ancdata, flags, address)

    def doWrite(self) -> Optional[Failure]:
        self.stopWriting()
        self._sink.writable()
        return None


@implementer(ISCTPBackend, IReadDescriptor, ILoggingContext)
class OneToOneBackend:
    """
    Kernel SCTP with one-to-one sockets: a listening socket and a socket
    per association (see the module's description).

    @ivar socket: the listening socket, once listening.
    @ivar connections: the open sockets by association id.
    """

    maxReadsPerWakeup = 64
    maxBytesPerWakeup = 1 << 20
    readBufferSize = 65536
    ancillaryBufferSize = 1024
    maxMessageSize = 1 << 20
    backlog = 128
    maxAcceptsPerWakeup = 64
    #: Each association has its own send buffer (see the layer's
    #: C{writable}): one full socket does not hold up the others.
    perAssociationBuffers = True
    #: The local port the sockets that we open bind (0: any).
    clientPort = 0
    socket: Any = None

    def __init__(self, reactor: Any, kernel: Any = None, family: int = AF_INET) -> None:
        """
        @param kernel: the kernel calls (L{twisted_sctp.kernel.sctpsocket}
            or a fake).
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
        self.connections: Dict[int, _StreamSocket] = {}
        self._sink: Any = None
        self._hosts: List[str] = []
        self._options = SCTPOptions()
        self._nextID = 0
        self._reading = False
        self._closed = False
        self._wantWrite = False
        self._kick: Any = None
        self._blocked: Set[_StreamSocket] = set()

    # -- ISCTPBackend ----------------------------------------------------

    def listen(self, sink: ISCTPBackendSink, hosts: Sequence[str], port: int, options: SCTPOptions) -> None:
        kernel = self.kernel
        sock = kernel.openSocket(self.family, SOCK_STREAM)
        self._sink = sink
        self._hosts = list(hosts)
        self._options = options
        try:
            self.warnings = kernel.applyOptions(sock, options, self.family)
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
        self.resumeReading()

    def send(self, payload: bytes, params: SendParameters, assocID: int = 0, address: Optional[HostPort] = None) -> None:
        connection = self.connections.get(assocID) if assocID else None
        if connection is None and address is not None:
            connection = self._byPeer(address) or self._open([address])
        if connection is None or connection.ended:
            raise AssociationGoneError(errno.ENOTCONN, "association {} is gone".format(assocID))
        try:
            connection.send(payload, params, connection.kernelID)
        except BlockingIOError:
            # Watched for room at once: the layer asks only when it starts
            # a queue, not when a drain finds the socket full again.
            self._blocked.add(connection)
            self._wantWrite = True
            connection.startWriting()
            raise
        except OSError as e:
            if e.errno in (errno.ENOTCONN, errno.ECONNRESET) and address is None:
                raise AssociationGoneError(e.errno, e.strerror) from e
            raise

    def connect(self, paths: Sequence[HostPort]) -> int:
        return self._open(paths).id

    def shutdown(self, assocID: int) -> None:
        connection = self._connection(assocID)
        connection.shutdownAsked = True
        connection.socket.shutdown(SHUT_WR)

    def abort(self, assocID: int, reason: bytes = b"") -> None:
        """
        ABORT the association: close its socket with C{SO_LINGER} 0 (the
        reason text cannot be carried on a one-to-one socket), then report
        its end (at the reactor's next turn: the caller may be in the middle
        of handling that association).
        """
        connection = self._connection(assocID)
        try:
            connection.socket.setsockopt(SOL_SOCKET, SO_LINGER, _ABORT_LINGER)
        except OSError as e:
            _log.warn("{prefix} no ABORT for association {assocID}, closing its socket: {err}", prefix=self.logPrefix(), assocID=assocID, err=e)
        connection.close()
        self._reactor.callLater(0, self._ended, connection)

    def peerAddresses(self, assocID: int) -> List[HostPort]:
        connection = self._connection(assocID)
        return connection.peerAddresses(connection.kernelID)

    def localAddresses(self, assocID: int = 0) -> List[HostPort]:
        if not assocID:
            return list(self.kernel.localAddresses(self.socket, 0))
        connection = self._connection(assocID)
        return connection.localAddresses(connection.kernelID)

    def applyOption(self, name: str, value: int) -> None:
        if self.socket is not None:
            self.kernel.applyRuntimeOption(self.socket, name, value, self.family)

    def readOptions(self) -> Dict[str, int]:
        return dict(self.kernel.readOptions(self.socket, self.family))

    def startWriting(self) -> None:
        """
        Call the sink's C{writable} once a socket that was full has room
        (at the reactor's next turn where none was full).
        """
        if self._closed:
            return
        self._wantWrite = True
        if self._blocked:
            for connection in list(self._blocked):
                connection.startWriting()
        elif self._kick is None:
            self._kick = self._reactor.callLater(0, self._kicked)

    def stopWriting(self) -> None:
        self._wantWrite = False
        if self._kick is not None and self._kick.active():
            self._kick.cancel()
        self._kick = None
        for connection in list(self._blocked):
            connection.stopWriting()

    def pauseReading(self) -> None:
        if self._reading:
            self._reading = False
            self._reactor.removeReader(self)
        for connection in self.connections.values():
            connection.pauseReading()

    def resumeReading(self) -> None:
        if self._closed or self.socket is None:
            return
        if not self._reading:
            self._reading = True
            self._reactor.addReader(self)
        for connection in self.connections.values():
            connection.resumeReading()

    def close(self) -> None:
        if self._closed:
            return
        self.pauseReading()
        self.stopWriting()
        self._closed = True
        for connection in list(self.connections.values()):
            connection.ended = True
            connection.close()
        self.connections.clear()
        self._blocked.clear()
        if self.socket is not None:
            try:
                self.socket.close()
            except OSError:
                pass

    # -- the listening socket on the reactor -----------------------------

    def fileno(self) -> int:
        if self.socket is None:
            return -1
        return int(self.socket.fileno())

    def logPrefix(self) -> str:
        return self._sink.logPrefix() if self._sink is not None else "OneToOneBackend"

    def connectionLost(self, reason: Failure) -> None:
        self._reading = False
        if self._sink is not None and not self._closed:
            self._sink.backendLost(reason)

    def doRead(self) -> Optional[Failure]:
        """
        Accept the waiting associations (up to L{maxAcceptsPerWakeup}), a
        socket each.
        """
        for _ in range(self.maxAcceptsPerWakeup):
            try:
                sock, address = self.socket.accept()
            except OSError as e:
                if e.errno in WOULD_BLOCK:
                    return None
                if e.errno in RETRY or e.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                _log.error("{prefix} accept failed: {err}", prefix=self.logPrefix(), err=e)
                return None
            sock.setblocking(False)
            self._add(sock, hostPort(address))
            if self._closed:
                return None
        return None

    # -- the sockets of the associations ---------------------------------

    def _add(self, sock: Any, peer: Optional[HostPort]) -> _StreamSocket:
        self._nextID += 1
        connection = _StreamSocket(self, self._nextID, sock, peer)
        self.connections[connection.id] = connection
        if self._reading:
            connection.resumeReading()
        return connection

    def _open(self, paths: Sequence[HostPort]) -> _StreamSocket:
        """
        Open a socket with the current options, bound to the listening
        addresses (any port), and start an association to C{paths}.

        @raise OSError: the kernel refused.
        """
        kernel = self.kernel
        options = getattr(self._sink, "options", self._options)
        sock = kernel.openSocket(self.family, SOCK_STREAM)
        try:
            kernel.applyOptions(sock, options, self.family)
            if self._hosts:
                kernel.bindAddresses(sock, self._hosts, self.clientPort)
            kernel.connectx(sock, list(paths))
        except BaseException:
            sock.close()
            raise
        return self._add(sock, paths[0] if paths else None)

    def _byPeer(self, address: HostPort) -> Optional[_StreamSocket]:
        for connection in self.connections.values():
            if connection.peer == address and not connection.ended:
                return connection
        return None

    def _connection(self, assocID: int) -> _StreamSocket:
        connection = self.connections.get(assocID)
        if connection is None or connection.ended:
            raise AssociationGoneError(errno.ENOTCONN, "association {} is gone".format(assocID))
        return connection

    def _ended(self, connection: _StreamSocket) -> None:
        """
        A socket ended (0 bytes read, a read error, or our ABORT): report
        its association's end unless a notification did.
        """
        if connection.ended or self._closed:
            self._forget(connection)
            return
        connection.ended = True
        if not connection.up:
            reason = "cant_start"
        elif connection.shutdownSeen or connection.shutdownAsked:
            reason = "shutdown_complete"
        else:
            reason = "comm_lost"
        self._sink.eventReceived(AssociationDown(connection.id, reason, source=connection.peer))
        self._forget(connection)

    def _forget(self, connection: _StreamSocket) -> None:
        """
        Close an association's socket (at the reactor's next turn: its
        reader may be in its loop) and drop it.
        """
        if self.connections.get(connection.id) is connection:
            del self.connections[connection.id]
        self._blocked.discard(connection)
        connection.pauseReading()
        connection.stopWriting()
        self._reactor.callLater(0, connection.close)

    def _writable(self, connection: _StreamSocket) -> None:
        self._blocked.discard(connection)
        if self._wantWrite and self._sink is not None:
            self._sink.writable()

    def _kicked(self) -> None:
        self._kick = None
        if self._wantWrite and self._sink is not None:
            self._sink.writable()


class OneToOneKernel:
    """
    Kernel calls that ask for one-to-one sockets: an L{SCTPPort
    <twisted_sctp.transport.port.SCTPPort>} given them as C{kernel} uses an
    L{OneToOneBackend} (how a caller that only passes C{kernel} on, such as
    the SIP transport, gets one-to-one listeners).

    @ivar calls: the kernel calls used (L{twisted_sctp.kernel.sctpsocket} by
        default, or a fake).
    """

    style = "one-to-one"

    def __init__(self, calls: Any = None) -> None:
        if calls is None:
            from twisted_sctp.kernel import sctpsocket

            calls = sctpsocket
        self.calls = calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self.calls, name)
