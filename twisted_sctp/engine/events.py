# -*- test-case-name: tests.test_engine_handshake -*-
"""
What the engine reports to its driver: plain frozen values, in the kernel's
vocabulary (COMM_UP, COMM_LOST, SHUTDOWN_COMP, RESTART, CANT_STR_ASSOC,
SEND_FAILED, PEER_ADDR_CHANGE), so an association layer can treat the
engine and the kernel alike.
"""

from __future__ import annotations

import enum
from typing import Union

import attrs


class AssocChange(enum.Enum):
    """
    The association change kinds, named as Linux's C{sctp_sac_state}.
    """

    COMM_UP = "COMM_UP"
    COMM_LOST = "COMM_LOST"
    RESTART = "RESTART"
    SHUTDOWN_COMP = "SHUTDOWN_COMP"
    CANT_STR_ASSOC = "CANT_STR_ASSOC"


@attrs.frozen
class AssociationChanged:
    """
    An association came up, restarted, or ended.

    @ivar assocID: the engine's association id (never reused).
    @ivar peer: C{(host, sctpPort)} of the peer.
    @ivar reason: for an end, why: C{"shutdown"}, C{"peer abort"},
        C{"local abort"}, C{"retransmissions exceeded"}, C{"init failed"}.
    """

    assocID: int
    change: AssocChange
    peer: tuple[str, int]
    outStreams: int = 0
    inStreams: int = 0
    reason: str = ""


@attrs.frozen
class MessageReceived:
    """
    A whole user message arrived.
    """

    assocID: int
    data: bytes
    stream: int
    ppid: int
    unordered: bool


@attrs.frozen
class SendFailed:
    """
    A message we accepted was not delivered (PR-SCTP lifetime expired, or the
    association ended with it unsent or unacknowledged).
    """

    assocID: int
    data: bytes
    stream: int
    ppid: int
    reason: str


@attrs.frozen
class PeerAddressChanged:
    """
    The peer's path became unreachable or reachable again.
    """

    assocID: int
    peer: tuple[str, int]
    reachable: bool


Event = Union[AssociationChanged, MessageReceived, SendFailed, PeerAddressChanged]
