"""
The user-space engine's throughput on this host (no kernel SCTP): one
association, 1 KB messages both ways at once, engine to engine.

  - C{layer}: two L{SCTPPort}s over L{EngineBackend} on the loopback (UDP
    sockets, the Twisted reactor, the association layer), each side a
    streaming producer that the layer pauses and resumes;
  - C{layer_mtu65000}: the same with C{mtu=65000} on both engines (the
    loopback carries 64 KB datagrams): several DATA chunks to a packet;
  - C{sansio}: two engine L{Endpoint}s back to back in memory
    (L{twisted_sctp.engine.testing.EnginePair}), no sockets, no reactor.

Reports messages per second each way (wall clock) and CPU microseconds per
message (process time over the messages of both directions).

    python -m bench.engine --json --n 20000
    scripts/with-sctp-kernel .venv/bin/python -m bench.engine --guest --n 5000

With C{--guest} (in the SCTP kernel guest): a kernel SCTP port against an
engine port over the kernel's UDP encapsulation, beside two kernel ports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from zope.interface import implementer

from twisted.internet.interfaces import IPushProducer

PAYLOAD = bytes(range(256)) * 4
#: The engine's UDP port when the kernel is the peer (net.sctp.encap_port).
ENGINE_UDP = 9913
KERNEL_UDP = 9899


def guest(n: int) -> Dict[str, Any]:
    """
    In the SCTP kernel guest: a kernel SCTP port (encapsulated by the
    kernel) against an engine port, beside kernel to kernel.  Sets the
    encapsulation sysctls for the run and puts them back.
    """
    import subprocess

    names = ("net.sctp.udp_port", "net.sctp.encap_port")
    saved = [subprocess.run(["sysctl", "-n", name], capture_output=True, text=True).stdout.strip() for name in names]
    out: Dict[str, Any] = {}
    try:
        out["kernel_to_kernel"] = runChild(n, "kernel-kernel")
        subprocess.run(["sysctl", "-q", "-w", "net.sctp.udp_port={}".format(KERNEL_UDP), "net.sctp.encap_port={}".format(ENGINE_UDP)], check=True)
        out["kernel_to_engine"] = runChild(n, "kernel-engine")
    finally:
        subprocess.run(["sysctl", "-q", "-w"] + ["{}={}".format(name, value or 0) for name, value in zip(names, saved)], check=False)
    return out


def runChild(n: int, mode: str, extra: Sequence[str] = ()) -> Dict[str, Any]:
    # Each run in its own interpreter: a reactor runs only once.
    import subprocess

    command = [sys.executable, "-m", "bench.engine", "--json", "--n", str(n), "--only", mode, *extra]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if proc.returncode:
        return {"error": proc.stderr[-800:]}
    result: Dict[str, Any] = json.loads(proc.stdout)
    return result[mode]


@implementer(IPushProducer)
class _Blaster:
    def __init__(self, reactor: Any, transport: Any, n: int) -> None:
        self.reactor, self.transport, self.n = reactor, transport, n
        self.sent = 0
        self.paused = False

    def start(self) -> None:
        self.transport.registerProducer(self, True)
        self.reactor.callLater(0, self.pump)

    def pump(self) -> None:
        burst = 0
        while not self.paused and self.sent < self.n and burst < 64:
            self.transport.writeMessage(PAYLOAD)
            self.sent += 1
            burst += 1
        if self.sent < self.n and not self.paused:
            self.reactor.callLater(0, self.pump)

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        if self.paused:
            self.paused = False
            self.reactor.callLater(0, self.pump)

    def stopProducing(self) -> None:
        self.paused = True


def runLayer(n: int, kernelClient: bool = False, kernelServer: bool = False, mtu: Optional[int] = None) -> Dict[str, Any]:
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory, Protocol

    from twisted_sctp import listenSCTPOverUDP
    from twisted_sctp.transport.options import SCTPOptions

    got: List[int] = [0, 0]

    class Counter(Protocol):
        side = 0

        def messageReceived(self, message: Any) -> None:
            got[self.side] += 1
            if got[0] >= n and got[1] >= n:
                reactor.stop()  # type: ignore[attr-defined]

    class ServerSide(Counter):
        side = 0

        def connectionMade(self) -> None:
            _Blaster(reactor, self.transport, n).start()

    class ClientSide(Counter):
        side = 1

    from twisted_sctp import listenSCTP

    options = SCTPOptions(socket_sndbuf=256 * 1024, sack_delay=20)
    if kernelServer:
        server = listenSCTP(reactor, 0, Factory.forProtocol(ServerSide), ["127.0.0.1"], options)
    else:
        server = listenSCTPOverUDP(reactor, 0, Factory.forProtocol(ServerSide), "127.0.0.1", options, udpPort=ENGINE_UDP if kernelClient else 0, mtu=None if kernelClient else mtu)
    if kernelClient:
        client = listenSCTP(reactor, 0, Factory.forProtocol(ClientSide), ["127.0.0.1"], options)
    else:
        backend: Any = server.backend
        client = listenSCTPOverUDP(reactor, 0, Factory.forProtocol(ClientSide), "127.0.0.1", options, udpPort=0, encapPort=backend.boundUDPPort, mtu=mtu)
    started: Dict[str, float] = {}

    def up(protocol: Any) -> None:
        started["wall"], started["cpu"] = time.perf_counter(), time.process_time()
        _Blaster(reactor, protocol.transport, n).start()

    client.connect(("127.0.0.1", server.getHost().port)).addCallback(up)
    timeout = reactor.callLater(max(60, n / 200), reactor.stop)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    wall, cpu = time.perf_counter() - started.get("wall", time.perf_counter()), time.process_time() - started.get("cpu", 0)
    if timeout.active():
        timeout.cancel()
    server.stopListening()
    client.stopListening()
    done = min(got)
    return {
        "messages_each_way": n,
        "received": list(got),
        "complete": done >= n,
        "seconds": round(wall, 3),
        "messages_per_second_each_way": round(done / wall) if wall > 0 else None,
        "cpu_us_per_message": round(cpu * 1e6 / max(1, sum(got)), 1),
        # What one core would give (both ends share this process), on a
        # host where other work takes the CPU away.
        "cpu_bound_messages_per_second_each_way": round(done / cpu) if cpu > 0 else None,
    }


def runSansIO(n: int) -> Dict[str, Any]:
    from twisted_sctp.engine.config import EngineConfig
    from twisted_sctp.engine.events import MessageReceived
    from twisted_sctp.engine.testing import EnginePair

    p = EnginePair(EngineConfig(hbInterval=None))
    a, b = p.connect()
    wall, cpu = time.perf_counter(), time.process_time()
    sent = 0
    while sent < n:
        for _ in range(64):
            if sent >= n:
                break
            p.a.send(a, PAYLOAD, p.now)
            p.b.send(b, PAYLOAD, p.now)
            sent += 1
        p.run(limit=p.now + 0.05)
    p.run(limit=p.now + 5)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    received = [sum(1 for e in p.events[name] if isinstance(e, MessageReceived)) for name in ("a", "b")]
    return {
        "messages_each_way": n,
        "received": received,
        "complete": min(received) >= n,
        "seconds": round(wall, 3),
        "messages_per_second_each_way": round(min(received) / wall) if wall > 0 else None,
        "cpu_us_per_message": round(cpu * 1e6 / max(1, sum(received)), 1),
    }


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="messages each way")
    parser.add_argument("--only", choices=["layer", "sansio", "kernel-kernel", "kernel-engine"], default=None)
    parser.add_argument("--guest", action="store_true", help="in the SCTP kernel guest: kernel to engine beside kernel to kernel")
    parser.add_argument("--mtu", type=int, default=None, help="the engine's mtu for --only layer (default: the engine's, 1200)")
    parser.add_argument("--bundled-mtu", type=int, default=65000, help="the mtu of the extra layer run (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out: Dict[str, Any] = {"payload_bytes": len(PAYLOAD)}
    if args.guest:
        out.update(guest(args.n))
        print(json.dumps(out, indent=2))
        return 0
    if args.only == "kernel-kernel":
        out["kernel-kernel"] = runLayer(args.n, kernelClient=True, kernelServer=True)
    if args.only == "kernel-engine":
        out["kernel-engine"] = runLayer(args.n, kernelClient=True)
    if args.only in (None, "sansio"):
        out["sansio"] = runSansIO(args.n)
    if args.only is None and args.bundled_mtu:
        # Before this process's own reactor run (a reactor runs only once).
        out["layer_mtu{}".format(args.bundled_mtu)] = runChild(args.n, "layer", ["--mtu", str(args.bundled_mtu)])
    if args.only in (None, "layer"):
        out["layer"] = runLayer(args.n, mtu=args.mtu)
    print(json.dumps(out, indent=2) if args.json else out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
