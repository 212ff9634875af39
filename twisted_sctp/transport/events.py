# -*- test-case-name: tests.test_layer -*-
"""
The backend-neutral vocabulary between an SCTP backend and the association
layer: what a backend reports (L{DataReceived}, L{AssociationUp},
L{AssociationDown}, L{PathChanged}, L{SendFailed}, L{PeerShutdown},
L{PartialDeliveryAborted}, L{RemoteErrorReceived}, L{OtherEvent}) and how a
message is to be sent (L{SendParameters}).

Every value is plain data: no socket, no errno, no kernel structure.  An
association is named by the backend's own id (C{assocID}: the kernel's
C{sctp_assoc_t} for the kernel backend), never by the layer's record.  Each
event may carry the backend's native form (C{native}, e.g. the decoded kernel
notification) for observers; the layer never reads it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Tuple, Union

import attrs

from twisted_sctp.transport.address import HostPort

#: RFC 6458's C{SCTP_UNORDERED} bit of a message's flags (the same value in
#: every SCTP API).
UNORDERED = 1


@attrs.frozen(cache_hash=True)
class SendParameters:
    """
    How one message is sent.

    @ivar stream: the stream number.
    @ivar ppid: the payload protocol identifier, in host order.
    @ivar unordered: deliver without regard to the stream's order.
    @ivar ttl: PR-SCTP time to live in ms (0: reliable).
    @ivar context: the caller's value, reported back in L{SendFailed}.
    @ivar retries: how many more times the layer re-sends the message after
        the backend reports it unsent (C{send_retries}).
    """

    stream: int = 0
    ppid: int = 0
    unordered: bool = False
    ttl: int = 0
    context: int = 0
    retries: int = 0


@attrs.define(slots=True)
class DataReceived:
    """
    One whole user message.  Treat it as immutable: it is not frozen only
    because a frozen attrs instance costs three times as much to build
    (9,200 against 3,200 instructions, callgrind), once per message.

    @ivar assocID: the backend's association id; 0 when the backend could
        not say which association it came on (the layer then goes by
        C{source}).
    @ivar flags: the message's flags (L{UNORDERED}...).
    @ivar source: the peer address it came from, if known.
    @ivar paths: all the peer's addresses, when the backend read them because
        C{source} was new to it for C{assocID}; else C{None}.
    """

    kind: ClassVar[str] = "data"

    assocID: int
    payload: bytes
    stream: int = 0
    ppid: int = 0
    flags: int = 0
    source: Optional[HostPort] = None
    paths: Optional[Tuple[HostPort, ...]] = None

    @property
    def unordered(self) -> bool:
        """Whether the message was sent unordered."""
        return bool(self.flags & UNORDERED)


@attrs.frozen
class AssociationUp:
    """
    An association came up (C{reason="comm_up"}) or the peer restarted it
    (C{reason="restart"}).

    @ivar source: the peer's primary address, if known.
    @ivar paths: every address of the peer, primary first where known.
    @ivar complete: whether C{paths} is every address of the peer; if not
        (the kernel backend does not ask at COMM_UP), the rest are had from
        the backend's C{peerAddresses} when a lookup needs them.
    """

    kind: ClassVar[str] = "assoc_change"

    assocID: int
    reason: str = "comm_up"
    source: Optional[HostPort] = None
    paths: Tuple[HostPort, ...] = ()
    inboundStreams: int = 0
    outboundStreams: int = 0
    complete: bool = True
    native: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class AssociationDown:
    """
    An association ended or could not start.

    @ivar reason: C{"comm_lost"} (ABORT or too many retransmissions),
        C{"shutdown_complete"} (graceful end, or autoclose) or
        C{"cant_start"} (set-up failed).
    @ivar error: the error cause code (0 for none).
    """

    kind: ClassVar[str] = "assoc_change"

    assocID: int
    reason: str
    error: int = 0
    source: Optional[HostPort] = None
    native: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class PathChanged:
    """
    A path of an association changed state.

    @ivar state: C{"active"}, C{"unreachable"}, C{"removed"},
        C{"potentially-failed"}, or the backend's own word for another.
    """

    kind: ClassVar[str] = "peer_addr_change"

    assocID: int
    address: Optional[HostPort]
    state: str
    error: int = 0
    native: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class SendFailed:
    """
    The backend gives back a message it could not deliver.

    @ivar error: the error cause (0: the association ended before the
        message could go, so it may be re-sent).
    @ivar unsent: the message never left (else it was sent, unacknowledged).
    @ivar params: how it was sent (its C{retries} are those left).
    """

    kind: ClassVar[str] = "send_failed"

    assocID: int
    payload: bytes
    params: SendParameters
    error: int = 0
    unsent: bool = True
    source: Optional[HostPort] = None
    native: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class PeerShutdown:
    """
    The peer started a graceful shutdown: nothing more may be sent.
    """

    kind: ClassVar[str] = "shutdown"

    assocID: int
    native: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class PartialDeliveryAborted:
    """
    A message being delivered in pieces will not be completed; the backend
    has dropped what it had of it.
    """

    kind: ClassVar[str] = "partial_delivery"

    assocID: int
    stream: int = 0
    seq: int = 0
    native: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class RemoteErrorReceived:
    """
    The peer sent an ERROR chunk.

    @ivar error: its first cause code.
    """

    kind: ClassVar[str] = "remote_error"

    assocID: int
    error: int
    data: bytes = b""
    native: Any = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class OtherEvent:
    """
    Anything else a backend reports (e.g. C{"sender_dry"}), for observers.

    @ivar name: the observer-facing kind (C{"sender_dry"}, C{"other"}).
    """

    name: str
    assocID: int = 0
    native: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def kind(self) -> str:
        """The observer-facing kind."""
        return self.name


Event = Union[
    AssociationUp,
    AssociationDown,
    PathChanged,
    SendFailed,
    PeerShutdown,
    PartialDeliveryAborted,
    RemoteErrorReceived,
    OtherEvent,
]
"""
Any event a backend passes to L{ISCTPBackendSink.eventReceived}
(L{DataReceived} goes to C{dataReceived}).
"""
