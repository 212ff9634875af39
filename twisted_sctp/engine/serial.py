# -*- test-case-name: tests.test_engine_data -*-
"""
Serial number arithmetic (RFC 1982) as the engine uses it: 32-bit TSNs and
16-bit stream sequence numbers on the wire are mapped to unbounded integers
near a reference, so the rest of the code compares plain integers.
"""

from __future__ import annotations


def unwrap(value: int, reference: int, bits: int = 32) -> int:
    """
    @return: the integer congruent to C{value} modulo 2**C{bits} that is
        nearest to C{reference}.
    """
    mod = 1 << bits
    delta = (value - reference) % mod
    if delta >= mod >> 1:
        delta -= mod
    return reference + delta


def wire32(value: int) -> int:
    """
    @return: C{value} as a 32-bit wire number.
    """
    return value & 0xFFFFFFFF


def wire16(value: int) -> int:
    """
    @return: C{value} as a 16-bit wire number.
    """
    return value & 0xFFFF
