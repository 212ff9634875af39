# -*- test-case-name: tests.test_siplean -*-
"""
The lean path: the commonest request a SIP server over SCTP gets, an
OPTIONS to the server itself (a keep-alive probe, SIPp's load), answered
from the message's bytes.

L{scanOwnOptions} reads only what the decision and the reply need: the
request line, the Via/From/To/Call-ID/CSeq lines that the reply copies,
and the lines the full parser checks (Max-Forwards, Content-Length,
Contact), with the same checking functions the full parser
(L{twisted_sctp.sip.parser}) uses, so that every message it accepts is one
the full parser accepts with the same header lines.  It accepts a narrow,
common shape: CRLF line ends, C{Name: value} lines with one space after the
colon and none at either end of the value, no folding, one Via value, no
Route, Record-Route or Expires; anything else gives C{None}, and the
message takes the full path.  L{OptionsReply.render} builds the reply from
the request's own lines (bytes as they came) and a tail made once.

C{tests/test_siplean.py} proves it differentially: for every message that
hypothesis makes, the service with the lean path sends the same bytes and
counts the same as the service without it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Optional, Tuple

from twisted_sctp.sip.edit import fixedVia
from twisted_sctp.sip.flow import stableTag
from twisted_sctp.sip.headers import (
    TOKEN_RE, SIPParseError, SIPURI, Via, canonicalName, isPlainNameAddr, parseCSeq, parseNameAddr,
    parseNameAddrList, parseSingleVia,
)
from twisted_sctp.sip.message import _checkHeaderLines
from twisted_sctp.sip.uri import parseInteger, parseURI

__all__ = ["OptionsReply", "OwnOptions", "scanOwnOptions"]

_START = b"OPTIONS "
_END = b" SIP/2.0"
_URI_RE = re.compile(rb"[!-~]+")
#: A header line's name: after a line break, up to the first ": " (no
#: colon before it).
_NAME_RE = re.compile(rb"\r\n([^\r\n:]*): ")

#: The lines the reply copies, in the order it copies them.
_COPIED = ("via", "from", "to", "call-id", "cseq")
_TAG_HEADERS = frozenset(("via", "from", "call-id"))

# What the scan does with each header line, by canonical name: the copied
# and checked ones are kept; a message with Route, Record-Route or Expires
# (or a name that is not a token: "") takes the full path; the rest are
# only looked at.
_KEEP, _REFUSE = 1, 2
_KINDS: dict[str, int] = dict.fromkeys(_COPIED + ("max-forwards", "content-length", "contact"), _KEEP)
_KINDS.update(dict.fromkeys(("route", "record-route", "expires", ""), _REFUSE))

# Control characters but LF (HTAB too: rare in headers, and it could pad a
# value): a header block with any but the CRs of its line breaks takes the
# full path (CR is among them so that the scan can count the CRs).
_ODD_BYTES = bytes(range(0, 10)) + bytes(range(11, 32)) + b"\x7f"

#: Request-URIs seen, parsed (the same few, message after message).
_URIS: dict[bytes, SIPURI] = {}
_URIS_SIZE = 256

#: Lines that repeat from one message to the next (To, CSeq, Contact,
#: Max-Forwards, Content-Length), each checked once, with what the check
#: gave (L{_checkOnce}).
_LINES: dict[bytes, object] = {}
_LINES_SIZE = 1024
_LINE_LENGTH = 160


def _canonical(name: bytes) -> str:
    """@return: the canonical name of a header name, C{""} if it is not a token."""
    text = name.decode("latin-1")
    return canonicalName(text) if TOKEN_RE.fullmatch(text) else ""


class OwnOptions:
    """
    What L{scanOwnOptions} read from an OPTIONS: the Request-URI, the top
    Via, whether To has a tag, and the lines the reply copies.

    @ivar uri: the L{SIPURI} of the Request-URI.
    @ivar via: the one L{Via}.
    @ivar toHasTag: whether To has a tag.
    @ivar copied: the raw lines (C{Name: value} as bytes) of Via, From, To,
        Call-ID and CSeq, in that order.
    @ivar tagValues: the values of Via, From and Call-ID in the order they
        came (the stateless To tag is made of them).
    @ivar order: the copied headers' canonical names in the order they came.
    """

    __slots__ = ("uri", "via", "toHasTag", "copied", "tagValues", "order")

    def __init__(self, uri: SIPURI, via: Via, toHasTag: bool, copied: Tuple[bytes, ...], tagValues: Tuple[str, ...], order: Tuple[str, ...]) -> None:
        self.uri = uri
        self.via = via
        self.toHasTag = toHasTag
        self.copied = copied
        self.tagValues = tagValues
        self.order = order


class _Plan:
    """
    Where the lines of a header block of one shape (one sequence of header
    names) are: the line index and value offset of Via, From and Call-ID,
    the line index of To and CSeq, and the C{(canonical, index, offset)} of
    each line whose check is remembered (To, CSeq, Contact, Max-Forwards,
    Content-Length).
    """

    __slots__ = ("via", "viaAt", "from_", "fromAt", "callID", "callIDAt", "to", "cseq", "checked", "tagOrder", "order")

    def __init__(self, steps: list[Tuple[str, int, int]]) -> None:
        where = {canonical: (index, offset) for canonical, index, offset in steps}
        self.via, self.viaAt = where["via"]
        self.from_, self.fromAt = where["from"]
        self.callID, self.callIDAt = where["call-id"]
        self.to = where["to"][0]
        self.cseq = where["cseq"][0]
        self.checked = tuple(step for step in steps if step[0] not in _TAG_HEADERS)
        tagged = [canonical for canonical, _, _ in steps if canonical in _TAG_HEADERS]
        #: Indices into (Via, From, Call-ID) in the order they came.
        self.tagOrder = tuple(("via", "from", "call-id").index(canonical) for canonical in tagged)
        self.order = tuple(canonical for canonical, _, _ in steps if canonical in _COPIED)


def _checkOnce(canonical: str, value: str) -> object:
    """
    The full parser's check of one line of To, CSeq, Contact, Max-Forwards
    or Content-Length (L{twisted_sctp.sip.parser._validate}).

    @return: the parsed To, the CSeq's method, the Content-Length, else
        C{None}.
    @raise SIPParseError: the full parser refuses it.
    """
    if canonical == "to":
        return parseNameAddr(value, "To")
    if canonical == "cseq":
        return parseCSeq(value).method
    if canonical == "contact":
        if not isPlainNameAddr(value):
            parseNameAddrList([value], "Contact", True)
        return None  # (one Contact line: several take the full path)
    if canonical == "max-forwards":
        parseInteger(value, "Max-Forwards", 9)
        return None
    return parseInteger(value, "Content-Length")


def _plan(names: Tuple[bytes, ...]) -> Optional[_Plan]:
    """
    What the scan does with a header block whose header names are C{names}
    (in order): made once per distinct sequence of names, which repeats
    from message to message (a client writes its headers in one order).

    @return: C{None} where such a block takes the full path (a Route,
        Record-Route or Expires, a name that is not a token, a copied or
        checked header twice, a copied one missing); otherwise its
        L{_Plan}.
    """
    steps = []
    seen = set()
    for index, name in enumerate(names, 1):
        canonical = _canonical(name)
        kind = _KINDS.get(canonical)
        if kind is None:
            continue
        if kind == _REFUSE or canonical in seen:
            return None  # a second Via or Contact line, or "more than one ... header"
        seen.add(canonical)
        steps.append((canonical, index, len(name) + 2))
    if not seen.issuperset(_COPIED):
        return None
    return _Plan(steps)


def _splitHead(head: bytes) -> Optional[Tuple[Tuple[bytes, ...], list[bytes]]]:
    """
    Split a header block (without its blank line) of the common shape.

    The compiled module uses C{twisted_sctp.sip._leanhead.splitHead}, the
    same function in C, where it is built (L{_splitter}).

    @return: C{None} where the block takes the full path: a line break
        that is not CRLF or another control character, a space around a
        value, a header line that is not C{Name: value} with one space
        after the first colon; otherwise the tuple of the header names (in
        order) and the lines (C{head.split(b"\\r\\n")}: the start line first).
    """
    # Every header line as "Name: value" (the name without a colon): one
    # name per line break, or the block takes the full path.  With that,
    # the block has at least as many CRs as LFs: as many, and no odd byte,
    # when removing both leaves one byte less per line break.
    breaks = head.count(b"\n")
    names = tuple(_NAME_RE.findall(head))
    if len(names) != breaks or len(head.translate(None, _ODD_BYTES)) + breaks != len(head):
        return None
    # A space around a value (the full parser strips it; a space inside one
    # is refused too, which is only slower): the full path.
    if b":  " in head or b" \r\n" in head or head[-1:] == b" ":
        return None
    return names, head.split(b"\r\n")


def _splitter(moduleName: str) -> Callable[[bytes], Optional[Tuple[Tuple[bytes, ...], list[bytes]]]]:
    """
    @return: the header-block splitter of the module named C{moduleName}:
        the C one for the compiled module (C{twisted_sctp.sip._lean_c})
        where it is built, L{_splitHead} otherwise (the pure module stays
        the reference).
    """
    if moduleName.rpartition(".")[2] != "_lean_c":
        return _splitHead
    try:
        from twisted_sctp.sip._leanhead import splitHead
    except ImportError:
        return _splitHead
    return splitHead


_split = _splitter(__name__)

#: L{_plan} by the tuple of header names.
_PLANS: dict[Tuple[bytes, ...], Optional[_Plan]] = {}
_PLANS_SIZE = 256


def scanOwnOptions(data: bytes, maxHeaderBytes: int) -> Optional[OwnOptions]:
    """
    Read an OPTIONS of the common shape (see the module docstring).

    @param maxHeaderBytes: the full parser's limit on the header block.
    @return: what the decision and the reply need, or C{None}: the message
        takes the full path (it may be anything, well-formed or not).
    """
    if not data.startswith(_START):
        return None
    end = data.find(b"\r\n\r\n", 0, maxHeaderBytes)
    if end < 0:
        return None
    split = _split(data[:end])
    if split is None:
        return None
    names, lines = split
    try:
        plan = _PLANS[names]
    except KeyError:
        plan = _plan(names)
        if len(_PLANS) >= _PLANS_SIZE:
            _PLANS.clear()
        _PLANS[names] = plan
    if plan is None:
        return None
    startLine = lines[0]
    if not startLine.endswith(_END):
        return None
    uriBytes = startLine[8:-8]
    uri = _URIS.get(uriBytes)
    if uri is None:
        uri = _requestURI(uriBytes)
        if uri is None:
            return None
    try:
        viaValue = lines[plan.via][plan.viaAt:].decode("utf-8", "surrogateescape")
        via = parseSingleVia(viaValue)
        if via is None:
            return None  # several Via values
        fromValue = lines[plan.from_][plan.fromAt:].decode("utf-8", "surrogateescape")
        if not isPlainNameAddr(fromValue):
            parseNameAddr(fromValue, "From")
        callID = lines[plan.callID][plan.callIDAt:].decode("utf-8", "surrogateescape")
        if not callID or len(callID.split()) != 1:
            return None  # a Call-ID that is empty or holds a space
        known = _LINES
        toHasTag = False
        length = 0
        for canonical, index, offset in plan.checked:
            line = lines[index]
            checked = known.get(line, known)
            if checked is known:
                checked = _checkOnce(canonical, line[offset:].decode("utf-8", "surrogateescape"))
                if len(line) <= _LINE_LENGTH:
                    if len(known) >= _LINES_SIZE:
                        known.clear()
                    known[line] = checked
            if canonical == "to":
                toHasTag = checked.tag is not None  # type: ignore[attr-defined]
            elif canonical == "cseq":
                if checked != "OPTIONS":
                    return None
            elif canonical == "content-length":
                length = checked  # type: ignore[assignment]
    except SIPParseError:
        return None
    if length > len(data) - end - 4:
        return None  # a body shorter than Content-Length
    values = (viaValue, fromValue, callID)
    a, b, c = plan.tagOrder
    return OwnOptions(
        uri, via, toHasTag,
        (lines[plan.via], lines[plan.from_], lines[plan.to], lines[plan.callID], lines[plan.cseq]),
        (values[a], values[b], values[c]), plan.order,
    )


def _requestURI(uriBytes: bytes) -> Optional[SIPURI]:
    """
    @return: the parsed SIP or SIPS Request-URI (remembered, bounded), or
        C{None} where it is of another shape or scheme (the full path's
        concern).
    """
    if not _URI_RE.fullmatch(uriBytes):
        return None
    uriText = uriBytes.decode("ascii")
    if uriText[:4].lower() != "sip:" and uriText[:5].lower() != "sips:":
        return None
    try:
        uri = parseURI(uriText)
    except SIPParseError:
        return None
    if len(_URIS) >= _URIS_SIZE:
        _URIS.clear()
    _URIS[uriBytes] = uri
    return uri


class OptionsReply:
    """
    The 200 to an OPTIONS that L{scanOwnOptions} read: the request's Via
    (with C{received}/C{rport} from the packet's source), From, To (with our
    tag), Call-ID and CSeq as they came, then a tail made once (the extra
    header lines and C{Content-Length: 0}), bytes for bytes what
    C{makeResponse(request, 200, extraHeaders=extra, toTag=replyTag(request)).toBytes()}
    gives after C{fixTopVia}.
    """

    def __init__(self, extra: Iterable[Tuple[str, str]]) -> None:
        """
        @param extra: the header lines after the copied ones.
        @raise twisted_sctp.sip.errors.LocalSIPError: a name is not a token
            or a value holds a control character.
        """
        extra = list(extra)
        _checkHeaderLines(extra)
        if any(canonicalName(name) == "content-length" for name, _ in extra):
            raise ValueError("the tail writes its own Content-Length")
        self._tail = "".join(name + ": " + value + "\r\n" for name, value in extra).encode("utf-8") + b"Content-Length: 0\r\n\r\n"

    def render(self, scan: OwnOptions, host: str, port: int) -> bytes:
        """
        @param host: the packet's source address.
        @param port: its source port.
        @return: the reply's bytes.
        """
        fixed = fixedVia(scan.via, host, port)
        viaLine, fromLine, toLine, callLine, cseqLine = scan.copied
        tagValues = scan.tagValues
        if fixed is not None:
            text = str(fixed)
            viaLine = viaLine.partition(b": ")[0] + b": " + text.encode("utf-8", "surrogateescape")
            order = scan.order
            tagged = [name for name in order if name in _TAG_HEADERS]
            tagValues = tuple(text if name == "via" else value for name, value in zip(tagged, tagValues))
        if not scan.toHasTag:
            toLine += b";tag=" + stableTag(*tagValues).encode("ascii")
        return b"\r\n".join((b"SIP/2.0 200 OK", viaLine, fromLine, toLine, callLine, cseqLine, self._tail))
