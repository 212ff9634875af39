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
from typing import Callable, Iterable, Mapping, Union

import attrs

from twisted_sctp._sipheaders import (
    COMPACT_FORMS, DIALOG_HEADERS, REASON_PHRASES, TOKEN_RE, CSeq, LocalSIPError,
    NameAddr, SIPParseError, SIPURI, Via, canonicalName, parseCSeq, parseDeltaSeconds,
    parseHost, parseInteger, parseNameAddr, parseNameAddrList, parseURI, parseVia,
    parseViaList, reasonPhrase, snippet, splitOutside,
)

__all__ = [
    "COMPACT_FORMS", "CSeq", "KEEPALIVE_PING", "KEEPALIVE_PONG", "LocalSIPError",
    "NameAddr", "REASON_PHRASES", "SIPMessage", "SIPParseError", "SIPRequest",
    "SIPResponse", "SIPURI", "Via", "isKeepAlivePing", "isLoneCRLF",
    "makeErrorResponse", "makeResponse", "newBranch", "newTag", "parseMessage",
    "parseURI", "popVia", "prependVia", "reasonPhrase",
]

KEEPALIVE_PING = b"\r\n\r\n"
KEEPALIVE_PONG = b"\r\n"
BRANCH_MAGIC = "z9hG4bK"

_LEADING_BREAKS_RE = re.compile(rb"(?:\r?\n)*")
_BLANK_LINE_RE = re.compile(rb"\r?\n\r?\n")
_CTL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HEADER_NAME_RE = re.compile(r"([A-Za-z0-9.!%*_+`'~-]+)[ \t]*:")
_STATUS_LINE_RE = re.compile(
    r"SIP/2\.0 ([0-9]{3})(?: (.*))?", re.IGNORECASE | re.ASCII
)
_REQUEST_LINE_RE = re.compile(
    r"([A-Za-z0-9.!%*_+`'~-]+) ([^ \t]+) (SIP/[0-9]{1,4}\.[0-9]{1,4})",
    re.IGNORECASE | re.ASCII,
)
_GENERIC_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!#-;=?-~]+")


def _dialogHeaders(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(n, v) for n, v in headers if canonicalName(n) in DIALOG_HEADERS]


class _SIPMessageBase:
    """
    Header access, accessors and serialisation shared by requests and
    responses.  Header names are matched without regard to case and with
    compact forms expanded; lines keep their names as written.
    """

    headers: list[tuple[str, str]]
    body: bytes

    def _startLine(self) -> str:
        raise NotImplementedError()

    def getHeaders(self, name: str) -> list[str]:
        """
        @return: the values of every C{name} line (any case or compact form),
            in order.
        """
        wanted = canonicalName(name)
        return [v for n, v in self.headers if canonicalName(n) == wanted]

    def getHeader(self, name: str) -> str | None:
        """@return: the value of the first C{name} line, or C{None}."""
        values = self.getHeaders(name)
        return values[0] if values else None

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

    def _single(self, name: str) -> str | None:
        values = self.getHeaders(name)
        if len(values) > 1:
            raise SIPParseError("more than one {} header".format(name))
        return values[0] if values else None

    @property
    def vias(self) -> list[Via]:
        """Every Via value, top first (several per line and several lines)."""
        return [via for value in self.getHeaders("via") for via in parseViaList(value)]

    @property
    def topVia(self) -> Via | None:
        """The first Via value, or C{None}."""
        value = self.getHeader("via")
        return None if value is None else parseVia(splitOutside(value, ",", "Via")[0])

    @property
    def branch(self) -> str | None:
        """The C{branch} of the top Via, or C{None}."""
        via = self.topVia
        return None if via is None else via.branch

    def _nameAddr(self, name: str) -> NameAddr | None:
        value = self._single(name)
        return None if value is None else parseNameAddr(value, name)

    @property
    def fromAddr(self) -> NameAddr | None:
        """The From header, or C{None}."""
        return self._nameAddr("From")

    @property
    def toAddr(self) -> NameAddr | None:
        """The To header, or C{None}."""
        return self._nameAddr("To")

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
        value = self._single("Call-ID")
        if value is not None and (not value or len(value.split()) != 1):
            raise SIPParseError("bad Call-ID: " + snippet(value))
        return value

    @property
    def cseq(self) -> CSeq | None:
        """The CSeq, or C{None}."""
        value = self._single("CSeq")
        return None if value is None else parseCSeq(value)

    @property
    def maxForwards(self) -> int | None:
        """Max-Forwards, or C{None}."""
        value = self._single("Max-Forwards")
        return None if value is None else parseInteger(value, "Max-Forwards", 9)

    @property
    def contacts(self) -> list[NameAddr]:
        """
        Every Contact value (the wildcard is a L{NameAddr} with C{uri} C{"*"}).
        """
        return parseNameAddrList(self.getHeaders("contact"), "Contact", True)

    @property
    def expires(self) -> int | None:
        """The Expires header in seconds, or C{None}."""
        value = self._single("Expires")
        return None if value is None else parseDeltaSeconds(value, "Expires")

    @property
    def routes(self) -> list[NameAddr]:
        """Every Route value, in order."""
        return parseNameAddrList(self.getHeaders("route"), "Route")

    @property
    def recordRoutes(self) -> list[NameAddr]:
        """Every Record-Route value, in order."""
        return parseNameAddrList(self.getHeaders("record-route"), "Record-Route")

    @property
    def contentLength(self) -> int | None:
        """
        The Content-Length header as received or set, or C{None}; L{toBytes}
        writes C{len(body)} whatever this says.
        """
        value = self._single("Content-Length")
        return None if value is None else parseInteger(value, "Content-Length")

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
        lines = [self._startLine()]
        lengthWritten = False
        for name, value in self.headers:
            if not TOKEN_RE.fullmatch(name):
                raise LocalSIPError("bad header name {}".format(snippet(name)))
            if _CTL_RE.search(value):
                raise LocalSIPError("control character in {} header".format(name))
            if canonicalName(name) == "content-length":
                if lengthWritten:
                    continue
                value, lengthWritten = str(len(self.body)), True
            lines.append("{}: {}".format(name, value))
        if not lengthWritten:
            lines.append("Content-Length: {}".format(len(self.body)))
        lines.append("\r\n")
        try:
            head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as e:
            raise LocalSIPError("cannot encode header text: {}".format(e)) from None
        return head + self.body


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

    def _startLine(self) -> str:
        if not 100 <= self.code <= 699:
            raise LocalSIPError("status code {} not in 100-699".format(self.code))
        if _CTL_RE.search(self.reason):
            raise LocalSIPError("control character in reason phrase")
        return "SIP/2.0 {} {}".format(self.code, self.reason)


