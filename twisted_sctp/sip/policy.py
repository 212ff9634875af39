# -*- test-case-name: tests.test_sippolicy -*-
"""
Who may do what through C{twistd sctp-sip}: the decision made on each
request before the server registers, answers or forwards it.

In order (docs/security.md)::

  1. Flood limit: past C{rate_limit} requests per C{rate_window} seconds
     from one source address, 503 with Retry-After (or a silent drop),
     counted, one warning per source per minute.  Trusted peers are exempt.
  2. Loop detection (RFC 3261 16.3 item 4): a request carrying one of our
     Vias whose branch is what we would compute for it again has looped:
     482.  (A target that reaches ourselves, 482, and 483 for Max-Forwards
     0 are the server's, on forwarding.)
  3. With C{--auth} (a L{DigestAuthenticator}), unless the source is trusted
     (C{trusted=ADDR[,CIDR...]}):
       - a REGISTER for us needs C{Authorization} (401 challenges, SHA-256
         and MD5, C{qop="auth"}); the To AOR must be in our domain with the
         authenticated user as its user part (or an alias of it): else 403;
       - a request we would forward to a domain that is not ours (by its
         Request-URI or a Route) needs C{Proxy-Authorization} (407), with
         the From user the authenticated one; ACK and CANCEL are never
         challenged (RFC 3261 22.1): they pass when they follow an INVITE we
         authorised, else the ACK is dropped and the CANCEL answered 403;
       - OPTIONS to the server itself, requests to our users' AORs and to
         their registered contacts pass without a challenge.
     Bad credentials after a challenge: 403, counted, warned per source.  A
     stale, foreign or replayed nonce with otherwise good credentials: 401
     or 407 with C{stale=true}.

Without C{--auth} steps 1 and 2 apply and everything else passes, as an open
registrar (a warning says so at start).
"""

from __future__ import annotations

import collections
import ipaddress
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

import attrs

from twisted.internet.interfaces import IReactorTime
from twisted.python import usage

from twisted_sctp.counters import Counters
from twisted_sctp.sip.base import DEFAULT_PORT, Origin
from twisted_sctp.transport.address import normalizeHost
from twisted_sctp.sip.credentials import DigestAuthenticator, SIPDigestCredentials
from twisted_sctp.sip.digest import ALGORITHMS, DigestError, DigestResponse, NonceCounts, NonceMint, challenges, parseCredentials
from twisted_sctp.sip.message import BRANCH_MAGIC, SIPParseError, SIPRequest, SIPURI, parseURI, parseVia
# The branch our forwarded requests carry, recomputed for loop detection.
from twisted_sctp.sip.flow import branchFor
from twisted_sctp.sip.headers import canonicalName, splitOutside
from twisted_sctp.sip.ratelimit import RateLimiter, SourceCounts, SourceWarnings

__all__ = ["DROP", "RequestGuard", "SECURITY_SETTINGS", "SecuritySettings", "Verdict", "securitySettingsFrom"]


@attrs.frozen
class Verdict:
    """
    What to do instead of handling a request: answer C{code} (with
    C{reason} and C{headers}), or, with C{code} 0, nothing at all.
    """

    code: int
    reason: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = ()


#: Drop the request silently.
DROP = Verdict(0)


def _networks(values: Iterable[str]) -> Tuple[Any, ...]:
    out = []
    for text in values:
        try:
            out.append(ipaddress.ip_network(text.strip().strip("[]"), strict=False))
        except ValueError:
            raise ValueError("trusted: {!r} is not an address or CIDR network".format(text))
    return tuple(out)


def _aliases(values: Iterable[str]) -> Dict[str, FrozenSet[str]]:
    out: Dict[str, set] = {}
    for text in values:
        alias, sep, user = text.partition(":")
        if not sep or not alias or not user:
            raise ValueError("aliases: {!r} is not AORUSER:AUTHUSER".format(text))
        out.setdefault(alias, set()).add(user)
    return {k: frozenset(v) for k, v in out.items()}


