# -*- test-case-name: tests.test_sip -*-
"""
The datagram adapter: an application written for SIP over UDP with Twisted
(C{twisted.protocols.sip.Base}, C{Proxy}, C{RegisterProxy}, or any
C{DatagramProtocol}) runs over SCTP unchanged.

Public names are re-exported by L{twisted_sctp.sip.transport}.

  - Each SCTP message is one datagram: C{datagramReceived(payload, (host,
    port))}, the address being the peer path it came from.
  - C{transport.write(data, (host, port))} sends one SCTP message (stream 0,
    unordered, PPID 0 unless configured) on the association to that peer,
    or opens one if there is none; a reply to the address a request came
    from therefore goes back on the request's association.
  - RFC 5626 keep-alives are handled here (CRLFCRLF answered with CRLF, a
    lone CRLF dropped) and never reach the application.
  - C{rewriteVia}: the top Via of a request the application sends says
    C{SIP/2.0/UDP} (twisted.protocols.sip writes no other); it is rewritten
    to C{SIP/2.0/SCTP} so that the next hop answers over SCTP.
"""

from __future__ import annotations

import collections
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from zope.interface import implementer

from twisted.internet import defer, error as ierror
from twisted.internet.interfaces import IUDPTransport
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.logger import Logger

from twisted_sctp.transport.address import HostPort, SCTPAddress, familyOf, normalizeHost
from twisted_sctp.transport.registry import AssociationState
from twisted_sctp.error import SCTPError
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPMessage, SCTPPort
from twisted_sctp.sip.message import KEEPALIVE_PING, KEEPALIVE_PONG

_TOP_VIA_UDP = re.compile(rb"(\n(?:via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*)UDP(?=[ \t])", re.IGNORECASE)


def rewriteTopVia(data: bytes) -> bytes:
    """
    @return: C{data} with the transport of its first Via changed from UDP to
        SCTP, if it is a request whose first Via says UDP.
    """
    if data[:4].upper() == b"SIP/":
        return data
    head, sep, body = data.partition(b"\r\n\r\n")
    return _TOP_VIA_UDP.sub(rb"\1SCTP", head, count=1) + sep + body


@implementer(IUDPTransport)
class SCTPDatagramTransport:
    """
    What the adapted C{DatagramProtocol} sees as its transport.

    @ivar adapter: the L{DatagramAdapter}.
    """

    def __init__(self, adapter: "DatagramAdapter") -> None:
        self.adapter = adapter

    def write(self, packet: bytes, addr: Optional[Any] = None) -> None:
        """
        Send C{packet} as one SCTP message to C{addr} (C{(host, port)}).
        """
        if addr is None:
            raise ValueError("an SCTP datagram transport is not connected: give an address")
        self.adapter.write(packet, addr)

    def connect(self, host: str, port: int) -> None:
        """Not supported: associations are made by sending."""
        raise NotImplementedError("connected mode is not supported over SCTP; pass an address to write()")

    def getHost(self) -> SCTPAddress:  # type: ignore[override]
        """@return: the address of the first SCTP listener."""
        return self.adapter.ports[0].getHost()

    def stopListening(self) -> defer.Deferred[Any]:
        """Stop every SCTP listener of the adapter."""
        return self.adapter.stopListening()

    loseConnection = stopListening

    def setBroadcastAllowed(self, enabled: bool) -> None:
        """SCTP has no broadcast; ignored."""

    def getBroadcastAllowed(self) -> bool:
        """@return: C{False}."""
        return False


class _AdapterFactory(Factory):
    def __init__(self, adapter: "DatagramAdapter") -> None:
        self.adapter = adapter
        self.port: Optional[SCTPPort] = None

    def buildProtocol(self, addr: Any) -> "_AdapterProtocol":
        return _AdapterProtocol(self)


class _AdapterProtocol(Protocol):
    def __init__(self, factory: _AdapterFactory) -> None:
        self.adapterFactory = factory

    def messageReceived(self, message: SCTPMessage) -> None:
        self.adapterFactory.adapter.messageReceived(message, self.adapterFactory.port)


