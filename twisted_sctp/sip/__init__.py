"""
SIP over SCTP (RFC 4168): one SIP message per SCTP message, replies on the
association the request came on, and the registrar / stateless proxy of
C{twistd sctp-sip}.

Modules:
  - L{twisted_sctp.sip.errors}: L{SIPParseError} and L{LocalSIPError}.
  - L{twisted_sctp.sip.uri}: SIP URIs and the lexical pieces (pure).
  - L{twisted_sctp.sip.headers}: header grammar: Via, name-addr, CSeq (pure).
  - L{twisted_sctp.sip.message}: the message model, its serialiser and the
    one response builder (pure).
  - L{twisted_sctp.sip.fields}: what the message's accessors parse (pure).
  - L{twisted_sctp.sip.parser}: L{parseMessage}, the one parse path (pure).
  - L{twisted_sctp.sip.edit}: every Via / Route / Max-Forwards rewrite (pure).
  - L{twisted_sctp.sip.flow}: branches, tags and flow tokens (pure).
  - L{twisted_sctp.sip.base}: origins, destinations, settings, counters.
  - L{twisted_sctp.sip.transport}: L{SIPTransport}, the only SIP module that
    knows about SCTP associations: reply routing, flow tokens, keep-alives.
  - L{twisted_sctp.sip.adapter}: C{twisted.protocols.sip} style datagram
    applications over SCTP, on the transport's routing and keep-alives.
  - L{twisted_sctp.sip.registrar}: the binding table and server settings.
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

from twisted_sctp.sip.adapter import DatagramAdapter, SCTPDatagramTransport, listenDatagramSCTP, rewriteTopVia
from twisted_sctp.sip.transport import (
    DEFAULT_PORT,
    SCTP,
    UDP,
    Destination,
    ISIPReceiver,
    Listener,
    Origin,
    SIPSettings,
    SIPStats,
    SIPTransport,
    decodeFlowToken,
    encodeFlowToken,
    stableTag,
    viaDestination,
)

__all__ = [
    "DEFAULT_PORT", "SCTP", "UDP", "DatagramAdapter", "Destination", "ISIPReceiver",
    "Listener", "Origin", "SCTPDatagramTransport", "SIPSettings", "SIPStats",
    "SIPTransport", "decodeFlowToken", "encodeFlowToken", "listenDatagramSCTP",
    "rewriteTopVia", "stableTag", "viaDestination",
]
