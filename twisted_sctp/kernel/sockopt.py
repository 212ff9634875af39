# -*- test-case-name: tests.test_sockopt -*-
"""
A pure codec for the Linux SCTP socket API structures: socket addresses,
send/receive information (ancillary data) and socket option values.

Nothing here touches a socket.  Every layout is the native x86_64 one; the
notification structures are in L{twisted_sctp.kernel.notifications}.
"""

# Layouts checked with gcc 12.2 against <linux/sctp.h> from linux-libc-dev
# 6.1 on x86_64 (sizeof, then offsetof of each field):
#   sockaddr_in 16: port@2 addr@4.  sockaddr_in6 28: port@2 flowinfo@4
#     addr@8 scope_id@24.  sockaddr_storage 128.
#   sctp_sndrcvinfo 32: ssn@2 flags@4 ppid@8 context@12 timetolive@16 tsn@20
#     cumtsn@24 assoc_id@28.
#   sctp_sndinfo 16: flags@2 ppid@4 context@8 assoc_id@12.
#   sctp_rcvinfo 28: ssn@2 flags@4 ppid@8 tsn@12 cumtsn@16 context@20
#     assoc_id@24.
#   sctp_prinfo 8: policy@0 value@4.
#   sctp_rtoinfo 16: initial@4 max@8 min@12.
#   sctp_assocparams 20: asocmaxrxt@4 number_peer_destinations@6
#     peer_rwnd@8 local_rwnd@12 cookie_life@16.
#   sctp_initmsg 8: max_instreams@2 max_attempts@4 max_init_timeo@6.
#   sctp_paddrparams 156 (packed, aligned 4): address@4 hbinterval@132
#     pathmaxrxt@136 pathmtu@138 sackdelay@142 flags@146 ipv6_flowlabel@150
#     dscp@154.
#   sctp_sack_info 12: delay@4 freq@8.  sctp_assoc_value 8: value@4.
#   sctp_event_subscribe 14 (one u8 per event).  sctp_event 8: type@4 on@6.
#   sctp_paddrinfo 152 (packed, aligned 4): address@4 state@132 cwnd@136
#     srtt@140 rto@144 mtu@148.
#   sctp_status 176: state@4 rwnd@8 unackdata@12 penddata@14 instrms@16
#     outstrms@18 fragmentation_point@20 primary@24.
#   sctp_getaddrs 8: addr_num@4 addrs@8.  sctp_assoc_ids 4: ids@4.

from __future__ import annotations

import operator
import socket
import struct
from typing import Any, ClassVar, Iterable, Optional, Tuple, Type, TypeVar, Union

import attrs

from twisted_sctp.kernel.constants import IPPROTO_SCTP, SO_TIMESTAMPNS, CmsgType

from twisted_sctp.transport.address import HostPort  # noqa: E402  (one definition)
from twisted_sctp.kernel.sockaddr import (  # noqa: F401  (the codec's public names, here as before)
    SOCKADDR_STORAGE_SIZE,
    _WILDCARD,
    CodecError,
    _pack,
    _unpack,
    packAddrList,
    packSockaddr,
    packSockaddrs,
    packStorage,
    unpackAddrList,
    unpackAssocIDList,
    unpackSockaddr,
    unpackSockaddrs,
)

_T = TypeVar("_T", bound="_FlatStruct")

#: Each flat structure's fields, in order, as one getter.
_FIELD_GETTERS: "dict[type, Any]" = {}


class _FlatStruct:
    """
    Mix-in for attrs classes whose fields are the C structure's fields, all
    integers, in order.

    @cvar _layout: the C{struct} layout.
    """

    _layout: ClassVar[struct.Struct]

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        cls = type(self)
        getter = _FIELD_GETTERS.get(cls)
        if getter is None:
            # (attrs.astuple is generic, and costs ~10x this per call.)
            getter = _FIELD_GETTERS[cls] = operator.attrgetter(*[f.name for f in attrs.fields(cls)])  # type: ignore[arg-type]
        values = getter(self)
        return _pack(self._layout, *(values if isinstance(values, tuple) else (values,)))

    @classmethod
    def unpack(cls: Type[_T], data: bytes) -> _T:
        """@raise CodecError: C{data} is too short (bytes past the end are ignored)."""
        return cls(*_unpack(cls._layout, data, cls.__name__))


