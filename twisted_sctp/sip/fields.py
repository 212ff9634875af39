# -*- test-case-name: tests.test_sipmessage -*-
"""
What the accessors of a SIP message give (L{twisted_sctp.sip.message}):
each structured header parsed from the message's lines by canonical name,
once per set of lines (the message's memo keeps the results; the memo is
the C{memo} argument: C{byName}, the lines by canonical name, and
C{values}, the results so far).  The parser runs the same functions to
check a message.  Pure.
"""

from __future__ import annotations

from typing import Any

from twisted_sctp.sip.headers import (
    CSeq, NameAddr, SIPParseError, Via, parseCSeq, parseDeltaSeconds, parseInteger, parseNameAddr,
    parseNameAddrList, parseVia, parseViaList, snippet, splitOutside,
)

_NO_LINES: list[tuple[str, str]] = []



def _single(memo: Any, canonical: str, name: str) -> str | None:
    lines = memo.byName.get(canonical, _NO_LINES)
    if len(lines) > 1:
        raise SIPParseError("more than one {} header".format(name))
    return lines[0][1] if lines else None


def _values(memo: Any, canonical: str) -> list[str]:
    return [value for _, value in memo.byName.get(canonical, _NO_LINES)]


def _parseVias(memo: Any) -> list[Via]:
    lines = memo.byName.get("via", _NO_LINES)
    if len(lines) == 1:
        return parseViaList(lines[0][1])
    vias: list[Via] = []
    for _, value in lines:
        vias += parseViaList(value)
    return vias


def _parseTopVia(memo: Any) -> Via | None:
    vias = memo.values.get(_parseVias)
    if vias is not None:
        # Every Via value has been parsed already; the first is the same.
        return vias[0] if vias else None
    lines = memo.byName.get("via")
    return None if not lines else parseVia(splitOutside(lines[0][1], ",", "Via")[0])


def _parseFrom(memo: Any) -> NameAddr | None:
    value = _single(memo, "from", "From")
    return None if value is None else parseNameAddr(value, "From")


def _parseTo(memo: Any) -> NameAddr | None:
    value = _single(memo, "to", "To")
    return None if value is None else parseNameAddr(value, "To")


def _parseCallID(memo: Any) -> str | None:
    value = _single(memo, "call-id", "Call-ID")
    if value is not None and (not value or len(value.split()) != 1):
        raise SIPParseError("bad Call-ID: " + snippet(value))
    return value


def _parseCSeq(memo: Any) -> CSeq | None:
    value = _single(memo, "cseq", "CSeq")
    return None if value is None else parseCSeq(value)


def _parseMaxForwards(memo: Any) -> int | None:
    value = _single(memo, "max-forwards", "Max-Forwards")
    return None if value is None else parseInteger(value, "Max-Forwards", 9)


def _parseContacts(memo: Any) -> list[NameAddr]:
    return parseNameAddrList(_values(memo, "contact"), "Contact", True)


def _parseExpires(memo: Any) -> int | None:
    value = _single(memo, "expires", "Expires")
    return None if value is None else parseDeltaSeconds(value, "Expires")


def _parseRoutes(memo: Any) -> list[NameAddr]:
    return parseNameAddrList(_values(memo, "route"), "Route")


def _parseRecordRoutes(memo: Any) -> list[NameAddr]:
    return parseNameAddrList(_values(memo, "record-route"), "Record-Route")


def _parseContentLength(memo: Any) -> int | None:
    value = _single(memo, "content-length", "Content-Length")
    return None if value is None else parseInteger(value, "Content-Length")
