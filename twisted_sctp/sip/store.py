# -*- test-case-name: tests.test_sipstore -*-
"""
Registration stores: where the registrar keeps its bindings (docs/store.md).

  - L{MemoryStore}: the process's own L{Registrar} (the default).
  - L{RedisStore}: Redis, through C{txredisapi}, shared by several nodes:
    the bindings of an AOR in one hash whose key Redis expires with its last
    binding, and the per-AOR contact limit, C{max_bindings} and
    C{max_binding_bytes} checked and applied by one Lua script, atomically
    (two nodes registering the same AOR at once lose no update).

Every store answers with C{Deferred}s; the memory store's have fired
already, so a server on it answers in the same call as before.  A store
that cannot be reached fails them with L{StoreUnavailable} (the server
answers 503 with C{Retry-After}).
"""

from __future__ import annotations

import json
import socket
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
from zope.interface import Interface, implementer

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_sctp.sip.base import Origin
from twisted_sctp.sip.headers import parseNameAddr
from twisted_sctp.sip.message import NameAddr, SIPParseError, parseURI
from twisted_sctp.sip.registrar import Binding, Registrar, RegistrarError, ServerSettings, bindingBytes, planRegister

__all__ = ["IRegistrationStore", "MemoryStore", "RedisStore", "RedisURL", "StoreUnavailable", "parseStoreURL", "probeRedis"]

#: The Retry-After of a 503 while the store is unreachable (seconds).
RETRY_AFTER = 5


class StoreUnavailable(Exception):
    """
    The registration store cannot be reached now.
    """


class IRegistrationStore(Interface):
    """
    The location service of RFC 3261 section 10.3: AOR -> bindings.
    """

    def register(aor: str, contacts: Sequence[NameAddr], expires: Optional[int], callID: str, cseq: int,
                 origin: Optional[Origin] = None) -> "defer.Deferred[List[Binding]]":
        """
        Apply one REGISTER, all or nothing (L{Registrar.register}).

        @return: a C{Deferred} firing with the bindings of C{aor}
            afterwards, best first, or failing with L{RegistrarError} or
            L{StoreUnavailable}.
        """

    def lookup(aor: str) -> "defer.Deferred[Optional[Binding]]":
        """
        @return: a C{Deferred} firing with the binding to forward to
            (highest q, newest) or C{None}, or failing with
            L{StoreUnavailable}.
        """

    def start() -> None:
        """Start (connect, sweep): the server is starting."""

    def stop() -> "defer.Deferred[None]":
        """Stop what L{start} started."""

    def gauges() -> Dict[str, int]:
        """
        @return: C{bindings} (and C{aors} where known) as this node knows
            them, and the store's own figures.
        """


@implementer(IRegistrationStore)
class MemoryStore:
    """
    The bindings in this process: a L{Registrar}.

    @ivar registrar: the L{Registrar}.
    @ivar purgeInterval: how often expired bindings are forgotten (s).
    """

    def __init__(self, registrar: Registrar, purgeInterval: float = 30.0) -> None:
        self.registrar = registrar
        self.purgeInterval = purgeInterval

    def register(self, aor: str, contacts: Sequence[NameAddr], expires: Optional[int], callID: str, cseq: int,
                 origin: Optional[Origin] = None) -> "defer.Deferred[List[Binding]]":
        try:
            return defer.succeed(self.registrar.register(aor, contacts, expires, callID, cseq, origin))
        except RegistrarError:
            return defer.fail()

    def lookup(self, aor: str) -> "defer.Deferred[Optional[Binding]]":
        return defer.succeed(self.registrar.lookup(aor))

    def start(self) -> None:
        # Expired bindings are forgotten every purgeInterval seconds, with
        # no timer pending while there are none.
        self.registrar.startPurging(self.purgeInterval)

    def stop(self) -> "defer.Deferred[None]":
        self.registrar.stopPurging()
        return defer.succeed(None)

    def gauges(self) -> Dict[str, int]:
        return {"bindings": len(self.registrar), "aors": self.registrar.aors}


@attrs.frozen
class RedisURL:
    """
    Where Redis is: C{redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]}, or
    C{rediss://...[?ca=FILE]} for TLS (the server's certificate checked
    against the system's CAs, or the PEM C{FILE}, and its name).
    """

    host: str
    port: int = 6379
    db: int = 0
    password: Optional[str] = attrs.field(default=None, repr=False)
    username: Optional[str] = None
    tls: bool = False
    ca: Optional[str] = None

    def __str__(self) -> str:
        host = "[{}]".format(self.host) if ":" in self.host else self.host
        return "{}://{}:{}/{}".format("rediss" if self.tls else "redis", host, self.port, self.db)


