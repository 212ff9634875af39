# -*- test-case-name: tests.test_sipparser -*-
"""
The SIP parser for SIP over SCTP (RFC 4168): L{parseMessage} takes the
bytes of one SCTP user message and returns one L{SIPRequest} or
L{SIPResponse}, or raises L{SIPParseError} (the peer's fault, with a
C{statusHint}); misuse of this API raises L{LocalSIPError}.  There is no
socket, reactor or clock here.

There is one parse path.  Each line gets the cheapest check that decides
it: a header line seen lately is taken from L{_KNOWN_LINES}; a plain
C{Name: value} line is read by one regular expression; anything else (a
folded line, a control character, odd spacing) by the general rules, which
also make the error messages.  Lines split on CRLF, unless a bare LF shows
(then on LF, with a CR before it dropped).

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
  - RFC 5626 keep-alives (CRLFCRLF, a lone CRLF) are not messages: they
    hold only line breaks.  Answering or dropping them is the transport's
    (L{twisted_sctp.sip.transport.keepAlive}), before anything is parsed.
  - Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Expires,
    Contact, Route and Record-Route are checked while parsing, so their
    accessors on a parsed message never raise.  A missing header is not an
    error here (C{vias} is then C{[]}): that is for the layer above.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from twisted_sctp.sip.errors import LocalSIPError, SIPParseError, snippet
from twisted_sctp.sip.headers import DIALOG_HEADERS, canonicalName, isPlainNameAddr
from twisted_sctp.sip.message import (
    _CTL_RE, _GENERIC_URI_RE, SIPMessage, SIPRequest, SIPResponse,
    _Memo, _parseCallID, _parseContacts, _parseContentLength, _parseCSeq, _parseExpires, _parseFrom,
    _parseMaxForwards, _parseRecordRoutes, _parseRoutes, _parseTo, _parseVias,
)
from twisted_sctp.sip.uri import parseURI

__all__ = ["parseMessage"]

_LEADING_BREAKS_RE = re.compile(rb"(?:\r?\n)*")
# The empty line after the header block, less the CR that may start it:
# a pattern that starts with a literal is searched for far faster.
_BLANK_LINE_RE = re.compile(rb"\n\r?\n")
#: The start of a Via, From, To, Call-ID or CSeq line (full or compact name).
_DIALOG_LINE_RE = re.compile(rb"\n(?:via|v|from|f|to|t|call-id|i|cseq)[ \t]*:", re.IGNORECASE)
_HEADER_NAME_RE = re.compile(r"([A-Za-z0-9.!%*_+`'~-]+)[ \t]*:")
# A header line "Name: value", with no control character and no folding:
# the common case (lines seen lately are not checked again, see
# _KNOWN_LINES).
# (The value: anything but a control character, written as what it may be,
# which the regular expression engine tests faster.)
_PLAIN_LINE_RE = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+[ \t]*:[\t\x20-\x7e\x80-\U0010ffff]*")
_STATUS_LINE_RE = re.compile(
    r"SIP/2\.0 ([0-9]{3})(?: (.*))?", re.IGNORECASE | re.ASCII
)
_REQUEST_LINE_RE = re.compile(
    r"([A-Za-z0-9.!%*_+`'~-]+) ([^ \t]+) (SIP/[0-9]{1,4}\.[0-9]{1,4})",
    re.IGNORECASE | re.ASCII,
)
# The common request line: printable ASCII, SIP/2.0 as written (what it
# matches, the checks below read the same way).
_PLAIN_REQUEST_LINE_RE = re.compile(r"([A-Za-z0-9.!%*_+`'~-]+) ([!-~]+) SIP/2\.0")


def _dialogHeaders(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(n, v) for n, v in headers if canonicalName(n) in DIALOG_HEADERS]


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



#: Plain header lines seen lately (see L{_headerLines}), each with its
#: C{(name, value)} and canonical name.  Most lines of a SIP message repeat
#: from one message to the next (Max-Forwards, Content-Length, To, Contact,
#: Allow, User-Agent...): a line found here is neither checked nor split
#: again.  Bounded: lines of at most L{_KNOWN_LINE_LENGTH} characters,
#: emptied when L{_KNOWN_LINES_SIZE} are kept (a flood of distinct lines
#: costs refills, never memory: about 2 MB at most).
_KNOWN_LINES: dict[str, tuple[tuple[str, str], str]] = {}
_KNOWN_LINE_LENGTH = 160
_KNOWN_LINES_SIZE = 4096


def _headerLines(
    lines: list[str], method: str | None
) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]] | None]:
    """
    Read the header lines (C{lines[1:]}; C{lines[0]} is the start line).

    @param method: the request method, for the errors.
    @return: the C{(name, value)} lines, and the same by canonical name
        (C{None} where a folded line changed one after it was indexed).
    @raise SIPParseError: a line is malformed.
    """
    headers: list[tuple[str, str]] = []
    byName: dict[str, list[tuple[str, str]]] = {}
    folded = False
    known = _KNOWN_LINES
    append = headers.append
    for line in lines[1:]:
        seen = known.get(line)
        if seen is None:
            if _PLAIN_LINE_RE.fullmatch(line):
                name, _, value = line.partition(":")
                header = (name.rstrip(" \t"), value.strip(" \t"))
                seen = (header, canonicalName(header[0]))
                if len(line) <= _KNOWN_LINE_LENGTH:
                    if len(known) >= _KNOWN_LINES_SIZE:
                        known.clear()
                    known[line] = seen
            elif _CTL_RE.search(line):
                raise SIPParseError("control character in header block", 400,
                                    _dialogHeaders(headers), method)
            elif line[:1] in (" ", "\t"):
                if not headers:
                    raise SIPParseError("continuation line before the first header",
                                        400, (), method)
                name, value = headers[-1]
                more = line.strip(" \t")
                headers[-1] = (name, value + " " + more if value and more else value + more)
                folded = True
                continue
            else:
                match = _HEADER_NAME_RE.match(line)
                if match is None:
                    raise SIPParseError("bad header line " + snippet(line), 400,
                                        _dialogHeaders(headers), method)
                header = (match.group(1), line[match.end():].strip(" \t"))
                seen = (header, canonicalName(header[0]))
        header, canonical = seen
        append(header)
        byName.setdefault(canonical, []).append(header)
    return headers, None if folded else byName


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
    byName, values = memo.byName, memo.values
    for name, parse, isPlain in _CHECKED:
        if name in byName and parse not in values:
            if isPlain is None or not isPlain(memo):
                values[parse] = parse(memo)
    # (Neither value was parsed yet: this is the first look at them.)
    cseq = values[_parseCSeq] = _parseCSeq(memo)
    if isinstance(message, SIPRequest) and cseq and cseq.method != message.method:
        raise SIPParseError("CSeq method {} does not match the request method"
                            .format(snippet(cseq.method)))
    length = values[_parseContentLength] = _parseContentLength(memo)
    if length is None:
        return body
    if length > len(body):
        raise SIPParseError("Content-Length {} exceeds the {} body bytes received"
                            .format(length, len(body)))
    return body[:length]



def _parse(data: bytes, start: int, end: int) -> SIPMessage:
    text = data[start:end].decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    if text.count("\n") != len(lines) - 1:
        # A bare LF: lines end in LF, less the CR before it.
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    message, method, startError = _parseStartLine(lines[0])
    headers, byName = _headerLines(lines, method)
    if startError is not None:
        startError.headers, startError.method = _dialogHeaders(headers), method
        raise startError
    assert message is not None
    message.headers = headers
    if byName is not None:
        message._memo.index(headers, byName)
    return message


def _overLimitHeaders(data: bytes, start: int, maxHeaderBytes: int) -> tuple[list[tuple[str, str]], str | None]:
    """
    For a header block over the limit: the Via/From/To/Call-ID/CSeq lines a
    server needs to answer, wherever they are in the block (one huge header
    before them does not hide them), and the request method.

    The start line and the dialog header lines (with their continuation
    lines), in message order, are parsed as a block of their own, kept
    within C{maxHeaderBytes}; longer lines are left out.  The work is one
    search over the message (which the transport bounds).
    """
    firstEnd = data.find(b"\n", start, start + maxHeaderBytes)
    if firstEnd < 0:
        return [], None
    blank = _BLANK_LINE_RE.search(data, start)
    stop = blank.start() + 1 if blank is not None else len(data)
    pieces = [data[start:firstEnd + 1]]
    size = len(pieces[0])
    for match in _DIALOG_LINE_RE.finditer(data, firstEnd, stop):
        lineStart = match.start() + 1
        lineEnd = data.find(b"\n", lineStart, stop)
        while 0 <= lineEnd < stop - 1 and data[lineEnd + 1] in (9, 32):
            lineEnd = data.find(b"\n", lineEnd + 1, stop)  # a continuation line
        if lineEnd < 0:
            lineEnd = stop - 1
        line = data[lineStart:lineEnd + 1]
        if size + len(line) > maxHeaderBytes:
            continue
        pieces.append(line if line.endswith(b"\n") else line + b"\r\n")
        size += len(pieces[-1])
    block = b"".join(pieces)
    end = len(block) - 1
    if end > 0 and block[end - 1] == 13:
        end -= 1
    try:
        partial = _parse(block, 0, end)
    except SIPParseError as e:
        return e.headers, e.method
    method = partial.method if isinstance(partial, SIPRequest) else None
    return _dialogHeaders(partial.headers), method


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
        headers, method = _overLimitHeaders(data, start, maxHeaderBytes)
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
