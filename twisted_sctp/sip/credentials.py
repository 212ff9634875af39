# -*- test-case-name: tests.test_sipcredentials -*-
"""
SIP Digest credentials for twisted.cred, and the checkers C{twistd sctp-sip
--auth} takes:

  - C{memory:alice:secret1:bob:secret2} and C{file:PATH} (lines
    C{user:password}), Twisted's own strcred checkers: they ask our
    L{SIPDigestCredentials} to C{checkPassword} the stored password;
  - C{ha1:PATH} (L{HA1FileChecker}): lines C{user:realm:MD5-HA1[:SHA-256-HA1]}
    (the first three fields are Apache's htdigest format), so that the file
    holds no plaintext password.  C{python -m twisted_sctp.sip.credentials
    USER REALM} prints such a line for the password on standard input.

L{DigestAuthenticator} asks each checker in turn; every strcred checker we
accept answers synchronously.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List, Optional, Sequence, Tuple

from zope.interface import implementer

from twisted import plugin
from twisted.cred import error as cerror
from twisted.cred.checkers import ICredentialsChecker, InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.credentials import IUsernameDigestHash, IUsernameHashedPassword
from twisted.cred.strcred import ICheckerFactory
from twisted.internet import defer
from twisted.python.failure import Failure

from twisted_sctp.sip.digest import DigestResponse, calcHA1, responseMatches

__all__ = [
    "CREDENTIAL_INTERFACES", "DigestAuthenticator", "HA1CheckerFactory",
    "HA1FileChecker", "SIPDigestCredentials", "ha1Line",
]

#: What our credentials provide, so what a checker must accept to be used.
CREDENTIAL_INTERFACES = (IUsernameHashedPassword, IUsernameDigestHash)


@implementer(IUsernameHashedPassword, IUsernameDigestHash)
class SIPDigestCredentials:
    """
    The C{Authorization} of one SIP request: checks a stored password or a
    stored HA1 against the client's response without learning the password.

    @ivar username: the user name, as bytes (what Twisted's checkers key on).
    @ivar digest: the parsed credentials.
    @ivar method: the request's method (part of the hash).
    """

    def __init__(self, digest: DigestResponse, method: str) -> None:
        self.digest = digest
        self.method = method
        self.username = digest.username.encode("utf-8")
        self.realm = digest.realm
        self.algorithm = digest.algorithm.upper()

    def checkPassword(self, password: Any) -> bool:
        """
        @param password: the stored plaintext password (C{str} or C{bytes}).
        @return: whether the client's response was made with it.
        """
        if isinstance(password, str):
            password = password.encode("utf-8")
        ha1 = calcHA1(self.algorithm, self.digest.username, self.digest.realm, password)
        return responseMatches(ha1, self.method, self.digest)

    def checkHash(self, digestHash: Any) -> bool:
        """
        @param digestHash: the stored HA1 for our algorithm and realm, hex.
        @return: whether the client's response was made with it.
        """
        if isinstance(digestHash, bytes):
            digestHash = digestHash.decode("ascii", "replace")
        return responseMatches(digestHash, self.method, self.digest)

    def __repr__(self) -> str:
        # Never the response or anything derived from the password.
        return "<SIPDigestCredentials {!r} realm {!r} {}>".format(self.digest.username, self.realm, self.algorithm)


def _hexField(text: bytes, length: int) -> Optional[bytes]:
    text = text.strip().lower()
    return text if len(text) == length and all(c in b"0123456789abcdef" for c in text) else None


@implementer(ICredentialsChecker)
class HA1FileChecker:
    """
    Checks L{SIPDigestCredentials} against a file of precomputed HA1 values,
    one user a line: C{user:realm:md5-ha1[:sha256-ha1]}; blank lines and
    lines starting with C{#} are skipped.  The file is read again when its
    modification time changes (users can be added without a restart).
    """

    credentialInterfaces = (IUsernameDigestHash,)

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime: Optional[float] = None
        self._users: dict[Tuple[bytes, str], Tuple[Optional[bytes], Optional[bytes]]] = {}

    def _load(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError as e:
            raise cerror.UnauthorizedLogin("cannot read {}: {}".format(self.path, e.strerror))
        if mtime == self._mtime:
            return
        users = {}
        with open(self.path, "rb") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith(b"#"):
                    continue
                fields = line.split(b":")
                if len(fields) < 3:
                    continue
                md5 = _hexField(fields[2], 32)
                sha256 = _hexField(fields[3], 64) if len(fields) > 3 else None
                users[(fields[0], fields[1].decode("utf-8", "replace"))] = (md5, sha256)
        self._users, self._mtime = users, mtime

    def requestAvatarId(self, credentials: Any) -> "defer.Deferred[Any]":
        """
        @return: a Deferred (already fired) with the user name, or failing
            with L{twisted.cred.error.UnauthorizedLogin}.
        """
        try:
            self._load()
        except (cerror.UnauthorizedLogin, OSError) as e:
            return defer.fail(cerror.UnauthorizedLogin(str(e)))
        digest = IUsernameDigestHash(credentials)
        stored = self._users.get((credentials.username, getattr(credentials, "realm", "")))
        algorithm = getattr(credentials, "algorithm", "MD5")
        ha1 = None if stored is None else stored[0] if algorithm == "MD5" else stored[1] if algorithm == "SHA-256" else None
        if ha1 is not None and digest.checkHash(ha1):
            return defer.succeed(credentials.username)
        return defer.fail(cerror.UnauthorizedLogin())


_HA1_HELP = """
A file of precomputed Digest HA1 values, one user a line:
user:realm:MD5(user:realm:password)[:SHA-256(user:realm:password)]
(Apache htdigest's format, plus an optional SHA-256 field; without it that
user can only answer MD5 challenges).  Make a line with
python -m twisted_sctp.sip.credentials USER REALM < password-file
"""


@implementer(ICheckerFactory, plugin.IPlugin)
class HA1CheckerFactory:
    """
    C{--auth ha1:PATH}: an L{HA1FileChecker} (the strcred plugin lives in
    C{twisted/plugins/twisted_sctp_ha1.py}).
    """

    authType = "ha1"
    authHelp = _HA1_HELP
    argStringFormat = "Location of a user:realm:md5-ha1[:sha256-ha1] file."
    credentialInterfaces = (IUsernameDigestHash,)

    def generateChecker(self, argstring: str) -> HA1FileChecker:
        if not argstring.strip():
            raise ValueError("ha1 requires a filename")
        return HA1FileChecker(argstring)


def ha1Line(username: str, realm: str, password: bytes) -> str:
    """@return: the L{HA1FileChecker} line for one user."""
    return "{}:{}:{}:{}".format(username, realm, calcHA1("MD5", username, realm, password), calcHA1("SHA-256", username, realm, password))


def _normalised(checker: Any) -> Any:
    """
    strcred's C{memory:} checker keeps C{str} names; Twisted's checkers (and
    our credentials) use C{bytes}: give it a copy keyed by bytes.
    """
    if isinstance(checker, InMemoryUsernamePasswordDatabaseDontUse):
        fixed = InMemoryUsernamePasswordDatabaseDontUse()
        for name, password in checker.users.items():
            fixed.addUser(name.encode("utf-8") if isinstance(name, str) else name,
                          password.encode("utf-8") if isinstance(password, str) else password)
        return fixed
    return checker


class DigestAuthenticator:
    """
    Verifies Digest credentials with a list of twisted.cred checkers.
    """

    def __init__(self, checkers: Sequence[Any]) -> None:
        usable = [c for c in checkers if any(i in CREDENTIAL_INTERFACES for i in getattr(c, "credentialInterfaces", ()))]
        self.checkers: List[Any] = [_normalised(c) for c in usable]

    def verify(self, credentials: SIPDigestCredentials) -> "defer.Deferred[bool]":
        """
        @return: a Deferred firing with whether some checker accepts
            C{credentials} (a checker's own error counts as a refusal).
        """
        return self._next(credentials, 0)

    def _next(self, credentials: SIPDigestCredentials, index: int) -> "defer.Deferred[bool]":
        if index >= len(self.checkers):
            return defer.succeed(False)
        d = defer.maybeDeferred(self.checkers[index].requestAvatarId, credentials)

        def refused(reason: Failure) -> "defer.Deferred[bool]":
            return self._next(credentials, index + 1)

        d.addCallbacks(lambda _: True, refused)
        return d


def main(argv: Optional[Sequence[str]] = None) -> int:
    """C{python -m twisted_sctp.sip.credentials USER REALM}: print an HA1 line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m twisted_sctp.sip.credentials USER REALM < password\n")
        return 2
    password = sys.stdin.buffer.readline().rstrip(b"\r\n")
    sys.stdout.write(ha1Line(args[0], args[1], password) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