@attrs.frozen
class SecuritySettings:
    """
    The C{--sip} settings of the security policy.

    @ivar realm: the Digest realm (default: the first domain, else the first
        listening address).
    @ivar trusted: addresses and CIDR networks of peers that are neither
        challenged nor rate limited.
    @ivar nonceLifetime: seconds a nonce is good for.
    @ivar nonceSecretFile: a file whose bytes key the nonce MAC (share it
        between workers and restarts); default a random key per process.
    @ivar rateLimit: requests per window per source address; 0: no limit.
    @ivar rateWindow: the window (seconds).
    @ivar rateAction: C{"reply"} (503 with Retry-After) or C{"drop"}.
    @ivar rateSources: sources tracked at most.
    @ivar aliases: C{AORUSER:AUTHUSER} pairs: AORs a user may bind besides
        its own.
    @ivar algorithms: the Digest algorithms offered, one challenge each, in
        this order (clients that read only the first challenge, such as SIPp
        3.6, need C{MD5} first).
    """

    realm: Optional[str] = None
    trusted: Tuple[str, ...] = ()
    nonceLifetime: int = 300
    nonceSecretFile: Optional[str] = None
    rateLimit: int = 0
    rateWindow: float = 2.0
    rateAction: str = "reply"
    rateSources: int = 16384
    aliases: Tuple[str, ...] = ()
    algorithms: Tuple[str, ...] = ("SHA-256", "MD5")

    def __attrs_post_init__(self) -> None:
        if not self.algorithms or any(a not in ALGORITHMS for a in self.algorithms) or len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError("digest_algorithms must list SHA-256 and/or MD5, each once")
        if self.realm is not None and (not self.realm or any(c in self.realm for c in '"\\') or not self.realm.isprintable()):
            raise ValueError("realm must be printable, without quotes or backslashes")
        _networks(self.trusted)
        _aliases(self.aliases)
        if self.nonceLifetime < 1:
            raise ValueError("nonce_lifetime must be at least 1 second")
        if self.rateLimit < 0 or self.rateWindow <= 0 or self.rateSources < 1:
            raise ValueError("rate_limit must be >= 0, rate_window and rate_sources positive")
        if self.rateAction not in ("reply", "drop"):
            raise ValueError("rate_action must be reply or drop")


#: C{--sip} names of L{SecuritySettings}: (attribute, type).
SECURITY_SETTINGS: Dict[str, Tuple[str, type]] = {
    "realm": ("realm", str),
    "trusted": ("trusted", tuple),
    "nonce_lifetime": ("nonceLifetime", int),
    "nonce_secret_file": ("nonceSecretFile", str),
    "rate_limit": ("rateLimit", int),
    "rate_window": ("rateWindow", float),
    "rate_action": ("rateAction", str),
    "rate_sources": ("rateSources", int),
    "aliases": ("aliases", tuple),
    "digest_algorithms": ("algorithms", tuple),
}


def securitySettingsFrom(mapping: Mapping[str, Any], flag: str = "--sip") -> Tuple[SecuritySettings, Dict[str, Any]]:
    """
    Take the L{SECURITY_SETTINGS} names out of C{[sip]} settings.

    @return: the settings, and the other names with their values.
    @raise usage.UsageError: a bad value.
    """
    values: Dict[str, Any] = {}
    rest: Dict[str, Any] = {}
    for key, value in mapping.items():
        name = key.strip().lower().replace("-", "_")
        if name not in SECURITY_SETTINGS:
            rest[key] = value
            continue
        attribute, kind = SECURITY_SETTINGS[name]
        try:
            if kind is tuple:
                items = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
                values[attribute] = tuple(str(i).strip().upper() if name == "digest_algorithms" else str(i).strip() for i in items if str(i).strip())
            else:
                values[attribute] = kind(str(value).strip()) if kind is not str else str(value).strip()
        except ValueError:
            raise usage.UsageError("{} {}: not a{} {}: {!r}".format(flag, name, "n" if kind is int else "", kind.__name__, value))
    try:
        return SecuritySettings(**values), rest
    except ValueError as e:
        raise usage.UsageError("{}: {}".format(flag, e))


#: Lifetime of the memory of an authorised INVITE, for its CANCEL and ACK
#: (64*T1, RFC 3261 Timer B), and how many we remember.
_RELAY_MEMORY = 32.0
_RELAY_ENTRIES = 8192

