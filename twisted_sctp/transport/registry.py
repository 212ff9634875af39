# -*- test-case-name: tests.test_association -*-
"""
The association registry: one record per SCTP association of a port, with
unique ids that are never reused (the kernel's assoc ids can be), indexes by
id, by kernel assoc_id and by peer address, per-association state and
counters, and the bookkeeping for tracking, reuse and C{max_assocs}.

Pure: no sockets; time comes from an injected L{IReactorTime}.

Semantics (after Kamailio's sctp module, with its quirks fixed):
  - The port always keeps a record for every live association, because it
    needs one to hand messages to the association's protocol.
  - C{assoc_tracking} decides whether associations get a unique, stable id
    and can be found by it (for reply reuse): with it off, records carry id 0,
    L{AssociationRegistry.tracked} reports -1 and C{total} does not grow.
  - A kernel assoc_id seen again with a different peer is a new association:
    the old record is closed first, never confused with the new one.
  - Peer addresses can be learnt lazily: a record marked with
    L{AssociationRegistry.lazyPaths} knows only its primary address until a
    lookup by peer address misses (L{AssociationRegistry.byPeer}), which
    asks L{AssociationRegistry.resolvePaths} for every such record's
    addresses once, or until the caller gives them (L{AssociationRegistry.setPaths}).
"""

from __future__ import annotations

import enum
import itertools
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import attrs

from twisted.internet.interfaces import IReactorTime

from twisted_sctp.transport.address import HostPort, SCTPAddress, normalizeHost


class AssociationState(enum.Enum):
    """
    Where an association is in its life.
    """

    CONNECTING = "connecting"  # we started it (INIT sent), no COMM_UP yet
    ESTABLISHED = "established"
    SHUTTING_DOWN = "shutting-down"  # SHUTDOWN seen or requested
    CLOSED = "closed"


@attrs.define(eq=False)
class Association:
    """
    One SCTP association.

    @ivar id: our unique id (never reused; 0 while untracked).
    @ivar assocID: the kernel's sctp_assoc_t on the port's socket (0 while
        an implicit outgoing association has not come up yet).
    @ivar peer: the peer's primary address and all of its addresses.
    @ivar paths: peer address -> path state (C{"active"}, C{"unreachable"},
        ...), from PEER_ADDR_CHANGE events.
    @ivar outgoing: whether we opened it.
    @ivar protocol: the protocol the factory built for it, once up.
    @ivar transport: its L{twisted_sctp.transport.port.AssociationTransport}.
    @ivar closeReason: how it ended, once closed.
    """

    id: int
    assocID: int
    peer: SCTPAddress
    state: AssociationState
    created: float
    outgoing: bool = False
    lastActivity: float = 0.0
    paths: Dict[HostPort, str] = attrs.field(factory=dict)
    inboundStreams: int = 0
    outboundStreams: int = 0
    messagesIn: int = 0
    messagesOut: int = 0
    bytesIn: int = 0
    bytesOut: int = 0
    upSeen: bool = False
    shutdownSeen: bool = False
    closeRequested: Optional[str] = None
    closeReason: Optional[str] = None
    rejected: bool = False
    protocol: Any = None
    transport: Any = None

    def isOpen(self) -> bool:
        """
        @return: whether messages can be sent on this association now: it
            came up and has not closed (one shutting down still counts).
        """
        return self.upSeen and self.state is not AssociationState.CLOSED

    def hasPath(self, address: HostPort) -> bool:
        """
        @return: whether C{address} is one of the peer's addresses.
        """
        return address in self.paths or address in self.peer.paths()

    def age(self, now: float) -> float:
        """
        @return: seconds since the association was created.
        """
        return now - self.created

    def summary(self, now: float) -> dict[str, object]:
        """
        @return: a flat description for operators (admin, CLI).
        """
        return {
            "id": self.id,
            "assoc_id": self.assocID,
            "peer": str(self.peer),
            "paths": {("[{}]:{}" if ":" in h else "{}:{}").format(h, p): s for (h, p), s in sorted(self.paths.items())},
            "state": self.state.value,
            "outgoing": self.outgoing,
            "age": round(self.age(now), 3),
            "idle": round(now - self.lastActivity, 3),
            "messages_in": self.messagesIn,
            "messages_out": self.messagesOut,
            "bytes_in": self.bytesIn,
            "bytes_out": self.bytesOut,
            "inbound_streams": self.inboundStreams,
            "outbound_streams": self.outboundStreams,
        }


def _key(address: HostPort) -> HostPort:
    host, port = address
    try:
        host = normalizeHost(host)
    except ValueError:
        pass
    return (host, port)


