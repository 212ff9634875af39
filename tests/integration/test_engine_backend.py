# -*- test-case-name: tests.integration.test_engine_backend -*-
"""
The association layer and the SIP server over the user-space engine
(L{twisted_sctp.engine.backend.EngineBackend}) against Linux's SCTP, in the
kernel guest, over UDP encapsulation (RFC 6951): C{net.sctp.udp_port} is
the kernel's UDP port, C{net.sctp.encap_port} the engine port's (both set
for each test and put back after it).

 - L{tests.test_layer.LayerTestsMixin} with the port under test on the
   engine and every peer a kernel-SCTP L{SCTPPort};
 - SIPp (kernel SCTP, encapsulated by the kernel) against C{twistd -n
   sctp-sip --listen sctp+udp:...}: OPTIONS with C{-t s1} and C{-t sn},
   REGISTER; and calls from a SIPp UAC through an in-process server on the
   engine to a SIPp UAS on kernel SCTP.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from typing import Any, Callable, Tuple

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from tests.integration.helpers import Recorder, RecordingFactory, listen, waitFor
from tests.integration.support import requireSCTP
from tests.integration.test_engine_interop import _readSysctl, _writeSysctl
from tests.integration.test_layer import KernelPeer
from tests.integration.test_sip_sipp import SCENARIOS, SIPP, SIPP_COMMON, SIPpResult, freePort, requireSIPp, sctpListening, sipp, spawn
from tests.test_layer import LayerTestsMixin
from twisted_sctp import listenSCTPOverUDP
from twisted_sctp.sip.registrar import ServerSettings
from twisted_sctp.tap import SIPService
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPPort

KERNEL_UDP = 9899
ENGINE_UDP = 9912
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def encapsulate(testCase: TestCase) -> None:
    """
    Have the kernel speak SCTP over UDP: its own port KERNEL_UDP, ours
    ENGINE_UDP; the old values come back at the test's end.
    """
    requireSCTP()
    saved = {n: _readSysctl(n) for n in ("udp_port", "encap_port")}
    for n, v in saved.items():
        testCase.addCleanup(_writeSysctl, n, v)
    _writeSysctl("udp_port", str(KERNEL_UDP))
    _writeSysctl("encap_port", str(ENGINE_UDP))


class EngineKernelDriver:
    """
    The port under test on the engine (UDP ENGINE_UDP); peers are kernel
    SCTP ports, encapsulated by the kernel.
    """

    def listen(self, testCase: Any, factory: Any, **options: Any) -> SCTPPort:
        port = listenSCTPOverUDP(reactor, 0, factory, "127.0.0.1", SCTPOptions(**options), udpPort=ENGINE_UDP, encapPort=KERNEL_UDP)
        testCase.addCleanup(port.stopListening)
        return port

    @defer.inlineCallbacks
    def openPeer(self, testCase: Any, port: SCTPPort, waitForServer: bool = True) -> Any:
        before = port.stats.established
        client = listen(testCase, RecordingFactory(Recorder), ["127.0.0.1"], socket_rcvbuf=1 << 20, socket_sndbuf=1 << 20)
        protocol = yield client.connect(("127.0.0.1", port.getHost().port))
        yield waitFor(lambda: port.stats.established > before, timeout=30, what="the association at the engine port")
        if waitForServer:
            yield waitFor(lambda: any(a.protocol is not None for a in port.registry), timeout=30, what="the port's protocol")
        return KernelPeer(protocol)

    def peerAddress(self, testCase: Any) -> defer.Deferred[Tuple[str, int]]:
        peer = listen(testCase, RecordingFactory(Recorder), ["127.0.0.1"])
        return defer.succeed(("127.0.0.1", peer.getHost().port))

    def waitFor(self, condition: Callable[[], Any], what: str) -> defer.Deferred[Any]:
        return waitFor(condition, timeout=60, what=what)


class EngineOverKernelLayerTests(LayerTestsMixin, TestCase):
    """
    The association layer on the engine, its peers on kernel SCTP.
    """

    timeout = 180
    fileSize = 100 * 1024

    def setUp(self) -> None:
        encapsulate(self)
        self.driver = EngineKernelDriver()


class SIPpOverEngineTests(TestCase):
    """
    SIPp on kernel SCTP against the SIP server on the engine.
    """

    timeout = 300

    def setUp(self) -> None:
        encapsulate(self)
        requireSIPp()

    @defer.inlineCallbacks
    def test_twistdOptionsAndRegister(self) -> Any:
        """
        C{twistd -n sctp-sip --listen sctp+udp:...} answers 200 OPTIONS
        with C{-t s1}, 50 with C{-t sn} (an association per call) and a
        REGISTER, with no failure, and stops cleanly on SIGTERM.
        """
        port = freePort()
        work = os.path.abspath(self.mktemp())
        os.makedirs(work)
        logfile = os.path.join(work, "server.log")
        adminDir = tempfile.mkdtemp(prefix="sip-admin.")
        self.addCleanup(shutil.rmtree, adminDir, True)
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        env = dict(os.environ, PYTHONPATH=ROOT)
        listenOn = "sctp+udp:127.0.0.1:{}:udp_port={}:encap_port={}".format(port, ENGINE_UDP, KERNEL_UDP)
        server = spawn(self, [twistd, "-n", "--pidfile=", "--logfile=" + logfile, "sctp-sip", "--listen", listenOn,
                              "--admin", "unix:" + os.path.join(adminDir, "admin.sock"), "--sip", "udp=false"], env, limit=240)

        def started() -> bool:
            with open(logfile) as f:
                return "admin endpoint listening" in f.read() or not server.running

        yield waitFor(lambda: os.path.exists(logfile) and started(), timeout=60, what="twistd to start")
        self.assertTrue(server.running, open(logfile).read())
        target = "127.0.0.1:{}".format(port)
        options = os.path.join(SCENARIOS, "options.xml")
        one = yield sipp(self, "-sf", options, "-i", "127.0.0.1", "-p", str(freePort()), "-m", "200", "-r", "100", target)
        self.assertEqual((one.rc, one.successful, one.failed), (0, 200, 0), one)
        many = yield sipp(self, "-t", "sn", "-sf", options, "-i", "127.0.0.1", "-p", str(freePort()), "-m", "50", "-r", "25", target)
        self.assertEqual((many.rc, many.successful, many.failed), (0, 50, 0), many)
        uasPort = freePort()
        registered = yield sipp(self, "-sf", os.path.join(SCENARIOS, "register.xml"), "-i", "127.0.0.1", "-p", str(uasPort), "-s", "alice",
                                "-key", "uas_port", str(uasPort), "-key", "expires", "300", "-m", "1", target)
        self.assertEqual((registered.rc, registered.successful, registered.failed), (0, 1, 0), registered)
        server.process.signalProcess("TERM")
        rc = yield server.ended
        self.assertIn(rc, (0, -signal.SIGTERM, 128 + signal.SIGTERM), server.text())
        with open(logfile) as f:
            log = f.read()
        self.assertNotIn("Traceback", log)
        self.assertIn("Server Shut Down.", log)

    @defer.inlineCallbacks
    def test_callsThroughProxy(self) -> Any:
        """
        A SIPp UAS on kernel SCTP registers with an in-process server on the
        engine; 20 calls from a SIPp UAC go through it (the engine opens the
        association to the UAS) and all succeed on both sides.
        """
        service = SIPService(reactor, [(["127.0.0.1"], 0)], serverSettings=ServerSettings(allowInternal=("127.0.0.0/8",)), udpListeners={(("127.0.0.1",), 0): (ENGINE_UDP, KERNEL_UDP)})
        service.startService()
        self.addCleanup(service.stopService)
        port = service.ports[0].getHost().port
        target = "127.0.0.1:{}".format(port)
        uasPort = freePort()
        registered = yield sipp(self, "-sf", os.path.join(SCENARIOS, "register.xml"), "-i", "127.0.0.1", "-p", str(uasPort), "-s", "bob",
                                "-key", "uas_port", str(uasPort), "-key", "expires", "300", "-m", "1", target)
        self.assertEqual((registered.rc, registered.successful), (0, 1), registered)
        uas = spawn(self, [SIPP] + SIPP_COMMON + ["-sf", os.path.join(SCENARIOS, "uas.xml"), "-i", "127.0.0.1", "-p", str(uasPort), "-m", "20"])  # type: ignore[list-item]
        yield waitFor(lambda: sctpListening(uasPort) or not uas.running, timeout=30, what="the SIPp UAS to listen")
        uac = yield sipp(self, "-sf", os.path.join(SCENARIOS, "uac.xml"), "-i", "127.0.0.1", "-p", str(freePort()), "-s", "bob", "-m", "20", "-r", "10", target)
        uasResult = SIPpResult((yield uas.ended), uas.text())
        self.assertEqual((uac.rc, uac.successful, uac.failed), (0, 20, 0), uac)
        self.assertEqual((uasResult.rc, uasResult.successful, uasResult.failed), (0, 20, 0), uasResult)
        stats = service.sipStats()
        self.assertEqual((stats["requests_forwarded"], stats["responses_forwarded"]), (60, 60))
