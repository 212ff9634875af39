# -*- test-case-name: tests.test_sip -*-
"""
SIP over SCTP (RFC 4168) on L{twisted_sctp.transport.port.SCTPPort}.

L{SIPTransport} is the SIP transport layer of a server: it owns one or more
listeners (an SCTP port each, plus an optional UDP socket on the same address
and port for C{transport=udp} peers), turns every SCTP message into exactly
one SIP message with L{twisted_sctp.sip.parser.parseMessage}, and hands
requests and responses to an L{ISIPReceiver} (the application, for example
L{twisted_sctp.sip.server.SIPServer}) with their L{Origin}.

Receive rules:
  - one SIP message per SCTP message, whatever its stream and PPID;
  - RFC 5626 keep-alive: a message that is exactly CRLFCRLF is answered with a
    CRLF message on the same association (C{crlfPingPong}); a lone CRLF is
    dropped quietly (C{crlfDrop}), as OpenSIPS' C{tcp_crlf_pingpong} and
    C{tcp_crlf_drop} do;
  - malformed input is answered (400, or the parser's 505/513 hint) where a
    reply can be routed, otherwise dropped; both are counted and logged as a
    warning, never with a traceback;
  - the top Via of a request gets C{received}/C{rport} (RFC 3261 18.2.1,
    RFC 3581) when the source address differs or C{rport} was asked for.

Send rules: stream 0, unordered, PPID 0 unless configured (RFC 4168).  A
response to a request goes back on the association the request came on
(C{assoc_reuse}; the port falls back to the peer address if the kernel says
the association is gone); if our record of that association is already
closed, it goes to the address of the top Via (C{received}, C{rport},
sent-by; RFC 3261 18.2.2).  The port applies C{send_retries} and
C{send_ttl}.

This is the only SIP module that knows SCTP associations: it answers "is
this origin still open?" (L{SIPTransport.isOpen}), "where does this flow
token go?" (L{SIPTransport.flowDestination}) and "where does this reply
go?" (L{SIPTransport.replyDestination}, the one place replies are routed),
and keeps RFC 5626 keep-alives (L{keepAlive}, also used by the datagram
adapter of L{twisted_sctp.sip.adapter}).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import attrs

from twisted.internet import defer, error as ierror
from twisted.internet.interfaces import IReactorUDP
from twisted.internet.protocol import DatagramProtocol, Factory, Protocol
from twisted.logger import Logger

from twisted_sctp.counters import Counters
from twisted_sctp.sip.base import (
    _SEND_ERRORS, DEFAULT_PORT, SCTP, UDP, Destination, ISIPReceiver, Origin, SIPSettings,
    SIPStats, _snippet, _WarningLimiter, viaDestination,
)
from twisted_sctp.sip.edit import fixTopVia
from twisted_sctp.sip.flow import decodeFlowToken, encodeFlowToken, stableTag
from twisted_sctp.sip.headers import Via
from twisted_sctp.sip.message import (
    KEEPALIVE_PING, KEEPALIVE_PONG, LocalSIPError, SIPMessage, SIPParseError, SIPRequest,
    SIPResponse, makeErrorResponse, makeResponse,
)
from twisted_sctp.sip.parser import parseMessage
from twisted_sctp.transport.address import HostPort, familyOf, normalizeHost
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPMessage, SCTPPort

__all__ = [
    "DEFAULT_PORT", "SCTP", "UDP", "Destination", "ISIPReceiver", "Listener", "Origin",
    "SIPSettings", "SIPStats", "SIPTransport", "chooseListener", "decodeFlowToken",
    "encodeFlowToken", "isOpen", "keepAlive", "stableTag", "viaDestination",
]


def _topVia(message: SIPMessage) -> Optional[Via]:
    """@return: the top Via of C{message}, or C{None} if it has none or it is malformed."""
    try:
        return message.topVia
    except SIPParseError:
        return None


def isOpen(association: Any) -> bool:
    """
    @return: whether C{association} (a record of the port's registry, or
        C{None}) can be sent on now: it came up and has not closed.
    """
    return association is not None and bool(association.isOpen())


def chooseListener(
    ports: Sequence[SCTPPort], address: HostPort, hint: Optional[int] = None, usable: Optional[Sequence[int]] = None
) -> Optional[Tuple[int, Optional[Any]]]:
    """
    Choose the SCTP port to send to C{address} from: one whose registry
    knows that peer (with its association while open), else C{hint}, else
    the first of C{address}'s family, else the first.

    @param usable: the indexes of the ports that may be chosen (default:
        all).
    @return: C{(index, open association or None)}, or C{None} if no port
        may be chosen.
    """
    indexes = range(len(ports)) if usable is None else usable
    if not indexes:
        return None
    for index in indexes:
        known = ports[index].registry.byPeer(address)
        if known is not None:
            return index, known if known.isOpen() else None
    if hint is not None and hint in indexes:
        return hint, None
    family = familyOf(address[0])
    return next((i for i in indexes if ports[i].family == family), indexes[0]), None


def keepAlive(
    data: bytes, counters: Counters, pingPong: bool, dropCRLF: bool, pong: Optional[Callable[[bytes], bool]]
) -> bool:
    """
    RFC 5626 keep-alives, the one place they are handled: a message that is
    exactly CRLFCRLF is answered with a CRLF message through C{pong} (when
    C{pingPong} and there is a C{pong}; else counted as
    C{keepalive_unanswered}); a lone CRLF is dropped quietly when
    C{dropCRLF}.  Counted in C{counters} (C{keepalive_pings},
    C{keepalive_pongs}, C{lone_crlf}).

    @param pong: sends its argument back where C{data} came from; returns
        whether it was sent.
    @return: whether C{data} was a keep-alive (and so not a message).
    """
    if data == KEEPALIVE_PING:
        counters.count("keepalive_pings")
        if pingPong and pong is not None:
            if pong(KEEPALIVE_PONG):
                counters.count("keepalive_pongs")
        else:
            counters.drop("keepalive_unanswered")
        return True
    if data == KEEPALIVE_PONG and dropCRLF:
        counters.count("lone_crlf")
        return True
    return False


@attrs.define(eq=False)
class Listener:
    """
    One SIP listening address: an SCTP port and, optionally, a UDP port on
    the same primary address and port number.

    @ivar index: its position in L{SIPTransport.listeners}.
    @ivar sctp: the SCTP port.
    @ivar udp: the UDP port, or C{None}.
    """

    index: int
    sctp: SCTPPort
    udp: Optional[Any] = None

    @property
    def hosts(self) -> Tuple[str, ...]:
        """Every local address (primary first)."""
        return tuple(self.sctp.interfaces)

    @property
    def port(self) -> int:
        """The bound port number."""
        return self.sctp.boundPort

    def reaches(self, host: str) -> bool:
        """@return: whether this listener can send to C{host}'s family."""
        family = familyOf(host)
        return any(familyOf(h) == family or h in ("0.0.0.0", "::") for h in self.hosts)


