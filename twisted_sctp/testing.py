# -*- test-case-name: tests.test_port -*-
"""
Fakes for testing code built on twisted-sctp without an SCTP stack.

L{FakeBackend} is an L{ISCTPBackend}: events in, sends out.  Code above the
transport (protocols, the association layer, SIP) is tested with it, the
same way over any backend::

    backend = FakeBackend()
    port = SCTPPort(5060, factory, reactor=MemoryReactorClock(), backend=backend)
    port.startListening()
    backend.up(7, ("127.0.0.2", 5070))          # an association comes up
    backend.data(7, b"hello", ("127.0.0.2", 5070))
    backend.sent                                # what the port sent

For the kernel backend itself, L{FakeSCTPSocket} scripts what C{recvmsg}
returns (ancillary data, notifications) and records what is sent, and
L{FakeKernel} stands in for L{twisted_sctp.kernel.sctpsocket}::

    port = SCTPPort(5060, factory, reactor=MemoryReactorClock(), kernel=FakeKernel())
    port.startListening()
    port.socket.feedNotification(AssocChange(...), peer=("127.0.0.1", 5070))
    port.doRead()
"""

from __future__ import annotations

import collections
import errno
import socket
import struct
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple, Union

import attrs
from zope.interface import implementer

from twisted.internet.interfaces import IPushProducer

from twisted_sctp.transport.address import HostPort
from twisted_sctp.kernel.constants import IPPROTO_SCTP, MSG_EOR, MSG_NOTIFICATION, SO_TIMESTAMPNS, AssocChangeState
from twisted_sctp.transport.options import OPTION_NAMES, SCTPOptions
from twisted_sctp.kernel.sockopt import SndRcvInfo
from twisted_sctp.transport.backend import AssociationGoneError, ISCTPBackend, ISCTPBackendSink
from twisted_sctp.transport.events import (
    AssociationDown,
    AssociationUp,
    DataReceived,
    Event,
    PeerShutdown,
    SendParameters,
)

Ancillary = List[Tuple[int, int, bytes]]
RecvResult = Tuple[bytes, Ancillary, int, Any]


