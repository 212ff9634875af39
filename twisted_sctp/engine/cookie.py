# -*- test-case-name: tests.test_engine_handshake -*-
"""
The state cookie (RFC 9260 section 5.1.3): everything needed to build the
association, signed with HMAC-SHA256 under a secret only this endpoint knows,
so that nothing is kept between INIT and COOKIE-ECHO.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

import attrs

from twisted_sctp.engine.errors import CodecError

_BODY = struct.Struct("!BQIIIIIIIHHBIIHH")
_VERSION = 1
_MAC = 32


@attrs.frozen
class CookieState:
    """
    The contents of a state cookie.

    @ivar created: when the INIT-ACK was made, in seconds of the engine clock.
    @ivar lifetime: how long it stays valid, in seconds.
    @ivar tieMyTag: for an INIT-ACK sent on a live association, its current
        local tag (and L{tiePeerTag} the peer's), else 0 (section 5.2.2).
    """

    created: float
    lifetime: float
    myTag: int
    peerTag: int
    myTSN: int
    peerTSN: int
    peerRwnd: int
    myRwnd: int
    outStreams: int
    inStreams: int
    peerForwardTSN: bool
    tieMyTag: int
    tiePeerTag: int
    myPort: int
    peerPort: int
    peerHost: str

    def isStale(self, now: float) -> bool:
        """
        @return: whether the cookie has outlived its lifetime at C{now}.
        """
        return now > self.created + self.lifetime

    def staleness(self, now: float) -> int:
        """
        @return: how far past its lifetime the cookie is, in microseconds
            (the Stale Cookie error cause's measure).
        """
        return max(0, int((now - self.created - self.lifetime) * 1e6)) & 0xFFFFFFFF


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()


def makeCookie(secret: bytes, state: CookieState) -> bytes:
    """
    @return: C{state} serialised and signed.
    """
    host = state.peerHost.encode("ascii")
    body = _BODY.pack(
        _VERSION,
        int(state.created * 1000),
        int(state.lifetime * 1000),
        state.myTag,
        state.peerTag,
        state.myTSN,
        state.peerTSN,
        state.peerRwnd,
        state.myRwnd,
        state.outStreams,
        state.inStreams,
        int(state.peerForwardTSN),
        state.tieMyTag,
        state.tiePeerTag,
        state.myPort,
        state.peerPort,
    ) + bytes([len(host)]) + host
    return body + _mac(secret, body)


class BadCookie(CodecError):
    """
    A cookie that is malformed or not signed by us.
    """


def openCookie(secret: bytes, cookie: bytes) -> CookieState:
    """
    @return: the state in a cookie this endpoint made.
    @raise BadCookie: the cookie is malformed or its signature is wrong.
    """
    if len(cookie) < _BODY.size + 1 + _MAC:
        raise BadCookie("cookie of {} bytes is too short".format(len(cookie)))
    body, mac = cookie[:-_MAC], cookie[-_MAC:]
    if not hmac.compare_digest(_mac(secret, body), mac):
        raise BadCookie("cookie signature does not match")
    fields = _BODY.unpack_from(body)
    if fields[0] != _VERSION:
        raise BadCookie("cookie version {}".format(fields[0]))
    hostLen = body[_BODY.size]
    host = body[_BODY.size + 1 :]
    if len(host) != hostLen:
        raise BadCookie("cookie host length")
    return CookieState(
        created=fields[1] / 1000.0,
        lifetime=fields[2] / 1000.0,
        myTag=fields[3],
        peerTag=fields[4],
        myTSN=fields[5],
        peerTSN=fields[6],
        peerRwnd=fields[7],
        myRwnd=fields[8],
        outStreams=fields[9],
        inStreams=fields[10],
        peerForwardTSN=bool(fields[11]),
        tieMyTag=fields[12],
        tiePeerTag=fields[13],
        myPort=fields[14],
        peerPort=fields[15],
        peerHost=host.decode("ascii"),
    )