class DatagramAdapter:
    """
    Runs a C{DatagramProtocol} over one or more SCTP listeners::

        adapter = DatagramAdapter(RegisterProxy(host="127.0.0.1"), reactor)
        adapter.listen(5060, ["127.0.0.1"])

    @ivar protocol: the application.
    @ivar transport: its L{SCTPDatagramTransport}.
    @ivar ports: the L{SCTPPort}s.
    @ivar counters: C{messages_in}, C{messages_out}, C{keepalive_pings},
        C{keepalive_pongs}, C{lone_crlf}, C{application_errors},
        C{send_failed}.
    """

    log = Logger()

    def __init__(
        self,
        protocol: DatagramProtocol,
        reactor: Any = None,
        crlfPingPong: bool = True,
        crlfDrop: bool = True,
        rewriteVia: bool = True,
        ppid: int = 0,
        stream: int = 0,
        unordered: bool = True,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as _reactor

            reactor = _reactor
        self._reactor = reactor
        self.protocol = protocol
        self.crlfPingPong = crlfPingPong
        self.crlfDrop = crlfDrop
        self.rewriteVia = rewriteVia
        self.ppid = ppid
        self.stream = stream
        self.unordered = unordered
        self.transport = SCTPDatagramTransport(self)
        self.ports: List[SCTPPort] = []
        self.counters: Dict[str, int] = collections.Counter()

    def listen(
        self,
        port: int = 5060,
        interfaces: Sequence[str] = ("127.0.0.1",),
        options: Optional[SCTPOptions] = None,
        kernel: Any = None,
    ) -> SCTPPort:
        """
        Add an SCTP listener; the first one starts the protocol
        (C{makeConnection}).

        @raise twisted_sctp.error.SCTPUnavailableError: no kernel SCTP.
        @raise twisted.internet.error.CannotListenError: binding failed.
        """
        factory = _AdapterFactory(self)
        sctp = factory.port = SCTPPort(port, factory, interfaces, options, self._reactor, kernel=kernel)
        sctp.startListening()
        self.ports.append(sctp)
        if len(self.ports) == 1:
            self.protocol.makeConnection(self.transport)
        return sctp

    def stopListening(self) -> defer.Deferred[Any]:
        """Stop every listener and the protocol."""
        ports, self.ports = self.ports, []
        waits = [defer.maybeDeferred(p.stopListening) for p in ports]
        if ports:
            self.protocol.doStop()
        return defer.gatherResults(waits)

    def messageReceived(self, message: SCTPMessage, port: Optional[SCTPPort]) -> None:
        """
        One SCTP message on C{port}: a keep-alive, or a datagram for the
        application.
        """
        data = message.payload
        if data == KEEPALIVE_PING:
            self.counters["keepalive_pings"] += 1
            if self.crlfPingPong and self._send(port, KEEPALIVE_PONG, message.association):
                self.counters["keepalive_pongs"] += 1
            return
        if data == KEEPALIVE_PONG and self.crlfDrop:
            self.counters["lone_crlf"] += 1
            return
        self.counters["messages_in"] += 1
        try:
            self.protocol.datagramReceived(data, message.source)
        except Exception as e:
            # twisted.protocols.sip raises on much malformed input, so this
            # is a warning naming the exception, without a traceback.
            self.counters["application_errors"] += 1
            self.log.warn("{protocol} raised {error!r} on a message from {source}", protocol=type(self.protocol).__name__, error=e, source=message.source)

    def _portFor(self, address: HostPort) -> Optional[SCTPPort]:
        if not self.ports:
            return None
        for port in self.ports:
            if port.registry.byPeer(address) is not None:
                return port
        family = familyOf(address[0])
        for port in self.ports:
            if port.family == family:
                return port
        return self.ports[0]

    def write(self, data: bytes, addr: Any) -> None:
        """
        Send C{data} as one SCTP message to C{addr}; failures are counted
        and logged, as a lost datagram would be.
        """
        try:
            address: Tuple[str, int] = (normalizeHost(str(addr[0]).strip("[]")), int(addr[1]))
        except (ValueError, TypeError, IndexError):
            self.counters["send_failed"] += 1
            self.log.warn("cannot send to {addr!r}: not an IP address and port", addr=addr)
            return
        if self.rewriteVia:
            data = rewriteTopVia(data)
        port = self._portFor(address)
        target: Any = address
        if port is not None:
            assoc = port.registry.byPeer(address)
            if assoc is not None and assoc.upSeen and assoc.state != AssociationState.CLOSED:
                target = assoc
        if self._send(port, data, target):
            self.counters["messages_out"] += 1

    def _send(self, port: Optional[SCTPPort], data: bytes, target: Any) -> bool:
        if port is None:
            self.counters["send_failed"] += 1
            return False
        try:
            port.sendMessage(data, target, self.stream, self.ppid, self.unordered)
        except (SCTPError, OSError, ValueError, ierror.NotListeningError) as e:
            self.counters["send_failed"] += 1
            self.log.warn("datagram to {target} not sent: {err}", target=getattr(target, "peer", target), err=e)
            return False
        return True


def listenDatagramSCTP(
    reactor: Any,
    port: int,
    protocol: DatagramProtocol,
    interfaces: Sequence[str] = ("127.0.0.1",),
    options: Optional[SCTPOptions] = None,
    **settings: Any,
) -> SCTPDatagramTransport:
    """
    The SCTP counterpart of C{reactor.listenUDP(port, protocol, interface)}.

    @param settings: L{DatagramAdapter} keywords (C{crlfPingPong}, C{ppid},
        ...).
    @return: the protocol's transport; C{.adapter} is the L{DatagramAdapter}.
    """
    adapter = DatagramAdapter(protocol, reactor, **settings)
    adapter.listen(port, interfaces, options)
    return adapter.transport
