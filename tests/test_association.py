# -*- test-case-name: tests.test_association -*-
"""
Tests for L{twisted_sctp.transport.registry} (the registry and its records) and
L{twisted_sctp.transport.stats} (the counters).  Pure: time comes from a L{Clock}.
"""

from __future__ import annotations

import itertools

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.transport.address import SCTPAddress
from twisted_sctp.transport.registry import Association, AssociationRegistry, AssociationState
from twisted_sctp.transport.stats import DROP_REASONS, KAMAILIO_COUNTERS, SCTPStats

PEER = SCTPAddress("127.0.0.2", 5060)
OTHER = SCTPAddress("127.0.0.3", 5070)
MULTI = SCTPAddress("10.0.0.1", 5080, ("10.0.0.1", "10.0.1.1", "10.0.2.1"))


def registry(**kwargs: Any) -> tuple[AssociationRegistry, Clock]:
    """
    @return: a registry on a fresh L{Clock} (started at 1000 seconds), and
        the clock.
    """
    clock = Clock()
    clock.advance(1000)
    kwargs.setdefault("ids", itertools.count(1))
    return AssociationRegistry(clock, **kwargs), clock


class UniqueIDTests(SynchronousTestCase):
    """
    Our ids are unique and never reused, unlike the kernel's assoc ids.
    """

    def test_idsNeverReusedAcrossUpDownCycles(self) -> None:
        """
        The same kernel id going up and down repeatedly gets a new id each
        time; C{total} counts every one and C{opened} returns to 0.
        """
        reg, _ = registry()
        seen = []
        for _ in range(5):
            assoc, stale = reg.up(7, PEER)
            self.assertIsNone(stale)
            seen.append(assoc.id)
            self.assertIs(reg.down(7, "comm_lost"), assoc)
        self.assertEqual(seen, [1, 2, 3, 4, 5])
        self.assertEqual(reg.total, 5)
        self.assertEqual(reg.opened, 0)
        self.assertEqual(reg.tracked, 0)

    def test_idsNeverReusedAcrossKinds(self) -> None:
        """
        Outgoing, incoming and implicit records draw from one sequence, and
        a failed connect does not give its id back.
        """
        reg, _ = registry()
        out = reg.connecting(PEER)
        reg.failed(out)
        inc, _ = reg.up(3, OTHER)
        imp = reg.implicit(4, ("127.0.0.4", 5090))
        self.assertEqual([out.id, inc.id, imp.id], [1, 2, 3])
        self.assertEqual(reg.total, 3)

    def test_downRecordsReason(self) -> None:
        """
        C{down} closes the record with the given reason and removes it from
        every index.
        """
        reg, _ = registry()
        assoc, _ = reg.up(9, MULTI)
        reg.down(9, "shutdown")
        self.assertEqual(assoc.state, AssociationState.CLOSED)
        self.assertEqual(assoc.closeReason, "shutdown")
        self.assertIsNone(reg.byID(assoc.id))
        self.assertIsNone(reg.byKernelID(9))
        for path in MULTI.paths():
            self.assertIsNone(reg.byPeer(path))
        self.assertEqual(len(reg), 0)
        self.assertEqual(list(reg), [])


