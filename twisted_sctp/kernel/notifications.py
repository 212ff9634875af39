# -*- test-case-name: tests.test_sockopt -*-
"""
A pure codec for SCTP notifications: the messages C{recvmsg} returns with
C{MSG_NOTIFICATION} set in its flags.

L{decodeNotification} turns such a message into one of the classes here;
each class's C{pack} writes the bytes the kernel would (tests use it to
script kernel input), and C{decodeNotification(n.pack()) == n}.

Every notification starts with an 8-byte header: C{type} (u16), C{flags}
(u16) and C{length} (u32, the whole notification).  Each class has these
three: C{type} is a class attribute (an instance one for
L{UnknownNotification}), and C{length} defaults to the size C{pack} writes.
Where a notification carries trailing bytes, the decoder takes those up to
the smaller of C{length} and the buffer's end.
"""

# Layouts checked with gcc 12.2 against <linux/sctp.h> from linux-libc-dev
# 6.1 on x86_64 (sizeof, then offsetof of each field; all have
# type@0 flags@2 length@4):
#   sctp_assoc_change 20: state@8 error@10 outbound_streams@12
#     inbound_streams@14 assoc_id@16 info@20.
#   sctp_paddr_change 148 (packed, aligned 4): aaddr@8 state@136 error@140
#     assoc_id@144.
#   sctp_send_failed 48: error@8 info@12 assoc_id@44 data@48.
#   sctp_send_failed_event 32: error@8 info@12 assoc_id@28 data@32.
#   sctp_remote_error 16: error@8 (big-endian) assoc_id@12 data@16.
#   sctp_shutdown_event 12 and sctp_sender_dry_event 12: assoc_id@8.
#   sctp_pdapi_event 24: indication@8 assoc_id@12 stream@16 seq@20.
#   sctp_adaptation_event 16: adaptation_ind@8 assoc_id@12.
#   sctp_authkey_event 20: keynumber@8 altkeynumber@10 indication@12
#     assoc_id@16.

from __future__ import annotations

import struct
from typing import Callable, ClassVar, Dict, Tuple, Type, TypeVar, Union

import attrs

from twisted_sctp.kernel.constants import NotificationType
from twisted_sctp.kernel.sockopt import (
    CodecError,
    HostPort,
    SndInfo,
    SndRcvInfo,
    _pack,
    packStorage,
    unpackSockaddr,
)

_HEADER = struct.Struct("@HHI")
_U32 = struct.Struct("=I")
_S32 = struct.Struct("=i")


class ShortNotification(CodecError):
    """
    A notification shorter than the fixed part of its type's structure.
    """


def _trailing(data: bytes, size: int, length: int) -> bytes:
    """
    @return: the bytes after a structure of C{size} bytes, up to C{length}
        or the end of C{data}, whichever comes first.
    """
    # (A slice stops at the end of data, and is empty where length <= size.)
    return data[size:length]


_N = TypeVar("_N", bound="_FixedNotification")


class _FixedNotification:
    """
    Mix-in for notifications whose attrs fields are the C structure's fields
    after the header, then C{flags} and C{length}, with no trailing data.

    @cvar _layout: the whole structure, header included.
    """

    type: ClassVar[int]
    _layout: ClassVar[struct.Struct]

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        fields = attrs.astuple(self)  # type: ignore[arg-type]
        return _pack(self._layout, self.type, fields[-2], fields[-1], *fields[:-2])

    @classmethod
    def _decode(cls: Type[_N], data: bytes, flags: int, length: int) -> _N:
        return cls(*cls._layout.unpack_from(data)[3:], flags, length)  # type: ignore[call-arg]


