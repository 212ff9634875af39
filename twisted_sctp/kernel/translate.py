# -*- test-case-name: tests.test_kernelbackend -*-
"""
Pure translations between the kernel's SCTP structures and the
backend-neutral values of L{twisted_sctp.transport.events}: decoded
notifications to events, send parameters to the C{SCTP_SNDRCV} control
message and back, socket addresses to C{(host, port)}, and the errno
classes of the receive and send paths.
"""

from __future__ import annotations

import errno
import socket
from typing import Any, Dict, Optional, Sequence, Union

from twisted_sctp.kernel.constants import PR_SCTP_TTL, SEND_FAILED_DATA_SENT, AssocChangeState, PeerAddrState, SendFlags
from twisted_sctp.kernel.notifications import (
    AssocChange,
    Notification,
    PartialDeliveryEvent,
    PeerAddrChange,
    RemoteError,
    SendFailed as KernelSendFailed,
    SendFailedEvent as KernelSendFailedEvent,
    SenderDryEvent,
    ShutdownEvent,
)
from twisted_sctp.kernel.sockopt import SndInfo, SndRcvInfo
from twisted_sctp.transport.address import HostPort, normalizeHost
from twisted_sctp.transport.events import (
    AssociationDown,
    AssociationUp,
    Event,
    OtherEvent,
    PartialDeliveryAborted,
    PathChanged,
    PeerShutdown,
    RemoteErrorReceived,
    SendFailed,
    SendParameters,
)

#: errnos after which reading or writing simply stops until the next wake-up.
WOULD_BLOCK = (errno.EAGAIN, errno.EWOULDBLOCK)
#: errnos that are retried at once.
RETRY = (errno.EINTR,)
#: errnos of recvmsg that do not stop the port (the reference continues too).
READ_TRANSIENT = (errno.ECONNREFUSED, errno.ECONNRESET, errno.ENOBUFS, errno.ENOMEM)
#: errnos of a send by assoc_id meaning "that association is gone".
ASSOC_GONE = (errno.EPIPE, errno.ENOENT, errno.EINVAL, errno.ESHUTDOWN)

#: sinfo_context bits that carry the remaining send_retries; the rest is
#: the caller's context.
RETRY_SHIFT = 28
CONTEXT_MASK = (1 << RETRY_SHIFT) - 1

PATH_STATES: Dict[int, str] = {
    PeerAddrState.ADDR_AVAILABLE: "active",
    PeerAddrState.ADDR_UNREACHABLE: "unreachable",
    PeerAddrState.ADDR_REMOVED: "removed",
    PeerAddrState.ADDR_ADDED: "active",
    PeerAddrState.ADDR_MADE_PRIM: "active",
    PeerAddrState.ADDR_CONFIRMED: "active",
    PeerAddrState.ADDR_POTENTIALLY_FAILED: "potentially-failed",
}

_DOWN: Dict[int, str] = {
    AssocChangeState.COMM_LOST: "comm_lost",
    AssocChangeState.SHUTDOWN_COMP: "shutdown_complete",
    AssocChangeState.CANT_STR_ASSOC: "cant_start",
}


def hostPort(address: Any) -> Optional[HostPort]:
    """
    @return: C{(host, port)} of a socket address as C{recvmsg} gives it
        (IPv6 text normalised), or C{None} for none.
    """
    if not address or not isinstance(address, tuple) or len(address) < 2:
        return None
    host = address[0]
    try:
        host = normalizeHost(host)
    except ValueError:
        pass
    return (host, address[1])


def sendInfo(params: SendParameters, assocID: int = 0, ttl: bool = True) -> SndRcvInfo:
    """
    @param ttl: keep the PR-SCTP TTL policy (see L{KernelBackend.send}).
    @return: the C{sctp_sndrcvinfo} of a send: PPID in network order,
        send_retries in the top bits of the context.
    """
    flags = SendFlags.UNORDERED if params.unordered else 0
    if params.ttl and ttl:
        flags |= PR_SCTP_TTL
    return SndRcvInfo(
        stream=params.stream,
        flags=int(flags),
        ppid=socket.htonl(params.ppid & 0xFFFFFFFF),
        context=(params.retries << RETRY_SHIFT) | (params.context & CONTEXT_MASK),
        timetolive=params.ttl,
        assocID=assocID,
    )


def sendParameters(info: Union[SndRcvInfo, SndInfo]) -> SendParameters:
    """
    @return: the L{SendParameters} a message was sent with, from the send
        information the kernel gives back with it (SEND_FAILED).
    """
    stream = info.stream if isinstance(info, SndRcvInfo) else info.sid
    ttl = info.timetolive if isinstance(info, SndRcvInfo) and info.flags & PR_SCTP_TTL else 0
    return SendParameters(
        stream=stream,
        ppid=socket.ntohl(info.ppid),
        unordered=bool(info.flags & SendFlags.UNORDERED),
        ttl=ttl,
        context=info.context & CONTEXT_MASK,
        retries=info.context >> RETRY_SHIFT,
    )


def toEvent(note: Notification, source: Optional[HostPort], paths: Sequence[HostPort] = (), complete: bool = True) -> Event:
    """
    @param paths: for a COMM_UP or RESTART, the peer's addresses as the
        kernel reports them.
    @param complete: whether C{paths} is all of them (see
        L{AssociationUp.complete}).
    @return: the neutral event of a decoded notification (its C{native} is
        C{note}).
    """
    if isinstance(note, AssocChange):
        state = note.state
        if state in (AssocChangeState.COMM_UP, AssocChangeState.RESTART):
            return AssociationUp(
                note.assocID,
                "comm_up" if state == AssocChangeState.COMM_UP else "restart",
                source,
                tuple(paths),
                note.inboundStreams,
                note.outboundStreams,
                complete,
                native=note,
            )
        reason = _DOWN.get(state)
        if reason is None:
            return OtherEvent("assoc_change", note.assocID, native=note)
        return AssociationDown(note.assocID, reason, note.error, source, native=note)
    if isinstance(note, PeerAddrChange):
        address = hostPort(note.address)
        return PathChanged(note.assocID, address, PATH_STATES.get(note.state, str(note.state)), note.error, native=note)
    if isinstance(note, (KernelSendFailed, KernelSendFailedEvent)):
        unsent = note.flags != SEND_FAILED_DATA_SENT
        return SendFailed(note.assocID, note.data, sendParameters(note.info), note.error, unsent, source, native=note)
    if isinstance(note, RemoteError):
        return RemoteErrorReceived(note.assocID, note.error, note.data, native=note)
    if isinstance(note, ShutdownEvent):
        return PeerShutdown(note.assocID, native=note)
    if isinstance(note, PartialDeliveryEvent):
        return PartialDeliveryAborted(note.assocID, note.stream, note.seq, native=note)
    if isinstance(note, SenderDryEvent):
        return OtherEvent("sender_dry", note.assocID, native=note)
    return OtherEvent("other", getattr(note, "assocID", 0), native=note)

