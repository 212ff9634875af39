# -*- test-case-name: tests.test_sip -*-
"""
Values of the SIP transport layer: where a message came from and goes to,
settings, counters, the C{;i=} flow token of our Via, and the address a
response goes to by its Via.  Public names are re-exported by
L{twisted_sctp.sip.transport}.
"""

from __future__ import annotations

import collections
import hashlib
from typing import Any, Callable, Dict, Optional, Tuple

import attrs
from zope.interface import Interface

from twisted.internet import error as ierror
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_sctp.transport.address import HostPort, normalizeHost
from twisted_sctp.transport.registry import Association
from twisted_sctp.error import SCTPError
from twisted_sctp.sip.message import SIPRequest, SIPResponse, Via

#: The SIP port for SCTP and UDP (RFC 3261, RFC 4168).
DEFAULT_PORT = 5060

#: The transport tokens this layer sends on.
SCTP = "SCTP"
UDP = "UDP"

#: What a send may raise that means "not sent" rather than a bug.
_SEND_ERRORS = (SCTPError, OSError, ValueError, ierror.NotListeningError, ierror.MessageLengthError)

_log = Logger()


def _snippet(data: bytes, limit: int = 48) -> str:
    """@return: the start of C{data}, safe for a log line."""
    return ascii(data[:limit]) + ("..." if len(data) > limit else "")


def encodeFlowToken(assocID: int, listener: int = 0) -> str:
    """
    The value of the C{i} parameter we add to our own Via when forwarding a
    request that came over SCTP: our unique association id written as
    Kamailio writes it (lower-case hex, least significant nibble first; 26
    is C{"a1"}), followed by C{".N"} when the request came in on listener
    C{N} > 0.

    @param assocID: the registry id of the association (never reused).
    @param listener: the index of the listener it belongs to.
    """
    text = "{:x}".format(assocID)[::-1]
    return text if listener == 0 else "{}.{}".format(text, listener)


def decodeFlowToken(text: Optional[str]) -> Optional[Tuple[int, int]]:
    """
    @return: C{(assocID, listener)} from an L{encodeFlowToken} value, or
        C{None} if C{text} is not one.
    """
    if not text or len(text) > 24:
        return None
    idText, _, listenerText = text.partition(".")
    try:
        assocID = int(idText[::-1], 16)
        listener = int(listenerText) if listenerText else 0
    except ValueError:
        return None
    if assocID <= 0 or listener < 0:
        return None
    return assocID, listener


def stableTag(*parts: Optional[str]) -> str:
    """
    @return: a To tag derived from C{parts} (for example the branch and the
        Call-ID), so that a stateless server answers a retransmitted
        request with the same tag.
    """
    digest = hashlib.sha256("\0".join([p or "" for p in parts]).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:16]


@attrs.frozen
class Origin:
    """
    Where a received SIP message came from.

    @ivar transport: C{"SCTP"} or C{"UDP"}.
    @ivar listener: the index of the L{Listener} it arrived on.
    @ivar address: the source C{(host, port)}.
    @ivar association: the SCTP association it came on (C{None} for UDP).
    """

    transport: str
    listener: int
    address: HostPort
    association: Optional[Association] = None


@attrs.frozen
class Destination:
    """
    Where to send a SIP message.

    @ivar transport: C{"SCTP"} or C{"UDP"}.
    @ivar listener: the index of the L{Listener} to send from.
    @ivar address: the peer C{(host, port)}; for SCTP an existing association
        to it is used, or the kernel opens one.
    @ivar association: send on this association while it is open (SCTP).
    """

    transport: str
    listener: int
    address: HostPort
    association: Optional[Association] = None


def viaDestination(via: Via) -> Optional[Tuple[str, HostPort]]:
    """
    The address a response goes to when there is no connection to reuse
    (RFC 3261 18.2.2 with RFC 3581): the C{received} host (else sent-by),
    the C{rport} port (else the sent-by port, else 5060).

    @return: C{(transport, (host, port))}, or C{None} if the host is not an
        IP address (we do not resolve names) or the transport is not SCTP
        or UDP.
    """
    if via.transport not in (SCTP, UDP):
        return None
    host = via.received or via.host
    try:
        host = normalizeHost(host.strip("[]"))
    except ValueError:
        return None
    port = via.rport or via.port or DEFAULT_PORT
    return via.transport, (host, port)