class FakeSCTPSocket:
    """
    A scripted one-to-many SCTP socket.

    @ivar incoming: what the next C{recvmsg} calls return, in order: tuples
        C{(data, ancdata, flags, address)} or exceptions to raise.  Empty
        means C{EAGAIN}.
    @ivar sent: every accepted C{sendmsg}, as C{(data, SndRcvInfo, address)}.
    @ivar sendErrors: exceptions the next C{sendmsg} calls raise, in order.
    @ivar blocked: while true, every C{sendmsg} raises C{EAGAIN}.
    @ivar recvCalls: how many times C{recvmsg} was called (C{EAGAIN} ones
        included): the system calls a real socket would have cost.
    @ivar pending: for a listening one-to-one socket, the
        C{(socket, address)} pairs the next C{accept} calls return (empty:
        C{EAGAIN}).
    @ivar shutdowns: the C{shutdown} calls, by their C{how}.
    """

    def __init__(self, family: int = 2) -> None:
        self.family = family
        self.incoming: Deque[Union[RecvResult, BaseException]] = collections.deque()
        self.sent: List[Tuple[bytes, SndRcvInfo, Optional[Any]]] = []
        self.sendErrors: Deque[BaseException] = collections.deque()
        self.blocked = False
        self.closed = False
        self.listening = 0
        self.options: Dict[Tuple[int, int], Any] = {}
        self.recvCalls = 0
        self.pending: Deque[Tuple["FakeSCTPSocket", Any]] = collections.deque()
        self.shutdowns: List[int] = []

    # -- scripting helpers ---------------------------------------------

    def feedData(
        self,
        data: bytes,
        assocID: int,
        peer: HostPort,
        stream: int = 0,
        ppid: int = 0,
        eor: bool = True,
        flags: int = 0,
        arrival: Optional[Tuple[int, int]] = None,
    ) -> None:
        """
        Queue a data message with its C{SCTP_SNDRCV} receive info.

        @param arrival: the kernel's arrival time, C{(seconds, nanoseconds)},
            given as an C{SCM_TIMESTAMPNS} item before the receive info (as
            a socket with C{SO_TIMESTAMPNS} on gets it), or C{None} for none.
        """
        info = SndRcvInfo(stream=stream, ppid=ppid, flags=flags, assocID=assocID)
        anc = [(IPPROTO_SCTP, 1, info.pack())]
        if arrival is not None:
            anc.insert(0, (socket.SOL_SOCKET, SO_TIMESTAMPNS, struct.pack("@ll", *arrival)))
        self.incoming.append((data, anc, MSG_EOR if eor else 0, peer))

    def feedNotification(self, notification: Any, peer: Optional[HostPort] = None, eor: bool = True) -> None:
        """
        Queue a notification (anything with C{pack()}, or raw bytes).
        """
        raw = notification if isinstance(notification, bytes) else notification.pack()
        self.incoming.append((raw, [], MSG_NOTIFICATION | (MSG_EOR if eor else 0), peer))

    def feedError(self, err: int) -> None:
        """
        Make a C{recvmsg} call fail with C{err}.
        """
        self.incoming.append(OSError(err, "scripted"))

    # -- the socket API used by SCTPPort --------------------------------

    def fileno(self) -> int:
        return 42

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0) -> RecvResult:
        self.recvCalls += 1
        if not self.incoming:
            raise BlockingIOError(errno.EAGAIN, "no scripted input")
        item = self.incoming.popleft()
        if isinstance(item, BaseException):
            raise item
        data, anc, mflags, address = item
        if len(data) > bufsize:
            # A message bigger than the buffer comes in pieces, as the kernel
            # delivers it: the last piece carries the original EOR flag.
            self.incoming.appendleft((data[bufsize:], anc, mflags, address))
            return data[:bufsize], anc, mflags & ~MSG_EOR, address
        return data, anc, mflags, address

    def sendmsg(self, buffers: Sequence[bytes], ancdata: Ancillary = (), flags: int = 0, address: Any = None) -> int:  # type: ignore[assignment]
        if self.sendErrors:
            raise self.sendErrors.popleft()
        if self.blocked:
            raise BlockingIOError(errno.EAGAIN, "scripted full send buffer")
        data = b"".join(buffers)
        info = SndRcvInfo()
        for level, kind, payload in ancdata:
            if level == IPPROTO_SCTP and kind == 1:
                info = SndRcvInfo.unpack(payload)
        self.sent.append((data, info, address))
        return len(data)

    def listen(self, backlog: int) -> None:
        self.listening = backlog

    def accept(self) -> Tuple["FakeSCTPSocket", Any]:
        if not self.pending:
            raise BlockingIOError(errno.EAGAIN, "no scripted association")
        return self.pending.popleft()

    def setblocking(self, flag: bool) -> None:
        pass

    def shutdown(self, how: int) -> None:
        self.shutdowns.append(how)

    def close(self) -> None:
        self.closed = True

    def setsockopt(self, level: int, name: int, value: Any) -> None:
        self.options[(level, name)] = value

    def getsockopt(self, level: int, name: int, buflen: int = 0) -> Any:
        return self.options.get((level, name), 0)