class IndexTests(SynchronousTestCase):
    """
    Records are found by our id, by kernel id and by every peer path.
    """

    def test_indexedByIDKernelIDAndEveryPath(self) -> None:
        """
        A multihomed peer's association is found through each of its
        addresses, its id and its kernel id.
        """
        reg, _ = registry()
        assoc, _ = reg.up(11, MULTI, inboundStreams=10, outboundStreams=5)
        self.assertIs(reg.byID(assoc.id), assoc)
        self.assertIs(reg.byKernelID(11), assoc)
        for path in MULTI.paths():
            self.assertIs(reg.byPeer(path), assoc)
            self.assertIs(reg.byKernelID(11, path), assoc)
        self.assertEqual(assoc.paths, {p: "active" for p in MULTI.paths()})
        self.assertEqual((assoc.inboundStreams, assoc.outboundStreams), (10, 5))
        self.assertIsNone(reg.byPeer(("10.0.0.1", 9999)))
        self.assertIsNone(reg.byID(assoc.id + 1))
        self.assertIsNone(reg.byKernelID(12))

    def test_byPeerNormalizesMappedAddresses(self) -> None:
        """
        An IPv4-mapped IPv6 source finds the association of the IPv4 peer.
        """
        reg, _ = registry()
        assoc, _ = reg.up(2, PEER)
        self.assertIs(reg.byPeer(("::ffff:127.0.0.2", 5060)), assoc)
        self.assertIs(reg.byKernelID(2, ("::ffff:127.0.0.2", 5060)), assoc)

    def test_byKernelIDRefusesUnknownSource(self) -> None:
        """
        With a source that is not one of the peer's paths (the kernel id was
        reused for another peer), C{byKernelID} finds nothing; without a
        source it still finds the record.
        """
        reg, _ = registry()
        assoc, _ = reg.up(5, PEER)
        self.assertIsNone(reg.byKernelID(5, ("127.0.0.9", 5060)))
        self.assertIsNone(reg.byKernelID(5, ("127.0.0.2", 5061)))
        self.assertIs(reg.byKernelID(5, ("127.0.0.2", 5060)), assoc)
        self.assertIs(reg.byKernelID(5), assoc)

    def test_lenAndIterIncludePending(self) -> None:
        """
        C{len} and iteration cover live associations and connecting ones
        whose kernel id is not known yet.
        """
        reg, _ = registry()
        up, _ = reg.up(1, PEER)
        pending = reg.connecting(OTHER)
        self.assertEqual(len(reg), 2)
        self.assertEqual(list(reg), [up, pending])


class StaleTests(SynchronousTestCase):
    """
    A kernel id that comes back with another peer is a new association.
    """

    def test_upReturnsStaleRecord(self) -> None:
        """
        COMM_UP on a kernel id still recorded for another peer closes the old
        record and returns it; the new record gets a new id and the indexes
        point at it, and C{opened} counts one association, not two.
        """
        reg, _ = registry()
        old, _ = reg.up(4, PEER)
        self.assertEqual(reg.opened, 1)
        new, stale = reg.up(4, OTHER)
        self.assertIs(stale, old)
        self.assertIsNot(new, old)
        self.assertEqual(old.state, AssociationState.CLOSED)
        self.assertEqual(old.closeReason, "comm_lost")
        self.assertEqual(new.state, AssociationState.ESTABLISHED)
        self.assertNotEqual(new.id, old.id)
        self.assertEqual(reg.opened, 1)
        self.assertIs(reg.byKernelID(4), new)
        self.assertIsNone(reg.byID(old.id))
        self.assertIs(reg.byID(new.id), new)
        self.assertIsNone(reg.byPeer(PEER.paths()[0]))
        self.assertIs(reg.byPeer(OTHER.paths()[0]), new)
        self.assertEqual(reg.tracked, 1)

    def test_staleImplicitRecordNotUncounted(self) -> None:
        """
        A stale record whose COMM_UP was never seen (an implicit one) was
        never counted as opened, so replacing it does not uncount it.
        """
        reg, _ = registry()
        reg.implicit(4, PEER.paths()[0])
        self.assertEqual(reg.opened, 0)
        new, stale = reg.up(4, OTHER)
        self.assertIsNotNone(stale)
        self.assertEqual(reg.opened, 1)
        self.assertIs(reg.byKernelID(4), new)

    def test_upSamePeerKeepsRecord(self) -> None:
        """
        COMM_UP for a kernel id already recorded for the same peer (data came
        first: an implicit record) completes that record.
        """
        reg, _ = registry()
        implicit = reg.implicit(6, PEER.paths()[0])
        self.assertFalse(implicit.upSeen)
        assoc, stale = reg.up(6, PEER, 3, 4)
        self.assertIsNone(stale)
        self.assertIs(assoc, implicit)
        self.assertTrue(assoc.upSeen)
        self.assertEqual(reg.opened, 1)
        self.assertEqual(reg.total, 1)


