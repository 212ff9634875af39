# -*- test-case-name: tests.faultlab.test_faults -*-
"""
Fault tests on a real kernel: hosts in network namespaces joined by two veth
paths, netem loss and delay, path cuts, peer restarts, an association flood
and a slow reader (run under C{scripts/with-sctp-kernel}: C{make fault-lab},
and C{make test} runs them with the integration tests).

The test process is host C{a}: its L{SCTPPort}s live in C{a}'s namespace
(see L{tests.faultlab.topology.Topology.listen}); peers run
C{tests/faultlab/peer.py} in the other namespaces.  Each test prints its
figures and writes them to C{build/faultlab/<test>.json} (or
C{$FAULTLAB_RESULTS}); docs/reliability.md tabulates them.  Waits are
bounded and generous; nothing here asserts on timing.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional, Set

from twisted.internet import defer, task
from twisted.trial.unittest import SkipTest, TestCase
from zope.interface import implementer

from twisted.internet.interfaces import IPushProducer

from tests.faultlab import topology
from tests.faultlab.peer import Answers, PeerFactory, TransactionClient, Echo
from tests.integration.helpers import sleep, waitFor
from tests.integration.support import kernelRequired, requireSCTP
from twisted_sctp.transport.address import SCTPAddress
from twisted_sctp.kernel.constants import AssocChangeState, PeerAddrState
from twisted_sctp.error import SendQueueFullError
from twisted_sctp.kernel.notifications import PeerAddrChange
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import SCTPEvent, SCTPPort
from twisted_sctp.sip.message import SIPParseError, SIPRequest, parseMessage

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.environ.get("FAULTLAB_RESULTS") or os.path.join(ROOT, "build", "faultlab")
SIP_PORT = 5060

#: Timers for failover in seconds rather than minutes (both ends).
FAST_FAILOVER = dict(hbinterval=500, pathmaxrxt=2, srto_initial=500, srto_min=300, srto_max=1000, asocmaxrxt=20)


def optionArgs(options: Dict[str, int]) -> List[str]:
    """@return: C{--option NAME=VALUE} arguments for the peer program."""
    out: List[str] = []
    for name, value in options.items():
        out += ["--option", "{}={}".format(name, value)]
    return out


def record(name: str, figures: Dict[str, Any]) -> None:
    """
    Print a test's figures and write them to C{RESULTS/<name>.json}.
    """
    figures = dict(figures, test=name, finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    text = json.dumps(figures, sort_keys=True, default=str)
    print("\nFAULTLAB {} {}".format(name, text))
    try:
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, name + ".json"), "w") as f:
            f.write(json.dumps(figures, sort_keys=True, indent=2, default=str) + "\n")
    except OSError as e:  # pragma: no cover
        print("FAULTLAB could not write results: {}".format(e))


def transactionOfRequest(data: bytes, tag: str) -> Optional[int]:
    """
    @return: the transaction number of one of our OPTIONS requests (the
        payload of a SEND_FAILED), or C{None}.
    """
    try:
        message = parseMessage(data)
    except SIPParseError:
        return None
    prefix = "fl-{}-".format(tag)
    callID = message.callID or ""
    if not isinstance(message, SIPRequest) or not callID.startswith(prefix):
        return None
    number = callID[len(prefix):]
    return int(number) if number.isdigit() else None


class EventLog:
    """
    Every L{SCTPEvent} of a port, with the time it came (since the start).
    """

    def __init__(self, port: SCTPPort) -> None:
        self.started = time.monotonic()
        self.events: List[Any] = []
        port.observers.append(self.seen)

    def seen(self, event: SCTPEvent) -> None:
        self.events.append((round(time.monotonic() - self.started, 3), event))

    def of(self, kind: str) -> List[Any]:
        return [(t, e) for t, e in self.events if e.kind == kind]

    def pathEvent(self, address: Any, state: int) -> Optional[float]:
        """@return: when the first PEER_ADDR_CHANGE of C{address} to C{state} came."""
        for t, e in self.of("peer_addr_change"):
            note = e.notification
            if isinstance(note, PeerAddrChange) and note.state == state and tuple(note.address) == tuple(address):
                return float(t)
        return None

    def assocChanges(self) -> List[Dict[str, Any]]:
        out = []
        for t, e in self.of("assoc_change"):
            note = e.notification
            out.append({"t": t, "state": AssocChangeState(note.state).name, "error": note.error, "assoc_id": note.assocID})
        return out

    def pathChanges(self) -> List[Dict[str, Any]]:
        out = []
        for t, e in self.of("peer_addr_change"):
            note = e.notification
            try:
                state = PeerAddrState(note.state).name
            except ValueError:
                state = str(note.state)
            out.append({"t": t, "address": "{}:{}".format(*note.address), "state": state, "error": note.error})
        return out

    def failovers(self) -> int:
        """@return: how many PEER_ADDR_CHANGE events said a path became unreachable."""
        return sum(1 for p in self.pathChanges() if p["state"] == "ADDR_UNREACHABLE")

    def sendFailedErrors(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for _, e in self.of("send_failed"):
            key = str(e.notification.error)
            out[key] = out.get(key, 0) + 1
        return out


def portFigures(port: SCTPPort, *names: str) -> Dict[str, Any]:
    snap = port.snapshot()
    return {name: snap[name] for name in names}


class FaultLabCase(TestCase):
    """
    Common set-up: a real kernel, root, ip and tc; after each test, nothing
    of ours is left (namespaces, veths, peer processes).
    """

    timeout = 300

    def setUp(self) -> None:
        requireSCTP()
        reason = topology.available()
        if reason is not None:
            if kernelRequired():
                raise AssertionError("TWISTED_SCTP_REQUIRE_KERNEL=1 but " + reason)
            raise SkipTest(reason)
        # Registered first, so it runs last: after the topology's teardown.
        self.addCleanup(self.assertNothingLeft)

    def assertNothingLeft(self) -> None:
        self.assertEqual(topology.leftovers(), {"namespaces": [], "links": [], "processes": []})

    def makeTopology(self, hosts: Any = ("a", "b")) -> topology.Topology:
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        return topology.Topology(hosts, testCase=self, workdir=workdir)

    @defer.inlineCallbacks
    def ready(self, peer: topology.PeerProcess, timeout: float = 120) -> Any:
        """
        Wait until C{peer} says it is ready; fail at once if it died.
        """

        def check() -> Any:
            if not peer.alive():
                raise AssertionError("peer {} exited {}: {}".format(peer.label, peer.proc and peer.proc.returncode, peer.stderr()[-3000:]))
            status = peer.readStatus()
            return status if status and status.get("ready") else None

        status = yield waitFor(check, timeout=timeout, interval=0.05, what="peer {} ready".format(peer.label))
        return status

    @defer.inlineCallbacks
    def finished(self, peer: topology.PeerProcess, timeout: float = 60) -> Any:
        """
        Stop C{peer} (SIGTERM) and return the figures it printed.
        """
        peer.stop()
        yield waitFor(lambda: not peer.alive(), timeout=timeout, what="peer {} to exit".format(peer.label))
        return peer.result() or peer.readStatus() or {}


class FaultTests(FaultLabCase):
    """
    The faults of issue 6, each with its figures.
    """

    @defer.inlineCallbacks
    def test_sipTransactionsOverLossyPath(self) -> Any:
        """
        1,000 SIP OPTIONS transactions (20 outstanding) to a responder over
        a path with 10% loss and 20 ms delay in each direction: every one is
        answered 200 once, none lost; the kernel retransmitted.
        """
        topo = self.makeTopology()
        path = topo.paths("a", "b")[0]
        options = dict(srto_initial=1000, srto_max=5000)
        peer = topo.peer("b", "echo", "--sip", "--listen", path.addressB, "--port", str(SIP_PORT), *optionArgs(options))
        yield self.ready(peer)
        topo.netem(path, loss=10, delay=20)
        snmpA, snmpB = topo.snmp("a"), topo.snmp("b")
        factory = PeerFactory(Answers)
        port = topo.listen("a", factory, [path.addressA], options=SCTPOptions(**options))
        target = SCTPAddress(path.addressB, SIP_PORT)
        client = factory.client = TransactionClient(port, target, 1000, window=20, sip=True)
        yield port.connect(target)
        client.start()
        yield waitFor(lambda: client.done.called, timeout=250, interval=0.1, what="1,000 transactions")
        fig = client.figures()
        served = yield self.finished(peer)
        netem = {host: topo.qdiscStats(host, path.device(host))["dropped"] for host in ("a", "b")}
        figures = dict(
            fault="10% loss + 20 ms delay each way, one path",
            transactions=1000,
            window=20,
            **fig,
            netem_dropped=netem,
            retransmits_a=topology.counterDelta(snmpA, topo.snmp("a")),
            retransmits_b=topology.counterDelta(snmpB, topo.snmp("b")),
            responder_answered=served.get("answered"),
            client_stats=portFigures(port, "messages_out", "messages_in", "send_failed", "sendq_full", "comm_lost"),
            options=options,
        )
        record("sip_lossy_path", figures)
        self.assertEqual((fig["sent"], fig["answered"], fig["ok"], fig["lost"], fig["refused"]), (1000, 1000, 1000, 0, 0))
        self.assertEqual(fig["duplicates"], 0)
        self.assertEqual(port.stats.comm_lost, 0)
        self.assertGreater(sum(netem.values()), 0)
        self.assertGreater(sum(figures["retransmits_a"].values()) + sum(figures["retransmits_b"].values()), 0)

    @defer.inlineCallbacks
    def test_pathCutFailover(self) -> Any:
        """
        A two-path association carrying SIP transactions: path 1 (primary)
        is cut in the middle of the traffic; PEER_ADDR_CHANGE says
        UNREACHABLE and the registry's path state follows; traffic goes on
        over path 2; the path restored comes back (ADDR_AVAILABLE, state
        active); no transaction is lost.
        """
        topo = self.makeTopology()
        path1, path2 = topo.paths("a", "b")
        hostsB = topo.hosts["b"].addressesTo("a")
        peer = topo.peer("b", "echo", "--sip", "--listen", ",".join(hostsB), "--port", str(SIP_PORT), *optionArgs(FAST_FAILOVER))
        yield self.ready(peer)
        factory = PeerFactory(Answers)
        port = topo.listen("a", factory, topo.hosts["a"].addressesTo("b"), options=SCTPOptions(**FAST_FAILOVER))
        log = EventLog(port)
        target = SCTPAddress(hostsB[0], SIP_PORT, tuple(hostsB))
        client = factory.client = TransactionClient(port, target, 10 ** 6, sip=True, interval=0.02)
        protocol = yield port.connect(target)
        assoc = protocol.transport.association
        primary, secondary = (hostsB[0], SIP_PORT), (hostsB[1], SIP_PORT)
        snmp = topo.snmp("a")
        client.start()

        def counters() -> Dict[str, int]:
            return {"path1_tx": topo.deviceCounters("a", path1.deviceA)["tx_packets"], "path2_tx": topo.deviceCounters("a", path2.deviceA)["tx_packets"]}

        yield waitFor(lambda: len(client.answered) >= 50, timeout=60, what="50 answers before the cut")
        beforeCut = counters()
        answeredAtCut = len(client.answered)
        cutAt = time.monotonic() - log.started
        topo.cut(path1)
        yield waitFor(lambda: log.pathEvent(primary, PeerAddrState.ADDR_UNREACHABLE), timeout=90, what="ADDR_UNREACHABLE for path 1")
        stateDuringCut = dict(assoc.paths)
        unreachableAt = log.pathEvent(primary, PeerAddrState.ADDR_UNREACHABLE)
        assert unreachableAt is not None
        answeredAtUnreachable = len(client.answered)
        yield waitFor(lambda: len(client.answered) >= answeredAtUnreachable + 50, timeout=90, what="50 answers over path 2")
        duringCut = counters()
        answeredDuringCut = len(client.answered) - answeredAtCut
        restoredAt = time.monotonic() - log.started
        topo.restore(path1)
        yield waitFor(
            lambda: any(t > restoredAt for t, e in log.of("peer_addr_change") if e.notification.state == PeerAddrState.ADDR_AVAILABLE and tuple(e.notification.address) == primary),
            timeout=90,
            what="ADDR_AVAILABLE for path 1",
        )
        availableAt = [t for t, e in log.of("peer_addr_change") if e.notification.state == PeerAddrState.ADDR_AVAILABLE and t > restoredAt][0]
        stateAfterRestore = dict(assoc.paths)
        answeredAtRestore = len(client.answered)
        yield waitFor(lambda: len(client.answered) >= answeredAtRestore + 50, timeout=90, what="50 answers after the restore")
        afterRestore = counters()
        client.stopSending()
        yield waitFor(lambda: client.done.called, timeout=90, what="the last answers")
        fig = client.figures()
        self.assertIs(port.registry.byPeer(primary), assoc)
        self.assertEqual(port.stats.comm_lost, 0)
        served = yield self.finished(peer)
        figures = dict(
            fault="path 1 (primary) cut mid-traffic, then restored; SIP OPTIONS every 20 ms",
            **fig,
            failovers=log.failovers(),
            path_events=log.pathChanges(),
            cut_at=round(cutAt, 2),
            unreachable_after_s=round(unreachableAt - cutAt, 2),
            available_after_restore_s=round(availableAt - restoredAt, 2),
            answered_during_cut=answeredDuringCut,
            path_tx_packets={
                "before_cut": beforeCut,
                "during_cut_delta": {k: duringCut[k] - beforeCut[k] for k in beforeCut},
                "after_restore_delta": {k: afterRestore[k] - duringCut[k] for k in beforeCut},
            },
            registry_paths_during_cut={"{}:{}".format(*k): v for k, v in stateDuringCut.items()},
            registry_paths_after_restore={"{}:{}".format(*k): v for k, v in stateAfterRestore.items()},
            retransmits_a=topology.counterDelta(snmp, topo.snmp("a")),
            peer_events=served.get("events"),
            client_stats=portFigures(port, "comm_lost", "send_failed", "established"),
            options=FAST_FAILOVER,
        )
        record("path_cut_failover", figures)
        self.assertEqual(stateDuringCut[primary], "unreachable")
        self.assertEqual(stateDuringCut[secondary], "active")
        self.assertEqual(stateAfterRestore[primary], "active")
        self.assertGreater(answeredDuringCut, 0)
        self.assertGreater(figures["path_tx_packets"]["during_cut_delta"]["path2_tx"], 0)
        self.assertEqual((fig["lost"], fig["refused"]), (0, 0))
        self.assertEqual(fig["answered"], fig["sent"])
        self.assertEqual(port.stats.established, 1)

    @defer.inlineCallbacks
    def hostRestart(self, retries: int) -> Any:
        """
        The peer's host goes away and comes back: both paths cut, the peer
        process killed (its associations die with it: SO_LINGER 0) and
        started again, the paths restored, while SIP OPTIONS go out every
        20 ms.  Our old association learns of the restart from the new
        incarnation's ABORT; every message still unacknowledged in it comes
        back in SEND_FAILED.

        @return: the figures, the client, the port and the transaction
            numbers that SEND_FAILED reported.
        """
        topo = self.makeTopology()
        hostsB = topo.hosts["b"].addressesTo("a")
        options = dict(FAST_FAILOVER, asocmaxrxt=60, pathmaxrxt=5)
        peer = topo.peer("b", "echo", "--sip", "--abort-on-close", "--listen", ",".join(hostsB), "--port", str(SIP_PORT), *optionArgs(options))
        yield self.ready(peer)
        factory = PeerFactory(Answers)
        # A small send buffer: during the outage the kernel's queue fills
        # and the rest waits in the port's own queue (sendq_full), so both
        # kinds of unsent message meet the restart.
        port = topo.listen("a", factory, topo.hosts["a"].addressesTo("b"), options=SCTPOptions(send_retries=retries, socket_sndbuf=16384, **options))
        log = EventLog(port)
        snmp = topo.snmp("a")
        target = SCTPAddress(hostsB[0], SIP_PORT, tuple(hostsB))
        client = factory.client = TransactionClient(port, target, 10 ** 6, sip=True, interval=0.02)
        yield port.connect(target)
        client.start()
        yield waitFor(lambda: len(client.answered) >= 50, timeout=60, what="50 answers before the restart")
        for path in topo.paths("a", "b"):
            topo.cut(path)
        yield sleep(0.3)
        peer.restart()
        yield self.ready(peer)
        yield sleep(0.3)
        for path in topo.paths("a", "b"):
            topo.restore(path)
        yield waitFor(lambda: port.stats.established >= 2, timeout=120, what="a new association to the restarted peer")
        answeredAtNew = len(client.answered)
        yield waitFor(lambda: len(client.answered) >= answeredAtNew + 50, timeout=90, what="50 answers on the new association")
        client.stopSending()

        def failedNumbers() -> Set[int]:
            found = (transactionOfRequest(e.notification.data, client.tag) for _, e in log.of("send_failed"))
            return {n for n in found if n is not None}

        def settled() -> bool:
            # Each unanswered transaction came back in a SEND_FAILED or was
            # dropped from our queue when the association ended (counted).
            return len(set(client.unanswered()) - failedNumbers()) <= port.stats.drops.get("association_lost", 0)

        expected = (lambda: client.done.called) if retries else settled
        try:
            yield waitFor(expected, timeout=120, what="every transaction answered or reported failed")
        except AssertionError:
            timedOut = True
        else:
            timedOut = False
            yield sleep(1.0)  # late SEND_FAILEDs, if any, would show here
        fig = client.figures()
        stats = portFigures(port, "established", "comm_lost", "connect_failed", "send_failed", "send_force_retry", "send_errors",
                            "sendq_full", "queued", "drop_association_lost", "drop_queue_full")
        notReported = sorted(set(client.unanswered()) - failedNumbers())
        lostAt = [t for t, e in log.of("assoc_change") if e.notification.state == AssocChangeState.COMM_LOST]
        oldServed = peer.results[-1] if peer.results else {}
        served = yield self.finished(peer)
        figures = dict(
            fault="peer host restart: both paths cut, peer killed and restarted, paths restored (send_retries={})".format(retries),
            **fig,
            retransmits_a=topology.counterDelta(snmp, topo.snmp("a")),
            failovers=log.failovers(),
            unanswered=client.unanswered(),
            unanswered_not_reported=notReported,
            not_reported_sent_at=[round(client.sentAt[n] - log.started, 3) for n in notReported],
            old_association_lost_at=lostAt[:1],
            send_failed_reported=sorted(failedNumbers()),
            send_failed_errors=log.sendFailedErrors(),
            assoc_changes=log.assocChanges(),
            old_peer_received=oldServed.get("received"),
            new_peer_received=served.get("received"),
            client_stats=stats,
            options=dict(options, send_retries=retries, socket_sndbuf=16384),
        )
        if timedOut:
            record("peer_restart_send_retries_{}".format(retries), figures)
            self.fail("timed out waiting for every transaction to be answered or reported failed")
        return figures, client, port, failedNumbers()

    @defer.inlineCallbacks
    def test_peerRestartResent(self) -> Any:
        """
        send_retries=2: the messages the old association could not deliver
        come back in SEND_FAILED (error 0: the new incarnation's ABORT has no
        cause), are counted (send_failed, send_force_retry) and re-sent on a
        new association to the restarted peer; no transaction is lost.
        """
        figures, client, port, failed = yield self.hostRestart(2)
        record("peer_restart_send_retries_2", figures)
        stats = figures["client_stats"]
        self.assertGreater(stats["send_failed"], 0)
        self.assertGreater(stats["sendq_full"], 0)
        self.assertGreater(stats["send_force_retry"], stats["send_failed"])
        self.assertEqual(stats["drop_association_lost"], 0)
        self.assertEqual(figures["lost"], 0)
        self.assertEqual(client.unanswered(), [])
        self.assertGreaterEqual(figures["client_stats"]["established"], 2)
        self.assertEqual(figures["client_stats"]["comm_lost"], 1)

    @defer.inlineCallbacks
    def test_peerRestartCountedWithoutRetries(self) -> Any:
        """
        send_retries=0: the same restart loses the messages the old
        association held, and each one is counted: every unanswered
        transaction came back in a SEND_FAILED (send_failed), none re-sent.
        """
        figures, client, port, failed = yield self.hostRestart(0)
        record("peer_restart_send_retries_0", figures)
        unanswered = set(client.unanswered())
        stats = figures["client_stats"]
        self.assertEqual(stats["send_force_retry"], 0)
        self.assertGreater(stats["send_failed"], 0)
        self.assertGreater(stats["sendq_full"], 0)
        self.assertGreater(figures["lost"], 0)
        # Every lost transaction is counted: reported by a SEND_FAILED (its
        # payload identifies it) or dropped from our own queue (EAGAIN
        # backlog) when the association ended.
        self.assertEqual(len(unanswered - failed), stats["drop_association_lost"])
        self.assertEqual(figures["lost"], len(unanswered & failed) + stats["drop_association_lost"])

    @defer.inlineCallbacks
    def test_peerProcessCrash(self) -> Any:
        """
        The peer process killed and started again while its host stays up
        (send_retries=2): the dying socket ABORTs (SEND_FAILED error 3072 =
        cause 12 in network byte order, not re-sent, as in the reference);
        sends while it is down open associations that the host refuses
        (CANT_STR_ASSOC, SEND_FAILED error 0: re-sent, retries spent in
        milliseconds); once it is back every transaction is answered.  Every
        unanswered transaction was reported in a SEND_FAILED, or had been
        acknowledged by the dying peer's kernel before it died (SCTP cannot
        tell; SIP's transaction timer does).
        """
        topo = self.makeTopology()
        hostsB = topo.hosts["b"].addressesTo("a")
        peer = topo.peer("b", "echo", "--sip", "--listen", ",".join(hostsB), "--port", str(SIP_PORT), *optionArgs(FAST_FAILOVER))
        yield self.ready(peer)
        factory = PeerFactory(Answers)
        port = topo.listen("a", factory, topo.hosts["a"].addressesTo("b"), options=SCTPOptions(send_retries=2, **FAST_FAILOVER))
        log = EventLog(port)
        snmp = topo.snmp("a")
        target = SCTPAddress(hostsB[0], SIP_PORT, tuple(hostsB))
        client = factory.client = TransactionClient(port, target, 10 ** 6, sip=True, interval=0.02)
        yield port.connect(target)
        client.start()
        yield waitFor(lambda: len(client.answered) >= 50, timeout=60, what="50 answers before the crash")
        killedAt = time.monotonic()
        peer.restart()
        yield self.ready(peer)
        yield waitFor(lambda: port.stats.established >= 2, timeout=120, what="a new association to the restarted peer")
        firstOnNew = client.sent
        yield waitFor(lambda: all(n in client.answered for n in range(firstOnNew, firstOnNew + 50)), timeout=90, what="50 answers after the restart")
        client.stopSending()
        yield waitFor(lambda: all(n in client.answered for n in range(firstOnNew, client.sent)), timeout=90, what="every transaction after the restart answered")
        yield sleep(1.0)
        found = (transactionOfRequest(e.notification.data, client.tag) for _, e in log.of("send_failed"))
        failed = {n for n in found if n is not None}
        unanswered = client.unanswered()
        silent = [n for n in unanswered if n not in failed]
        # When we learned that the old association was ending: the peer's
        # SHUTDOWN (its socket closed with nothing unread) or the ABORT.
        firstAssoc = log.assocChanges()[0]["assoc_id"]
        ends = [t for t, e in log.events if e.kind == "shutdown" and e.notification.assocID == firstAssoc]
        ends += [a["t"] for a in log.assocChanges() if a["assoc_id"] == firstAssoc and a["state"] in ("COMM_LOST", "SHUTDOWN_COMP")]
        endNoticed = min(ends) if ends else None
        served = yield self.finished(peer)
        figures = dict(
            fault="peer process killed (SIGKILL) and restarted, host up (send_retries=2)",
            **client.figures(),
            restart_seconds=round(time.monotonic() - killedAt, 2),
            retransmits_a=topology.counterDelta(snmp, topo.snmp("a")),
            failovers=log.failovers(),
            unanswered=unanswered,
            reported_by_send_failed=sorted(set(unanswered) & failed),
            acked_by_dying_peer_not_reported=silent,
            silent_sent_at=[round(client.sentAt[n] - log.started, 3) for n in silent],
            old_association_end_noticed_at=endNoticed,
            killed_at=round(killedAt - log.started, 3),
            send_failed_errors=log.sendFailedErrors(),
            assoc_changes_summary={s: sum(1 for a in log.assocChanges() if a["state"] == s) for s in ("COMM_UP", "COMM_LOST", "CANT_STR_ASSOC", "SHUTDOWN_COMP")},
            client_stats=portFigures(port, "established", "comm_lost", "connect_failed", "send_failed", "send_force_retry", "send_errors", "sendq_full", "drop_association_lost"),
            new_peer_received=served.get("received"),
            options=dict(FAST_FAILOVER, send_retries=2),
        )
        record("peer_process_crash", figures)
        # Anything lost without a SEND_FAILED (or a queue drop, counted) was
        # sent before we could know the association was ending: the dying
        # peer's kernel acknowledged it, then dropped it with the process.
        self.assertIsNotNone(endNoticed)
        notCounted = len(silent) - port.stats.drops.get("association_lost", 0)
        late = [n for n in silent if client.sentAt[n] - log.started > endNoticed]
        self.assertLessEqual(len(late), port.stats.drops.get("association_lost", 0), (late, notCounted))
        self.assertEqual(port.stats.send_failed, len(log.of("send_failed")))
        self.assertGreaterEqual(port.stats.established, 2)

    @defer.inlineCallbacks
    def test_peerAbortNotResent(self) -> Any:
        """
        What Linux reports when the peer ABORTs: a sink that stopped reading
        after 10 messages is killed with data unread, so its kernel ABORTs
        (cause 12, user-initiated).  COMM_LOST and the SEND_FAILED of every
        message it had not acknowledged carry error 3072 (the cause code in
        network byte order); with send_retries=2 none is re-sent (the
        reference's rule, kept: docs/reliability.md), and what waited in our
        own queue is dropped and counted (association_lost).
        """
        topo = self.makeTopology()
        path = topo.paths("a", "b")[0]
        peer = topo.peer("b", "sink", "--listen", path.addressB, "--port", str(SIP_PORT), "--pause-after", "10",
                         "--pause-for", "300", "--option", "socket_rcvbuf=16384")
        yield self.ready(peer)
        factory = PeerFactory(Answers)
        port = topo.listen("a", factory, [path.addressA], options=SCTPOptions(send_retries=2, socket_sndbuf=16384))
        log = EventLog(port)
        protocol = yield port.connect(SCTPAddress(path.addressB, SIP_PORT))
        assoc = protocol.transport.association
        payload = b"." * 1016
        total = 300
        for n in range(10):
            port.sendMessage(b"%08d" % n + payload, assoc, unordered=False)
        yield waitFor(lambda: (peer.readStatus() or {}).get("paused"), timeout=60, what="the sink to stop reading")
        for n in range(10, total):
            port.sendMessage(b"%08d" % n + payload, assoc, unordered=False)
        yield sleep(1.0)  # the peer's window and our send buffer fill
        queued = port.queuedMessages(assoc)
        read = (peer.readStatus() or {}).get("received", 0)
        peer.kill()
        yield waitFor(lambda: port.stats.comm_lost >= 1, timeout=60, what="COMM_LOST after the peer's ABORT")
        yield sleep(1.0)  # the SEND_FAILEDs follow the COMM_LOST
        failed = [int(e.notification.data[:8]) for _, e in log.of("send_failed") if e.notification.data[:8].isdigit()]
        snap = port.snapshot()
        figures = dict(
            fault="peer killed with unread data (its kernel ABORTs, cause 12); send_retries=2",
            sent=total,
            read_by_peer=read,
            in_our_queue_at_kill=queued,
            assoc_changes=log.assocChanges(),
            send_failed_errors=log.sendFailedErrors(),
            send_failed_messages=len(failed),
            acknowledged_unread_lost_with_peer=total - read - len(failed) - snap["drop_association_lost"],
            client_stats={k: snap[k] for k in ("comm_lost", "send_failed", "send_force_retry", "sendq_full", "drop_association_lost")},
        )
        record("peer_abort_not_resent", figures)
        [lost] = [a for a in log.assocChanges() if a["state"] == "COMM_LOST"]
        self.assertEqual(lost["error"], 3072)
        self.assertGreater(len(failed), 0)
        self.assertEqual(log.sendFailedErrors(), {"3072": len(failed)})
        self.assertEqual(len(set(failed)), len(failed))
        self.assertTrue(all(n >= read for n in failed))
        self.assertEqual(snap["send_force_retry"], 0)
        self.assertEqual(snap["drop_association_lost"], queued)
        self.assertGreaterEqual(figures["acknowledged_unread_lost_with_peer"], 0)

    @defer.inlineCallbacks
    def test_associationFlood(self) -> Any:
        """
        1,000 association attempts from two hosts (four source addresses,
        a new port each) against max_assocs=100: never more than 100
        associations open for the application, every rejection counted
        (local_reject) and seen by the attacker as an ABORT with the
        reason; the associations that got in, and one opened before the
        flood, still get their echoes.
        """
        topo = self.makeTopology(("a", "b", "c"))
        a = topo.hosts["a"]
        serverHosts = a.addressesTo("b") + a.addressesTo("c")
        factory = PeerFactory(Echo)
        server = topo.listen("a", factory, serverHosts, SIP_PORT, options=SCTPOptions(max_assocs=100))
        open_ = {"max": 0, "maxOpenedCounter": 0}

        def watch(event: SCTPEvent) -> None:
            live = sum(1 for assoc in server.registry if assoc.upSeen and not assoc.rejected and assoc.protocol is not None)
            open_["max"] = max(open_["max"], live)
            open_["maxOpenedCounter"] = max(open_["maxOpenedCounter"], server.registry.opened)

        server.observers.append(watch)
        snmp = topo.snmp("a")
        witnessFactory = PeerFactory(Answers)
        witnessPort = topo.listen("b", witnessFactory, [topo.paths("a", "b")[0].addressB])
        witnessTarget = SCTPAddress(topo.paths("a", "b")[0].addressA, SIP_PORT)
        witness = witnessFactory.client = TransactionClient(witnessPort, witnessTarget, 10, sip=False)
        yield witnessPort.connect(witnessTarget)
        yield witness.start()
        floods = []
        for host in ("b", "c"):
            pairs = ",".join("{}={}".format(p.address(host), p.address("a")) for p in topo.paths(host, "a"))
            floods.append(topo.peer(host, "flood", "--pairs", pairs, "--to-port", str(SIP_PORT), "--attempts", "500", "--batch", "50", label="flood-" + host))
        kernelMax = 0
        deadline = time.monotonic() + 280
        while not all((f.readStatus() or {}).get("ready") for f in floods):
            for f in floods:
                if not f.alive():
                    raise AssertionError("flood {} exited: {}".format(f.label, f.stderr()[-3000:]))
            self.assertLess(time.monotonic(), deadline, "the flood did not finish")
            kernelMax = max(kernelMax, topo.kernelAssociations("a"))
            yield sleep(0.5)
        reports = [f.readStatus() or {} for f in floods]
        yield waitFor(lambda: server.stats.comm_lost >= sum(r["rejected"] for r in reports), timeout=60, what="every rejected association's end at the server")
        kernelAtEnd = topo.kernelAssociations("a")
        witnessAfter = witnessFactory.client = TransactionClient(witnessPort, witnessTarget, 10, sip=False, tag="after")
        yield witnessAfter.start()
        openAtEnd = server.registry.opened
        snap = server.snapshot()
        total = {k: sum(r.get(k, 0) for r in reports) for k in ("attempts", "up", "rejected", "connect_failed", "lost_other", "open", "echoed")}
        figures = dict(
            fault="1,000 association attempts (2 hosts, 4 source addresses, new port each, 50 at a time per host) vs max_assocs=100",
            attempts=total["attempts"],
            attacker=total,
            max_open_for_application=open_["max"],
            max_opened_counter=open_["maxOpenedCounter"],
            open_at_end=openAtEnd,
            kernel_assocs_max_sampled=kernelMax,
            kernel_assocs_at_end=kernelAtEnd,
            server=dict((k, snap[k]) for k in ("established", "local_reject", "comm_lost", "current_opened_connections", "current_tracked_connections", "drop_rejected_association")),
            retransmits_a=topology.counterDelta(snmp, topo.snmp("a")),
            witness_before=witness.figures(),
            witness_after=witnessAfter.figures(),
        )
        for f in floods:
            yield self.finished(f)
        record("association_flood", figures)
        self.assertEqual(total["attempts"], 1000)
        self.assertEqual(total["connect_failed"] + total["lost_other"], 0)
        self.assertLessEqual(open_["max"], 100)
        self.assertEqual(openAtEnd, 100)
        self.assertEqual(total["open"], 99)
        self.assertEqual(total["rejected"], 1000 - 99)
        self.assertEqual(snap["local_reject"], total["rejected"])
        self.assertEqual(snap["established"], 1001)
        self.assertEqual(total["echoed"], total["open"])
        self.assertEqual((witness.figures()["lost"], witnessAfter.figures()["lost"]), (0, 0))
        self.assertEqual(witnessAfter.figures()["answered"], 10)

    @defer.inlineCallbacks
    def test_slowReaderBoundedQueue(self) -> Any:
        """
        A peer that stops reading for 10 s while we keep offering 1 KB
        messages (100 every 20 ms, ignoring backpressure on purpose): the
        producer is paused, the association's queue never exceeds its bound,
        memory stays bounded, sends beyond the bound fail with
        SendQueueFullError and are counted (drop queue_full), and every
        message accepted arrives, in order, once the peer reads again.
        """
        topo = self.makeTopology()
        path = topo.paths("a", "b")[0]
        peer = topo.peer("b", "sink", "--listen", path.addressB, "--port", str(SIP_PORT), "--pause-after", "200", "--pause-for", "10", "--option", "socket_rcvbuf=65536")
        yield self.ready(peer)
        factory = PeerFactory(Answers)
        port = topo.listen("a", factory, [path.addressA], options=SCTPOptions(socket_sndbuf=65536))
        port.maxQueuedMessages = 2000
        port.maxQueuedBytes = 2 << 20
        port.highWaterBytes = 256 << 10
        target = SCTPAddress(path.addressB, SIP_PORT)
        protocol = yield port.connect(target)
        assoc = protocol.transport.association

        @implementer(IPushProducer)
        class Producer:
            def __init__(self) -> None:
                self.calls: List[str] = []
                self.paused = False

            def pauseProducing(self) -> None:
                self.calls.append("pause")
                self.paused = True

            def resumeProducing(self) -> None:
                self.calls.append("resume")
                self.paused = False

            def stopProducing(self) -> None:
                self.calls.append("stop")

        producer = Producer()
        protocol.transport.registerProducer(producer, True)
        snmp = topo.snmp("a")
        payload = b"." * (1024 - 8)
        state = {"seq": 0, "refused": 0, "offered": 0, "maxQueue": 0, "maxQueuedBytes": 0, "maxRSS": 0, "pausedTicks": 0}
        rssBefore = topology.rss()

        def tick() -> None:
            for _ in range(100):
                state["offered"] += 1
                try:
                    port.sendMessage(b"%08d" % state["seq"] + payload, assoc, unordered=False)
                except SendQueueFullError:
                    state["refused"] += 1
                else:
                    state["seq"] += 1
            state["maxQueue"] = max(state["maxQueue"], port.queuedMessages(assoc))
            state["maxQueuedBytes"] = max(state["maxQueuedBytes"], port._queuedBytes.get(assoc, 0))
            state["maxRSS"] = max(state["maxRSS"], topology.rss())
            state["pausedTicks"] += producer.paused

        sender = task.LoopingCall(tick)
        sender.start(0.02)
        self.addCleanup(lambda: sender.running and sender.stop())
        yield waitFor(lambda: (peer.readStatus() or {}).get("pausedAt") is not None, timeout=60, what="the peer to stop reading")
        yield waitFor(lambda: (peer.readStatus() or {}).get("resumedAt") is not None, timeout=60, what="the peer to read again")
        yield sleep(1.0)
        sender.stop()
        accepted = state["seq"]
        yield waitFor(lambda: (peer.readStatus() or {}).get("received", 0) >= accepted, timeout=120, interval=0.1, what="all {} accepted messages at the peer".format(accepted))
        yield waitFor(lambda: port.queuedMessages(assoc) == 0, timeout=30, what="the queue to drain")
        rssAfter = topology.rss()
        served = yield self.finished(peer)
        snap = port.snapshot()
        figures = dict(
            fault="peer stops reading for 10 s; 1 KB messages offered at 5,000/s regardless of backpressure",
            offered=state["offered"],
            accepted=accepted,
            refused_queue_full=state["refused"],
            received_by_peer=served.get("received"),
            out_of_order=served.get("outOfOrder"),
            lost=accepted - served.get("received", 0),
            peer_paused_s=round(served.get("resumedAt", 0) - served.get("pausedAt", 0), 2),
            producer_calls=producer.calls,
            queue_bound={"messages": port.maxQueuedMessages, "bytes": port.maxQueuedBytes},
            max_queue_messages=state["maxQueue"],
            max_queued_bytes=state["maxQueuedBytes"],
            rss_kb={"before": rssBefore, "max": state["maxRSS"], "after": rssAfter, "growth_max": state["maxRSS"] - rssBefore},
            offered_bytes=state["offered"] * 1024,
            retransmits_a=topology.counterDelta(snmp, topo.snmp("a")),
            client_stats={k: snap[k] for k in ("sendq_full", "queued", "drop_queue_full", "messages_out", "send_failed")},
        )
        record("slow_reader", figures)
        self.assertIn("pause", producer.calls)
        # Resumed once the queue drained; since issue 14 a producer is also
        # stopped when its association ends (the peer was finished above).
        beforeEnd = producer.calls[:-1] if producer.calls[-1:] == ["stop"] else producer.calls
        self.assertEqual(beforeEnd[-1], "resume")
        self.assertNotIn("stop", beforeEnd)
        self.assertGreater(state["refused"], 0)
        self.assertEqual(snap["drop_queue_full"], state["refused"])
        self.assertLessEqual(state["maxQueue"], port.maxQueuedMessages)
        self.assertLessEqual(state["maxQueuedBytes"], port.maxQueuedBytes)
        # Bounded: growth far below what was offered (offered_bytes), within
        # the queue bound plus generous slack for the interpreter.
        self.assertLess((state["maxRSS"] - rssBefore) * 1024, port.maxQueuedBytes * 4 + (48 << 20))
        self.assertEqual(served.get("received"), accepted)
        self.assertEqual(served.get("outOfOrder"), 0)
        self.assertEqual(snap["messages_out"], accepted)


class NothingLeftBehindTests(FaultLabCase):
    """
    Runs after L{FaultTests} (trial sorts classes by name): the whole run
    left no namespace, veth or peer process behind.
    """

    def test_nothingLeft(self) -> None:
        """
        No C{faultlab-*} namespace, no C{fl*} veth and no peer program.
        """
        self.assertEqual(topology.leftovers(), {"namespaces": [], "links": [], "processes": []})
