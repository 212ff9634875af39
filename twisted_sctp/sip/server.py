# -*- test-case-name: tests.test_sipserver -*-
"""
The SIP application behind C{twistd sctp-sip}: an OPTIONS responder, a
registrar and a stateless proxy, above L{twisted_sctp.sip.transport.SIPTransport}.

No sockets and no wall clock here: time comes from an injected
L{IReactorTime}, and every send goes through the transport.

Request handling (RFC 3261 section 16, stateless):
  1. Route pre-processing: a first Route naming us is removed.  If Route
     values remain, the request goes to the first one (loose routing; a
     strict-routing next hop gets the 16.6 step 6 rewrite).
  2. A Request-URI naming us (one of our listening addresses with our port
     or no port, or a configured domain): REGISTER goes to the registrar
     (403 unless its To names one of our addresses or domains);
     OPTIONS without a user part is answered 200; otherwise the user is
     looked up and the request forwarded to the binding's contact (404 if
     there is none).
  3. Any other Request-URI: forwarded to it (IP addresses only; we do not
     resolve names: 478).

Whatever chose it (Request-URI, Route or a registered Contact), an internal
next hop (loopback, unspecified, link-local, multicast, one of our
listening hosts) is refused with 403 unless C{allow_internal} lists it.

Forwarding decrements Max-Forwards (adds 70 if absent, clamps a value
above 255 to 70 first; 483 at 0, or 200 for an OPTIONS), refuses a target
that reaches ourselves (one of our listening addresses, or 0.0.0.0/:: with
our port) with 482, adds our Via C{SIP/2.0/SCTP} (or C{UDP} where the target
says C{transport=udp}) with a branch computed from the request (so that a
CANCEL or the ACK of a non-2xx gets the INVITE's branch, RFC 3261 16.11)
and with C{;i=<token>} naming the association the request came on
(L{twisted_sctp.sip.transport.encodeFlowToken}, as Kamailio does).  ACK, CANCEL
and BYE are forwarded the same way; an ACK is never answered.

Our Via carries C{;tsig=}, an HMAC over its branch, its C{i} and the next
hop's transport and host (L{twisted_sctp.sip.flow.ViaSeal}).

Responses: a response whose top Via is ours is forwarded only if that Via's
seal verifies for the host it came from (else dropped and counted as
C{responses_forged}); our Via is removed and the response sent to the next
Via: on the association named by C{i} while it is open, else to the Via's
address (C{received}, C{rport}, sent-by).

AORs are C{user@host} from the To URI; a host that is ours counts as the
same domain, so C{sip:bob@127.0.0.1} and C{sip:bob@127.0.0.2} on a
multihomed server are the same AOR.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any, Dict, Iterable, List, Optional, Tuple

from zope.interface import implementer

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_sctp.counters import Counters
from twisted_sctp.sip.edit import MAX_FORWARDS_LIMIT, popVia, prependVia, removeFirstRoute, setMaxForwards, strictRoute
from twisted_sctp.sip.leanimpl import OptionsReply, scanOwnOptions
from twisted_sctp.sip.flow import SEAL_PARAM, ViaSeal, branchFor, encodeFlowToken, replyTag
from twisted_sctp.sip.message import LocalSIPError, NameAddr, SIPParseError, SIPRequest, SIPResponse, SIPURI, parseURI
from twisted_sctp.sip.registrar import Binding, Registrar, RegistrarError, ServerSettings, internalNetworks
from twisted_sctp.sip.store import RETRY_AFTER, IRegistrationStore, MemoryStore, StoreUnavailable
from twisted_sctp.sip.transport import DEFAULT_PORT, SCTP, UDP, ISIPReceiver, Origin, SIPTransport
from twisted_sctp.transport.address import normalizeHost

__all__ = ["ALLOW", "Binding", "Registrar", "RegistrarError", "SIPServer", "ServerCounters", "ServerSettings"]

#: The methods listed in Allow (we proxy any method; these we know).
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, MESSAGE, REFER"


#: What a 200 to OPTIONS says besides the copied lines (and Server).
_OPTIONS_HEADERS = (("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", ""))


_NOT_IP, _ALLOWED, _INTERNAL, _OTHER = range(4)


@functools.lru_cache(maxsize=4096)
def _addressKind(host: str, allowed: Tuple[Any, ...]) -> int:
    """
    @param allowed: the networks C{allow_internal} lists.
    @return: C{_NOT_IP}; C{_ALLOWED} (in C{allowed}); C{_INTERNAL}
        (loopback, unspecified, link-local, multicast, IPv4 reserved (240.0.0.0/4
        with the broadcast address) or 0.0.0.0/8,
        IPv4-mapped included); else C{_OTHER}.  Cached: C{ipaddress} takes microseconds
        and a proxy forwards to the same few hosts.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return _NOT_IP
    if any(address in network for network in allowed):
        return _ALLOWED
    mapped = getattr(address, "ipv4_mapped", None)
    for a in (address, mapped) if mapped is not None else (address,):
        if a.is_loopback or a.is_unspecified or a.is_link_local or a.is_multicast:
            return _INTERNAL
        if a.version == 4 and (a.is_reserved or int(a) >> 24 == 0):
            return _INTERNAL  # 240.0.0.0/4 with broadcast; 0.0.0.0/8, "this network" (RFC 1122)
    return _OTHER


