"""
SIP over SCTP (RFC 4168): one SIP message per SCTP message, replies on the
association the request came on, and the registrar / stateless proxy of
C{twistd sctp-sip}.

Modules:
  - L{twisted_sctp.sip.headers}: header grammar helpers (pure).
  - L{twisted_sctp.sip.message}: the SIP message model and parser (pure).
  - L{twisted_sctp.sip.base}: flow tokens, tags, destinations, statistics.
  - L{twisted_sctp.sip.transport}: L{SIPTransport}, the only SIP module that
    knows about SCTP associations.
  - L{twisted_sctp.sip.adapter}: C{twisted.protocols.sip} style datagram
    applications over SCTP.
  - L{twisted_sctp.sip.server}: the registrar, stateless proxy and OPTIONS
    responder.

The public names of the transport and the adapter are re-exported here:
C{from twisted_sctp.sip import SIPTransport, listenDatagramSCTP}.
"""

from twisted_sctp.sip.transport import (
    DEFAULT_PORT,
    SCTP,
    UDP,
    DatagramAdapter,
    Destination,
    ISIPReceiver,
    Listener,
    Origin,
    SCTPDatagramTransport,
    SIPSettings,
    SIPStats,
    SIPTransport,
    decodeFlowToken,
    encodeFlowToken,
    listenDatagramSCTP,
    rewriteTopVia,
    stableTag,
    viaDestination,
)

__all__ = [
    "DEFAULT_PORT", "SCTP", "UDP", "DatagramAdapter", "Destination", "ISIPReceiver",
    "Listener", "Origin", "SCTPDatagramTransport", "SIPSettings", "SIPStats",
    "SIPTransport", "decodeFlowToken", "encodeFlowToken", "listenDatagramSCTP",
    "rewriteTopVia", "stableTag", "viaDestination",
]
