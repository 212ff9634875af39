#!/usr/bin/env python3
"""
A bare Twisted responder: the floor's socket and parse-and-reply
(L{floor_responder.respond}) behind a minimal C{IReadDescriptor} on the
default (epoll) reactor, without twisted_sctp.  It shows what the reactor
adds: one C{epoll_wait} per wake-up and a non-blocking socket.

    python3 bench/twisted_responder.py --port 5091 [--reads-per-wakeup 1]

C{--reads-per-wakeup 1} (the default, the lab's reference design) reads one
message per C{doRead}; a larger value loops C{recvmsg} until C{EAGAIN} or
that many messages, as C{twisted_sctp.transport.port.SCTPPort} does.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from zope.interface import implementer  # noqa: E402

from twisted.internet.interfaces import IReadDescriptor  # noqa: E402

from floor_responder import openListener, respond  # type: ignore[import-not-found]  # noqa: E402


@implementer(IReadDescriptor)
class Responder:
    """
    Answers OPTIONS on a non-blocking one-to-many SCTP socket.
    """

    def __init__(self, sock: Any, readsPerWakeup: int = 1) -> None:
        self.socket = sock
        self.readsPerWakeup = readsPerWakeup

    def fileno(self) -> int:
        return int(self.socket.fileno())

    def logPrefix(self) -> str:
        return "TwistedResponder"

    def connectionLost(self, reason: Any) -> None:
        self.socket.close()

    def doRead(self) -> None:
        recvmsg = self.socket.recvmsg
        sendmsg = self.socket.sendmsg
        for _ in range(self.readsPerWakeup):
            try:
                data, ancdata, flags, address = recvmsg(65536, 256)
            except (BlockingIOError, InterruptedError, ConnectionResetError, ConnectionRefusedError):
                return
            respond(sendmsg, data, ancdata, flags, address)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5091)
    parser.add_argument("--reads-per-wakeup", type=int, default=1)
    args = parser.parse_args(argv)
    from twisted.internet import reactor

    responder = Responder(openListener(args.host, args.port, blocking=False), args.reads_per_wakeup)
    reactor.addReader(responder)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