#: How many distinct (host, port, domains) L{SIPTransport.isLocal} remembers.
_LOCAL_CACHE_SIZE = 1024

#: The headers a request must have besides Via (RFC 3261 8.1.1), and their
#: canonical names.
_REQUIRED = (("From", "from"), ("To", "to"), ("Call-ID", "call-id"), ("CSeq", "cseq"))


class _SIPFactory(Factory):
    """Builds the L{_SIPProtocol} of each association of one listener."""

    def __init__(self, transport: "SIPTransport", index: int) -> None:
        self.sip = transport
        self.index = index

    def buildProtocol(self, addr: Any) -> "_SIPProtocol":
        return _SIPProtocol(self.sip, self.index)


class _SIPProtocol(Protocol):
    """
    One association's protocol: every SCTP message goes to the SIP layer
    (L{SIPTransport.dataReceived}), with the L{Origin} of the association's
    last message (frozen: made again only when the source address changes).
    """

    def __init__(self, transport: "SIPTransport", index: int) -> None:
        self.sip = transport
        self.index = index
        self._origin: Optional[Origin] = None

    def messageReceived(self, message: SCTPMessage) -> None:
        origin = self._origin
        if origin is None or origin.address != message.source or origin.association is not message.association:
            origin = self._origin = Origin(SCTP, self.index, message.source, message.association)
        self.sip.dataReceived(message.payload, origin)


