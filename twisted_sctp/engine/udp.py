# -*- test-case-name: tests.test_engine_udp -*-
"""
The RFC 6951 carrier: a Twisted UDP protocol that feeds the sans-io
L{Endpoint}s datagrams, sends what they produce, delivers their events,
and keeps one reactor timer armed at their next timeout.

One local UDP port (default 9899) carries every association of every
local SCTP port registered on it.  The peer's UDP port is learned per
association from the source port of what it sends (section 5.4); the
carrier's C{encapPort} is used for associations we start.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from twisted_sctp.engine.chunks import decodePacket
from twisted_sctp.engine.endpoint import Endpoint
from twisted_sctp.engine.errors import CodecError
from twisted_sctp.engine.events import Event

#: The IANA port for SCTP over UDP.
SCTP_UDP_PORT = 9899

#: The largest UDP payload we read (Twisted's default is 8 KB).
MAX_DATAGRAM = 65535


class UDPCarrier(DatagramProtocol):
    """
    SCTP endpoints over one UDP socket.

    @ivar onEvent: called with C{(endpoint, event)} for every engine event.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        onEvent: Callable[[Endpoint, Event], None],
        encapPort: int = SCTP_UDP_PORT,
    ) -> None:
        self._clock = clock
        self.onEvent = onEvent
        self.encapPort = encapPort
        self.endpoints: Dict[int, Endpoint] = {}
        self._timer: Optional[IDelayedCall] = None
        self.dropped = 0

    def logPrefix(self) -> str:
        return "SCTP/UDP"

    def addEndpoint(self, endpoint: Endpoint) -> Endpoint:
        """
        Carry C{endpoint}'s local SCTP port on this UDP port.
        """
        endpoint.defaultUDPPort = self.encapPort
        self.endpoints[endpoint.localPort] = endpoint
        return endpoint

    def startProtocol(self) -> None:
        port = self.transport
        if hasattr(port, "maxPacketSize"):
            port.maxPacketSize = MAX_DATAGRAM  # type: ignore[union-attr]

    def stopProtocol(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def now(self) -> float:
        return self._clock.seconds()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        host, udpPort = addr[0], addr[1]
        if len(datagram) < 12:
            self.dropped += 1
            return
        dst = int.from_bytes(datagram[2:4], "big")
        endpoint = self.endpoints.get(dst)
        if endpoint is None:
            endpoint = next(iter(self.endpoints.values()), None)
            if endpoint is None:
                self.dropped += 1
                return
        now = self.now()
        endpoint.receiveDatagram(datagram, host, udpPort, now)
        self.pump(now)

    def pump(self, now: Optional[float] = None) -> None:
        """
        Send every queued datagram, deliver every event, and re-arm the
        timer.  Call after driving an endpoint from outside (send, connect).

        @param now: the clock's time if the caller just read it (a clock
            read is a system call on some kernels, user-mode Linux among
            them).
        """
        for endpoint in list(self.endpoints.values()):
            for payload, host, port in endpoint.datagramsToSend():
                try:
                    self.transport.write(payload, (host, port))  # type: ignore[union-attr]
                except OSError as e:
                    self.log.warn("UDP send to {host}:{port} failed: {error}", host=host, port=port, error=e)
            while True:
                event = endpoint.nextEvent()
                if event is None:
                    break
                try:
                    self.onEvent(endpoint, event)
                except Exception:
                    self.log.failure("while delivering {event}", event=event)
            # Callbacks may have sent more (with flush=False: bundled now).
            if endpoint.sendsPending:
                endpoint.flushPending(self.now() if now is None else now)
            for payload, host, port in endpoint.datagramsToSend():
                try:
                    self.transport.write(payload, (host, port))  # type: ignore[union-attr]
                except OSError as e:
                    self.log.warn("UDP send to {host}:{port} failed: {error}", host=host, port=port, error=e)
        self._arm(now)

    def _arm(self, now: Optional[float] = None) -> None:
        times = [t for t in (e.nextTimeout() for e in self.endpoints.values()) if t is not None]
        timer = self._timer
        if not times:
            if timer is not None and timer.active():
                timer.cancel()
            self._timer = None
            return
        deadline = min(times)
        delay = max(0.0, deadline - (self.now() if now is None else now))
        if timer is not None and timer.active():
            if timer.getTime() != deadline:
                timer.reset(delay)
            return
        self._timer = self._clock.callLater(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.now()
        for endpoint in list(self.endpoints.values()):
            endpoint.handleTimer(now)
        self.pump(now)


def describe(datagram: bytes) -> str:
    """
    @return: a one-line summary of an encapsulated packet, for logs.
    """
    try:
        p = decodePacket(datagram, verify=False)
    except CodecError as e:
        return "malformed ({})".format(e)
    return "{}->{} vtag={:#x} {}".format(p.srcPort, p.dstPort, p.vtag, ",".join(type(c).__name__ for c in p.chunks))
