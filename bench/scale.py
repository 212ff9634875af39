"""
Scale of the association registry on the host (pure, no kernel):

  - memory: RSS growth (C{/proc/self/status} VmRSS, after C{gc.collect})
    and Python heap growth (C{tracemalloc}) for N live associations, both
    in the bare L{AssociationRegistry} and through an L{SCTPPort} on a
    scripted socket, where each association also gets its transport and
    the SIP server's protocol (what C{twistd sctp-sip} holds per
    association);
  - lookup time by kernel assoc_id (with the source-address check the
    receive path makes), by our id and by peer address, at several sizes:
    flat means O(1);
  - the cost of one association's end (C{down}) at those sizes;
  - the cost of one COMM_UP through the port (notification decode, registry,
    protocol) at those sizes.

Each memory figure is taken in a fresh interpreter.

    python -m bench.scale --json [--n 10000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from typing import Any, Callable, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from twisted.internet.task import Clock  # noqa: E402

from twisted_sctp.transport.address import SCTPAddress  # noqa: E402
from twisted_sctp.transport.registry import AssociationRegistry  # noqa: E402


#: The services fillPort built, kept alive while their ports are measured.
_KEEP: List[Any] = []


def peer(i: int) -> SCTPAddress:
    """@return: a distinct peer address for association C{i}."""
    return SCTPAddress("10.{}.{}.{}".format((i >> 16) & 255, (i >> 8) & 255, i & 255), 5060 + (i % 1000))


def rssKB() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fillRegistry(n: int) -> AssociationRegistry:
    registry = AssociationRegistry(Clock())
    for i in range(n):
        registry.up(i + 1, peer(i), 10, 10)
    return registry


def fillPort(n: int) -> Any:
    """
    @return: a started SIP service's port (scripted socket) with C{n}
        associations brought up by COMM_UP notifications.
    """
    from twisted.internet.testing import MemoryReactorClock

    from twisted_sctp.sip.transport import SIPSettings
    from twisted_sctp.tap import SIPService
    from twisted_sctp.testing import FakeKernel, commUp

    kernel = FakeKernel()
    service = SIPService(MemoryReactorClock(), [(["127.0.0.1"], 5060)], sipSettings=SIPSettings(udp=False), kernel=kernel)
    service.startService()
    port = service.ports[0]
    sock = kernel.socket
    for i in range(n):
        p = peer(i)
        sock.feedNotification(commUp(i + 1), peer=(p.host, p.port))
        if len(sock.incoming) >= 64:
            port.doRead()
    while sock.incoming:
        port.doRead()
    _KEEP.append(service)
    return port


def memory(kind: str, n: int) -> Dict[str, Any]:
    """
    Measure in this interpreter (call in a fresh one).
    """
    fill: Callable[[int], Any] = fillRegistry if kind == "registry" else fillPort
    if kind == "port":
        fill(10)  # imports and one-off caches, before the baseline
    gc.collect()
    tracemalloc.start()
    before = rssKB()
    traced0 = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    keep = fill(n)
    elapsed = time.perf_counter() - start
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced0
    after = rssKB()
    registry = keep if kind == "registry" else keep.registry
    assert len(registry) == n, (len(registry), n)
    tracemalloc.stop()
    return {
        "kind": kind,
        "associations": n,
        "rss_growth_mb": round((after - before) / 1024.0, 2),
        "python_heap_growth_mb": round(traced / 1048576.0, 2),
        "bytes_per_association": int(traced / n),
        "fill_us_per_association": round(elapsed * 1e6 / n, 1),
        "note": "RSS and heap measured with tracemalloc on, which adds its own bookkeeping to RSS",
    }


def memoryNoTrace(kind: str, n: int) -> Dict[str, Any]:
    fill: Callable[[int], Any] = fillRegistry if kind == "registry" else fillPort
    if kind == "port":
        fill(10)
    gc.collect()
    before = rssKB()
    keep = fill(n)
    gc.collect()
    after = rssKB()
    assert keep is not None
    return {"rss_growth_mb": round((after - before) / 1024.0, 2)}


def lookups(sizes: List[int], count: int = 200000) -> List[Dict[str, Any]]:
    """
    @return: per registry size, nanoseconds per lookup of each kind and per
        C{down} (an association's end).
    """
    out = []
    for size in sizes:
        registry = fillRegistry(size)
        ids = [1 + (i * 7919) % size for i in range(1000)]
        sources = [(peer(i - 1).host, peer(i - 1).port) for i in ids]
        byKernelID, byID, byPeer = registry.byKernelID, registry.byID, registry.byPeer
        assocIDs = ids * (count // len(ids))
        paired = list(zip(ids, sources)) * (count // len(ids))
        row: Dict[str, Any] = {"associations": size}
        for name, fn in (
            ("byKernelID_ns", lambda: [byKernelID(a) for a in assocIDs]),
            ("byKernelID_with_source_ns", lambda: [byKernelID(a, s) for a, s in paired]),
            ("byID_ns", lambda: [byID(a) for a in assocIDs]),
            ("byPeer_ns", lambda: [byPeer(s) for _, s in paired]),
        ):
            best = min(_timed(fn) for _ in range(3))
            row[name] = round(best * 1e9 / len(assocIDs), 1)
        # An association's end: time 200 downs (or all, if fewer).
        victims = list(range(1, min(size, 200) + 1))
        start = time.perf_counter()
        for assocID in victims:
            registry.down(assocID, "shutdown")
        row["down_us"] = round((time.perf_counter() - start) * 1e6 / len(victims), 2)
        out.append(row)
    return out


def commUpCost(sizes: List[int], count: int = 200) -> List[Dict[str, Any]]:
    """
    @return: per size, microseconds for one more COMM_UP through the port
        (and one SHUTDOWN_COMP), with C{size} associations already up.
    """
    from twisted_sctp.kernel.constants import AssocChangeState
    from twisted_sctp.kernel.notifications import AssocChange
    from twisted_sctp.testing import commUp

    rows = []
    for size in sizes:
        port = fillPort(size)
        sock = port.socket
        extra = [size + 1 + i for i in range(count)]
        for assocID in extra:
            p = peer(assocID)
            sock.feedNotification(commUp(assocID), peer=(p.host, p.port))
        start = time.perf_counter()
        while sock.incoming:
            port.doRead()
        up = (time.perf_counter() - start) * 1e6 / count
        for assocID in extra:
            sock.feedNotification(AssocChange(state=AssocChangeState.SHUTDOWN_COMP, error=0, outboundStreams=0, inboundStreams=0, assocID=assocID))
        start = time.perf_counter()
        while sock.incoming:
            port.doRead()
        down = (time.perf_counter() - start) * 1e6 / count
        rows.append({"associations": size, "comm_up_us": round(up, 1), "shutdown_comp_us": round(down, 1)})
    return rows


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _fresh(kind: str, n: int, trace: bool) -> Dict[str, Any]:
    argv = [sys.executable, "-m", "bench.scale", "--memory-only", kind, "--n", str(n)]
    if not trace:
        argv.append("--no-trace")
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=600, env=dict(os.environ, PYTHONPATH=ROOT))
    if proc.returncode != 0:
        return {"error": proc.stderr.decode(errors="replace")[-500:]}
    result: Dict[str, Any] = json.loads(proc.stdout)
    return result


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--sizes", default="100,1000,10000,50000")
    parser.add_argument("--memory-only", default=None)
    parser.add_argument("--no-trace", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.memory_only:
        fn = memoryNoTrace if args.no_trace else memory
        json.dump(fn(args.memory_only, args.n), sys.stdout)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    result: Dict[str, Any] = {"n": args.n, "memory": {}}
    for kind in ("registry", "port"):
        entry = _fresh(kind, args.n, trace=True)
        entry["rss_growth_mb_untraced"] = _fresh(kind, args.n, trace=False).get("rss_growth_mb")
        result["memory"][kind] = entry
    result["lookups"] = lookups(sizes)
    result["port_comm_up"] = commUpCost([s for s in sizes if s <= 10000])
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
    else:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