@attrs.frozen(cache_hash=True)  # the port keys its packed control messages by it
class SndRcvInfo(_FlatStruct):
    """
    C{struct sctp_sndrcvinfo} (32 bytes; 2 bytes of padding after C{flags}):
    the legacy C{SCTP_SNDRCV} control message, and the value of
    C{SCTP_DEFAULT_SEND_PARAM}.

    @ivar ppid: the payload protocol identifier, raw: the kernel copies these
        four bytes to the wire unchanged, so pass C{socket.htonl(ppid)} for
        the conventional network byte order (and C{socket.ntohl} what comes
        back).
    @ivar flags: L{twisted_sctp.kernel.constants.SendFlags}, plus a PR-SCTP policy.
    @ivar timetolive: milliseconds (0 for reliable).
    """

    _layout = struct.Struct("@HHHIIIIIi")

    stream: int = 0
    ssn: int = 0
    flags: int = 0
    ppid: int = 0
    context: int = 0
    timetolive: int = 0
    tsn: int = 0
    cumtsn: int = 0
    assocID: int = 0


@attrs.frozen
class SndInfo(_FlatStruct):
    """
    C{struct sctp_sndinfo} (16 bytes): the C{SCTP_SNDINFO} control message
    and the value of C{SCTP_DEFAULT_SNDINFO}.  C{ppid} is raw, as in
    L{SndRcvInfo}.
    """

    _layout = struct.Struct("@HHIIi")

    sid: int = 0
    flags: int = 0
    ppid: int = 0
    context: int = 0
    assocID: int = 0


@attrs.frozen
class RcvInfo(_FlatStruct):
    """
    C{struct sctp_rcvinfo} (28 bytes): the C{SCTP_RCVINFO} control message,
    received once C{SCTP_RECVRCVINFO} is on.  C{ppid} is raw, as in
    L{SndRcvInfo}.
    """

    _layout = struct.Struct("@HHHIIIIi")

    sid: int = 0
    ssn: int = 0
    flags: int = 0
    ppid: int = 0
    tsn: int = 0
    cumtsn: int = 0
    context: int = 0
    assocID: int = 0


@attrs.frozen
class PRInfo(_FlatStruct):
    """
    C{struct sctp_prinfo} (8 bytes): the C{SCTP_PRINFO} control message.

    @ivar policy: a L{twisted_sctp.kernel.constants.PRPolicy}.
    @ivar value: for C{TTL}, milliseconds; for C{RTX}, retransmissions.
    """

    _layout = struct.Struct("@HI")

    policy: int = 0
    value: int = 0


@attrs.frozen
class RTOInfo(_FlatStruct):
    """C{struct sctp_rtoinfo} (C{SCTP_RTOINFO}, 16 bytes); times in ms."""

    _layout = struct.Struct("@iIII")

    assocID: int = 0
    initial: int = 0
    max: int = 0
    min: int = 0


@attrs.frozen
class AssocParams(_FlatStruct):
    """C{struct sctp_assocparams} (C{SCTP_ASSOCINFO}, 20 bytes)."""

    _layout = struct.Struct("@iHHIII")

    assocID: int = 0
    asocmaxrxt: int = 0
    numberPeerDestinations: int = 0
    peerRwnd: int = 0
    localRwnd: int = 0
    cookieLife: int = 0


@attrs.frozen
class InitMsg(_FlatStruct):
    """C{struct sctp_initmsg} (C{SCTP_INITMSG}, 8 bytes)."""

    _layout = struct.Struct("@HHHH")

    numOstreams: int = 0
    maxInstreams: int = 0
    maxAttempts: int = 0
    maxInitTimeo: int = 0


@attrs.frozen
class SackInfo(_FlatStruct):
    """C{struct sctp_sack_info} (C{SCTP_DELAYED_SACK}, 12 bytes)."""

    _layout = struct.Struct("@iII")

    assocID: int = 0
    delay: int = 0
    freq: int = 0


@attrs.frozen
class AssocValue(_FlatStruct):
    """
    C{struct sctp_assoc_value} (8 bytes): C{SCTP_MAX_BURST},
    C{SCTP_MAXSEG}, C{SCTP_PARTIAL_DELIVERY_POINT} and others.
    """

    _layout = struct.Struct("@iI")

    assocID: int = 0
    value: int = 0