@attrs.frozen
class AssocChange:
    """
    C{SCTP_ASSOC_CHANGE} (C{struct sctp_assoc_change}, 20 bytes + C{info}).

    @ivar state: an L{twisted_sctp.kernel.constants.AssocChangeState}.
    @ivar error: the error cause code (host order) for C{COMM_LOST} and
        C{CANT_STR_ASSOC}.
    @ivar info: for C{COMM_LOST} and C{CANT_STR_ASSOC}, the ABORT chunk that
        ended the association, if any; for C{COMM_UP} and C{RESTART}, the
        features the peer supports, one byte each.
    """

    type: ClassVar[int] = NotificationType.ASSOC_CHANGE
    _layout: ClassVar[struct.Struct] = struct.Struct("@HHIHHHHi")

    state: int
    error: int = 0
    outboundStreams: int = 0
    inboundStreams: int = 0
    assocID: int = 0
    info: bytes = b""
    flags: int = 0
    length: int = attrs.field()

    @length.default
    def _defaultLength(self) -> int:
        return self._layout.size + len(self.info)

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        return (
            _pack(
                self._layout,
                self.type,
                self.flags,
                self.length,
                self.state,
                self.error,
                self.outboundStreams,
                self.inboundStreams,
                self.assocID,
            )
            + self.info
        )

    @classmethod
    def _decode(cls, data: bytes, flags: int, length: int) -> AssocChange:
        _t, _f, _l, state, error, outbound, inbound, assocID = cls._layout.unpack_from(data)
        info = _trailing(data, cls._layout.size, length)
        return cls(state, error, outbound, inbound, assocID, info, flags, length)


@attrs.frozen
class PeerAddrChange:
    """
    C{SCTP_PEER_ADDR_CHANGE} (C{struct sctp_paddr_change}, 148 bytes packed).

    @ivar address: the peer address; C{("", 0)} if its family is
        C{AF_UNSPEC}.
    @ivar state: a L{twisted_sctp.kernel.constants.PeerAddrState}.
    """

    type: ClassVar[int] = NotificationType.PEER_ADDR_CHANGE
    _layout: ClassVar[struct.Struct] = struct.Struct("=HHI128siii")

    address: HostPort
    state: int
    error: int = 0
    assocID: int = 0
    flags: int = 0
    length: int = _layout.size

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        storage = packStorage(self.address)
        return _pack(
            self._layout,
            self.type,
            self.flags,
            self.length,
            storage,
            self.state,
            self.error,
            self.assocID,
        )

    @classmethod
    def _decode(cls, data: bytes, flags: int, length: int) -> PeerAddrChange:
        _t, _f, _l, storage, state, error, assocID = cls._layout.unpack_from(data)
        return cls(unpackSockaddr(storage), state, error, assocID, flags, length)


_F = TypeVar("_F", bound="_SendFailedLayout")


class _SendFailedLayout:
    """
    What C{struct sctp_send_failed} and C{struct sctp_send_failed_event}
    share: the header, C{error} (u32), the send information (whose class
    and size differ), C{assoc_id} at the end of the fixed part, then the
    undelivered payload.
    """

    type: ClassVar[int]
    size: ClassVar[int]
    _info: ClassVar[Union[Type[SndRcvInfo], Type[SndInfo]]]
    _head: ClassVar[struct.Struct] = struct.Struct("@HHII")
    flags: int
    error: int
    info: Union[SndRcvInfo, SndInfo]
    assocID: int
    data: bytes
    length: int

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        head = _pack(self._head, self.type, self.flags, self.length, self.error)
        return head + self.info.pack() + _pack(_S32, self.assocID) + self.data

    @classmethod
    def _decode(cls: Type[_F], data: bytes, flags: int, length: int) -> _F:
        (error,) = _U32.unpack_from(data, 8)
        info = cls._info.unpack(data[12:])
        (assocID,) = _S32.unpack_from(data, cls.size - 4)
        return cls(flags, error, info, assocID, _trailing(data, cls.size, length), length)  # type: ignore[call-arg]


@attrs.frozen
class SendFailed(_SendFailedLayout):
    """
    C{SCTP_SEND_FAILED} (C{struct sctp_send_failed}, 48 bytes + C{data}),
    the legacy form of L{SendFailedEvent}.

    @ivar flags: C{SEND_FAILED_DATA_UNSENT} or C{SEND_FAILED_DATA_SENT}.
    @ivar info: how the message was sent.
    @ivar data: the payload that was not delivered.
    """

    type: ClassVar[int] = NotificationType.SEND_FAILED
    size: ClassVar[int] = 48
    _info = SndRcvInfo

    flags: int
    error: int
    info: SndRcvInfo = SndRcvInfo()
    assocID: int = 0
    data: bytes = b""
    length: int = attrs.field()

    @length.default
    def _defaultLength(self) -> int:
        return self.size + len(self.data)



