"""
User-space cost per OPTIONS transaction on the host, without a kernel:
the receive-parse-route-reply path driven through a scripted socket.

  - C{ours}: the SIP service C{twistd sctp-sip} runs
    (L{twisted_sctp.tap.SIPService}: L{SCTPPort} -> L{SIPTransport} ->
    L{SIPServer} -> back down to C{sendmsg}) on a L{MemoryReactorClock},
    its port's socket a L{twisted_sctp.testing.FakeSCTPSocket} scripted
    with N OPTIONS messages on one association; C{SCTPPort.doRead} is
    called until they are all answered.
  - C{floor}: C{bench/floor_responder.py}'s loop body (C{respond}: C{answer} and the
    reply's control message) over the same scripted socket.
  - C{twisted}: C{bench/twisted_responder.py}'s C{doRead} over it.
  - C{fake}: the scripted socket alone (one C{recvmsg}, one C{sendmsg}):
    the harness's own share, subtracted in the C{net} figures.

    python -m bench.hostcost --json                 # timings (time.perf_counter)
    python -m bench.hostcost --profile ours         # cProfile of ours
    python -m bench.hostcost --profile ours-sn      # ... with a new association per OPTIONS
    python -m bench.hostcost --only ours --n 500 --repeat 1   # under callgrind

Timings are the best (least disturbed) of several repeats, with the median
beside it.  L{callgrindInstructions} runs the same loop under valgrind's
callgrind twice with different N and divides the difference of the total
instruction counts by the difference of N: start-up cancels, and the
figure is deterministic (PYTHONHASHSEED=0).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from twisted_sctp.kernel.constants import IPPROTO_SCTP, MSG_EOR  # noqa: E402
from twisted_sctp.kernel.sockopt import SndRcvInfo  # noqa: E402
from twisted_sctp.testing import FakeKernel, FakeSCTPSocket, commUp  # noqa: E402

PEER = ("127.0.0.2", 5060)
ASSOC_ID = 7

#: What SIPp sends with bench/options.xml (-t s1, -i 127.0.0.2).
TEMPLATE = (
    "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/SCTP 127.0.0.2:5060;branch=z9hG4bK-1234-{n}-0\r\n"
    "From: <sip:sipp@127.0.0.2:5060>;tag=1234SIPpTag00{n}\r\n"
    "To: <sip:127.0.0.1:5060>\r\n"
    "Call-ID: {n}-1234@127.0.0.2\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Contact: <sip:sipp@127.0.0.2:5060;transport=SCTP>\r\n"
    "Max-Forwards: 70\r\n"
    "Accept: application/sdp\r\n"
    "User-Agent: SIPp bench\r\n"
    "Content-Length: 0\r\n\r\n"
)


class LeanSocket(FakeSCTPSocket):
    """
    The scripted socket with a C{sendmsg} that only counts and keeps the
    last reply (the base class decodes every control message it is given,
    which is test bookkeeping, not the path under measurement).
    """

    def __init__(self, family: int = 2) -> None:
        super().__init__(family)
        self.sentCount = 0
        self.lastSent = b""

    def sendmsg(self, buffers: Any, ancdata: Any = (), flags: int = 0, address: Any = None) -> int:
        self.sentCount += 1
        self.lastSent = buffers[0]
        return len(buffers[0])


def messages(n: int) -> List[Tuple[bytes, Any, int, Any]]:
    """
    @return: C{n} distinct OPTIONS as C{recvmsg} returns them on one
        association (the C{SCTP_SNDRCV} control message included).
    """
    anc = [(IPPROTO_SCTP, 1, SndRcvInfo(assocID=ASSOC_ID).pack())]
    return [(TEMPLATE.format(n=i).encode(), anc, MSG_EOR, PEER) for i in range(n)]


def oursSetup() -> Tuple[Any, LeanSocket]:
    """
    @return: a started C{SIPService} on a memory reactor (as C{twistd
        sctp-sip} builds it, minus the admin endpoint) whose port has one
        association up, and its scripted socket.
    """
    from twisted.internet.testing import MemoryReactorClock

    from twisted_sctp.sip.transport import SIPSettings
    from twisted_sctp.tap import SIPService

    kernel = FakeKernel()
    kernel.socket = LeanSocket()
    service = SIPService(MemoryReactorClock(), [(["127.0.0.1"], 5060)], sipSettings=SIPSettings(udp=False), kernel=kernel)
    service.startService()
    port = service.ports[0]
    kernel.socket.feedNotification(commUp(ASSOC_ID), peer=PEER)
    port.doRead()
    return port, kernel.socket


def _timeReads(name: str, sock: LeanSocket, doRead: Callable[[], Any], n: int, script: Optional[List[Tuple[bytes, Any, int, Any]]] = None) -> Tuple[float, bytes]:
    """
    Feed C{sock} C{n} OPTIONS (or C{script}, C{n} messages that are each
    answered or forwarded once) and call C{doRead} until it has read them.

    @return: the seconds that took, and the last reply.
    @raise RuntimeError: not every OPTIONS was answered.
    """
    sock.incoming.extend(messages(n) if script is None else script)
    start = time.perf_counter()
    while sock.incoming:
        doRead()
    elapsed = time.perf_counter() - start
    if sock.sentCount != n:
        raise RuntimeError("{} answered {} of {} messages".format(name, sock.sentCount, n))
    return elapsed, sock.lastSent


def runOurs(n: int) -> Tuple[float, bytes]:
    port, sock = oursSetup()
    return _timeReads("ours", sock, port.doRead, n)


def runFloor(n: int) -> Tuple[float, bytes]:
    from floor_responder import respond  # type: ignore[import-not-found]

    sock = LeanSocket()
    sock.incoming.extend(messages(n))
    recvmsg, sendmsg = sock.recvmsg, sock.sendmsg
    start = time.perf_counter()
    for _ in range(n):
        data, ancdata, flags, address = recvmsg(65536, 256)
        respond(sendmsg, data, ancdata, flags, address)
    elapsed = time.perf_counter() - start
    if sock.sentCount != n:
        raise RuntimeError("the floor answered {} of {}".format(sock.sentCount, n))
    return elapsed, sock.lastSent


def runTwisted(n: int) -> Tuple[float, bytes]:
    from twisted_responder import Responder  # type: ignore[import-not-found]

    sock = LeanSocket()
    return _timeReads("the bare Twisted responder", sock, Responder(sock, readsPerWakeup=1).doRead, n)


def runFake(n: int) -> Tuple[float, bytes]:
    sock = LeanSocket()
    sock.incoming.extend(messages(n))
    recvmsg, sendmsg = sock.recvmsg, sock.sendmsg
    reply = [b"SIP/2.0 200 OK\r\n\r\n"]
    start = time.perf_counter()
    for _ in range(n):
        data, ancdata, flags, address = recvmsg(65536, 256)
        sendmsg(reply, ancdata)
    return time.perf_counter() - start, b""


def _shutdownComp(assocID: int) -> Any:
    from twisted_sctp.kernel.constants import AssocChangeState
    from twisted_sctp.kernel.notifications import AssocChange

    return AssocChange(state=AssocChangeState.SHUTDOWN_COMP, error=0, outboundStreams=0, inboundStreams=0, assocID=assocID)


def oursSNSetup(n: int) -> Tuple[Any, LeanSocket]:
    """
    @return: L{oursSetup}'s port and socket with C{n} associations
        scripted on it (as C{sipp -t sn}): COMM_UP, the OPTIONS,
        SHUTDOWN_COMP, each association from its own port.
    """
    port, sock = oursSetup()
    kernel = port.backend._kernel if hasattr(port.backend, "_kernel") else None
    script: List[Tuple[bytes, Any, int, Any]] = []
    from twisted_sctp.kernel.constants import MSG_NOTIFICATION

    for i, (data, _, flags, _) in enumerate(messages(n)):
        assocID = 1000 + i
        peer = (PEER[0], 20000 + i % 40000)
        if kernel is not None:
            kernel.peers[assocID] = [peer]
        anc = [(IPPROTO_SCTP, 1, SndRcvInfo(assocID=assocID).pack())]
        script.append((commUp(assocID).pack(), [], MSG_NOTIFICATION | MSG_EOR, peer))
        script.append((data, anc, flags, peer))
        script.append((_shutdownComp(assocID).pack(), [], MSG_NOTIFICATION | MSG_EOR, peer))
    sock.incoming.extend(script)
    return port, sock


def runOursSN(n: int) -> Tuple[float, bytes]:
    """
    Ours with a new association per OPTIONS (L{oursSNSetup}).
    """
    port, sock = oursSNSetup(n)
    start = time.perf_counter()
    while sock.incoming:
        port.doRead()
    elapsed = time.perf_counter() - start
    if sock.sentCount != n:
        raise RuntimeError("ours-sn answered {} of {} OPTIONS".format(sock.sentCount, n))
    if len(port.registry) > 1:
        raise RuntimeError("ours-sn kept {} associations".format(len(port.registry)))
    return elapsed, sock.lastSent


#: A REGISTER refreshing one of 100 AORs' binding (SIPp's register scenario).
REGISTER = (
    "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/SCTP 127.0.0.2:5060;branch=z9hG4bK-r-{n}\r\n"
    "From: <sip:u{a}@127.0.0.1>;tag=r{n}\r\n"
    "To: <sip:u{a}@127.0.0.1>\r\n"
    "Call-ID: reg-{a}@127.0.0.2\r\n"
    "CSeq: {n} REGISTER\r\n"
    "Contact: <sip:u{a}@127.0.0.2:5060;transport=sctp>\r\n"
    "Expires: 3600\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Length: 0\r\n\r\n"
)

#: A MESSAGE to a registered user, forwarded to its contact.
PROXIED = (
    "MESSAGE sip:u{a}@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/SCTP 127.0.0.2:5060;branch=z9hG4bK-m-{n}\r\n"
    "From: <sip:caller@127.0.0.1>;tag=m{n}\r\n"
    "To: <sip:u{a}@127.0.0.1>\r\n"
    "Call-ID: msg-{n}@127.0.0.2\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 5\r\n\r\nhello"
)


def _scripted(template: str, n: int) -> List[Tuple[bytes, Any, int, Any]]:
    anc = [(IPPROTO_SCTP, 1, SndRcvInfo(assocID=ASSOC_ID).pack())]
    return [(template.format(n=i + 1, a=i % 100).encode(), anc, MSG_EOR, PEER) for i in range(n)]


def _registrarSetup() -> Tuple[Any, LeanSocket]:
    from twisted.internet.testing import MemoryReactorClock

    from twisted_sctp.sip.registrar import ServerSettings
    from twisted_sctp.sip.transport import SIPSettings
    from twisted_sctp.tap import SIPService

    kernel = FakeKernel()
    kernel.socket = LeanSocket()
    service = SIPService(MemoryReactorClock(), [(["127.0.0.1"], 5060)], sipSettings=SIPSettings(udp=False),
                         serverSettings=ServerSettings(allowInternal=("127.0.0.0/8",)), kernel=kernel)
    service.startService()
    port = service.ports[0]
    kernel.socket.feedNotification(commUp(ASSOC_ID), peer=PEER)
    port.doRead()
    return port, kernel.socket


def runRegister(n: int) -> Tuple[float, bytes]:
    """Ours answering REGISTER refreshes (100 AORs, one binding each)."""
    port, sock = _registrarSetup()
    sock.incoming.extend(_scripted(REGISTER, 100))
    while sock.incoming:
        port.doRead()
    sock.sentCount = 0
    return _timeReads("ours-register", sock, port.doRead, n, _scripted(REGISTER, n))


def runProxied(n: int) -> Tuple[float, bytes]:
    """
    Ours forwarding a MESSAGE to a registered contact (on the association
    the REGISTER came on, by reuse).
    """
    port, sock = _registrarSetup()
    sock.incoming.extend(_scripted(REGISTER, 100))
    while sock.incoming:
        port.doRead()
    sock.sentCount = 0
    elapsed, last = _timeReads("ours-proxied", sock, port.doRead, n, _scripted(PROXIED, n))
    if not last.startswith(b"MESSAGE "):
        raise RuntimeError("ours-proxied sent {!r}, not the request".format(last[:40]))
    return elapsed, last


RUNNERS: Dict[str, Callable[[int], Tuple[float, bytes]]] = {
    "ours": runOurs, "floor": runFloor, "twisted": runTwisted, "fake": runFake,
    "ours-sn": runOursSN, "ours-register": runRegister, "ours-proxied": runProxied,
}


def timeAll(which: List[str], n: int, repeat: int) -> Dict[str, Any]:
    """
    @return: per runner, the best and median microseconds per transaction,
        and the reply it sent last (to show the work was real).
    """
    out: Dict[str, Any] = {}
    for name in which:
        RUNNERS[name](min(n, 200))  # warm up: imports, caches
        times = []
        last = b""
        for _ in range(repeat):
            elapsed, last = RUNNERS[name](n)
            times.append(elapsed * 1e6 / n)
        out[name] = {
            "us_per_txn_best": round(min(times), 2),
            "us_per_txn_median": round(statistics.median(times), 2),
            "repeats": repeat,
            "n": n,
            "reply_head": last.split(b"\r\n", 1)[0].decode(errors="replace"),
            "reply_bytes": len(last),
        }
    if "fake" in out:
        fake = out["fake"]["us_per_txn_best"]
        for name in which:
            if name != "fake":
                out[name]["us_per_txn_net_of_fake"] = round(out[name]["us_per_txn_best"] - fake, 2)
    return out


def profileOurs(n: int, top: int = 25, runner: str = "ours") -> Dict[str, Any]:
    """
    cProfile of C{n} transactions of ours (C{runner} C{"ours"}: on one
    association; C{"ours-sn"}: a new association per transaction).

    @return: the total, and the C{top} functions by own time and by
        cumulative time, as text lines.
    """
    if runner == "ours-sn":
        port, sock = oursSNSetup(n)
    elif runner == "ours":
        port, sock = oursSetup()
        sock.incoming.extend(messages(n))
    else:
        raise ValueError("--profile takes ours or ours-sn, not {!r}".format(runner))
    profiler = cProfile.Profile()
    profiler.enable()
    while sock.incoming:
        port.doRead()
    profiler.disable()
    result: Dict[str, Any] = {"n": n}
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats(key).print_stats(top)
        lines = [line.rstrip() for line in text.getvalue().splitlines() if line.strip()]
        result[key] = lines
    stats = pstats.Stats(profiler)
    result["function_calls_per_txn"] = round(stats.total_calls / n, 1)  # type: ignore[attr-defined]
    return result


_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def callgrindInstructions(name: str, small: int = 300, large: int = 1300) -> Dict[str, Any]:
    """
    Instructions per transaction of runner C{name}, from two callgrind runs.
    """
    totals: Dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        for n in (small, large):
            out = os.path.join(tmp, "cg.{}".format(n))
            argv = [
                "valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                sys.executable, "-m", "bench.hostcost", "--only", name, "--n", str(n), "--repeat", "1", "--quiet",
            ]
            env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=ROOT)
            started = time.monotonic()
            proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=1800)
            if proc.returncode != 0:
                return {"error": "valgrind exited {}: {}".format(proc.returncode, proc.stderr.decode(errors="replace")[-400:])}
            with open(out) as f:
                match = _TOTALS.search(f.read())
            if match is None:
                return {"error": "no totals in the callgrind output"}
            totals[str(n)] = int(match.group(1))
            totals["seconds_{}".format(n)] = round(time.monotonic() - started, 1)
    per = (totals[str(large)] - totals[str(small)]) / float(large - small)
    return {"instructions_per_txn": int(round(per)), "n": [small, large], "totals": totals}


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description="user-space cost per OPTIONS transaction (host, no kernel)")
    parser.add_argument("--only", default="ours,floor,twisted,fake")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", default=None, help="cProfile this runner (ours or ours-sn)")
    parser.add_argument("--callgrind", default=None, help="comma-separated runners to count instructions of")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    which = [w for w in args.only.split(",") if w]
    result: Dict[str, Any] = {}
    if args.repeat > 0 and which:
        result["timing"] = timeAll(which, args.n, args.repeat)
    if args.profile:
        result["profile"] = profileOurs(args.n, runner=args.profile)
    if args.callgrind:
        result["callgrind"] = {name: callgrindInstructions(name) for name in args.callgrind.split(",")}
    if args.quiet:
        return 0
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
    else:
        for name, entry in result.get("timing", {}).items():
            print("{:8} {:8.2f} us/txn best, {:8.2f} median  ({})".format(
                name, entry["us_per_txn_best"], entry["us_per_txn_median"], entry["reply_head"]))
        if "profile" in result:
            print("\n".join(result["profile"]["tottime"][:40]))
        for name, entry in result.get("callgrind", {}).items():
            print(name, entry)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
