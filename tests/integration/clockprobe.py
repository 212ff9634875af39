# -*- test-case-name: tests.integration.test_reactor -*-
"""
Run in its own process by L{tests.integration.test_reactor} in the SCTP
guest: install L{twisted_sctp.reactor.KernelClockReactor}, serve an
C{sctp:} echo, send it messages from a blocking one-to-one stdlib socket
on a thread (one a millisecond) while a chain of timed calls (3 ms apart)
runs, and print what happened as JSON: the echoes, the timers that fired, the ones
that fired before their due time by the real clock, and the reactor's
clock reads and stand-ins.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from typing import Any, Dict, List

from twisted_sctp.reactor import install

reactor = install()

from twisted.internet import protocol  # noqa: E402
from twisted.internet.endpoints import serverFromString  # noqa: E402

IPPROTO_SCTP = 132
MESSAGES = 1000
TIMERS = 200


class Echo(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


def client(port: int, result: Dict[str, Any]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    sock.settimeout(10)
    echoed = 0
    try:
        sock.connect(("127.0.0.1", port))
        for n in range(MESSAGES):
            sock.send(b"message %d" % n)
            if sock.recv(1024) == b"message %d" % n:
                echoed += 1
            time.sleep(0.001)
    finally:
        sock.close()
        result["echoed"] = echoed


def main(port: int) -> None:
    result: Dict[str, Any] = {"fired": 0}
    early: List[float] = []

    def tick(due: List[float]) -> None:
        now = time.time()
        if now < due[0]:
            early.append(due[0] - now)
        result["fired"] += 1
        if result["fired"] < TIMERS:
            following: List[float] = []
            following.append(reactor.callLater(0.003, tick, following).getTime())

    def started(listening: Any) -> None:
        first: List[float] = []
        first.append(reactor.callLater(0.003, tick, first).getTime())
        thread = threading.Thread(target=client, args=(port, result))
        thread.start()

        def done() -> None:
            if thread.is_alive() or result["fired"] < TIMERS:
                reactor.callLater(0.05, done)
                return
            reactor.stop()

        done()

    serverFromString(reactor, "sctp:{}:interface=127.0.0.1".format(port)).listen(protocol.Factory.forProtocol(Echo)).addCallbacks(
        started, lambda f: (result.setdefault("error", f.getErrorMessage()), reactor.stop()))
    reactor.callLater(60, reactor.stop)
    reactor.run()
    result.update(early=early, clockReads=reactor.clockReads, standIns=reactor.standIns, reactor=type(reactor).__name__)
    print(json.dumps(result))


if __name__ == "__main__":
    main(int(sys.argv[1]))