class ISIPReceiver(Interface):
    """
    The application above L{SIPTransport}.
    """

    def requestReceived(request: SIPRequest, origin: Origin) -> None:
        """
        A well-formed request arrived (its top Via already carries
        C{received}/C{rport} where needed).

        @raise twisted_sctp.sip.message.SIPParseError: the request is
            malformed in a way only the application saw; the transport
            answers it with the error's status hint.
        """

    def responseReceived(response: SIPResponse, origin: Origin) -> None:
        """
        A well-formed response arrived.
        """


def _uint(bits: int) -> Callable[[Any, Any, Any], None]:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
            raise ValueError("{} must be an integer 0..{}, not {!r}".format(attribute.name, (1 << bits) - 1, value))

    return check


@attrs.frozen
class SIPSettings:
    """
    How the SIP transport frames and answers.

    @ivar crlfPingPong: answer a CRLFCRLF keep-alive with a CRLF message on
        the same association (RFC 5626 4.4.1).  Off: count and ignore it.
    @ivar crlfDrop: drop a lone CRLF message quietly.  Off: treat it as any
        other malformed message (counted and logged as a parse error).
    @ivar ppid: the SCTP payload protocol identifier we send (RFC 4168
        defines none: 0).  Received PPIDs are ignored.
    @ivar stream: the SCTP stream we send on.
    @ivar unordered: send with the unordered flag (RFC 4168 recommends it).
    @ivar maxHeaderBytes: the largest start line plus header block we parse;
        bigger ones are answered 513.
    @ivar udp: also listen on UDP at each listener's primary address and port
        (needed to reach contacts with C{transport=udp}).
    """

    crlfPingPong: bool = True
    crlfDrop: bool = True
    ppid: int = attrs.field(default=0, validator=_uint(32))
    stream: int = attrs.field(default=0, validator=_uint(16))
    unordered: bool = True
    maxHeaderBytes: int = attrs.field(default=16384, validator=_uint(24))
    udp: bool = True


@attrs.define
class SIPStats:
    """
    The SIP transport's counters.

    @ivar requests_in: well-formed requests received.
    @ivar responses_in: well-formed responses received.
    @ivar requests_out: requests sent (forwarded).
    @ivar responses_out: responses sent (ours and forwarded).
    @ivar parse_errors: malformed messages received.
    @ivar error_replies: malformed requests answered (400, or 505/513).
    @ivar keepalive_pings: CRLFCRLF keep-alives received.
    @ivar keepalive_pongs: CRLF answers sent.
    @ivar lone_crlf: lone CRLF messages dropped.
    @ivar drops: messages dropped, by reason.
    """

    requests_in: int = 0
    responses_in: int = 0
    requests_out: int = 0
    responses_out: int = 0
    parse_errors: int = 0
    error_replies: int = 0
    keepalive_pings: int = 0
    keepalive_pongs: int = 0
    lone_crlf: int = 0
    drops: Dict[str, int] = attrs.field(factory=lambda: collections.Counter())

    def drop(self, reason: str, count: int = 1) -> None:
        """Count C{count} messages dropped for C{reason}."""
        self.drops[reason] += count

    def asDict(self) -> Dict[str, int]:
        """@return: every counter by name, drops as C{drop_<reason>}."""
        out = {f.name: getattr(self, f.name) for f in attrs.fields(SIPStats) if f.name != "drops"}
        for reason, count in sorted(self.drops.items()):
            out["drop_" + reason] = count
        return out


class _WarningLimiter:
    """
    Lets at most C{burst} warnings through per C{interval} seconds, then
    says how many it held back: a flood of garbage must not flood the log.
    """

    def __init__(self, clock: IReactorTime, burst: int = 20, interval: float = 10.0) -> None:
        self._clock = clock
        self.burst = burst
        self.interval = interval
        self._start = -interval
        self._count = 0
        self.suppressed = 0

    def allow(self) -> bool:
        now = self._clock.seconds()
        if now - self._start >= self.interval:
            if self.suppressed:
                _log.warn("{count} more SIP warnings (bad input, failed sends) were suppressed", count=self.suppressed)
            self._start, self._count, self.suppressed = now, 0, 0
        self._count += 1
        if self._count > self.burst:
            self.suppressed += 1
            return False
        return True
