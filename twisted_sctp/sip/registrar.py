# -*- test-case-name: tests.test_sipserver -*-
"""
The registrar of C{twistd sctp-sip} (RFC 3261 section 10.3): the binding
table, keyed by address-of-record, with expiry from an injected clock, and the
registrar and proxy settings.

Pure logic: no sockets, no wall clock.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import attrs

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from twisted_sctp.sip.base import Origin
from twisted_sctp.sip.message import NameAddr, SIPParseError, SIPURI, parseURI

__all__ = ["internalNetworks", "BINDING_OVERHEAD", "Binding", "Changes", "Registrar", "RegistrarError", "ServerSettings", "bindingBytes", "contactKey", "planRegister"]


@attrs.frozen
class ServerSettings:
    """
    Registrar and proxy settings.

    @ivar defaultExpires: binding lifetime when the REGISTER gives none (s).
    @ivar minExpires: shorter non-zero lifetimes are refused with 423.
    @ivar maxExpires: longer lifetimes are cut to this.
    @ivar maxContacts: bindings per AOR (more: 403).
    @ivar maxBindings: bindings in all (more: 503).
    @ivar maxAORBytes: the longest AOR (C{user@host} of To) bound (longer:
        400).
    @ivar maxContactBytes: the longest Contact value (and Call-ID) a binding
        keeps (longer: 400).
    @ivar maxBindingBytes: the bytes of every binding together (AOR,
        Contact, Call-ID and L{BINDING_OVERHEAD} each; more: 503).
    @ivar domains: names that count as ours in Request-URIs, To and Route.
    @ivar allowInternal: addresses and CIDR networks the proxy may forward
        to although they are internal (loopback, unspecified, link-local,
        multicast, or one of our listening hosts): refused with 403 unless
        listed here.
    @ivar serverName: the Server header value.
    """

    defaultExpires: int = 3600
    minExpires: int = 60
    maxExpires: int = 86400
    maxContacts: int = 16
    maxBindings: int = 100000
    maxAORBytes: int = 256
    maxContactBytes: int = 1024
    maxBindingBytes: int = 64 * 1024 * 1024
    domains: Tuple[str, ...] = ()
    allowInternal: Tuple[str, ...] = ()
    serverName: str = "twisted-sctp"

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.minExpires <= self.defaultExpires <= self.maxExpires:
            raise ValueError("need 0 <= min_expires <= default_expires <= max_expires")
        if self.maxContacts < 1 or self.maxBindings < 1:
            raise ValueError("max_contacts and max_bindings must be positive")
        internalNetworks(self.allowInternal)
        if min(self.maxAORBytes, self.maxContactBytes) < 32 or self.maxBindingBytes < 1024:
            raise ValueError("max_aor_bytes and max_contact_bytes must be at least 32, max_binding_bytes at least 1024")


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


def internalNetworks(values: Sequence[str]) -> Tuple[Any, ...]:
    """
    @return: the C{ipaddress} networks of C{allow_internal}.
    @raise ValueError: one is not an address or CIDR network.
    """
    out = []
    for text in values:
        try:
            out.append(ipaddress.ip_network(text.strip().strip("[]"), strict=False))
        except ValueError:
            raise ValueError("allow_internal: {!r} is not an address or CIDR network".format(text)) from None
    return tuple(out)


def contactKey(uri: SIPURI) -> str:
    """@return: what identifies a binding of an AOR: its URI (RFC 3261 10.3 step 7)."""
    return str(uri)


#: What one binding costs besides its strings, counted against
#: C{maxBindingBytes} (the objects and dictionary entries holding it).
BINDING_OVERHEAD = 512


def bindingBytes(aor: str, binding: Binding) -> int:
    """@return: what C{binding} of C{aor} counts against C{maxBindingBytes}."""
    return BINDING_OVERHEAD + len(aor) + 2 * len(binding.contact.uri) + len(str(binding.contact)) + len(binding.callID)


#: What L{planRegister} makes of each contact: contact key -> (the Contact
#: without C{expires}, its URI, its lifetime (0: remove), its q).
Changes = Dict[str, Tuple[NameAddr, SIPURI, int, float]]


def planRegister(settings: ServerSettings, aor: str, contacts: Sequence[NameAddr], expires: Optional[int], callID: str) -> Optional[Changes]:
    """
    Check one REGISTER against C{settings} without looking at the bindings
    (RFC 3261 10.3 steps 6 and 7): the part every store shares.

    @return: the L{Changes}, or C{None} for C{Contact: *} (remove all).
    @raise RegistrarError: 400 or 423.
    """
    if any(c.isWildcard for c in contacts):
        if len(contacts) != 1 or expires != 0:
            raise RegistrarError(400, "Invalid Request", [("Warning", '399 - "Contact: * needs Expires: 0 and no other contact"')])
        return None
    if len(aor) > settings.maxAORBytes:
        raise RegistrarError(400, "Address-of-Record Too Long", [("Warning", '399 - "at most {} bytes"'.format(settings.maxAORBytes))])
    if len(callID) > settings.maxContactBytes:
        raise RegistrarError(400, "Call-ID Too Long", [("Warning", '399 - "at most {} bytes"'.format(settings.maxContactBytes))])
    changes: Changes = {}
    for contact in contacts:
        if len(str(contact)) > settings.maxContactBytes:
            raise RegistrarError(400, "Contact Too Long", [("Warning", '399 - "at most {} bytes"'.format(settings.maxContactBytes))])
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
        changes[contactKey(uri)] = (attrs.evolve(contact, params=params), uri, min(lifetime, settings.maxExpires), q)
    return changes



class Registrar:
    """
    The location service: AOR -> bindings with lifetimes (RFC 3261 10.3).
    """

    def __init__(self, clock: IReactorTime, settings: Optional[ServerSettings] = None) -> None:
        self._clock = clock
        self.settings = settings if settings is not None else ServerSettings()
        self._aors: Dict[str, Dict[str, Binding]] = {}
        self._count = 0
        #: The L{bindingBytes} of every binding.
        self.bytes = 0
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
            self.bytes -= bindingBytes(aor, entries.pop(key))
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
        changes = planRegister(settings, aor, contacts, expires, callID)
        if changes is None:
            for b in current.values():
                if b.callID == callID and cseq <= b.cseq:
                    raise RegistrarError(500, "Out of order CSeq")
            self._count -= len(current)
            self.bytes -= sum(bindingBytes(aor, b) for b in current.values())
            self._aors.pop(aor, None)
            return []
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
        grown = sum(bindingBytes(aor, b) for b in after.values()) - sum(bindingBytes(aor, b) for b in current.values())
        if grown > 0 and self.bytes + grown > settings.maxBindingBytes:
            raise RegistrarError(503, "Registrar Full (Bytes)")
        self._count += len(after) - len(current)
        self.bytes += grown
        if after:
            self._aors[aor] = after
        else:
            self._aors.pop(aor, None)
        self._schedulePurge()
        return self.bindings(aor)