SIPMessage = Union[SIPRequest, SIPResponse]


def _parseStartLine(
    line: str,
) -> tuple[SIPMessage | None, str | None, SIPParseError | None]:
    """
    Read the start line without raising, so that the header lines can still
    be read for the error.

    @return: the message (without headers) or C{None}, the request method if
        the line looked like a request line, and the error if any.
    """
    if _CTL_RE.search(line):
        return None, None, SIPParseError("control character in start line")
    match = _STATUS_LINE_RE.fullmatch(line)
    if match is not None:
        code = int(match.group(1))
        if 100 <= code <= 699:
            return SIPResponse(code, match.group(2) or ""), None, None
        return None, None, SIPParseError("status code {} not in 100-699".format(code))
    if line[:4].lower() == "sip/":
        return None, None, SIPParseError("bad status line " + snippet(line))
    match = _REQUEST_LINE_RE.fullmatch(line)
    if match is None:
        return None, None, SIPParseError("bad start line " + snippet(line))
    method, uri, version = match.groups()
    if version.upper() != "SIP/2.0":
        error = SIPParseError("unsupported version " + snippet(version), 505)
        return None, method, error
    try:
        if uri.lower().startswith(("sip:", "sips:")):
            parseURI(uri)
        elif not _GENERIC_URI_RE.fullmatch(uri):
            raise SIPParseError("bad Request-URI " + snippet(uri))
    except SIPParseError as e:
        return None, method, SIPParseError("bad Request-URI: " + e.reason)
    return SIPRequest(method, uri), method, None


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


def _validate(message: SIPMessage, body: bytes) -> bytes:
    """
    Check the structured headers and the Content-Length of a parsed message.

    @return: the body, cut to Content-Length.
    """
    for accessor in ("vias", "fromAddr", "toAddr", "callID", "maxForwards",
                     "expires", "contacts", "routes", "recordRoutes"):
        getattr(message, accessor)
    cseq = message.cseq
    if isinstance(message, SIPRequest) and cseq and cseq.method != message.method:
        raise SIPParseError("CSeq method {} does not match the request method"
                            .format(snippet(cseq.method)))
    length = message.contentLength
    if length is None:
        return body
    if length > len(body):
        raise SIPParseError("Content-Length {} exceeds the {} body bytes received"
                            .format(length, len(body)))
    return body[:length]


def _parse(data: bytes, start: int, end: int) -> SIPMessage:
    text = data[start:end].decode("utf-8", "surrogateescape")
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    message, method, startError = _parseStartLine(lines[0])
    headers = _parseHeaderLines(lines[1:], method)
    if startError is not None:
        startError.headers, startError.method = _dialogHeaders(headers), method
        raise startError
    assert message is not None
    message.headers = headers
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
    if blank is None or blank.start() > maxHeaderBytes:
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
    message = _parse(data, start, blank.start())
    method = message.method if isinstance(message, SIPRequest) else None
    try:
        message.body = _validate(message, data[blank.end():])
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
    if not isinstance(request, SIPRequest):
        raise LocalSIPError("makeResponse needs a SIPRequest")
    if request.method == "ACK":
        raise LocalSIPError("an ACK is never answered")
    if not 100 <= code <= 699:
        raise LocalSIPError("status code {} not in 100-699".format(code))
    copied = [(n, v) for n, v in request.headers if canonicalName(n) == "via"]
    wanted = ["from", "to", "call-id", "cseq"] + (["timestamp"] if code == 100 else [])
    for header in wanted:
        for name, value in request.headers:
            if canonicalName(name) != header:
                continue
            if header == "to" and toTag is not None:
                if parseNameAddr(value, "To").tag is None:
                    value = "{};tag={}".format(value, toTag)
            copied.append((name, value))
    copied.extend(extraHeaders)
    if reason is None:
        reason = reasonPhrase(code)
    return SIPResponse(code, reason, copied, body)


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