class FakeKernel:
    """
    Stands in for L{twisted_sctp.kernel.sctpsocket} (the kernel wrapper).

    @ivar socket: the L{FakeSCTPSocket} that C{openSocket} returns (the
        first time, for a one-to-one socket).
    @ivar opened: the further one-to-one (C{SOCK_STREAM}) sockets opened,
        a new L{FakeSCTPSocket} each.
    @ivar kinds: the socket type of each C{openSocket} call.
    @ivar peers: kernel assoc_id -> the peer addresses C{peerAddresses}
        reports.
    @ivar peerQueries: the assoc_ids C{peerAddresses} was asked about, in
        order (each one a C{getsockopt} on a real kernel).
    @ivar connects: the C{connectx} calls, as lists of addresses.
    @ivar runtime: the C{applyRuntimeOption} calls.
    """

    def __init__(self, boundPort: int = 5060) -> None:
        self.socket = FakeSCTPSocket()
        self.boundPort = boundPort
        self.peers: Dict[int, List[HostPort]] = {}
        self.peerQueries: List[int] = []
        self.connects: List[List[HostPort]] = []
        self.nextAssocID = 100
        self.runtime: List[Tuple[str, int]] = []
        self.applied: Optional[SCTPOptions] = None
        #: The C{SCTP_FRAGMENT_INTERLEAVE} level the backend asked for.
        self.interleave: Optional[int] = None
        self.bound: List[str] = []
        self.opened: List[FakeSCTPSocket] = []
        self.kinds: List[int] = []

    def openSocket(self, family: int, kind: int = socket.SOCK_SEQPACKET) -> FakeSCTPSocket:
        self.kinds.append(kind)
        if kind == socket.SOCK_STREAM and len(self.kinds) > 1:
            sock = FakeSCTPSocket(family)
            self.opened.append(sock)
            return sock
        self.socket.family = family
        return self.socket

    def applyOptions(self, sock: Any, options: SCTPOptions, family: int, interleave: int = 1) -> List[str]:
        self.applied = options
        self.interleave = interleave
        return []

    def bindAddresses(self, sock: Any, hosts: Sequence[str], port: int) -> Tuple[int, List[Tuple[str, OSError]]]:
        self.bound = list(hosts)
        return (port or self.boundPort, [])

    def peerAddresses(self, sock: Any, assocID: int) -> List[HostPort]:
        self.peerQueries.append(assocID)
        if assocID not in self.peers:
            raise OSError(errno.EINVAL, "no such association")
        return list(self.peers[assocID])

    def connectx(self, sock: Any, paths: List[HostPort]) -> int:
        self.connects.append(list(paths))
        self.nextAssocID += 1
        return self.nextAssocID

    def applyRuntimeOption(self, sock: Any, name: str, value: int, family: int) -> None:
        self.runtime.append((name, value))

    def readOptions(self, sock: Any, family: int) -> Dict[str, int]:
        return {name: 0 for name in OPTION_NAMES}


@implementer(IPushProducer)
class RecordingProducer:
    """
    A streaming producer that records the C{pauseProducing} /
    C{resumeProducing} / C{stopProducing} calls it gets, in C{calls}.
    """

    def __init__(self) -> None:
        self.calls: List[str] = []

    def pauseProducing(self) -> None:
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")

    def stopProducing(self) -> None:
        self.calls.append("stop")


def commUp(assocID: int, inbound: int = 10, outbound: int = 10) -> Any:
    """
    @return: a COMM_UP L{AssocChange} notification for C{assocID}.
    """
    from twisted_sctp.kernel.notifications import AssocChange

    return AssocChange(state=AssocChangeState.COMM_UP, error=0, outboundStreams=outbound, inboundStreams=inbound, assocID=assocID)


@attrs.frozen
class Sent:
    """
    One message a L{FakeBackend} accepted.

    @ivar address: C{None} when sent on association C{assocID}.
    """

    payload: bytes
    params: SendParameters
    assocID: int
    address: Optional[HostPort]


