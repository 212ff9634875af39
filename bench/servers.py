"""
The servers the bench compares, each answering SIP OPTIONS over SCTP on its
own port of 127.0.0.1, and L{probe}, which waits until one answers.

  - C{ours}: C{twistd -n sctp-sip} from this checkout (repo root, the venv);
  - C{kamailio}: Kamailio 5.6 with C{bench/kamailio.cfg} (one SCTP worker,
    stateless C{sl_send_reply}), in the foreground (C{-DD -E}) with small
    memory pools;
  - C{floor}: C{bench/floor_responder.py}, the stdlib floor;
  - C{twisted}: C{bench/twisted_responder.py}, a bare Twisted
    C{IReadDescriptor} with the floor's parsing.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Callable, Dict, List, Optional

import attrs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.environ.get("VENV", os.path.join(ROOT, ".venv"))
PYTHON = os.path.join(VENV, "bin", "python") if os.path.exists(os.path.join(VENV, "bin", "python")) else sys.executable

IPPROTO_SCTP = 132

PROBE = (
    "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/SCTP 127.0.0.3:5999;branch=z9hG4bK-probe-{n}\r\n"
    "From: <sip:probe@127.0.0.3>;tag=probe\r\n"
    "To: <sip:127.0.0.1:{port}>\r\n"
    "Call-ID: probe-{n}@127.0.0.3\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Max-Forwards: 70\r\n"
    "Content-Length: 0\r\n\r\n"
)


@attrs.define
class ServerSpec:
    """
    How to start one server.
    """

    name: str
    label: str
    port: int
    argv: List[str]
    cwd: str = ROOT
    env: Optional[Dict[str, str]] = None


def _env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("TWISTED_SCTP_REQUIRE_KERNEL", None)
    env.update(extra)
    return env


def ours(scratch: str) -> ServerSpec:
    """
    C{twistd -n sctp-sip}, started from the repo root with the venv, logging
    to a file, no pid file, its admin socket in the scratch directory.  Its
    reactor is the one C{sctp-sip} installs (L{twisted_sctp.reactor}) unless
    C{BENCH_OURS_REACTOR} names another (C{epoll}: Twisted's own, for a
    before/after of the clock read).
    """
    port = 5093
    twistd = os.path.join(VENV, "bin", "twistd")
    reactor = os.environ.get("BENCH_OURS_REACTOR")
    return ServerSpec(
        name="ours",
        label="twistd sctp-sip (ours)",
        port=port,
        argv=[
            twistd, "-n", "--pidfile=", "--logfile", os.path.join(scratch, "twistd.log"),
            *(["--reactor", reactor] if reactor else []),
            "sctp-sip", "--listen", "sctp:127.0.0.1:{}".format(port),
            "--admin", "unix:{}".format(os.path.join(scratch, "admin.sock")),
        ],
        env=_env(PYTHONPATH=ROOT),
    )


def kamailio(scratch: str) -> ServerSpec:
    port = 5092
    runtime = os.path.join(scratch, "kamailio-run")
    os.makedirs(runtime, exist_ok=True)
    return ServerSpec(
        name="kamailio",
        label="Kamailio 5.6 sctp, 1 worker",
        port=port,
        argv=[
            "kamailio", "-f", os.path.join(HERE, "kamailio.cfg"),
            "-A", "BENCH_LISTEN=sctp:127.0.0.1:{}".format(port),
            "-DD", "-E", "-m", "32", "-M", "8", "-Y", runtime,
        ],
        env=_env(),
    )


def floor(scratch: str) -> ServerSpec:
    port = 5090
    return ServerSpec(
        name="floor",
        label="stdlib floor (blocking recvmsg/sendmsg)",
        port=port,
        argv=[PYTHON, os.path.join(HERE, "floor_responder.py"), "--port", str(port)],
        env=_env(),
    )


def twisted(scratch: str) -> ServerSpec:
    port = 5091
    return ServerSpec(
        name="twisted",
        label="bare Twisted IReadDescriptor",
        port=port,
        argv=[PYTHON, os.path.join(HERE, "twisted_responder.py"), "--port", str(port)],
        env=_env(),
    )


SERVERS: Dict[str, Callable[[str], ServerSpec]] = {
    "ours": ours,
    "kamailio": kamailio,
    "floor": floor,
    "twisted": twisted,
}


def probe(port: int, timeout: float = 30.0, alive: Callable[[], bool] = lambda: True) -> bool:
    """
    Send OPTIONS over a fresh SCTP association until a 200 comes back.

    @return: whether one did within C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline and alive():
        n += 1
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
        except OSError:
            return False
        try:
            sock.settimeout(1.0)
            sock.bind(("127.0.0.3", 0))
            sock.connect(("127.0.0.1", port))
            sock.sendall(PROBE.format(port=port, n=n).encode())
            reply = sock.recv(65536)
            if reply.startswith(b"SIP/2.0 200"):
                return True
        except OSError:
            pass
        finally:
            sock.close()
        time.sleep(0.2)
    return False
