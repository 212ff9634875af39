# -*- test-case-name: tests.test_admin -*-
"""
Who may use the admin endpoint: the shared secret file and the
challenge-response.  Where it listens (endpoint strings with safe
defaults, and which of them need the secret) is
L{twisted_sctp.admin.endpoints}.

Security model (see docs/operations.md):

  - Default endpoint: a unix socket C{sctp-sip.admin} in the run directory,
    mode 0600 (only the server's user, and root, can connect).
  - A C{tcp:}/C{tcp6:}/C{ssl:} endpoint binds to loopback unless it names
    an interface.  Anything but a unix socket closed to "others" (any TCP
    endpoint, loopback included: every local account can reach it; a unix
    socket whose mode lets "others" in; any other endpoint type) needs a
    secret file, or the service refuses to start.
  - The secret file must not be readable or writable by "others" (refused,
    not just warned about: a world-readable secret is no secret).
  - With a secret, a client must authenticate before anything else:
    C{Challenge} gives a fresh random nonce, C{Authenticate} sends
    C{HMAC-SHA256(secret, "twisted-sctp-admin-v1" + nonce)}, compared with
    C{hmac.compare_digest}.  The secret never crosses the wire and a
    recorded exchange cannot be replayed.  (This does not protect the rest
    of the session from an active attacker on the path: use an C{ssl:}
    endpoint across untrusted networks.)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

from twisted_sctp.admin.endpoints import EndpointError

_CONTEXT = b"twisted-sctp-admin-v1"
NONCE_SIZE = 32

def loadSecret(path: str) -> bytes:
    """
    Read a shared secret: the file's content without surrounding
    whitespace.

    @raise EndpointError: the file cannot be read, is empty, or is
        readable or writable by "others" (mode & 007).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise EndpointError("cannot read the secret file {}: {}".format(path, e.strerror or e))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise EndpointError("the secret file {} is not a regular file".format(path))
        if info.st_mode & 0o007:
            raise EndpointError(
                "the secret file {} is accessible by other users (mode {:o}): run chmod 600 {}".format(
                    path, stat.S_IMODE(info.st_mode), path
                )
            )
        with os.fdopen(fd, "rb") as f:
            fd = -1
            secret = f.read(65536).strip()
    finally:
        if fd >= 0:
            os.close(fd)
    if not secret:
        raise EndpointError("the secret file {} is empty".format(path))
    return secret


def newNonce() -> bytes:
    """
    @return: a fresh random challenge.
    """
    return os.urandom(NONCE_SIZE)


def challengeResponse(secret: bytes, nonce: bytes) -> bytes:
    """
    @return: the answer to C{nonce} for a client that knows C{secret}.
    """
    return hmac.new(secret, _CONTEXT + nonce, hashlib.sha256).digest()


def checkResponse(secret: bytes, nonce: bytes, response: bytes) -> bool:
    """
    @return: whether C{response} answers C{nonce} (constant time).
    """
    return hmac.compare_digest(challengeResponse(secret, nonce), response)
