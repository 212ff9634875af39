# -*- test-case-name: tests.test_sip -*-
"""
Values of the SIP transport layer: where a message came from and goes to,
settings, counters, and the address a response goes to by its Via.  Public
names are re-exported by L{twisted_sctp.sip.transport}.  An association is
an opaque handle here: only L{twisted_sctp.sip.transport} looks into it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import attrs
from zope.interface import Interface

from twisted.internet import error as ierror
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_sctp.counters import Counters
from twisted_sctp.error import SCTPError
from twisted_sctp.transport.address import HostPort, normalizeHost
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
    association: Optional[Any] = None


@attrs.frozen
class Origin:
    """
    Where a received SIP message came from.

    @ivar transport: C{"SCTP"} or C{"UDP"}.
    @ivar listener: the index of the L{Listener} it arrived on.
    @ivar address: the source C{(host, port)}.
    @ivar association: the SCTP association it came on (C{None} for UDP).
    @ivar reply: the L{Destination} of a reply on that association (made
        once per origin), or C{None} for UDP.
    """

    transport: str
    listener: int
    address: HostPort
    association: Optional[Any] = None
    reply: Optional[Destination] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        reply = None
        if self.association is not None:
            reply = Destination(self.transport, self.listener, self.address, self.association)
        object.__setattr__(self, "reply", reply)


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
    @ivar leanPath: answer an OPTIONS to the server itself from its bytes
        (L{twisted_sctp.sip.lean}); off: every message takes the full path
        (the same replies and counts, more CPU).
    """

    crlfPingPong: bool = True
    crlfDrop: bool = True
    ppid: int = attrs.field(default=0, validator=_uint(32))
    stream: int = attrs.field(default=0, validator=_uint(16))
    unordered: bool = True
    maxHeaderBytes: int = attrs.field(default=16384, validator=_uint(24))
    udp: bool = True
    leanPath: bool = True


class SIPStats(Counters):
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

    requests_in: int
    responses_in: int
    requests_out: int
    responses_out: int
    parse_errors: int
    error_replies: int
    keepalive_pings: int
    keepalive_pongs: int
    lone_crlf: int


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