@attrs.frozen
class Event(_FlatStruct):
    """
    C{struct sctp_event} (C{SCTP_EVENT}, 8 bytes): turn one notification
    type on or off for one association.
    """

    _layout = struct.Struct("@iHBx")

    assocID: int = 0
    type: int = 0
    on: bool = attrs.field(default=False, converter=bool)


_EVENT_FIELDS = 14
_EVENT_DEFAULT_LENGTH = 10


@attrs.frozen
class EventSubscribe:
    """
    C{struct sctp_event_subscribe} (C{SCTP_EVENTS}): one byte per
    notification type, in type order.  The structure is 14 bytes on current
    kernels and shorter on old ones; a kernel takes any shorter length and
    sets only the types it covers.
    """

    dataIO: bool = attrs.field(default=False, converter=bool)
    association: bool = attrs.field(default=False, converter=bool)
    address: bool = attrs.field(default=False, converter=bool)
    sendFailure: bool = attrs.field(default=False, converter=bool)
    peerError: bool = attrs.field(default=False, converter=bool)
    shutdown: bool = attrs.field(default=False, converter=bool)
    partialDelivery: bool = attrs.field(default=False, converter=bool)
    adaptation: bool = attrs.field(default=False, converter=bool)
    authentication: bool = attrs.field(default=False, converter=bool)
    senderDry: bool = attrs.field(default=False, converter=bool)
    streamReset: bool = attrs.field(default=False, converter=bool)
    assocReset: bool = attrs.field(default=False, converter=bool)
    streamChange: bool = attrs.field(default=False, converter=bool)
    sendFailureEvent: bool = attrs.field(default=False, converter=bool)

    def pack(self, length: Optional[int] = None) -> bytes:
        """
        @param length: how many bytes (event types) to write, 1 to 14.  The
            default, 10, is portable to old kernels; it grows to cover an
            enabled type past the tenth.
        @raise CodecError: C{length} is out of range or too short for an
            enabled type.
        """
        values = [int(v) for v in attrs.astuple(self)]
        last = max((i + 1 for i, v in enumerate(values) if v), default=0)
        if length is None:
            length = max(_EVENT_DEFAULT_LENGTH, last)
        if not 1 <= length <= _EVENT_FIELDS:
            raise CodecError("sctp_event_subscribe length {} not in 1..14".format(length))
        if last > length:
            raise CodecError("event type {} is on but length is {}".format(last, length))
        return bytes(values[:length])

    @classmethod
    def unpack(cls, data: bytes) -> EventSubscribe:
        """
        Decode a structure of any length; the types it does not cover are off
        and bytes past the fourteenth are ignored.

        @raise CodecError: C{data} is empty.
        """
        if not data:
            raise CodecError("sctp_event_subscribe needs at least 1 byte")
        return cls(*(bool(b) for b in data[:_EVENT_FIELDS]))


def _unpackStorage(data: bytes, offset: int) -> Optional[HostPort]:
    """Decode the C{sockaddr_storage} at C{offset}: C{None} for C{AF_UNSPEC}."""
    storage = data[offset : offset + SOCKADDR_STORAGE_SIZE]
    address = unpackSockaddr(storage)
    return None if address == ("", 0) else address