class ConnectingTests(SynchronousTestCase):
    """
    Outgoing associations: recorded when the INIT leaves, matched at COMM_UP.
    """

    def test_upMatchesPendingByPeer(self) -> None:
        """
        COMM_UP from the peer of a pending outgoing record completes that
        record (same id, still outgoing) instead of making a new one.
        """
        reg, clock = registry()
        pending = reg.connecting(PEER)
        self.assertEqual(pending.state, AssociationState.CONNECTING)
        self.assertTrue(pending.outgoing)
        self.assertEqual(pending.assocID, 0)
        self.assertEqual(pending.paths, {PEER.paths()[0]: "connecting"})
        self.assertIs(reg.byPeer(PEER.paths()[0]), pending)
        self.assertIsNone(reg.byKernelID(0))
        clock.advance(2)
        assoc, stale = reg.up(21, SCTPAddress("127.0.0.2", 5060, ("127.0.0.2", "127.0.0.5")))
        self.assertIsNone(stale)
        self.assertIs(assoc, pending)
        self.assertEqual(assoc.id, 1)
        self.assertEqual(assoc.assocID, 21)
        self.assertEqual(assoc.state, AssociationState.ESTABLISHED)
        self.assertTrue(assoc.outgoing)
        self.assertEqual(assoc.created, 1000)
        self.assertEqual(assoc.lastActivity, 1002)
        self.assertIs(reg.byKernelID(21), assoc)
        self.assertIs(reg.byPeer(("127.0.0.5", 5060)), assoc)
        self.assertEqual(reg.opened, 1)
        self.assertEqual(reg.total, 1)
        self.assertEqual(len(reg), 1)

    def test_upFromAnotherPeerLeavesPending(self) -> None:
        """
        COMM_UP from a peer that is not pending makes a new incoming record;
        the pending one stays pending.
        """
        reg, _ = registry()
        pending = reg.connecting(PEER)
        assoc, _ = reg.up(22, OTHER)
        self.assertIsNot(assoc, pending)
        self.assertFalse(assoc.outgoing)
        self.assertEqual(pending.state, AssociationState.CONNECTING)
        self.assertEqual(list(reg), [assoc, pending])

    def test_connectingWithKernelID(self) -> None:
        """
        A connecting record whose kernel id is known is found by it, and its
        COMM_UP completes it.
        """
        reg, _ = registry()
        pending = reg.connecting(PEER, assocID=30)
        self.assertIs(reg.byKernelID(30), pending)
        assoc, stale = reg.up(30, PEER)
        self.assertIsNone(stale)
        self.assertIs(assoc, pending)

    def test_setAssocID(self) -> None:
        """
        C{setAssocID} moves a pending record to the kernel-id index.
        """
        reg, _ = registry()
        pending = reg.connecting(PEER)
        reg.setAssocID(pending, 31)
        self.assertEqual(pending.assocID, 31)
        self.assertIs(reg.byKernelID(31), pending)
        self.assertEqual(len(reg), 1)

    def test_failedForgetsPending(self) -> None:
        """
        A connect that failed is closed and forgotten.
        """
        reg, _ = registry()
        pending = reg.connecting(PEER)
        reg.failed(pending)
        self.assertEqual(pending.state, AssociationState.CLOSED)
        self.assertEqual(pending.closeReason, "connect_failed")
        self.assertIsNone(reg.byPeer(PEER.paths()[0]))
        self.assertIsNone(reg.byID(pending.id))
        self.assertEqual(len(reg), 0)
        self.assertEqual(reg.opened, 0)


