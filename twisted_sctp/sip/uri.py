# -*- test-case-name: tests.test_sipuri -*-
"""
SIP URIs (RFC 3261 19.1) and the lexical pieces the header grammar shares
with them: tokens, integers, hosts, ports, C{;name=value} parameters and
splitting outside quotes and angle brackets.  Pure: no I/O.

A URI may only hold printable ASCII (other octets must be %-escaped), so
header text decoded with C{surrogateescape} that holds other bytes makes a
URI malformed.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

from twisted_sctp.sip.errors import SIPParseError, snippet

__all__ = [
    "MAX_DELTA_SECONDS", "SIPURI", "TOKEN_RE", "formatHost", "formatParams", "parseDeltaSeconds",
    "parseHost", "parseInteger", "parseParams", "parsePort", "parseURI", "splitOutside",
]

TOKEN_RE = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_DIGITS_RE = re.compile(r"[0-9]+")
# Printable ASCII less the double quote and angle brackets.
_URI_CHARS_RE = re.compile(r"[!#-;=?-~]+")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_PARAM_VALUE_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s"]+')

# Fast paths.  Each of these matches the common shape of a value in one
# call: no spaces around ';' or '=', parameter values of printable ASCII
# without quotes, commas, '<' or '>' (nor, in URIs, '@' or '?'), a host
# name or IPv4 address rather than an IPv6 reference, no escapes in
# display names, a port of at most 65535 (checked by the caller).  What
# they match, the general code below reads the same way (they only ever
# accept a subset of it); everything else goes to the general code, which
# also makes the error messages.
_TOKEN = r"[A-Za-z0-9.!%*_+`'~-]+"
_HOST = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
# Header parameters (Via, name-addr), then URI parameters.
_FAST_PARAMS = r"(?:;{}(?:=[!#-+\--:=?-~]+)?)*".format(_TOKEN)
_FAST_PARAM_RE = re.compile(r";({})(?:=([!#-+\--:=?-~]+))?".format(_TOKEN))
_FAST_PARAMS_RE = re.compile(_FAST_PARAMS)
_FAST_URI_PARAMS = r"(?:;{}(?:=[!#-+\--:=A-~]+)?)*".format(_TOKEN)
_FAST_URI_PARAM_RE = re.compile(r";({})(?:=([!#-+\--:=A-~]+))?".format(_TOKEN))
# sip:user@host:port;params (the user without a password).
_FAST_URI_RE = re.compile(
    r"(sips?):(?:([!#-9;=?A-~]+)@)?({})(?::([0-9]{{1,5}}))?({})".format(_HOST, _FAST_URI_PARAMS)
)


def _fastParams(text: str, pattern: re.Pattern[str] = _FAST_PARAM_RE) -> dict[str, str | None]:
    """
    @param text: parameters that a C{_FAST_*PARAMS} expression matched.
    @return: them as L{parseParams} reads them.
    """
    params: dict[str, str | None] = {}
    for name, value in pattern.findall(text):
        # A fast-path value is never empty: "" means no "=".
        params.setdefault(name.lower(), value or None)
    return params

MAX_DELTA_SECONDS = 2**32 - 1


def splitOutside(text: str, separator: str, what: str) -> list[str]:
    """
    Split C{text} on C{separator} where it is outside double-quoted strings
    and outside C{<...>}.

    @raise SIPParseError: a quoted string or angle bracket is not closed.
    """
    if '"' not in text and "<" not in text:
        # Nothing to stay outside of (the common Via case): a plain split.
        return text.split(separator)
    parts: list[str] = []
    start = 0
    inQuote = False
    inAngle = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if inQuote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                inQuote = False
        elif inAngle:
            if ch == ">":
                inAngle = False
        elif ch == '"':
            inQuote = True
        elif ch == "<":
            inAngle = True
        elif ch == separator:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if inQuote:
        raise SIPParseError("unterminated quoted string in {} {}"
                            .format(what, snippet(text)))
    if inAngle:
        raise SIPParseError("unterminated '<' in {} {}".format(what, snippet(text)))
    parts.append(text[start:])
    return parts


def parseInteger(text: str, what: str, maxDigits: int = 10) -> int:
    """
    Parse a decimal integer of at most C{maxDigits} ASCII digits.

    @raise SIPParseError: C{text} is not that.
    """
    text = text.strip(" \t")
    # isascii() and isdigit(): exactly [0-9]+ (isdigit alone takes other
    # scripts' digits).
    if len(text) > maxDigits or not (text.isascii() and text.isdigit()):
        raise SIPParseError("bad {}: {}".format(what, snippet(text)))
    return int(text)


def parseDeltaSeconds(text: str, what: str) -> int:
    """
    Parse delta-seconds, clamping values above 2**32-1 (RFC 3261 20.19).

    @raise SIPParseError: C{text} is not a decimal number.
    """
    return min(parseInteger(text, what, maxDigits=20), MAX_DELTA_SECONDS)


def formatHost(host: str) -> str:
    """@return: C{host} ready for a URI or Via: IPv6 addresses in brackets."""
    if ":" in host and not host.startswith("["):
        return "[" + host + "]"
    return host


def parseHost(text: str, what: str) -> str:
    """
    Check a host name, IPv4 address or (bracketed or bare) IPv6 address.

    @return: the host, lower-cased, IPv6 without brackets.
    @raise SIPParseError: C{text} is not a host.
    """
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if ":" in bare:
        try:
            ipaddress.IPv6Address(bare)
        except ValueError:
            raise SIPParseError(
                "bad IPv6 address in {}: {}".format(what, snippet(text))
            ) from None
        return bare.lower()
    if bare != text or not _HOSTNAME_RE.fullmatch(text):
        raise SIPParseError("bad host in {}: {}".format(what, snippet(text)))
    return text.lower()


def parsePort(text: str, what: str) -> int:
    """
    @return: C{text} as a port number, 0 to 65535.
    @raise SIPParseError: it is not one.
    """
    port = parseInteger(text, "port in " + what, maxDigits=5)
    if port > 65535:
        raise SIPParseError("port out of range in {}: {}".format(what, port))
    return port


def parseParams(text: str, what: str) -> dict[str, str | None]:
    """
    Parse C{;name=value;name} parameters.  Names are lower-cased; values are
    kept as written (a quoted value keeps its quotes); a name without C{=}
    maps to C{None}; the first of repeated names wins.

    @param text: the parameters, starting with C{;}, or empty.
    @raise SIPParseError: a parameter is empty or malformed.
    """
    params: dict[str, str | None] = {}
    text = text.strip(" \t")
    if not text:
        return params
    if _FAST_PARAMS_RE.fullmatch(text):
        return _fastParams(text)
    if not text.startswith(";"):
        raise SIPParseError("unexpected text in {}: {}".format(what, snippet(text)))
    for piece in splitOutside(text[1:], ";", what):
        name, equals, value = piece.partition("=")
        name = name.strip(" \t")
        value = value.strip(" \t")
        if not TOKEN_RE.fullmatch(name):
            raise SIPParseError(
                "bad parameter name in {}: {}".format(what, snippet(piece))
            )
        if equals and not _PARAM_VALUE_RE.fullmatch(value):
            raise SIPParseError(
                "bad parameter value in {}: {}".format(what, snippet(piece))
            )
        params.setdefault(name.lower(), value if equals else None)
    return params


def formatParams(params: dict[str, str | None]) -> str:
    """@return: C{params} as C{;name=value} text."""
    return "".join(
        ";" + name if value is None else ";{}={}".format(name, value)
        for name, value in params.items()
    )


@attrs.frozen
class SIPURI:
    """
    A parsed C{sip:} or C{sips:} URI (RFC 3261 19.1).  C{str()} gives the
    canonical text: scheme, host and parameter names lower-cased, IPv6 hosts
    in brackets, everything else as written (escapes are not decoded).

    @ivar scheme: C{"sip"} or C{"sips"}.
    @ivar user: the user part, or C{None}.
    @ivar password: the password, or C{None}.
    @ivar host: the host; an IPv6 address without brackets.
    @ivar port: the port, or C{None}.
    @ivar params: URI parameters (names lower-cased).
    @ivar headers: URI headers (the C{?name=value&...} part), in order.
    """

    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None = None
    params: dict[str, str | None] = attrs.field(factory=dict)
    headers: dict[str, str] = attrs.field(factory=dict)

    def param(self, name: str) -> str | None:
        """@return: the value of URI parameter C{name} (any case), or C{None}."""
        return self.params.get(name.lower())

    @property
    def transport(self) -> str | None:
        """
        The C{transport} parameter lower-cased (C{"sctp"}), or C{None}.
        """
        value = self.params.get("transport")
        return None if value is None else value.lower()

    @property
    def lr(self) -> bool:
        """Whether the URI has the loose-routing C{lr} parameter."""
        return "lr" in self.params

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts += [":", self.password]
            parts.append("@")
        parts.append(formatHost(self.host))
        if self.port is not None:
            parts.append(":{}".format(self.port))
        parts.append(formatParams(self.params))
        if self.headers:
            parts.append("?")
            pairs = ("{}={}".format(k, v) for k, v in self.headers.items())
            parts.append("&".join(pairs))
        return "".join(parts)


def parseURI(text: str) -> SIPURI:
    """
    Parse a C{sip:} or C{sips:} URI.

    @raise SIPParseError: C{text} is not one.
    """
    fast = _FAST_URI_RE.fullmatch(text)
    if fast is not None:
        scheme, user, host, portText, paramText = fast.groups()
        port = None if portText is None else int(portText)
        if port is None or port <= 65535:
            params = _fastParams(paramText, _FAST_URI_PARAM_RE) if paramText else {}
            return SIPURI(scheme, user, None, host.lower(), port, params)
    what = "URI " + snippet(text)
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        raise SIPParseError("not a sip: or sips: URI: " + snippet(text))
    if not _URI_CHARS_RE.fullmatch(rest):
        raise SIPParseError("bad character in " + what)
    user = password = None
    userinfo, at, hostpart = rest.partition("@")
    if at:
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
        if not user:
            raise SIPParseError("empty user part in " + what)
    else:
        hostpart = rest
    hostpart, question, headerText = hostpart.partition("?")
    if hostpart.startswith("["):
        close = hostpart.find("]")
        if close < 0:
            raise SIPParseError("unterminated IPv6 reference in " + what)
        hostText, after = hostpart[: close + 1], hostpart[close + 1 :]
    else:
        end = len(hostpart)
        for stop in ":;":
            i = hostpart.find(stop)
            if i >= 0:
                end = min(end, i)
        hostText, after = hostpart[:end], hostpart[end:]
    host = parseHost(hostText, what)
    port = None
    if after.startswith(":"):
        portText, semi, paramText = after[1:].partition(";")
        port = parsePort(portText, what)
        after = semi + paramText
    params = parseParams(after, what)
    headers: dict[str, str] = {}
    if question:
        for item in headerText.split("&"):
            name, equals, value = item.partition("=")
            if not name or not equals:
                raise SIPParseError("bad header in " + what)
            headers.setdefault(name, value)
    return SIPURI(scheme.lower(), user, password, host, port, params, headers)