@attrs.frozen
class PeerAddrParams:
    """
    C{struct sctp_paddrparams} (C{SCTP_PEER_ADDR_PARAMS}): 156 bytes packed,
    or 152 in the legacy form without C{ipv6Flowlabel} and C{dscp}.

    @ivar address: the peer address, or C{None} for every address of the
        association (an all-zero C{sockaddr_storage}).  See L{forFamily}.
    @ivar flags: L{twisted_sctp.kernel.constants.SPPFlags}.
    """

    _layout: ClassVar[struct.Struct] = struct.Struct("=i128sIHIIIIBx")
    _legacyLayout: ClassVar[struct.Struct] = struct.Struct("=i128sIHIII2x")

    assocID: int = 0
    address: Optional[HostPort] = None
    hbinterval: int = 0
    pathmaxrxt: int = 0
    pathmtu: int = 0
    sackdelay: int = 0
    flags: int = 0
    ipv6Flowlabel: int = 0
    dscp: int = 0

    @classmethod
    def forFamily(cls, family: int, **fields: Any) -> PeerAddrParams:
        """
        Parameters whose address is the wildcard of C{family}: it packs to a
        C{sockaddr_storage} whose only non-zero field is C{ss_family}, which
        some kernels need for C{SCTP_FUTURE_ASSOC}.

        @param family: C{AF_INET} or C{AF_INET6}.
        @param fields: the other fields.
        @raise CodecError: another family.
        """
        if family not in _WILDCARD:
            raise CodecError("unknown address family {}".format(family))
        return cls(address=_WILDCARD[family], **fields)

    def pack(self, legacy: bool = False) -> bytes:
        """
        @param legacy: write the 152-byte form that older kernels know.
        @raise CodecError: a field does not fit its C type.
        """
        rest = attrs.astuple(self, recurse=False)[2:]
        fields = (self.assocID, packStorage(self.address)) + rest
        if legacy:
            return _pack(self._legacyLayout, *fields[:-2])
        return _pack(self._layout, *fields)

    @classmethod
    def unpack(cls, data: bytes) -> PeerAddrParams:
        """
        Decode the 156-byte form, or the legacy 152-byte one.

        @raise CodecError: C{data} is shorter than 152 bytes or holds an
            unknown address family.
        """
        if len(data) >= cls._layout.size:
            fields = cls._layout.unpack_from(data)
        else:
            fields = _unpack(cls._legacyLayout, data, "sctp_paddrparams") + (0, 0)
        return cls(fields[0], _unpackStorage(data, 4), *fields[2:])


@attrs.frozen
class PeerAddrInfo:
    """
    C{struct sctp_paddrinfo} (C{SCTP_GET_PEER_ADDR_INFO}, 152 bytes packed).

    @ivar state: a L{twisted_sctp.kernel.constants.TransportState}.
    @ivar srtt: smoothed round trip time, ms.
    @ivar rto: retransmission timeout, ms.
    """

    _layout: ClassVar[struct.Struct] = struct.Struct("=i128siIIII")

    assocID: int = 0
    address: Optional[HostPort] = None
    state: int = 0
    cwnd: int = 0
    srtt: int = 0
    rto: int = 0
    mtu: int = 0

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        fields = attrs.astuple(self, recurse=False)
        return _pack(self._layout, self.assocID, packStorage(self.address), *fields[2:])

    @classmethod
    def unpack(cls, data: bytes) -> PeerAddrInfo:
        """@raise CodecError: C{data} is short or holds an unknown family."""
        fields = _unpack(cls._layout, data, "sctp_paddrinfo")
        return cls(fields[0], _unpackStorage(data, 4), *fields[2:])


@attrs.frozen
class Status:
    """
    C{struct sctp_status} (C{SCTP_STATUS}, 176 bytes): 24 bytes of
    association state followed by the primary path's L{PeerAddrInfo}.

    @ivar state: a L{twisted_sctp.kernel.constants.AssocState}.
    @ivar unackdata: DATA chunks waiting for acknowledgement.
    @ivar penddata: DATA chunks waiting to be read.
    """

    _layout: ClassVar[struct.Struct] = struct.Struct("=iiIHHHHI")
    size: ClassVar[int] = 176

    assocID: int = 0
    state: int = 0
    rwnd: int = 0
    unackdata: int = 0
    penddata: int = 0
    instrms: int = 0
    outstrms: int = 0
    fragmentationPoint: int = 0
    primary: PeerAddrInfo = attrs.Factory(PeerAddrInfo)

    def pack(self) -> bytes:
        """@raise CodecError: a field does not fit its C type."""
        head = attrs.astuple(self, recurse=False)[:-1]
        return _pack(self._layout, *head) + self.primary.pack()

    @classmethod
    def unpack(cls, data: bytes) -> Status:
        """
        @raise CodecError: C{data} is shorter than 176 bytes or holds an
            unknown address family.
        """
        if len(data) < cls.size:
            raise CodecError("sctp_status needs {} bytes, got {}".format(cls.size, len(data)))
        head = cls._layout.unpack_from(data)
        return cls(*head + (PeerAddrInfo.unpack(data[cls._layout.size :]),))


