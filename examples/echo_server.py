#!/usr/bin/env python3
# -*- test-case-name: tests.integration.test_examples -*-
"""
An SCTP echo server: every message that arrives is sent back on the
association it came on, on the same stream.

    python examples/echo_server.py --host 127.0.0.1 --port 5099

Several C{--host} options make a multihomed listener.  Stop it with Ctrl-C.
Try it with C{examples/echo_client.py}.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, List, Optional

from twisted.internet import defer, task
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from twisted_sctp.error import SCTPUnavailableError
from twisted_sctp import SCTPOptions
from twisted_sctp import SCTPMessage, listenSCTP


class Echo(Protocol):
    """
    One association: echo each message back where it came from.
    """

    def connectionMade(self) -> None:
        print("association from {} up".format(self.transport.getPeer()), flush=True)  # type: ignore[union-attr]

    def messageReceived(self, message: SCTPMessage) -> None:
        """
        Send C{message} back on its association and stream.
        """
        print(
            "echoing {} bytes on stream {} to {}".format(
                len(message.payload), message.stream, message.association.peer
            ),
            flush=True,
        )
        self.transport.writeMessage(message.payload, stream=message.stream)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        print("association ended: {}".format(reason.getErrorMessage() if reason else "closed"), flush=True)


def parseArgs(argv: List[str]) -> argparse.Namespace:
    """
    @return: the parsed command line.
    """
    parser = argparse.ArgumentParser(description="SCTP echo server (twisted-sctp example)")
    parser.add_argument(
        "--host",
        action="append",
        help="address to listen on; repeat for a multihomed listener (default 127.0.0.1)",
    )
    parser.add_argument("--port", type=int, default=5099, help="SCTP port (default 5099, 0 for any)")
    return parser.parse_args(argv)


async def main(reactor: Any, *argv: str) -> None:
    """
    Listen until the process is stopped.
    """
    args = parseArgs(list(argv))
    hosts = args.host or ["127.0.0.1"]
    # Start once the reactor runs (and handles SIGINT/SIGTERM), so that the
    # "listening" line below means a signal now stops the server cleanly.
    await task.deferLater(reactor, 0, lambda: None)
    try:
        port = listenSCTP(
            reactor,
            args.port,
            Factory.forProtocol(Echo),
            interfaces=hosts,
            # Keep idle associations for an hour instead of the default 3 minutes.
            options=SCTPOptions(autoclose=3600),
        )
    except SCTPUnavailableError as e:
        print("echo_server: {}".format(e), file=sys.stderr, flush=True)
        raise SystemExit(1)
    reactor.addSystemEventTrigger("before", "shutdown", port.stopListening)
    print("echo server listening on {}".format(port.getHost()), flush=True)
    forever: defer.Deferred[None] = defer.Deferred()
    await forever


def run(argv: Optional[List[str]] = None) -> None:
    """
    Entry point: run L{main} under L{task.react}.
    """
    task.react(main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    run()
