# -*- test-case-name: tests.test_sipmessage -*-
"""
The SIP message model (sans-io, for SIP over SCTP, RFC 4168): one
L{SIPRequest} / L{SIPResponse} model with its header accessors, one
serialiser (L{SIPRequest.toBytes}) and one response builder
(L{makeResponse}; a stateless server sends
C{makeResponse(...).toBytes()}).  There is no socket, reactor or clock
here.

Parsing is L{twisted_sctp.sip.parser.parseMessage}, header rewrites
(Via, Route) are in L{twisted_sctp.sip.edit}, branches and tags in
L{twisted_sctp.sip.flow}; those names stay importable from here.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Container, Iterable, TypeVar, Union

import attrs

from twisted_sctp.sip.fields import (
    _parseCallID, _parseContacts, _parseContentLength, _parseCSeq, _parseExpires, _parseFrom,
    _parseMaxForwards, _parseRecordRoutes, _parseRoutes, _parseTo, _parseTopVia, _parseVias,
)
from twisted_sctp.sip.headers import (
    COMPACT_FORMS, REASON_PHRASES, TOKEN_RE, CSeq, LocalSIPError, NameAddr, SIPParseError, SIPURI,
    Via, canonicalName, parseNameAddr, parseNameAddrList, parseURI, parseVia, parseViaList,
    reasonPhrase, snippet,
)

__all__ = [
    "COMPACT_FORMS", "CSeq", "KEEPALIVE_PING", "KEEPALIVE_PONG", "LocalSIPError",
    "NameAddr", "REASON_PHRASES", "SIPMessage", "SIPParseError", "SIPRequest",
    "SIPResponse", "SIPURI", "Via", "isKeepAlivePing", "isLoneCRLF",
    "makeErrorResponse", "makeResponse", "parseNameAddr", "parseNameAddrList", "parseURI",
    "parseVia", "parseViaList", "reasonPhrase",
]

KEEPALIVE_PING = b"\r\n\r\n"
KEEPALIVE_PONG = b"\r\n"

_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_GENERIC_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!#-;=?-~]+")

#: Names defined by the parser, the editor and the flow module, importable
#: from here as they always were (see L{__getattr__}).
_ELSEWHERE = {
    "parseMessage": "twisted_sctp.sip.parser",
    "prependVia": "twisted_sctp.sip.edit",
    "popVia": "twisted_sctp.sip.edit",
    "newBranch": "twisted_sctp.sip.flow",
    "newTag": "twisted_sctp.sip.flow",
    "BRANCH_MAGIC": "twisted_sctp.sip.flow",
}


def __getattr__(name: str) -> Any:
    """
    The names of L{_ELSEWHERE}, from their modules (which import this one,
    hence not imported at the top).
    """
    where = _ELSEWHERE.get(name)
    if where is None:
        raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
    import importlib

    return getattr(importlib.import_module(where), name)


_T = TypeVar("_T")
_NO_LINES: list[tuple[str, str]] = []
_UNSET: Any = object()


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
        values = self.values
        value = values.get(parse, _UNSET)
        if value is _UNSET:
            # (Not try/except KeyError: a value is missing once per message
            # and header, and raising costs more than this look-up.)
            value = values[parse] = parse(self)
        return value  # type: ignore[no-any-return]


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
        memo = self._memo
        if memo.lines != self.headers:
            memo.index(self.headers)
        return memo.byName.get(canonical, _NO_LINES)

    def _parsed(self, parse: Callable[[_Memo], _T]) -> _T:
        """
        @return: C{parse(memo)}, computed once while the header lines stay
            the same (an exception is not kept: it is raised again).
        """
        # _fresh() and _Memo.value, written out: an accessor is read
        # several times per message.
        memo = self._memo
        if memo.lines != self.headers:
            memo.index(self.headers)
        values = memo.values
        value = values.get(parse, _UNSET)
        if value is _UNSET:
            value = values[parse] = parse(memo)
        return value  # type: ignore[no-any-return]

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
        memo = self._memo
        if memo.lines != self.headers:
            memo.index(self.headers)
        return memo.byName.keys()

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
        memo = self._memo
        if memo.lines != self.headers:
            memo.index(self.headers)
        return _serialise(self._startLine(), self.headers, self.body, "content-length" in memo.byName)


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
    # (zip and map rather than comprehensions: no Python frame per call.)
    if headers:
        names, values = zip(*headers)
        if not all(names) or TOKEN_RE.fullmatch("".join(names)) is None or _CTL_RE.search("".join(values)):
            _checkHeaderLines(headers)
    if not hasLength:
        lines += map(": ".join, headers)
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
    for a 100), then C{extraHeaders}.  The one response builder: a
    stateless server sends C{makeResponse(...).toBytes()}.

    @param reason: the reason phrase; L{reasonPhrase} if C{None}.
    @param toTag: a tag to add to To if it has none.
    @raise LocalSIPError: C{request} is not a request or is an ACK, or
        C{code} is not 100 to 699.
    @raise SIPParseError: the request's To header is malformed.
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
    for line in extraHeaders:
        copied.append(line)
        name = canonicalName(line[0])
        index[name] = index.get(name, _NO_LINES) + [line]
    response = SIPResponse(code, reasonPhrase(code) if reason is None else reason, copied, body)
    memo = response._memo  # as memo.index(copied, index) would, without the call
    memo.lines, memo.byName = list(copied), index
    return response


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





def isKeepAlivePing(data: bytes) -> bool:
    """
    @return: whether C{data} is exactly the RFC 5626 ping C{CRLFCRLF}; answer
        it with L{KEEPALIVE_PONG} on the same association.
    """
    return data == KEEPALIVE_PING


def isLoneCRLF(data: bytes) -> bool:
    """@return: whether C{data} is exactly one C{CRLF} (a pong, to be dropped)."""
    return data == KEEPALIVE_PONG