def sndrcvCmsg(info: SndRcvInfo) -> Tuple[int, int, bytes]:
    """@return: an C{SCTP_SNDRCV} item for C{socket.sendmsg}'s ancillary data."""
    return (IPPROTO_SCTP, CmsgType.SNDRCV, info.pack())


def sndinfoCmsg(info: SndInfo) -> Tuple[int, int, bytes]:
    """@return: an C{SCTP_SNDINFO} item for C{socket.sendmsg}."""
    return (IPPROTO_SCTP, CmsgType.SNDINFO, info.pack())


def prinfoCmsg(info: PRInfo) -> Tuple[int, int, bytes]:
    """@return: an C{SCTP_PRINFO} item for C{socket.sendmsg}."""
    return (IPPROTO_SCTP, CmsgType.PRINFO, info.pack())


_TIMESPEC = struct.Struct("@ll")

def _receiveItem(
    ancdata: Iterable[Tuple[int, int, bytes]],
) -> Optional[Tuple[Union[Type[SndRcvInfo], Type[RcvInfo]], bytes]]:
    """
    @return: the structure and bytes of the first complete C{SCTP_SNDRCV} or
        C{SCTP_RCVINFO} item (items truncated by a short ancillary buffer
        are skipped), or C{None} if there is none.
    """
    for level, kind, data in ancdata:
        if level != IPPROTO_SCTP:
            continue
        if kind == CmsgType.SNDRCV and len(data) >= SndRcvInfo._layout.size:
            return SndRcvInfo, data
        if kind == CmsgType.RCVINFO and len(data) >= RcvInfo._layout.size:
            return RcvInfo, data
    return None


def receiveInfo(ancdata: Iterable[Tuple[int, int, bytes]]) -> Optional[Tuple[int, int, int, int]]:
    """
    The fields of the receive information that a receiver needs, read
    straight from C{socket.recvmsg}'s ancillary data (L{parseAncillary}
    without building the structure: this is once per message received).

    @return: C{(assocID, stream, ppid, flags)} of the item L{parseAncillary}
        decodes (C{ppid} as the kernel gives it, in network byte order), or
        C{None} if there is none.
    """
    # _receiveItem's scan, inline with plain ints and bound unpackers.
    for level, kind, data in ancdata:
        if level != _SCTP_LEVEL:
            continue
        if kind == _SNDRCV and len(data) >= _SNDRCV_SIZE:
            stream, _, flags, ppid, _, _, _, _, assocID = _unpackSndRcv(data)
            return assocID, stream, ppid, flags
        if kind == _RCVINFO and len(data) >= _RCVINFO_SIZE:
            stream, _, flags, ppid, _, _, _, assocID = _unpackRcvInfo(data)
            return assocID, stream, ppid, flags
    return None


_SCTP_LEVEL = int(IPPROTO_SCTP)
_SNDRCV = int(CmsgType.SNDRCV)
_RCVINFO = int(CmsgType.RCVINFO)
_SNDRCV_SIZE = SndRcvInfo._layout.size
_RCVINFO_SIZE = RcvInfo._layout.size
_unpackSndRcv = SndRcvInfo._layout.unpack_from
_unpackRcvInfo = RcvInfo._layout.unpack_from


def receiveTime(ancdata: Iterable[Tuple[int, int, bytes]]) -> Optional[float]:
    """
    Find the kernel's arrival time of a message in C{socket.recvmsg}'s
    ancillary data (the socket must have C{SO_TIMESTAMPNS} on).

    @return: seconds since the epoch (the clock of C{time.time}), or
        C{None} if there is no complete C{SCM_TIMESTAMPNS} item.
    """
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return float(seconds + nanoseconds * 1e-9)
    return None


def parseAncillary(
    ancdata: Iterable[Tuple[int, int, bytes]],
) -> Union[SndRcvInfo, RcvInfo, None]:
    """
    Find the receive information in C{socket.recvmsg}'s ancillary data.

    @return: the first complete C{SCTP_SNDRCV} or C{SCTP_RCVINFO} item,
        decoded, or C{None} if there is none (items truncated by a short
        ancillary buffer are skipped).
    """
    found = _receiveItem(ancdata)
    if found is None:
        return None
    kind, data = found
    return kind.unpack(data)
