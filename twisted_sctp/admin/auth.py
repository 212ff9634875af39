# -*- test-case-name: tests.test_admin -*-
"""
Where the admin endpoint listens and who may use it: endpoint strings with
safe defaults, the shared secret file, and the challenge-response.

Security model (see docs/operations.md):

  - Default endpoint: a unix socket C{sctp-sip.admin} in the run directory,
    mode 0600 (only the server's user, and root, can connect).
  - A C{tcp:}/C{tcp6:}/C{ssl:} endpoint binds to loopback unless it names
    an interface.  Anything not local (an interface other than loopback, a
    unix socket whose mode lets "others" in, any other endpoint type) needs
    a secret file, or the service refuses to start.
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
import ipaddress
import os
import stat
from typing import Dict, List, Optional, Tuple

import attrs

#: The default admin socket, relative to the server's run directory (twistd
#: C{--rundir}, by default the directory it was started in).
DEFAULT_ADMIN_PATH = "sctp-sip.admin"
#: The default admin endpoint of the server.
DEFAULT_ADMIN_ENDPOINT = "unix:{}:mode=600".format(DEFAULT_ADMIN_PATH)
#: The environment variable C{sctp-sipctl} reads when C{--admin} is not given.
ADMIN_ENV = "SCTP_SIP_ADMIN"

_CONTEXT = b"twisted-sctp-admin-v1"
NONCE_SIZE = 32

#: For each endpoint type, the index (after the type) of a positional
#: C{interface} argument, as Twisted's parsers take them.
_INTERFACE_POSITION = {"tcp": 1, "tcp6": 2, "ssl": 4}
_LOOPBACK = {"tcp": "127.0.0.1", "ssl": "127.0.0.1", "tcp6": "::1"}


class EndpointError(ValueError):
    """
    An endpoint string or a secret file cannot be used; the message says why
    and what to do.
    """


def splitDescription(description: str) -> Tuple[str, List[str], Dict[str, str]]:
    """
    Split an endpoint string the way Twisted does (C{:} between arguments,
    C{=} between a keyword and its value, C{\\} escapes).

    @return: the type (lower case), the positional arguments after it and
        the keyword arguments.
    """
    fields: List[List[str]] = [[""]]
    chars = iter(description)
    for char in chars:
        if char == "\\":
            fields[-1][-1] += next(chars, "")
        elif char == ":":
            fields.append([""])
        elif char == "=" and len(fields[-1]) == 1:
            fields[-1].append("")
        else:
            fields[-1][-1] += char
    args: List[str] = []
    kwargs: Dict[str, str] = {}
    for field in fields:
        if len(field) == 1:
            args.append(field[0])
        else:
            kwargs[field[0]] = field[1]
    kind = args.pop(0).strip().lower() if args else ""
    return kind, args, kwargs


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def joinDescription(kind: str, args: List[str], kwargs: Dict[str, str]) -> str:
    """
    The inverse of L{splitDescription}.
    """
    parts = [kind] + [_escape(a) for a in args] + ["{}={}".format(_escape(k), _escape(v)) for k, v in kwargs.items()]
    return ":".join(parts)


@attrs.frozen
class ServerEndpoint:
    """
    A server endpoint string with our defaults applied.

    @ivar description: the string to give C{serverFromString}.
    @ivar local: whether only this host's authorised users can reach it
        (loopback, or a unix socket closed to "others").
    @ivar why: when not local, a phrase saying why.
    """

    description: str
    local: bool
    why: str = ""


def _isLoopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return host.strip().lower() == "localhost"


def serverEndpoint(description: Optional[str], unixMode: str = "600") -> ServerEndpoint:
    """
    Apply the defaults to a server endpoint string: none gives
    L{DEFAULT_ADMIN_ENDPOINT}; C{tcp:PORT} gets C{interface=127.0.0.1}
    (C{tcp6}: C{::1}); C{unix:PATH} gets C{mode=600}.

    @raise EndpointError: the string is empty or has no type.
    """
    if description is None:
        description = DEFAULT_ADMIN_ENDPOINT
    if not description.strip():
        raise EndpointError("empty endpoint string")
    kind, args, kwargs = splitDescription(description)
    if not kind or not args and not kwargs:
        raise EndpointError("{!r} is not an endpoint string (e.g. unix:PATH, tcp:PORT)".format(description))
    if kind in _INTERFACE_POSITION:
        position = _INTERFACE_POSITION[kind]
        interface = kwargs.get("interface")
        if interface is None and len(args) > position:
            interface = args[position]
        if interface is None:
            interface = kwargs["interface"] = _LOOPBACK[kind]
        final = joinDescription(kind, args, kwargs)
        if _isLoopback(interface):
            return ServerEndpoint(final, True)
        return ServerEndpoint(final, False, "it listens on {} (not loopback)".format(interface or "every interface"))
    if kind == "unix":
        if "mode" not in kwargs and len(args) < 2:
            kwargs["mode"] = unixMode
        mode = kwargs.get("mode", args[1] if len(args) > 1 else unixMode)
        path = kwargs.get("address", args[0] if args else "")
        final = joinDescription(kind, args, kwargs)
        try:
            bits = int(mode, 8)
        except ValueError:
            raise EndpointError("bad unix socket mode {!r} in {!r} (octal, e.g. 600)".format(mode, description))
        if path.startswith("\0"):
            return ServerEndpoint(final, False, "an abstract unix socket has no permissions")
        if bits & 0o007:
            return ServerEndpoint(final, False, "its mode {} lets other users connect".format(mode))
        return ServerEndpoint(final, True)
    return ServerEndpoint(description, False, "a {!r} endpoint is not known to be local".format(kind))


def clientEndpoint(description: Optional[str]) -> str:
    """
    Turn what an operator gives C{sctp-sipctl --admin} into a client
    endpoint string: the server's own string works (C{unix:PATH:mode=600},
    C{tcp:PORT}, C{tcp:PORT:interface=HOST}), and so does a client string
    (C{tcp:host=HOST:port=PORT}, C{tcp:HOST:PORT}, C{unix:PATH}).  None
    gives C{$SCTP_SIP_ADMIN}, else the server's default.

    @raise EndpointError: not an endpoint string.
    """
    if description is None:
        description = os.environ.get(ADMIN_ENV) or DEFAULT_ADMIN_ENDPOINT
    kind, args, kwargs = splitDescription(description)
    if kind == "unix":
        path = kwargs.pop("address", None) or kwargs.pop("path", None) or (args[0] if args else "")
        if not path:
            raise EndpointError("no socket path in {!r}".format(description))
        keep = {k: v for k, v in kwargs.items() if k in ("timeout", "lockfile")}
        return joinDescription("unix", [path], keep)
    if kind in ("tcp", "tcp6", "ssl") and "host" not in kwargs and args and args[0].isdigit():
        # A server string: connect to the interface it binds.
        position = _INTERFACE_POSITION[kind]
        interface = kwargs.get("interface") or (args[position] if len(args) > position else "")
        if not interface or interface in ("0.0.0.0", "::"):
            interface = _LOOPBACK[kind]
        out = {"host": interface, "port": args[0]}
        if kind == "ssl":
            return joinDescription("ssl", [], out)
        return joinDescription("tcp", [], out)
    if not kind or not (args or kwargs):
        raise EndpointError("{!r} is not an endpoint string (e.g. unix:PATH, tcp:PORT)".format(description))
    return description


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
