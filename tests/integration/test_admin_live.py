# -*- test-case-name: tests.integration.test_admin_live -*-
"""
The admin endpoint and C{sctp-sipctl} against live SCTP listeners on a real
kernel, carrying echo traffic (run under scripts/with-sctp-kernel).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from twisted.internet import defer, protocol, reactor, utils
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, readBody

from tests.integration.helpers import Echo, Recorder, RecordingFactory, listen, sleep, waitFor
from tests.integration.support import requireSCTP
from twisted_sctp.kernel import sctpsocket
from twisted_sctp.admin.server import AdminClient, ChangeRefused, makeAdminService
from twisted_sctp.kernel.constants import SPPFlags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SIPServiceStandIn:
    """
    What the admin needs of the SIP service, over plain SCTP listeners.
    """

    def __init__(self, ports: Sequence[Any]) -> None:
        self.ports = list(ports)
        self.server = None

    def sipStats(self) -> Dict[str, int]:
        return {"requests_in": sum(p.stats.messages_in for p in self.ports)}


def ctlCommand() -> List[str]:
    """
    @return: how to run sctp-sipctl: the console script next to this
        Python, else the module.
    """
    script = os.path.join(os.path.dirname(sys.executable), "sctp-sipctl")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "twisted_sctp.admin.ctl"]


def runCtl(admin: Optional[str], *argv: str, path: str = ROOT) -> "defer.Deferred[Tuple[bytes, bytes, int]]":
    """
    Run sctp-sipctl without blocking the reactor.

    @param admin: the C{--admin} argument; C{None} for the default (the
        unix socket in the current directory, C{path}).
    @return: a Deferred of (stdout, stderr, exit code).
    """
    command = ctlCommand()
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("SCTP_SIP_ADMIN", None)
    options = ["--admin", admin] if admin is not None else []
    return utils.getProcessOutputAndValue(command[0], command[1:] + options + list(argv), env=env, path=path)


class AdminLiveTests(TestCase):
    """
    An echo listener, its admin endpoint on a unix socket, and clients.
    """

    timeout = 300

    def setUp(self) -> None:
        requireSCTP()
        self.server = listen(self, RecordingFactory(Echo), socket_rcvbuf=1 << 20, socket_sndbuf=1 << 20)
        self.sip = SIPServiceStandIn([self.server])
        directory = tempfile.mkdtemp(prefix="sctp-admin-live-")
        self.addCleanup(shutil.rmtree, directory, True)
        self.admin = "unix:" + os.path.join(directory, "admin.sock")
        self.service = makeAdminService(reactor, self.admin, self.sip, None, sctpsocket.readSNMP)
        self.service.startService()
        self.addCleanup(self.service.stopService)

    @defer.inlineCallbacks
    def client(self) -> Any:
        client = AdminClient(reactor, self.admin, timeout=30)
        yield client.connect()
        self.addCleanup(client.close)
        return client

    @defer.inlineCallbacks
    def associate(self, count: int = 1) -> Any:
        """
        @return: C{count} client protocols, each on its own association to
            the server.
        """
        protos = []
        for _ in range(count):
            port = listen(self, RecordingFactory(Recorder))
            proto = yield port.connect(("127.0.0.1", self.server.getHost().port))
            protos.append(proto)
        yield waitFor(lambda: self.server.registry.opened >= count, what="the server's associations")
        return protos

    @defer.inlineCallbacks
    def test_setAutocloseSeenLive(self) -> Any:
        """
        set autoclose 120 applies to new associations and options first
        (and the listener's address) then reads 120 from the kernel.
        """
        client = yield self.client()
        before = yield client.options("first")
        self.assertEqual(before["options"]["sctp_autoclose"], 180)
        result = yield client.setOption("autoclose", 120)
        self.assertEqual((result["old"], result["new"], result["applies"]), (180, 120, "new-associations"))
        for param in ("first", "default", "127.0.0.1", "127.0.0.1:{}".format(self.server.getHost().port)):
            live = yield client.options(param)
            self.assertEqual(live["options"]["sctp_autoclose"], 120, param)
            self.assertTrue(live["live"])
        configured = yield client.options()
        self.assertEqual(configured["options"]["sctp_autoclose"], 120)
        self.assertEqual(sctpsocket.readOptions(self.server.socket, socket.AF_INET)["autoclose"], 120)

    @defer.inlineCallbacks
    def test_trackingOffRefusedWhileReuse(self) -> Any:
        """
        set assoc_tracking 0 while assoc_reuse is 1 is refused with the
        reason; nothing changes.
        """
        client = yield self.client()
        failure = yield self.assertFailure(client.setOption("assoc_tracking", 0), ChangeRefused)
        self.assertIn("cannot turn assoc_tracking off while assoc_reuse=1", str(failure))
        configured = yield client.options()
        self.assertEqual(configured["options"]["sctp_assoc_tracking"], 1)

    @defer.inlineCallbacks
    def test_hbintervalOffForNewAssociations(self) -> Any:
        """
        set hbinterval -1 disables heartbeats on associations that come up
        afterwards; the one before keeps them.
        """
        client = yield self.client()
        [first] = yield self.associate(1)
        result = yield client.setOption("hbinterval", -1)
        self.assertEqual(result["applies"], "new-associations")
        port = listen(self, RecordingFactory(Recorder))
        yield port.connect(("127.0.0.1", self.server.getHost().port))
        yield waitFor(lambda: self.server.registry.opened == 2, what="the second association")
        assocs = sorted(self.server.registry, key=lambda a: a.id)
        old = sctpsocket.readAssociationParameters(self.server.socket, assocs[0].assocID, socket.AF_INET)
        new = sctpsocket.readAssociationParameters(self.server.socket, assocs[1].assocID, socket.AF_INET)
        self.assertTrue(old["spp_flags"] & SPPFlags.HB_ENABLE)
        self.assertTrue(new["spp_flags"] & SPPFlags.HB_DISABLE)
        self.assertFalse(new["spp_flags"] & SPPFlags.HB_ENABLE)
        live = yield client.options("first")
        self.assertEqual(live["options"]["sctp_hbinterval"], -1)

    @defer.inlineCallbacks
    def test_abortEndsAssociation(self) -> Any:
        """
        abort ID ends that association (the peer sees it end), and info and
        stats show it: comm_lost +1, opened and tracked -1.
        """
        client = yield self.client()
        protos = yield self.associate(2)
        protos[0].transport.write(b"ping")
        yield waitFor(lambda: protos[0].messages, what="the echo")
        listing = yield client.allAssociations()
        self.assertEqual(len(listing), 2)
        target = [e for e in listing if e["messages_in"] == 1][0]
        self.assertEqual((target["messages_out"], target["bytes_in"]), (1, 4))
        before = yield client.stats()
        result = yield client.abort(target["id"])
        self.assertEqual(result["assoc_id"], target["assoc_id"])
        yield waitFor(lambda: protos[0].lost, what="the client seeing the abort")
        yield waitFor(lambda: self.server.registry.opened == 1, what="the server's count")
        after = yield client.stats()
        self.assertEqual(after["counters"]["comm_lost"], before["counters"]["comm_lost"] + 1)
        self.assertEqual(after["counters"]["current_opened_connections"], 1)
        info = yield client.info()
        self.assertEqual((info["opened_connections"], info["tracked_connections"], info["total_connections"]), (1, 1, 2))
        left = yield client.allAssociations()
        self.assertEqual([e["id"] for e in left], [e["id"] for e in listing if e["id"] != target["id"]])
        self.assertFalse(protos[1].lost)
        self.assertIn("SctpAborteds", after["kernel"])

    @defer.inlineCallbacks
    def test_twentyAdminClientsDoNotDisturbTraffic(self) -> Any:
        """
        20 admin clients issuing commands at once while 5 associations echo
        1000 messages: every message comes back, every command is answered.
        """
        clients, perClient = 5, 200
        protos = yield self.associate(clients)
        admins = yield defer.gatherResults([self.client() for _ in range(20)])
        answered: List[str] = []

        @defer.inlineCallbacks
        def hammer(admin: AdminClient) -> Any:
            for _ in range(5):
                yield admin.info()
                yield admin.stats()
                yield admin.allAssociations()
                yield admin.options("first")
                answered.append("ok")

        @defer.inlineCallbacks
        def traffic() -> Any:
            for n in range(perClient):
                for i, proto in enumerate(protos):
                    proto.transport.writeMessage(b"%d:%d" % (i, n), unordered=False)
                if n % 20 == 0:
                    yield sleep(0.01)

        yield defer.gatherResults([traffic()] + [hammer(a) for a in admins])
        yield waitFor(lambda: all(len(p.messages) >= perClient for p in protos), timeout=120, what="every echo")
        for i, proto in enumerate(protos):
            self.assertEqual([m.payload for m in proto.messages], [b"%d:%d" % (i, n) for n in range(perClient)])
        self.assertEqual(len(answered), 100)
        self.assertEqual(self.server.stats.messages_in, clients * perClient)
        stats = yield admins[0].stats()
        self.assertEqual(stats["counters"]["messages_out"], clients * perClient)
        self.assertEqual(sum(stats["counters"][k] for k in stats["counters"] if k.startswith("drop_")), 0)

    @defer.inlineCallbacks
    def test_ctlCommands(self) -> Any:
        """
        The sctp-sipctl console script runs every command against the live
        listener: exit 0 and the DESIGN's --json keys; errors exit with
        their codes.
        """
        protos = yield self.associate(1)
        protos[0].transport.write(b"hello")
        yield waitFor(lambda: protos[0].messages, what="the echo")
        out, err, code = yield runCtl(self.admin, "--json", "info")
        self.assertEqual((code, err), (0, b""))
        info = json.loads(out)
        self.assertEqual((info["opened_connections"], info["tracked_connections"], info["total_connections"]), (1, 1, 1))
        out, err, code = yield runCtl(self.admin, "--json", "options", "first")
        self.assertEqual(code, 0, err)
        self.assertEqual(len(json.loads(out)), 19)
        out, err, code = yield runCtl(self.admin, "--json", "stats")
        stats = json.loads(out)
        self.assertEqual((stats["established"], stats["messages_in"], stats["sip_requests_in"]), (1, 1, 1))
        self.assertIn("SctpCurrEstab", stats["kernel"])
        out, err, code = yield runCtl(self.admin, "--json", "assocs")
        [entry] = json.loads(out)["associations"]
        self.assertEqual(entry["messages_in"], 1)
        for argv in (("info",), ("options",), ("stats",), ("assocs",), ("set", "send_ttl", "5000")):
            out, err, code = yield runCtl(self.admin, *argv)
            self.assertEqual((code, err), (0, b""), argv)
            self.assertTrue(out)
        for argv, expected in (
            (("set", "nope", "1"), 5),
            (("set", "assoc_tracking", "0"), 6),
            (("abort", "99"), 7),
            (("options", "tcp:127.0.0.1"), 1),
        ):
            out, err, code = yield runCtl(self.admin, *argv)
            self.assertEqual(code, expected, (argv, err))
            self.assertEqual(len(err.splitlines()), 1)
        out, err, code = yield runCtl("unix:/nonexistent/admin.sock", "info")
        self.assertEqual(code, 3)
        out, err, code = yield runCtl(self.admin, "shutdown", str(entry["id"]))
        self.assertEqual(code, 0, err)
        yield waitFor(lambda: protos[0].lost, what="the graceful shutdown")
        self.assertEqual(protos[0].lost[0].value.how, "shutdown")


def freePort(kind: int, proto: int = 0) -> int:
    """
    @return: a port number the kernel just had free (SCTP or TCP) on
        127.0.0.1.
    """
    s = socket.socket(socket.AF_INET, kind, proto)
    try:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
    finally:
        s.close()


class _Process(protocol.ProcessProtocol):
    """
    Collects a child's output and tells when it ended.
    """

    def __init__(self) -> None:
        self.output = b""
        self.ended: defer.Deferred[Any] = defer.Deferred()
        self.running = True

    def outReceived(self, data: bytes) -> None:
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.running = False
        self.ended.callback(reason.value)


class TwistdTests(TestCase):
    """
    The real C{twistd -n sctp-sip} with SIPp OPTIONS traffic, managed with
    C{sctp-sipctl} through its default admin socket.
    """

    timeout = 300

    def setUp(self) -> None:
        requireSCTP()
        if shutil.which("sipp") is None:
            raise AssertionError("sipp is missing: apt-get install sip-tester (scripts/setup-env)")

    def startServer(self, rundir: str, sipPort: int, metricsPort: int) -> _Process:
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        argv = [twistd, "-n", "--pidfile=", "-l", os.path.join(rundir, "twistd.log"), "-d", rundir, "sctp-sip",
                "--listen", "sctp:127.0.0.1:{}".format(sipPort), "--metrics", "tcp:{}".format(metricsPort)]
        env = dict(os.environ, PYTHONPATH=ROOT)
        child = _Process()
        transport = reactor.spawnProcess(child, twistd, argv, env=env, path=ROOT)

        def stop() -> Any:
            if child.running:
                transport.signalProcess("TERM")
            return child.ended

        self.addCleanup(stop)
        return child

    @defer.inlineCallbacks
    def test_sippOptionsWithCtl(self) -> Any:
        """
        SIPp sends 500 OPTIONS over SCTP while sctp-sipctl (default admin
        socket, in the run directory) runs every read command and a set:
        0 failed calls, every command exits 0, and the counters (CLI and
        metrics) show the traffic.
        """
        calls = 500
        rundir = tempfile.mkdtemp(prefix="sctp-sip-run-")
        self.addCleanup(shutil.rmtree, rundir, True)
        os.chmod(rundir, 0o755)
        sipPort = freePort(socket.SOCK_SEQPACKET, 132)
        metricsPort = freePort(socket.SOCK_STREAM)
        server = self.startServer(rundir, sipPort, metricsPort)
        adminSocket = os.path.join(rundir, "sctp-sip.admin")
        yield waitFor(lambda: os.path.exists(adminSocket) or not server.running, timeout=60, what="the admin socket")
        self.assertTrue(server.running, server.output)
        out, err, code = yield runCtl(None, "set", "autoclose", "120", path=rundir)
        self.assertEqual((code, err), (0, b""))
        scenario = os.path.join(ROOT, "examples", "sipp", "options.xml")
        sipp = utils.getProcessOutputAndValue(
            "sipp",
            ["-t", "s1", "-buff_size", "4194304", "-sf", scenario, "-m", str(calls), "-r", "100", "-l", "20",
             "-nostdin", "-timeout", "120s", "-timeout_error", "-i", "127.0.0.1", "127.0.0.1:{}".format(sipPort)],
            path=rundir,
        )
        done: List[Any] = []

        def finished(result: Any) -> Any:
            done.append(result)
            return result

        sipp.addBoth(finished)
        commands: List[Tuple[str, ...]] = [("info",), ("stats",), ("assocs",), ("options",), ("options", "first"), ("--json", "info")]
        ran = 0
        while not done or ran < len(commands):
            argv = commands[ran % len(commands)]
            out, err, code = yield runCtl(None, *argv, path=rundir)
            self.assertEqual((code, err), (0, b""), argv)
            self.assertTrue(out)
            ran += 1
        sippOut, sippErr, sippCode = yield sipp
        self.assertEqual(sippCode, 0, sippOut[-2000:] + sippErr[-2000:])
        failed = [line for line in sippOut.decode("utf-8", "replace").splitlines() if line.strip().startswith("Failed call")]
        self.assertTrue(failed and failed[-1].split("|")[2].strip() == "0", failed)
        out, err, code = yield runCtl(None, "--json", "stats", path=rundir)
        stats = json.loads(out)
        self.assertEqual((stats["sip_requests_in"], stats["sip_responses_out"]), (calls, calls))
        self.assertEqual(stats["messages_in"], calls)
        self.assertGreaterEqual(stats["established"], 1)
        out, err, code = yield runCtl(None, "--json", "options", "first", path=rundir)
        self.assertEqual(json.loads(out)["sctp_autoclose"], 120)
        response = yield Agent(reactor).request(b"GET", "http://127.0.0.1:{}/metrics".format(metricsPort).encode())
        body = yield readBody(response)
        self.assertIn("sip_requests_in_total {}".format(float(calls)).encode(), body)
        self.assertGreater(ran, len(commands) - 1)
