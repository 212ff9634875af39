#!/usr/bin/env python3
"""
Read fairness against a real C{twistd -n sctp-sip} (issue 16 item 8): one
association sends 1,000,000-byte OPTIONS back to back while probes from
other associations send small OPTIONS; how long each probe waits for its
200.  Run in the SCTP kernel (the server, the big sender and the probes are
three processes):

    scripts/with-sctp-kernel .venv/bin/python bench/fairness.py [--interleave 0|1]

C{--interleave} starts the server with that C{SCTP_FRAGMENT_INTERLEAVE}
level (L{twisted_sctp.kernel.backend.KernelBackend.fragmentInterleave});
without it the server runs with its defaults.  Prints one JSON line.

The sender and the probes are stdlib only (blocking one-to-many sockets);
C{tests/integration/test_hostile_sctp.py} runs the same sender
(L{senderArgv}) against an in-process server.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

IPPROTO_SCTP = 132
MSG_NOTIFICATION = 0x8000
#: SO_SNDBUFFORCE: root in the guest may pass net.core.wmem_max.
SO_SNDBUFFORCE = 32
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def options(host: str, port: int, callID: str, size: int = 0) -> bytes:
    """
    @return: an OPTIONS from C{host:port}, C{size} bytes in all when
        C{size} is given (the padding in a text body).
    """
    lines = [
        "OPTIONS sip:127.0.0.1 SIP/2.0",
        "Via: SIP/2.0/SCTP {}:{};branch=z9hG4bK{}".format(host, port, callID),
        "Max-Forwards: 70",
        "From: <sip:fair@127.0.0.1>;tag=f{}".format(port),
        "To: <sip:127.0.0.1>",
        "Call-ID: " + callID,
        "CSeq: 1 OPTIONS",
    ]
    if not size:
        return "\r\n".join(lines + ["Content-Length: 0", "", ""]).encode()
    head = "\r\n".join(lines + ["Content-Type: text/plain", "Content-Length: %010d", "", ""]).encode()
    body = size - len(head) + len(b"%010d") - 10
    return head.replace(b"%010d", b"%010d" % body) + b"x" * body


def clientSocket(host: str, sndbuf: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, IPPROTO_SCTP)
    sock.bind((host, 0))
    sock.listen(8)
    if sndbuf:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, sndbuf)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    return sock


def sender(server: Tuple[str, int], host: str, size: int, seconds: float) -> Tuple[int, int]:
    """
    Send C{size}-byte OPTIONS to C{server} back to back for C{seconds},
    counting the 200s between sends.

    @return: how many were handed to the kernel, and how many answered.
    """
    sock = clientSocket(host, 8 << 20)
    sock.settimeout(0.5)
    port = sock.getsockname()[1]
    end = time.monotonic() + seconds
    sent = answered = 0
    while time.monotonic() < end:
        try:
            sock.sendto(options(host, port, "big-{}".format(sent), size), server)
            sent += 1
        except socket.timeout:
            pass
        while True:
            try:
                answered += sock.recv(1 << 16, socket.MSG_DONTWAIT).startswith(b"SIP/2.0 200")
            except (BlockingIOError, socket.timeout):
                break
    sock.close()
    return sent, answered


def senderArgv(server: Tuple[str, int], host: str = "127.0.0.2", size: int = 1000000, seconds: float = 10.0) -> List[str]:
    """
    @return: the command line that runs L{sender} as its own process.
    """
    return [sys.executable, os.path.abspath(__file__), "sender", server[0], str(server[1]), host, str(size), str(seconds)]


def probe(sock: socket.socket, server: Tuple[str, int], callID: str, timeout: float) -> Optional[float]:
    """
    @return: the seconds until the 200 to one small OPTIONS, or C{None}
        after C{timeout}.
    """
    host, port = sock.getsockname()[:2]
    started = time.monotonic()
    sock.sendto(options(host, port, callID), server)
    wanted = ("Call-ID: " + callID + "\r\n").encode()
    while True:
        left = started + timeout - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return None
        data, _, flags, _ = sock.recvmsg(1 << 20, 1024)
        if not flags & MSG_NOTIFICATION and data.startswith(b"SIP/2.0 2") and wanted in data:
            return time.monotonic() - started


def serverArgv(port: int, rundir: str, interleave: Optional[int], extra: Sequence[str] = ()) -> List[str]:
    """
    @return: C{twistd -n sctp-sip} on 127.0.0.1:C{port} with its defaults,
        started through a stub that sets the interleave level first.
    """
    stub = (
        "import sys; from twisted_sctp.kernel.backend import KernelBackend\n"
        "if sys.argv[1] != '-': KernelBackend.fragmentInterleave = int(sys.argv[1])\n"
        "sys.argv = ['twistd'] + sys.argv[2:]\n"
        "from twisted.scripts.twistd import run; run()\n"
    )
    return [sys.executable, "-c", stub, "-" if interleave is None else str(interleave),
            "-n", "--pidfile=", "-l", os.path.join(rundir, "twistd.log"), "-d", rundir,
            "sctp-sip", "--listen", "sctp:127.0.0.1:{}".format(port)] + list(extra)


def measure(port: int, interleave: Optional[int], probes: int, interval: float, timeout: float, size: int, extra: Sequence[str] = ()) -> Dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    server = ("127.0.0.1", port)
    child = startServer(port, interleave, extra)
    big = None
    try:
        sock = clientSocket("127.0.0.3")
        seconds = probes * interval + 2 * timeout + 3
        big = subprocess.Popen(senderArgv(server, "127.0.0.2", size, seconds), cwd=ROOT, env=env, stdout=subprocess.PIPE)
        time.sleep(1.0)
        latencies: List[Optional[float]] = []
        for n in range(probes):
            latencies.append(probe(sock, server, "probe-{}".format(n), timeout))
            time.sleep(interval)
        sent, bigAnswered = (int(x) for x in big.communicate(timeout=seconds + 30)[0].split())
    finally:
        if big is not None and big.poll() is None:
            big.kill()
        child.terminate()
        child.wait(30)
    answered = [x for x in latencies if x is not None]
    return {
        "interleave": "default" if interleave is None else interleave,
        "probes": probes,
        "answered": len(answered),
        "timeout_s": timeout,
        "median_s": round(statistics.median(answered), 3) if answered else None,
        "max_s": round(max(answered), 3) if answered else None,
        "big_sent": sent,
        "big_answered": bigAnswered,
        "big_size": size,
    }


def startServer(port: int, interleave: Optional[int] = None, extra: Sequence[str] = ()) -> "subprocess.Popen[bytes]":
    """
    @param extra: more C{sctp-sip} arguments.
    @return: a running C{twistd -n sctp-sip} that answers on C{port}.
    """
    rundir = tempfile.mkdtemp(prefix="sctp-fair-")
    child = subprocess.Popen(serverArgv(port, rundir, interleave, extra), cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    sock = clientSocket("127.0.0.4")
    for attempt in range(100):
        if probe(sock, ("127.0.0.1", port), "ready-{}".format(attempt), 0.5) is not None:
            sock.close()
            return child
    child.kill()
    raise SystemExit("the server did not answer")


def answer(sock: socket.socket, callID: str, timeout: float) -> Tuple[Optional[float], bytes]:
    """
    @return: the seconds until a final response whose Call-ID is
        C{callID}, and its first line.
    """
    started = time.monotonic()
    wanted = ("Call-ID: " + callID + "\r\n").encode()
    while True:
        left = started + timeout - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return None, b""
        data, _, flags, _ = sock.recvmsg(1 << 20, 1024)
        if not flags & MSG_NOTIFICATION and data.startswith(b"SIP/2.0 ") and data[8:9] != b"1" and wanted in data:
            return time.monotonic() - started, data.split(b"\r\n", 1)[0]


def sameAssociation(port: int, timeout: float, extra: Sequence[str] = ()) -> Dict[str, Any]:
    """
    Issue 16 item 9 against a separate C{twistd -n sctp-sip}: on one
    association each, a malformed ACK (no CSeq) then an OPTIONS; a
    1.5 MB message then an OPTIONS; a 1,000,000-byte OPTIONS; a
    1,000,000-byte OPTIONS whose size is one header.  How long each answer
    took (C{None}: none within C{timeout}) and what it was.
    """
    server = ("127.0.0.1", port)
    child = startServer(port, None, extra)
    out: Dict[str, Any] = {}
    try:
        for n, case in enumerate(("ack", "oversize", "megabyte", "megaheader")):
            sock = clientSocket("127.0.0.{}".format(5 + n), 8 << 20)
            host, cport = sock.getsockname()[:2]
            first = options(host, cport, case + "-0")
            if case == "ack":
                ack = first.replace(b"OPTIONS sip", b"ACK sip", 1).replace(b"CSeq: 1 OPTIONS\r\n", b"")
                sock.sendto(ack, server)
            elif case == "oversize":
                sock.sendto(options(host, cport, case + "-0", 1500000), server)
            elif case == "megabyte":
                sock.sendto(options(host, cport, case + "-0", 1000000), server)
                out[case] = answer(sock, case + "-0", timeout)
            else:
                pad = b"X-Pad: " + b"p" * (1000000 - len(first) - 9) + b"\r\n"
                sock.sendto(first.replace(b"Max-Forwards", pad + b"Max-Forwards", 1), server)
                out[case] = answer(sock, case + "-0", timeout)
            sock.sendto(options(host, cport, case + "-1"), server)
            out[case + "_then_options"] = answer(sock, case + "-1", timeout)
            sock.close()
    finally:
        child.terminate()
        child.wait(30)
    return {k: (None if v[0] is None else round(v[0], 3), v[1].decode("ascii", "replace")) for k, v in out.items()}


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["sender"]:
        host, port, source, size, seconds = argv[1:6]
        print("{} {}".format(*sender((host, int(port)), source, int(size), float(seconds))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interleave", type=int, choices=(0, 1, 2), default=None)
    parser.add_argument("--port", type=int, default=5097)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--size", type=int, default=1000000)
    parser.add_argument("--server-option", action="append", default=[], metavar="NAME=VALUE", help="an --option for the server (repeatable)")
    parser.add_argument("--same-association", action="store_true", help="the item 9 cases instead (timeout 20 s)")
    args = parser.parse_args(argv)
    extra = [a for o in args.server_option for a in ("--option", o)]
    if args.same_association:
        print(json.dumps(sameAssociation(args.port, 20.0, extra)))
        return 0
    print(json.dumps(measure(args.port, args.interleave, args.probes, args.interval, args.timeout, args.size, extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
