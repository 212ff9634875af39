# -*- test-case-name: tests.test_sipdigest -*-
"""
HTTP Digest for SIP (RFC 3261 section 22, RFC 7616, RFC 8760): the
challenge and credentials header codec, the response computation for MD5
and SHA-256 with C{qop=auth}, stateless nonces and nonce-count replay
tracking with bounded memory.

Pure logic: no sockets; time comes from an injected L{IReactorTime}.

Nonces carry their own proof: C{base64url(issued || random || mac)} where
C{mac} is an HMAC-SHA-256 (truncated to 16 bytes) of the first two parts
and the realm under a server secret.  Nothing is stored per challenge; a
nonce is ours when its MAC verifies and fresh while younger than its
lifetime.  L{NonceCounts} remembers which nonce-counts each nonce was used
with, for a bounded number of nonces, so that a replayed C{Authorization}
is refused.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import os
import re
import struct
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import attrs

from twisted.internet.interfaces import IReactorTime

__all__ = [
    "ALGORITHMS", "Challenge", "DigestError", "answerChallenge", "challenges", "DigestResponse", "NonceCounts",
    "NonceMint", "calcHA1", "calcResponse", "formatChallenge",
    "formatCredentials", "parseChallenge", "parseCredentials",
]

#: The algorithms we offer, most preferred first (RFC 8760 section 2.4), and
#: their hash functions.
ALGORITHMS: Dict[str, Callable[..., "hashlib._Hash"]] = {
    "SHA-256": hashlib.sha256,
    "MD5": hashlib.md5,
}

#: The longest header value we parse (an Authorization line is ~300 bytes).
MAX_VALUE = 4096

_TOKEN = r"[A-Za-z0-9.!%*_+`'~-]+"
_PARAM_RE = re.compile(r'[ \t]*({})[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|{})[ \t]*'.format(_TOKEN, _TOKEN))
_SCHEME_RE = re.compile(r"[ \t]*({})[ \t]+".format(_TOKEN))
_ESCAPE_RE = re.compile(r"\\(.)")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_QUOTABLE_RE = re.compile(r'[^"\\\x00-\x1f\x7f]*')


class DigestError(ValueError):
    """
    A Digest header value cannot be read.

    @ivar reason: what is wrong with it (no secret in it).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parseParams(value: str, what: str) -> Tuple[str, Dict[str, str]]:
    """
    Read C{scheme name=value, name="quoted", ...}.

    @return: the scheme and the parameters (names lower-cased, values
        unquoted).
    @raise DigestError: it does not have that shape, or repeats a name.
    """
    if len(value) > MAX_VALUE:
        raise DigestError("{} too long ({} characters)".format(what, len(value)))
    scheme = _SCHEME_RE.match(value)
    if scheme is None:
        raise DigestError("{}: no scheme".format(what))
    params: Dict[str, str] = {}
    pos = scheme.end()
    while True:
        match = _PARAM_RE.match(value, pos)
        if match is None:
            raise DigestError("{}: bad parameter at offset {}".format(what, pos))
        name, raw = match.group(1).lower(), match.group(2)
        if name in params:
            raise DigestError("{}: {} given twice".format(what, name))
        params[name] = _ESCAPE_RE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
        pos = match.end()
        if pos == len(value):
            return scheme.group(1), params
        if value[pos] != ",":
            raise DigestError("{}: expected ',' at offset {}".format(what, pos))
        pos += 1


def _quote(text: str) -> str:
    if not _QUOTABLE_RE.fullmatch(text):
        raise ValueError("cannot quote {!r}".format(text))
    return '"{}"'.format(text)


@attrs.frozen
class Challenge:
    """
    One C{WWW-Authenticate} / C{Proxy-Authenticate: Digest} challenge.
    """

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: Tuple[str, ...] = ("auth",)
    stale: bool = False
    opaque: Optional[str] = None


def formatChallenge(challenge: Challenge) -> str:
    """
    @return: the header value of C{challenge}.
    @raise ValueError: the realm or nonce cannot be quoted.
    """
    parts = ["realm=" + _quote(challenge.realm), "nonce=" + _quote(challenge.nonce)]
    if challenge.opaque is not None:
        parts.append("opaque=" + _quote(challenge.opaque))
    parts.append("algorithm=" + challenge.algorithm)
    if challenge.qop:
        parts.append("qop=" + _quote(",".join(challenge.qop)))
    if challenge.stale:
        parts.append("stale=true")
    return "Digest " + ", ".join(parts)


def parseChallenge(value: str) -> Challenge:
    """
    Read one Digest challenge (one header value).

    @raise DigestError: not a Digest challenge, or without realm or nonce.
    """
    scheme, params = _parseParams(value, "challenge")
    if scheme.lower() != "digest":
        raise DigestError("challenge: scheme {!r} is not Digest".format(scheme[:20]))
    if "realm" not in params or "nonce" not in params:
        raise DigestError("challenge: realm and nonce are required")
    qop = tuple(q.strip() for q in params["qop"].split(",") if q.strip()) if "qop" in params else ()
    return Challenge(
        params["realm"], params["nonce"], params.get("algorithm", "MD5"), qop,
        params.get("stale", "").lower() == "true", params.get("opaque"),
    )


