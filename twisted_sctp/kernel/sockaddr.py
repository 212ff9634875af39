# -*- test-case-name: tests.test_sockopt -*-
"""
The socket-address half of the pure codec: C{sockaddr_in}/C{sockaddr_in6}
(alone, back to back, in a C{sockaddr_storage}), C{struct sctp_getaddrs}
and C{struct sctp_assoc_ids}, and the codec's error and pack/unpack
helpers.  Nothing here touches a socket; layouts are x86_64's (see
L{twisted_sctp.kernel.sockopt}).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any, Dict, Iterable, List, Optional, Tuple

from twisted_sctp.transport.address import HostPort

SOCKADDR_STORAGE_SIZE = 128

_FAMILY = struct.Struct("=H")
_IN_BODY = struct.Struct("!H4s8x")
_IN6_BODY = struct.Struct("!HI16s")
_SCOPE = struct.Struct("=I")
_IN_SIZE = 16
_IN6_SIZE = 28
_V4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_WILDCARD: Dict[int, HostPort] = {socket.AF_INET: ("0.0.0.0", 0), socket.AF_INET6: ("::", 0)}


class CodecError(ValueError):
    """
    Bytes that do not decode as the structure asked for (too short, an
    unknown address family), or values that do not fit it.
    """


def _pack(layout: struct.Struct, *values: Any) -> bytes:
    """C{layout.pack(*values)}, raising L{CodecError} for values out of range."""
    try:
        return layout.pack(*values)
    except struct.error as e:
        raise CodecError(str(e)) from e


def _unpack(layout: struct.Struct, data: bytes, what: str, offset: int = 0) -> Tuple[Any, ...]:
    """
    C{layout.unpack_from(data, offset)}, raising L{CodecError} when C{data}
    is too short.  Bytes past the structure are ignored.
    """
    if len(data) - offset < layout.size:
        raise CodecError("{} needs {} bytes, got {}".format(what, layout.size, len(data) - offset))
    return layout.unpack_from(data, offset)


def packSockaddr(host: str, port: int) -> bytes:
    """
    Encode an address as a C{sockaddr_in} (16 bytes) or, for an IPv6 literal,
    a C{sockaddr_in6} (28 bytes).  The family is in host order, the port and
    the address in network order.

    @param host: an IPv4 or IPv6 literal; an IPv6 literal may end in
        C{%N} with a numeric scope id.
    @param port: the port.
    @raise CodecError: C{host} is not an IP literal or C{port} is not a port.
    """
    if not 0 <= port <= 0xFFFF:
        raise CodecError("port out of range: {!r}".format(port))
    if ":" in host:
        text, sep, scope = host.partition("%")
        if sep and not (scope.isdigit() and int(scope) <= 0xFFFFFFFF):
            raise CodecError("scope must be a number: {!r}".format(host))
        try:
            raw = socket.inet_pton(socket.AF_INET6, text)
        except (OSError, ValueError) as e:
            raise CodecError("not an IPv6 literal: {!r}".format(host)) from e
        return (
            _FAMILY.pack(socket.AF_INET6)
            + _IN6_BODY.pack(port, 0, raw)
            + _SCOPE.pack(int(scope) if sep else 0)
        )
    try:
        raw = socket.inet_pton(socket.AF_INET, host)
    except (OSError, ValueError) as e:
        raise CodecError("not an IP literal: {!r}".format(host)) from e
    return _FAMILY.pack(socket.AF_INET) + _IN_BODY.pack(port, raw)


def packSockaddrs(addresses: Iterable[HostPort]) -> bytes:
    """
    Encode addresses back to back, as C{SCTP_SOCKOPT_BINDX_ADD},
    C{SCTP_SOCKOPT_BINDX_REM} and C{SCTP_SOCKOPT_CONNECTX} take them.

    @raise CodecError: see L{packSockaddr}.
    """
    return b"".join(packSockaddr(host, port) for host, port in addresses)


def _sockaddrSize(data: bytes, offset: int) -> int:
    """
    @return: the size of the C{sockaddr_in} or C{sockaddr_in6} at C{offset}.
    @raise CodecError: the family is missing or neither C{AF_INET} nor
        C{AF_INET6}.
    """
    (family,) = _unpack(_FAMILY, data, "sockaddr", offset)
    if family == socket.AF_INET:
        return _IN_SIZE
    if family == socket.AF_INET6:
        return _IN6_SIZE
    raise CodecError("unknown address family {}".format(family))


def unpackSockaddr(data: bytes) -> HostPort:
    """
    Decode a C{sockaddr_in}, a C{sockaddr_in6} or a C{sockaddr_storage}
    holding either.

    @return: C{(host, port)}.  An IPv4-mapped IPv6 address comes back as plain
        IPv4 text, an IPv6 address with a scope id as C{"addr%scope"}, and an
        unspecified family (0) as C{("", 0)}.
    @raise CodecError: C{data} is too short or has another family.
    """
    (family,) = _unpack(_FAMILY, data, "sockaddr")
    if family == socket.AF_UNSPEC:
        return ("", 0)
    if len(data) < _sockaddrSize(data, 0):
        raise CodecError("sockaddr of family {} truncated to {} bytes".format(family, len(data)))
    if family == socket.AF_INET:
        port, raw = _IN_BODY.unpack_from(data, 2)
        return (socket.inet_ntop(socket.AF_INET, raw), port)
    port, _flowinfo, raw = _IN6_BODY.unpack_from(data, 2)
    if raw[:12] == _V4_MAPPED_PREFIX:
        return (socket.inet_ntop(socket.AF_INET, raw[12:]), port)
    text = socket.inet_ntop(socket.AF_INET6, raw)
    if "." in text:
        # glibc writes IPv4-compatible addresses (::1.2.3.4) with a dotted
        # tail; use the RFC 5952 text that ipaddress (and address.py) use.
        text = str(ipaddress.IPv6Address(raw))
    (scope,) = _SCOPE.unpack_from(data, 24)
    if scope:
        text = "{}%{}".format(text, scope)
    return (text, port)


def unpackSockaddrs(data: bytes, count: Optional[int] = None) -> List[HostPort]:
    """
    Decode C{sockaddr_in}s and C{sockaddr_in6}s laid back to back, each
    taking the size its family gives it.

    @param count: how many to decode; C{None} decodes until C{data} ends.
    @raise CodecError: an address is truncated or of another family.
    """
    result: List[HostPort] = []
    offset = 0
    while (count is None and offset < len(data)) or (count is not None and len(result) < count):
        size = _sockaddrSize(data, offset)
        if len(data) - offset < size:
            raise CodecError("address list truncated")
        result.append(unpackSockaddr(data[offset : offset + size]))
        offset += size
    return result


def packStorage(address: Optional[HostPort]) -> bytes:
    """
    Encode an address as a 128-byte C{sockaddr_storage}.

    @param address: C{(host, port)}; C{None} or C{("", 0)} gives all zeros
        (C{AF_UNSPEC}), and C{("0.0.0.0", 0)} or C{("::", 0)} a storage
        whose only non-zero field is C{ss_family}.
    @raise CodecError: see L{packSockaddr}.
    """
    if address is None or address == ("", 0):
        return bytes(SOCKADDR_STORAGE_SIZE)
    return packSockaddr(*address).ljust(SOCKADDR_STORAGE_SIZE, b"\x00")


_GETADDRS = struct.Struct("=iI")


def packAddrList(assocID: int, addresses: Iterable[HostPort]) -> bytes:
    """
    Encode a C{struct sctp_getaddrs}: what C{SCTP_GET_PEER_ADDRS} and
    C{SCTP_GET_LOCAL_ADDRS} return (and, with no addresses, the request).
    """
    packed = [packSockaddr(host, port) for host, port in addresses]
    return _pack(_GETADDRS, assocID, len(packed)) + b"".join(packed)


def unpackAddrList(data: bytes) -> List[HostPort]:
    """
    Decode a C{struct sctp_getaddrs}: C{assoc_id} (s32), C{addr_num} (u32)
    and that many packed socket addresses.

    @raise CodecError: C{data} is short or holds an unknown family.
    """
    _assocID, number = _unpack(_GETADDRS, data, "sctp_getaddrs")
    return unpackSockaddrs(data[_GETADDRS.size :], number)


_ID_COUNT = struct.Struct("=I")


def unpackAssocIDList(data: bytes) -> List[int]:
    """
    Decode a C{struct sctp_assoc_ids} (C{SCTP_GET_ASSOC_ID_LIST}): a u32
    count then that many association ids (s32).

    @raise CodecError: C{data} is short.
    """
    (number,) = _unpack(_ID_COUNT, data, "sctp_assoc_ids")
    if len(data) < 4 + 4 * number:
        raise CodecError("sctp_assoc_ids truncated: {} ids in {} bytes".format(number, len(data)))
    return list(struct.unpack_from("={}i".format(number), data, 4))
