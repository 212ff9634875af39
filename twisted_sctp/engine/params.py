# -*- test-case-name: tests.test_engine_codec -*-
"""
Variable-length parameters and error causes (RFC 9260 sections 3.2.1 and
3.3.10): one type-length-value layout, padded to four bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import List, Sequence, Tuple, Union

import attrs

from twisted_sctp.engine.errors import CodecError

_TLV = struct.Struct("!HH")


def encodeTLV(kind: int, value: bytes) -> bytes:
    """
    @return: C{kind} and C{value} as one TLV, padded to a multiple of four.
    """
    length = 4 + len(value)
    if length > 0xFFFF:
        raise CodecError("TLV of {} bytes does not fit a 16-bit length".format(length))
    return _TLV.pack(kind, length) + value + b"\0" * (-length % 4)


def decodeTLVs(data: bytes) -> List[Tuple[int, bytes]]:
    """
    Split C{data} into TLVs.  The last one's padding may be missing.

    @raise CodecError: a length that is too short or runs past the end.
    """
    out: List[Tuple[int, bytes]] = []
    offset = 0
    end = len(data)
    while offset < end:
        if end - offset < 4:
            raise CodecError("truncated TLV header at offset {}".format(offset))
        kind, length = _TLV.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            raise CodecError("bad TLV length {} at offset {}".format(length, offset))
        out.append((kind, bytes(data[offset + 4 : offset + length])))
        offset += length + (-length % 4)
    return out


class ParamType:
    """
    Parameter types used by the engine.
    """

    HEARTBEAT_INFO = 1
    IPV4_ADDRESS = 5
    IPV6_ADDRESS = 6
    STATE_COOKIE = 7
    UNRECOGNIZED = 8
    COOKIE_PRESERVATIVE = 9
    HOST_NAME = 11
    SUPPORTED_ADDRESS_TYPES = 12
    SUPPORTED_EXTENSIONS = 0x8008
    FORWARD_TSN_SUPPORTED = 0xC000


@attrs.frozen
class IPv4AddressParam:
    """An IPv4 address of the sender (type 5)."""

    address: str

    def encode(self) -> bytes:
        try:
            raw = ipaddress.IPv4Address(self.address).packed
        except ValueError as e:
            raise CodecError(str(e)) from None
        return encodeTLV(ParamType.IPV4_ADDRESS, raw)


@attrs.frozen
class IPv6AddressParam:
    """An IPv6 address of the sender (type 6)."""

    address: str

    def encode(self) -> bytes:
        try:
            raw = ipaddress.IPv6Address(self.address).packed
        except ValueError as e:
            raise CodecError(str(e)) from None
        return encodeTLV(ParamType.IPV6_ADDRESS, raw)


@attrs.frozen
class StateCookieParam:
    """The opaque state cookie of an INIT-ACK (type 7)."""

    cookie: bytes

    def encode(self) -> bytes:
        return encodeTLV(ParamType.STATE_COOKIE, self.cookie)


@attrs.frozen
class HeartbeatInfoParam:
    """The sender-specific heartbeat information (type 1)."""

    info: bytes

    def encode(self) -> bytes:
        return encodeTLV(ParamType.HEARTBEAT_INFO, self.info)


@attrs.frozen
class CookiePreservativeParam:
    """A request for a longer cookie lifetime, in milliseconds (type 9)."""

    increment: int

    def encode(self) -> bytes:
        return encodeTLV(ParamType.COOKIE_PRESERVATIVE, struct.pack("!I", self.increment & 0xFFFFFFFF))


@attrs.frozen
class SupportedAddressTypesParam:
    """The address types the sender supports (type 12)."""

    types: Tuple[int, ...]

    def encode(self) -> bytes:
        return encodeTLV(ParamType.SUPPORTED_ADDRESS_TYPES, struct.pack("!{}H".format(len(self.types)), *self.types))


@attrs.frozen
class SupportedExtensionsParam:
    """The extension chunk types the sender supports (RFC 5061, type 0x8008)."""

    chunkTypes: Tuple[int, ...]

    def encode(self) -> bytes:
        return encodeTLV(ParamType.SUPPORTED_EXTENSIONS, bytes(self.chunkTypes))


@attrs.frozen
class ForwardTSNSupportedParam:
    """The sender supports PR-SCTP (RFC 3758, type 0xC000)."""

    def encode(self) -> bytes:
        return encodeTLV(ParamType.FORWARD_TSN_SUPPORTED, b"")


@attrs.frozen
class UnrecognizedParam:
    """A parameter of ours the peer did not recognise (type 8), or theirs we
    report back."""

    param: bytes

    def encode(self) -> bytes:
        return encodeTLV(ParamType.UNRECOGNIZED, self.param)


@attrs.frozen
class UnknownParam:
    """A parameter this codec does not interpret, kept as is."""

    type: int
    value: bytes

    def encode(self) -> bytes:
        return encodeTLV(self.type, self.value)


Param = Union[
    IPv4AddressParam,
    IPv6AddressParam,
    StateCookieParam,
    HeartbeatInfoParam,
    CookiePreservativeParam,
    SupportedAddressTypesParam,
    SupportedExtensionsParam,
    ForwardTSNSupportedParam,
    UnrecognizedParam,
    UnknownParam,
]


def _u16s(value: bytes) -> Tuple[int, ...]:
    if len(value) % 2:
        raise CodecError("odd length list of 16-bit values")
    return struct.unpack("!{}H".format(len(value) // 2), value)


def decodeParam(kind: int, value: bytes) -> Param:
    """
    @return: the typed parameter for one TLV.
    @raise CodecError: a known type whose value has the wrong size.
    """
    if kind == ParamType.IPV4_ADDRESS:
        if len(value) != 4:
            raise CodecError("IPv4 address parameter of {} bytes".format(len(value)))
        return IPv4AddressParam(str(ipaddress.IPv4Address(value)))
    if kind == ParamType.IPV6_ADDRESS:
        if len(value) != 16:
            raise CodecError("IPv6 address parameter of {} bytes".format(len(value)))
        return IPv6AddressParam(str(ipaddress.IPv6Address(value)))
    if kind == ParamType.STATE_COOKIE:
        return StateCookieParam(value)
    if kind == ParamType.HEARTBEAT_INFO:
        return HeartbeatInfoParam(value)
    if kind == ParamType.COOKIE_PRESERVATIVE:
        if len(value) != 4:
            raise CodecError("cookie preservative of {} bytes".format(len(value)))
        return CookiePreservativeParam(struct.unpack("!I", value)[0])
    if kind == ParamType.SUPPORTED_ADDRESS_TYPES:
        return SupportedAddressTypesParam(_u16s(value))
    if kind == ParamType.SUPPORTED_EXTENSIONS:
        return SupportedExtensionsParam(tuple(value))
    if kind == ParamType.FORWARD_TSN_SUPPORTED:
        return ForwardTSNSupportedParam()
    if kind == ParamType.UNRECOGNIZED:
        return UnrecognizedParam(value)
    return UnknownParam(kind, value)


def decodeParams(data: bytes) -> List[Param]:
    """
    @return: every parameter in C{data}, typed where known.
    @raise CodecError: malformed input.
    """
    return [decodeParam(kind, value) for kind, value in decodeTLVs(data)]


def encodeParams(params: Sequence[Param]) -> bytes:
    """
    @return: C{params} laid out one after the other.
    """
    return b"".join(p.encode() for p in params)


class CauseCode:
    """
    Error cause codes (RFC 9260 section 3.3.10).
    """

    INVALID_STREAM = 1
    MISSING_PARAM = 2
    STALE_COOKIE = 3
    OUT_OF_RESOURCE = 4
    UNRESOLVABLE_ADDRESS = 5
    UNRECOGNIZED_CHUNK = 6
    INVALID_MANDATORY_PARAM = 7
    UNRECOGNIZED_PARAMS = 8
    NO_USER_DATA = 9
    COOKIE_WHILE_SHUTTING_DOWN = 10
    RESTART_NEW_ADDRESSES = 11
    USER_ABORT = 12
    PROTOCOL_VIOLATION = 13


@attrs.frozen
class ErrorCause:
    """
    One error cause of an ABORT or ERROR chunk: its code and raw value.
    """

    code: int
    value: bytes = b""

    def encode(self) -> bytes:
        return encodeTLV(self.code, self.value)


def decodeCauses(data: bytes) -> List[ErrorCause]:
    """
    @return: the error causes in C{data}.
    @raise CodecError: malformed input.
    """
    return [ErrorCause(code, value) for code, value in decodeTLVs(data)]
