# -*- test-case-name: tests.test_sipedit -*-
"""
Every rewrite of a SIP message's routing headers, in one place: our Via
added and removed (RFC 3261 16.6 step 8, 16.11), C{received}/C{rport} on a
received request's top Via (RFC 3261 18.2.1, RFC 3581), the first Route
removed and the strict-router rewrite (16.4, 16.6 step 6), Max-Forwards
(16.6 step 3), and the top Via's transport in the raw bytes of a datagram
application (the adapter's C{rewriteVia}).  Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Mapping

import attrs

from twisted_sctp.sip.flow import newBranch
from twisted_sctp.sip.headers import (
    TOKEN_RE, LocalSIPError, SIPParseError, Via, canonicalName, parseHost, parseVia, parseViaList,
    splitOutside,
)
from twisted_sctp.sip.message import SIPMessage, SIPRequest
from twisted_sctp.transport.address import normalizeHost

__all__ = [
    "MAX_FORWARDS_DEFAULT", "MAX_FORWARDS_LIMIT", "fixTopVia", "fixedVia", "popVia", "prependVia", "removeFirstRoute", "rewriteTopVia", "setMaxForwards",
    "strictRoute",
]


def _firstIndex(message: SIPMessage, canonical: str) -> int | None:
    for i, (name, _) in enumerate(message.headers):
        if canonicalName(name) == canonical:
            return i
    return None


def prependVia(
    message: SIPMessage,
    host: str,
    port: int | None = None,
    branch: str | None = None,
    *,
    transport: str = "SCTP",
    extraParams: Mapping[str, str | None] | None = None,
) -> Via:
    """
    Add a Via line C{SIP/2.0/SCTP host:port;branch=...} above the existing
    ones (RFC 3261 16.6 step 8).

    @param host: our host name or address; an IPv6 address is written in
        brackets.
    @param port: our port, or C{None} to leave it out.
    @param branch: the branch; a fresh L{newBranch} if C{None}.
    @param transport: the transport token (C{"SCTP"}, C{"TLS-SCTP"}).
    @param extraParams: more parameters, such as C{{"rport": None}}.
    @return: the Via added.
    @raise LocalSIPError: an argument cannot be written into a Via.
    """
    params: dict[str, str | None] = {"branch": branch or newBranch()}
    params.update(extraParams or {})
    try:
        badPort = port is not None and not 0 <= port <= 65535
        if badPort or not TOKEN_RE.fullmatch(transport):
            raise SIPParseError("bad transport or port")
        via = Via(transport.upper(), parseHost(host, "Via"), port, params)
        parsed = parseViaList(str(via))
        expected = {k.lower(): v for k, v in params.items()}
        if parsed != [attrs.evolve(via, params=expected)]:
            raise SIPParseError("a parameter does not read back")
    except SIPParseError as e:
        raise LocalSIPError("cannot write this Via: " + e.reason) from None
    index = _firstIndex(message, "via")
    message.headers.insert(0 if index is None else index, ("Via", str(parsed[0])))
    return parsed[0]


def popVia(message: SIPMessage) -> Via | None:
    """
    Remove the top Via value: the first value of the first Via line, leaving
    the line's other values in place.

    @return: the Via removed, or C{None} if there was none.
    @raise SIPParseError: the top Via is malformed.
    """
    index = _firstIndex(message, "via")
    if index is None:
        return None
    name, value = message.headers[index]
    pieces = splitOutside(value, ",", "Via")
    via = parseVia(pieces[0])
    if len(pieces) > 1:
        message.headers[index] = (name, ",".join(pieces[1:]).strip(" \t"))
    else:
        del message.headers[index]
    return via


def fixTopVia(request: SIPRequest, host: str, port: int) -> None:
    """
    Set C{received} (and C{rport}, where the client asked for it) on the
    top Via of C{request}, which came from C{host}:C{port} (RFC 3261 18.2.1,
    RFC 3581): L{fixedVia}, written into the first Via line.
    """
    via = request.topVia
    if via is None:
        return
    fixed = fixedVia(via, host, port)
    if fixed is not None:
        _replaceFirst(request, "via", "Via", str(fixed))


def fixedVia(via: Via, host: str, port: int) -> Via | None:
    """
    The top Via of a request that came from C{host}:C{port}, with
    C{received} and C{rport} from the packet's real source whatever the
    client wrote: with C{rport} (empty or not) both C{rport} and
    C{received} are ours; without it C{received} is the source where the
    sent-by host differs, and a C{received} the client wrote is removed
    where it does not.

    @return: the new Via, or C{None} where C{via} needs no change.
    """
    params = via.params
    if "rport" in params:
        params = dict(params, rport=str(port), received=host)
    else:
        sentBy = via.host
        try:
            sentBy = normalizeHost(sentBy.strip("[]"))
        except ValueError:
            pass
        if sentBy != host:
            params = dict(params, received=host)
        elif "received" in params:
            params = {k: v for k, v in params.items() if k != "received"}
        else:
            return None
    if params == via.params:
        return None
    return attrs.evolve(via, params=params)


def _replaceFirst(message: SIPMessage, canonical: str, what: str, value: str | None) -> None:
    """
    Replace the first value of the first C{canonical} line by C{value}
    (C{None}: remove it, and the line if it held no other).
    """
    index = _firstIndex(message, canonical)
    if index is None:
        return
    name, line = message.headers[index]
    pieces = [p.strip(" \t") for p in splitOutside(line, ",", what)]
    if value is None:
        del pieces[0]
    else:
        pieces[0] = value
    if pieces:
        message.headers[index] = (name, ",".join(pieces))
    else:
        del message.headers[index]


def removeFirstRoute(request: SIPRequest) -> None:
    """Remove the first Route value (RFC 3261 16.4: it named us)."""
    _replaceFirst(request, "route", "Route", None)


def strictRoute(request: SIPRequest, nextHop: str) -> None:
    """
    The next hop C{nextHop} (the first Route) is a strict router (RFC 3261
    16.6 step 6): the Request-URI goes last in Route and the first Route
    becomes the Request-URI.
    """
    removeFirstRoute(request)
    request.addHeader("Route", "<{}>".format(request.uri))
    request.uri = nextHop


#: The largest Max-Forwards we pass on (RFC 3261 20.22: 0-255); larger is
#: taken as the recommended initial value, 70.
MAX_FORWARDS_LIMIT = 255
MAX_FORWARDS_DEFAULT = 70


def setMaxForwards(request: SIPRequest) -> None:
    """
    Max-Forwards one less for a forwarded request (RFC 3261 16.6 step 3),
    70 if it had none; a value above 255 is clamped to 70 first (so a loop
    we cannot see still ends within 70 hops).
    """
    maxForwards = request.maxForwards
    if maxForwards is None:
        value = MAX_FORWARDS_DEFAULT
    else:
        value = (MAX_FORWARDS_DEFAULT if maxForwards > MAX_FORWARDS_LIMIT else maxForwards) - 1
    request.setHeader("Max-Forwards", str(value))


_TOP_VIA_UDP = re.compile(rb"(\n(?:via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*)UDP(?=[ \t])", re.IGNORECASE)


def rewriteTopVia(data: bytes) -> bytes:
    """
    @return: C{data} with the transport of its first Via changed from UDP to
        SCTP, if it is a request whose first Via says UDP.  This works on the
        bytes a datagram application wrote (C{twisted.protocols.sip} writes
        no transport but UDP), which need not parse: they go out as written
        but for these three letters.
    """
    if data[:4].upper() == b"SIP/":
        return data
    head, sep, body = data.partition(b"\r\n\r\n")
    return _TOP_VIA_UDP.sub(rb"\1SCTP", head, count=1) + sep + body
