"""
Building blocks for the transport's real-kernel tests: ports on the real
reactor, echo and recording protocols, and polling waits.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional, Sequence

from twisted.internet import defer, main, reactor, task
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPMessage, SCTPPort, listenSCTP


class Recorder(Protocol):
    """
    Records every message and the end of the association.
    """

    def __init__(self) -> None:
        self.messages: List[SCTPMessage] = []
        self.lost: List[Failure] = []
        self.onMessage: Optional[Callable[[SCTPMessage], None]] = None

    def messageReceived(self, message: SCTPMessage) -> None:
        self.messages.append(message)
        if self.onMessage is not None:
            self.onMessage(message)

    def connectionLost(self, reason: Failure = main.CONNECTION_DONE) -> None:  # type: ignore[assignment]
        self.lost.append(reason)


class Echo(Recorder):
    """
    Sends every message back on its association, on its stream, ordered.
    """

    def messageReceived(self, message: SCTPMessage) -> None:
        super().messageReceived(message)
        self.transport.writeMessage(message.payload, stream=message.stream, unordered=False)  # type: ignore[union-attr]


class RecordingFactory(Factory):
    """
    Builds C{protocolClass} and keeps every protocol it built.
    """

    def __init__(self, protocolClass: Any = Recorder) -> None:
        self.protocolClass = protocolClass
        self.built: List[Any] = []

    def buildProtocol(self, addr: Any) -> Any:
        p = self.protocolClass()
        p.factory = self
        self.built.append(p)
        return p


def listen(
    testCase: Any,
    factory: Any = None,
    interfaces: Sequence[str] = ("127.0.0.1",),
    port: int = 0,
    **options: Any,
) -> SCTPPort:
    """
    Start a port on the real reactor, stopped at the test's end.
    """
    factory = factory if factory is not None else RecordingFactory()
    p = listenSCTP(reactor, port, factory, interfaces, SCTPOptions(**options))
    testCase.addCleanup(p.stopListening)
    return p


def sleep(seconds: float) -> defer.Deferred[None]:
    """
    @return: a Deferred firing after C{seconds} on the reactor.
    """
    return task.deferLater(reactor, seconds, lambda: None)


@defer.inlineCallbacks
def waitFor(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "condition") -> Any:
    """
    Poll C{condition} on the reactor until it is true.

    @raise AssertionError: it stayed false for C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after {}s waiting for {}".format(timeout, what))
        yield sleep(interval)
