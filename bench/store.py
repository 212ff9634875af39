"""
The registration store's cost on the host (issue 12): REGISTER and lookup
through L{MemoryStore} and L{RedisStore} (a real C{redis-server} on
loopback, started here), one transaction at a time (latency: us/txn, one
Redis round trip each) and 64 in flight (throughput).

    .venv/bin/python bench/store.py [--count N]

Not part of C{make bench} yet; prints a table and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import defer, reactor, task  # noqa: E402

from tests.redisserver import RedisServer  # noqa: E402
from twisted_sctp.sip.message import parseNameAddr  # noqa: E402
from twisted_sctp.sip.registrar import Registrar, ServerSettings  # noqa: E402
from twisted_sctp.sip.store import MemoryStore, RedisStore, parseStoreURL  # noqa: E402

SETTINGS = ServerSettings(maxBindings=1000000)


async def measure(name: str, store: Any, count: int, rows: List[str]) -> None:
    contacts = [[parseNameAddr("<sip:u{}@10.0.{}.{}:5060;transport=sctp>".format(i, i // 250 % 250, i % 250), "Contact")] for i in range(count)]

    async def serial(op: Callable[[int], Any]) -> float:
        start = time.perf_counter()
        for i in range(count):
            await op(i)
        return (time.perf_counter() - start) / count * 1e6

    async def parallel(op: Callable[[int], Any], width: int = 64) -> float:
        start = time.perf_counter()
        for base in range(0, count, width):
            await defer.gatherResults([op(i) for i in range(base, min(count, base + width))])
        return count / (time.perf_counter() - start)

    register = lambda i: store.register("u{}@".format(i), contacts[i], 3600, "c{}".format(i), 1)  # noqa: E731
    refresh = lambda i: store.register("u{}@".format(i), contacts[i], 3600, "c{}".format(i), 2)  # noqa: E731
    lookup = lambda i: store.lookup("u{}@".format(i))  # noqa: E731
    rows.append("| {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} |".format(
        name, await serial(register), await serial(lookup), await parallel(refresh), await parallel(lookup),
        1 if isinstance(store, RedisStore) else 0))


async def main(count: int) -> None:
    rows = ["| store | REGISTER us/txn | lookup us/txn | REGISTER/s (64 in flight) | lookup/s (64 in flight) | Redis round trips per txn |",
            "|---|---|---|---|---|---|"]
    await measure("memory", MemoryStore(Registrar(reactor, SETTINGS)), count, rows)
    server = RedisServer()
    server.start()
    try:
        store = RedisStore(reactor, SETTINGS, parseStoreURL(server.url))  # type: ignore[arg-type]
        store.start()
        while not store._redis._factory.size:
            await task.deferLater(reactor, 0.05, lambda: None)
        await measure("redis (loopback)", store, count, rows)
        await store.stop()
    finally:
        server.cleanup()
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    d = defer.ensureDeferred(main(args.count))
    d.addErrback(lambda f: (f.printTraceback(), None))
    d.addBoth(lambda _: reactor.stop())
    reactor.run()