class LimitTests(SynchronousTestCase):
    """
    L{AssociationRegistry.wouldExceed} and C{max_assocs}.
    """

    def test_unlimited(self) -> None:
        """
        A negative C{max_assocs} never refuses.
        """
        reg, _ = registry(maxAssocs=-1)
        for i in range(50):
            reg.up(i + 1, SCTPAddress("127.0.0.2", 6000 + i))
            reg.connecting(SCTPAddress("127.0.0.3", 6000 + i))
        self.assertFalse(reg.wouldExceed())

    def test_zero(self) -> None:
        """
        C{max_assocs=0} refuses even the first association.
        """
        reg, _ = registry(maxAssocs=0)
        self.assertTrue(reg.wouldExceed())

    def test_countsOpenedAndPending(self) -> None:
        """
        Open associations and pending outgoing ones both count towards
        C{max_assocs}; a slot frees up when one goes down.
        """
        reg, _ = registry(maxAssocs=2)
        self.assertFalse(reg.wouldExceed())
        reg.up(1, PEER)
        self.assertFalse(reg.wouldExceed())
        pending = reg.connecting(OTHER)
        self.assertTrue(reg.wouldExceed())
        reg.failed(pending)
        self.assertFalse(reg.wouldExceed())
        reg.up(2, OTHER)
        self.assertTrue(reg.wouldExceed())
        reg.down(2, "shutdown")
        self.assertFalse(reg.wouldExceed())

    def test_maxAssocsChangeable(self) -> None:
        """
        C{maxAssocs} is read at each check.
        """
        reg, _ = registry(maxAssocs=1)
        reg.up(1, PEER)
        self.assertTrue(reg.wouldExceed())
        reg.maxAssocs = 5
        self.assertFalse(reg.wouldExceed())

    def test_countsConnectingWithKernelID(self) -> None:
        """
        An outgoing association still connecting counts towards
        C{max_assocs} after its kernel id became known (C{setAssocID}, as
        L{twisted_sctp.transport.port.SCTPPort.connect} does once C{connectx}
        returns), as the docstring says: connecting ones count.
        """
        reg, _ = registry(maxAssocs=1)
        pending = reg.connecting(PEER)
        self.assertTrue(reg.wouldExceed())
        reg.setAssocID(pending, 40)
        self.assertTrue(reg.wouldExceed())



class DownTests(SynchronousTestCase):
    """
    L{AssociationRegistry.down}.
    """

    def test_unknownOnlyMovesCounter(self) -> None:
        """
        C{down} for a kernel id with no record returns C{None}, decrements
        C{opened} (never below 0) and touches no record.
        """
        reg, _ = registry()
        assoc, _ = reg.up(1, PEER)
        reg.up(2, OTHER)
        self.assertEqual(reg.opened, 2)
        self.assertIsNone(reg.down(99, "comm_lost"))
        self.assertEqual(reg.opened, 1)
        self.assertIsNone(reg.down(98, "comm_lost"))
        self.assertIsNone(reg.down(97, "comm_lost"))
        self.assertEqual(reg.opened, 0)
        self.assertEqual(assoc.state, AssociationState.ESTABLISHED)
        self.assertEqual(len(reg), 2)
        self.assertEqual(reg.tracked, 2)


