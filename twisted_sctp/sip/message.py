# -*- test-case-name: tests.test_sipmessage -*-
"""
A pure, sans-io SIP message layer for SIP over SCTP (RFC 4168).

SCTP keeps message boundaries and RFC 4168 puts one SIP message in one SCTP
user message, so L{parseMessage} takes a whole buffer and returns one
L{SIPRequest} or L{SIPResponse}, or raises L{SIPParseError} (the peer's fault,
with a C{statusHint}); misuse of this API raises L{LocalSIPError}.  There is
no socket, reactor or clock here.

Parsing rules, where RFC 3261 leaves a choice:

  - Line breaks before the start line are skipped (RFC 3261 7.5) and count
    toward C{maxHeaderBytes}, the limit on the start line plus header lines;
    a larger header block is refused (status hint 513, RFC 3261 21.5.9)
    after reading at most C{maxHeaderBytes} bytes.
  - Lines end in CRLF; a bare LF is accepted too.  Other control characters
    (a bare CR, NUL, ...) in the header block are refused.
  - The header block is decoded as UTF-8 with C{surrogateescape}: other
    octets survive as lone surrogates, and L{SIPRequest.toBytes} writes them
    back unchanged.
  - Folded header lines (a line starting with SP or HTAB) are joined with a
    single space.
  - SCTP is message-oriented, so as for UDP (RFC 3261 18.3) a Content-Length
    smaller than the body truncates it and the extra bytes are discarded,
    whatever they are; one SCTP message can never carry a second SIP message.
    A Content-Length larger than the body is an error; without one the body
    is the rest of the buffer.
  - Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Expires,
    Contact, Route and Record-Route are checked while parsing, so their
    accessors on a parsed message never raise.  A missing header is not an
    error here (C{vias} is then C{[]}): that is for the layer above.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Container, Iterable, Mapping, TypeVar, Union

import attrs

from twisted_sctp.sip.headers import (
    COMPACT_FORMS, DIALOG_HEADERS, REASON_PHRASES, TOKEN_RE, CSeq, LocalSIPError,
    NameAddr, SIPParseError, SIPURI, Via, canonicalName, isPlainNameAddr, parseCSeq,
    parseDeltaSeconds, parseHost, parseInteger, parseNameAddr, parseNameAddrList, parseURI,
    parseVia, parseViaList, reasonPhrase, snippet, splitOutside,
)

__all__ = [
    "COMPACT_FORMS", "CSeq", "KEEPALIVE_PING", "KEEPALIVE_PONG", "LocalSIPError",
    "NameAddr", "REASON_PHRASES", "SIPMessage", "SIPParseError", "SIPRequest",
    "SIPResponse", "SIPURI", "Via", "isKeepAlivePing", "isLoneCRLF",
    "makeErrorResponse", "makeResponse", "newBranch", "newTag", "parseMessage",
    "parseURI", "popVia", "prependVia", "reasonPhrase", "responseBytes",
]

KEEPALIVE_PING = b"\r\n\r\n"
KEEPALIVE_PONG = b"\r\n"
BRANCH_MAGIC = "z9hG4bK"

_LEADING_BREAKS_RE = re.compile(rb"(?:\r?\n)*")
# The empty line after the header block, less the CR that may start it:
# a pattern that starts with a literal is searched for far faster.
_BLANK_LINE_RE = re.compile(rb"\n\r?\n")
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HEADER_NAME_RE = re.compile(r"([A-Za-z0-9.!%*_+`'~-]+)[ \t]*:")
# A header line "Name: value", with no control character and no folding:
# the common case (lines seen lately are not checked again, see
# _KNOWN_LINES).
# (The value: anything but a control character, written as what it may be,
# which the regular expression engine tests faster.)
_PLAIN_LINE = r"[A-Za-z0-9.!%*_+`'~-]+[ \t]*:[\t\x20-\x7e\x80-\U0010ffff]*"
_PLAIN_LINE_RE = re.compile(_PLAIN_LINE)
_STATUS_LINE_RE = re.compile(
    r"SIP/2\.0 ([0-9]{3})(?: (.*))?", re.IGNORECASE | re.ASCII
)
_REQUEST_LINE_RE = re.compile(
    r"([A-Za-z0-9.!%*_+`'~-]+) ([^ \t]+) (SIP/[0-9]{1,4}\.[0-9]{1,4})",
    re.IGNORECASE | re.ASCII,
)
_GENERIC_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!#-;=?-~]+")
# The common request line: printable ASCII, SIP/2.0 as written (what it
# matches, the checks below read the same way).
_PLAIN_REQUEST_LINE_RE = re.compile(r"([A-Za-z0-9.!%*_+`'~-]+) ([!-~]+) SIP/2\.0")


_T = TypeVar("_T")
_NO_LINES: list[tuple[str, str]] = []


def _dialogHeaders(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(n, v) for n, v in headers if canonicalName(n) in DIALOG_HEADERS]


class _Memo:
    """
    What a message has worked out from its header lines: the lines grouped
    by canonical name, and the structured values parsed from them (each
    header is parsed once, by L{parseMessage}'s checks, however often its
    accessor is read).  C{headers} is a public list that may be edited in
    place, so every use first compares the lines with the copy the memo was
    made from (one identity test per line while they are the same) and
    starts afresh when they differ.

    @ivar lines: the header lines the memo was made from.
    @ivar byName: those lines by canonical name, in order.
    @ivar values: parsed values, by the function that parsed them.
    @ivar uri: the Request-URI text and its L{SIPURI}, once parsed.
    """

    __slots__ = ("lines", "byName", "values", "uri")

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] | None = None
        self.byName: dict[str, list[tuple[str, str]]] = {}
        self.values: dict[Callable[[_Memo], Any], Any] = {}
        self.uri: tuple[str, SIPURI] | None = None

    def index(
        self,
        lines: list[tuple[str, str]],
        byName: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        """
        Start afresh from C{lines}.

        @param byName: the lines by canonical name, if the caller has them.
        """
        if byName is None:
            byName = {}
            for line in lines:
                byName.setdefault(canonicalName(line[0]), []).append(line)
        self.lines, self.byName, self.values = list(lines), byName, {}

    def value(self, parse: Callable[[_Memo], _T]) -> _T:
        """
        @return: C{parse(self)}, computed once (an exception is not kept:
            it is raised again).
        """
        try:
            return self.values[parse]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = self.values[parse] = parse(self)
        return value


class _SIPMessageBase:
    """
    Header access, accessors and serialisation shared by requests and
    responses.  Header names are matched without regard to case and with
    compact forms expanded; lines keep their names as written.

    The accessors parse a header the first time they are read and keep
    the result while the header lines stay the same: the values they give
    (L{Via}, L{NameAddr}, L{CSeq}) are frozen and shared between calls, and
    lists are fresh copies.
    """

    headers: list[tuple[str, str]]
    body: bytes
    _memo: _Memo

    def _startLine(self) -> str:
        raise NotImplementedError()

    def _fresh(self) -> _Memo:
        """@return: the memo, made afresh if the header lines changed."""
        memo = self._memo
        if memo.lines != self.headers:
            memo.index(self.headers)
        return memo

    def _lines(self, canonical: str) -> list[tuple[str, str]]:
        """
        @param canonical: a name as C{canonicalName} gives it.
        @return: the C{(name, value)} lines of that header, in order (the
            memo's own list: do not change it).
        """
        return self._fresh().byName.get(canonical, _NO_LINES)

    def _parsed(self, parse: Callable[[_Memo], _T]) -> _T:
        """
        @return: C{parse(memo)}, computed once while the header lines stay
            the same (an exception is not kept: it is raised again).
        """
        return self._fresh().value(parse)

    def getHeaders(self, name: str) -> list[str]:
        """
        @return: the values of every C{name} line (any case or compact form),
            in order.
        """
        return [v for _, v in self._lines(canonicalName(name))]

    def getHeader(self, name: str) -> str | None:
        """@return: the value of the first C{name} line, or C{None}."""
        lines = self._lines(canonicalName(name))
        return lines[0][1] if lines else None

    def hasHeader(self, name: str) -> bool:
        """@return: whether there is a C{name} line (any case or compact form)."""
        return bool(self._lines(canonicalName(name)))

    def presentHeaders(self) -> Container[str]:
        """
        @return: the canonical names (C{canonicalName}) of the headers the
            message has, as of now (a view: do not keep it across edits).
        """
        return self._fresh().byName.keys()

    def missingHeaders(self, names: Iterable[str]) -> list[str]:
        """@return: those of C{names} that have no line, in order."""
        present = self._fresh().byName
        return [name for name in names if canonicalName(name) not in present]

    def addHeader(self, name: str, value: str) -> None:
        """Append a C{name: value} line."""
        self.headers.append((name, value))

    def removeHeader(self, name: str) -> int:
        """
        Remove every C{name} line.

        @return: how many lines were removed.
        """
        wanted = canonicalName(name)
        before = len(self.headers)
        self.headers[:] = [(n, v) for n, v in self.headers
                           if canonicalName(n) != wanted]
        return before - len(self.headers)

    def setHeader(self, name: str, value: str) -> None:
        """
        Replace every C{name} line by one C{name: value} line, where the first
        was (or at the end).
        """
        wanted = canonicalName(name)
        index = next(
            (i for i, (n, _) in enumerate(self.headers) if canonicalName(n) == wanted),
            len(self.headers),
        )
        self.removeHeader(name)
        self.headers.insert(index, (name, value))

    @property
    def vias(self) -> list[Via]:
        """Every Via value, top first (several per line and several lines)."""
        return list(self._parsed(_parseVias))

    @property
    def topVia(self) -> Via | None:
        """The first Via value, or C{None}."""
        return self._parsed(_parseTopVia)

    @property
    def branch(self) -> str | None:
        """The C{branch} of the top Via, or C{None}."""
        via = self.topVia
        return None if via is None else via.branch

    @property
    def fromAddr(self) -> NameAddr | None:
        """The From header, or C{None}."""
        return self._parsed(_parseFrom)

    @property
    def toAddr(self) -> NameAddr | None:
        """The To header, or C{None}."""
        return self._parsed(_parseTo)

    @property
    def fromTag(self) -> str | None:
        """The From tag, or C{None}."""
        addr = self.fromAddr
        return None if addr is None else addr.tag

    @property
    def toTag(self) -> str | None:
        """The To tag, or C{None}."""
        addr = self.toAddr
        return None if addr is None else addr.tag

    @property
    def callID(self) -> str | None:
        """The Call-ID, or C{None}."""
        return self._parsed(_parseCallID)

    @property
    def cseq(self) -> CSeq | None:
        """The CSeq, or C{None}."""
        return self._parsed(_parseCSeq)

    @property
    def maxForwards(self) -> int | None:
        """Max-Forwards, or C{None}."""
        return self._parsed(_parseMaxForwards)

    @property
    def contacts(self) -> list[NameAddr]:
        """
        Every Contact value (the wildcard is a L{NameAddr} with C{uri} C{"*"}).
        """
        return list(self._parsed(_parseContacts))

    @property
    def expires(self) -> int | None:
        """The Expires header in seconds, or C{None}."""
        return self._parsed(_parseExpires)

    @property
    def routes(self) -> list[NameAddr]:
        """Every Route value, in order."""
        return list(self._parsed(_parseRoutes))

    @property
    def recordRoutes(self) -> list[NameAddr]:
        """Every Record-Route value, in order."""
        return list(self._parsed(_parseRecordRoutes))

    @property
    def contentLength(self) -> int | None:
        """
        The Content-Length header as received or set, or C{None}; L{toBytes}
        writes C{len(body)} whatever this says.
        """
        return self._parsed(_parseContentLength)

    def toBytes(self) -> bytes:
        """
        Serialise the message, with Content-Length recomputed from the body
        (the first Content-Length line is rewritten in place and any others
        dropped; without one it is added last).

        @raise LocalSIPError: a header name is not a token, a value holds a
            line break or control character, or text cannot be encoded.
        """
        if not isinstance(self.body, bytes):
            raise LocalSIPError("body must be bytes")
        return _serialise(self._startLine(), self.headers, self.body, "content-length" in self._fresh().byName)


def _serialise(startLine: str, headers: list[tuple[str, str]], body: bytes, hasLength: bool) -> bytes:
    """
    The bytes of a message: the start line, the header lines with
    Content-Length written as C{len(body)} (the first such line rewritten in
    place and any others dropped; without one it is added last), the body.

    @param hasLength: whether C{headers} has a Content-Length line.
    @raise LocalSIPError: a header name is not a token, a value holds a
        line break or control character, or text cannot be encoded.
    """
    lines = [startLine]
    length = str(len(body))
    # Every name a token and no control character in any value: checked
    # for all the lines at once (non-empty names whose concatenation is
    # a token are each a token), line by line only to name the culprit.
    names = [name for name, _ in headers]
    namesOK = not names or (all(names) and TOKEN_RE.fullmatch("".join(names)) is not None)
    if not namesOK or _CTL_RE.search("".join([value for _, value in headers])):
        _checkHeaderLines(headers)
    if not hasLength:
        lines += [name + ": " + value for name, value in headers]
        lines.append("Content-Length: " + length)
    else:
        lengthWritten = False
        for name, value in headers:
            if canonicalName(name) == "content-length":
                if lengthWritten:
                    continue
                value, lengthWritten = length, True
            lines.append(name + ": " + value)
    lines.append("\r\n")
    try:
        head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as e:
        raise LocalSIPError("cannot encode header text: {}".format(e)) from None
    return head + body


def _checkHeaderLines(headers: Iterable[tuple[str, str]]) -> None:
    """
    @raise LocalSIPError: a header name is not a token or a value holds a
        control character (the first such line).
    """
    for name, value in headers:
        if not TOKEN_RE.fullmatch(name):
            raise LocalSIPError("bad header name {}".format(snippet(name)))
        if _CTL_RE.search(value):
            raise LocalSIPError("control character in {} header".format(name))


@attrs.define
class SIPRequest(_SIPMessageBase):
    """
    A SIP request.

    @ivar method: the method, such as C{"INVITE"} (case-sensitive).
    @ivar uri: the Request-URI text (use L{parseURI} for a L{SIPURI}).
    @ivar headers: C{(name, value)} lines in order, names as written.
    @ivar body: the body.
    """

    method: str
    uri: str
    headers: list[tuple[str, str]] = attrs.Factory(list)
    body: bytes = b""
    _memo: _Memo = attrs.field(factory=_Memo, init=False, eq=False, repr=False)

    @property
    def requestURI(self) -> SIPURI:
        """
        The Request-URI as L{parseURI} reads it, parsed once while C{uri}
        stays the same (a parsed request's was read by L{parseMessage}).

        @raise SIPParseError: C{uri} is not a C{sip:} or C{sips:} URI.
        """
        memo = self._memo
        if memo.uri is None or memo.uri[0] != self.uri:
            memo.uri = (self.uri, parseURI(self.uri))
        return memo.uri[1]

    def _startLine(self) -> str:
        if not TOKEN_RE.fullmatch(self.method):
            raise LocalSIPError("bad method {}".format(snippet(self.method)))
        if not _GENERIC_URI_RE.fullmatch(self.uri):
            raise LocalSIPError("bad Request-URI {}".format(snippet(self.uri)))
        return "{} {} SIP/2.0".format(self.method, self.uri)


@attrs.define
class SIPResponse(_SIPMessageBase):
    """
    A SIP response.

    @ivar code: the status code, 100 to 699.
    @ivar reason: the reason phrase (may be empty).
    @ivar headers: C{(name, value)} lines in order, names as written.
    @ivar body: the body.
    """

    code: int
    reason: str
    headers: list[tuple[str, str]] = attrs.Factory(list)
    body: bytes = b""
    _memo: _Memo = attrs.field(factory=_Memo, init=False, eq=False, repr=False)

    def _startLine(self) -> str:
        if not 100 <= self.code <= 699:
            raise LocalSIPError("status code {} not in 100-699".format(self.code))
        if _CTL_RE.search(self.reason):
            raise LocalSIPError("control character in reason phrase")
        return "SIP/2.0 {} {}".format(self.code, self.reason)


SIPMessage = Union[SIPRequest, SIPResponse]


# What the accessors compute, once per set of header lines (see _Memo).

def _single(memo: _Memo, canonical: str, name: str) -> str | None:
    lines = memo.byName.get(canonical, _NO_LINES)
    if len(lines) > 1:
        raise SIPParseError("more than one {} header".format(name))
    return lines[0][1] if lines else None


def _values(memo: _Memo, canonical: str) -> list[str]:
    return [value for _, value in memo.byName.get(canonical, _NO_LINES)]


def _parseVias(memo: _Memo) -> list[Via]:
    return [via for value in _values(memo, "via") for via in parseViaList(value)]


def _parseTopVia(memo: _Memo) -> Via | None:
    vias = memo.values.get(_parseVias)
    if vias is not None:
        # Every Via value has been parsed already; the first is the same.
        return vias[0] if vias else None
    lines = memo.byName.get("via")
    return None if not lines else parseVia(splitOutside(lines[0][1], ",", "Via")[0])


def _parseFrom(memo: _Memo) -> NameAddr | None:
    value = _single(memo, "from", "From")
    return None if value is None else parseNameAddr(value, "From")


def _parseTo(memo: _Memo) -> NameAddr | None:
    value = _single(memo, "to", "To")
    return None if value is None else parseNameAddr(value, "To")


def _parseCallID(memo: _Memo) -> str | None:
    value = _single(memo, "call-id", "Call-ID")
    if value is not None and (not value or len(value.split()) != 1):
        raise SIPParseError("bad Call-ID: " + snippet(value))
    return value


def _parseCSeq(memo: _Memo) -> CSeq | None:
    value = _single(memo, "cseq", "CSeq")
    return None if value is None else parseCSeq(value)


def _parseMaxForwards(memo: _Memo) -> int | None:
    value = _single(memo, "max-forwards", "Max-Forwards")
    return None if value is None else parseInteger(value, "Max-Forwards", 9)


def _parseContacts(memo: _Memo) -> list[NameAddr]:
    return parseNameAddrList(_values(memo, "contact"), "Contact", True)


def _parseExpires(memo: _Memo) -> int | None:
    value = _single(memo, "expires", "Expires")
    return None if value is None else parseDeltaSeconds(value, "Expires")


def _parseRoutes(memo: _Memo) -> list[NameAddr]:
    return parseNameAddrList(_values(memo, "route"), "Route")


def _parseRecordRoutes(memo: _Memo) -> list[NameAddr]:
    return parseNameAddrList(_values(memo, "record-route"), "Record-Route")


def _parseContentLength(memo: _Memo) -> int | None:
    value = _single(memo, "content-length", "Content-Length")
    return None if value is None else parseInteger(value, "Content-Length")


def _parseStartLine(
    line: str,
) -> tuple[SIPMessage | None, str | None, SIPParseError | None]:
    """
    Read the start line without raising, so that the header lines can still
    be read for the error.

    @return: the message (without headers) or C{None}, the request method if
        the line looked like a request line, and the error if any.
    """
    plain = _PLAIN_REQUEST_LINE_RE.fullmatch(line)
    if plain is not None:
        method, uri = plain.groups()
        return _requestLine(method, uri)
    if _CTL_RE.search(line):
        return None, None, SIPParseError("control character in start line")
    if line[:4].lower() == "sip/":
        match = _STATUS_LINE_RE.fullmatch(line)
        if match is None:
            return None, None, SIPParseError("bad status line " + snippet(line))
        code = int(match.group(1))
        if 100 <= code <= 699:
            return SIPResponse(code, match.group(2) or ""), None, None
        return None, None, SIPParseError("status code {} not in 100-699".format(code))
    match = _REQUEST_LINE_RE.fullmatch(line)
    if match is None:
        return None, None, SIPParseError("bad start line " + snippet(line))
    method, uri, version = match.groups()
    if version.upper() != "SIP/2.0":
        error = SIPParseError("unsupported version " + snippet(version), 505)
        return None, method, error
    return _requestLine(method, uri)


def _requestLine(
    method: str, uri: str
) -> tuple[SIPMessage | None, str | None, SIPParseError | None]:
    """L{_parseStartLine} for a request line read as C{method uri SIP/2.0}."""
    parsed = None
    try:
        if uri.lower().startswith(("sip:", "sips:")):
            parsed = parseURI(uri)
        elif not _GENERIC_URI_RE.fullmatch(uri):
            raise SIPParseError("bad Request-URI " + snippet(uri))
    except SIPParseError as e:
        return None, method, SIPParseError("bad Request-URI: " + e.reason)
    request = SIPRequest(method, uri)
    if parsed is not None:
        request._memo.uri = (uri, parsed)
    return request, method, None


def _parseHeaderLines(lines: list[str], method: str | None) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in lines:
        if _CTL_RE.search(line):
            raise SIPParseError("control character in header block", 400,
                                _dialogHeaders(headers), method)
        if line[:1] in (" ", "\t"):
            if not headers:
                raise SIPParseError("continuation line before the first header",
                                    400, (), method)
            name, value = headers[-1]
            folded = line.strip(" \t")
            joined = value + " " + folded if value and folded else value + folded
            headers[-1] = (name, joined)
            continue
        match = _HEADER_NAME_RE.match(line)
        if match is None:
            raise SIPParseError("bad header line " + snippet(line), 400,
                                _dialogHeaders(headers), method)
        headers.append((match.group(1), line[match.end():].strip(" \t")))
    return headers


def _plainFrom(memo: _Memo) -> bool:
    lines = memo.byName["from"]
    return len(lines) == 1 and isPlainNameAddr(lines[0][1])


def _plainNameAddrs(name: str) -> Callable[[_Memo], bool]:
    def check(memo: _Memo) -> bool:
        for _, value in memo.byName[name]:
            if not isPlainNameAddr(value):
                return False
        return True

    return check


#: What L{_validate} checks, in order, where the message has such lines:
#: the header, the function that parses it, and a quicker check whose
#: C{True} says that it parses (its value is then made only if asked for).
_CHECKED: tuple[tuple[str, Callable[[_Memo], Any], Callable[[_Memo], bool] | None], ...] = (
    ("via", _parseVias, None), ("from", _parseFrom, _plainFrom), ("to", _parseTo, None),
    ("call-id", _parseCallID, None), ("max-forwards", _parseMaxForwards, None),
    ("expires", _parseExpires, None), ("contact", _parseContacts, _plainNameAddrs("contact")),
    ("route", _parseRoutes, _plainNameAddrs("route")),
    ("record-route", _parseRecordRoutes, _plainNameAddrs("record-route")),
)


def _validate(message: SIPMessage, body: bytes) -> bytes:
    """
    Check the structured headers and the Content-Length of a parsed message
    (the values parsed are kept for the accessors).

    @return: the body, cut to Content-Length.
    """
    memo = message._fresh()
    for name, parse, isPlain in _CHECKED:
        if name in memo.byName and parse not in memo.values:
            if isPlain is None or not isPlain(memo):
                memo.values[parse] = parse(memo)
    cseq = memo.value(_parseCSeq)
    if isinstance(message, SIPRequest) and cseq and cseq.method != message.method:
        raise SIPParseError("CSeq method {} does not match the request method"
                            .format(snippet(cseq.method)))
    length = memo.value(_parseContentLength)
    if length is None:
        return body
    if length > len(body):
        raise SIPParseError("Content-Length {} exceeds the {} body bytes received"
                            .format(length, len(body)))
    return body[:length]


#: Plain header lines seen lately (see L{_plainHeaderLines}), each with its
#: C{(name, value)} and canonical name.  Most lines of a SIP message repeat
#: from one message to the next (Max-Forwards, Content-Length, To, Contact,
#: Allow, User-Agent...): a line found here is neither checked nor split
#: again.  Bounded: lines of at most L{_KNOWN_LINE_LENGTH} characters,
#: emptied when L{_KNOWN_LINES_SIZE} are kept (a flood of distinct lines
#: costs refills, never memory: about 2 MB at most).
_KNOWN_LINES: dict[str, tuple[tuple[str, str], str]] = {}
_KNOWN_LINE_LENGTH = 160
_KNOWN_LINES_SIZE = 4096


def _plainHeaderLines(
    text: str,
) -> tuple[str, list[tuple[str, str]], dict[str, list[tuple[str, str]]]] | None:
    """
    The fast path of L{_parse}: lines that all end in CRLF, header lines
    that are all C{Name: value}, no control characters.

    @return: the start line, the header lines and those by canonical name,
        or C{None} to say that the general code must read C{text}.
    """
    startLine, crlf, block = text.partition("\r\n")
    if "\n" in startLine or "\r" in startLine:
        return None
    headers: list[tuple[str, str]] = []
    byName: dict[str, list[tuple[str, str]]] = {}
    if not crlf:
        return startLine, headers, byName
    known = _KNOWN_LINES
    for line in block.split("\r\n"):
        seen = known.get(line)
        if seen is None:
            if not _PLAIN_LINE_RE.fullmatch(line):
                return None
            name, _, value = line.partition(":")
            header = (name.rstrip(" \t"), value.strip(" \t"))
            seen = (header, canonicalName(header[0]))
            if len(line) <= _KNOWN_LINE_LENGTH:
                if len(known) >= _KNOWN_LINES_SIZE:
                    known.clear()
                known[line] = seen
        headers.append(seen[0])
        byName.setdefault(seen[1], []).append(seen[0])
    return startLine, headers, byName


def _parse(data: bytes, start: int, end: int) -> SIPMessage:
    text = data[start:end].decode("utf-8", "surrogateescape")
    plain = _plainHeaderLines(text)
    byName = None
    if plain is not None:
        startLine, headers, byName = plain
        message, method, startError = _parseStartLine(startLine)
    else:
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        message, method, startError = _parseStartLine(lines[0])
        headers = _parseHeaderLines(lines[1:], method)
    if startError is not None:
        startError.headers, startError.method = _dialogHeaders(headers), method
        raise startError
    assert message is not None
    message.headers = headers
    if byName is not None:
        message._memo.index(headers, byName)
    return message


def parseMessage(data: bytes, maxHeaderBytes: int = 16384) -> SIPMessage:
    """
    Parse one SIP message that fills C{data} (one SCTP message).

    @param data: the bytes of one SCTP user message.
    @param maxHeaderBytes: the most bytes the start line and header lines
        (and any line breaks before them) may take.
    @return: the request or response.
    @raise SIPParseError: C{data} is not a SIP message we accept; never any
        other exception, whatever the bytes.
    @raise LocalSIPError: C{data} is not bytes or C{maxHeaderBytes} < 1.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise LocalSIPError("data must be bytes")
    if maxHeaderBytes < 1:
        raise LocalSIPError("maxHeaderBytes must be positive")
    data = bytes(data)
    if not data:
        raise SIPParseError("empty message")
    if data == KEEPALIVE_PING:
        raise SIPParseError("CRLFCRLF keep-alive ping (RFC 5626), not a SIP message")
    if data == KEEPALIVE_PONG:
        raise SIPParseError("lone CRLF (keep-alive pong), not a SIP message")
    leading = _LEADING_BREAKS_RE.match(data, 0, maxHeaderBytes)
    start = leading.end() if leading is not None else 0
    if start == len(data):
        raise SIPParseError("message holds only line breaks")
    blank = _BLANK_LINE_RE.search(data, start, maxHeaderBytes + 4)
    blankStart = blankEnd = 0
    if blank is not None:
        # The empty line starts with the CR before this LF, if there is one.
        blankStart, blankEnd = blank.span()
        if blankStart > start and data[blankStart - 1] == 13:
            blankStart -= 1
    if blank is None or blankStart > maxHeaderBytes:
        if len(data) <= maxHeaderBytes:
            raise SIPParseError("no empty line after the header block")
        # Too big: read the complete lines within the limit, to report the
        # Via/From/To/Call-ID/CSeq a server needs to answer.
        cut = data.rfind(b"\n", start, maxHeaderBytes) + 1
        headers: list[tuple[str, str]] = []
        method = None
        if cut > start:
            try:
                partial = _parse(data, start, cut - 1)
            except SIPParseError as e:
                headers, method = e.headers, e.method
            else:
                headers = _dialogHeaders(partial.headers)
                method = partial.method if isinstance(partial, SIPRequest) else None
        raise SIPParseError("header block larger than {} bytes".format(maxHeaderBytes),
                            513, headers, method)
    message = _parse(data, start, blankStart)
    method = message.method if isinstance(message, SIPRequest) else None
    try:
        message.body = _validate(message, data[blankEnd:])
    except SIPParseError as e:
        raise SIPParseError(e.reason, e.statusHint, _dialogHeaders(message.headers),
                            method) from None
    return message


def _firstViaIndex(message: SIPMessage) -> int | None:
    for i, (name, _) in enumerate(message.headers):
        if canonicalName(name) == "via":
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
    index = _firstViaIndex(message)
    message.headers.insert(0 if index is None else index, ("Via", str(parsed[0])))
    return parsed[0]


def popVia(message: SIPMessage) -> Via | None:
    """
    Remove the top Via value: the first value of the first Via line, leaving
    the line's other values in place.

    @return: the Via removed, or C{None} if there was none.
    @raise SIPParseError: the top Via is malformed.
    """
    index = _firstViaIndex(message)
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


#: What a response copies from the request, in this order (RFC 3261
#: 8.2.6.2), for a 100 and for the rest.
_COPIED = ("via", "from", "to", "call-id", "cseq")
_COPIED_100 = _COPIED + ("timestamp",)


def makeResponse(
    request: SIPRequest,
    code: int,
    reason: str | None = None,
    extraHeaders: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    toTag: str | None = None,
) -> SIPResponse:
    """
    Build a response to C{request} as RFC 3261 8.2.6 says: every Via line in
    order, then From, To, Call-ID and CSeq copied as written (and Timestamp
    for a 100), then C{extraHeaders}.

    @param reason: the reason phrase; L{reasonPhrase} if C{None}.
    @param toTag: a tag to add to To if it has none.
    @raise LocalSIPError: C{request} is not a request or is an ACK, or
        C{code} is not 100 to 699.
    @raise SIPParseError: the request's To header is malformed.
    """
    copied, index = _copiedLines(request, code, toTag)
    for line in extraHeaders:
        copied.append(line)
        name = canonicalName(line[0])
        index[name] = index.get(name, _NO_LINES) + [line]
    response = SIPResponse(code, reasonPhrase(code) if reason is None else reason, copied, body)
    response._memo.index(copied, index)
    return response


def responseBytes(
    request: SIPRequest,
    code: int,
    reason: str | None = None,
    extraHeaders: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    toTag: str | None = None,
) -> bytes:
    """
    The bytes of C{makeResponse(request, code, reason, extraHeaders, body,
    toTag).toBytes()}, with the same checks and errors, without building the
    response: what a stateless server sends.

    @raise LocalSIPError: as L{makeResponse} and L{SIPResponse.toBytes}.
    @raise SIPParseError: the request's To header is malformed.
    """
    copied, _ = _copiedLines(request, code, toTag)
    hasLength = False
    for line in extraHeaders:
        copied.append(line)
        hasLength = hasLength or canonicalName(line[0]) == "content-length"
    if reason is None:
        reason = reasonPhrase(code)
    if not isinstance(body, bytes):
        raise LocalSIPError("body must be bytes")
    if _CTL_RE.search(reason):
        raise LocalSIPError("control character in reason phrase")
    return _serialise("SIP/2.0 {} {}".format(code, reason), copied, body, hasLength)


def _copiedLines(
    request: SIPRequest, code: int, toTag: str | None
) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """
    The header lines that a response to C{request} copies from it (see
    L{makeResponse}; never a Content-Length).

    @return: the lines, and the same lines by canonical name.
    """
    if not isinstance(request, SIPRequest):
        raise LocalSIPError("makeResponse needs a SIPRequest")
    if request.method == "ACK":
        raise LocalSIPError("an ACK is never answered")
    if not 100 <= code <= 699:
        raise LocalSIPError("status code {} not in 100-699".format(code))
    byName = request._fresh().byName
    copied: list[tuple[str, str]] = []
    # The response's lines by canonical name, made as they are copied.
    index: dict[str, list[tuple[str, str]]] = {}
    for header in _COPIED_100 if code == 100 else _COPIED:
        lines = byName.get(header)
        if not lines:
            continue
        if header == "to" and toTag is not None:
            tagged = []
            for name, value in lines:
                # One To line: its parsed value, kept since parseMessage.
                to = request.toAddr if len(lines) == 1 else parseNameAddr(value, "To")
                assert to is not None
                if to.tag is None:
                    value = "{};tag={}".format(value, toTag)
                tagged.append((name, value))
            lines = tagged
        copied += lines
        index[header] = lines  # shared with the request's memo: never changed in place
    return copied, index


def makeErrorResponse(
    error: SIPParseError, toTag: str | None = None
) -> SIPResponse | None:
    """
    Build the answer to a request that could not be parsed, from what
    L{SIPParseError} kept: status C{error.statusHint} with its usual reason.

    @param toTag: a tag to add to To if it has none.
    @return: the response, or C{None} where none may be sent: the message was
        not a request, was an ACK, or had no Via to answer along.
    """
    if error.method is None or error.method == "ACK":
        return None
    if not any(canonicalName(n) == "via" for n, _ in error.headers):
        return None
    request = SIPRequest(error.method, "sip:invalid", list(error.headers))
    try:
        return makeResponse(request, error.statusHint, toTag=toTag)
    except SIPParseError:
        return makeResponse(request, error.statusHint)


def newBranch(randomBytes: Callable[[int], bytes] = os.urandom) -> str:
    """@return: a fresh RFC 3261 branch: C{z9hG4bK} and 32 random hex digits."""
    return BRANCH_MAGIC + randomBytes(16).hex()


def newTag(randomBytes: Callable[[int], bytes] = os.urandom) -> str:
    """@return: a fresh From/To tag: 16 random hex digits."""
    return randomBytes(8).hex()


def isKeepAlivePing(data: bytes) -> bool:
    """
    @return: whether C{data} is exactly the RFC 5626 ping C{CRLFCRLF}; answer
        it with L{KEEPALIVE_PONG} on the same association.
    """
    return data == KEEPALIVE_PING


def isLoneCRLF(data: bytes) -> bool:
    """@return: whether C{data} is exactly one C{CRLF} (a pong, to be dropped)."""
    return data == KEEPALIVE_PONG