@attrs.frozen
class SendFailedEvent(_SendFailedLayout):
    """
    C{SCTP_SEND_FAILED_EVENT} (C{struct sctp_send_failed_event}, 32 bytes +
    C{data}).

    @ivar flags: C{SEND_FAILED_DATA_UNSENT} or C{SEND_FAILED_DATA_SENT}.
    @ivar info: how the message was sent.
    @ivar data: the payload that was not delivered.
    """

    type: ClassVar[int] = NotificationType.SEND_FAILED_EVENT
    size: ClassVar[int] = 32
    _info = SndInfo

    flags: int
    error: int
    info: SndInfo = SndInfo()
    assocID: int = 0
    data: bytes = b""
    length: int = attrs.field()

    @length.default
    def _defaultLength(self) -> int:
        return self.size + len(self.data)



@attrs.frozen
class RemoteError:
    """
    C{SCTP_REMOTE_ERROR} (C{struct sctp_remote_error}, 16 bytes + C{data}):
    the peer sent an ERROR chunk.

    @ivar error: the first error cause code, in host order (it is big-endian
        in the structure).
    @ivar data: the rest of the ERROR chunk.
    """

    type: ClassVar[int] = NotificationType.REMOTE_ERROR
    _layout: ClassVar[struct.Struct] = struct.Struct("@HHI2s2xi")

    error: int
    assocID: int = 0
    data: bytes = b""
    flags: int = 0
    length: int = attrs.field()

    @length.default
    def _defaultLength(self) -> int:
        return self._layout.size + len(self.data)

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        if not 0 <= self.error <= 0xFFFF:
            raise CodecError("error cause out of range: {!r}".format(self.error))
        error = self.error.to_bytes(2, "big")
        head = _pack(self._layout, self.type, self.flags, self.length, error, self.assocID)
        return head + self.data

    @classmethod
    def _decode(cls, data: bytes, flags: int, length: int) -> RemoteError:
        _t, _f, _l, error, assocID = cls._layout.unpack_from(data)
        trailing = _trailing(data, cls._layout.size, length)
        return cls(int.from_bytes(error, "big"), assocID, trailing, flags, length)


@attrs.frozen
class ShutdownEvent(_FixedNotification):
    """
    C{SCTP_SHUTDOWN_EVENT} (C{struct sctp_shutdown_event}, 12 bytes): the
    peer shut down; no more data may be sent on the association.
    """

    type: ClassVar[int] = NotificationType.SHUTDOWN_EVENT
    _layout = struct.Struct("@HHIi")

    assocID: int
    flags: int = 0
    length: int = _layout.size


@attrs.frozen
class PartialDeliveryEvent(_FixedNotification):
    """
    C{SCTP_PARTIAL_DELIVERY_EVENT} (C{struct sctp_pdapi_event}, 24 bytes; 16
    on kernels without C{stream} and C{seq}, which then decode as 0).

    @ivar indication: a L{twisted_sctp.kernel.constants.PartialDeliveryIndication}.
    """

    type: ClassVar[int] = NotificationType.PARTIAL_DELIVERY_EVENT
    _layout = struct.Struct("@HHIIiII")
    minimumSize: ClassVar[int] = 16

    indication: int
    assocID: int = 0
    stream: int = 0
    seq: int = 0
    flags: int = 0
    length: int = _layout.size

    @classmethod
    def _decode(cls, data: bytes, flags: int, length: int) -> PartialDeliveryEvent:
        padded = data[: cls._layout.size].ljust(cls._layout.size, b"\x00")
        _t, _f, _l, indication, assocID, stream, seq = cls._layout.unpack(padded)
        return cls(indication, assocID, stream, seq, flags, length)


@attrs.frozen
class AdaptationEvent(_FixedNotification):
    """
    C{SCTP_ADAPTATION_INDICATION} (C{struct sctp_adaptation_event}, 16
    bytes): the peer's adaptation layer indication (RFC 5061).
    """

    type: ClassVar[int] = NotificationType.ADAPTATION_INDICATION
    _layout = struct.Struct("@HHIIi")

    adaptationInd: int
    assocID: int = 0
    flags: int = 0
    length: int = _layout.size


