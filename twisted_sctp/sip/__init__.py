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
  - L{twisted_sctp.sip.policy}: who may register, relay and flood (the
    security decision on each request), over L{twisted_sctp.sip.digest}
    (Digest codec, nonces, replay tracking),
    L{twisted_sctp.sip.credentials} (twisted.cred checkers) and
    L{twisted_sctp.sip.ratelimit} (per-source limits); docs/security.md.

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