class TrackingTests(SynchronousTestCase):
    """
    C{assoc_tracking}: stable ids only while it is on.
    """

    def test_trackingOff(self) -> None:
        """
        With tracking off, records carry id 0, cannot be found by id,
        C{tracked} is -1 and C{total} does not grow; the other indexes work.
        """
        reg, _ = registry(tracking=False)
        assoc, _ = reg.up(1, PEER)
        pending = reg.connecting(OTHER)
        self.assertEqual((assoc.id, pending.id), (0, 0))
        self.assertEqual(reg.tracked, -1)
        self.assertEqual(reg.total, 0)
        self.assertIsNone(reg.byID(0))
        self.assertIs(reg.byKernelID(1), assoc)
        self.assertIs(reg.byPeer(OTHER.paths()[0]), pending)
        self.assertEqual(reg.opened, 1)
        reg.down(1, "comm_lost")
        self.assertEqual(reg.opened, 0)
        self.assertIsNone(reg.byKernelID(1))

    def test_flushTrackingCount(self) -> None:
        """
        C{flushTracking} forgets every id, returns how many it forgot and
        keeps the records.
        """
        reg, _ = registry()
        a, _ = reg.up(1, PEER)
        b, _ = reg.up(2, OTHER)
        self.assertEqual(reg.flushTracking(), 2)
        self.assertEqual((a.id, b.id), (0, 0))
        self.assertIsNone(reg.byID(1))
        self.assertIs(reg.byKernelID(2), b)
        self.assertEqual(reg.tracked, 0)
        self.assertEqual(reg.flushTracking(), 0)

    def test_setTrackingOffThenOn(self) -> None:
        """
        Turning tracking off flushes it (C{tracked} -1); turning it back on
        tracks new associations with ids never used before, while the old
        records stay untracked.
        """
        reg, _ = registry()
        a, _ = reg.up(1, PEER)
        reg.setTracking(False)
        self.assertEqual(reg.tracked, -1)
        self.assertEqual(a.id, 0)
        untracked, _ = reg.up(2, OTHER)
        self.assertEqual(untracked.id, 0)
        self.assertEqual(reg.total, 1)
        reg.setTracking(True)
        self.assertEqual(reg.tracked, 0)
        b, _ = reg.up(3, MULTI)
        self.assertEqual(b.id, 2)
        self.assertEqual(reg.tracked, 1)
        self.assertEqual(reg.total, 2)
        self.assertIs(reg.byID(2), b)
        self.assertEqual(reg.opened, 3)


class PathTests(SynchronousTestCase):
    """
    Peer paths: PEER_ADDR_CHANGE and the kernel's peer address list.
    """

    def test_pathChange(self) -> None:
        """
        A path's new state is recorded, and a new path becomes a key for
        the association.
        """
        reg, _ = registry()
        assoc, _ = reg.up(1, MULTI)
        reg.pathChange(assoc, ("10.0.1.1", 5080), "unreachable")
        self.assertEqual(assoc.paths[("10.0.1.1", 5080)], "unreachable")
        reg.pathChange(assoc, ("::ffff:10.0.3.1", 5080), "active")
        self.assertEqual(assoc.paths[("10.0.3.1", 5080)], "active")
        self.assertIs(reg.byPeer(("10.0.3.1", 5080)), assoc)

    def test_pathChangeRemoved(self) -> None:
        """
        C{"removed"} drops the path from the record and from the peer
        index; the other paths still find the association.
        """
        reg, _ = registry()
        assoc, _ = reg.up(1, MULTI)
        reg.pathChange(assoc, ("10.0.2.1", 5080), "removed")
        self.assertNotIn(("10.0.2.1", 5080), assoc.paths)
        self.assertIsNone(reg.byPeer(("10.0.2.1", 5080)))
        self.assertIs(reg.byPeer(("10.0.0.1", 5080)), assoc)
        # Removing an unknown path is harmless.
        reg.pathChange(assoc, ("10.9.9.9", 5080), "removed")
        self.assertEqual(len(assoc.paths), 2)

    def test_pathChangeRemovedIsNoLongerAPath(self) -> None:
        """
        After C{"removed"}, the address is no longer one of the peer's: it
        does not match in C{byKernelID(assocID, source)} and is not listed
        in the peer address.
        """
        reg, _ = registry()
        assoc, _ = reg.up(1, MULTI)
        reg.pathChange(assoc, ("10.0.2.1", 5080), "removed")
        self.assertFalse(assoc.hasPath(("10.0.2.1", 5080)))
        self.assertIsNone(reg.byKernelID(1, ("10.0.2.1", 5080)))
        self.assertNotIn("10.0.2.1", assoc.peer.hosts)


    def test_setPaths(self) -> None:
        """
        C{setPaths} records every address the kernel reports (new ones
        C{"active"}, known ones unchanged), indexes them, and rebuilds the
        peer address with the same primary.
        """
        reg, _ = registry()
        assoc, _ = reg.up(1, PEER)
        reg.pathChange(assoc, ("127.0.0.2", 5060), "unreachable")
        reg.setPaths(assoc, [("127.0.0.7", 5060), ("127.0.0.2", 5060), ("::ffff:127.0.0.8", 5060)])
        self.assertEqual(
            assoc.paths,
            {
                ("127.0.0.2", 5060): "unreachable",
                ("127.0.0.7", 5060): "active",
                ("127.0.0.8", 5060): "active",
            },
        )
        self.assertEqual(assoc.peer.host, "127.0.0.2")
        self.assertEqual(assoc.peer.hosts, ("127.0.0.2", "127.0.0.7", "127.0.0.8"))
        self.assertIs(reg.byPeer(("127.0.0.8", 5060)), assoc)
        self.assertIs(reg.byKernelID(1, ("127.0.0.7", 5060)), assoc)

    def test_setPathsEmpty(self) -> None:
        """
        An empty report keeps the peer as it was.
        """
        reg, _ = registry()
        assoc, _ = reg.up(1, MULTI)
        reg.setPaths(assoc, [])
        self.assertEqual(assoc.peer, MULTI)


