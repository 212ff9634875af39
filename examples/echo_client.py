#!/usr/bin/env python3
# -*- test-case-name: tests.integration.test_examples -*-
"""
An SCTP echo client: opens an association to an echo server, sends each
message given on the command line as one SCTP message, prints the echoes
and exits.

    python examples/echo_client.py --host 127.0.0.1 --port 5099 hello world

Exits 0 once every echo came back, 1 on an error or a timeout.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any, List, Optional

from twisted.internet import defer, task
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from twisted_sctp.error import ConnectError, SCTPUnavailableError
from twisted_sctp import SCTPOptions
from twisted_sctp import SCTPMessage, listenSCTP


class EchoClient(Protocol):
    """
    Collects the echoes of one association.

    @ivar echoes: the payloads received so far.
    @ivar expected: how many echoes L{finished} waits for.
    @ivar finished: fires with L{echoes} once C{expected} arrived, or fails
        if the association ends first.
    """

    def __init__(self) -> None:
        self.echoes: List[bytes] = []
        self.expected = 0
        self.finished: defer.Deferred[List[bytes]] = defer.Deferred()

    def send(self, messages: List[bytes]) -> defer.Deferred[List[bytes]]:
        """
        Send each of C{messages} as one SCTP message, in order, on stream 0.

        @return: L{finished}.
        """
        self.expected += len(messages)
        for payload in messages:
            self.transport.writeMessage(payload, stream=0)  # type: ignore[union-attr]
        return self.finished

    def messageReceived(self, message: SCTPMessage) -> None:
        """
        Print one echo; fire L{finished} after the last.
        """
        self.echoes.append(message.payload)
        print("echo: {}".format(message.payload.decode("utf-8", "replace")), flush=True)
        if len(self.echoes) >= self.expected and not self.finished.called:
            self.finished.callback(self.echoes)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if not self.finished.called:
            self.finished.errback(reason)


def parseArgs(argv: List[str]) -> argparse.Namespace:
    """
    @return: the parsed command line.
    """
    parser = argparse.ArgumentParser(description="SCTP echo client (twisted-sctp example)")
    parser.add_argument("--host", default="127.0.0.1", help="the echo server's address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5099, help="the echo server's port (default 5099)")
    parser.add_argument(
        "--bind", default=None, help="local address to use (default: any address of the server's family)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the echoes (default 10)")
    parser.add_argument("messages", nargs="*", default=["hello"], help="messages to send (default: hello)")
    args = parser.parse_args(argv)
    try:
        ipaddress.ip_address(args.host)
    except ValueError:
        parser.error("--host must be an IP address, not {!r}".format(args.host))
    return args


async def main(reactor: Any, *argv: str) -> None:
    """
    Connect, send, print the echoes, close.
    """
    args = parseArgs(list(argv))
    bind = args.bind
    if bind is None:
        bind = "::" if ipaddress.ip_address(args.host).version == 6 else "0.0.0.0"
    try:
        port = listenSCTP(reactor, 0, Factory.forProtocol(EchoClient), interfaces=(bind,), options=SCTPOptions())
    except SCTPUnavailableError as e:
        print("echo_client: {}".format(e), file=sys.stderr, flush=True)
        raise SystemExit(1)
    doing = "connecting to {}:{}".format(args.host, args.port)
    try:
        connecting = port.connect((args.host, args.port))
        connecting.addTimeout(args.timeout, reactor)
        protocol: EchoClient = await connecting
        print("connected to {}".format(protocol.transport.getPeer()), flush=True)  # type: ignore[union-attr]
        doing = "waiting for {} echoes".format(len(args.messages))
        waiting = protocol.send([m.encode("utf-8") for m in args.messages])
        waiting.addTimeout(args.timeout, reactor)
        echoes = await waiting
        print("{} of {} messages echoed".format(len(echoes), len(args.messages)), flush=True)
        protocol.transport.loseConnection()  # type: ignore[union-attr]
    except defer.TimeoutError:
        print("echo_client: timed out after {}s {}".format(args.timeout, doing), file=sys.stderr, flush=True)
        raise SystemExit(1)
    except ConnectError:
        print(
            "echo_client: no association to {}:{} (is the echo server running?)".format(args.host, args.port),
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1)
    except Exception as e:
        print("echo_client: failed {}: {}".format(doing, e), file=sys.stderr, flush=True)
        raise SystemExit(1)
    finally:
        await port.stopListening()


def run(argv: Optional[List[str]] = None) -> None:
    """
    Entry point: run L{main} under L{task.react}.
    """
    task.react(main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    run()