@implementer(ISCTPBackend)
class FakeBackend:
    """
    An L{ISCTPBackend} in memory: the test feeds events (L{feed}, or the
    helpers L{up}, L{data}, L{down}, L{peerShutdown}) and reads what was
    sent (L{sent}), shut down (L{shutdowns}) and aborted (L{aborts}).

    @ivar sink: the association layer it reports to, once listening.
    @ivar blocked: while true, every send raises C{BlockingIOError}; the
        layer queues, and L{flush} lets it drain once this is false.
    @ivar sendErrors: exceptions the next sends raise, in order.
    @ivar gone: association ids whose sends (by id) raise
        L{AssociationGoneError}.
    @ivar peers: association id -> the addresses L{peerAddresses} reports.
    @ivar connects: the L{connect} calls' addresses.
    @ivar runtime: the L{applyOption} calls.
    @ivar writing: whether the layer asked to hear when it can send.
    @ivar reading: whether input is being reported (not paused).
    """

    def __init__(self, boundPort: int = 5060, family: int = socket.AF_INET) -> None:
        self.family = family
        self.boundPort = 0
        self._defaultPort = boundPort
        self.warnings: List[str] = []
        self.bindFailures: List[Tuple[str, OSError]] = []
        self.sink: Optional[ISCTPBackendSink] = None
        self.listened: Optional[Tuple[List[str], int, SCTPOptions]] = None
        self.sent: List[Sent] = []
        self.blocked = False
        self.sendErrors: Deque[BaseException] = collections.deque()
        self.gone: set[int] = set()
        self.peers: Dict[int, List[HostPort]] = {}
        self.connects: List[List[HostPort]] = []
        self.nextAssocID = 100
        self.shutdowns: List[int] = []
        self.aborts: List[Tuple[int, bytes]] = []
        self.runtime: List[Tuple[str, int]] = []
        self.writing = False
        self.reading = False
        self.closed = False

    # -- ISCTPBackend ----------------------------------------------------

    def listen(self, sink: ISCTPBackendSink, hosts: Sequence[str], port: int, options: SCTPOptions) -> None:
        self.sink = sink
        self.listened = (list(hosts), port, options)
        self.boundPort = port or self._defaultPort
        self.reading = True

    def send(self, payload: bytes, params: SendParameters, assocID: int = 0, address: Optional[HostPort] = None) -> None:
        if self.sendErrors:
            raise self.sendErrors.popleft()
        if self.blocked:
            raise BlockingIOError(errno.EAGAIN, "the fake backend is blocked")
        if address is None and assocID in self.gone:
            raise AssociationGoneError(errno.EPIPE, "association {} is gone".format(assocID))
        self.sent.append(Sent(payload, params, assocID, address))

    def connect(self, paths: Sequence[HostPort]) -> int:
        self.connects.append(list(paths))
        self.nextAssocID += 1
        return self.nextAssocID

    def shutdown(self, assocID: int) -> None:
        self.shutdowns.append(assocID)

    def abort(self, assocID: int, reason: bytes = b"") -> None:
        self.aborts.append((assocID, reason))

    def peerAddresses(self, assocID: int) -> List[HostPort]:
        if assocID not in self.peers:
            raise OSError(errno.EINVAL, "no such association")
        return list(self.peers[assocID])

    def localAddresses(self, assocID: int = 0) -> List[HostPort]:
        hosts = self.listened[0] if self.listened else []
        return [(h, self.boundPort) for h in hosts]

    def applyOption(self, name: str, value: int) -> None:
        self.runtime.append((name, value))

    def readOptions(self) -> Dict[str, int]:
        return {name: 0 for name in OPTION_NAMES}

    def startWriting(self) -> None:
        self.writing = True

    def stopWriting(self) -> None:
        self.writing = False

    def pauseReading(self) -> None:
        self.reading = False

    def resumeReading(self) -> None:
        if not self.closed:
            self.reading = True

    def close(self) -> None:
        self.closed = True
        self.reading = self.writing = False

    # -- driving it ------------------------------------------------------

    def feed(self, *events: Union[Event, DataReceived]) -> None:
        """
        Report C{events} to the sink, in order.
        """
        assert self.sink is not None, "listen first"
        for event in events:
            if isinstance(event, DataReceived):
                self.sink.dataReceived(event)
            else:
                self.sink.eventReceived(event)

    def up(self, assocID: int, peer: HostPort, paths: Sequence[HostPort] = (), inbound: int = 10, outbound: int = 10) -> None:
        """
        Association C{assocID} with C{peer} comes up.
        """
        self.peers.setdefault(assocID, list(paths) or [peer])
        self.feed(AssociationUp(assocID, "comm_up", peer, tuple(paths) or (peer,), inbound, outbound))

    def data(self, assocID: int, payload: bytes, source: HostPort, stream: int = 0, ppid: int = 0, flags: int = 0) -> None:
        """
        A message arrives on C{assocID} from C{source}.
        """
        known = self.peers.get(assocID)
        paths = None if known is not None and source in known else tuple(self.peers.get(assocID) or [source])
        self.feed(DataReceived(assocID, payload, stream, ppid, flags, source, paths))

    def down(self, assocID: int, reason: str = "comm_lost", error: int = 0, source: Optional[HostPort] = None) -> None:
        """
        Association C{assocID} ends (C{"comm_lost"}, C{"shutdown_complete"}
        or C{"cant_start"}).
        """
        self.feed(AssociationDown(assocID, reason, error, source))

    def peerShutdown(self, assocID: int) -> None:
        """
        The peer of C{assocID} shuts down gracefully (SHUTDOWN, then its end).
        """
        self.feed(PeerShutdown(assocID), AssociationDown(assocID, "shutdown_complete"))

    def flush(self) -> None:
        """
        The backend has room again: tell the sink, if it asked.
        """
        if self.writing and self.sink is not None:
            self.sink.writable()
