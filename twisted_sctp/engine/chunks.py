# -*- test-case-name: tests.test_engine_codec -*-
"""
The SCTP packet codec (RFC 9260 section 3, RFC 3758 section 3.2): the common
header with its CRC32c, and one frozen class per chunk type.

Pure functions only: L{decodePacket} turns bytes into a L{Packet} or raises
L{CodecError}; L{encodePacket} does the reverse.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar, Dict, List, Sequence, Tuple, Union

import attrs

from twisted_sctp.engine.crc32c import crc32c
from twisted_sctp.engine.errors import ChecksumError, CodecError
from twisted_sctp.engine.params import (
    ErrorCause,
    HeartbeatInfoParam,
    Param,
    StateCookieParam,
    decodeCauses,
    decodeParams,
    encodeParams,
)

_HEADER = struct.Struct("!HHII")
_CHUNK = struct.Struct("!BBH")
_INIT = struct.Struct("!IIHHI")
_DATA = struct.Struct("!IHHI")
_SACK = struct.Struct("!IIHH")


class ChunkType:
    """
    Chunk type numbers.
    """

    DATA = 0
    INIT = 1
    INIT_ACK = 2
    SACK = 3
    HEARTBEAT = 4
    HEARTBEAT_ACK = 5
    ABORT = 6
    SHUTDOWN = 7
    SHUTDOWN_ACK = 8
    ERROR = 9
    COOKIE_ECHO = 10
    COOKIE_ACK = 11
    SHUTDOWN_COMPLETE = 14
    FORWARD_TSN = 192


#: DATA chunk flags.
FLAG_END = 0x01
FLAG_BEGIN = 0x02
FLAG_UNORDERED = 0x04
FLAG_IMMEDIATE = 0x08
#: The T bit of ABORT and SHUTDOWN-COMPLETE: the tag is the receiver's own.
FLAG_T = 0x01


@attrs.frozen
class DataChunk:
    """A DATA chunk: one fragment (or all) of a user message."""

    TYPE: ClassVar[int] = ChunkType.DATA
    tsn: int
    stream: int
    ssn: int
    ppid: int
    data: bytes
    flags: int = FLAG_BEGIN | FLAG_END

    def encodeValue(self) -> bytes:
        return _DATA.pack(self.tsn, self.stream, self.ssn, self.ppid) + self.data

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "DataChunk":
        if len(value) < _DATA.size:
            raise CodecError("DATA chunk of {} bytes".format(len(value)))
        tsn, stream, ssn, ppid = _DATA.unpack_from(value)
        return cls(tsn, stream, ssn, ppid, value[_DATA.size :], flags)


@attrs.frozen
class InitChunk:
    """An INIT chunk."""

    TYPE: ClassVar[int] = ChunkType.INIT
    initiateTag: int
    rwnd: int
    outStreams: int
    inStreams: int
    initialTSN: int
    params: Tuple[Param, ...] = ()
    flags: int = 0

    def encodeValue(self) -> bytes:
        return _INIT.pack(self.initiateTag, self.rwnd, self.outStreams, self.inStreams, self.initialTSN) + encodeParams(
            self.params
        )

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "InitChunk":
        if len(value) < _INIT.size:
            raise CodecError("{} chunk of {} bytes".format(cls.__name__, len(value)))
        tag, rwnd, outStreams, inStreams, tsn = _INIT.unpack_from(value)
        return cls(tag, rwnd, outStreams, inStreams, tsn, tuple(decodeParams(value[_INIT.size :])), flags)


@attrs.frozen
class InitAckChunk(InitChunk):
    """An INIT-ACK chunk; its parameters carry the state cookie."""

    TYPE: ClassVar[int] = ChunkType.INIT_ACK

    @property
    def cookie(self) -> bytes | None:
        for p in self.params:
            if isinstance(p, StateCookieParam):
                return p.cookie
        return None


@attrs.frozen
class SackChunk:
    """A SACK chunk: the cumulative ack, gap blocks (offsets from it) and
    duplicate TSNs."""

    TYPE: ClassVar[int] = ChunkType.SACK
    cumTSN: int
    rwnd: int
    gaps: Tuple[Tuple[int, int], ...] = ()
    duplicates: Tuple[int, ...] = ()
    flags: int = 0

    def encodeValue(self) -> bytes:
        head = _SACK.pack(self.cumTSN, self.rwnd, len(self.gaps), len(self.duplicates))
        gaps = b"".join(struct.pack("!HH", s, e) for s, e in self.gaps)
        dups = struct.pack("!{}I".format(len(self.duplicates)), *self.duplicates)
        return head + gaps + dups

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "SackChunk":
        if len(value) < _SACK.size:
            raise CodecError("SACK chunk of {} bytes".format(len(value)))
        cum, rwnd, ngaps, ndups = _SACK.unpack_from(value)
        if len(value) != _SACK.size + 4 * (ngaps + ndups):
            raise CodecError("SACK with {} gaps and {} duplicates in {} bytes".format(ngaps, ndups, len(value)))
        raw = struct.unpack_from("!{}H".format(2 * ngaps), value, _SACK.size)
        gaps = tuple((raw[i], raw[i + 1]) for i in range(0, len(raw), 2))
        dups = struct.unpack_from("!{}I".format(ndups), value, _SACK.size + 4 * ngaps)
        return cls(cum, rwnd, gaps, dups, flags)


@attrs.frozen
class HeartbeatChunk:
    """A HEARTBEAT chunk carrying its heartbeat information."""

    TYPE: ClassVar[int] = ChunkType.HEARTBEAT
    info: bytes
    flags: int = 0

    def encodeValue(self) -> bytes:
        return HeartbeatInfoParam(self.info).encode()

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "HeartbeatChunk":
        params = decodeParams(value)
        if len(params) < 1 or not isinstance(params[0], HeartbeatInfoParam):
            raise CodecError("{} without heartbeat information".format(cls.__name__))
        return cls(params[0].info, flags)


@attrs.frozen
class HeartbeatAckChunk(HeartbeatChunk):
    """A HEARTBEAT-ACK chunk echoing the heartbeat information."""

    TYPE: ClassVar[int] = ChunkType.HEARTBEAT_ACK


@attrs.frozen
class AbortChunk:
    """An ABORT chunk with its error causes."""

    TYPE: ClassVar[int] = ChunkType.ABORT
    causes: Tuple[ErrorCause, ...] = ()
    flags: int = 0

    def encodeValue(self) -> bytes:
        return b"".join(c.encode() for c in self.causes)

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "AbortChunk":
        return cls(tuple(decodeCauses(value)), flags)


@attrs.frozen
class ErrorChunk(AbortChunk):
    """An ERROR chunk (operation error) with its causes."""

    TYPE: ClassVar[int] = ChunkType.ERROR


@attrs.frozen
class ShutdownChunk:
    """A SHUTDOWN chunk with the cumulative TSN ack."""

    TYPE: ClassVar[int] = ChunkType.SHUTDOWN
    cumTSN: int
    flags: int = 0

    def encodeValue(self) -> bytes:
        return struct.pack("!I", self.cumTSN)

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "ShutdownChunk":
        if len(value) != 4:
            raise CodecError("SHUTDOWN chunk of {} bytes".format(len(value)))
        return cls(struct.unpack("!I", value)[0], flags)


@attrs.frozen
class _EmptyChunk:
    TYPE: ClassVar[int] = -1
    flags: int = 0

    def encodeValue(self) -> bytes:
        return b""

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "_EmptyChunk":
        if value:
            raise CodecError("{} chunk with a {}-byte value".format(cls.__name__, len(value)))
        return cls(flags)


@attrs.frozen
class ShutdownAckChunk(_EmptyChunk):
    """A SHUTDOWN-ACK chunk."""

    TYPE: ClassVar[int] = ChunkType.SHUTDOWN_ACK


@attrs.frozen
class ShutdownCompleteChunk(_EmptyChunk):
    """A SHUTDOWN-COMPLETE chunk (T bit in C{flags})."""

    TYPE: ClassVar[int] = ChunkType.SHUTDOWN_COMPLETE


@attrs.frozen
class CookieAckChunk(_EmptyChunk):
    """A COOKIE-ACK chunk."""

    TYPE: ClassVar[int] = ChunkType.COOKIE_ACK


@attrs.frozen
class CookieEchoChunk:
    """A COOKIE-ECHO chunk returning the state cookie."""

    TYPE: ClassVar[int] = ChunkType.COOKIE_ECHO
    cookie: bytes
    flags: int = 0

    def encodeValue(self) -> bytes:
        return self.cookie

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "CookieEchoChunk":
        return cls(value, flags)


@attrs.frozen
class ForwardTSNChunk:
    """A FORWARD-TSN chunk (RFC 3758): the new cumulative TSN and, per
    ordered stream skipped, the largest stream sequence number skipped."""

    TYPE: ClassVar[int] = ChunkType.FORWARD_TSN
    newCumTSN: int
    streams: Tuple[Tuple[int, int], ...] = ()
    flags: int = 0

    def encodeValue(self) -> bytes:
        return struct.pack("!I", self.newCumTSN) + b"".join(struct.pack("!HH", s, n) for s, n in self.streams)

    @classmethod
    def decodeValue(cls, flags: int, value: bytes) -> "ForwardTSNChunk":
        if len(value) < 4 or len(value) % 4:
            raise CodecError("FORWARD-TSN chunk of {} bytes".format(len(value)))
        raw = struct.unpack("!I{}H".format((len(value) - 4) // 2), value)
        streams = tuple((raw[i], raw[i + 1]) for i in range(1, len(raw), 2))
        return cls(raw[0], streams, flags)


@attrs.frozen
class UnknownChunk:
    """A chunk type this codec does not know; the two top bits of C{type}
    say what the receiver does with it (RFC 9260 section 3.2)."""

    type: int
    value: bytes
    flags: int = 0

    @property
    def TYPE(self) -> int:  # noqa: N802 - same attribute as the known chunks
        return self.type

    def encodeValue(self) -> bytes:
        return self.value


Chunk = Union[
    DataChunk,
    InitChunk,
    InitAckChunk,
    SackChunk,
    HeartbeatChunk,
    HeartbeatAckChunk,
    AbortChunk,
    ErrorChunk,
    ShutdownChunk,
    ShutdownAckChunk,
    ShutdownCompleteChunk,
    CookieEchoChunk,
    CookieAckChunk,
    ForwardTSNChunk,
    UnknownChunk,
]

_DECODERS: Dict[int, Any] = {
    c.TYPE: c
    for c in (
        DataChunk,
        InitChunk,
        InitAckChunk,
        SackChunk,
        HeartbeatChunk,
        HeartbeatAckChunk,
        AbortChunk,
        ErrorChunk,
        ShutdownChunk,
        ShutdownAckChunk,
        ShutdownCompleteChunk,
        CookieEchoChunk,
        CookieAckChunk,
        ForwardTSNChunk,
    )
}


def encodeChunk(chunk: Chunk) -> bytes:
    """
    @return: C{chunk} with its header, padded to a multiple of four bytes.
    """
    value = chunk.encodeValue()
    length = 4 + len(value)
    if length > 0xFFFF:
        raise CodecError("chunk of {} bytes does not fit a 16-bit length".format(length))
    return _CHUNK.pack(chunk.TYPE, chunk.flags, length) + value + b"\0" * (-length % 4)


def decodeChunks(data: bytes, offset: int = 0) -> List[Chunk]:
    """
    @return: the chunks of a packet body.
    @raise CodecError: a malformed chunk.
    """
    chunks: List[Chunk] = []
    end = len(data)
    while offset < end:
        if end - offset < 4:
            raise CodecError("truncated chunk header at offset {}".format(offset))
        kind, flags, length = _CHUNK.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            raise CodecError("chunk type {} with bad length {} at offset {}".format(kind, length, offset))
        if kind == ChunkType.DATA and length >= 4 + _DATA.size:
            # The hot path: one copy of the user data, none of the header.
            tsn, stream, ssn, ppid = _DATA.unpack_from(data, offset + 4)
            chunks.append(DataChunk(tsn, stream, ssn, ppid, bytes(data[offset + 4 + _DATA.size : offset + length]), flags))
            offset += length + (-length % 4)
            continue
        value = bytes(data[offset + 4 : offset + length])
        decoder = _DECODERS.get(kind)
        if decoder is None:
            chunks.append(UnknownChunk(kind, value, flags))
        else:
            chunks.append(decoder.decodeValue(flags, value))
        offset += length + (-length % 4)
    return chunks


@attrs.frozen
class Packet:
    """
    One SCTP packet: the common header and its chunks.
    """

    srcPort: int
    dstPort: int
    vtag: int
    chunks: Tuple[Chunk, ...]


def encodePacket(packet: Packet) -> bytes:
    """
    @return: the wire form of C{packet}, CRC32c included.
    """
    return encodeRaw(packet.srcPort, packet.dstPort, packet.vtag, [encodeChunk(c) for c in packet.chunks])


def encodeRaw(srcPort: int, dstPort: int, vtag: int, chunks: Sequence[bytes]) -> bytes:
    """
    @return: a packet from already encoded chunks, CRC32c included.
    """
    body = bytearray(_HEADER.pack(srcPort, dstPort, vtag, 0))
    for c in chunks:
        body += c
    struct.pack_into("<I", body, 8, crc32c(body))
    return bytes(body)


def checksumOK(data: bytes) -> bool:
    """
    @return: whether C{data}'s stored CRC32c matches its contents.
    """
    if len(data) < _HEADER.size:
        return False
    stored = struct.unpack_from("<I", data, 8)[0]
    zeroed = bytearray(data)
    zeroed[8:12] = b"\0\0\0\0"
    return bool(crc32c(zeroed) == stored)


def decodePacket(data: bytes, verify: bool = True) -> Packet:
    """
    @param verify: check the CRC32c first.
    @return: the packet in C{data}.
    @raise ChecksumError: the CRC32c does not match.
    @raise CodecError: anything else malformed, or a packet without chunks.
    """
    if len(data) < _HEADER.size + 4:
        raise CodecError("packet of {} bytes is shorter than a header and one chunk".format(len(data)))
    if verify and not checksumOK(data):
        raise ChecksumError("bad CRC32c")
    src, dst, vtag, _ = _HEADER.unpack_from(data)
    return Packet(src, dst, vtag, tuple(decodeChunks(data, _HEADER.size)))