def parseStoreURL(text: str) -> Optional[RedisURL]:
    """
    @return: the L{RedisURL} of C{--store}, or C{None} for C{memory}.
    @raise ValueError: not C{memory} nor a C{redis://} URL.
    """
    if text.strip().lower() in ("", "memory"):
        return None
    parts = urlsplit(text.strip())
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError("--store {!r}: give memory or redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS)".format(text))
    try:
        port = parts.port or 6379
        path = parts.path.strip("/")
        db = int(path) if path else 0
    except ValueError:
        raise ValueError("--store {!r}: the port and database must be numbers".format(text)) from None
    if db < 0:
        raise ValueError("--store {!r}: the database must be 0 or more".format(text))
    query = parse_qs(parts.query)
    if set(query) - {"ca"} or (query and parts.scheme != "rediss"):
        raise ValueError("--store {!r}: the only parameter is ca=FILE, with rediss://".format(text))
    return RedisURL(parts.hostname, port, db, unquote(parts.password) if parts.password is not None else None,
                    unquote(parts.username) if parts.username else None, parts.scheme == "rediss", query.get("ca", [None])[-1])


def tlsOptions(url: RedisURL) -> Any:
    """
    @return: the TLS client options of a C{rediss://} URL: the server's
        certificate verified for its host name, against C{ca} if given.
    """
    from twisted.internet import ssl

    trust: Any = None
    if url.ca is not None:
        with open(url.ca, "rb") as f:
            trust = ssl.Certificate.loadPEM(f.read())
    return ssl.optionsForClientTLS(url.host, trustRoot=trust)


def _command(*args: str) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        data = a.encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def probeRedis(url: RedisURL, timeout: float = 3.0) -> None:
    """
    Connect to Redis, authenticate, select the database and PING, blocking
    (before the reactor runs: C{twistd} refuses to start without its store).

    @raise StoreUnavailable: any of it failed, saying what.
    """
    if url.tls:
        return  # checked by the first command instead (no blocking TLS here)
    commands = []
    if url.password is not None:
        commands.append(_command("AUTH", *((url.username,) if url.username else ()), url.password))
    commands.append(_command("SELECT", str(url.db)))
    commands.append(_command("PING"))
    try:
        with socket.create_connection((url.host, url.port), timeout=timeout) as sock:
            f = sock.makefile("rb")
            for command in commands:
                sock.sendall(command)
                line = f.readline()
                if not line:
                    raise StoreUnavailable("{}: connection closed".format(url))
                if line.startswith(b"-"):
                    raise StoreUnavailable("{}: {}".format(url, line[1:].decode("utf-8", "replace").strip()))
    except OSError as e:
        raise StoreUnavailable("{}: {}".format(url, e.strerror or e)) from None


#: The REGISTER script.  KEYS: the AOR's hash, the index (sorted set of
#: "AOR\\nCONTACT" by expiry), the sizes (hash of the same members -> bytes),
#: the byte total.  ARGV: now, max contacts, max bindings, max bytes,
#: Call-ID, CSeq, wildcard (1/0), the AOR, then (contact key, lifetime,
#: binding JSON) per contact.  Returns {"OK", bindings in all, binding
#: JSON...} or {"ERR", why}.
REGISTER_SCRIPT = """
local now = tonumber(ARGV[1])
local maxContacts, maxBindings, maxBytes = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local callID, cseq, wildcard, aor = ARGV[5], tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8]
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, m in ipairs(expired) do
  local size = redis.call('HGET', KEYS[3], m)
  if size then redis.call('DECRBY', KEYS[4], size); redis.call('HDEL', KEYS[3], m) end
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local current, ncurrent, currentBytes = {}, 0, 0
local raw = redis.call('HGETALL', KEYS[1])
for i = 1, #raw, 2 do
  local b = cjson.decode(raw[i + 1])
  if b.e > now then
    current[raw[i]] = {b = b, raw = raw[i + 1]}
    ncurrent = ncurrent + 1
    currentBytes = currentBytes + b.n
  end
end
local function forget()
  for key, _ in pairs(current) do
    local m = aor .. '\\n' .. key
    local size = redis.call('HGET', KEYS[3], m)
    if size then redis.call('DECRBY', KEYS[4], size); redis.call('HDEL', KEYS[3], m) end
    redis.call('ZREM', KEYS[2], m)
  end
  redis.call('DEL', KEYS[1])
end
if wildcard then
  for _, c in pairs(current) do
    if c.b.c == callID and cseq <= c.b.s then return {'ERR', '500'} end
  end
  forget()
  return {'OK', redis.call('ZCARD', KEYS[2])}
end
local after, nafter = {}, ncurrent
for key, c in pairs(current) do after[key] = c end
for i = 9, #ARGV, 3 do
  local key, lifetime, value = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local old = current[key]
  local skip = false
  if old and old.b.c == callID then
    if cseq < old.b.s then return {'ERR', '500'} end
    if cseq == old.b.s then skip = true end
  end
  if not skip then
    if lifetime == 0 then
      if after[key] then after[key] = nil; nafter = nafter - 1 end
    else
      if not after[key] then nafter = nafter + 1 end
      after[key] = {b = cjson.decode(value), raw = value}
    end
  end
end
if nafter > maxContacts then return {'ERR', '403'} end
if redis.call('ZCARD', KEYS[2]) - ncurrent + nafter > maxBindings then return {'ERR', '503'} end
local afterBytes = 0
for _, c in pairs(after) do afterBytes = afterBytes + c.b.n end
local grown = afterBytes - currentBytes
if grown > 0 and tonumber(redis.call('GET', KEYS[4]) or '0') + grown > maxBytes then return {'ERR', '503b'} end
forget()
local out, last = {'OK', 0}, now
for key, c in pairs(after) do
  local m = aor .. '\\n' .. key
  redis.call('HSET', KEYS[1], key, c.raw)
  redis.call('ZADD', KEYS[2], c.b.e, m)
  redis.call('HSET', KEYS[3], m, c.b.n)
  redis.call('INCRBY', KEYS[4], c.b.n)
  if c.b.e > last then last = c.b.e end
  table.insert(out, c.raw)
end
if #out > 2 then redis.call('PEXPIRE', KEYS[1], math.ceil((last - now) * 1000)) end
out[2] = redis.call('ZCARD', KEYS[2])
return out
"""