def _clip(text: str, limit: int = 80) -> str:
    """@return: C{text} cut to C{limit} characters for a log line (a user-controlled value)."""
    return text if len(text) <= limit else text[:limit] + "...({} more)".format(len(text) - limit)


class ServerCounters(Counters):
    """
    What the server did; C{replies_<code>} are counted for every status we
    answered but 200.
    """

    options_answered: int
    registrations: int
    register_errors: int
    requests_forwarded: int
    forward_failed: int
    responses_forwarded: int
    responses_absorbed: int
    responses_not_ours: int
    responses_unroutable: int
    acks_absorbed: int
    store_unavailable: int


@implementer(ISIPReceiver)
class SIPServer:
    """
    OPTIONS responder, registrar and stateless proxy.

    @ivar transport: the L{SIPTransport} we answer and forward through.
    @ivar registrar: the L{Registrar} (this process's bindings: the store
        unless another is given).
    @ivar store: the L{IRegistrationStore} REGISTER and lookups use.
    @ivar counters: the L{ServerCounters}.
    """

    log = Logger()

    def __init__(
        self,
        transport: SIPTransport,
        clock: IReactorTime,
        settings: Optional[ServerSettings] = None,
        registrar: Optional[Registrar] = None,
        store: Optional[IRegistrationStore] = None,
    ) -> None:
        self.transport = transport
        self._clock = clock
        self.settings = settings if settings is not None else ServerSettings()
        self.registrar = registrar if registrar is not None else Registrar(clock, self.settings)
        self.store: IRegistrationStore = store if store is not None else MemoryStore(self.registrar)
        self.counters = ServerCounters()
        #: The security decision on each request (L{twisted_sctp.sip.policy.RequestGuard}), if any.
        self.guard: Optional[Any] = None
        #: The seal of the Vias we add (random key unless the service shares one).
        self.viaSeal = ViaSeal()
        self._allowed = internalNetworks(self.settings.allowInternal)
        try:
            self._optionsReply: Optional[OptionsReply] = OptionsReply(_OPTIONS_HEADERS + (("Server", self.settings.serverName),))
        except (LocalSIPError, ValueError):
            self._optionsReply = None  # the full path drops what it cannot write

    def asDict(self) -> Dict[str, int]:
        """
        @return: C{options_answered}, C{registrations}, C{register_errors},
            C{requests_forwarded}, C{responses_forwarded}, C{replies_<code>}
            for every other status we answered, C{acks_absorbed},
            C{responses_absorbed}, C{forward_failed}, plus the gauges
            C{bindings} and C{aors}.
        """
        out = self.counters.asDict()
        out.update(self.store.gauges())
        if self.guard is not None:
            out.update(self.guard.gauges())
        return out

    # -- helpers ---------------------------------------------------------

    def _isLocalURI(self, uri: SIPURI) -> bool:
        return self.transport.isLocal(uri.host, uri.port, self.settings.domains)

    def aorKey(self, uri: SIPURI) -> str:
        """@return: the registrar key of C{uri}: C{user@host}, our hosts as C{@}."""
        host = "" if self.transport.isLocal(uri.host, None, self.settings.domains) else uri.host
        return "{}@{}".format(uri.user or "", host)

    def _reply(self, request: SIPRequest, origin: Origin, code: int, reason: Optional[str] = None, headers: Iterable[Tuple[str, str]] = ()) -> None:
        if request.method == "ACK":
            self.counters.acks_absorbed += 1
            return
        extra = list(headers) + [("Server", self.settings.serverName)]
        self.transport.sendReply(request, origin, code, reason, extra, toTag=replyTag(request) if code > 100 else None)
        if code != 200:
            self.counters.count("replies_{}".format(code))

    # -- requests --------------------------------------------------------

    def leanReceived(self, data: bytes, origin: Origin) -> bool:
        """
        The lean path (L{twisted_sctp.sip.lean}): answer an OPTIONS to us
        that came on an open association from its bytes, as the full path
        (parse, L{requestReceived}, L{_options}) would.

        @return: whether it was answered; if not, nothing was counted and
            the message takes the full path.
        """
        reply = self._optionsReply
        assoc = origin.association
        if reply is None or assoc is None or not assoc.isOpen():
            return False
        transport = self.transport
        scan = scanOwnOptions(data, transport.settings.maxHeaderBytes)
        if scan is None or scan.uri.user is not None or not self._isLocalURI(scan.uri):
            return False
        guard = self.guard
        if guard is not None and not guard.admitsOwnOptions(origin.address[0]):
            return False
        transport.stats.requests_in += 1
        self.counters.options_answered += 1
        transport.sendReplyBytes(reply.render(scan, *origin.address), origin)
        return True

    def requestReceived(self, request: SIPRequest, origin: Origin) -> None:
        """
        Answer, register or forward one request.
        """
        if self.guard is not None:
            verdict = self.guard.admit(request, origin)
            if verdict is not None:
                if verdict.code:
                    self._reply(request, origin, verdict.code, verdict.reason, verdict.headers)
                return
        routes = request.routes if request.hasHeader("route") else []
        if routes and self._isOurRoute(routes[0]):
            removeFirstRoute(request)
            routes = request.routes
        if routes:
            self._forward(request, origin, parseURI(routes[0].uri) if routes[0].uri.lower().startswith(("sip:", "sips:")) else None)
            return
        if not request.uri.lower().startswith(("sip:", "sips:")):
            self._reply(request, origin, 416)
            return
        ruri = request.requestURI
        if not self._isLocalURI(ruri):
            self._forward(request, origin, ruri)
            return
        if request.method == "REGISTER":
            self._register(request, origin)
            return
        if ruri.user is None:
            if request.method == "OPTIONS":
                self._options(request, origin)
            else:
                self._reply(request, origin, 404)
            return
        d = self.store.lookup(self.aorKey(ruri))
        d.addCallbacks(self._routeTo, self._storeFailed, callbackArgs=(request, origin), errbackArgs=(request, origin))
        d.addErrback(self._failed, request)

    def _routeTo(self, binding: Optional[Binding], request: SIPRequest, origin: Origin) -> None:
        if binding is None:
            self._reply(request, origin, 404)
            return
        self._forward(request, origin, binding.uri, binding)

    def _storeFailed(self, failure: Any, request: SIPRequest, origin: Origin) -> None:
        """
        The store could not answer: 503 with Retry-After while it is
        unreachable (logged by the store, once per state change).
        """
        failure.trap(StoreUnavailable)
        self.counters.store_unavailable += 1
        self._reply(request, origin, 503, "Registration Store Unavailable", [("Retry-After", str(RETRY_AFTER))])

    def _failed(self, failure: Any, request: SIPRequest) -> None:
        self.log.failure("handling a {method} failed", failure, method=request.method[:32])

    def _isOurRoute(self, route: NameAddr) -> bool:
        try:
            uri = parseURI(route.uri)
        except SIPParseError:
            return False
        return self._isLocalURI(uri)

    def _options(self, request: SIPRequest, origin: Origin) -> None:
        self.counters.options_answered += 1
        self._reply(request, origin, 200, headers=_OPTIONS_HEADERS)

    def _register(self, request: SIPRequest, origin: Origin) -> None:
        to = request.toAddr
        assert to is not None and request.callID is not None and request.cseq is not None
        toURI = parseURI(to.uri)
        if not self.transport.isLocal(toURI.host, None, self.settings.domains):
            # Only our domains are registrable (docs/security.md).
            self.counters.register_errors += 1
            self.counters.count("register_foreign")
            self._reply(request, origin, 403, "Not Our Domain")
            return
        aor = self.aorKey(toURI)
        d = self.store.register(aor, request.contacts, request.expires, request.callID, request.cseq.number, origin)
        d.addCallbacks(self._registered, self._registerFailed, callbackArgs=(aor, request, origin), errbackArgs=(request, origin))
        d.addErrback(self._failed, request)

    def _registerFailed(self, failure: Any, request: SIPRequest, origin: Origin) -> None:
        if failure.check(RegistrarError):
            self.counters.register_errors += 1
            self._reply(request, origin, failure.value.code, failure.value.reason, failure.value.headers)
            return
        self._storeFailed(failure, request, origin)

    def _registered(self, bindings: List[Binding], aor: str, request: SIPRequest, origin: Origin) -> None:
        self.counters.registrations += 1
        if self.guard is not None:
            self.guard.registered(aor, bindings)
        now = self._clock.seconds()
        self.log.debug("REGISTER {aor}: {count} binding(s)", aor=_clip(aor), count=len(bindings))
        self._reply(request, origin, 200, headers=[("Contact", b.listed(now)) for b in bindings])

    def _forward(self, request: SIPRequest, origin: Origin, nextHop: Optional[SIPURI], binding: Optional[Binding] = None) -> None:
        """
        Forward C{request} statelessly (RFC 3261 16.6 and 16.11).
        """
        maxForwards = request.maxForwards
        if maxForwards is not None and maxForwards <= 0:
            if request.method == "OPTIONS":
                self._options(request, origin)
            else:
                self._reply(request, origin, 483)
            return
        if maxForwards is not None and maxForwards > MAX_FORWARDS_LIMIT:
            self.counters.count("max_forwards_clamped")
        branch = branchFor(request)
        if binding is not None:
            request.uri = binding.contact.uri
        routes = request.routes
        if routes and nextHop is not None and not nextHop.lr:
            strictRoute(request, routes[0].uri)
        if nextHop is None or nextHop.scheme != "sip":
            self._reply(request, origin, 416 if nextHop is None else 503, None if nextHop is None else "TLS Not Supported")
            return
        transport = {None: SCTP, "sctp": SCTP, "udp": UDP}.get(nextHop.transport)
        if transport is None:
            self._reply(request, origin, 503, "Unsupported Transport")
            return
        address = self._address(nextHop, binding)
        if address is None:
            self._reply(request, origin, 478, "Unresolvable Destination")
            return
        if self.transport.reachesUs(address[0], address[1]):
            # A target that is ourselves: a loop on the first hop (RFC 3261 16.3 item 4).
            self.counters.count("loops_detected")
            self._reply(request, origin, 482)
            return
        if self._isInternal(address[0]):
            self.counters.count("forward_refused_internal")
            self.transport.warn("refused to forward a {method} to the internal address {host}:{port} (allow it with --sip allow_internal=...)",
                                method=request.method[:32], host=address[0], port=address[1])
            self._reply(request, origin, 403, "Internal Destination")
            return
        destination = self.transport.route(transport, address, origin.listener)
        if destination is None:
            self._reply(request, origin, 503, "No Route")
            return
        setMaxForwards(request)
        params: Dict[str, Optional[str]] = {}
        if origin.association is not None and origin.association.id:
            params["i"] = encodeFlowToken(origin.association.id, origin.listener)
        params[SEAL_PARAM] = self.viaSeal.seal(branch, params.get("i"), destination.transport, destination.address[0])
        host, port = self.transport.localAddress(destination.listener)
        prependVia(request, host, port, branch, transport=destination.transport, extraParams=params)
        if self.transport.send(request, destination):
            self.counters.requests_forwarded += 1
            return
        self.counters.forward_failed += 1
        popVia(request)
        self._reply(request, origin, 503, "Forwarding Failed")

    def _isInternal(self, host: str) -> bool:
        """
        @return: whether C{host} (an IP address) is one the proxy does not
            forward to unless C{allow_internal} lists it: loopback,
            unspecified, link-local, multicast, or one of our listening
            hosts (whatever the port: another service of this machine).
        """
        kind = _addressKind(host, self._allowed)
        if kind == _INTERNAL:
            return True
        if kind == _OTHER:
            return any(host in listener.hosts for listener in self.transport.listeners)
        return False

    def _address(self, uri: SIPURI, binding: Optional[Binding]) -> Optional[Tuple[str, int]]:
        try:
            return normalizeHost(uri.host), uri.port or DEFAULT_PORT
        except ValueError:
            pass
        # A contact with a host name: send where its REGISTER came from.
        if binding is not None and binding.origin is not None:
            return binding.origin.address
        return None

    # -- responses -------------------------------------------------------

    def _sealed(self, ours: Any, origin: Origin) -> bool:
        """
        @return: whether our Via C{ours} on a response from C{origin} carries
            the seal we made for the request's next hop: the response's
            source address (any path of its SCTP association).
        """
        hosts = [origin.address[0]]
        assoc = origin.association
        if assoc is not None:
            try:
                hosts.extend(address[0] for address in assoc.peer.paths())
            except AttributeError:
                pass
        return self.viaSeal.verify(ours.params.get(SEAL_PARAM), ours.branch, ours.params.get("i"), origin.transport, hosts)

    def responseReceived(self, response: SIPResponse, origin: Origin) -> None:
        """
        Forward a response to the next Via (RFC 3261 16.11).
        """
        vias = response.vias
        ours = vias[0]
        if not self.transport.isLocal(ours.host, ours.port, self.settings.domains):
            self.counters.responses_not_ours += 1
            self.log.debug("dropped a response whose top Via {via} is not ours", via=str(ours))
            return
        if not self._sealed(ours, origin):
            self.counters.count("responses_forged")
            self.transport.warn("dropped a response from {source} whose top Via {via} is ours but not sealed for it (forged, or not from where the request went)",
                                source="{} {}:{}".format(origin.transport, *origin.address), via=str(ours)[:200])
            return
        popVia(response)
        if len(vias) < 2:
            self.counters.responses_absorbed += 1
            return
        nextVia = vias[1]
        destination = self.transport.replyDestination(response, token=ours.params.get("i"), hint=origin.listener)
        if destination is None:
            self.counters.responses_unroutable += 1
            self.transport.warn("cannot route a response to Via {via}", via=str(nextVia))
            return
        if self.transport.send(response, destination):
            self.counters.responses_forwarded += 1