class LazyPathTests(SynchronousTestCase):
    """
    Peer addresses asked for only when a lookup by peer address misses
    (L{AssociationRegistry.lazyPaths}).
    """

    def lazy(self) -> tuple[AssociationRegistry, Association, list[int]]:
        reg, _ = registry()
        asked: list[int] = []

        def resolve(assocID: int) -> list[tuple[str, int]]:
            asked.append(assocID)
            return MULTI.paths()

        reg.resolvePaths = resolve
        assoc, _ = reg.up(1, SCTPAddress("10.0.0.1", 5080))
        reg.lazyPaths(assoc)
        return reg, assoc, asked

    def test_hitNeedsNoQuery(self) -> None:
        """
        A lookup by the primary address finds the record without asking.
        """
        reg, assoc, asked = self.lazy()
        self.assertEqual(reg.unresolved, 1)
        self.assertIs(reg.byPeer(("10.0.0.1", 5080)), assoc)
        self.assertEqual((asked, reg.unresolved), ([], 1))

    def test_missResolvesOnce(self) -> None:
        """
        A miss asks once for every unresolved record's addresses: the
        multihomed peer is then found by a secondary address, and a later
        miss asks nothing.
        """
        reg, assoc, asked = self.lazy()
        self.assertIs(reg.byPeer(("10.0.1.1", 5080)), assoc)
        self.assertEqual((asked, reg.unresolved), ([1], 0))
        self.assertEqual(assoc.peer.hosts, MULTI.hosts)
        self.assertEqual(assoc.paths[("10.0.2.1", 5080)], "active")
        self.assertIsNone(reg.byPeer(("192.0.2.9", 5080)))
        self.assertEqual(asked, [1])

    def test_resolveOne(self) -> None:
        """
        L{AssociationRegistry.resolve} asks about one record, once.
        """
        reg, assoc, asked = self.lazy()
        other, _ = reg.up(2, SCTPAddress("10.9.0.1", 5080))
        reg.lazyPaths(other)
        reg.resolve(assoc)
        reg.resolve(assoc)
        self.assertEqual((asked, reg.unresolved), ([1], 1))
        self.assertEqual(assoc.peer.hosts, MULTI.hosts)

    def test_endedNeedsNoQuery(self) -> None:
        """
        A record that ends is no longer asked about.
        """
        reg, _, asked = self.lazy()
        reg.down(1, "shutdown")
        self.assertEqual(reg.unresolved, 0)
        self.assertIsNone(reg.byPeer(("10.0.1.1", 5080)))
        self.assertEqual(asked, [])

    def test_setPathsResolves(self) -> None:
        """
        Addresses given by the caller (data from a new source) resolve the
        record.
        """
        reg, assoc, asked = self.lazy()
        reg.setPaths(assoc, MULTI.paths())
        self.assertEqual(reg.unresolved, 0)
        self.assertIs(reg.byPeer(("10.0.2.1", 5080)), assoc)
        self.assertEqual(asked, [])

    def test_queryFails(self) -> None:
        """
        Where the backend cannot say (C{OSError}), the record keeps what it
        has and is not asked about again.
        """
        reg, assoc, _ = self.lazy()

        def refuse(assocID: int) -> list[tuple[str, int]]:
            raise OSError("gone")

        reg.resolvePaths = refuse
        self.assertIsNone(reg.byPeer(("10.0.1.1", 5080)))
        self.assertEqual((reg.unresolved, assoc.peer.hosts), (0, ("10.0.0.1",)))
        self.assertIs(reg.byPeer(("10.0.0.1", 5080)), assoc)

    def test_noResolver(self) -> None:
        """
        Without C{resolvePaths} a miss is a miss and the record stays
        unresolved.
        """
        reg, _ = registry()
        assoc, _ = reg.up(1, SCTPAddress("10.0.0.1", 5080))
        reg.lazyPaths(assoc)
        self.assertIsNone(reg.byPeer(("10.0.1.1", 5080)))
        self.assertEqual(reg.unresolved, 1)


