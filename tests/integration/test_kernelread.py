# -*- test-case-name: tests.integration.test_kernelread -*-
"""
How the kernel backend reads a real SCTP socket with C{recvmmsg}
(L{twisted_sctp.kernel.mmsg}): one system call per wake-up at low load,
batches under a backlog, nothing lost or reordered either way.
"""

from __future__ import annotations

import os
from typing import Any, List

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Recorder, RecordingFactory, listen, waitFor
from tests.integration.support import requireSCTP
from twisted_sctp.kernel import mmsg


class CountingRead:
    """
    Wraps C{recvmmsg}: how many messages each call returned, and the
    errors it raised.
    """

    def __init__(self, read: Any) -> None:
        self.read = read
        self.batches: List[int] = []
        self.errors: List[OSError] = []

    def __call__(self, *args: Any) -> Any:
        try:
            batch = self.read(*args)
        except OSError as e:
            self.errors.append(e)
            raise
        self.batches.append(len(batch))
        return batch


class BatchedReadTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        requireSCTP()
        if mmsg.recvmmsg is None:
            if os.environ.get("CI") and not os.environ.get(mmsg.PURE_ENV):
                self.fail("CI: the recvmmsg extension is not in use: " + mmsg.REASON)
            self.skipTest("the recvmmsg extension is not in use: " + mmsg.REASON)

    @defer.inlineCallbacks
    def connected(self) -> Any:
        """
        A server port whose reads are counted, and a client association's
        protocol on it, with one message already through.
        """
        factory = RecordingFactory(Recorder)
        server = listen(self, factory, ["127.0.0.1"], socket_rcvbuf=1 << 20)
        self.assertIsNotNone(server.backend._recvmmsg, "the port does not read with recvmmsg")
        counting = CountingRead(server.backend._recvmmsg)
        server.backend._recvmmsg = counting
        client = listen(self, RecordingFactory(Recorder), ["127.0.0.1"], socket_sndbuf=1 << 20)
        protocol = yield client.connect(("127.0.0.1", server.getHost().port))
        protocol.transport.writeMessage(b"first")
        yield waitFor(lambda: factory.built and factory.built[0].messages, what="the first message")
        return factory.built[0], protocol, counting

    @defer.inlineCallbacks
    def test_oneReadPerMessageAtLowLoad(self) -> None:
        """
        Messages that come one at a time are read with one call each, and
        no call comes back empty: the wake-up's one read found its message
        and the kernel stopped at the empty queue.
        """
        received, protocol, counting = yield self.connected()
        del counting.batches[:], counting.errors[:]
        for n in range(10):
            protocol.transport.writeMessage(b"m%d" % n)
            yield waitFor(lambda: len(received.messages) == n + 2, what="message %d" % n)
        self.assertEqual([m.payload for m in received.messages[1:]], [b"m%d" % n for n in range(10)])
        self.assertEqual(counting.errors, [])
        self.assertEqual(counting.batches, [1] * 10)

    @defer.inlineCallbacks
    def test_backlogInBatches(self) -> None:
        """
        Forty messages queued before the port reads are read in full
        batches of L{KernelBackend.batchSize} and one short one, in order.
        """
        received, protocol, counting = yield self.connected()
        del counting.batches[:], counting.errors[:]
        payloads = [b"burst %d " % n + b"x" * 200 for n in range(40)]
        for payload in payloads:
            protocol.transport.writeMessage(payload)
        yield waitFor(lambda: len(received.messages) == 41, what="the burst")
        self.assertEqual([m.payload for m in received.messages[1:]], payloads)
        self.assertEqual(sum(counting.batches), 40)
        self.assertEqual(counting.errors, [])
        # (All forty are queued by the time the reactor turns; the kernel
        # may still hand the last ones to a second wake-up.)
        self.assertLessEqual(len(counting.batches), 5, counting.batches)
        self.assertEqual(counting.batches[:2], [16, 16])
