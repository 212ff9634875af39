# -*- test-case-name: tests.test_sip -*-
"""
The datagram adapter: an application written for SIP over UDP with Twisted
(C{twisted.protocols.sip.Base}, C{Proxy}, C{RegisterProxy}, or any
C{DatagramProtocol}) runs over SCTP unchanged.

Public names are re-exported by L{twisted_sctp.sip}.  The adapter is built
on L{twisted_sctp.sip.transport}: its routing (L{chooseListener}: the port
and the open association to a peer) and its keep-alives (L{keepAlive}).

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

from typing import Any, List, Optional, Sequence, Tuple

from zope.interface import implementer

from twisted.internet import defer
from twisted.internet.interfaces import IUDPTransport
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.logger import Logger

from twisted_sctp.counters import Counters
from twisted_sctp.sip.base import _SEND_ERRORS
from twisted_sctp.sip.edit import rewriteTopVia
from twisted_sctp.sip.transport import chooseListener, keepAlive
from twisted_sctp.transport.address import SCTPAddress, normalizeHost
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPMessage, SCTPPort

__all__ = ["AdapterCounters", "DatagramAdapter", "SCTPDatagramTransport", "listenDatagramSCTP", "rewriteTopVia"]


class AdapterCounters(Counters):
    """
    What the adapter did.

    @ivar messages_in: datagrams given to the application.
    @ivar messages_out: datagrams it sent.
    @ivar keepalive_pings: CRLFCRLF keep-alives received.
    @ivar keepalive_pongs: CRLF answers sent.
    @ivar lone_crlf: lone CRLF messages dropped.
    @ivar application_errors: datagrams the application raised on.
    @ivar send_failed: datagrams that could not be sent.
    """

    messages_in: int
    messages_out: int
    keepalive_pings: int
    keepalive_pongs: int
    lone_crlf: int
    application_errors: int
    send_failed: int


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
        self.counters = AdapterCounters()

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
        if len(data) <= 4:
            assoc = message.association

            def pong(data: bytes) -> bool:
                return self._send(port, data, assoc)

            if keepAlive(data, self.counters, self.crlfPingPong, self.crlfDrop, pong):
                return
        self.counters.messages_in += 1
        try:
            self.protocol.datagramReceived(data, message.source)
        except Exception as e:
            # twisted.protocols.sip raises on much malformed input, so this
            # is a warning naming the exception, without a traceback.
            self.counters.application_errors += 1
            self.log.warn("{protocol} raised {error!r} on a message from {source}", protocol=type(self.protocol).__name__, error=e, source=message.source)

    def write(self, data: bytes, addr: Any) -> None:
        """
        Send C{data} as one SCTP message to C{addr}, on the association to
        it while open, else opening one (L{chooseListener}); failures are
        counted and logged, as a lost datagram would be.
        """
        try:
            address: Tuple[str, int] = (normalizeHost(str(addr[0]).strip("[]")), int(addr[1]))
        except (ValueError, TypeError, IndexError):
            self.counters.send_failed += 1
            self.log.warn("cannot send to {addr!r}: not an IP address and port", addr=addr)
            return
        if self.rewriteVia:
            data = rewriteTopVia(data)
        chosen = chooseListener(self.ports, address)
        if chosen is None:
            self.counters.send_failed += 1
            return
        index, assoc = chosen
        if self._send(self.ports[index], data, assoc if assoc is not None else address):
            self.counters.messages_out += 1

    def _send(self, port: Optional[SCTPPort], data: bytes, target: Any) -> bool:
        if port is None:
            self.counters.send_failed += 1
            return False
        try:
            port.sendMessage(data, target, self.stream, self.ppid, self.unordered)
        except _SEND_ERRORS as e:
            self.counters.send_failed += 1
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
