# -*- test-case-name: tests.test_sipheaders -*-
"""
Pure parsers for the structured SIP header fields (Via, name-addr lists,
CSeq), header names (compact forms) and the reason-phrase table.  URIs and
the lexical pieces are in L{twisted_sctp.sip.uri}, the errors in
L{twisted_sctp.sip.errors}; their names are re-exported here.  Nothing here
does I/O.

Header values arrive as C{str}: the message parser decodes the header block as
UTF-8 with the C{surrogateescape} error handler, so bytes that are not UTF-8
survive as lone surrogates and are written back unchanged.  A URI may only
hold printable ASCII (other octets must be %-escaped), so such bytes make a
URI malformed; display names and quoted strings may hold them.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, Sequence

import attrs

from twisted_sctp.sip.errors import LocalSIPError, SIPParseError, snippet
from twisted_sctp.sip.uri import (
    _DIGITS_RE, _FAST_PARAMS, _SCHEME_RE, _URI_CHARS_RE, MAX_DELTA_SECONDS, SIPURI,
    TOKEN_RE, _fastParams, _HOST, _TOKEN, formatHost, formatParams, parseDeltaSeconds, parseHost,
    parseInteger, parseParams, parsePort, parseURI, splitOutside,
)

__all__ = [
    "COMPACT_FORMS", "CSeq", "DIALOG_HEADERS", "LocalSIPError", "MAX_DELTA_SECONDS", "NameAddr",
    "REASON_PHRASES", "SIPParseError", "SIPURI", "TOKEN_RE", "Via", "canonicalName", "formatHost",
    "formatParams", "isPlainNameAddr", "parseCSeq", "parseDeltaSeconds", "parseHost", "parseInteger",
    "parseNameAddr", "parseNameAddrList", "parseParams", "parsePort", "parseURI", "parseVia",
    "parseSingleVia", "parseViaList", "reasonPhrase", "snippet", "splitOutside",
]

# RFC 3261 and later compact header forms, mapped to lower-case full names.
COMPACT_FORMS: dict[str, str] = {
    "a": "accept-contact", "b": "referred-by", "c": "content-type",
    "d": "request-disposition", "e": "content-encoding", "f": "from", "i": "call-id",
    "j": "reject-contact", "k": "supported", "l": "content-length", "m": "contact",
    "n": "identity-info", "o": "event", "r": "refer-to", "s": "subject", "t": "to",
    "u": "allow-events", "v": "via", "x": "session-expires", "y": "identity",
}

# The header fields a server needs to answer a request (RFC 3261 8.2.6.2).
DIALOG_HEADERS = frozenset({"via", "from", "to", "call-id", "cseq"})

_VIA_HEAD_RE = re.compile(
    r"SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*([A-Za-z0-9.!%*_+`'~-]+)[ \t]+"
    r"(\[[^\]]*\]|[^ \t:\[\]]+)(?:[ \t]*:[ \t]*([0-9]+))?",
    re.IGNORECASE | re.ASCII,
)
_CSEQ_RE = re.compile(r"([0-9]+)[ \t]+([A-Za-z0-9.!%*_+`'~-]+)")
# SIP/2.0/SCTP host:port;params
_FAST_VIA_RE = re.compile(r"SIP/2\.0/({}) ({})(?::([0-9]{{1,5}}))?({})".format(_TOKEN, _HOST, _FAST_PARAMS))
# <uri>;params, "Quoted Name" <uri>;params or Plain Name <uri>;params
_FAST_NAME_ADDR_RE = re.compile(
    r'[ \t]*(?:"([^"\\]*)"[ \t]*|([^"<,]*))<([A-Za-z][A-Za-z0-9+.-]*:[!#-;=?-~]*)>({})[ \t]*'.format(_FAST_PARAMS)
)

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 430: "Flow Failed",
    439: "First Hop Lacks Outbound Support", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
    493: "Undecipherable", 500: "Server Internal Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Server Time-out",
    505: "Version Not Supported", 513: "Message Too Large", 600: "Busy Everywhere",
    603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}
_CLASS_PHRASES = {1: "Informational", 2: "Success", 3: "Redirection",
                  4: "Client Error", 5: "Server Error", 6: "Global Failure"}


def reasonPhrase(code: int) -> str:
    """
    @return: the usual reason phrase for status C{code}, or the name of its
        class (C{"Client Error"}) for a code not in L{REASON_PHRASES}.
    """
    return REASON_PHRASES.get(code, _CLASS_PHRASES.get(code // 100, "Unknown"))


_CANONICAL_MAX = 1024


class _CanonicalNames(Dict[str, str]):
    """
    C{canonicalName}'s results for the header names seen so far, computed
    by C{__missing__} and kept up to C{_CANONICAL_MAX} names (a flood of
    odd names is computed each time, not kept).
    """

    def __missing__(self, name: str) -> str:
        lower = name.lower()
        canonical = COMPACT_FORMS.get(lower, lower)
        if len(self) < _CANONICAL_MAX:
            self[name] = canonical
        return canonical


_CANONICAL = _CanonicalNames()

#: C{canonicalName(name)}: C{name} lower-cased, with a compact form
#: expanded (C{"v"} gives C{"via"}).  Header look-ups call it for every
#: line of a message, several times per message: it is the look-up of the
#: cache itself, with no Python function call while the name is known.
canonicalName: Callable[[str], str] = _CANONICAL.__getitem__


@attrs.frozen
class Via:
    """
    One parsed Via value (RFC 3261 20.42).

    @ivar transport: the transport token upper-cased (C{"SCTP"}).
    @ivar host: the sent-by host; an IPv6 address without brackets.
    @ivar port: the sent-by port, or C{None}.
    @ivar params: the parameters (names lower-cased, values as written;
        C{None} for a parameter without a value, such as a bare C{rport}).
    """

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = attrs.field(factory=dict)

    @property
    def branch(self) -> str | None:
        """The C{branch} parameter, or C{None}."""
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        """The C{received} parameter, or C{None}."""
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """
        The C{rport} value, or C{None} when absent, empty or not a port (test
        C{"rport" in via.params} to see whether it was asked for).
        """
        value = self.params.get("rport")
        if value is None or len(value) > 5 or not _DIGITS_RE.fullmatch(value):
            return None
        port = int(value)
        return port if port <= 65535 else None

    def __str__(self) -> str:
        sentBy = formatHost(self.host)
        if self.port is not None:
            sentBy += ":{}".format(self.port)
        params = formatParams(self.params)
        return "SIP/2.0/{} {}{}".format(self.transport, sentBy, params)


def parseVia(text: str) -> Via:
    """
    Parse a single Via value (no commas).

    @raise SIPParseError: it is malformed.
    """
    fast = _FAST_VIA_RE.fullmatch(text.strip(" \t"))
    if fast is not None:
        transport, host, portText, paramText = fast.groups()
        port = None if portText is None else int(portText)
        if port is None or port <= 65535:
            params = _fastParams(paramText) if paramText else {}
            return Via(transport.upper(), host.lower(), port, params)
    what = "Via " + snippet(text)
    head, semi, paramText = text.partition(";")
    match = _VIA_HEAD_RE.fullmatch(head.strip(" \t"))
    if match is None:
        raise SIPParseError("bad " + what)
    transport, hostText, portText = match.groups()
    host = parseHost(hostText, what)
    port = None if portText is None else parsePort(portText, what)
    params = parseParams(semi + paramText, what)
    return Via(transport.upper(), host, port, params)


def parseViaList(text: str) -> list[Via]:
    """
    Parse a Via header line, which may hold several comma-separated values.

    @raise SIPParseError: a value is malformed.
    """
    return list(map(parseVia, splitOutside(text, ",", "Via")))


# Via lines that differ only in their last parameter, the branch (a client's
# requests, one after another): the part before it, parsed once.
_BRANCH = ";branch="
_BRANCH_VALUE_RE = re.compile(r"[!#-+\--:=?-~]+")
_VIA_HEADS: dict[str, Via | None] = {}
_VIA_HEADS_SIZE = 256


def parseSingleVia(text: str) -> Via | None:
    """
    Parse a Via header line that should hold one value, as L{parseViaList}
    would, quicker where only a last C{;branch=} parameter differs from a
    line seen before.

    @return: the L{Via}, or C{None} where the line holds several values.
    @raise SIPParseError: a value is malformed.
    """
    head, sep, branch = text.rpartition(_BRANCH)
    if sep and _BRANCH_VALUE_RE.fullmatch(branch):
        try:
            via = _VIA_HEADS[head]
        except KeyError:
            # Only a head of the fast shape: with a branch of the fast
            # value shape after it, the whole line is of that shape too,
            # and reads as the head's Via plus the branch.
            via = parseVia(head) if _FAST_VIA_RE.fullmatch(head) else None
            if len(_VIA_HEADS) >= _VIA_HEADS_SIZE:
                _VIA_HEADS.clear()
            _VIA_HEADS[head] = via
        if via is not None:
            if "branch" in via.params:
                return via  # the first of two branch parameters counts
            params = dict(via.params)
            params["branch"] = branch
            return Via(via.transport, via.host, via.port, params)
    vias = parseViaList(text)
    return vias[0] if len(vias) == 1 else None


@attrs.frozen
class NameAddr:
    """
    A parsed name-addr or addr-spec with header parameters, as in From, To,
    Contact, Route and Record-Route.  The Contact wildcard C{*} is a
    C{NameAddr} whose C{uri} is C{"*"}.

    @ivar displayName: the display name (unquoted), or C{None}.
    @ivar uri: the URI text, unparsed (use L{parseURI} for SIP URIs).
    @ivar params: the header parameters (names lower-cased).
    """

    displayName: str | None
    uri: str
    params: dict[str, str | None] = attrs.field(factory=dict)

    @property
    def tag(self) -> str | None:
        """The C{tag} parameter, or C{None}."""
        return self.params.get("tag")

    @property
    def expires(self) -> int | None:
        """
        The C{expires} parameter as delta-seconds, or C{None} if absent or
        not a number.
        """
        value = self.params.get("expires")
        if value is None:
            return None
        try:
            return parseDeltaSeconds(value, "expires")
        except SIPParseError:
            return None

    @property
    def isWildcard(self) -> bool:
        """Whether this is the Contact wildcard C{*}."""
        return self.uri == "*"

    def __str__(self) -> str:
        if self.isWildcard:
            return "*"
        prefix = ""
        if self.displayName is not None:
            escaped = self.displayName.replace("\\", "\\\\").replace('"', '\\"')
            prefix = '"{}" '.format(escaped)
        return "{}<{}>{}".format(prefix, self.uri, formatParams(self.params))


def _checkURIText(uri: str, what: str) -> None:
    if not _SCHEME_RE.match(uri) or not _URI_CHARS_RE.fullmatch(uri):
        raise SIPParseError("bad URI in {}: {}".format(what, snippet(uri)))


def isPlainNameAddr(text: str) -> bool:
    """
    @return: whether C{text} is one name-addr of the common shape, which
        L{parseNameAddr} and L{parseNameAddrList} read without error (a
        check much quicker than parsing).
    """
    return _FAST_NAME_ADDR_RE.fullmatch(text) is not None


def _fastNameAddr(match: re.Match[str]) -> NameAddr:
    """@return: the L{NameAddr} that C{_FAST_NAME_ADDR_RE} matched."""
    quoted, before, uri, paramText = match.groups()
    if quoted is not None:
        displayName: str | None = quoted
    else:
        # As parseNameAddr reads it: an unquoted name is its words, or none.
        displayName = " ".join(before.split()) if before.strip(" \t") else None
    return NameAddr(displayName, uri, _fastParams(paramText) if paramText else {})


def parseNameAddr(text: str, what: str, allowWildcard: bool = False) -> NameAddr:
    """
    Parse one name-addr (C{"Bob" <sip:bob@h>;tag=x}) or addr-spec
    (C{sip:bob@h;tag=x}, where the parameters belong to the header).

    @param allowWildcard: accept C{*} (Contact only).
    @raise SIPParseError: C{text} is malformed.
    """
    fast = _FAST_NAME_ADDR_RE.fullmatch(text)
    if fast is not None:
        return _fastNameAddr(fast)
    text = text.strip(" \t")
    if allowWildcard and text == "*":
        return NameAddr(None, "*", {})
    displayName: str | None = None
    rest = text
    if text.startswith('"'):
        i, chars = 1, []
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            chars.append(text[i])
            i += 1
        if i >= len(text):
            raise SIPParseError("unterminated display name in " + what)
        displayName = "".join(chars)
        rest = text[i + 1 :].lstrip(" \t")
        if not rest.startswith("<"):
            raise SIPParseError("display name without <URI> in " + what)
    if "<" in rest:
        before, _, inner = rest.partition("<")
        uri, close, paramText = inner.partition(">")
        if not close:
            raise SIPParseError("unterminated '<' in " + what)
        # Lenient: an unquoted display name may hold any words (RFC 3261
        # wants tokens, but UTF-8 names are seen in the wild).
        if before.strip(" \t"):
            if displayName is not None or '"' in before:
                raise SIPParseError("bad display name in " + what)
            displayName = " ".join(before.split())
    else:
        uri, semi, paramText = rest.partition(";")
        paramText = semi + paramText
    uri = uri.strip(" \t")
    _checkURIText(uri, what)
    return NameAddr(displayName, uri, parseParams(paramText, what))


def parseNameAddrList(
    values: Sequence[str], what: str, allowWildcard: bool = False
) -> list[NameAddr]:
    """
    Parse header lines that each hold comma-separated name-addr values.

    @raise SIPParseError: a value is malformed.
    """
    found = []
    for value in values:
        fast = _FAST_NAME_ADDR_RE.fullmatch(value)
        if fast is not None:
            # One value: the fast expression admits commas only inside
            # <...> and quotes, where splitOutside does not split.
            found.append(_fastNameAddr(fast))
            continue
        found.extend(parseNameAddr(piece, what, allowWildcard) for piece in splitOutside(value, ",", what))
    return found


@attrs.frozen
class CSeq:
    """
    A parsed CSeq header (RFC 3261 20.16).

    @ivar number: the sequence number, below 2**31.
    @ivar method: the method, as written.
    """

    number: int
    method: str

    def __str__(self) -> str:
        return "{} {}".format(self.number, self.method)


#: CSeq values parsed lately, by text of at most 64 characters (a L{CSeq}
#: is immutable, so one can be shared; requests such as OPTIONS pings repeat
#: theirs).  Emptied when full.
_CSEQS: dict[str, CSeq] = {}
_CSEQS_SIZE = 1024


def parseCSeq(text: str) -> CSeq:
    """
    Parse a CSeq value.

    @raise SIPParseError: it is not a number below 2**31 and a method.
    """
    known = _CSEQS.get(text)
    if known is not None:
        return known
    match = _CSEQ_RE.fullmatch(text.strip(" \t"))
    if match is not None:
        digits, method = match.groups()
        if len(digits) <= 10:
            number = int(digits)
            if number < 2**31:
                cseq = CSeq(number, method)
                if len(text) <= 64:
                    if len(_CSEQS) >= _CSEQS_SIZE:
                        _CSEQS.clear()
                    _CSEQS[text] = cseq
                return cseq
    raise SIPParseError("bad CSeq: " + snippet(text))
