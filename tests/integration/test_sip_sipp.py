# -*- test-case-name: tests.integration.test_sip_sipp -*-
"""
The SIP server on a real kernel SCTP stack, with SIPp over SCTP as the real
client (run under scripts/with-sctp-kernel): OPTIONS at a steady rate
through C{twistd -n sctp-sip}, REGISTER with refresh and removal, calls
through the proxy between two SIPp instances on a single, a multihomed and an
IPv6 listener, and bad input sent raw with a stdlib SEQPACKET socket.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from twisted.internet import defer, protocol, reactor
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SkipTest, TestCase

from tests.integration.helpers import waitFor
from tests.integration.support import IPPROTO_SCTP, kernelRequired, requireSCTP
from twisted_sctp.sip.message import parseMessage
from twisted_sctp.sip.registrar import ServerSettings
from twisted_sctp.tap import SIPService

#: Every party of these tests is on loopback: forwarding there is opted in.
LOOPBACK_ALLOWED = ServerSettings(allowInternal=("127.0.0.0/8", "::1"))

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = os.path.join(ROOT, "examples", "sipp")
SIPP = shutil.which("sipp")
SIPP_COMMON = ["-t", "s1", "-buff_size", "4194304", "-nostdin", "-timeout", "40s", "-timeout_error"]


def requireSIPp() -> None:
    """
    Skip without SIPp on a developer machine; fail under the harness.
    """
    if SIPP is not None:
        return
    if kernelRequired():
        raise AssertionError("sipp is missing: apt-get install sip-tester (scripts/setup-env does)")
    raise SkipTest("sipp is missing (apt-get install sip-tester)")


def freePort(host: str = "127.0.0.1") -> int:
    """
    @return: a port that no SCTP socket on C{host} is bound to now.
    """
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_SEQPACKET, IPPROTO_SCTP)
    try:
        s.bind((host, 0))
        return int(s.getsockname()[1])
    finally:
        s.close()


def sctpListening(port: int) -> bool:
    """
    @return: whether /proc/net/sctp/eps lists a socket bound to C{port}.
    """
    with open("/proc/net/sctp/eps") as f:
        return any(len(line.split()) > 5 and line.split()[5] == str(port) for line in f.read().splitlines()[1:])


class _Collect(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.output: List[bytes] = []
        self.ended: defer.Deferred[int] = defer.Deferred()
        self.running = True
        self.process: Any = None

    def outReceived(self, data: bytes) -> None:
        self.output.append(data)

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.running = False
        code = getattr(reason.value, "exitCode", None)
        signalled = getattr(reason.value, "signal", None)
        self.ended.callback(code if code is not None else -(signalled or 1))

    def text(self) -> str:
        return b"".join(self.output).decode("utf-8", "replace")


class SIPpResult:
    """
    What one SIPp run did, from its final statistics screen.
    """

    def __init__(self, rc: int, output: str) -> None:
        self.rc = rc
        self.output = output

        def last(label: str) -> int:
            found = re.findall(r"^\s*" + label + r"\s*\|[^|]*\|\s*(\d+)", output, re.M)
            return int(found[-1]) if found else -1

        self.successful = last("Successful call")
        self.failed = last("Failed call")

    def __repr__(self) -> str:
        return "<SIPp exit {} successful {} failed {}>\n{}".format(self.rc, self.successful, self.failed, self.output[-3000:])


def spawn(testCase: TestCase, argv: Sequence[str], env: Optional[Dict[str, str]] = None, limit: float = 90) -> _Collect:
    """
    Start a process that is killed at the test's end (or after C{limit}
    seconds) if it is still running.
    """
    collector = _Collect()
    process = reactor.spawnProcess(collector, argv[0], list(argv), env=env if env is not None else dict(os.environ), path=ROOT)
    collector.process = process
    killer = reactor.callLater(limit, lambda: collector.running and process.signalProcess("KILL"))

    def cleanup() -> Any:
        if killer.active():
            killer.cancel()
        if collector.running:
            process.signalProcess("KILL")
            return collector.ended
        return None

    testCase.addCleanup(cleanup)
    return collector


@defer.inlineCallbacks
def sipp(testCase: TestCase, *args: str) -> Any:
    """
    Run SIPp over SCTP to the end.

    @return: a Deferred firing with its L{SIPpResult}.
    """
    process = spawn(testCase, [SIPP] + SIPP_COMMON + list(args))  # type: ignore[list-item]
    rc = yield process.ended
    return SIPpResult(rc, process.text())


class LogWatch:
    """
    Watches the log during a test: no event may carry a traceback.
    """

    def __init__(self, testCase: TestCase) -> None:
        self.events: List[Dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        testCase.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def warnings(self) -> List[Dict[str, Any]]:
        return [e for e in self.events if e.get("log_level") == LogLevel.warn]

    def tracebacks(self) -> List[Dict[str, Any]]:
        return [e for e in self.events if "log_failure" in e]


class ServerMixin:
    """
    An in-process SIP server on the real reactor.
    """

    def serve(self, listeners: Sequence[Tuple[List[str], int]]) -> SIPService:
        service = SIPService(reactor, listeners, serverSettings=LOOPBACK_ALLOWED)
        service.startService()
        self.addCleanup(service.stopService)  # type: ignore[attr-defined]
        return service


class SIPpTests(ServerMixin, TestCase):
    """
    SIPp over SCTP against the server.
    """

    timeout = 240

    def setUp(self) -> None:
        requireSCTP()
        requireSIPp()

    @defer.inlineCallbacks
    def test_optionsThroughTwistd(self) -> Any:
        """
        `twistd -n sctp-sip` answers 1,000 OPTIONS from SIPp at 200/s with
        no failure, stops cleanly on SIGTERM, and logs no traceback.
        """
        port, local = freePort(), freePort()
        work = os.path.abspath(self.mktemp())
        os.makedirs(work)
        logfile = os.path.join(work, "server.log")
        # A unix socket path must fit in 108 bytes: not under trial's tree.
        adminDir = tempfile.mkdtemp(prefix="sip-admin.")
        self.addCleanup(shutil.rmtree, adminDir, True)
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        env = dict(os.environ, PYTHONPATH=ROOT)
        server = spawn(self, [twistd, "-n", "--pidfile=", "--logfile=" + logfile, "sctp-sip", "--listen", "sctp:127.0.0.1:{}".format(port), "--admin", "unix:" + os.path.join(adminDir, "admin.sock"), "--option", "autoclose=60"], env)

        def started() -> bool:
            with open(logfile) as f:
                return "admin endpoint listening" in f.read() or not server.running

        yield waitFor(lambda: os.path.exists(logfile) and started(), timeout=30, what="twistd to start")
        self.assertTrue(server.running and sctpListening(port), open(logfile).read())
        result = yield sipp(self, "-sf", os.path.join(SCENARIOS, "options.xml"), "-i", "127.0.0.1", "-p", str(local), "-m", "1000", "-r", "200", "127.0.0.1:{}".format(port))
        self.assertEqual((result.rc, result.successful, result.failed), (0, 1000, 0), result)
        server.process.signalProcess("TERM")
        rc = yield server.ended
        self.assertIn(rc, (0, -signal.SIGTERM, 128 + signal.SIGTERM), server.text())
        with open(logfile) as f:
            log = f.read()
        self.assertNotIn("Traceback", log)
        self.assertIn("listening on sctp:127.0.0.1:{}".format(port), log)
        self.assertIn("Server Shut Down.", log)

    @defer.inlineCallbacks
    def test_registerRefreshAndRemoval(self) -> Any:
        """
        SIPp registers a contact, refreshes it, adds a second, removes one
        with Expires: 0 and all with Contact: * (and gets 400 for * without
        Expires: 0): every step checked on the 200's Contact list.
        """
        service = self.serve([(["127.0.0.1"], 0)])
        port = service.ports[0].getHost().port
        result = yield sipp(self, "-sf", os.path.join(SCENARIOS, "register-refresh.xml"), "-i", "127.0.0.1", "-p", str(freePort()), "-s", "carol", "-m", "1", "127.0.0.1:{}".format(port))
        self.assertEqual((result.rc, result.successful, result.failed), (0, 1, 0), result)
        stats = service.sipStats()
        self.assertEqual((stats["registrations"], stats["register_errors"], stats["bindings"]), (5, 1, 0))

    @defer.inlineCallbacks
    def runCalls(self, port: int, calls: int, rate: int, uasHost: str, uacHost: str, viaHost: Optional[str] = None) -> Any:
        """
        Register a SIPp UAS with the server on C{port}, then run C{calls}
        INVITE/ACK/BYE calls from a SIPp UAC through it to the UAS; both
        sides must see every call succeed.
        """

        def address(host: str) -> str:
            return "[{}]:{}".format(host, port) if ":" in host else "{}:{}".format(host, port)

        # The REGISTER leaves from the UAS's own port: a registrar that binds
        # the source address (twisted.protocols.sip does) then reaches it too.
        uasPort = freePort(uasHost)
        registered = yield sipp(self, "-sf", os.path.join(SCENARIOS, "register.xml"), "-i", uasHost, "-p", str(uasPort), "-s", "bob", "-key", "uas_port", str(uasPort), "-key", "expires", "300", "-m", "1", address(uasHost))
        self.assertEqual((registered.rc, registered.successful), (0, 1), registered)
        uas = spawn(self, [SIPP] + SIPP_COMMON + ["-sf", os.path.join(SCENARIOS, "uas.xml"), "-i", uasHost, "-p", str(uasPort), "-m", str(calls)])  # type: ignore[list-item]
        yield waitFor(lambda: sctpListening(uasPort) or not uas.running, timeout=20, what="the SIPp UAS to listen")
        uac = yield sipp(self, "-sf", os.path.join(SCENARIOS, "uac.xml"), "-i", uacHost, "-p", str(freePort(uacHost)), "-s", "bob", "-m", str(calls), "-r", str(rate), address(viaHost or uasHost))
        uasResult = SIPpResult((yield uas.ended), uas.text())
        self.assertEqual((uac.rc, uac.successful, uac.failed), (0, calls, 0), uac)
        self.assertEqual((uasResult.rc, uasResult.successful, uasResult.failed), (0, calls, 0), uasResult)

    @defer.inlineCallbacks
    def call(self, listeners: Sequence[Tuple[List[str], int]], calls: int, rate: int, uasHost: str, uacHost: str, viaHost: Optional[str] = None) -> Any:
        """
        L{runCalls} through an in-process C{sctp-sip} server on
        C{listeners}, then check its counters.
        """
        service = self.serve(listeners)
        yield self.runCalls(service.ports[0].getHost().port, calls, rate, uasHost, uacHost, viaHost)
        stats = service.sipStats()
        self.assertEqual(stats["requests_forwarded"], 3 * calls)
        self.assertEqual(stats["responses_forwarded"], 3 * calls)
        self.assertEqual(stats["parse_errors"], 0)

    def test_twistedRegisterProxyOverAdapter(self) -> Any:
        """
        examples/sip_registerproxy.py: twisted.protocols.sip's RegisterProxy
        on the datagram adapter registers a SIPp UAS and proxies 20 SIPp
        calls to it over SCTP.
        """
        import importlib.util

        from twisted.protocols import sip as tsip

        from twisted_sctp.sip import listenDatagramSCTP

        spec = importlib.util.spec_from_file_location("sip_registerproxy", os.path.join(ROOT, "examples", "sip_registerproxy.py"))
        assert spec is not None and spec.loader is not None
        example = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(example)
        port = freePort()
        proxy = example.SCTPRegisterProxy(host="127.0.0.1", port=port)
        registry = tsip.InMemoryRegistry("127.0.0.1")
        proxy.registry = proxy.locator = registry
        transport = listenDatagramSCTP(reactor, port, proxy, ["127.0.0.1"])
        self.addCleanup(transport.stopListening)
        self.addCleanup(lambda: [call.cancel() for call, _ in registry.users.values() if call.active()])
        d = self.runCalls(port, 20, 20, "127.0.0.1", "127.0.0.1")
        d.addCallback(lambda _: self.assertEqual((transport.adapter.counters["application_errors"], transport.adapter.counters["send_failed"]), (0, 0)))
        return d

    def test_callThroughProxy(self) -> Any:
        """
        100 calls at 50/s from a SIPp UAC through the proxy to a registered
        SIPp UAS: none fails.
        """
        return self.call([(["127.0.0.1"], 0)], 100, 50, "127.0.0.1", "127.0.0.1")

    def test_callMultihomed(self) -> Any:
        """
        On a listener bound to 127.0.0.1 and 127.0.0.2, a UAS registers via
        the first address and a UAC (on 127.0.0.3) calls via the second.
        """
        return self.call([(["127.0.0.1", "127.0.0.2"], 0)], 50, 50, "127.0.0.1", "127.0.0.3", viaHost="127.0.0.2")

    def test_callIPv6(self) -> Any:
        """
        The same over IPv6 on ::1.
        """
        requireSCTP(socket.AF_INET6)
        return self.call([(["::1"], 0)], 50, 50, "::1", "::1")


OPTIONS = (
    b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/SCTP 127.0.0.1:{port};branch=z9hG4bK{n}\r\nMax-Forwards: 70\r\n"
    b"From: <sip:raw@127.0.0.1>;tag=r\r\nTo: <sip:127.0.0.1>\r\nCall-ID: raw-{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


class BadInputTests(ServerMixin, TestCase):
    """
    Bad input sent raw with a stdlib SEQPACKET socket: counted, answered or
    dropped, no traceback, and the server keeps serving.
    """

    timeout = 60

    def setUp(self) -> None:
        requireSCTP()
        self.service = self.serve([(["127.0.0.1"], 0)])
        self.server = ("127.0.0.1", self.service.ports[0].getHost().port)
        self.client = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, IPPROTO_SCTP)
        self.addCleanup(self.client.close)
        self.client.bind(("127.0.0.1", 0))
        self.client.setblocking(False)
        self.clientPort = self.client.getsockname()[1]
        self.logs = LogWatch(self)
        self.sequence = 0

    def received(self) -> List[bytes]:
        out = []
        while True:
            try:
                data, _, flags, _ = self.client.recvmsg(1 << 20, 1024)
            except BlockingIOError:
                return out
            if not flags & 0x8000:
                out.append(data)

    @defer.inlineCallbacks
    def exchange(self, data: bytes, expectReply: bool) -> Any:
        """
        Send C{data}, then an OPTIONS; return what came back before the 200.
        """
        self.client.sendto(data, self.server)
        self.sequence += 1
        self.client.sendto(OPTIONS.replace(b"{port}", str(self.clientPort).encode()).replace(b"{n}", str(self.sequence).encode()), self.server)
        got: List[bytes] = []

        def answered() -> bool:
            got.extend(self.received())
            return any(m.startswith(b"SIP/2.0 200 OK") for m in got)

        yield waitFor(answered, timeout=15, what="the 200 to the OPTIONS after the bad input")
        replies = [m for m in got if not m.startswith(b"SIP/2.0 200 OK")]
        self.assertEqual(bool(replies), expectReply, replies)
        self.assertEqual(self.logs.tracebacks(), [])
        self.assertEqual(self.service.ports[0].stats.drops["protocol_error"], 0)
        return replies

    def stats(self) -> Dict[str, int]:
        return self.service.sipStats()

    @defer.inlineCallbacks
    def test_garbage(self) -> Any:
        """
        Binary garbage is dropped and counted, with a warning.
        """
        yield self.exchange(os.urandom(300).replace(b"\r\n", b"") + b"\r\n\r\n", False)
        self.assertEqual((self.stats()["parse_errors"], self.stats()["drop_malformed"]), (1, 1))
        self.assertEqual(len(self.logs.warnings()), 1)

    @defer.inlineCallbacks
    def test_badStartLine(self) -> Any:
        """
        A request with a broken start line is dropped (no method to answer).
        """
        yield self.exchange(OPTIONS.replace(b"OPTIONS sip:127.0.0.1 SIP/2.0", b"OPTIONS  SIP/2.0 sip:127.0.0.1 x"), False)
        self.assertEqual(self.stats()["parse_errors"], 1)

    @defer.inlineCallbacks
    def test_missingVia(self) -> Any:
        """
        A request without Via cannot be answered: dropped and counted.
        """
        data = b"\r\n".join(line for line in OPTIONS.split(b"\r\n") if not line.startswith(b"Via"))
        yield self.exchange(data, False)
        self.assertEqual(self.stats()["drop_no_via"], 1)

    @defer.inlineCallbacks
    def test_hugeHeaders(self) -> Any:
        """
        64 KB of headers (more than one read, reassembled by the port) is
        answered 513 on the association.
        """
        data = OPTIONS.replace(b"{port}", str(self.clientPort).encode()).replace(b"{n}", b"big").replace(b"Content-Length", b"X-Filler: " + b"a" * 65536 + b"\r\nContent-Length")
        [reply] = yield self.exchange(data, True)
        response = parseMessage(reply)
        self.assertEqual((response.code, response.callID), (513, "raw-big"))
        self.assertEqual(self.stats()["error_replies"], 1)

    @defer.inlineCallbacks
    def test_zeroBytes(self) -> Any:
        """
        The kernel refuses to send an empty SCTP data message (EINVAL); the
        server keeps serving.
        """
        try:
            self.client.sendto(b"", self.server)
        except OSError as e:
            self.assertEqual(e.errno, errno.EINVAL)
            sent = False
        else:
            sent = True
        yield self.exchange(b"\r\n", False)
        self.assertEqual(self.stats()["parse_errors"], 1 if sent else 0)

    @defer.inlineCallbacks
    def test_twoBytes(self) -> Any:
        """
        A lone CRLF is dropped quietly and counted.
        """
        yield self.exchange(b"\r\n", False)
        self.assertEqual((self.stats()["lone_crlf"], self.stats()["parse_errors"]), (1, 0))
        self.assertEqual(self.logs.warnings(), [])

    @defer.inlineCallbacks
    def test_fourBytes(self) -> Any:
        """
        CRLFCRLF is a keep-alive ping: answered with CRLF on the association.
        """
        replies = yield self.exchange(b"\r\n\r\n", True)
        self.assertEqual(replies, [b"\r\n"])
        self.assertEqual((self.stats()["keepalive_pings"], self.stats()["keepalive_pongs"]), (1, 1))
