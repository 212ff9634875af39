# -*- test-case-name: tests.test_sipflow -*-
"""
What ties the messages of one flow together: branches (RFC 3261 8.1.1.7),
tags (19.3), the stateless proxy's branch and reply tag (16.11: stable
across retransmissions, a CANCEL's the same as its INVITE's), and the
C{;i=} flow token of our Via naming the association a request came on, as
Kamailio writes it.  Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Callable, Iterable, Optional, Tuple

from twisted_sctp.sip.headers import canonicalName
from twisted_sctp.sip.message import SIPRequest

__all__ = [
    "BRANCH_MAGIC", "SEAL_PARAM", "ViaSeal", "branchFor", "decodeFlowToken", "encodeFlowToken", "newBranch", "newTag",
    "replyTag", "stableTag",
]

#: The RFC 3261 branch prefix.
BRANCH_MAGIC = "z9hG4bK"


def newBranch(randomBytes: Callable[[int], bytes] = os.urandom) -> str:
    """@return: a fresh RFC 3261 branch: C{z9hG4bK} and 32 random hex digits."""
    return BRANCH_MAGIC + randomBytes(16).hex()


def newTag(randomBytes: Callable[[int], bytes] = os.urandom) -> str:
    """@return: a fresh From/To tag: 16 random hex digits."""
    return randomBytes(8).hex()


def stableTag(*parts: Optional[str]) -> str:
    """
    @return: a To tag derived from C{parts} (for example the branch and the
        Call-ID), so that a stateless server answers a retransmitted
        request with the same tag.
    """
    text = "\0".join([p or "" for p in parts])
    # BLAKE2b with an 8-byte digest: 16 hex digits, as the SHA-256 prefix
    # it replaced, for half the work.
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


#: The header lines a stateless reply's To tag is made from.
_TAG_HEADERS = frozenset({"via", "from", "call-id"})


def replyTag(request: SIPRequest) -> str:
    """
    @return: the To tag of a stateless reply to C{request}: a
        L{stableTag} of its raw Via, From and Call-ID lines (the same for a
        retransmission; one pass over the headers).
    """
    return stableTag(*[value for name, value in request.headers if canonicalName(name) in _TAG_HEADERS])


def branchFor(request: SIPRequest) -> str:
    """
    The branch of our Via on a forwarded request: a hash of what identifies
    the incoming transaction but not its method, so that a CANCEL (and the
    ACK of a non-2xx) gets the same branch as its INVITE (RFC 3261 16.11).
    """
    cseq = request.cseq
    seed = [request.getHeader("via") or "", request.callID or "", request.fromTag or "", str(cseq.number if cseq else ""), request.uri]
    digest = hashlib.sha256("\0".join(seed).encode("utf-8", "surrogateescape")).hexdigest()
    return BRANCH_MAGIC + "ts" + digest[:30]


def encodeFlowToken(assocID: int, listener: int = 0) -> str:
    """
    The value of the C{i} parameter we add to our own Via when forwarding a
    request that came over SCTP: our unique association id written as
    Kamailio writes it (lower-case hex, least significant nibble first; 26
    is C{"a1"}), followed by C{".N"} when the request came in on listener
    C{N} > 0.

    @param assocID: the registry id of the association (never reused).
    @param listener: the index of the listener it belongs to.
    """
    text = "{:x}".format(assocID)[::-1]
    return text if listener == 0 else "{}.{}".format(text, listener)


def decodeFlowToken(text: Optional[str]) -> Optional[Tuple[int, int]]:
    """
    @return: C{(assocID, listener)} from an L{encodeFlowToken} value, or
        C{None} if C{text} is not one.
    """
    if not text or len(text) > 24:
        return None
    idText, _, listenerText = text.partition(".")
    try:
        assocID = int(idText[::-1], 16)
        listener = int(listenerText) if listenerText else 0
    except ValueError:
        return None
    if assocID <= 0 or listener < 0:
        return None
    return assocID, listener


#: The Via parameter holding our seal.
SEAL_PARAM = "tsig"

#: Hex digits of the seal (80 bits).
_SEAL_DIGITS = 20


class ViaSeal:
    """
    The HMAC-SHA256 seal of the Via we add to a forwarded request: over its
    branch, its flow token (C{i}) and the next hop (transport and host) the
    request went to, keyed by a server secret.  A response whose top Via is
    ours is forwarded only if the seal verifies for where the response came
    from: a stranger can neither forge our Via (to have a response
    reflected to its second Via) nor change its C{i} (to inject into
    another user's association), and a response that does not come from
    the host we sent the request to is not ours.

    @param secret: the key; default 32 random bytes (per process).  Nodes
        that must accept each other's Vias share one (L{fromSecret}).
    """

    def __init__(self, secret: Optional[bytes] = None) -> None:
        self._key = secret if secret is not None else os.urandom(32)

    @classmethod
    def fromSecret(cls, secret: bytes) -> "ViaSeal":
        """@return: a seal keyed by a key derived from C{secret} (a shared secret file's bytes, also used for other MACs)."""
        return cls(hmac.new(secret, b"twisted-sctp via seal", hashlib.sha256).digest())

    def seal(self, branch: str, token: Optional[str], transport: str, host: str) -> str:
        """
        @param host: the next hop's address (normalized: L{normalizeHost}).
        @return: the value of our Via's L{SEAL_PARAM}.
        """
        text = "\0".join((branch, token or "", transport.upper(), host.lower()))
        return hmac.new(self._key, text.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:_SEAL_DIGITS]

    def verify(self, value: Optional[str], branch: Optional[str], token: Optional[str], transport: str, hosts: Iterable[str]) -> bool:
        """
        @param value: the L{SEAL_PARAM} of the response's top Via.
        @param hosts: the addresses the response came from (an SCTP
            association's every path).
        @return: whether C{value} is our seal for one of C{hosts}.
        """
        if not value or not branch or len(value) != _SEAL_DIGITS or not value.isascii():
            return False  # (compare_digest refuses non-ASCII text)
        return any(hmac.compare_digest(self.seal(branch, token, transport, host), value.lower()) for host in hosts)