@attrs.frozen
class DigestResponse:
    """
    The parameters of C{Authorization: Digest} / C{Proxy-Authorization}
    (RFC 7616 section 3.4), as the client sent them.

    @ivar nc: the nonce-count as an integer (0 without qop).
    """

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: Optional[str] = None
    nc: int = 0
    cnonce: Optional[str] = None
    opaque: Optional[str] = None

    @property
    def ncText(self) -> str:
        """The nonce-count as the client wrote it into the hash: 8 hex digits."""
        return "{:08x}".format(self.nc)


_REQUIRED = ("username", "realm", "nonce", "uri", "response")


def parseCredentials(value: str) -> DigestResponse:
    """
    Read one C{Authorization} or C{Proxy-Authorization} value.

    @raise DigestError: not Digest, a required parameter missing, a bad
        C{nc}, C{qop} without C{nc}/C{cnonce}, or a response that is not hex.
    """
    scheme, params = _parseParams(value, "credentials")
    if scheme.lower() != "digest":
        raise DigestError("credentials: scheme {!r} is not Digest".format(scheme[:20]))
    missing = [name for name in _REQUIRED if name not in params]
    if missing:
        raise DigestError("credentials: missing {}".format(", ".join(missing)))
    if not _HEX_RE.fullmatch(params["response"]):
        raise DigestError("credentials: response is not hex")
    qop = params.get("qop")
    nc = 0
    if qop is not None:
        text = params.get("nc", "")
        if len(text) != 8 or not _HEX_RE.fullmatch(text):
            raise DigestError("credentials: nc must be 8 hex digits")
        nc = int(text, 16)
        if not params.get("cnonce"):
            raise DigestError("credentials: qop without cnonce")
    return DigestResponse(
        params["username"], params["realm"], params["nonce"], params["uri"],
        params["response"].lower(), params.get("algorithm", "MD5"), qop, nc,
        params.get("cnonce"), params.get("opaque"),
    )


def formatCredentials(credentials: DigestResponse) -> str:
    """@return: the header value a client sends for C{credentials}."""
    parts = [
        "username=" + _quote(credentials.username), "realm=" + _quote(credentials.realm),
        "nonce=" + _quote(credentials.nonce), "uri=" + _quote(credentials.uri),
        "response=" + _quote(credentials.response), "algorithm=" + credentials.algorithm,
    ]
    if credentials.qop is not None:
        parts += ["qop=" + credentials.qop, "nc=" + credentials.ncText, "cnonce=" + _quote(credentials.cnonce or "")]
    if credentials.opaque is not None:
        parts.append("opaque=" + _quote(credentials.opaque))
    return "Digest " + ", ".join(parts)


def _hash(algorithm: str) -> Callable[..., "hashlib._Hash"]:
    try:
        return ALGORITHMS[algorithm.upper()]
    except KeyError:
        raise DigestError("unsupported algorithm {!r}".format(algorithm[:20])) from None


def calcHA1(algorithm: str, username: str, realm: str, password: bytes) -> str:
    """
    @return: C{H(username:realm:password)} in lower-case hex.
    @raise DigestError: an algorithm we do not support.
    """
    return _hash(algorithm)(b"%s:%s:%s" % (username.encode("utf-8"), realm.encode("utf-8"), password)).hexdigest()


def calcResponse(ha1: str, method: str, credentials: DigestResponse) -> str:
    """
    The response a client with C{ha1} sends for C{credentials} (RFC 7616
    3.4.1; C{qop=auth} or, RFC 2069 style, none).

    @raise DigestError: an algorithm or qop we do not support.
    """
    H = _hash(credentials.algorithm)
    ha2 = H("{}:{}".format(method, credentials.uri).encode("utf-8")).hexdigest()
    if credentials.qop is None:
        seed = "{}:{}:{}".format(ha1, credentials.nonce, ha2)
    elif credentials.qop.lower() == "auth":
        seed = "{}:{}:{}:{}:{}:{}".format(ha1, credentials.nonce, credentials.ncText, credentials.cnonce, credentials.qop, ha2)
    else:
        raise DigestError("unsupported qop {!r}".format(credentials.qop[:20]))
    return H(seed.encode("utf-8")).hexdigest()


def responseMatches(ha1: str, method: str, credentials: DigestResponse) -> bool:
    """@return: whether C{credentials.response} is right for C{ha1} (constant time)."""
    try:
        expected = calcResponse(ha1.lower(), method, credentials)
    except DigestError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), credentials.response.encode("ascii", "replace"))


_NONCE_RAW = struct.Struct(">Q8s")
_MAC_BYTES = 16