@attrs.frozen
class AuthenticationEvent(_FixedNotification):
    """
    C{SCTP_AUTHENTICATION_EVENT} (C{struct sctp_authkey_event}, 20 bytes).

    @ivar indication: an L{twisted_sctp.kernel.constants.AuthIndication}.
    """

    type: ClassVar[int] = NotificationType.AUTHENTICATION_EVENT
    _layout = struct.Struct("@HHIHHIi")

    keyNumber: int
    altKeyNumber: int = 0
    indication: int = 0
    assocID: int = 0
    flags: int = 0
    length: int = _layout.size


@attrs.frozen
class SenderDryEvent(_FixedNotification):
    """
    C{SCTP_SENDER_DRY_EVENT} (C{struct sctp_sender_dry_event}, 12 bytes):
    the association has no user data left to send or retransmit.
    """

    type: ClassVar[int] = NotificationType.SENDER_DRY_EVENT
    _layout = struct.Struct("@HHIi")

    assocID: int
    flags: int = 0
    length: int = _layout.size


@attrs.frozen
class UnknownNotification:
    """
    A notification of a type this module does not decode.

    @ivar data: the bytes after the 8-byte header, up to C{length}.
    """

    type: int
    flags: int
    length: int
    data: bytes

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        return _pack(_HEADER, self.type, self.flags, self.length) + self.data


Notification = Union[
    AssocChange,
    PeerAddrChange,
    SendFailed,
    SendFailedEvent,
    RemoteError,
    ShutdownEvent,
    PartialDeliveryEvent,
    AdaptationEvent,
    AuthenticationEvent,
    SenderDryEvent,
    UnknownNotification,
]
"""
Any notification L{decodeNotification} returns.
"""

_Decoder = Callable[[bytes, int, int], Notification]

_DECODERS: Dict[int, Tuple[int, _Decoder]] = {
    NotificationType.ASSOC_CHANGE: (AssocChange._layout.size, AssocChange._decode),
    NotificationType.PEER_ADDR_CHANGE: (PeerAddrChange._layout.size, PeerAddrChange._decode),
    NotificationType.SEND_FAILED: (SendFailed.size, SendFailed._decode),
    NotificationType.REMOTE_ERROR: (RemoteError._layout.size, RemoteError._decode),
    NotificationType.SHUTDOWN_EVENT: (ShutdownEvent._layout.size, ShutdownEvent._decode),
    NotificationType.PARTIAL_DELIVERY_EVENT: (
        PartialDeliveryEvent.minimumSize,
        PartialDeliveryEvent._decode,
    ),
    NotificationType.ADAPTATION_INDICATION: (AdaptationEvent._layout.size, AdaptationEvent._decode),
    NotificationType.AUTHENTICATION_EVENT: (
        AuthenticationEvent._layout.size,
        AuthenticationEvent._decode,
    ),
    NotificationType.SENDER_DRY_EVENT: (SenderDryEvent._layout.size, SenderDryEvent._decode),
    NotificationType.SEND_FAILED_EVENT: (SendFailedEvent.size, SendFailedEvent._decode),
}


def decodeNotification(data: bytes) -> Notification:
    """
    Decode a notification read with C{MSG_NOTIFICATION} set.

    @param data: the whole message (so read notifications with a buffer big
        enough for the largest one you decode, and check C{MSG_EOR}).
    @raise ShortNotification: C{data} is shorter than its type's structure.
    @raise CodecError: C{data} is shorter than the header, or holds an
        address of an unknown family.
    """
    if len(data) < _HEADER.size:
        raise CodecError("notification header needs 8 bytes, got {}".format(len(data)))
    kind, flags, length = _HEADER.unpack_from(data)
    decoder = _DECODERS.get(kind)
    if decoder is None:
        return UnknownNotification(kind, flags, length, _trailing(data, _HEADER.size, length))
    size, decode = decoder
    if len(data) < size:
        raise ShortNotification(
            "notification type {:#x} needs {} bytes, got {}".format(kind, size, len(data))
        )
    return decode(data, flags, length)