_ERRORS = {
    "500": (500, "Out of order CSeq"),
    "403": (403, "Too Many Contacts"),
    "503": (503, "Registrar Full"),
    "503b": (503, "Registrar Full (Bytes)"),
}


def encodeBinding(aor: str, binding: Binding) -> str:
    """@return: the JSON a L{RedisStore} keeps for C{binding} of C{aor}."""
    origin = binding.origin
    return json.dumps({
        "a": str(binding.contact), "e": binding.expiresAt, "q": binding.q, "c": binding.callID, "s": binding.cseq,
        "u": binding.updated, "n": bindingBytes(aor, binding),
        "o": [origin.transport, origin.listener, origin.address[0], origin.address[1]] if origin is not None else None,
    }, separators=(",", ":"))


def decodeBinding(text: str) -> Binding:
    """
    @return: the L{Binding} of L{encodeBinding}'s JSON (its origin without
        an association: the association is on the node that took it).
    @raise ValueError: not such JSON.
    """
    try:
        data = json.loads(text)
        contact = parseNameAddr(data["a"], "Contact")
        o = data["o"]
        origin = Origin(str(o[0]), int(o[1]), (str(o[2]), int(o[3]))) if o else None
        return Binding(contact, parseURI(contact.uri), float(data["e"]), float(data["q"]), str(data["c"]), int(data["s"]),
                       float(data["u"]), origin)
    except (KeyError, TypeError, IndexError, ValueError, SIPParseError) as e:
        raise ValueError("not a stored binding: {}".format(e)) from None


def _best(bindings: List[Binding]) -> List[Binding]:
    return sorted(bindings, key=lambda b: (-b.q, -b.updated))


