# -*- test-case-name: tests.test_engine_endpoints -*-
"""
C{sctp+udp:} endpoints: SCTP carried in UDP (RFC 6951) by the user-space
engine, for C{serverFromString} / C{clientFromString} (registered by
C{twisted/plugins/twisted_sctp_endpoints.py}) and C{twistd sctp-sip
--listen}.

Server, C{sctp+udp:PORT[:interface=ADDR][:udp_port=N][:encap_port=N][:mtu=N][:OPTION=VALUE...]}::

    serverFromString(reactor, "sctp+udp:5060:interface=127.0.0.1:udp_port=9900")

Client, C{sctp+udp:host=H:port=P[:udp_port=N][:encap_port=N][:mtu=N][:bindAddress=ADDR][:timeout=S][:OPTION=VALUE...]}::

    clientFromString(reactor, "sctp+udp:host=127.0.0.1:port=5060:encap_port=9899")

The names are Linux's (C{net.sctp.udp_port}, C{net.sctp.encap_port}):
C{udp_port} is our local UDP port (default 9899 for a server, any free
port for a client), C{encap_port} the peer's UDP port for associations we
open (default 9899).  C{mtu=N} is the largest SCTP packet sent (the
UDP payload; default 1200, at most 65507): on the loopback a large value
(65000) lets several DATA chunks share a packet.  One address per endpoint: the engine has no
multihoming.  C{twistd sctp-sip --listen} also takes the short form
C{sctp+udp:HOST:PORT[:udp_port=N][:encap_port=N]} (L{parseUDPListen}).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import attrs
from zope.interface import implementer

from twisted.internet.interfaces import (
    IProtocolFactory,
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import IPlugin

from twisted_sctp.endpoints import (
    ClientSpec,
    SCTPClientEndpoint,
    SCTPEndpointError,
    SCTPServerEndpoint,
    ServerSpec,
    _port,
    parseClientArguments,
    parseServerArguments,
    splitDescription,
)
from twisted_sctp.engine.udp import SCTP_UDP_PORT

__all__ = [
    "PREFIX",
    "SCTPOverUDPClientEndpoint",
    "SCTPOverUDPClientParser",
    "SCTPOverUDPServerEndpoint",
    "SCTPOverUDPServerParser",
    "UDPClientSpec",
    "UDPServerSpec",
    "isUDPString",
    "parseUDPListen",
    "parseUDPServerArguments",
    "parseUDPClientArguments",
]

PREFIX = "sctp+udp"


@attrs.frozen
class UDPServerSpec:
    """
    An C{sctp+udp:} server string: the L{ServerSpec} and the UDP ports.
    """

    spec: ServerSpec
    udpPort: int = SCTP_UDP_PORT
    encapPort: int = SCTP_UDP_PORT
    mtu: Optional[int] = None


@attrs.frozen
class UDPClientSpec:
    """
    An C{sctp+udp:} client string: the L{ClientSpec} and the UDP ports.
    """

    spec: ClientSpec
    udpPort: int = 0
    encapPort: int = SCTP_UDP_PORT
    mtu: Optional[int] = None


def _mtu(values: Dict[str, str]) -> Optional[int]:
    if "mtu" not in values:
        return None
    text = values.pop("mtu")
    from twisted_sctp.engine.config import MAX_MTU

    try:
        mtu = int(text)
    except ValueError:
        mtu = 0
    if not 256 <= mtu <= MAX_MTU:
        raise SCTPEndpointError("mtu={!r}: give the largest SCTP packet in bytes, 256..{}".format(text, MAX_MTU))
    return mtu


def _udpPorts(values: Dict[str, str], udpDefault: int) -> Tuple[int, int]:
    udpPort = _port(values.pop("udp_port"), "udp_port") if "udp_port" in values else udpDefault
    encapPort = _port(values.pop("encap_port"), "encap_port") if "encap_port" in values else SCTP_UDP_PORT
    if encapPort == 0:
        raise SCTPEndpointError("encap_port=0: the peer's UDP port must be given (1..65535)")
    return udpPort, encapPort


def parseUDPServerArguments(args: Sequence[str], kwargs: Dict[str, str]) -> UDPServerSpec:
    """
    Convert the arguments Twisted's parser gives (C{sctp+udp:} taken off).

    @raise SCTPEndpointError: a bad port, address, UDP port or option, or
        more than one address.
    """
    values = dict(kwargs)
    udpPort, encapPort = _udpPorts(values, SCTP_UDP_PORT)
    mtu = _mtu(values)
    spec = parseServerArguments(args, values)
    if spec.style != "one-to-many":
        raise SCTPEndpointError("style={}: the UDP engine is one-to-many only".format(spec.style))
    if len(spec.interfaces) != 1:
        raise SCTPEndpointError("interface={}: the UDP engine listens on one address".format(",".join(spec.interfaces)))
    return UDPServerSpec(spec, udpPort, encapPort, mtu)


def parseUDPClientArguments(args: Sequence[str], kwargs: Dict[str, str]) -> UDPClientSpec:
    """
    Convert the client arguments (C{sctp+udp:} taken off).

    @raise SCTPEndpointError: see L{parseClientArguments}; also a bad UDP
        port.
    """
    values = dict(kwargs)
    udpPort, encapPort = _udpPorts(values, 0)
    mtu = _mtu(values)
    spec = parseClientArguments(args, values)
    if len(spec.bindAddresses) != 1 or len(spec.peer.paths()) != 1:
        raise SCTPEndpointError("the UDP engine has one address per endpoint and per peer")
    return UDPClientSpec(spec, udpPort, encapPort, mtu)


def isUDPString(text: str) -> bool:
    """
    @return: whether C{text} names the UDP-encapsulated transport.
    """
    return text.strip().lower().startswith(PREFIX + ":")


def parseUDPListen(text: str) -> UDPServerSpec:
    """
    Parse a C{--listen} value: C{sctp+udp:HOST:PORT[:udp_port=N][:encap_port=N]}
    (IPv6 in brackets: C{sctp+udp:[::1]:5060}) or the server endpoint
    string C{sctp+udp:PORT:interface=ADDR...}.

    @raise SCTPEndpointError: a bad string.
    """
    positional, keywords = splitDescription(text.strip())
    if not positional or positional[0].lower() != PREFIX:
        raise SCTPEndpointError("{!r}: not an sctp+udp: string".format(text))
    values: Dict[str, str] = {}
    for key, value in keywords:
        if key in values:
            raise SCTPEndpointError("{}= given twice".format(key))
        values[key] = value
    args = positional[1:]
    if len(args) == 2:
        if "interface" in values:
            raise SCTPEndpointError("give the address once: sctp+udp:HOST:PORT or sctp+udp:PORT:interface=HOST")
        host, port = args
        values["interface"] = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        args = [port]
    return parseUDPServerArguments(args, values)


def _backend(reactor: Any, udpPort: int, encapPort: int) -> Any:
    from twisted_sctp.engine.backend import EngineBackend

    return EngineBackend(reactor, udpPort, encapPort)


class SCTPOverUDPServerEndpoint(SCTPServerEndpoint):
    """
    A server endpoint listening with the UDP engine
    (L{twisted_sctp.engine.backend.listenSCTPOverUDP}).
    """

    def __init__(self, reactor: Any, udpSpec: UDPServerSpec) -> None:
        super().__init__(reactor, udpSpec.spec)
        self.udpSpec = udpSpec

    def _openPort(self, protocolFactory: IProtocolFactory) -> Any:
        from twisted_sctp.engine.backend import listenSCTPOverUDP

        u = self.udpSpec
        return listenSCTPOverUDP(self._reactor, u.spec.port, protocolFactory, u.spec.interfaces[0], u.spec.options, u.udpPort, u.encapPort, u.mtu)

    def __repr__(self) -> str:
        u = self.udpSpec
        return "<SCTPOverUDPServerEndpoint {}:{} udp_port={}>".format(u.spec.interfaces[0], u.spec.port, u.udpPort)


class SCTPOverUDPClientEndpoint(SCTPClientEndpoint):
    """
    A client endpoint: each C{connect} opens its own engine port (on its
    own UDP port) and one association on it.
    """

    def __init__(self, reactor: Any, udpSpec: UDPClientSpec) -> None:
        super().__init__(reactor, udpSpec.spec)
        self.udpSpec = udpSpec

    def _openPort(self, protocolFactory: IProtocolFactory) -> Any:
        from twisted_sctp.engine.backend import listenSCTPOverUDP

        u = self.udpSpec
        return listenSCTPOverUDP(self._reactor, u.spec.bindPort, protocolFactory, u.spec.bindAddresses[0], u.spec.options, u.udpPort, u.encapPort, u.mtu)

    def __repr__(self) -> str:
        return "<SCTPOverUDPClientEndpoint to {} encap_port={}>".format(self.spec.peer, self.udpSpec.encapPort)


@implementer(IPlugin, IStreamServerEndpointStringParser)
class SCTPOverUDPServerParser:
    """
    The C{sctp+udp:} server endpoint string parser.
    """

    prefix = PREFIX

    def parseStreamServer(self, reactor: Any, *args: object, **kwargs: object) -> SCTPOverUDPServerEndpoint:
        """
        @raise SCTPEndpointError: a bad string.
        """
        spec = parseUDPServerArguments([str(a) for a in args], {k: str(v) for k, v in kwargs.items()})
        return SCTPOverUDPServerEndpoint(reactor, spec)


@implementer(IPlugin, IStreamClientEndpointStringParserWithReactor)
class SCTPOverUDPClientParser:
    """
    The C{sctp+udp:} client endpoint string parser.
    """

    prefix = PREFIX

    def parseStreamClient(self, reactor: Any, *args: object, **kwargs: object) -> SCTPOverUDPClientEndpoint:
        """
        @raise SCTPEndpointError: a bad string.
        """
        spec = parseUDPClientArguments([str(a) for a in args], {k: str(v) for k, v in kwargs.items()})
        return SCTPOverUDPClientEndpoint(reactor, spec)
