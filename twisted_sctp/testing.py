# -*- test-case-name: tests.test_port -*-
"""
Fakes for testing code built on twisted-sctp without a kernel SCTP stack:
L{FakeSCTPSocket} scripts what C{recvmsg} returns and records what is sent;
L{FakeKernel} stands in for L{twisted_sctp.kernel.sctpsocket} in an L{SCTPPort}::

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

from zope.interface import implementer

from twisted.internet.interfaces import IPushProducer

from twisted_sctp.transport.address import HostPort
from twisted_sctp.kernel.constants import IPPROTO_SCTP, MSG_EOR, MSG_NOTIFICATION, SO_TIMESTAMPNS, AssocChangeState
from twisted_sctp.transport.options import OPTION_NAMES, SCTPOptions
from twisted_sctp.kernel.sockopt import SndRcvInfo

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

    def close(self) -> None:
        self.closed = True

    def setsockopt(self, level: int, name: int, value: Any) -> None:
        self.options[(level, name)] = value

    def getsockopt(self, level: int, name: int, buflen: int = 0) -> Any:
        return self.options.get((level, name), 0)


class FakeKernel:
    """
    Stands in for L{twisted_sctp.kernel.sctpsocket} (the kernel wrapper).

    @ivar socket: the L{FakeSCTPSocket} that C{openSocket} returns.
    @ivar peers: kernel assoc_id -> the peer addresses C{peerAddresses}
        reports.
    @ivar connects: the C{connectx} calls, as lists of addresses.
    @ivar runtime: the C{applyRuntimeOption} calls.
    """

    def __init__(self, boundPort: int = 5060) -> None:
        self.socket = FakeSCTPSocket()
        self.boundPort = boundPort
        self.peers: Dict[int, List[HostPort]] = {}
        self.connects: List[List[HostPort]] = []
        self.nextAssocID = 100
        self.runtime: List[Tuple[str, int]] = []
        self.applied: Optional[SCTPOptions] = None
        self.bound: List[str] = []

    def openSocket(self, family: int) -> FakeSCTPSocket:
        self.socket.family = family
        return self.socket

    def applyOptions(self, sock: Any, options: SCTPOptions, family: int) -> List[str]:
        self.applied = options
        return []

    def bindAddresses(self, sock: Any, hosts: Sequence[str], port: int) -> Tuple[int, List[Tuple[str, OSError]]]:
        self.bound = list(hosts)
        return (port or self.boundPort, [])

    def peerAddresses(self, sock: Any, assocID: int) -> List[HostPort]:
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
