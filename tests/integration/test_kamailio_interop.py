# -*- test-case-name: tests.integration.test_kamailio_interop -*-
"""
Interop with Kamailio 5.6 over SCTP (run under scripts/with-sctp-kernel):
SIPp calls (INVITE/180/200/ACK/BYE/200) carried over SCTP through
C{twistd -n sctp-sip} and Kamailio, in both orders, every hop SCTP:

    ours in front:      UAC -> twistd sctp-sip -> Kamailio -> UAS
    Kamailio in front:  UAC -> Kamailio -> twistd sctp-sip -> UAS

Addresses (one per party, so that /proc/net/sctp/assocs tells the hops
apart): our server 127.0.0.1, Kamailio 127.0.0.2, the SIPp UAS 127.0.0.3,
the SIPp UAC 127.0.0.4.

Kamailio runs tests/kamailio/relay.cfg (values given with C{-A}; its pid
file, runtime directory and control socket in a temporary directory): it
record-routes initial requests, removes its own Route with loose_route()
and sends every request to one fixed next hop with t_relay().  The SIPp
UAC and UAS are examples/sipp/uac.xml and uas.xml plus the route set
(tests/kamailio/uac-rr.xml, uas-rr.xml), so the ACK and BYE go back
through Kamailio as well.

Routing:
  - ours in front: the UAS is registered at our registrar (examples/sipp/
    register.xml) with a contact naming Kamailio,
    C{sip:bob@127.0.0.2:K;transport=sctp}; our proxy sends the INVITE
    there, Kamailio relays it to the UAS.  The ACK and BYE follow the
    Record-Route: UAC -> ours (Route: Kamailio) -> Kamailio -> UAS.
  - Kamailio in front: the UAS registers with our server directly; the UAC
    calls C{sip:bob@OUR_SERVER} with Kamailio as outbound proxy (SIPp
    C{-rsa}); Kamailio sends everything to our server
    (C{sip:127.0.0.1:P;transport=sctp}), which looks bob up.

Each test checks that both SIPp ends saw every call succeed, that every SIP
message our server handled came over SCTP (its SCTP message counters against
its SIP ones, and the messages on its association with Kamailio), Kamailio's
C{sctp} and C{core} counters (kamcmd over the ctl module: associations,
INVITE/ACK/BYE received), and that /proc/net/sctp/assocs showed an
association on each hop; it prints those figures.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import sys
import tempfile
from typing import Any, Dict, List, Set, Tuple

from twisted.internet import defer, reactor, task
from twisted.trial.unittest import SkipTest, TestCase

from tests.integration.helpers import sleep, waitFor
from tests.integration.support import kernelRequired, requireSCTP
from tests.integration.test_sip_sipp import (
    ROOT,
    SCENARIOS,
    SIPP,
    SIPP_COMMON,
    SIPpResult,
    freePort,
    requireSIPp,
    sctpListening,
    sipp,
    spawn,
)
from twisted_sctp.admin.server import AdminClient

KAMAILIO_DIR = os.path.join(ROOT, "tests", "kamailio")
RELAY_CFG = os.path.join(KAMAILIO_DIR, "relay.cfg")
KAMAILIO = shutil.which("kamailio") or next((p for p in ("/usr/sbin/kamailio", "/usr/local/sbin/kamailio") if os.access(p, os.X_OK)), None)
KAMCMD = shutil.which("kamcmd") or next((p for p in ("/usr/sbin/kamcmd", "/usr/local/sbin/kamcmd") if os.access(p, os.X_OK)), None)

OURS, KAM, UAS, UAC = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"
CALLS = 20
RATE = 20

Endpoint = Tuple[str, int]


def requireKamailio() -> None:
    """
    Skip without Kamailio and its SCTP module (Debian: apt-get install
    kamailio kamailio-sctp-modules).
    """
    missing = None
    if KAMAILIO is None or KAMCMD is None:
        missing = "kamailio/kamcmd are missing"
    elif not glob.glob("/usr/lib/*/kamailio/modules/sctp.so") + glob.glob("/usr/lib/kamailio/modules/sctp.so") + glob.glob("/usr/local/lib*/kamailio/modules/sctp.so"):
        missing = "Kamailio's sctp module is missing"
    if missing is None:
        return
    if kernelRequired():
        raise AssertionError(missing + ": apt-get install kamailio kamailio-sctp-modules (scripts/setup-env does)")
    raise SkipTest(missing + " (apt-get install kamailio kamailio-sctp-modules)")


def readAssociations() -> Set[Tuple[Endpoint, Endpoint]]:
    """
    @return: the associations in /proc/net/sctp/assocs as (local, remote)
        endpoints, each the first (local) or primary (remote, C{*}) address
        and the port.
    """
    out: Set[Tuple[Endpoint, Endpoint]] = set()
    try:
        with open("/proc/net/sctp/assocs") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        tokens = line.split()
        if "<->" not in tokens or len(tokens) < 14:
            continue
        arrow = tokens.index("<->")
        lport, rport = int(tokens[11]), int(tokens[12])
        local = tokens[13:arrow]
        remote = []
        for token in tokens[arrow + 1 :]:
            if token.isdigit():
                break
            remote.append(token)
        primary = [r for r in remote if r.startswith("*")] or remote
        if local and primary:
            out.add(((local[0], lport), (primary[0].lstrip("*"), rport)))
    return out


class AssociationWatch:
    """
    Samples /proc/net/sctp/assocs every 20 ms during a test.

    @ivar seen: every (local, remote) association seen.
    """

    def __init__(self, testCase: TestCase) -> None:
        self.seen: Set[Tuple[Endpoint, Endpoint]] = set()
        self._loop = task.LoopingCall(self.sample)
        self._loop.start(0.02)
        testCase.addCleanup(self.stop)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def sample(self) -> None:
        self.seen |= readAssociations()

    def between(self, a: Endpoint, b: Endpoint) -> bool:
        """
        @return: whether an association between C{a} and C{b} was seen (from
            either end).
        """
        return (a, b) in self.seen or (b, a) in self.seen


def parseKamcmd(text: str) -> Dict[str, int]:
    """
    @return: the C{name: number} lines of kamcmd's output.
    """
    return {name: int(value) for name, value in re.findall(r"^\s*([\w.]+):\s*(-?\d+)\s*$", text, re.M)}


class KamailioInteropTests(TestCase):
    """
    SIPp calls through our server and Kamailio 5.6, both over SCTP.
    """

    timeout = 45

    def setUp(self) -> None:
        requireSCTP()
        requireSIPp()
        requireKamailio()
        # Unix socket paths must fit in 108 bytes: not under trial's tree.
        self.work = tempfile.mkdtemp(prefix="kam-interop.")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.associations = AssociationWatch(self)

    # -- processes ---------------------------------------------------------

    @defer.inlineCallbacks
    def stop(self, process: Any, grace: float = 5.0) -> Any:
        """
        SIGTERM C{process} and wait up to C{grace} seconds (spawn's own
        cleanup SIGKILLs it after that).
        """
        if process.running:
            process.process.signalProcess("TERM")
            yield waitFor(lambda: not process.running, timeout=grace, what="a process to stop").addErrback(lambda _: None)

    @defer.inlineCallbacks
    def startServer(self, port: int) -> Any:
        """
        Start C{twistd -n sctp-sip} on C{OURS:port} with an admin socket.

        @return: a Deferred firing with a connected L{AdminClient}.
        """
        logfile = os.path.join(self.work, "twistd.log")
        adminSocket = os.path.join(self.work, "admin.sock")
        twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
        env = dict(os.environ, PYTHONPATH=ROOT)
        server = spawn(self, [twistd, "-n", "--pidfile=", "--logfile=" + logfile, "sctp-sip", "--listen", "sctp:{}:{}".format(OURS, port), "--admin", "unix:" + adminSocket,
                              # Every hop is on loopback: forwarding there is opted in.
                              "--sip", "allow_internal=127.0.0.0/8"], env, limit=self.timeout)
        self.addCleanup(self.stop, server)
        self.server, self.serverLog = server, logfile

        def started() -> bool:
            if not os.path.exists(logfile):
                return not server.running
            with open(logfile) as f:
                return "admin endpoint listening" in f.read() or not server.running

        yield waitFor(started, timeout=20, what="twistd sctp-sip to start")
        self.assertTrue(server.running and sctpListening(port), self.readServerLog() + server.text())
        client = yield AdminClient(reactor, "unix:" + adminSocket).connect()
        self.addCleanup(client.close)
        return client

    def readServerLog(self) -> str:
        try:
            with open(self.serverLog) as f:
                return f.read()
        except OSError:
            return ""

    @defer.inlineCallbacks
    def startKamailio(self, port: int, nextHop: str) -> Any:
        """
        Start Kamailio on C{sctp:KAM:port} with tests/kamailio/relay.cfg,
        relaying every request to C{nextHop}; everything it writes lives in
        the test's temporary directory.
        """
        self.ctl = "unix:" + os.path.join(self.work, "kamailio_ctl")
        assert KAMAILIO is not None
        argv = [
            KAMAILIO, "-DD", "-E", "-m", "64", "-M", "16",
            "-f", RELAY_CFG,
            "-Y", self.work, "-P", os.path.join(self.work, "kamailio.pid"), "-w", self.work,
            "-A", "LISTEN=sctp:{}:{}".format(KAM, port),
            "-A", 'NEXT_HOP="{}"'.format(nextHop),
            "-A", 'CTL_SOCKET="{}"'.format(self.ctl),
        ]  # fmt: skip
        kamailio = spawn(self, argv, limit=self.timeout)
        self.kamailio = kamailio
        self.addCleanup(self.stopKamailio)
        yield waitFor(lambda: not kamailio.running or (sctpListening(port) and os.path.exists(self.ctl[5:])), timeout=15, what="Kamailio to start")
        self.assertTrue(kamailio.running, kamailio.text())
        # Its receiver children are up once it answers over the ctl socket.
        info = yield self.kamcmd("core.uptime")
        self.assertIn("uptime", info, kamailio.text())

    def kamailioChildren(self) -> List[int]:
        """
        @return: the pids of the Kamailio main process's children.
        """
        main = self.kamailio.process.pid
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if main is not None and fields[1] == str(main):
                children.append(int(stat.split("/")[2]))
        return children

    @defer.inlineCallbacks
    def stopKamailio(self) -> Any:
        """
        SIGTERM Kamailio's main process (it ends its children); any child
        still there afterwards is killed by its pid.
        """
        if not self.kamailio.running:
            return
        children = self.kamailioChildren()
        yield self.stop(self.kamailio)
        if self.kamailio.running:
            self.kamailio.process.signalProcess("KILL")
            yield self.kamailio.ended
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    @defer.inlineCallbacks
    def kamcmd(self, *command: str) -> Any:
        """
        Run one kamcmd command over Kamailio's ctl socket.

        @return: a Deferred firing with its output.
        """
        assert KAMCMD is not None
        process = spawn(self, [KAMCMD, "-s", self.ctl] + list(command), limit=10)
        rc = yield process.ended
        self.assertEqual(rc, 0, process.text())
        return process.text()

    @defer.inlineCallbacks
    def kamailioCounters(self) -> Any:
        """
        @return: Kamailio's C{sctp.info} and C{sctp} counter group, merged,
            and its C{core} counters (kex: requests received by method,
            replies received, drops).
        """
        info = parseKamcmd((yield self.kamcmd("sctp.info")))
        sctp = parseKamcmd((yield self.kamcmd("cnt.grp_get_all", "sctp")))
        core = parseKamcmd((yield self.kamcmd("cnt.grp_get_all", "core")))
        return dict(info, **sctp), core

    # -- the calls ---------------------------------------------------------

    @defer.inlineCallbacks
    def register(self, host: str, contactPort: int, port: int) -> Any:
        """
        REGISTER bob at our server (examples/sipp/register.xml) from C{host}
        with the contact C{sip:bob@host:contactPort;transport=sctp}.
        """
        result = yield sipp(self, "-sf", os.path.join(SCENARIOS, "register.xml"), "-i", host, "-p", str(freePort(host)), "-s", "bob", "-key", "uas_port", str(contactPort), "-key", "expires", "300", "-m", "1", "{}:{}".format(OURS, port))
        self.assertEqual((result.rc, result.successful, result.failed), (0, 1, 0), result)

    @defer.inlineCallbacks
    def calls(self, uasPort: int, uacPort: int, target: str, *extra: str) -> Any:
        """
        Run L{CALLS} calls from a SIPp UAC on C{UAC:uacPort} to
        C{sip:bob@target} (plus C{extra} SIPp arguments) to a SIPp UAS on
        C{UAS:uasPort}.

        @return: a Deferred firing with the UAC's and the UAS's L{SIPpResult}.
        """
        assert SIPP is not None
        uas = spawn(self, [SIPP] + SIPP_COMMON + ["-sf", os.path.join(KAMAILIO_DIR, "uas-rr.xml"), "-i", UAS, "-p", str(uasPort), "-m", str(CALLS)], limit=self.timeout)
        yield waitFor(lambda: sctpListening(uasPort) or not uas.running, timeout=15, what="the SIPp UAS to listen")
        uac = yield sipp(self, "-sf", os.path.join(KAMAILIO_DIR, "uac-rr.xml"), "-i", UAC, "-p", str(uacPort), "-s", "bob", "-m", str(CALLS), "-r", str(RATE), *(list(extra) + [target]))
        # The UAS ends on its own once it has seen every call; if calls
        # failed it would wait for SIPp's -timeout: give it 10 s.
        yield waitFor(lambda: not uas.running, timeout=10, what="the SIPp UAS to end").addErrback(lambda _: None)
        if uas.running:
            uas.process.signalProcess("KILL")
        uasRC = yield uas.ended
        return uac, SIPpResult(uasRC, uas.text())

    def checkCalls(self, uac: SIPpResult, uas: SIPpResult) -> None:
        """
        Both SIPp ends saw every call succeed; neither server logged a
        traceback or an error.
        """
        context = "UAC: {!r}\nUAS: {!r}\nKamailio:\n{}\ntwistd:\n{}".format(uac, uas, self.kamailio.text()[-3000:], self.readServerLog()[-3000:])
        self.assertEqual((uac.rc, uac.successful, uac.failed), (0, CALLS, 0), context)
        self.assertEqual((uas.rc, uas.successful, uas.failed), (0, CALLS, 0), context)
        self.assertNotIn("Traceback", self.readServerLog())
        self.assertEqual([line for line in self.kamailio.text().splitlines() if " ERROR: " in line or " CRITICAL: " in line], [])

    def checkServerStats(self, stats: Dict[str, Any], responsesPerCall: int) -> None:
        """
        Every SIP message our server handled came over SCTP, none was lost.
        """
        sctp, sip = stats["counters"], stats["sip"]
        self.assertEqual(sctp["messages_in"], sip["requests_in"] + sip["responses_in"], stats)
        self.assertEqual(sctp["messages_out"], sip["requests_out"] + sip["responses_out"], stats)
        self.assertEqual((sip["requests_forwarded"], sip["responses_forwarded"]), (3 * CALLS, responsesPerCall * CALLS), stats)
        self.assertEqual((sip.get("forward_failed", 0), sip.get("parse_errors", 0), sip.get("responses_unroutable", 0), sip.get("responses_not_ours", 0)), (0, 0, 0, 0), stats)
        self.assertEqual((sctp["send_failed"], sctp["comm_lost"]), (0, 0), stats)

    def checkKamailio(self, kam: Dict[str, int], core: Dict[str, int], repliesPerCall: int) -> None:
        """
        Kamailio established its associations without an SCTP error, and
        every INVITE, ACK and BYE (and their replies) went through it.
        """
        self.assertGreaterEqual(kam.get("established", 0), 2, kam)
        self.assertEqual((kam.get("send_failed"), kam.get("comm_lost"), kam.get("connect_failed")), (0, 0, 0), kam)
        methods = tuple(core.get("rcv_requests_" + m) for m in ("invite", "ack", "bye"))
        self.assertEqual(methods, (CALLS, CALLS, CALLS), core)
        self.assertEqual(core.get("rcv_replies"), repliesPerCall * CALLS, core)
        self.assertEqual((core.get("drop_requests"), core.get("drop_replies"), core.get("err_requests"), core.get("err_replies")), (0, 0, 0, 0), core)

    def liveAssociation(self, associations: List[Dict[str, Any]], peer: Endpoint) -> Dict[str, Any]:
        """
        @return: our server's live association with C{peer}.
        """
        wanted = "sctp:{}:{}".format(*peer)
        found = [a for a in associations if a["peer"] == wanted]
        self.assertEqual(len(found), 1, associations)
        return found[0]

    def report(self, order: str, uac: SIPpResult, uas: SIPpResult, hops: List[Tuple[str, Endpoint, Endpoint]], stats: Dict[str, Any], kam: Dict[str, int], core: Dict[str, int], trunk: Dict[str, Any]) -> None:
        """
        Print the test's figures.
        """
        sctp, sip = stats["counters"], stats["sip"]
        lines = [
            "",
            "Kamailio interop, {}: {} calls, UAC {} successful / {} failed, UAS {} successful / {} failed".format(order, CALLS, uac.successful, uac.failed, uas.successful, uas.failed),
        ]
        for name, a, b in hops:
            lines.append("  SCTP association {:<18} {}:{} <-> {}:{} {}".format(name + ":", a[0], a[1], b[0], b[1], "seen" if self.associations.between(a, b) else "NOT SEEN"))
        distinct = {frozenset(pair) for pair in self.associations.seen}
        lines.append("  associations seen in /proc/net/sctp/assocs: {} (the three hops and the REGISTER's)".format(len(distinct)))
        lines.append(
            "  twistd sctp-sip: established {established}, SCTP messages in/out {messages_in}/{messages_out}, ".format(**sctp)
            + "SIP requests/responses in {}/{}, forwarded {}/{}".format(sip["requests_in"], sip["responses_in"], sip["requests_forwarded"], sip["responses_forwarded"])
        )
        lines.append("  twistd <-> Kamailio association: {peer}, messages in/out {messages_in}/{messages_out}".format(**trunk))
        lines.append("  Kamailio sctp: " + ", ".join("{} {}".format(k, kam[k]) for k in ("established", "total_connections", "send_failed", "comm_lost", "connect_failed") if k in kam))
        lines.append("  Kamailio core: " + ", ".join("{} {}".format(k, core.get(k)) for k in ("rcv_requests_invite", "rcv_requests_ack", "rcv_requests_bye", "rcv_replies", "drop_requests", "drop_replies")))
        print("\n".join(lines))

    @defer.inlineCallbacks
    def test_oursInFront(self) -> Any:
        """
        UAC -> twistd sctp-sip -> Kamailio -> UAS: the UAS is registered at
        our registrar with a contact naming Kamailio, which relays to the
        UAS and record-routes; ACK and BYE follow the route set back through
        both proxies.  20 calls, none fails, every hop over SCTP.
        """
        port, kamPort, uasPort, uacPort = freePort(OURS), freePort(KAM), freePort(UAS), freePort(UAC)
        admin = yield self.startServer(port)
        yield self.startKamailio(kamPort, "sip:{}:{};transport=sctp".format(UAS, uasPort))
        yield self.register(KAM, kamPort, port)
        uac, uas = yield self.calls(uasPort, uacPort, "{}:{}".format(OURS, port))
        self.checkCalls(uac, uas)
        yield sleep(0.1)
        stats = yield admin.stats()
        trunk = self.liveAssociation((yield admin.allAssociations()), (KAM, kamPort))
        kam, core = yield self.kamailioCounters()
        hops = [
            ("UAC -> ours", (UAC, uacPort), (OURS, port)),
            ("ours -> Kamailio", (OURS, port), (KAM, kamPort)),
            ("Kamailio -> UAS", (KAM, kamPort), (UAS, uasPort)),
        ]
        self.report("ours in front (UAC -> twistd -> Kamailio -> UAS)", uac, uas, hops, stats, kam, core, trunk)
        for _, a, b in hops:
            self.assertTrue(self.associations.between(a, b), (a, b, self.associations.seen))
        # The ACK and BYE followed Kamailio's Record-Route: none went from
        # us to the UAS directly.
        self.assertFalse(self.associations.between((OURS, port), (UAS, uasPort)), self.associations.seen)
        # Kamailio (tm) answers each INVITE with 100 Trying, which we relay:
        # 100, 180, 200 (INVITE) and 200 (BYE) per call.
        self.checkServerStats(stats, 4)
        self.assertEqual((trunk["messages_out"], trunk["messages_in"]), (3 * CALLS, 4 * CALLS), trunk)
        self.checkKamailio(kam, core, 3)

    @defer.inlineCallbacks
    def test_kamailioInFront(self) -> Any:
        """
        UAC -> Kamailio -> twistd sctp-sip -> UAS: the UAS is registered
        with our server; the UAC calls bob at our server with Kamailio as
        its outbound proxy, and Kamailio relays everything to us.  20 calls,
        none fails, every hop over SCTP.
        """
        port, kamPort, uasPort, uacPort = freePort(OURS), freePort(KAM), freePort(UAS), freePort(UAC)
        admin = yield self.startServer(port)
        yield self.startKamailio(kamPort, "sip:{}:{};transport=sctp".format(OURS, port))
        yield self.register(UAS, uasPort, port)
        uac, uas = yield self.calls(uasPort, uacPort, "{}:{}".format(OURS, port), "-rsa", "{}:{}".format(KAM, kamPort))
        self.checkCalls(uac, uas)
        yield sleep(0.1)
        stats = yield admin.stats()
        trunk = self.liveAssociation((yield admin.allAssociations()), (KAM, kamPort))
        kam, core = yield self.kamailioCounters()
        hops = [
            ("UAC -> Kamailio", (UAC, uacPort), (KAM, kamPort)),
            ("Kamailio -> ours", (KAM, kamPort), (OURS, port)),
            ("ours -> UAS", (OURS, port), (UAS, uasPort)),
        ]
        self.report("Kamailio in front (UAC -> Kamailio -> twistd -> UAS)", uac, uas, hops, stats, kam, core, trunk)
        for _, a, b in hops:
            self.assertTrue(self.associations.between(a, b), (a, b, self.associations.seen))
        # The UAC never reached us directly.
        self.assertFalse(self.associations.between((UAC, uacPort), (OURS, port)), self.associations.seen)
        # 180, 200 (INVITE) and 200 (BYE) per call, from the UAS.
        self.checkServerStats(stats, 3)
        self.assertEqual((trunk["messages_in"], trunk["messages_out"]), (3 * CALLS, 3 * CALLS), trunk)
        self.checkKamailio(kam, core, 3)
