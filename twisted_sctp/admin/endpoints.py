# -*- test-case-name: tests.test_adminendpoints -*-
"""
Which endpoint strings the admin endpoint and the metrics may listen on,
and with what defaults: the one place for the "never open to strangers"
rules (see docs/operations.md).

  - Default admin endpoint: a unix socket C{sctp-sip.admin} in the run
    directory, mode 0600 (only the server's user, and root, can connect).
  - A C{tcp:}/C{tcp6:}/C{ssl:} endpoint binds to loopback unless it names
    an interface.  Loopback is not private: every local account can
    connect to it.  Only a unix socket closed to "others" counts as
    private; anything else (any TCP endpoint, loopback included, a unix
    socket whose mode lets "others" in, any other endpoint type) is refused
    for the admin endpoint unless a shared secret is set (L{ADMIN}); the
    metrics (read-only counters, L{METRICS}) may listen there once told
    to, their unix sockets default to mode 0644.
  - L{clientEndpoint}: what C{sctp-sipctl --admin} accepts.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, Dict, List, Optional, Tuple

import attrs

from twisted.internet import endpoints
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.python import usage

__all__ = [
    "ADMIN", "ADMIN_ENV", "DEFAULT_ADMIN_ENDPOINT", "DEFAULT_ADMIN_PATH", "METRICS", "EndpointError",
    "EndpointPolicy", "ServerEndpoint", "clientEndpoint", "joinDescription", "listenEndpoint",
    "serverEndpoint", "splitDescription",
]

#: The default admin socket, relative to the server's run directory (twistd
#: C{--rundir}, by default the directory it was started in).
DEFAULT_ADMIN_PATH = "sctp-sip.admin"
#: The default admin endpoint of the server.
DEFAULT_ADMIN_ENDPOINT = "unix:{}:mode=600".format(DEFAULT_ADMIN_PATH)
#: The environment variable C{sctp-sipctl} reads when C{--admin} is not given.
ADMIN_ENV = "SCTP_SIP_ADMIN"

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
        (a unix socket closed to "others"; a TCP endpoint, even on
        loopback, is reachable by every local account).
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
            return ServerEndpoint(final, False, "a TCP endpoint, even on loopback ({}), can be reached by every local account".format(interface))
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


@attrs.frozen
class EndpointPolicy:
    """
    The rules for one kind of listener.

    @ivar option: the command-line option that names the endpoint, for the
        error messages (C{"--admin"}).
    @ivar unixMode: the mode a unix socket gets when the string gives none.
    @ivar secretOption: the option that gives a shared secret, for an
        endpoint that is not local; C{None}: such an endpoint needs none.
    """

    option: str
    unixMode: str
    secretOption: Optional[str] = None


#: The admin endpoint: changes options and closes associations, so a
#: non-local endpoint needs the shared secret.
ADMIN = EndpointPolicy("--admin", "600", "--admin-secret-file")
#: The metrics: read-only counters, no authentication (bind them where
#: only the scraper can reach them); a unix socket is readable by all.
METRICS = EndpointPolicy("--metrics", "644")


def listenEndpoint(
    reactor: Any, description: Optional[str], policy: EndpointPolicy, secret: Optional[bytes] = None
) -> Tuple[ServerEndpoint, IStreamServerEndpoint]:
    """
    Check C{description} against C{policy} and build its endpoint.

    @param description: a Twisted server endpoint string (C{None}: the
        admin default).
    @param secret: the shared secret, if one was given.
    @return: the string with the defaults applied, and the endpoint.
    @raise twisted.python.usage.UsageError: a bad endpoint string, or a
        non-local endpoint without the secret the policy asks for.
    """
    try:
        endpoint = serverEndpoint(description, policy.unixMode)
    except EndpointError as e:
        raise usage.UsageError("{} {!r}: {}".format(policy.option, description, e))
    if not endpoint.local and policy.secretOption is not None and secret is None:
        raise usage.UsageError(
            "{} {}: {}, so it needs a shared secret: give {} FILE "
            "(mode 600), or use a unix socket with mode 600 (unix:PATH)".format(
                policy.option, endpoint.description, endpoint.why, policy.secretOption
            )
        )
    try:
        return endpoint, endpoints.serverFromString(reactor, endpoint.description)
    except (ValueError, TypeError, KeyError) as e:
        raise usage.UsageError("{} {!r}: bad endpoint string: {}".format(policy.option, description, e))
