# -*- test-case-name: tests.test_engine_codec -*-
"""
CRC32c (Castagnoli), the checksum of the SCTP common header (RFC 9260
section 6.8 and appendix A).

The C-accelerated C{crc32c} package is used when it is installed (the
C{engine} extra); otherwise a table-driven pure-Python implementation
serves.  Both give the same value; the tests check both.
"""

from __future__ import annotations

from typing import Callable, List, Union

#: What the checksum functions take.
Buffer = Union[bytes, bytearray]

_POLY = 0x82F63B78  # the Castagnoli polynomial, bit-reflected


def _makeTable() -> List[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _makeTable()


def crc32cPure(data: Buffer) -> int:
    """
    CRC32c of C{data}, in pure Python.

    @return: the checksum as an unsigned 32-bit integer (C{b"123456789"}
        gives C{0xE3069283}).
    """
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _accelerated() -> Callable[[Buffer], int] | None:
    try:
        import crc32c as _c  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    fn = getattr(_c, "crc32c", None)
    if fn is None or fn(b"123456789") != 0xE3069283:
        return None
    return fn  # type: ignore[no-any-return]


_fast = _accelerated()

#: Whether the C-accelerated package is in use.
ACCELERATED = _fast is not None

#: The CRC32c function in use: the C package's if present, else L{crc32cPure}.
crc32c: Callable[[Buffer], int] = _fast if _fast is not None else crc32cPure

__all__ = ["crc32c", "crc32cPure", "ACCELERATED"]
