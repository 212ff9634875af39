# -*- test-case-name: tests.test_engine_codec -*-
"""
Exceptions of the SCTP engine.
"""

from __future__ import annotations


class CodecError(ValueError):
    """
    Bytes from the wire that are not a well-formed SCTP packet, chunk or
    parameter.  The engine counts and drops these; it never lets one
    escape as a crash.
    """


class ChecksumError(CodecError):
    """
    The packet's CRC32c does not match its contents.
    """


class EngineUsageError(Exception):
    """
    The engine's caller misused its API (an unknown association, a send on a
    closed one, a message too large): our bug, not the peer's.
    """