class NonceMint:
    """
    Makes and checks stateless nonces.

    @ivar lifetime: seconds a nonce stays fresh.
    """

    def __init__(
        self,
        clock: IReactorTime,
        realm: str,
        secret: Optional[bytes] = None,
        lifetime: float = 300.0,
        randomBytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._clock = clock
        self._realm = realm.encode("utf-8")
        self._secret = secret if secret is not None else randomBytes(32)
        self._random = randomBytes
        self.lifetime = lifetime

    def _mac(self, raw: bytes) -> bytes:
        return hmac.new(self._secret, raw + self._realm, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self) -> str:
        """@return: a fresh nonce."""
        raw = _NONCE_RAW.pack(int(self._clock.seconds()), self._random(8))
        return base64.urlsafe_b64encode(raw + self._mac(raw)).decode("ascii").rstrip("=")

    def issuedAt(self, nonce: str) -> Optional[int]:
        """
        @return: when C{nonce} was issued, if it is one of ours (its MAC
            verifies), else C{None}.
        """
        if len(nonce) != 43:
            return None
        try:
            blob = base64.urlsafe_b64decode(nonce + "=")
        except (binascii.Error, ValueError):
            return None
        raw, mac = blob[:_NONCE_RAW.size], blob[_NONCE_RAW.size:]
        if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, self._mac(raw)):
            return None
        return int(_NONCE_RAW.unpack(raw)[0])

    def isFresh(self, issued: int) -> bool:
        """@return: whether a nonce issued at C{issued} is still fresh."""
        age = self._clock.seconds() - issued
        return -5.0 <= age < self.lifetime


class NonceCounts:
    """
    The nonce-counts seen with each nonce, to refuse a replay: for each of at
    most C{maxNonces} nonces, the highest count and which of the C{window}
    counts below it were used (so that requests reordered by unordered SCTP
    delivery still pass).

    When the table is full the nonce used least recently is forgotten, and
    any nonce issued no later than a forgotten one counts as used up (its
    client gets C{stale=true} and a fresh nonce): memory stays bounded and
    nothing forgotten can be replayed.
    """

    def __init__(self, maxNonces: int = 65536, window: int = 64) -> None:
        self.maxNonces = maxNonces
        self.window = window
        self._seen: collections.OrderedDict[str, List[int]] = collections.OrderedDict()
        self._floor = -1
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._seen)

    def use(self, nonce: str, issued: int, nc: int) -> bool:
        """
        Record one use of C{nonce} with count C{nc}.

        @return: C{False} (and record nothing) if that count was already used,
            is too far below the highest, or the nonce was forgotten.
        """
        if nc < 1:
            return False
        entry = self._seen.get(nonce)
        if entry is None:
            if issued <= self._floor:
                return False
            while len(self._seen) >= self.maxNonces:
                _, old = self._seen.popitem(last=False)
                self._floor = max(self._floor, old[0])
                self.evicted += 1
            self._seen[nonce] = [issued, nc, 1]
            return True
        _, highest, mask = entry
        if nc > highest:
            shift = nc - highest
            mask = ((mask << shift) | 1) & ((1 << self.window) - 1) if shift < self.window else 1
            entry[1], entry[2] = nc, mask
        else:
            bit = highest - nc
            if bit >= self.window or mask >> bit & 1:
                return False
            entry[2] = mask | (1 << bit)
        self._seen.move_to_end(nonce)
        return True

    def forgetBefore(self, issued: float) -> int:
        """
        Forget the nonces issued before C{issued} (they are stale anyway).

        @return: how many.
        """
        old = [n for n, e in self._seen.items() if e[0] < issued]
        for nonce in old:
            del self._seen[nonce]
        return len(old)


def challenges(mint: NonceMint, realm: str, stale: bool = False, algorithms: Iterable[str] = ALGORITHMS) -> List[str]:
    """
    @return: one challenge value per algorithm (most preferred first), all
        with the same fresh nonce and C{qop="auth"}.
    """
    nonce = mint.issue()
    return [formatChallenge(Challenge(realm, nonce, algorithm, ("auth",), stale)) for algorithm in algorithms]


def answerChallenge(
    challenge: Challenge, username: str, password: bytes, method: str, uri: str, nc: int = 1, cnonce: Optional[str] = None,
) -> DigestResponse:
    """
    What a client answers to C{challenge} (with C{qop=auth} when offered):
    for tests and tools.

    @raise DigestError: an algorithm we do not support.
    """
    qop = "auth" if "auth" in challenge.qop else None
    draft = DigestResponse(
        username, challenge.realm, challenge.nonce, uri, "", challenge.algorithm, qop,
        nc if qop else 0, (cnonce or os.urandom(8).hex()) if qop else None, challenge.opaque,
    )
    ha1 = calcHA1(challenge.algorithm, username, challenge.realm, password)
    return attrs.evolve(draft, response=calcResponse(ha1, method, draft))
