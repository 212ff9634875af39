# -*- test-case-name: tests.test_sipstore -*-
"""
Tests for L{twisted_sctp.sip.store}: the Redis store against a real
C{redis-server} (L{tests.redisserver}), started per test on a free port:
expiry, limits, atomic concurrent REGISTERs from two nodes, two
L{SIPService}s sharing one Redis, and Redis lost and back.
"""

from __future__ import annotations

from typing import Any, Callable, List

from twisted.internet import defer, reactor, task
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.redisserver import startRedis
from tests.test_sipserver import UAC, UAS, ServerTestMixin, contact, req
from twisted_sctp.sip.registrar import RegistrarError, ServerSettings
from twisted_sctp.sip.store import RedisStore, RedisURL, StoreUnavailable, parseStoreURL
from twisted_sctp.testing import FakeKernel


class ShiftedClock:
    """The real reactor's time, moved on by C{shift} seconds (to expire bindings)."""

    def __init__(self) -> None:
        self.shift = 0.0

    def seconds(self) -> float:
        return float(reactor.seconds()) + self.shift  # type: ignore[attr-defined]

    def callLater(self, delay: float, f: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        return reactor.callLater(delay, f, *a, **kw)  # type: ignore[attr-defined]

    def getDelayedCalls(self) -> List[Any]:
        return []


async def until(condition: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Wait (polling the real reactor) until C{condition()} is true."""
    for _ in range(int(seconds / 0.05)):
        value = condition()
        if value:
            return value
        await task.deferLater(reactor, 0.05, lambda: None)
    raise AssertionError("not true after {} s".format(seconds))


class URLTests(SynchronousTestCase):
    """C{--store} values."""

    def test_urls(self) -> None:
        self.assertIsNone(parseStoreURL("memory"))
        self.assertEqual(parseStoreURL("redis://h:7000/3"), RedisURL("h", 7000, 3))
        url = parseStoreURL("rediss://user:p%40ss@[::1]/2")
        assert url is not None
        self.assertEqual((url.host, url.port, url.db, url.username, url.password, url.tls), ("::1", 6379, 2, "user", "p@ss", True))
        self.assertNotIn("p@ss", repr(url) + str(url))
        self.assertEqual(parseStoreURL("rediss://h/0?ca=/etc/ca.pem"), RedisURL("h", 6379, 0, tls=True, ca="/etc/ca.pem"))
        for bad in ("http://h", "redis://", "redis://h:x/0", "redis://h/db", "redis://h/0?ca=x", "rediss://h/0?verify=no"):
            self.assertRaises(ValueError, parseStoreURL, bad)


class RedisStoreTests(TestCase):
    """
    Two L{RedisStore}s (two nodes) on one real Redis.
    """

    settings = ServerSettings(minExpires=1, maxContacts=64, maxBindings=100)

    def setUp(self) -> None:
        self.redis = startRedis(self, password="s3cret")
        self.clock = ShiftedClock()
        self.a = self.store()
        self.b = self.store()

    def store(self, settings: Any = None) -> RedisStore:
        url = parseStoreURL(self.redis.url)
        assert url is not None
        store = RedisStore(self.clock, settings or self.settings, url)  # type: ignore[arg-type]
        store.start()
        self.addCleanup(store.stop)
        return store

    def register(self, store: RedisStore, aor: str, *contacts: str, expires: Any = 300, callID: str = "c", cseq: int = 1) -> "defer.Deferred[Any]":
        return store.register(aor, [contact(c) for c in contacts], expires, callID, cseq)

    async def connected(self, *stores: RedisStore) -> None:
        await until(lambda: all(s._redis._factory.size for s in stores))

    async def test_sharedBindings(self) -> None:
        """
        A REGISTER through A is seen by B (best first), with its origin's
        address; a query returns them; Contact: * removes them all.
        """
        await self.connected(self.a, self.b)
        found = await self.register(self.a, "bob@", "<sip:bob@10.0.0.2>;q=0.5", "<sip:bob@10.0.0.3>")
        self.assertEqual([str(b.uri) for b in found], ["sip:bob@10.0.0.3", "sip:bob@10.0.0.2"])
        binding = await self.b.lookup("bob@")
        self.assertEqual((str(binding.uri), binding.q, binding.callID), ("sip:bob@10.0.0.3", 1.0, "c"))
        self.assertEqual(len(await self.register(self.b, "bob@")), 2)
        self.assertEqual(await self.register(self.b, "bob@", "*", expires=0, cseq=2), [])
        self.assertIsNone(await self.a.lookup("bob@"))
        self.assertEqual(self.redis.command("ZCARD", "sctp-sip:index"), ":0")

    async def test_expiry(self) -> None:
        """
        Redis expires an AOR's key with its last binding (its TTL is the
        longest lifetime); a binding past its time is not returned and no
        longer counts against max_bindings.
        """
        await self.connected(self.a, self.b)
        await self.register(self.a, "bob@", "<sip:bob@10.0.0.2>;expires=60", "<sip:bob@10.0.0.3>;expires=120")
        ttl = await self.a.expiresIn("bob@")
        self.assertTrue(60 < ttl <= 120, ttl)
        self.clock.shift = 61
        self.assertEqual([str(b.uri) for b in await self.b.bindings("bob@")], ["sip:bob@10.0.0.3"])
        self.clock.shift = 121
        self.assertIsNone(await self.b.lookup("bob@"))
        await self.register(self.a, "bob@", "<sip:bob@10.0.0.4>;expires=1")
        await until(lambda: self.redis.command("EXISTS", "sctp-sip:aor:bob@") == ":0", 10)

    async def test_limits(self) -> None:
        """
        max_contacts (403) and max_bindings (503) hold across nodes; a
        refused REGISTER changes nothing; an out-of-order CSeq is 500.
        """
        small = ServerSettings(minExpires=1, maxContacts=2, maxBindings=3)
        a, b = self.store(small), self.store(small)
        await self.connected(a, b)
        await self.register(a, "bob@", "<sip:bob@10.0.0.2>")
        e = await self.assertFailure(self.register(b, "bob@", "<sip:bob@10.0.0.3>", "<sip:bob@10.0.0.4>"), RegistrarError)
        self.assertEqual((e.code, e.reason), (403, "Too Many Contacts"))
        await self.register(b, "bob@", "<sip:bob@10.0.0.3>", callID="d")
        await self.register(a, "carol@", "<sip:carol@10.0.0.5>")
        e = await self.assertFailure(self.register(b, "dave@", "<sip:dave@10.0.0.6>"), RegistrarError)
        self.assertEqual((e.code, e.reason), (503, "Registrar Full"))
        self.assertEqual(len(await a.bindings("bob@")), 2)
        e = await self.assertFailure(self.register(a, "bob@", "<sip:bob@10.0.0.2>", cseq=0), RegistrarError)
        self.assertEqual(e.code, 500)
        e = await self.assertFailure(self.register(a, "bob@", "<sip:bob@10.0.0.2>;expires=0", expires=None, callID="x" * 2000), RegistrarError)
        self.assertEqual(e.code, 400)

    async def test_concurrentRegisters(self) -> None:
        """
        40 REGISTERs for one AOR, 20 from each node at once, each adding a
        contact: all 40 bound (RFC 3261 10.3: no lost contact); 10 at once
        for new AORs against max_bindings=45: exactly 5 more bound.
        """
        await self.connected(self.a, self.b)
        results = await defer.gatherResults([
            self.register(store, "bob@", "<sip:bob@10.0.{}.{}>".format(n, i), callID="c{}-{}".format(n, i))
            for i in range(20) for n, store in enumerate((self.a, self.b))])
        self.assertEqual(len(results), 40)
        self.assertEqual(len(await self.b.bindings("bob@")), 40)
        limited = ServerSettings(minExpires=1, maxContacts=64, maxBindings=45)
        a, b = self.store(limited), self.store(limited)
        await self.connected(a, b)
        outcomes = await defer.DeferredList([
            self.register(a if i % 2 else b, "u{}@".format(i), "<sip:u@10.1.0.{}>".format(i)) for i in range(10)], consumeErrors=True)
        self.assertEqual(sum(1 for ok, _ in outcomes if ok), 5)
        self.assertEqual(self.redis.command("ZCARD", "sctp-sip:index"), ":45")
        await self.register(a, "bob@")  # a query: the gauge is every node's count
        self.assertEqual(a.gauges()["bindings"], 45)

    async def test_orderAcrossNodes(self) -> None:
        """
        One UA's REGISTERs (one Call-ID) reaching two nodes out of order:
        the older CSeq arriving second is refused 500 and the newer
        binding stays (RFC 3261 10.3 step 7); a retransmission (same CSeq)
        changes nothing; expires=0 through the other node removes it.
        """
        await self.connected(self.a, self.b)
        await self.register(self.a, "bob@", "<sip:bob@10.0.0.2>;expires=600", cseq=5)
        e = await self.assertFailure(self.register(self.b, "bob@", "<sip:bob@10.0.0.2>;expires=60", cseq=4), RegistrarError)
        self.assertEqual(e.code, 500)
        [kept] = await self.register(self.b, "bob@", "<sip:bob@10.0.0.2>;expires=60", cseq=5)
        self.assertEqual((kept.cseq, kept.expiresIn(self.clock.seconds()) > 60), (5, True))
        self.assertEqual(await self.register(self.b, "bob@", "<sip:bob@10.0.0.2>;expires=0", cseq=6), [])
        self.assertIsNone(await self.a.lookup("bob@"))

    async def test_lostAndBack(self) -> None:
        """
        Redis stopped: commands fail with StoreUnavailable at once (the
        store logs the change once); restarted on the same port: the store
        reconnects by itself and works again.
        """
        await self.connected(self.a)
        logged: List[Any] = []
        from twisted.logger import globalLogPublisher

        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        self.redis.stop()
        await until(lambda: not self.a._redis._factory.size)
        for _ in range(3):
            await self.assertFailure(self.register(self.a, "bob@", "<sip:bob@10.0.0.2>"), StoreUnavailable)
        await self.assertFailure(self.a.lookup("bob@"), StoreUnavailable)
        self.assertFalse(self.a.available)
        self.redis.start()
        await until(lambda: self.a._redis._factory.size)
        await self.register(self.a, "bob@", "<sip:bob@10.0.0.2>")
        self.assertTrue(self.a.available)
        mine = [e for e in logged if e.get("log_namespace", "").endswith("RedisStore")]
        self.assertEqual([e["log_level"].name for e in mine], ["warn", "info"])


class TLSTests(TestCase):
    """
    C{rediss://}: the server's certificate is verified.
    """

    def store(self, url: str) -> RedisStore:
        parsed = parseStoreURL(url)
        assert parsed is not None
        store = RedisStore(reactor, ServerSettings(), parsed)
        store.start()
        self.addCleanup(store.stop)
        return store

    async def test_verified(self) -> None:
        """
        With the server's CA (ca=FILE) a REGISTER works over TLS; without it
        (the system's CAs do not sign it) the store never connects and
        answers StoreUnavailable.
        """
        redis = startRedis(self, password="pw", tls=True)
        good = self.store(redis.url)
        await until(lambda: good._redis._factory.size)
        [binding] = await good.register("bob@", [contact("<sip:bob@10.0.0.2>")], 300, "c", 1)
        self.assertEqual(str(binding.uri), "sip:bob@10.0.0.2")
        bad = self.store(redis.url.split("?")[0])
        await task.deferLater(reactor, 1.5, lambda: None)
        await self.assertFailure(bad.lookup("bob@"), StoreUnavailable)


class TwoNodeTests(TestCase):
    """
    Two L{SIPService}s on fake kernels sharing one real Redis.
    """

    serverSettings = ServerSettings(domains=("example.com",), allowInternal=("127.0.0.0/8",))

    def setUp(self) -> None:
        self.redis = startRedis(self)
        url = parseStoreURL(self.redis.url)
        self.nodes = []
        for _ in range(2):
            node = ServerTestMixin()
            node.serverSettings = self.serverSettings
            node.startServer(self.addCleanup, store=url)
            self.nodes.append(node)

    async def test_registerOnARouteOnB(self) -> None:
        """
        REGISTER through A; an INVITE through B goes to the contact from B;
        Redis stopped: B answers 503 with Retry-After to the INVITE and to a
        REGISTER, 200 to OPTIONS to itself; Redis back: B routes again.
        """
        a, b = self.nodes
        await until(lambda: all(n.server.store._redis._factory.size for n in self.nodes))
        a.up(8, UAS)
        a.feed(req("REGISTER", "sip:127.0.0.1", "SIP/2.0/SCTP 127.0.0.3:5080;branch=z9hG4bKr",
                   "Contact: <sip:bob@127.0.0.3:5080;transport=sctp>\r\nExpires: 300\r\n", to="<sip:bob@127.0.0.1>", callID="reg-1", fromTag="r"), 8, UAS)
        [(response, _, _)] = await until(a.sent)
        self.assertEqual(response.code, 200)
        b.feed(req("INVITE", "sip:bob@127.0.0.1:5060", extra="Max-Forwards: 10\r\n"))
        [(message, _, address)] = await until(b.sent)
        self.assertEqual((message.method, message.uri), ("INVITE", "sip:bob@127.0.0.3:5080;transport=sctp"))
        self.assertEqual(message.vias[0].host, "127.0.0.1")
        self.assertEqual(b.server.counters["requests_forwarded"], 1)

        self.redis.stop()
        await until(lambda: not b.server.store._redis._factory.size)
        b.feed(req("INVITE", "sip:bob@127.0.0.1:5060", callID="call-2"))
        [(response, _, _)] = await until(b.sent)
        self.assertEqual((response.code, response.getHeader("retry-after")), (503, "5"))
        b.feed(req("REGISTER", "sip:127.0.0.1", extra="Contact: <sip:bob@127.0.0.2:5070>\r\n", callID="reg-2"))
        [(response, _, _)] = await until(b.sent)
        self.assertEqual(response.code, 503)
        b.feed(req("OPTIONS", "sip:127.0.0.1", callID="opt"))
        [(response, _, _)] = await until(b.sent)
        self.assertEqual(response.code, 200)
        self.assertEqual(b.server.counters["store_unavailable"], 2)

        self.redis.start()  # empty: no persistence
        await until(lambda: all(n.server.store._redis._factory.size for n in self.nodes))
        a.feed(req("REGISTER", "sip:127.0.0.1", "SIP/2.0/SCTP 127.0.0.3:5080;branch=z9hG4bKr2",
                   "Contact: <sip:bob@127.0.0.3:5080;transport=sctp>\r\nExpires: 300\r\n", to="<sip:bob@127.0.0.1>", callID="reg-1", cseq=2, fromTag="r"), 8, UAS)
        [(response, _, _)] = await until(a.sent)
        self.assertEqual(response.code, 200)
        b.feed(req("INVITE", "sip:bob@127.0.0.1:5060", callID="call-3"))
        [(message, _, _)] = await until(b.sent)
        self.assertEqual(message.method, "INVITE")


class StartupTests(SynchronousTestCase):
    """
    C{twistd sctp-sip --store}: an unreachable or refusing Redis is one line
    on stderr and exit status 1; a reachable one gives the service a
    L{RedisStore}.
    """

    def build(self, *args: str) -> Any:
        from tests.test_tap import parse
        from twisted_sctp.tap import buildService

        return buildService(parse(*args), MemoryReactorClock(), kernel=FakeKernel(), probe=lambda families: None)

    def failure(self, *args: str) -> str:
        import io
        import sys

        err = io.StringIO()
        self.patch(sys, "__stderr__", err)
        e = self.assertRaises(SystemExit, self.build, *args)
        self.assertEqual(e.code, 1)
        [line] = err.getvalue().splitlines()
        return line

    def test_unreachable(self) -> None:
        """Nothing listening: one line naming the store and the error."""
        redis = startRedis(self)
        redis.stop()
        line = self.failure("--store", "redis://127.0.0.1:{}/0".format(redis.port))
        self.assertIn("--store: cannot reach the registration store redis://127.0.0.1:{}/0".format(redis.port), line)
        self.assertIn("refused", line.lower())

    def test_wrongPassword(self) -> None:
        """A refused AUTH: one line with Redis's reason, no password in it."""
        redis = startRedis(self, password="right")
        line = self.failure("--store", "redis://:wrong@127.0.0.1:{}/0".format(redis.port))
        self.assertIn("WRONGPASS", line)
        self.assertNotIn("wrong@", line)

    def test_reachable(self) -> None:
        """A reachable Redis: the SIP service's store is a RedisStore for it."""
        redis = startRedis(self, password="right")
        top = self.build("--store", "redis://:right@127.0.0.1:{}/0".format(redis.port))
        store = top.getServiceNamed("sctp-sip").server.store
        self.assertIsInstance(store, RedisStore)
        self.assertEqual(str(store.url), "redis://127.0.0.1:{}/0".format(redis.port))

    def test_configFile(self) -> None:
        """
        C{store} in C{[server]} of the file (where a password is not on the
        command line for C{ps} to show); C{--store} wins over it.
        """
        from tests.test_tap import parse

        path = self.mktemp() + ".toml"
        with open(path, "w") as f:
            f.write('[server]\nstore = "redis://:pw@10.0.0.9:6380/2"\n')
        self.assertEqual(parse("--config", path)["storeURL"], RedisURL("10.0.0.9", 6380, 2, "pw"))
        self.assertIsNone(parse("--config", path, "--store", "memory")["storeURL"])

    def test_badURL(self) -> None:
        """A --store that is not memory nor redis:// is a usage error."""
        from twisted.python import usage
        from tests.test_tap import parse

        e = self.assertRaises(usage.UsageError, parse, "--store", "mysql://h")
        self.assertIn("redis://", str(e))