class CounterTests(SynchronousTestCase):
    """
    Per-association counters and activity times.
    """

    def test_receivedAndSent(self) -> None:
        """
        C{received} and C{sent} count messages and bytes each way and stamp
        C{lastActivity} from the clock.
        """
        reg, clock = registry()
        assoc, _ = reg.up(1, PEER)
        self.assertEqual(assoc.lastActivity, 1000)
        clock.advance(5)
        reg.received(assoc, 100)
        self.assertEqual(assoc.lastActivity, 1005)
        clock.advance(2.5)
        reg.received(assoc, 20)
        reg.sent(assoc, 7)
        self.assertEqual(assoc.lastActivity, 1007.5)
        clock.advance(1)
        reg.sent(assoc, 3)
        self.assertEqual(assoc.lastActivity, 1008.5)
        self.assertEqual((assoc.messagesIn, assoc.bytesIn), (2, 120))
        self.assertEqual((assoc.messagesOut, assoc.bytesOut), (2, 10))
        self.assertEqual(assoc.created, 1000)

    def test_activityTimeGiven(self) -> None:
        """
        C{received} and C{sent} take the time from the caller when given
        (the port reads the clock once per wake-up).
        """
        reg, clock = registry()
        assoc, _ = reg.up(1, PEER)
        clock.advance(5)
        reg.received(assoc, 10, now=1002.0)
        self.assertEqual(assoc.lastActivity, 1002.0)
        reg.sent(assoc, 10, now=1003.0)
        self.assertEqual(assoc.lastActivity, 1003.0)
        self.assertEqual((assoc.messagesIn, assoc.messagesOut), (1, 1))

    def test_summary(self) -> None:
        """
        C{summary} gives every field operators see, with age and idle time
        from the given time.
        """
        reg, clock = registry()
        assoc, _ = reg.up(12, SCTPAddress("127.0.0.2", 5060, ("127.0.0.2", "127.0.0.3")), 8, 4)
        reg.pathChange(assoc, ("127.0.0.3", 5060), "unreachable")
        clock.advance(3)
        reg.received(assoc, 50)
        reg.sent(assoc, 60)
        reg.sent(assoc, 1)
        self.assertEqual(
            assoc.summary(1010.12345),
            {
                "id": 1,
                "assoc_id": 12,
                "peer": "sctp:(127.0.0.2,127.0.0.3):5060",
                "paths": {"127.0.0.2:5060": "active", "127.0.0.3:5060": "unreachable"},
                "state": "established",
                "outgoing": False,
                "age": 10.123,
                "idle": 7.123,
                "messages_in": 1,
                "messages_out": 2,
                "bytes_in": 50,
                "bytes_out": 61,
                "inbound_streams": 8,
                "outbound_streams": 4,
            },
        )

    def test_ageAndHasPath(self) -> None:
        """
        C{age} is seconds since creation; C{hasPath} knows recorded paths
        and the peer's addresses.
        """
        assoc = Association(
            id=1,
            assocID=2,
            peer=PEER,
            state=AssociationState.ESTABLISHED,
            created=10.0,
            paths={("127.0.0.9", 5060): "active"},
        )
        self.assertEqual(assoc.age(15.5), 5.5)
        self.assertTrue(assoc.hasPath(("127.0.0.2", 5060)))
        self.assertTrue(assoc.hasPath(("127.0.0.9", 5060)))
        self.assertFalse(assoc.hasPath(("127.0.0.2", 5061)))


