# -*- test-case-name: tests.test_endpoints -*-
"""
C{sctp:} endpoints and their string parsers, for
C{twisted.internet.endpoints.serverFromString} and C{clientFromString}
(the drop-in C{twisted/plugins/twisted_sctp_endpoints.py} registers the
parsers).

Server, C{sctp:PORT[:interface=ADDR[,ADDR...]][:style=one-to-many|one-to-one][:OPTION=VALUE...]}::

    serverFromString(reactor, "sctp:5060:interface=127.0.0.1")
    serverFromString(reactor, "sctp:5060:interface=10.0.0.1,10.0.1.1:autoclose=120:max_assocs=1000")
    serverFromString(reactor, r"sctp:5060:interface=\\:\\:1")

C{listen(factory)} fires with the started L{twisted_sctp.SCTPPort}: one
one-to-many socket, a protocol per association.  Several comma-separated
addresses make a multihomed endpoint (the first is primary).  Twisted's
grammar splits on every C{:}, so an IPv6 address has its colons escaped
(C{interface=\\:\\:1}, brackets allowed: C{interface=[\\:\\:1]});
L{parseServerString} (used by C{twistd sctp-sip --listen}) also takes them
unescaped inside brackets and C{interface=} given more than once.  The
default interface is every IPv4 address (C{0.0.0.0}), as for C{tcp:}.

Client, C{sctp:host=HOST[,HOST...]:port=PORT[:bindAddress=ADDR[,ADDR...]][:timeout=SECONDS][:style=one-to-one][:OPTION=VALUE...]}
(or C{sctp:HOST:PORT}; C{host=H1,H2} for a multihomed peer):
C{connect(factory)} opens a socket of its own, bound to C{bindAddress}
(default: every address of the peer's family) and C{bindPort} (default 0,
the kernel picks), opens one association and fires with its protocol; the
socket closes when that association ends.

The options are the 19 of L{twisted_sctp.SCTPOptions}, by name (with or
without C{sctp_}), checked with the same rules as everywhere else.
C{style=one-to-one} opens C{SOCK_STREAM} sockets instead (a listening socket
and a socket per association, L{twisted_sctp.kernel.onetoone}); the
protocols, messages and options are the same, but for C{autoclose}, which
does not exist on one-to-one sockets.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import attrs
from zope.interface import implementer

from twisted.internet import defer
from twisted.internet.interfaces import (
    IProtocolFactory,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from twisted.plugin import IPlugin
from twisted.python.failure import Failure
from twisted.internet.interfaces import (
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpointStringParser,
)

from twisted_sctp.error import OptionError
from twisted_sctp.transport.address import SCTPAddress, familyOf, normalizeHost
from twisted_sctp.transport.options import SCTPOptions, normalizeName

__all__ = [
    "STYLES",
    "ClientSpec",
    "SCTPClientEndpoint",
    "SCTPClientParser",
    "SCTPEndpointError",
    "SCTPServerEndpoint",
    "SCTPServerParser",
    "ServerSpec",
    "UnsupportedStyleError",
    "parseClientArguments",
    "parseServerArguments",
    "isServerString",
    "parseServerString",
    "splitDescription",
]

#: The socket styles an C{sctp:} endpoint string may name.
STYLES = ("one-to-many", "one-to-one")
#: The styles this version can open (all of them).
SUPPORTED_STYLES = STYLES


class SCTPEndpointError(ValueError):
    """
    An C{sctp:} endpoint string cannot be used; the message says which part
    and what is allowed.
    """


class UnsupportedStyleError(SCTPEndpointError):
    """
    The endpoint string asks for a socket style this version cannot open.
    Every style of L{STYLES} can be opened now, so nothing raises it; the
    name is kept for the code that catches it.

    @ivar style: the style asked for.
    """

    def __init__(self, style: str) -> None:
        super().__init__(
            "style={}: this socket style cannot be opened; use {}".format(style, " or ".join(SUPPORTED_STYLES))
        )
        self.style = style


def _port(text: str, what: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 0 <= int(value) <= 65535:
        raise SCTPEndpointError("{}={!r}: not a port number (0-65535)".format(what, text))
    return int(value)


def _hosts(text: str, what: str) -> Tuple[str, ...]:
    out: List[str] = []
    for item in text.split(","):
        host = item.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host:
            continue
        if host.startswith("[") or host.endswith("]"):
            raise SCTPEndpointError(
                "{}={!r}: unbalanced brackets (escape an IPv6 address's colons: "
                "{}=[\\:\\:1] or {}=\\:\\:1)".format(what, text, what, what)
            )
        try:
            out.append(normalizeHost(host))
        except ValueError:
            raise SCTPEndpointError("{}={!r}: {!r} is not an IP address".format(what, text, host))
    if not out:
        raise SCTPEndpointError("{}={!r}: no address".format(what, text))
    return tuple(out)


def _style(text: str) -> str:
    style = text.strip().lower().replace("_", "-")
    if style not in STYLES:
        raise SCTPEndpointError("style={!r}: use {}".format(text, " or ".join(STYLES)))
    return style


def _options(values: Dict[str, str], allowed: Sequence[str]) -> Tuple[Dict[str, int], SCTPOptions]:
    """
    @return: the options given by name (canonical names) and the
        L{SCTPOptions} they make with the defaults.
    @raise SCTPEndpointError: an unknown keyword or a refused value.
    """
    named: Dict[str, object] = {}
    for key, value in values.items():
        try:
            name = normalizeName(key)
        except OptionError:
            raise SCTPEndpointError(
                "unknown keyword {!r}; use {} or one of the 19 SCTP options".format(key, ", ".join(allowed))
            )
        named[name] = value
    try:
        options = SCTPOptions.fromMapping(named)
    except OptionError as e:
        raise SCTPEndpointError("{}: {}".format(e.name, e.reason))
    return {name: getattr(options, name) for name in named}, options


@attrs.frozen
class ServerSpec:
    """
    What a server endpoint string says.

    @ivar port: the SCTP port (0: the kernel picks one).
    @ivar interfaces: the local addresses, primary first.
    @ivar style: the socket style.
    @ivar given: the options named in the string, by canonical name.
    @ivar options: those options over the defaults.
    """

    port: int
    interfaces: Tuple[str, ...]
    style: str = "one-to-many"
    given: Dict[str, int] = attrs.field(factory=dict)
    options: SCTPOptions = attrs.field(factory=SCTPOptions)


@attrs.frozen
class ClientSpec:
    """
    What a client endpoint string says.

    @ivar peer: the peer's address (all its addresses, for a multihomed peer).
    @ivar bindAddresses: the local addresses, primary first.
    @ivar bindPort: the local port (0: the kernel picks one).
    @ivar timeout: seconds to wait for the association to come up.
    @ivar style: the socket style.
    @ivar options: the SCTP options.
    """

    peer: SCTPAddress
    bindAddresses: Tuple[str, ...]
    bindPort: int = 0
    timeout: float = 30.0
    style: str = "one-to-many"
    options: SCTPOptions = attrs.field(factory=SCTPOptions)


_SERVER_KEYS = ("interface", "style")
_CLIENT_KEYS = ("host", "port", "bindAddress", "bindPort", "timeout", "style")


def parseServerArguments(args: Sequence[str], kwargs: Dict[str, str]) -> ServerSpec:
    """
    Convert the arguments Twisted's endpoint parser gives (C{sctp:} taken
    off) into a L{ServerSpec}.

    @raise SCTPEndpointError: a missing or bad port, address, style or
        option.
    """
    values = dict(kwargs)
    positional = list(args)
    if "port" in values and not positional:
        positional.append(values.pop("port"))
    if len(positional) != 1:
        if any(value == "" or value.endswith("]") for value in positional[1:]) or values.get("interface", "").startswith("["):
            raise SCTPEndpointError(
                "unescaped ':' in an IPv6 address: write interface=[\\:\\:1] (Twisted's endpoint grammar splits on ':')"
            )
        raise SCTPEndpointError("expected sctp:PORT[:interface=ADDR[,ADDR...]][:OPTION=VALUE...], got {} positional argument(s)".format(len(positional)))
    port = _port(positional[0], "port")
    interfaces = _hosts(values.pop("interface"), "interface") if "interface" in values else ("0.0.0.0",)
    style = _style(values.pop("style", "one-to-many"))
    given, options = _options(values, _SERVER_KEYS)
    return ServerSpec(port, interfaces, style, given, options)


def parseClientArguments(args: Sequence[str], kwargs: Dict[str, str]) -> ClientSpec:
    """
    Convert the client arguments (C{sctp:} taken off) into a L{ClientSpec}.

    @raise SCTPEndpointError: a missing or bad host, port, bind address,
        timeout, style or option.
    """
    values = dict(kwargs)
    positional = list(args)
    for name in ("host", "port"):
        if positional and name not in values:
            values[name] = positional.pop(0)
    if positional:
        raise SCTPEndpointError("unexpected argument(s) {} (escape an IPv6 address's colons: host=\\:\\:1)".format(":".join(positional)))
    if "host" not in values or "port" not in values:
        raise SCTPEndpointError("expected sctp:host=HOST:port=PORT[:bindAddress=ADDR][:OPTION=VALUE...]")
    hosts = _hosts(values.pop("host"), "host")
    port = _port(values.pop("port"), "port")
    if "bindAddress" in values:
        bind = _hosts(values.pop("bindAddress"), "bindAddress")
    else:
        bind = ("::" if familyOf(hosts[0]) != familyOf("0.0.0.0") else "0.0.0.0",)
    bindPort = _port(values.pop("bindPort", "0"), "bindPort")
    timeoutText = values.pop("timeout", "30")
    try:
        timeout = float(timeoutText)
    except ValueError:
        timeout = -1.0
    if not timeout > 0:
        raise SCTPEndpointError("timeout={!r}: not a positive number of seconds".format(timeoutText))
    style = _style(values.pop("style", "one-to-many"))
    _, options = _options(values, _CLIENT_KEYS)
    return ClientSpec(SCTPAddress(hosts[0], port, hosts), bind, bindPort, timeout, style, options)


def splitDescription(text: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """
    Split an endpoint string as Twisted does (C{:} separates, C{\\}
    escapes), but keep C{:} inside C{[...]} and keep every C{key=value}
    in order (Twisted's own parser keeps only the last of a repeated key).

    @return: the positional arguments (the prefix first) and the keyword
        pairs.
    """
    parts: List[str] = []
    current: List[str] = []
    depth = 0
    chars = iter(text)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == "[":
            depth += 1
            current.append(char)
        elif char == "]":
            depth = max(0, depth - 1)
            current.append(char)
        elif char == ":" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    positional: List[str] = []
    keywords: List[Tuple[str, str]] = []
    for part in parts:
        key, equals, value = part.partition("=")
        if equals and not (key.startswith("[") or key.startswith("(")):
            keywords.append((key, value))
        else:
            positional.append(part)
    return positional, keywords


def isServerString(text: str) -> bool:
    """
    @return: whether C{text} is an C{sctp:PORT...} endpoint string rather
        than the short C{sctp:HOST:PORT} form of C{twistd sctp-sip --listen}
        (it has a keyword, or its first argument is a port number).
    """
    positional, keywords = splitDescription(text.strip())
    if not positional or positional[0].lower() != "sctp":
        return False
    return bool(keywords) or (len(positional) >= 2 and positional[1].isascii() and positional[1].isdigit())


def parseServerString(text: str) -> ServerSpec:
    """
    Parse a whole C{sctp:PORT:interface=...} string, more leniently than
    C{serverFromString}: C{interface=[::1]} needs no escapes and
    C{interface=} may be repeated (each adds an address).

    @raise SCTPEndpointError: see L{parseServerArguments}; also a string
        that does not start with C{sctp:}.
    """
    positional, keywords = splitDescription(text.strip())
    if not positional or positional[0].lower() != "sctp":
        raise SCTPEndpointError("{!r}: not an sctp: endpoint string".format(text))
    values: Dict[str, str] = {}
    for key, value in keywords:
        if key == "interface" and key in values:
            values[key] += "," + value
        elif key in values:
            raise SCTPEndpointError("{}= given twice".format(key))
        else:
            values[key] = value
    return parseServerArguments(positional[1:], values)


@implementer(IStreamServerEndpoint)
class SCTPServerEndpoint:
    """
    A server endpoint listening with L{twisted_sctp.listenSCTP}.

    @ivar spec: what it listens on, with which options.
    """

    def __init__(self, reactor: Any, spec: ServerSpec) -> None:
        self._reactor = reactor
        self.spec = spec

    def listen(self, protocolFactory: IProtocolFactory) -> "defer.Deferred[Any]":
        """
        Start listening.

        @return: a Deferred firing with the L{twisted_sctp.SCTPPort}, or
            failing with C{CannotListenError} or
            L{twisted_sctp.error.SCTPUnavailableError}.
        """
        return defer.execute(self._openPort, protocolFactory)

    def _openPort(self, protocolFactory: IProtocolFactory) -> Any:
        from twisted_sctp import listenSCTP

        spec = self.spec
        return listenSCTP(self._reactor, spec.port, protocolFactory, spec.interfaces, spec.options, spec.style)

    def __repr__(self) -> str:
        return "<SCTPServerEndpoint {}>".format(SCTPAddress(self.spec.interfaces[0], self.spec.port, self.spec.interfaces))


class _OneAssociation:
    """
    The client socket's factory: the caller's protocol for the association
    we open, C{None} (an ABORT) for any association a peer opens to it.
    """

    def __init__(self, factory: IProtocolFactory) -> None:
        self._factory = factory
        self._built = False

    def doStart(self) -> None:
        self._factory.doStart()

    def doStop(self) -> None:
        self._factory.doStop()

    def buildProtocol(self, addr: Any) -> Any:
        if self._built:
            return None
        self._built = True
        return self._factory.buildProtocol(addr)


@implementer(IStreamClientEndpoint)
class SCTPClientEndpoint:
    """
    A client endpoint: each C{connect} opens its own one-to-many socket and
    one association on it; the socket closes when the association ends.

    @ivar spec: whom it connects to, from where, with which options.
    """

    def __init__(self, reactor: Any, spec: ClientSpec) -> None:
        self._reactor = reactor
        self.spec = spec

    def connect(self, protocolFactory: IProtocolFactory) -> "defer.Deferred[Any]":
        """
        Open an association.

        @return: a Deferred firing with the protocol the factory built for
            it once it is up; failing with L{twisted_sctp.error.ConnectError}
            (the kernel could not set it up), C{defer.TimeoutError} (not up
            within the timeout) or the bind's C{CannotListenError}.
            Cancelling it closes the socket.
        """
        from twisted_sctp.transport.registry import AssociationState

        spec = self.spec
        try:
            port = self._openPort(_OneAssociation(protocolFactory))  # type: ignore[arg-type]
        except Exception:
            return defer.fail()

        def close() -> None:
            if port.connected:
                port.stopListening()

        inner = port.connect(spec.peer)
        timedOut: List[bool] = []

        def timeUp() -> None:
            timedOut.append(True)
            inner.cancel()

        timer = self._reactor.callLater(spec.timeout, timeUp)
        outer: defer.Deferred[Any] = defer.Deferred(lambda _: inner.cancel())

        def watch(protocol: Any) -> Any:
            association = protocol.transport.association

            def observer(event: Any) -> None:
                if event.association is association and association.state == AssociationState.CLOSED:
                    port.observers.remove(observer)
                    self._reactor.callLater(0, close)

            port.observers.append(observer)
            return protocol

        def done(result: Any) -> None:
            if timer.active():
                timer.cancel()
            if isinstance(result, Failure):
                close()
                if timedOut and result.check(defer.CancelledError):
                    result = Failure(defer.TimeoutError("association to {} not up after {} s".format(spec.peer, spec.timeout)))
                outer.errback(result)
            else:
                outer.callback(watch(result))

        inner.addBoth(done)
        return outer

    def _openPort(self, protocolFactory: IProtocolFactory) -> Any:
        from twisted_sctp import listenSCTP

        spec = self.spec
        if spec.style == "one-to-one":
            # The association's own socket binds bindPort; the port's
            # listening socket takes any port.
            port = listenSCTP(self._reactor, 0, protocolFactory, spec.bindAddresses, spec.options, spec.style)
            port.backend.clientPort = spec.bindPort  # type: ignore[attr-defined]
            return port
        return listenSCTP(self._reactor, spec.bindPort, protocolFactory, spec.bindAddresses, spec.options)

    def __repr__(self) -> str:
        return "<SCTPClientEndpoint to {}>".format(self.spec.peer)


@implementer(IPlugin, IStreamServerEndpointStringParser)
class SCTPServerParser:
    """
    The C{sctp:} server endpoint string parser (see the module docstring).
    """

    prefix = "sctp"

    def parseStreamServer(self, reactor: Any, *args: object, **kwargs: object) -> SCTPServerEndpoint:
        """
        @return: an L{SCTPServerEndpoint}.
        @raise SCTPEndpointError: a bad string.
        """
        return SCTPServerEndpoint(reactor, parseServerArguments([str(a) for a in args], {k: str(v) for k, v in kwargs.items()}))


@implementer(IPlugin, IStreamClientEndpointStringParserWithReactor)
class SCTPClientParser:
    """
    The C{sctp:} client endpoint string parser (see the module docstring).
    """

    prefix = "sctp"

    def parseStreamClient(self, reactor: Any, *args: object, **kwargs: object) -> SCTPClientEndpoint:
        """
        @return: an L{SCTPClientEndpoint}.
        @raise SCTPEndpointError: a bad string.
        """
        return SCTPClientEndpoint(reactor, parseClientArguments([str(a) for a in args], {k: str(v) for k, v in kwargs.items()}))