#: Association ids are unique in the process, across every registry (and
#: so every listener), and never reused.
_PROCESS_IDS = itertools.count(1)


class AssociationRegistry:
    """
    The associations of one port.

    @ivar opened: open associations (COMM_UP minus COMM_LOST/SHUTDOWN_COMP),
        Kamailio's C{current_opened_connections}.
    @ivar total: tracked associations ever created (C{total_connections}).
    @ivar resolvePaths: gives every peer address of a kernel association
        (may raise C{OSError}); where it is C{None}, records marked with
        L{lazyPaths} keep only the addresses they have.
    """

    def __init__(
        self,
        clock: IReactorTime,
        tracking: bool = True,
        maxAssocs: int = -1,
        ids: Optional[Iterator[int]] = None,
    ) -> None:
        """
        @param ids: where unique ids come from; by default a counter shared
            by every registry of the process.
        """
        self._clock = clock
        self.tracking = tracking
        self.maxAssocs = maxAssocs
        self.opened = 0
        self.total = 0
        self._ids = ids if ids is not None else _PROCESS_IDS
        self._byID: Dict[int, Association] = {}
        self._byKernel: Dict[int, Association] = {}
        self._byPeer: Dict[HostPort, Association] = {}
        self._pending: List[Association] = []
        self._connecting: set[Association] = set()
        #: Kernel id -> the live records whose peer addresses beyond the
        #: primary have not been asked for (see lazyPaths).
        self._unresolved: Dict[int, Association] = {}
        self.resolvePaths: Optional[Callable[[int], Sequence[HostPort]]] = None

    # -- queries ---------------------------------------------------------

    @property
    def tracked(self) -> int:
        """
        Kamailio's C{current_tracked_connections}: tracked entries, or -1
        while tracking is off.
        """
        return len(self._byID) if self.tracking else -1

    def __len__(self) -> int:
        return len(self._byKernel) + len(self._pending)

    def __iter__(self) -> Iterator[Association]:
        yield from list(self._byKernel.values())
        yield from list(self._pending)

    def byID(self, id: int) -> Optional[Association]:
        """
        @return: the tracked association with our id C{id}, if any.
        """
        return self._byID.get(id)

    def byKernelID(self, assocID: int, source: Optional[HostPort] = None) -> Optional[Association]:
        """
        @param source: if given, the address a message came from: an entry
            whose peer does not have that address is not a match (a reused
            kernel id).
        @return: the live association with kernel id C{assocID}.
        """
        assoc = self._byKernel.get(assocID)
        if assoc is None:
            return None
        if source is not None and not assoc.hasPath(_key(source)):
            return None
        return assoc

    def byPeer(self, address: HostPort) -> Optional[Association]:
        """
        On a miss while some records' peer addresses are unknown
        (L{lazyPaths}), those are asked for (L{resolveAll}) and the lookup
        is made again: a multihomed peer is found by any of its addresses.

        @return: the live (or connecting) association with a peer at
            C{address}.
        """
        key = _key(address)
        assoc = self._byPeer.get(key)
        if assoc is None and self._unresolved and self.resolvePaths is not None:
            self.resolveAll()
            assoc = self._byPeer.get(key)
        return assoc

    @property
    def unresolved(self) -> int:
        """
        How many live records know only the peer addresses they came up
        with (L{lazyPaths}).
        """
        return len(self._unresolved)

    def lazyPaths(self, assoc: Association) -> None:
        """
        C{assoc}'s peer may have addresses beyond those recorded: ask
        L{resolvePaths} for them when a lookup by peer address misses.
        """
        if assoc.assocID and assoc.state is not AssociationState.CLOSED:
            self._unresolved[assoc.assocID] = assoc

    def resolveAll(self) -> int:
        """
        Record every peer address of each record marked with L{lazyPaths}
        (one L{resolvePaths} call each; a record whose association the
        backend no longer knows keeps what it has).

        @return: how many records were asked about.
        """
        if self.resolvePaths is None:
            return 0
        pending, self._unresolved = self._unresolved, {}
        for assoc in pending.values():
            self._resolve(assoc)
        return len(pending)

    def resolve(self, assoc: Association) -> None:
        """
        Record every peer address of C{assoc} now, if it was marked with
        L{lazyPaths} and not yet asked about.
        """
        if self.resolvePaths is not None and self._unresolved.get(assoc.assocID) is assoc:
            del self._unresolved[assoc.assocID]
            self._resolve(assoc)

    def _resolve(self, assoc: Association) -> None:
        assert self.resolvePaths is not None
        if self._byKernel.get(assoc.assocID) is not assoc:
            return
        try:
            paths = self.resolvePaths(assoc.assocID)
        except OSError:
            return
        if paths:
            self.setPaths(assoc, paths)

    def wouldExceed(self) -> bool:
        """
        @return: whether opening one more association now would go over
            C{max_assocs} (negative means unlimited).  Connecting ones count.
        """
        if self.maxAssocs < 0:
            return False
        return self.opened + len(self._connecting) >= self.maxAssocs

    # -- transitions -----------------------------------------------------

    def _newID(self) -> int:
        if not self.tracking:
            return 0
        self.total += 1
        return next(self._ids)

    def _index(self, assoc: Association) -> None:
        if assoc.id:
            self._byID[assoc.id] = assoc
        for path in assoc.peer.paths():
            self._byPeer[_key(path)] = assoc
        for path in assoc.paths:
            self._byPeer[_key(path)] = assoc

    def _unindex(self, assoc: Association) -> None:
        if self._byID.get(assoc.id) is assoc:
            del self._byID[assoc.id]
        assocID = assoc.assocID
        if self._byKernel.get(assocID) is assoc:
            del self._byKernel[assocID]
        if self._unresolved.get(assocID) is assoc:
            del self._unresolved[assocID]
        # Every peer-address key of assoc is one of its paths (already keys)
        # or its peer's addresses (see _index, pathChange, setPaths): look
        # only at those, not at every association's (that made each end
        # O(associations)).
        byPeer = self._byPeer
        paths = assoc.paths
        for key in paths:
            if byPeer.get(key) is assoc:
                del byPeer[key]
        for path in assoc.peer.paths():
            if path not in paths:
                key = _key(path)
                if byPeer.get(key) is assoc:
                    del byPeer[key]
        if self._pending and assoc in self._pending:
            self._pending.remove(assoc)

    def connecting(self, peer: SCTPAddress, assocID: int = 0) -> Association:
        """
        Record an association we are opening (an INIT is about to leave).
        """
        now = self._clock.seconds()
        assoc = Association(
            id=self._newID(),
            assocID=assocID,
            peer=peer,
            state=AssociationState.CONNECTING,
            created=now,
            lastActivity=now,
            outgoing=True,
            paths={_key(p): "connecting" for p in peer.paths()},
        )
        if assocID:
            self._byKernel[assocID] = assoc
        else:
            self._pending.append(assoc)
        self._connecting.add(assoc)
        self._index(assoc)
        return assoc

    def up(
        self,
        assocID: int,
        peer: SCTPAddress,
        inboundStreams: int = 0,
        outboundStreams: int = 0,
        now: Optional[float] = None,
    ) -> Tuple[Association, Optional[Association]]:
        """
        COMM_UP: the association is established.

        @param now: the time it came up (the batch's C{readTime}); C{None}:
            the clock's.
        @return: the association and, if the kernel id still named an older
            association with another peer (a reused id whose end we missed),
            that older one, which the caller must close.
        """
        if now is None:
            now = self._clock.seconds()
        self.opened += 1
        stale = None
        paths = {_key(p): "active" for p in peer.paths()}
        assoc = self._byKernel.get(assocID)
        if assoc is not None and not any(assoc.hasPath(key) for key in paths):
            stale = assoc
            if stale.upSeen:
                self.opened = max(0, self.opened - 1)
            self._closeRecord(stale, "comm_lost")
            assoc = None
        if assoc is None and self._pending:
            assoc = self._matchPending(peer)
        if assoc is None:
            # The common case (an incoming association): one record, its
            # keys indexed once.
            assoc = Association(
                id=self._newID(),
                assocID=assocID,
                peer=peer,
                state=AssociationState.ESTABLISHED,
                created=now,
                lastActivity=now,
                paths=paths,
                inboundStreams=inboundStreams,
                outboundStreams=outboundStreams,
                upSeen=True,
            )
            self._byKernel[assocID] = assoc
            if assoc.id:
                self._byID[assoc.id] = assoc
            byPeer = self._byPeer
            for key in paths:
                byPeer[key] = assoc
            return assoc, stale
        else:
            if assoc in self._pending:
                self._pending.remove(assoc)
            assoc.peer = peer
        self._connecting.discard(assoc)
        assoc.assocID = assocID
        assoc.state = AssociationState.ESTABLISHED
        assoc.upSeen = True
        assoc.inboundStreams = inboundStreams
        assoc.outboundStreams = outboundStreams
        assoc.lastActivity = now
        assoc.paths.update(paths)
        for key, state in assoc.paths.items():
            if state == "connecting":
                # An address given to connect is the peer's in the kernel
                # now, whether or not COMM_UP's caller listed it.
                assoc.paths[key] = "active"
        self._byKernel[assocID] = assoc
        self._index(assoc)
        return assoc, stale

    def _matchPending(self, peer: SCTPAddress) -> Optional[Association]:
        keys = {_key(p) for p in peer.paths()}
        for assoc in self._pending:
            if keys & {_key(p) for p in assoc.peer.paths()}:
                return assoc
        return None

    def implicit(self, assocID: int, source: HostPort, now: Optional[float] = None) -> Association:
        """
        Data arrived on a kernel association we have no record of (its
        COMM_UP not processed yet, or missed): make a record so the data is
        not lost.  It is counted as opened when its COMM_UP arrives.

        @param now: the data's arrival time; C{None}: the clock's.
        """
        if now is None:
            now = self._clock.seconds()
        assoc = Association(
            id=self._newID(),
            assocID=assocID,
            peer=SCTPAddress(_key(source)[0], source[1]),
            state=AssociationState.ESTABLISHED,
            created=now,
            lastActivity=now,
            paths={_key(source): "active"},
        )
        self._byKernel[assocID] = assoc
        self._index(assoc)
        return assoc

    def setAssocID(self, assoc: Association, assocID: int) -> None:
        """
        An outgoing association's kernel id became known.
        """
        if assoc in self._pending:
            self._pending.remove(assoc)
        assoc.assocID = assocID
        self._byKernel[assocID] = assoc

    def pathChange(self, assoc: Association, address: HostPort, state: str) -> None:
        """
        PEER_ADDR_CHANGE: record a path's new state (C{"removed"} drops it).
        """
        key = _key(address)
        if state == "removed":
            assoc.paths.pop(key, None)
            if self._byPeer.get(key) is assoc:
                del self._byPeer[key]
            hosts = tuple(h for h in assoc.peer.hosts if (h, assoc.peer.port) != key)
            if hosts and hosts != assoc.peer.hosts:
                host = assoc.peer.host if assoc.peer.host in hosts else hosts[0]
                assoc.peer = SCTPAddress(host, assoc.peer.port, hosts)
            return
        assoc.paths[key] = state
        self._byPeer[key] = assoc

    def setPaths(self, assoc: Association, addresses: Iterable[HostPort]) -> None:
        """
        Record every peer address the kernel reports for C{assoc} (which
        so no longer needs asking about, see L{lazyPaths}).
        """
        if self._unresolved.get(assoc.assocID) is assoc:
            del self._unresolved[assoc.assocID]
        for address in addresses:
            key = _key(address)
            assoc.paths.setdefault(key, "active")
            self._byPeer[key] = assoc
        hosts = tuple(h for h, _ in assoc.paths)
        if hosts:
            assoc.peer = SCTPAddress(assoc.peer.host, assoc.peer.port, hosts)

    def received(self, assoc: Association, size: int, now: Optional[float] = None) -> None:
        """
        Count one message of C{size} bytes received on C{assoc}.

        @param now: the time, where the caller has just read the clock (the
            port reads it once per wake-up); else the clock is read.
        """
        assoc.messagesIn += 1
        assoc.bytesIn += size
        assoc.lastActivity = self._clock.seconds() if now is None else now

    def sent(self, assoc: Association, size: int, now: Optional[float] = None) -> None:
        """
        Count one message of C{size} bytes accepted by the kernel for C{assoc}.

        @param now: as for L{received}.
        """
        assoc.messagesOut += 1
        assoc.bytesOut += size
        assoc.lastActivity = self._clock.seconds() if now is None else now

    def down(self, assocID: int, how: str) -> Optional[Association]:
        """
        COMM_LOST or SHUTDOWN_COMP: the association ended.

        @param how: the close reason to record.
        @return: the association, or C{None} if it was unknown (then only
            the open counter moves).
        """
        self.opened = max(0, self.opened - 1)
        assoc = self._byKernel.get(assocID)
        if assoc is None:
            return None
        self._closeRecord(assoc, how)
        return assoc

    def failed(self, assoc: Association, how: str = "connect_failed") -> None:
        """
        An association that never came up (CANT_STR_ASSOC) is forgotten.
        """
        self._closeRecord(assoc, how)

    def _closeRecord(self, assoc: Association, how: str) -> None:
        self._connecting.discard(assoc)
        assoc.state = AssociationState.CLOSED
        assoc.closeReason = how
        self._unindex(assoc)

    def flushTracking(self) -> int:
        """
        Tracking was turned off: forget every id (records stay, id 0).

        @return: how many entries were flushed.
        """
        count = len(self._byID)
        for assoc in list(self._byID.values()):
            assoc.id = 0
        self._byID.clear()
        return count

    def setTracking(self, on: bool) -> None:
        """
        Turn tracking on or off (off flushes; on flushes again, as the
        reference does, and tracks new associations from then on).
        """
        self.flushTracking()
        self.tracking = on