class _UDPProtocol(DatagramProtocol):
    """The UDP side of a listener."""

    def __init__(self, transport: "SIPTransport", index: int) -> None:
        self.sip = transport
        self.index = index

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        try:
            source = (normalizeHost(addr[0]), int(addr[1]))
        except (ValueError, TypeError, IndexError):
            return
        self.sip.dataReceived(datagram, Origin(UDP, self.index, source))


class SIPTransport:
    """
    The SIP transport layer over SCTP (and UDP) listeners.

    @ivar receiver: the L{ISIPReceiver} given every well-formed message.
    @ivar settings: the L{SIPSettings}.
    @ivar stats: the L{SIPStats}.
    @ivar listeners: the L{Listener}s, in the order they were started.
    """

    log = Logger()

    def __init__(self, reactor: Any, receiver: Optional[Any] = None, settings: Optional[SIPSettings] = None) -> None:
        self._reactor = reactor
        self.receiver = receiver
        self.settings = settings if settings is not None else SIPSettings()
        self.stats = SIPStats()
        self.listeners: List[Listener] = []
        self._warnings = _WarningLimiter(reactor)
        #: The lean path (L{twisted_sctp.sip.server.SIPServer.leanReceived}),
        #: tried first on each message: C{True} when it answered it.
        self.lean: Optional[Callable[[bytes, Origin], bool]] = None
        #: L{isLocal}'s answers (the same hosts, message after message),
        #: forgotten when the listeners change.
        self._local: Dict[Tuple[str, Optional[int], Tuple[str, ...]], bool] = {}

    # -- listeners -------------------------------------------------------

    def listen(
        self,
        hosts: Sequence[str] = ("127.0.0.1",),
        port: int = DEFAULT_PORT,
        options: Optional[SCTPOptions] = None,
        kernel: Any = None,
    ) -> Listener:
        """
        Start a listener: an SCTP port on C{hosts} (several: multihomed), and
        unless C{settings.udp} is off a UDP port on the primary host and the
        same port number (a UDP failure is logged, not fatal).

        @raise twisted_sctp.error.SCTPUnavailableError: no kernel SCTP.
        @raise twisted.internet.error.CannotListenError: binding failed.
        """
        index = len(self.listeners)
        sctp = SCTPPort(port, _SIPFactory(self, index), hosts, options, self._reactor, kernel=kernel)
        sctp.startListening()
        listener = Listener(index, sctp)
        self._local.clear()
        if self.settings.udp and IReactorUDP.providedBy(self._reactor):
            try:
                listener.udp = self._reactor.listenUDP(sctp.getHost().port, _UDPProtocol(self, index), sctp.interfaces[0], 65535)
            except ierror.CannotListenError as e:
                self.log.warn("no UDP on {host}:{port} ({err}); contacts with transport=udp are unreachable from it", host=sctp.interfaces[0], port=sctp.getHost().port, err=e.socketError)
        self.listeners.append(listener)
        return listener

    def stopListening(self) -> defer.Deferred[Any]:
        """
        Stop every listener.
        """
        waits = []
        for listener in self.listeners:
            waits.append(defer.maybeDeferred(listener.sctp.stopListening))
            if listener.udp is not None:
                waits.append(defer.maybeDeferred(listener.udp.stopListening))
        self.listeners = []
        self._local.clear()
        return defer.gatherResults(waits)

    def isLocal(self, host: str, port: Optional[int] = None, extraHosts: Iterable[str] = ()) -> bool:
        """
        @param host: a host from a URI or Via (IP literal or name).
        @param port: its port, C{None} if it had none (matches any of ours).
        @param extraHosts: names that count as ours (configured domains).
        @return: whether C{host}:C{port} is one of our listening addresses.
        """
        key = (host, port, extraHosts) if isinstance(extraHosts, tuple) else None
        if key is not None:
            known = self._local.get(key)
            if known is not None:
                return known
        local = self._isLocal(host, port, extraHosts)
        if key is not None:
            if len(self._local) >= _LOCAL_CACHE_SIZE:
                self._local.clear()
            self._local[key] = local
        return local

    def _isLocal(self, host: str, port: Optional[int], extraHosts: Iterable[str]) -> bool:
        try:
            host = normalizeHost(host.strip("[]"))
        except ValueError:
            host = host.lower()
        for listener in self.listeners:
            sctp = listener.sctp
            hosts = sctp.interfaces
            hostMatch = host in hosts or host in extraHosts or "0.0.0.0" in hosts or "::" in hosts
            if hostMatch and (port is None or port == sctp.boundPort):
                return True
        return False

    def reachesUs(self, host: str, port: int) -> bool:
        """
        @return: whether a message sent to C{host}:C{port} comes back to us:
            one of our listening addresses (L{isLocal}), or the unspecified
            address (C{0.0.0.0}, C{::}: the kernel sends to a local address)
            with one of our ports.
        """
        if self.isLocal(host, port):
            return True
        try:
            host = normalizeHost(host.strip("[]"))
        except ValueError:
            return False
        return host in ("0.0.0.0", "::") and any(entry.port == port for entry in self.listeners)

    def localAddress(self, listener: int) -> HostPort:
        """@return: the primary address and port of listener C{listener}."""
        entry = self.listeners[listener]
        return entry.hosts[0], entry.port

    def route(self, transport: str, address: HostPort, hint: Optional[int] = None) -> Optional[Destination]:
        """
        Choose the listener to send to C{address} from: one with an
        association to it, else C{hint} if it can reach that family, else the
        first that can (L{chooseListener}).

        @return: the L{Destination}, or C{None} if no listener can send
            there over C{transport}.
        """
        try:
            address = (normalizeHost(address[0].strip("[]")), int(address[1]))
        except ValueError:
            return None
        usable = [entry.index for entry in self.listeners if (entry.udp is not None if transport == UDP else transport == SCTP) and entry.reaches(address[0])]
        if transport == UDP:
            if not usable:
                return None
            return Destination(UDP, hint if hint in usable else usable[0], address)
        chosen = chooseListener([entry.sctp for entry in self.listeners], address, hint, usable)
        if chosen is None:
            return None
        return Destination(SCTP, chosen[0], address, chosen[1])

    def isOpen(self, origin: Origin) -> bool:
        """
        @return: whether the association C{origin} came on is open (where
            replies to it go); C{False} for UDP.
        """
        return origin.transport == SCTP and isOpen(origin.association)

    def flowDestination(self, token: Optional[str]) -> Optional[Destination]:
        """
        @param token: the C{i} parameter of our Via (L{encodeFlowToken}).
        @return: the open association it names, or C{None}.
        """
        decoded = decodeFlowToken(token)
        if decoded is None or decoded[1] >= len(self.listeners):
            return None
        assocID, index = decoded
        assoc = self.listeners[index].sctp.registry.byID(assocID)
        if assoc is None or not assoc.isOpen():
            return None
        return Destination(SCTP, index, assoc.peer.paths()[0], assoc)

    def replyDestination(
        self, response: SIPMessage, origin: Optional[Origin] = None, token: Optional[str] = None, hint: Optional[int] = None
    ) -> Optional[Destination]:
        """
        Where C{response} goes: the one place replies are routed.

          1. On the association named by C{token} (our Via's C{i}, for a
             response we forward over SCTP), while it is open;
          2. else on the association of C{origin} (for our answer to a
             request from there), while it is open;
          3. else to the address of the response's top Via (RFC 3261 18.2.2
             with RFC 3581: C{received}, C{rport}, sent-by), from C{hint}'s
             listener where it can (else C{origin}'s).

        @return: the L{Destination}, or C{None} where there is no way there.
        """
        if token is not None:
            via = _topVia(response)
            if via is not None and via.transport == SCTP:
                destination = self.flowDestination(token)
                if destination is not None:
                    return destination
        if origin is not None:
            assoc = origin.association
            if assoc is not None and origin.transport == SCTP and assoc.isOpen():
                return origin.reply
        via = _topVia(response)
        target = viaDestination(via) if via is not None else None
        if target is None:
            return None
        if hint is None and origin is not None:
            hint = origin.listener
        return self.route(target[0], target[1], hint)

    # -- receiving -------------------------------------------------------

    def dataReceived(self, data: bytes, origin: Origin) -> None:
        """
        One SCTP message or UDP datagram arrived: keep-alive, SIP message or
        garbage.
        """
        if len(data) <= 4 and self._keepAlive(data, origin):
            return
        lean = self.lean
        if lean is not None and lean(data, origin):
            return
        try:
            message = parseMessage(data, self.settings.maxHeaderBytes)
        except SIPParseError as e:
            self._malformed(e, origin, data)
            return
        present = message.presentHeaders()
        if "via" not in present:
            self.stats.parse_errors += 1
            self.stats.drop("no_via")
            self._warn("dropped a SIP message without Via from {source}: {data}", origin, data=_snippet(data))
            return
        if isinstance(message, SIPResponse):
            self.stats.responses_in += 1
            self._deliver(message, origin)
            return
        if "from" not in present or "to" not in present or "call-id" not in present or "cseq" not in present:
            missing = [name for name, canonical in _REQUIRED if canonical not in present]
            error = SIPParseError("missing {} header".format(", ".join(missing)), 400, message.headers, message.method)
            self._malformed(error, origin, data)
            return
        self.stats.requests_in += 1
        fixTopVia(message, *origin.address)
        self._deliver(message, origin)

    def _keepAlive(self, data: bytes, origin: Origin) -> bool:
        """L{keepAlive}, the pong going back on C{origin}'s association."""
        assoc = origin.association
        pong: Optional[Callable[[bytes], bool]] = None
        if origin.transport == SCTP and assoc is not None:
            pong = lambda data: self._sendSCTP(origin.listener, data, assoc)  # noqa: E731
        settings = self.settings
        return keepAlive(data, self.stats, settings.crlfPingPong, settings.crlfDrop, pong)

    def _deliver(self, message: SIPMessage, origin: Origin) -> None:
        receiver = self.receiver
        if receiver is None:
            self.stats.drop("no_application")
            return
        try:
            if isinstance(message, SIPRequest):
                receiver.requestReceived(message, origin)
            else:
                receiver.responseReceived(message, origin)
        except SIPParseError as e:
            if isinstance(message, SIPRequest):
                e.method, e.headers = message.method, message.headers
            self._malformed(e, origin, b"")
        except Exception:
            self.stats.drop("application_error")
            self.log.failure("the SIP application raised on a message from {source}", source=origin.address)
            if isinstance(message, SIPRequest) and message.method != "ACK":
                self.sendResponse(makeResponse(message, 500), origin)

    def _malformed(self, error: SIPParseError, origin: Origin, data: bytes) -> None:
        self.stats.parse_errors += 1
        response = None
        try:
            response = makeErrorResponse(error, toTag=stableTag(*(v for n, v in error.headers)))
        except (SIPParseError, LocalSIPError):
            response = None
        if response is not None and self.sendResponse(response, origin):
            self.stats.error_replies += 1
            self._warn("answered {code} to a bad SIP message from {source}: {reason} {data}", origin, code=response.code, reason=error.reason, data=_snippet(data))
            return
        self.stats.drop("malformed")
        self._warn("dropped a bad SIP message from {source}: {reason} {data}", origin, reason=error.reason, data=_snippet(data))

    def warn(self, text: str, **fields: Any) -> None:
        """
        Log a warning about one message (bad input, a failed send), at most
        20 per 10 s; the rest are counted and summed up in one line.
        """
        if self._warnings.allow():
            self.log.warn(text, **fields)

    def _warn(self, text: str, origin: Origin, **fields: Any) -> None:
        assoc = origin.association
        source = "{} {}:{}{}".format(origin.transport, origin.address[0], origin.address[1], " (association {})".format(assoc.id or assoc.assocID) if assoc is not None else "")
        self.warn(text, source=source, **fields)

    # -- sending ---------------------------------------------------------

    def sendResponse(self, response: SIPResponse, origin: Origin) -> bool:
        """
        Send C{response} to the request that came from C{origin}
        (L{replyDestination}: on its association while we know it open,
        else to the top Via's address).

        @return: whether the message was handed to the kernel (or queued).
        """
        destination = self.replyDestination(response, origin)
        if destination is None:
            self.stats.drop("no_route")
            self.warn("cannot send a {code} response to Via {via}: its association has ended and the Via names no address we can reach", code=response.code, via=str(_topVia(response)))
            return False
        return self.send(response, destination)

    def sendReplyBytes(self, data: bytes, origin: Origin) -> bool:
        """
        Send the bytes of a response to the request that came on
        C{origin}'s association, which is open (the lean path): counted as
        L{send} counts a response.

        @return: whether the message was handed to the kernel (or queued).
        """
        destination = origin.reply
        assert destination is not None and destination.association is not None
        sent = self._sendSCTP(destination.listener, data, destination.association)
        if sent:
            self.stats.responses_out += 1
        return sent

    def sendReply(
        self,
        request: SIPRequest,
        origin: Origin,
        code: int,
        reason: Optional[str] = None,
        extraHeaders: Iterable[Tuple[str, str]] = (),
        toTag: Optional[str] = None,
    ) -> bool:
        """
        Answer C{request} (from C{origin}) statelessly:
        C{sendResponse(makeResponse(request, code, reason, extraHeaders,
        toTag=toTag), origin)}.

        @return: whether the message was handed to the kernel (or queued).
        @raise SIPParseError: the request's To header is malformed.
        """
        try:
            response = makeResponse(request, code, reason, extraHeaders, toTag=toTag)
        except LocalSIPError as e:
            self.stats.drop("unserializable")
            self.log.warn("cannot serialise a SIP message: {err}", err=e)
            return False
        return self.sendResponse(response, origin)

    def send(self, message: Union[SIPMessage, bytes], destination: Destination) -> bool:
        """
        Send one SIP message (one SCTP message, or one UDP datagram).

        @return: whether it was handed to the kernel (or queued); a failure
            is counted and logged.
        """
        if isinstance(message, bytes):
            data = message
        else:
            try:
                data = message.toBytes()
            except LocalSIPError as e:
                self.stats.drop("unserializable")
                self.log.warn("cannot serialise a SIP message: {err}", err=e)
                return False
        if destination.transport == UDP:
            sent = self._sendUDP(destination.listener, data, destination.address)
        else:
            assoc = destination.association
            target: Any = assoc if assoc is not None and assoc.isOpen() else destination.address
            sent = self._sendSCTP(destination.listener, data, target)
        if sent and not isinstance(message, bytes):
            if isinstance(message, SIPRequest):
                self.stats.requests_out += 1
            else:
                self.stats.responses_out += 1
        return sent

    def _sendSCTP(self, index: int, data: bytes, target: Any) -> bool:
        settings = self.settings
        try:
            port = self.listeners[index].sctp
            port.sendMessage(data, target, settings.stream, settings.ppid, settings.unordered)
        except (IndexError, *_SEND_ERRORS) as e:
            self.stats.drop("send_failed")
            self.warn("SIP message over SCTP to {target} not sent: {err}", target=getattr(target, "peer", target), err=e)
            return False
        return True

    def _sendUDP(self, index: int, data: bytes, address: HostPort) -> bool:
        try:
            udp = self.listeners[index].udp
            if udp is None:
                raise ierror.NotListeningError("no UDP port on this listener")
            udp.write(data, address)
        except (IndexError, *_SEND_ERRORS) as e:
            self.stats.drop("send_failed")
            self.warn("SIP message over UDP to {target} not sent: {err}", target=address, err=e)
            return False
        return True
