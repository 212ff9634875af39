# -*- test-case-name: tests.test_sipheaders -*-
"""
The SIP error classes, h11-style: L{SIPParseError} (the peer sent what we do
not accept, with the status a server should answer) and L{LocalSIPError}
(this API was misused), and L{snippet} for their messages.
"""

from __future__ import annotations

from typing import Iterable

from twisted_sctp.error import SCTPError

__all__ = ["LocalSIPError", "SIPParseError", "snippet"]


class SIPParseError(SCTPError):
    """
    The peer sent something that is not a SIP message we accept: h11's
    C{RemoteProtocolError}.  Also raised by the accessors of a message whose
    header fields are malformed.

    @ivar reason: a sentence saying what was wrong.
    @ivar statusHint: the status code a server should answer with: 400,
        505 for a request line with another SIP version, 513 for a header
        block larger than the parser's limit.
    @ivar headers: the Via, From, To, Call-ID and CSeq lines, as
        C{(name, value)} in message order, that were read before the error
        (possibly none), so that a server can still answer.
    @ivar method: the request method, where the start line was read as a
        request line; C{None} otherwise (never answer those).
    """

    def __init__(
        self,
        reason: str,
        statusHint: int = 400,
        headers: Iterable[tuple[str, str]] = (),
        method: str | None = None,
    ) -> None:
        super().__init__(reason, statusHint)
        self.reason = reason
        self.statusHint = statusHint
        self.headers = list(headers)
        self.method = method

    def __str__(self) -> str:
        return "{} (status hint {})".format(self.reason, self.statusHint)


class LocalSIPError(SCTPError, ValueError):
    """
    The SIP message API was misused (h11's C{LocalProtocolError}): for
    example a header value holding a line break, or answering an ACK.
    """


def snippet(text: str, limit: int = 40) -> str:
    """@return: C{text} shortened and quoted with C{ascii()}, for error reasons."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return ascii(text)