@implementer(IRegistrationStore)
class RedisStore:
    """
    The bindings in Redis (docs/store.md), shared by every node using it.

    @ivar url: the L{RedisURL}.
    @ivar prefix: the start of every key.
    @ivar available: whether the last command reached Redis.
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, settings: ServerSettings, url: RedisURL, prefix: str = "sctp-sip:",
                 timeout: float = 2.0, connect: Any = None) -> None:
        self._clock = clock
        self.settings = settings
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.available = True
        self._connect = connect
        self._redis: Any = None
        #: How many commands failed because Redis was unreachable.
        self.failures = 0
        #: The bindings of every node, as the last REGISTER through this one found them.
        self.bindingsSeen = 0

    def _keys(self, aor: str) -> List[str]:
        p = self.prefix
        return [p + "aor:" + aor, p + "index", p + "sizes", p + "bytes"]

    def start(self) -> None:
        import txredisapi

        connect = self._connect or txredisapi.lazyConnection
        self._redis = connect(self.url.host, self.url.port, dbid=self.url.db, reconnect=True, password=self.url.password,
                              username=self.url.username, ssl_context_factory=tlsOptions(self.url) if self.url.tls else False,
                              connectTimeout=self.timeout,
                              replyTimeout=self.timeout)
        # Reconnect within Retry-After of Redis coming back (txredisapi's
        # back-off goes up to 10 s).
        factory = getattr(self._redis, "_factory", None)
        if factory is not None:
            factory.maxDelay = RETRY_AFTER
            # A first connection that fails (refused AUTH, TLS not
            # verified) fails this Deferred, which nobody else waits on:
            # the commands say StoreUnavailable instead.
            first = getattr(factory, "deferred", None)
            if first is not None:
                first.addErrback(lambda f: self._state(False, f.getErrorMessage()))

    def stop(self) -> "defer.Deferred[None]":
        redis, self._redis = self._redis, None
        if redis is None:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.maybeDeferred(redis.disconnect)
        d.addErrback(lambda f: None)
        d.addCallback(lambda _: None)
        return d

    def gauges(self) -> Dict[str, int]:
        return {"bindings": self.bindingsSeen, "store_available": int(self.available), "store_failures": self.failures}

    def _state(self, available: bool, why: str = "") -> None:
        if available != self.available:
            self.available = available
            if available:
                self.log.info("registration store {url}: reachable again", url=str(self.url))
            else:
                self.log.warn("registration store {url}: unreachable ({why}); REGISTER and routed requests get 503 until it is back",
                              url=str(self.url), why=why)

    def _call(self, method: str, *args: Any) -> "defer.Deferred[Any]":
        import txredisapi

        factory = getattr(self._redis, "_factory", None)
        if self._redis is None or (factory is not None and not factory.size):
            self.failures += 1
            self._state(False, "not connected")
            return defer.fail(StoreUnavailable(str(self.url)))
        d: defer.Deferred[Any] = getattr(self._redis, method)(*args)
        # txredisapi times out a reply itself (replyTimeout); this also
        # ends a wait for a connection that has just gone.
        d.addTimeout(self.timeout + 1, self._clock)

        def ok(result: Any) -> Any:
            self._state(True)
            return result

        def failed(f: Any) -> Any:
            if f.check(txredisapi.ConnectionError, txredisapi.TimeoutError, defer.TimeoutError, defer.CancelledError):
                self.failures += 1
                self._state(False, f.getErrorMessage() or f.type.__name__)
                raise StoreUnavailable(str(self.url))
            return f

        d.addCallbacks(ok, failed)
        return d

    def register(self, aor: str, contacts: Sequence[NameAddr], expires: Optional[int], callID: str, cseq: int,
                 origin: Optional[Origin] = None) -> "defer.Deferred[List[Binding]]":
        try:
            changes = planRegister(self.settings, aor, contacts, expires, callID)
        except RegistrarError:
            return defer.fail()
        now = self._clock.seconds()
        s = self.settings
        args: List[Any] = [repr(now), s.maxContacts, s.maxBindings, s.maxBindingBytes, callID, cseq, int(changes is None), aor]
        for key, (contact, uri, lifetime, q) in (changes or {}).items():
            binding = Binding(contact, uri, now + lifetime, q, callID, cseq, now, origin)
            args.extend([key, lifetime, encodeBinding(aor, binding)])
        d = self._call("eval", REGISTER_SCRIPT, self._keys(aor), args)

        def done(reply: Sequence[Any]) -> List[Binding]:
            if reply[0] == "ERR":
                code, reason = _ERRORS[str(reply[1])]
                raise RegistrarError(code, reason)
            self.bindingsSeen = int(reply[1])
            return _best([decodeBinding(r) for r in reply[2:]])

        return d.addCallback(done)

    def bindings(self, aor: str) -> "defer.Deferred[List[Binding]]":
        """@return: a C{Deferred} firing with the live bindings of C{aor}, best first."""
        d = self._call("hgetall", self._keys(aor)[0])

        def live(found: Dict[str, str]) -> List[Binding]:
            now = self._clock.seconds()
            out = []
            for text in (found or {}).values():
                try:
                    binding = decodeBinding(text)
                except ValueError:
                    continue
                if binding.expiresAt > now:
                    out.append(binding)
            return _best(out)

        return d.addCallback(live)

    def lookup(self, aor: str) -> "defer.Deferred[Optional[Binding]]":
        return self.bindings(aor).addCallback(lambda found: found[0] if found else None)

    def expiresIn(self, aor: str) -> "defer.Deferred[float]":
        """@return: a C{Deferred} firing with the seconds Redis keeps C{aor}'s key (negative: none)."""
        return self._call("execute_command", "PTTL", self._keys(aor)[0]).addCallback(lambda ms: ms / 1000.0 if ms >= 0 else float(ms))

