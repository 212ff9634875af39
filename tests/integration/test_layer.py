# -*- test-case-name: tests.integration.test_layer -*-
"""
The association layer's cases (L{tests.test_layer.LayerTestsMixin}) over
the kernel backend: real associations on the guest's loopback, each peer a
second L{SCTPPort} with a recording protocol.
"""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Recorder, RecordingFactory, listen, waitFor
from tests.integration.support import requireSCTP
from tests.test_layer import LayerTestsMixin, Peer
from twisted_sctp.transport.events import UNORDERED
from twisted_sctp.transport.port import SCTPPort


class KernelPeer(Peer):
    """
    A peer that is the protocol of a client port's association.
    """

    def __init__(self, protocol: Recorder) -> None:
        self.protocol = protocol

    def send(self, payload: bytes, stream: int = 0, ppid: int = 0, unordered: bool = False) -> None:
        self.protocol.transport.writeMessage(payload, stream=stream, ppid=ppid, unordered=unordered)  # type: ignore[union-attr]

    def received(self) -> List[Tuple[bytes, int, int, bool]]:
        return [(m.payload, m.stream, m.ppid, bool(m.flags & UNORDERED)) for m in self.protocol.messages]

    def shutdown(self) -> None:
        self.protocol.transport.loseConnection()  # type: ignore[union-attr]


class KernelDriver:
    """
    Ports on the real reactor and kernel.
    """

    def listen(self, testCase: Any, factory: Any, **options: Any) -> SCTPPort:
        return listen(testCase, factory, ["127.0.0.1"], socket_rcvbuf=1 << 20, socket_sndbuf=1 << 20, **options)

    @defer.inlineCallbacks
    def openPeer(self, testCase: Any, port: SCTPPort, waitForServer: bool = True) -> Any:
        before = port.stats.established
        client = listen(testCase, RecordingFactory(Recorder), ["127.0.0.1"], socket_rcvbuf=1 << 20, socket_sndbuf=1 << 20)
        protocol = yield client.connect(("127.0.0.1", port.getHost().port))
        yield waitFor(lambda: port.stats.established > before, what="the association at the port")
        if waitForServer:
            yield waitFor(lambda: any(a.protocol is not None for a in port.registry), what="the port's protocol")
        return KernelPeer(protocol)

    def peerAddress(self, testCase: Any) -> defer.Deferred[Tuple[str, int]]:
        peer = listen(testCase, RecordingFactory(Recorder), ["127.0.0.1"])
        return defer.succeed(("127.0.0.1", peer.getHost().port))

    def waitFor(self, condition: Callable[[], Any], what: str) -> defer.Deferred[Any]:
        return waitFor(condition, timeout=30, what=what)


class KernelBackendLayerTests(LayerTestsMixin, TestCase):
    """
    The association layer over the kernel backend.
    """

    timeout = 120
    fileSize = 300 * 1024

    def setUp(self) -> None:
        requireSCTP()
        self.driver = KernelDriver()
