# -*- test-case-name: tests.integration.test_onetoone -*-
"""
One-to-one (C{SOCK_STREAM}) SCTP sockets on the guest's kernel
(L{twisted_sctp.kernel.onetoone}): against one-to-many peers both ways,
message boundaries, C{dataReceived}, a large message, options read back,
the ends of associations, C{max_assocs}, the association layer's cases
(L{tests.test_layer.LayerTestsMixin}), endpoint strings, and the SIP server
on a one-to-one listener answering SIPp.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from typing import Any, List

from twisted.internet import defer, reactor
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Echo, Recorder, RecordingFactory, waitFor
from tests.integration.support import requireSCTP
from tests.integration.test_layer import KernelDriver, KernelPeer
from tests.integration.test_sip_sipp import ROOT, SCENARIOS, freePort, requireSIPp, sctpListening, sipp, spawn
from tests.test_layer import LayerTestsMixin, PlainRecorder
from twisted_sctp import SCTPOptions, listenSCTP
from twisted_sctp.error import AssociationLimitError, AssociationLost
from twisted_sctp.kernel import sctpsocket
from twisted_sctp.kernel.onetoone import OneToOneBackend
from twisted_sctp.transport.port import SCTPPort

BUFFERS = dict(socket_rcvbuf=1 << 20, socket_sndbuf=1 << 20)


def listen(testCase: TestCase, factory: Any, style: str = "one-to-one", **options: Any) -> SCTPPort:
    """
    A port on the guest's loopback, closed at the test's end.
    """
    port = listenSCTP(reactor, 0, factory, ["127.0.0.1"], SCTPOptions(**dict(BUFFERS, **options)), style=style)
    testCase.addCleanup(port.stopListening)
    return port


class OneToOneDriver(KernelDriver):
    """
    The layer's cases with a one-to-one port and one-to-one peers.
    """

    def listen(self, testCase: Any, factory: Any, **options: Any) -> SCTPPort:
        return listen(testCase, factory, **options)

    @defer.inlineCallbacks
    def openPeer(self, testCase: Any, port: SCTPPort, waitForServer: bool = True) -> Any:
        before = port.stats.established
        client = listen(testCase, RecordingFactory(Recorder))
        protocol = yield client.connect(("127.0.0.1", port.getHost().port))
        yield waitFor(lambda: port.stats.established > before, what="the association at the port")
        if waitForServer:
            yield waitFor(lambda: any(a.protocol is not None for a in port.registry), what="the port's protocol")
        return KernelPeer(protocol)


class OneToOneLayerTests(LayerTestsMixin, TestCase):
    """
    The association layer over the one-to-one backend.
    """

    timeout = 120
    fileSize = 300 * 1024

    def setUp(self) -> None:
        requireSCTP()
        self.driver = OneToOneDriver()


class OneToOneTests(TestCase):
    """
    One-to-one ports with real associations.
    """

    timeout = 60

    def setUp(self) -> None:
        requireSCTP()

    @defer.inlineCallbacks
    def connectMany(self, server: SCTPPort, clientStyle: str, count: int) -> Any:
        # One association per peer address and port: a client port each.
        clients, protocols = [], []
        for _ in range(count):
            client = listen(self, RecordingFactory(Recorder), clientStyle)
            protocol = yield client.connect(("127.0.0.1", server.getHost().port))
            clients.append(client)
            protocols.append(protocol)
        return clients, protocols

    @defer.inlineCallbacks
    def echoBothWays(self, serverStyle: str, clientStyle: str) -> Any:
        server = listen(self, RecordingFactory(Echo), serverStyle)
        clients, protocols = yield self.connectMany(server, clientStyle, 3)
        self.assertEqual(len({p.transport.getHost().port for p in protocols}), 3)
        for n, protocol in enumerate(protocols):
            for i in range(5):
                protocol.transport.writeMessage("{}-{}".format(n, i).encode(), stream=i % 2, ppid=46)
        yield waitFor(lambda: all(len(p.messages) == 5 for p in protocols), what="5 echoes on each association")
        for n, protocol in enumerate(protocols):
            self.assertEqual([m.payload for m in protocol.messages], ["{}-{}".format(n, i).encode() for i in range(5)])
            self.assertEqual([m.stream for m in protocol.messages], [i % 2 for i in range(5)])
        built = server.factory.built
        self.assertEqual(sorted(len(p.messages) for p in built), [5, 5, 5])
        self.assertEqual({m.ppid for p in built for m in p.messages}, {46})
        self.assertEqual(server.registry.opened, 3)
        self.assertEqual(server.stats.messages_in, 15)
        return server, clients

    def test_oneToOneServerOneToManyClient(self) -> Any:
        """
        A one-to-one echo server answers three associations from a
        one-to-many client; five messages sent back to back on each come
        back as five messages, in order, with their streams and PPIDs.
        """
        return self.echoBothWays("one-to-one", "one-to-many")

    @defer.inlineCallbacks
    def test_oneToManyServerOneToOneClient(self) -> Any:
        """
        The reverse: three one-to-one client ports open an association each (a
        socket each) to a one-to-many echo server.
        """
        server, clients = yield self.echoBothWays("one-to-many", "one-to-one")
        for client in clients:
            self.assertIsInstance(client.backend, OneToOneBackend)
            self.assertEqual(len(client.backend.connections), 1)

    @defer.inlineCallbacks
    def test_dataReceived(self) -> Any:
        """
        A protocol without C{messageReceived} gets each message in
        C{dataReceived}.
        """
        factory = RecordingFactory(PlainRecorder)
        server = listen(self, factory)
        clients, (protocol,) = yield self.connectMany(server, "one-to-many", 1)
        protocol.transport.write(b"one")
        protocol.transport.write(b"two")
        yield waitFor(lambda: factory.built and len(factory.built[0].data) == 2, what="two dataReceived calls")
        self.assertEqual(factory.built[0].data, [b"one", b"two"])

    @defer.inlineCallbacks
    def test_largeMessage(self) -> Any:
        """
        A 100 KB message arrives whole (read in pieces and reassembled) and
        is echoed back whole, both ways over one-to-one sockets.
        """
        server = listen(self, RecordingFactory(Echo))
        clients, (protocol,) = yield self.connectMany(server, "one-to-one", 1)
        payload = os.urandom(100 * 1024)
        protocol.transport.writeMessage(payload)
        yield waitFor(lambda: protocol.messages, timeout=30, what="the echo")
        self.assertEqual([len(m.payload) for m in protocol.messages], [len(payload)])
        self.assertEqual(protocol.messages[0].payload, payload)
        self.assertGreater(server.stats.partial_reassembled, 0)

    @defer.inlineCallbacks
    def test_burstThroughFullSockets(self) -> Any:
        """
        3,000 messages written at once through small send buffers fill the
        sockets both ways (queued, then drained as each socket has room):
        every echo comes back, in order.
        """
        server = listenSCTP(reactor, 0, RecordingFactory(Echo), ["127.0.0.1"], SCTPOptions(socket_sndbuf=16384), style="one-to-one")
        self.addCleanup(server.stopListening)
        client = listenSCTP(reactor, 0, RecordingFactory(Recorder), ["127.0.0.1"], SCTPOptions(socket_sndbuf=16384), style="one-to-one")
        self.addCleanup(client.stopListening)
        protocol = yield client.connect(("127.0.0.1", server.getHost().port))
        payloads = [b"%05d" % i + b"." * 195 for i in range(3000)]
        for payload in payloads:
            protocol.transport.writeMessage(payload)
        yield waitFor(lambda: len(protocol.messages) == len(payloads), timeout=60, what="3,000 echoes")
        self.assertEqual([m.payload for m in protocol.messages], payloads)
        self.assertGreater(client.stats.sendq_full, 0)

    @defer.inlineCallbacks
    def test_optionsReadBack(self) -> Any:
        """
        Options given to a one-to-one port are on its listening socket
        (C{getOptions(live=True)}) and on each accepted socket, inherited;
        C{autoclose} is reported as not applying.
        """
        options = dict(srto_initial=2000, srto_min=500, srto_max=20000, hbinterval=7000, sack_delay=100, max_burst=6, init_max_attempts=5)
        server = listen(self, RecordingFactory(Recorder), autoclose=30, **options)
        live = server.getOptions(live=True)
        self.assertEqual({k: live[k] for k in options}, options)
        self.assertEqual(live["autoclose"], 0)
        self.assertIn("autoclose=30 does not apply to one-to-one sockets", server.warnings)
        yield self.connectMany(server, "one-to-many", 1)
        yield waitFor(lambda: server.backend.connections, what="the accepted socket")
        (accepted,) = server.backend.connections.values()
        inherited = sctpsocket.readOptions(accepted.socket, socket.AF_INET)
        self.assertEqual({k: inherited[k] for k in options}, options)
        change = server.setOption("hbinterval", 9000)
        self.assertEqual(change.appliesTo, "new-associations")
        self.assertEqual(server.getOptions(live=True)["hbinterval"], 9000)

    @defer.inlineCallbacks
    def test_shutdownReachesConnectionLost(self) -> Any:
        """
        The peer's SHUTDOWN ends the one-to-one side's protocol with
        C{AssociationLost("shutdown")}, and ours ends the peer's the same way.
        """
        factory = RecordingFactory(Recorder)
        server = listen(self, factory)
        clients, (first, second) = yield self.connectMany(server, "one-to-many", 2)
        yield waitFor(lambda: len(factory.built) == 2, what="two server protocols")
        first.transport.loseConnection()
        yield waitFor(lambda: any(p.lost for p in factory.built), what="the server protocol's end")
        (ended,) = [p for p in factory.built if p.lost]
        self.assertEqual(ended.lost[0].value.how, "shutdown")
        other = [p for p in factory.built if not p.lost][0]
        other.transport.loseConnection()
        yield waitFor(lambda: second.lost, what="the client protocol's end")
        self.assertEqual(second.lost[0].value.how, "shutdown")
        yield waitFor(lambda: other.lost and not server.backend.connections, what="the socket closed")
        self.assertEqual(other.lost[0].value.how, "shutdown")
        self.assertEqual(server.stats.assoc_shutdown, 2)

    @defer.inlineCallbacks
    def test_abortReachesConnectionLost(self) -> Any:
        """
        The peer's ABORT ends the protocol with C{AssociationLost("comm_lost")};
        our ABORT ends ours with C{"aborted"} and the peer's with
        C{"comm_lost"}.
        """
        factory = RecordingFactory(Recorder)
        server = listen(self, factory)
        clients, (first, second) = yield self.connectMany(server, "one-to-many", 2)
        yield waitFor(lambda: len(factory.built) == 2, what="two server protocols")
        byPort = {p.transport.getPeer().port: p for p in factory.built}
        first.transport.abortConnection(b"bye")
        yield waitFor(lambda: any(p.lost for p in factory.built), what="the server protocol's end")
        (ended,) = [p for p in factory.built if p.lost]
        self.assertIsInstance(ended.lost[0].value, AssociationLost)
        self.assertEqual(ended.lost[0].value.how, "comm_lost")
        other = [p for p in byPort.values() if not p.lost][0]
        other.transport.abortConnection()
        yield waitFor(lambda: other.lost and second.lost, what="both ends")
        self.assertEqual(other.lost[0].value.how, "aborted")
        self.assertEqual(second.lost[0].value.how, "comm_lost")

    @defer.inlineCallbacks
    def test_maxAssocs(self) -> Any:
        """
        With C{max_assocs=1} the second association is aborted at once: the
        client's connect fails, the first association keeps working.
        """
        server = listen(self, RecordingFactory(Echo), max_assocs=1)
        clients, (first,) = yield self.connectMany(server, "one-to-many", 1)
        other = listen(self, RecordingFactory(Recorder), "one-to-many")
        failure = None
        try:
            protocol = yield other.connect(("127.0.0.1", server.getHost().port))
        except Exception as e:
            failure = e
        else:
            yield waitFor(lambda: protocol.lost, what="the refused association's end")
        yield waitFor(lambda: server.stats.local_reject == 1 and len(server.backend.connections) == 1, what="the rejection")
        self.assertTrue(failure is None or isinstance(failure, (AssociationLost, AssociationLimitError)) or "comm_lost" in str(failure), failure)
        first.transport.writeMessage(b"still here")
        yield waitFor(lambda: first.messages, what="the first association's echo")
        self.assertEqual(server.registry.opened, 1)

    @defer.inlineCallbacks
    def test_sendByAddressOpensAnAssociation(self) -> Any:
        """
        C{sendMessage} to a peer address without an association opens one
        (a socket of its own, named by the backend's id in the registry) and
        delivers the messages; the echoes come back on it to the protocol
        built for it.
        """
        peerFactory = RecordingFactory(Echo)
        peer = listen(self, peerFactory, "one-to-many")
        port = listen(self, RecordingFactory(Recorder))
        target = ("127.0.0.1", peer.getHost().port)
        port.sendMessage(b"first", target, ppid=7)
        port.sendMessage(b"second", target, ppid=7)
        yield waitFor(lambda: peerFactory.built and len(peerFactory.built[0].messages) == 2, what="both messages at the peer")
        self.assertEqual([m.payload for m in peerFactory.built[0].messages], [b"first", b"second"])
        (assoc,) = list(port.registry)
        self.assertEqual(len(port.backend.connections), 1)
        self.assertEqual(assoc.assocID, list(port.backend.connections)[0])
        yield waitFor(lambda: assoc.protocol is not None and len(assoc.protocol.messages) == 2, what="the echoes")

    @defer.inlineCallbacks
    def test_endpointStrings(self) -> Any:
        """
        C{style=one-to-one} server and client endpoint strings open
        one-to-one sockets and carry messages.
        """
        server = yield serverFromString(reactor, "sctp:0:interface=127.0.0.1:style=one-to-one:hbinterval=5000").listen(RecordingFactory(Echo))
        self.addCleanup(server.stopListening)
        self.assertIsInstance(server.backend, OneToOneBackend)
        self.assertEqual(server.getOptions(live=True)["hbinterval"], 5000)
        endpoint = clientFromString(reactor, "sctp:host=127.0.0.1:port={}:style=one-to-one".format(server.getHost().port))
        protocol = yield endpoint.connect(RecordingFactory(Recorder))
        self.addCleanup(protocol.transport.abortConnection)
        self.assertIsInstance(protocol.transport._port.backend, OneToOneBackend)
        protocol.transport.writeMessage(b"hello")
        yield waitFor(lambda: protocol.messages, what="the echo")
        self.assertEqual(protocol.messages[0].payload, b"hello")


class OneToOneSIPTests(TestCase):
    """
    The SIP server on a one-to-one listener, with SIPp over SCTP.
    """

    timeout = 180

    def setUp(self) -> None:
        requireSCTP()
        requireSIPp()

    @defer.inlineCallbacks
    def test_optionsThroughTwistd(self) -> Any:
        """
        C{twistd sctp-sip --listen sctp:PORT:interface=...:style=one-to-one}
        answers 200 OPTIONS from SIPp with none failed, on a one-to-one
        (TCP-style) listening socket.
        """
        port, local = freePort(), freePort()
        work = os.path.abspath(self.mktemp())
        os.makedirs(work)
        logfile = os.path.join(work, "server.log")
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        env = dict(os.environ, PYTHONPATH=ROOT)
        listenText = "sctp:{}:interface=127.0.0.1:style=one-to-one".format(port)
        adminDir = tempfile.mkdtemp(prefix="sip-admin.")  # a unix socket path must be short
        self.addCleanup(shutil.rmtree, adminDir, True)
        server = spawn(self, [twistd, "-n", "--pidfile=", "--logfile=" + logfile, "sctp-sip", "--listen", listenText, "--admin", "unix:" + os.path.join(adminDir, "admin.sock")], env)

        def started() -> bool:
            with open(logfile) as f:
                return "admin endpoint listening" in f.read() or not server.running

        yield waitFor(lambda: os.path.exists(logfile) and started(), timeout=30, what="twistd to start")
        self.assertTrue(server.running and sctpListening(port), open(logfile).read())
        self.assertTrue(_streamListener(port), "no one-to-one listening socket on {}".format(port))
        result = yield sipp(self, "-sf", os.path.join(SCENARIOS, "options.xml"), "-i", "127.0.0.1", "-p", str(local), "-m", "200", "-r", "100", "127.0.0.1:{}".format(port))
        self.assertEqual((result.rc, result.successful, result.failed), (0, 200, 0), result)
        server.process.signalProcess("TERM")
        yield server.ended
        with open(logfile) as f:
            self.assertNotIn("Traceback", f.read())


def _streamListener(port: int) -> bool:
    """
    @return: whether /proc/net/sctp/eps lists a TCP-style
        endpoint (C{STY} 2, SCTP_SOCKET_TCP) on C{port}.
    """
    with open("/proc/net/sctp/eps") as f:
        rows: List[List[str]] = [line.split() for line in f.read().splitlines()[1:]]
    return any(len(r) > 5 and r[5] == str(port) and r[2] == "2" for r in rows)
