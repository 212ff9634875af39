"""
twisted-sctp: an SCTP transport for Twisted on Linux kernel SCTP, and SIP
over SCTP (RFC 4168) on top of it::

    from twisted_sctp import listenSCTP, SCTPOptions
    port = listenSCTP(reactor, 5060, factory, interfaces=("10.0.0.1", "10.0.1.1"),
                      options=SCTPOptions(autoclose=120, max_assocs=1000))

One one-to-many socket per listener; one protocol per association, built by
the factory; replies go back on the association they answer.
"""

from twisted_sctp.transport.address import SCTPAddress
from twisted_sctp.transport.registry import Association, AssociationRegistry, AssociationState
from twisted_sctp.error import (
    AssociationLimitError,
    AssociationLost,
    ConnectError,
    OptionError,
    SCTPUnavailableError,
    SendQueueFullError,
    UnknownAssociationError,
    UnknownOptionError,
)
from twisted_sctp.transport.backend import ISCTPBackend, ISCTPBackendSink
from twisted_sctp.transport.events import SendParameters
from twisted_sctp.transport.interfaces import IAssociationTransport, IMessageProtocol
from twisted_sctp.transport.options import RuntimeChange, SCTPOptions
from twisted_sctp.transport.port import AssociationTransport, SCTPEvent, SCTPMessage, SCTPPort, listenSCTP
from twisted_sctp.engine.backend import EngineBackend, listenSCTPOverUDP

__all__ = [
    "Association",
    "AssociationLimitError",
    "AssociationLost",
    "AssociationRegistry",
    "AssociationState",
    "AssociationTransport",
    "ConnectError",
    "EngineBackend",
    "IAssociationTransport",
    "IMessageProtocol",
    "ISCTPBackend",
    "ISCTPBackendSink",
    "OptionError",
    "RuntimeChange",
    "SCTPAddress",
    "SCTPEvent",
    "SCTPMessage",
    "SCTPOptions",
    "SCTPPort",
    "SCTPUnavailableError",
    "SendParameters",
    "SendQueueFullError",
    "UnknownAssociationError",
    "UnknownOptionError",
    "listenSCTP",
    "listenSCTPOverUDP",
]
