"""
Tests for the engine's wire codec: CRC32c, common header, chunks and
parameters.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.engine import chunks as C
from twisted_sctp.engine import crc32c as crcmod
from twisted_sctp.engine.cookie import BadCookie, CookieState, makeCookie, openCookie
from twisted_sctp.engine.errors import ChecksumError, CodecError
from twisted_sctp.engine.params import (
    ErrorCause,
    ForwardTSNSupportedParam,
    HeartbeatInfoParam,
    IPv4AddressParam,
    IPv6AddressParam,
    StateCookieParam,
    SupportedExtensionsParam,
    UnknownParam,
    decodeParams,
)


class CRC32cTests(SynchronousTestCase):
    """
    The checksum, accelerated or not.
    """

    def test_checkValue(self) -> None:
        """
        Both implementations give the standard check value for C{123456789}
        and agree on other input.
        """
        self.assertEqual(crcmod.crc32cPure(b"123456789"), 0xE3069283)
        self.assertEqual(crcmod.crc32c(b"123456789"), 0xE3069283)
        data = bytes(range(256)) * 5
        self.assertEqual(crcmod.crc32cPure(data), crcmod.crc32c(data))

    def test_pureFallback(self) -> None:
        """
        Without the C package the codec uses the pure function and still
        makes packets that verify.
        """
        self.patch(C, "crc32c", crcmod.crc32cPure)
        raw = C.encodePacket(C.Packet(1, 2, 3, (C.CookieAckChunk(),)))
        self.assertEqual(struct.unpack_from("<I", raw, 8)[0], crcmod.crc32cPure(raw[:8] + bytes(4) + raw[12:]))
        self.assertEqual(C.decodePacket(raw).chunks, (C.CookieAckChunk(),))

    def test_enginesOnPureFallback(self) -> None:
        """
        Two engines using only the pure CRC32c set up an association and
        carry a fragmented message.
        """
        from twisted_sctp.engine.events import MessageReceived
        from twisted_sctp.engine.testing import EnginePair

        self.patch(C, "crc32c", crcmod.crc32cPure)
        p = EnginePair()
        aid, _ = p.connect()
        p.a.send(aid, b"pure" * 10000, p.now)
        p.run(lambda: any(isinstance(e, MessageReceived) for e in p.events["b"]))
        self.assertEqual([e.data for e in p.events["b"] if isinstance(e, MessageReceived)], [b"pure" * 10000])

    def test_missingPackage(self) -> None:
        """
        L{crcmod._accelerated} returns C{None} when the package cannot be
        imported.
        """
        import builtins

        real = builtins.__import__

        def fake(name: str, *a: object, **kw: object) -> object:
            if name == "crc32c":
                raise ImportError(name)
            return real(name, *a, **kw)  # type: ignore[arg-type]

        self.patch(builtins, "__import__", fake)
        self.assertIsNone(crcmod._accelerated())


class KnownBytesTests(SynchronousTestCase):
    """
    Encodings laid out by hand from RFC 9260 section 3.
    """

    def test_commonHeaderAndInit(self) -> None:
        """
        An INIT with one IPv4 address parameter, byte for byte.
        """
        p = C.Packet(5000, 5060, 0, (C.InitChunk(0x01020304, 65536, 10, 65535, 7, (IPv4AddressParam("127.0.0.1"),)),))
        raw = C.encodePacket(p)
        body = (
            struct.pack("!HHI", 5000, 5060, 0)
            + b"\0\0\0\0"
            + struct.pack("!BBH", 1, 0, 28)
            + struct.pack("!IIHHI", 0x01020304, 65536, 10, 65535, 7)
            + struct.pack("!HH4B", 5, 8, 127, 0, 0, 1)
        )
        crc = crcmod.crc32cPure(body)
        self.assertEqual(raw, body[:8] + struct.pack("<I", crc) + body[12:])
        self.assertEqual(C.decodePacket(raw), p)

    def test_sack(self) -> None:
        """
        A SACK with one gap block and one duplicate.
        """
        raw = C.encodeChunk(C.SackChunk(100, 5000, ((2, 3),), (99,)))
        self.assertEqual(raw, struct.pack("!BBHIIHHHHI", 3, 0, 24, 100, 5000, 1, 1, 2, 3, 99))

    def test_dataPadding(self) -> None:
        """
        DATA of 3 bytes: length 19, padded to 20.
        """
        raw = C.encodeChunk(C.DataChunk(1, 2, 3, 4, b"abc", C.FLAG_BEGIN | C.FLAG_END | C.FLAG_UNORDERED))
        self.assertEqual(raw, struct.pack("!BBHIHHI", 0, 7, 19, 1, 2, 3, 4) + b"abc\0")

    def test_forwardTSN(self) -> None:
        """
        FORWARD-TSN with one stream entry (RFC 3758 section 3.2).
        """
        raw = C.encodeChunk(C.ForwardTSNChunk(9, ((1, 2),)))
        self.assertEqual(raw, struct.pack("!BBHIHH", 192, 0, 12, 9, 1, 2))


class ErrorTests(SynchronousTestCase):
    """
    Malformed input is a L{CodecError}.
    """

    def test_badChecksum(self) -> None:
        """
        A flipped bit fails the CRC.
        """
        raw = bytearray(C.encodePacket(C.Packet(1, 2, 3, (C.CookieAckChunk(),))))
        raw[-1] ^= 1
        self.assertRaises(ChecksumError, C.decodePacket, bytes(raw))

    def test_short(self) -> None:
        """
        Too short for a header and a chunk.
        """
        self.assertRaises(CodecError, C.decodePacket, b"\0" * 12)

    def test_badLengths(self) -> None:
        """
        A chunk length past the end, a SACK whose counts disagree with its
        size, a DATA chunk without payload.
        """
        self.assertRaises(CodecError, C.decodeChunks, struct.pack("!BBH", 11, 0, 40))
        self.assertRaises(CodecError, C.decodeChunks, struct.pack("!BBHIIHH", 3, 0, 16, 1, 1, 1, 0))
        self.assertRaises(CodecError, C.decodeChunks, struct.pack("!BBHIHH", 0, 3, 12, 1, 1, 1))
        self.assertRaises(CodecError, decodeParams, struct.pack("!HH", 5, 7) + b"\0\0\0")

    def test_unknownKept(self) -> None:
        """
        Unknown chunks and parameters are kept, not errors.
        """
        raw = struct.pack("!BBH", 0x80, 1, 5) + b"x\0\0\0"
        self.assertEqual(C.decodeChunks(raw), [C.UnknownChunk(0x80, b"x", 1)])
        self.assertEqual(decodeParams(struct.pack("!HH", 0x8123, 4)), [UnknownParam(0x8123, b"")])


class CookieTests(SynchronousTestCase):
    """
    The signed state cookie.
    """

    state = CookieState(10.5, 60.0, 1, 2, 3, 4, 5, 6, 7, 8, True, 0, 0, 5060, 5000, "127.0.0.1")

    def test_roundTrip(self) -> None:
        """
        A cookie opens to the state it was made from, and knows its age.
        """
        c = makeCookie(b"k" * 32, self.state)
        self.assertEqual(openCookie(b"k" * 32, c), self.state)
        self.assertFalse(self.state.isStale(70.0))
        self.assertTrue(self.state.isStale(71.0))
        self.assertEqual(self.state.staleness(71.5), 1000000)

    def test_forged(self) -> None:
        """
        Another key, a flipped byte, or a truncation is L{BadCookie}.
        """
        c = makeCookie(b"k" * 32, self.state)
        self.assertRaises(BadCookie, openCookie, b"j" * 32, c)
        self.assertRaises(BadCookie, openCookie, b"k" * 32, c[:5] + bytes([c[5] ^ 1]) + c[6:])
        self.assertRaises(BadCookie, openCookie, b"k" * 32, c[:20])


u32 = st.integers(0, 0xFFFFFFFF)
u16 = st.integers(0, 0xFFFF)
params = st.one_of(
    st.builds(IPv4AddressParam, st.ip_addresses(v=4).map(str)),
    st.builds(IPv6AddressParam, st.ip_addresses(v=6).map(str)),
    st.builds(StateCookieParam, st.binary(max_size=64)),
    st.builds(SupportedExtensionsParam, st.lists(st.integers(0, 255), max_size=5).map(tuple)),
    st.just(ForwardTSNSupportedParam()),
    st.builds(UnknownParam, st.sampled_from([0x8123, 0xC321, 0x4444]), st.binary(max_size=9)),
)
chunkStrategy = st.one_of(
    st.builds(C.DataChunk, u32, u16, u16, u32, st.binary(min_size=1, max_size=40), st.integers(0, 15)),
    st.builds(C.InitChunk, u32, u32, u16, u16, u32, st.lists(params, max_size=4).map(tuple)),
    st.builds(C.InitAckChunk, u32, u32, u16, u16, u32, st.lists(params, max_size=4).map(tuple)),
    st.builds(
        C.SackChunk,
        u32,
        u32,
        st.lists(st.tuples(u16, u16), max_size=5).map(tuple),
        st.lists(u32, max_size=5).map(tuple),
    ),
    st.builds(C.HeartbeatChunk, st.binary(max_size=20)),
    st.builds(C.HeartbeatAckChunk, st.binary(max_size=20)),
    st.builds(C.AbortChunk, st.lists(st.builds(ErrorCause, u16, st.binary(max_size=8)), max_size=3).map(tuple), st.integers(0, 1)),
    st.builds(C.ErrorChunk, st.lists(st.builds(ErrorCause, u16, st.binary(max_size=8)), max_size=3).map(tuple)),
    st.builds(C.ShutdownChunk, u32),
    st.just(C.ShutdownAckChunk()),
    st.builds(C.ShutdownCompleteChunk, st.integers(0, 1)),
    st.builds(C.CookieEchoChunk, st.binary(max_size=50)),
    st.just(C.CookieAckChunk()),
    st.builds(C.ForwardTSNChunk, u32, st.lists(st.tuples(u16, u16), max_size=4).map(tuple)),
    st.builds(C.UnknownChunk, st.sampled_from([0x3F, 0x7F, 0xBF, 0xFF]), st.binary(max_size=12), st.integers(0, 255)),
)


class PropertyTests(SynchronousTestCase):
    """
    Round trips and garbage.
    """

    @settings(max_examples=300, deadline=None)
    @given(u16, u16, u32, st.lists(chunkStrategy, min_size=1, max_size=5))
    def test_roundTrip(self, src: int, dst: int, vtag: int, chunks: list) -> None:
        """
        Every packet decodes to what was encoded.
        """
        p = C.Packet(src, dst, vtag, tuple(chunks))
        self.assertEqual(C.decodePacket(C.encodePacket(p)), p)

    @settings(max_examples=500, deadline=None)
    @given(st.binary(max_size=200))
    def test_garbage(self, data: bytes) -> None:
        """
        Random bytes decode or raise L{CodecError}, nothing else.
        """
        for verify in (True, False):
            try:
                C.decodePacket(data, verify=verify)
            except CodecError:
                pass

    @settings(max_examples=300, deadline=None)
    @given(st.lists(chunkStrategy, min_size=1, max_size=3), st.integers(0, 400), st.integers(0, 255))
    def test_mutated(self, chunks: list, where: int, value: int) -> None:
        """
        A valid packet with one byte changed decodes or raises L{CodecError}.
        """
        raw = bytearray(C.encodePacket(C.Packet(1, 2, 3, tuple(chunks))))
        raw[where % len(raw)] = value
        try:
            C.decodePacket(bytes(raw), verify=False)
        except CodecError:
            pass
