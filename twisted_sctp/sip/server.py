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
     or no port, or a configured domain): REGISTER goes to the registrar;
     OPTIONS without a user part is answered 200; otherwise the user is
     looked up and the request forwarded to the binding's contact (404 if
     there is none).
  3. Any other Request-URI: forwarded to it (IP addresses only; we do not
     resolve names: 478).
  Forwarding decrements Max-Forwards (adds 70 if absent; 483 at 0, or 200
  for an OPTIONS), adds our Via C{SIP/2.0/SCTP} (or C{UDP} where the target
  says C{transport=udp}) with a branch computed from the request (so that a
  CANCEL or the ACK of a non-2xx gets the INVITE's branch, RFC 3261 16.11)
  and with C{;i=<token>} naming the association the request came on
  (L{twisted_sctp.sip.transport.encodeFlowToken}, as Kamailio does).  ACK, CANCEL
  and BYE are forwarded the same way; an ACK is never answered.

Responses: our Via is removed and the response sent to the next Via: on the
association named by C{i} while it is open, else to the Via's address
(C{received}, C{rport}, sent-by).

AORs are C{user@host} from the To URI; a host that is ours counts as the
same domain, so C{sip:bob@127.0.0.1} and C{sip:bob@127.0.0.2} on a
multihomed server are the same AOR.
"""

from __future__ import annotations

import collections
import hashlib
import math
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import attrs
from zope.interface import implementer

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from twisted_sctp.sip.headers import canonicalName, splitOutside
from twisted_sctp.transport.address import normalizeHost
from twisted_sctp.transport.registry import AssociationState
from twisted_sctp.sip.transport import (
    DEFAULT_PORT, SCTP, UDP, Destination, ISIPReceiver, Origin, SIPTransport,
    decodeFlowToken, encodeFlowToken, stableTag, viaDestination,
)
from twisted_sctp.sip.message import (
    BRANCH_MAGIC, NameAddr, SIPParseError, SIPRequest, SIPResponse, SIPURI,
    parseURI, popVia, prependVia,
)

__all__ = ["ALLOW", "Binding", "Registrar", "RegistrarError", "SIPServer", "ServerSettings"]

#: The methods listed in Allow (we proxy any method; these we know).
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, MESSAGE, REFER"


@attrs.frozen
class ServerSettings:
    """
    Registrar and proxy settings.

    @ivar defaultExpires: binding lifetime when the REGISTER gives none (s).
    @ivar minExpires: shorter non-zero lifetimes are refused with 423.
    @ivar maxExpires: longer lifetimes are cut to this.
    @ivar maxContacts: bindings per AOR (more: 403).
    @ivar maxBindings: bindings in all (more: 503).
    @ivar domains: names that count as ours in Request-URIs, To and Route.
    @ivar serverName: the Server header value.
    """

    defaultExpires: int = 3600
    minExpires: int = 60
    maxExpires: int = 86400
    maxContacts: int = 16
    maxBindings: int = 100000
    domains: Tuple[str, ...] = ()
    serverName: str = "twisted-sctp"

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.minExpires <= self.defaultExpires <= self.maxExpires:
            raise ValueError("need 0 <= min_expires <= default_expires <= max_expires")
        if self.maxContacts < 1 or self.maxBindings < 1:
            raise ValueError("max_contacts and max_bindings must be positive")


class RegistrarError(Exception):
    """
    A REGISTER is refused.

    @ivar code: the status code.
    @ivar reason: the reason phrase.
    @ivar headers: extra header lines for the response.
    """

    def __init__(self, code: int, reason: str, headers: Sequence[Tuple[str, str]] = ()) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.headers = list(headers)


@attrs.frozen
class Binding:
    """
    One contact bound to an AOR.

    @ivar contact: the Contact value (without C{expires}).
    @ivar uri: its parsed URI.
    @ivar expiresAt: when it lapses, on the registrar's clock.
    @ivar q: its preference, 0 to 1.
    @ivar callID: the Call-ID of the REGISTER that made it.
    @ivar cseq: that REGISTER's CSeq number.
    @ivar updated: when it was last registered.
    @ivar origin: where that REGISTER came from (its SCTP association).
    """

    contact: NameAddr
    uri: SIPURI
    expiresAt: float
    q: float
    callID: str
    cseq: int
    updated: float
    origin: Optional[Origin] = None

    def expiresIn(self, now: float) -> int:
        """@return: whole seconds left (rounded up)."""
        return max(0, int(math.ceil(self.expiresAt - now)))

    def listed(self, now: float) -> str:
        """@return: the Contact value for a 200 to REGISTER."""
        params = dict(self.contact.params)
        params["expires"] = str(self.expiresIn(now))
        return str(attrs.evolve(self.contact, params=params))


def _contactKey(uri: SIPURI) -> str:
    return str(uri)


class Registrar:
    """
    The location service: AOR -> bindings with lifetimes (RFC 3261 10.3).
    """

    def __init__(self, clock: IReactorTime, settings: Optional[ServerSettings] = None) -> None:
        self._clock = clock
        self.settings = settings if settings is not None else ServerSettings()
        self._aors: Dict[str, Dict[str, Binding]] = {}
        self._count = 0
        self._purgeInterval: Optional[float] = None
        self._purgeCall: Optional[IDelayedCall] = None

    def __len__(self) -> int:
        return self._count

    @property
    def aors(self) -> int:
        """How many AORs have bindings (expired ones may still count)."""
        return len(self._aors)

    def _live(self, aor: str) -> Dict[str, Binding]:
        now = self._clock.seconds()
        entries = self._aors.get(aor, {})
        for key in [k for k, b in entries.items() if b.expiresAt <= now]:
            del entries[key]
            self._count -= 1
        if not entries:
            self._aors.pop(aor, None)
        return entries

    def bindings(self, aor: str) -> List[Binding]:
        """@return: the live bindings of C{aor}, best first."""
        return sorted(self._live(aor).values(), key=lambda b: (-b.q, -b.updated))

    def lookup(self, aor: str) -> Optional[Binding]:
        """@return: the binding to forward to (highest q, newest), or C{None}."""
        found = self.bindings(aor)
        return found[0] if found else None

    def purge(self) -> int:
        """Forget every expired binding. @return: how many."""
        before = self._count
        for aor in list(self._aors):
            self._live(aor)
        return before - self._count

    def startPurging(self, interval: float) -> None:
        """
        L{purge} every C{interval} seconds while there are bindings.  With
        none, no timed call is pending: an idle reactor is not woken up
        (and does not read the clock) for it.
        """
        self._purgeInterval = interval
        self._schedulePurge()

    def stopPurging(self) -> None:
        """Stop what L{startPurging} started."""
        self._purgeInterval = None
        if self._purgeCall is not None and self._purgeCall.active():
            self._purgeCall.cancel()
        self._purgeCall = None

    def _schedulePurge(self) -> None:
        if self._purgeInterval is not None and self._purgeCall is None and self._count:
            self._purgeCall = self._clock.callLater(self._purgeInterval, self._purgeDue)

    def _purgeDue(self) -> None:
        self._purgeCall = None
        self.purge()
        self._schedulePurge()

    def register(
        self,
        aor: str,
        contacts: Sequence[NameAddr],
        expires: Optional[int],
        callID: str,
        cseq: int,
        origin: Optional[Origin] = None,
    ) -> List[Binding]:
        """
        Apply one REGISTER (RFC 3261 10.3 steps 6-8): add, refresh or remove
        bindings, or remove all with C{*} and C{Expires: 0}; no contacts is a
        query.  All or nothing.

        @param expires: the Expires header, if any.
        @return: the bindings of C{aor} afterwards.
        @raise RegistrarError: 400, 423, 403, 500 or 503, with nothing changed.
        """
        settings = self.settings
        now = self._clock.seconds()
        current = self._live(aor)
        if any(c.isWildcard for c in contacts):
            if len(contacts) != 1 or expires != 0:
                raise RegistrarError(400, "Invalid Request", [("Warning", '399 - "Contact: * needs Expires: 0 and no other contact"')])
            for b in current.values():
                if b.callID == callID and cseq <= b.cseq:
                    raise RegistrarError(500, "Out of order CSeq")
            self._count -= len(current)
            self._aors.pop(aor, None)
            return []
        changes: Dict[str, Tuple[NameAddr, SIPURI, int, float]] = {}
        for contact in contacts:
            try:
                uri = parseURI(contact.uri)
            except SIPParseError as e:
                raise RegistrarError(400, "Bad Contact", [("Warning", '399 - "{}"'.format(e.reason.replace('"', "'")))])
            lifetime = expires if expires is not None else settings.defaultExpires
            if "expires" in contact.params:
                if contact.expires is None:
                    raise RegistrarError(400, "Bad expires parameter")
                lifetime = contact.expires
            if 0 < lifetime < settings.minExpires:
                raise RegistrarError(423, "Interval Too Brief", [("Min-Expires", str(settings.minExpires))])
            q = 1.0
            if contact.params.get("q") is not None:
                try:
                    q = float(contact.params["q"] or "")
                except ValueError:
                    q = -1.0
                if not 0.0 <= q <= 1.0:
                    raise RegistrarError(400, "Bad q parameter")
            params = {k: v for k, v in contact.params.items() if k != "expires"}
            changes[_contactKey(uri)] = (attrs.evolve(contact, params=params), uri, min(lifetime, settings.maxExpires), q)
        after = dict(current)
        for key, (contact, uri, lifetime, q) in changes.items():
            old = current.get(key)
            if old is not None and old.callID == callID:
                if cseq < old.cseq:
                    raise RegistrarError(500, "Out of order CSeq")
                if cseq == old.cseq:
                    continue  # a retransmission: answer with the bindings as they are
            if lifetime == 0:
                after.pop(key, None)
            else:
                after[key] = Binding(contact, uri, now + lifetime, q, callID, cseq, now, origin)
        if len(after) > settings.maxContacts:
            raise RegistrarError(403, "Too Many Contacts")
        if self._count - len(current) + len(after) > settings.maxBindings:
            raise RegistrarError(503, "Registrar Full")
        self._count += len(after) - len(current)
        if after:
            self._aors[aor] = after
        else:
            self._aors.pop(aor, None)
        self._schedulePurge()
        return self.bindings(aor)


#: The header lines a stateless reply's To tag is made from.
_TAG_HEADERS = frozenset({"via", "from", "call-id"})

#: What a 200 to OPTIONS says besides the copied lines (and Server).
_OPTIONS_HEADERS = (("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", ""))


def _branchFor(request: SIPRequest) -> str:
    """
    The branch of our Via on a forwarded request: a hash of what identifies
    the incoming transaction but not its method, so that a CANCEL (and the
    ACK of a non-2xx) gets the same branch as its INVITE (RFC 3261 16.11).
    """
    cseq = request.cseq
    seed = [request.getHeader("via") or "", request.callID or "", request.fromTag or "", str(cseq.number if cseq else ""), request.uri]
    digest = hashlib.sha256("\0".join(seed).encode("utf-8", "surrogateescape")).hexdigest()
    return BRANCH_MAGIC + "ts" + digest[:30]


@implementer(ISIPReceiver)
class SIPServer:
    """
    OPTIONS responder, registrar and stateless proxy.

    @ivar transport: the L{SIPTransport} we answer and forward through.
    @ivar registrar: the L{Registrar}.
    @ivar counters: what we did, by name (see L{asDict}).
    """

    log = Logger()

    def __init__(
        self,
        transport: SIPTransport,
        clock: IReactorTime,
        settings: Optional[ServerSettings] = None,
        registrar: Optional[Registrar] = None,
    ) -> None:
        self.transport = transport
        self._clock = clock
        self.settings = settings if settings is not None else ServerSettings()
        self.registrar = registrar if registrar is not None else Registrar(clock, self.settings)
        self.counters: Dict[str, int] = collections.Counter()

    def asDict(self) -> Dict[str, int]:
        """
        @return: C{options_answered}, C{registrations}, C{register_errors},
            C{requests_forwarded}, C{responses_forwarded}, C{replies_<code>}
            for every other status we answered, C{acks_absorbed},
            C{responses_absorbed}, C{forward_failed}, plus the gauges
            C{bindings} and C{aors}.
        """
        out = dict(self.counters)
        out["bindings"] = len(self.registrar)
        out["aors"] = self.registrar.aors
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
            self.counters["acks_absorbed"] += 1
            return
        extra = list(headers) + [("Server", self.settings.serverName)]
        # From the raw top Via, From and Call-ID lines: stable across
        # retransmissions, and one pass over the headers.
        tag = stableTag(*[value for name, value in request.headers if canonicalName(name) in _TAG_HEADERS])
        self.transport.sendReply(request, origin, code, reason, extra, toTag=tag if code > 100 else None)
        if code not in (200,):
            self.counters["replies_{}".format(code)] += 1

    # -- requests --------------------------------------------------------

    def requestReceived(self, request: SIPRequest, origin: Origin) -> None:
        """
        Answer, register or forward one request.
        """
        routes = request.routes if request.hasHeader("route") else []
        if routes and self._isOurRoute(routes[0]):
            self._removeFirstRoute(request)
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
        binding = self.registrar.lookup(self.aorKey(ruri))
        if binding is None:
            self._reply(request, origin, 404)
            return
        self._forward(request, origin, binding.uri, binding)

    def _isOurRoute(self, route: NameAddr) -> bool:
        try:
            uri = parseURI(route.uri)
        except SIPParseError:
            return False
        return self._isLocalURI(uri)

    def _removeFirstRoute(self, request: SIPRequest) -> None:
        for i, (name, value) in enumerate(request.headers):
            if name.lower() == "route":
                rest = splitOutside(value, ",", "Route")[1:]
                if rest:
                    request.headers[i] = (name, ",".join(r.strip(" \t") for r in rest))
                else:
                    del request.headers[i]
                return

    def _options(self, request: SIPRequest, origin: Origin) -> None:
        self.counters["options_answered"] += 1
        self._reply(request, origin, 200, headers=_OPTIONS_HEADERS)

    def _register(self, request: SIPRequest, origin: Origin) -> None:
        to = request.toAddr
        assert to is not None and request.callID is not None and request.cseq is not None
        aor = self.aorKey(parseURI(to.uri))
        try:
            bindings = self.registrar.register(aor, request.contacts, request.expires, request.callID, request.cseq.number, origin)
        except RegistrarError as e:
            self.counters["register_errors"] += 1
            self._reply(request, origin, e.code, e.reason, e.headers)
            return
        self.counters["registrations"] += 1
        now = self._clock.seconds()
        self.log.debug("REGISTER {aor}: {count} binding(s)", aor=aor, count=len(bindings))
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
        branch = _branchFor(request)
        if binding is not None:
            request.uri = binding.contact.uri
        routes = request.routes
        if routes and nextHop is not None and not nextHop.lr:
            # 16.6 step 6: the next hop is a strict router.
            self._removeFirstRoute(request)
            request.addHeader("Route", "<{}>".format(request.uri))
            request.uri = routes[0].uri
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
        if self.transport.isLocal(address[0], address[1]):
            self._reply(request, origin, 482)
            return
        destination = self.transport.route(transport, address, origin.listener)
        if destination is None:
            self._reply(request, origin, 503, "No Route")
            return
        request.setHeader("Max-Forwards", str(maxForwards - 1 if maxForwards is not None else 70))
        params: Dict[str, Optional[str]] = {}
        if origin.association is not None and origin.association.id:
            params["i"] = encodeFlowToken(origin.association.id, origin.listener)
        host, port = self.transport.localAddress(destination.listener)
        prependVia(request, host, port, branch, transport=destination.transport, extraParams=params)
        if self.transport.send(request, destination):
            self.counters["requests_forwarded"] += 1
            return
        self.counters["forward_failed"] += 1
        popVia(request)
        self._reply(request, origin, 503, "Forwarding Failed")

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

    def responseReceived(self, response: SIPResponse, origin: Origin) -> None:
        """
        Forward a response to the next Via (RFC 3261 16.11).
        """
        vias = response.vias
        ours = vias[0]
        if not self.transport.isLocal(ours.host, ours.port, self.settings.domains):
            self.counters["responses_not_ours"] += 1
            self.log.debug("dropped a response whose top Via {via} is not ours", via=str(ours))
            return
        popVia(response)
        if len(vias) < 2:
            self.counters["responses_absorbed"] += 1
            return
        nextVia = vias[1]
        destination = None
        token = decodeFlowToken(ours.params.get("i"))
        if token is not None and nextVia.transport == SCTP and token[1] < len(self.transport.listeners):
            assoc = self.transport.listeners[token[1]].sctp.registry.byID(token[0])
            if assoc is not None and assoc.state != AssociationState.CLOSED:
                destination = Destination(SCTP, token[1], assoc.peer.paths()[0], assoc)
        if destination is None:
            target = viaDestination(nextVia)
            if target is not None:
                destination = self.transport.route(target[0], target[1], origin.listener)
        if destination is None:
            self.counters["responses_unroutable"] += 1
            self.transport.warn("cannot route a response to Via {via}", via=str(nextVia))
            return
        if self.transport.send(response, destination):
            self.counters["responses_forwarded"] += 1