_LOCAL, _REGISTER, _RELAY = "local", "register", "relay"


class RequestGuard:
    """
    The security decision on each request of a L{SIPServer}: rate limit,
    loop detection, Digest authentication and authorisation.

    @ivar realm: the Digest realm.
    @ivar authenticator: the checkers, or C{None} for an open server.
    """

    def __init__(
        self,
        server: Any,
        clock: IReactorTime,
        settings: Optional[SecuritySettings] = None,
        authenticator: Optional[DigestAuthenticator] = None,
        realm: Optional[str] = None,
        secret: Optional[bytes] = None,
    ) -> None:
        self._server = server
        self._clock = clock
        self.settings = settings = settings if settings is not None else SecuritySettings()
        self.authenticator = authenticator
        self.realm = realm or settings.realm or "sctp-sip"
        self._trusted = _networks(settings.trusted)
        self._aliases = _aliases(settings.aliases)
        if secret is None and settings.nonceSecretFile:
            with open(settings.nonceSecretFile, "rb") as f:
                secret = f.read()
            if len(secret) < 16:
                raise ValueError("nonce_secret_file {} holds fewer than 16 bytes".format(settings.nonceSecretFile))
        self.mint = NonceMint(clock, self.realm, secret, settings.nonceLifetime)
        self.nonceCounts = NonceCounts()
        self.limiter = RateLimiter(clock, settings.rateLimit, settings.rateWindow, settings.rateSources) if settings.rateLimit else None
        self.warnings = SourceWarnings(clock)
        #: Failed authentications by source address (bounded).
        self.failures = SourceCounts()
        self._relayed: collections.OrderedDict[Tuple[str, str, int], float] = collections.OrderedDict()
        self._resumed: Optional[Tuple[SIPRequest, Optional[Verdict]]] = None
        # The registered contacts' addresses: AOR -> {address: expires at},
        # and address -> AORs (mirrors the registrar, through registered()).
        self._contacts: Dict[str, Dict[Tuple[str, int], float]] = {}
        self._byAddress: Dict[Tuple[str, int], set] = {}
        self._nextSweep = 0.0

    @property
    def counters(self) -> Counters:
        """The server's counters, where ours go too."""
        return self._server.counters  # type: ignore[no-any-return]

    def gauges(self) -> Dict[str, int]:
        """
        @return: the sizes of the bounded tables: C{auth_nonces_tracked},
            C{ratelimit_sources}, C{relay_transactions}, C{contact_addresses},
            C{auth_failing_sources}.
        """
        return {
            "auth_nonces_tracked": len(self.nonceCounts),
            "ratelimit_sources": len(self.limiter) if self.limiter is not None else 0,
            "relay_transactions": len(self._relayed),
            "contact_addresses": len(self._byAddress),
            "auth_failing_sources": len(self.failures),
        }

    def startupWarnings(self) -> List[str]:
        """@return: what to say at start about the policy."""
        if self.authenticator is not None:
            return []
        return ["no --auth: an open registrar and relay (anyone who can reach it can register any AOR and relay "
                "through it); give --auth memory:USER:PASS or --auth file:PATH (docs/security.md)"]

    def isTrusted(self, host: str) -> bool:
        """@return: whether C{host} is in a trusted network."""
        if not self._trusted:
            return False
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    # -- the decision ----------------------------------------------------

    def admit(self, request: SIPRequest, origin: Origin) -> Optional[Verdict]:
        """
        Decide on C{request} from C{origin}.

        @return: C{None} to handle it as usual, else the L{Verdict} to apply.
        """
        resumed = self._resumed
        if resumed is not None and resumed[0] is request:
            return resumed[1]
        source = origin.address[0]
        trusted = self.isTrusted(source)
        if self.limiter is not None and not trusted and not self.limiter.allow(source):
            self.counters.count("rate_limited")
            self.warnings.warn(source, "rate limit: {source} sends more than {limit} requests per {window}s; refusing the excess",
                               limit=self.limiter.limit, window=self.limiter.window)
            if request.method == "ACK" or self.settings.rateAction == "drop":
                return DROP
            return Verdict(503, "Rate Limited", (("Retry-After", str(self.limiter.retryAfter)),))
        if self._looped(request):
            self.counters.count("loops_detected")
            return Verdict(482)
        if not self._authenticationApplies(trusted):
            return None
        kind = self._classify(request)
        if kind == _LOCAL:
            return None
        return self._authenticate(request, origin, kind == _REGISTER)

    def admitsOwnOptions(self, source: str) -> bool:
        """
        What L{admit} decides for an OPTIONS to this server with one Via and
        no Route (the lean path, L{twisted_sctp.sip.lean}), without the
        parsed request: with the same side effects, where the answer is to
        handle it as usual.

        @return: C{True}: handle it as usual (L{admit} would return
            C{None}); C{False}: a rate limit applies to C{source}, so ask
            L{admit} (nothing was counted).
        """
        trusted = self.isTrusted(source)
        if self.limiter is not None and not trusted:
            return False
        self._authenticationApplies(trusted)  # an OPTIONS to us is never challenged
        return True

    def _authenticationApplies(self, trusted: bool) -> bool:
        """
        The step of L{admit} every request past the rate limit and the loop
        check takes: with an authenticator, expire old nonces and failures
        and count a request from a trusted source.

        @return: whether the request may need authenticating (there is an
            authenticator and the source is not trusted).
        """
        if self.authenticator is None:
            return False
        self._sweep()
        if trusted:
            self.counters.count("trusted_requests")
            return False
        return True

    def _isLocal(self, uri: SIPURI, port: bool = True) -> bool:
        server = self._server
        return bool(server.transport.isLocal(uri.host, uri.port if port else None, server.settings.domains))

    def _classify(self, request: SIPRequest) -> str:
        """
        @return: C{_REGISTER} for a REGISTER to our registrar, C{_RELAY} for a
            request we would forward to another domain, else C{_LOCAL}.
        """
        maxForwards = request.maxForwards
        if maxForwards is not None and maxForwards <= 0:
            return _LOCAL  # never forwarded: the server answers 483
        routes = request.routes if request.hasHeader("route") else []
        if routes:
            try:
                first = parseURI(routes[0].uri)
            except SIPParseError:
                return _RELAY
            if self._isLocal(first):
                routes = routes[1:]
        if routes:
            return _RELAY
        try:
            ruri = request.requestURI
        except SIPParseError:
            return _LOCAL  # answered 416 by the server
        if self._isLocal(ruri):
            return _REGISTER if request.method == "REGISTER" else _LOCAL
        return _LOCAL if self._isRegisteredContact(ruri) else _RELAY

    @staticmethod
    def _address(uri: SIPURI) -> Tuple[str, int]:
        try:
            host = normalizeHost(uri.host)
        except ValueError:
            host = uri.host.lower()
        return host, uri.port or DEFAULT_PORT

    def registered(self, aor: str, bindings: Sequence[Any]) -> None:
        """
        The server saved a REGISTER: C{aor} now has C{bindings} (the hook
        where a REGISTER is saved), whose contact addresses requests may be
        routed to without a challenge.
        """
        for address in self._contacts.pop(aor, {}):
            aors = self._byAddress.get(address)
            if aors is not None:
                aors.discard(aor)
                if not aors:
                    del self._byAddress[address]
        if bindings:
            entry = self._contacts[aor] = {}
            for binding in bindings:
                address = self._address(binding.uri)
                entry[address] = max(entry.get(address, 0.0), binding.expiresAt)
                self._byAddress.setdefault(address, set()).add(aor)

    def _isRegisteredContact(self, uri: SIPURI) -> bool:
        """
        @return: whether C{uri} names the address of a live registered
            contact of one of our users (an in-dialog request to it, whatever
            its user part, or a call from outside).
        """
        address = self._address(uri)
        now = self._clock.seconds()
        return any(self._contacts[aor].get(address, 0.0) > now for aor in self._byAddress.get(address, ()))

    def _looped(self, request: SIPRequest) -> bool:
        """
        RFC 3261 16.3 item 4: the request carries one of our Vias (a branch
        we made) whose branch is what we compute for it again, as it was
        when it reached us then (the Via line below ours on top).
        """
        lines = request.getHeaders("via")
        if len(lines) < 2:
            return False
        marker = BRANCH_MAGIC + "ts"
        for j, text in enumerate(lines[:-1]):
            if marker not in text:
                continue
            try:
                pieces = splitOutside(text, ",", "Via")
                via = parseVia(pieces[0]) if len(pieces) == 1 else None
            except SIPParseError:
                continue
            if via is None or not (via.branch or "").startswith(marker) or not self._server.transport.isLocal(via.host, via.port):
                continue
            others = [(n, v) for n, v in request.headers if canonicalName(n) != "via"]
            then = SIPRequest(request.method, request.uri, [("Via", lines[j + 1])] + others)
            if branchFor(then) == via.branch:
                return True
        return False

    # -- authentication --------------------------------------------------

    def _challenge(self, registrar: bool, stale: bool = False) -> Verdict:
        name = "WWW-Authenticate" if registrar else "Proxy-Authenticate"
        values = challenges(self.mint, self.realm, stale, self.settings.algorithms)
        return Verdict(401 if registrar else 407, None, tuple((name, v) for v in values))

    def _authenticate(self, request: SIPRequest, origin: Origin, registrar: bool) -> Optional[Verdict]:
        source = origin.address[0]
        if not registrar and request.method in ("ACK", "CANCEL"):
            # Never challenged (RFC 3261 22.1): they follow an INVITE or nothing.
            if self._followsRelayed(request):
                return None
            self.counters.count("relay_refused")
            self.warnings.warn(source, "relay refused: {method} from {source} for {uri} follows no authorised INVITE", method=request.method, uri=request.uri[:80])
            return DROP if request.method == "ACK" else Verdict(403, "Relay Denied")
        header = "authorization" if registrar else "proxy-authorization"
        mine: List[DigestResponse] = []
        for value in request.getHeaders(header):
            try:
                digest = parseCredentials(value)
            except DigestError as e:
                self.counters.count("auth_malformed")
                self.warnings.warn(source, "malformed {header} from {source}: {reason}", header=header, reason=e.reason)
                return Verdict(400, "Malformed Authorization")
            if digest.realm == self.realm:
                mine.append(digest)
        if not mine:
            self.counters.count("auth_challenges")
            if not registrar:
                self.counters.count("relay_challenged")
            return self._challenge(registrar)
        digest = mine[0]
        if digest.algorithm.upper() not in self.settings.algorithms:
            self.counters.count("auth_malformed")
            return Verdict(400, "Unsupported Digest Algorithm")
        if (digest.qop or "").lower() != "auth":
            self.counters.count("auth_malformed")
            return Verdict(400, "Digest qop=auth Required")
        if not self._sameURI(digest.uri, request.uri):
            self.counters.count("auth_malformed")
            return Verdict(400, "Digest URI Mismatch")
        d = self.authenticator.verify(SIPDigestCredentials(digest, request.method))  # type: ignore[union-attr]
        outcome: List[Any] = []

        def record(result: Any) -> Any:
            outcome.append(result)
            return result

        d.addBoth(record)
        if outcome:
            return self._decide(request, origin, registrar, digest, outcome[0] is True)
        # A checker that answers later: decide then, and handle the request again.
        self.counters.count("auth_pending")
        d.addCallback(lambda ok: self._resume(request, origin, self._decide(request, origin, registrar, digest, ok is True)))
        return DROP

    def _resume(self, request: SIPRequest, origin: Origin, verdict: Optional[Verdict]) -> None:
        self._resumed = (request, verdict)
        try:
            self._server.requestReceived(request, origin)
        finally:
            self._resumed = None

    @staticmethod
    def _sameURI(given: str, uri: str) -> bool:
        if given == uri:
            return True
        try:
            a, b = parseURI(given), parseURI(uri)
        except SIPParseError:
            return False
        return (a.scheme, a.user, a.host.lower(), a.port or 5060) == (b.scheme, b.user, b.host.lower(), b.port or 5060)

    def _decide(self, request: SIPRequest, origin: Origin, registrar: bool, digest: DigestResponse, ok: bool) -> Optional[Verdict]:
        source = origin.address[0]
        if not ok:
            self.counters.count("auth_failures")
            failures = self.failures.add(source)
            self.warnings.warn(source, "authentication failed: user {user!r} from {source} (realm {realm}; {failures} failure(s) from it)",
                               user=digest.username[:64], realm=self.realm, failures=failures)
            return Verdict(403, "Forbidden")
        issued = self.mint.issuedAt(digest.nonce)
        if issued is None or not self.mint.isFresh(issued):
            self.counters.count("auth_stale")
            return self._challenge(registrar, stale=True)
        if not self.nonceCounts.use(digest.nonce, issued, digest.nc):
            self.counters.count("auth_replays")
            self.warnings.warn(source, "replayed Digest nonce-count from {source} for user {user!r}", user=digest.username[:64])
            return self._challenge(registrar, stale=True)
        if registrar:
            return self._mayBind(request, source, digest.username)
        return self._mayRelay(request, source, digest.username)

    def _mayBind(self, request: SIPRequest, source: str, user: str) -> Optional[Verdict]:
        to = request.toAddr
        try:
            aor = parseURI(to.uri) if to is not None else None
        except SIPParseError:
            aor = None
        if aor is None or not self._isLocal(aor, port=False) or not self._owns(user, aor.user):
            self.counters.count("aor_denied")
            self.warnings.warn(source, "REGISTER refused: user {user!r} from {source} may not bind {aor}", user=user[:64], aor=(to.uri if to else "")[:80])
            return Verdict(403, "Not Your Address-of-Record")
        self.counters.count("auth_ok")
        return None

    def _owns(self, user: str, aorUser: Optional[str]) -> bool:
        return aorUser is not None and (aorUser == user or user in self._aliases.get(aorUser, ()))

    def _mayRelay(self, request: SIPRequest, source: str, user: str) -> Optional[Verdict]:
        sender = request.fromAddr
        try:
            uri = parseURI(sender.uri) if sender is not None else None
        except SIPParseError:
            uri = None
        if uri is None or not self._isLocal(uri, port=False) or not self._owns(user, uri.user):
            self.counters.count("relay_refused")
            self.warnings.warn(source, "relay refused: user {user!r} from {source} sent as {sender}", user=user[:64], sender=(sender.uri if sender else "")[:80])
            return Verdict(403, "From Identity Mismatch")
        self.counters.count("auth_ok")
        self.counters.count("relay_authorized")
        # Consumed (RFC 3261 22.3): the next hop does not see our credentials.
        request.removeHeader("Proxy-Authorization")
        if request.method == "INVITE":
            self._remember(request)
        return None

    def _key(self, request: SIPRequest) -> Optional[Tuple[str, str, int]]:
        cseq = request.cseq
        if request.callID is None or cseq is None:
            return None
        return request.callID, request.fromTag or "", cseq.number

    def _remember(self, request: SIPRequest) -> None:
        key = self._key(request)
        if key is None:
            return
        self._relayed[key] = self._clock.seconds() + _RELAY_MEMORY
        self._relayed.move_to_end(key)
        while len(self._relayed) > _RELAY_ENTRIES:
            self._relayed.popitem(last=False)

    def _followsRelayed(self, request: SIPRequest) -> bool:
        key = self._key(request)
        until = self._relayed.get(key) if key is not None else None
        return until is not None and until > self._clock.seconds()

    def _sweep(self) -> None:
        """Forget nonces and INVITEs past their lifetime, now and then."""
        now = self._clock.seconds()
        if now < self._nextSweep:
            return
        self._nextSweep = now + max(1.0, self.mint.lifetime / 4)
        self.nonceCounts.forgetBefore(now - self.mint.lifetime)
        for key in [k for k, until in self._relayed.items() if until <= now]:
            del self._relayed[key]
        for aor in [a for a, entry in self._contacts.items() if max(entry.values()) <= now]:
            self.registered(aor, ())


def defaultRealm(settings: SecuritySettings, domains: Sequence[str], listeners: Sequence[Tuple[Sequence[str], int]]) -> str:
    """
    @return: C{realm}, else the first domain, else the first listening address.
    """
    if settings.realm:
        return settings.realm
    if domains:
        return domains[0]
    for hosts, _ in listeners:
        if hosts:
            return hosts[0]
    return "sctp-sip"


