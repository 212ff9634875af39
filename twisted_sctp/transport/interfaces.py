# -*- test-case-name: tests.test_port -*-
"""
Interfaces of twisted-sctp.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Attribute, Interface

from twisted.internet.interfaces import IConsumer, ITransport


class IAssociationTransport(ITransport, IConsumer):
    """
    The transport of one SCTP association, given to the protocol that the
    factory built for it.  Each C{write} is one SCTP user message.
    """

    association = Attribute("The L{twisted_sctp.transport.registry.Association} record.")

    def write(data: bytes) -> None:
        """
        Send C{data} as one SCTP message on stream 0 with the port's defaults
        (ordered, PPID 0, the configured send_ttl).

        @raise twisted_sctp.error.SendQueueFullError: the message could not be
            queued.
        """

    def writeMessage(
        data: bytes,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        ttl: int | None = None,
        context: int = 0,
    ) -> None:
        """
        Send C{data} as one SCTP message with explicit send parameters
        (ordered unless C{unordered}, as C{SCTPPort.sendMessage}).
        """

    def abortConnection(reason: bytes = b"") -> None:
        """
        ABORT the association, carrying C{reason} as the user-initiated
        abort cause.
        """


class IMessageProtocol(Interface):
    """
    A protocol that wants whole SCTP messages with their metadata rather
    than C{dataReceived(payload)}.
    """

    def messageReceived(message: Any) -> None:
        """
        One SCTP user message arrived (an L{twisted_sctp.transport.port.SCTPMessage}).
        """