class SCTPStatsTests(SynchronousTestCase):
    """
    L{SCTPStats}: the counters of one port.
    """

    def test_asDictOrder(self) -> None:
        """
        C{asDict} lists Kamailio's eleven counters first in its order (the
        two computed ones last among them), then ours in field order, then
        one C{drop_<reason>} per reason.
        """
        keys = list(SCTPStats().asDict(0, 0))
        ours = [
            "messages_in",
            "messages_out",
            "bytes_in",
            "bytes_out",
            "notifications_in",
            "partial_reassembled",
            "autoclosed",
            "restarts",
            "outgoing_refused",
            "queued",
            "send_errors",
        ]
        self.assertEqual(keys[:11], list(KAMAILIO_COUNTERS))
        self.assertEqual(keys[11:22], ours)
        self.assertEqual(keys[22:], ["drop_" + r for r in DROP_REASONS])
        self.assertNotIn("drops", keys)

    def test_asDictValues(self) -> None:
        """
        C{asDict} reports the counters' values, the computed figures as
        given (-1 tracked while tracking is off) and 0 for drop reasons never
        counted.
        """
        stats = SCTPStats(established=3, comm_lost=1, messages_in=9)
        stats.drop("oversize")
        stats.drop("queue_full", 4)
        stats.drop("queue_full")
        out = stats.asDict(opened=2, tracked=-1)
        self.assertEqual(out["established"], 3)
        self.assertEqual(out["comm_lost"], 1)
        self.assertEqual(out["messages_in"], 9)
        self.assertEqual(out["current_opened_connections"], 2)
        self.assertEqual(out["current_tracked_connections"], -1)
        self.assertEqual(out["drop_oversize"], 1)
        self.assertEqual(out["drop_queue_full"], 5)
        self.assertEqual(out["drop_no_eor"], 0)

    def test_asDictFromRegistry(self) -> None:
        """
        With the registry's figures, the computed counters follow tracking.
        """
        reg, _ = registry(tracking=False)
        reg.up(1, PEER)
        out = SCTPStats().asDict(reg.opened, reg.tracked)
        self.assertEqual(out["current_opened_connections"], 1)
        self.assertEqual(out["current_tracked_connections"], -1)

    def test_dropRefusesUnknownReason(self) -> None:
        """
        C{drop} refuses a reason not in L{DROP_REASONS}, naming it, and
        counts nothing.
        """
        stats = SCTPStats()
        e = self.assertRaises(ValueError, stats.drop, "because")
        self.assertIn("'because'", str(e))
        self.assertEqual(dict(stats.drops), {})
