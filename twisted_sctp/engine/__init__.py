# -*- test-case-name: tests.test_engine_handshake -*-
"""
A user-space SCTP engine (RFC 9260) carried over UDP (RFC 6951).

L{Endpoint} is sans-io: bytes in, datagrams and events out, time passed in.
L{twisted_sctp.engine.udp} carries it on a Twisted UDP port.
"""

from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.endpoint import Datagram, Endpoint
from twisted_sctp.engine.errors import ChecksumError, CodecError, EngineUsageError
from twisted_sctp.engine.events import (
    AssocChange,
    AssociationChanged,
    Event,
    MessageReceived,
    PeerAddressChanged,
    SendFailed,
)

__all__ = [
    "AssocChange",
    "AssociationChanged",
    "ChecksumError",
    "CodecError",
    "Datagram",
    "Endpoint",
    "EngineConfig",
    "EngineUsageError",
    "Event",
    "MessageReceived",
    "PeerAddressChanged",
    "SendFailed",
]
