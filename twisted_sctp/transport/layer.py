# -*- test-case-name: tests.test_layer -*-
"""
The association layer: what every SCTP backend needs above it.

L{AssociationLayer} is the L{ISCTPBackendSink} of one backend.  From the
backend's events (L{twisted_sctp.transport.events}) it keeps the
L{AssociationRegistry} and the counters, builds a protocol per association
with the factory, hands each message to its association's protocol, and
ends protocols with the reason.  Going down, it resolves a target to an
association (opening one implicitly, within C{max_assocs}), sends through
the backend, queues per association when the backend has no room
(L{twisted_sctp.transport.sending}), pauses and resumes the producers of
the association transports, and re-sends what the backend gives back
unsent while C{send_retries} last.

No socket, no errno, no kernel structure: the backend translates.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Union

import attrs
from zope.interface import implementer

from twisted.internet import defer
from twisted.internet.interfaces import IProtocolFactory
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_sctp.error import (
    AssociationLimitError,
    AssociationLost,
    ConnectError,
)
from twisted_sctp.transport.address import HostPort, SCTPAddress, normalizeHost
from twisted_sctp.transport.backend import ISCTPBackend, ISCTPBackendSink
from twisted_sctp.transport.events import (
    AssociationDown,
    AssociationUp,
    DataReceived,
    Event,
    PartialDeliveryAborted,
    PathChanged,
    PeerShutdown,
    RemoteErrorReceived,
    SendFailed,
)
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.registry import Association, AssociationRegistry, AssociationState
from twisted_sctp.transport.sending import Sender
from twisted_sctp.transport.stats import SCTPStats

#: The reason text carried in the ABORT of an association over max_assocs.
MAX_ASSOCS_REASON = b"Maximum configured number of open associations exceeded"

_log = Logger()


@attrs.frozen
class SCTPMessage:
    """
    One SCTP user message as received.

    @ivar payload: the message bytes (whole, reassembled if needed).
    @ivar stream: the stream it came on.
    @ivar ppid: the payload protocol identifier (host byte order).
    @ivar flags: the message's flags (e.g. unordered).
    @ivar association: the association it came on.
    @ivar source: the peer address it came from.
    """

    payload: bytes
    stream: int
    ppid: int
    flags: int
    association: Association
    source: HostPort


@attrs.frozen
class SCTPEvent:
    """
    An SCTP event passed to observers (the reference's event hooks).

    @ivar kind: C{"assoc_change"}, C{"peer_addr_change"}, C{"send_failed"},
        C{"remote_error"}, C{"shutdown"}, C{"partial_delivery"},
        C{"sender_dry"} or C{"other"}.
    @ivar association: the association concerned, if known.
    @ivar notification: the backend's native form of the event (the
        decoded kernel notification for the kernel backend).
    @ivar peer: the peer address the backend gave with it.
    """

    kind: str
    association: Optional[Association]
    notification: Any
    peer: Optional[HostPort]


@implementer(ISCTPBackendSink)
class AssociationLayer(Sender):
    """
    Associations, protocols and sends over one L{ISCTPBackend}.

    @ivar backend: the backend.
    @ivar registry: the L{AssociationRegistry}.
    @ivar stats: the L{SCTPStats} counters.
    @ivar options: the current L{SCTPOptions}.
    @ivar observers: callables given each L{SCTPEvent}.
    @ivar maxQueuedMessages: see L{Sender}; also C{maxQueuedBytes},
        C{highWaterBytes}.
    @ivar transportFactory: builds an association's transport from
        C{(layer, association)}.
    @ivar readTime: see L{ISCTPBackendSink.readTime}.
    """

    transportFactory: Callable[[Any, Association], Any]
    backend: ISCTPBackend

    def __init__(self, factory: IProtocolFactory, options: Optional[SCTPOptions], reactor: Any) -> None:
        self._reactor = reactor
        self.factory = factory
        self.options = options if options is not None else SCTPOptions()
        self.registry = AssociationRegistry(
            reactor, tracking=bool(self.options.assoc_tracking), maxAssocs=self.options.max_assocs
        )
        self.registry.resolvePaths = self._peerAddresses
        self.stats = SCTPStats()
        self.observers: List[Callable[[SCTPEvent], None]] = []
        self.connected = False
        self.disconnected = False
        self.readTime: Optional[float] = None
        Sender.__init__(self)
        self._connecting: Dict[Association, List[defer.Deferred[Any]]] = {}
        self._handlers: Dict[type, Callable[[Any], Optional[Association]]] = {
            AssociationUp: self._associationUp,
            AssociationDown: self._associationDown,
            PathChanged: self._pathChanged,
            SendFailed: self._sendFailed,
            PeerShutdown: self._peerShutdown,
            PartialDeliveryAborted: self._partialDeliveryAborted,
            RemoteErrorReceived: self._remoteError,
        }

    def logPrefix(self) -> str:
        return self.__class__.__name__

    # -- receiving -------------------------------------------------------

    def dataReceived(self, event: DataReceived) -> None:
        source = event.source
        if event.assocID:
            assoc = self.registry.byKernelID(event.assocID, source)
            if assoc is None:
                assoc = self._associationFor(event)
        else:
            found = self.registry.byPeer(source) if source else None
            if found is None:
                self.stats.drop("no_sndrcvinfo")
                _log.warn("{prefix} data without SCTP receive info from {source}", prefix=self.logPrefix(), source=source)
                return
            assoc = found
        if assoc.rejected:
            self.stats.drop("rejected_association")
            return
        data = event.payload
        size = len(data)
        self.registry.received(assoc, size, self.readTime)
        stats = self.stats
        stats.messages_in += 1
        stats.bytes_in += size
        protocol = assoc.protocol
        if protocol is None:
            stats.drop("protocol_error")
            return
        try:
            handler = getattr(protocol, "messageReceived", None)
            if handler is not None:
                handler(SCTPMessage(data, event.stream, event.ppid, event.flags, assoc, source or assoc.peer.paths()[0]))
            else:
                protocol.dataReceived(data)
        except Exception:
            stats.drop("protocol_error")
            _log.failure("{prefix} protocol {protocol!r} raised", prefix=self.logPrefix(), protocol=protocol)

    def _associationFor(self, event: DataReceived) -> Association:
        """
        Data on a backend id whose record does not have that source: a new
        path of the same association, a reused id, or data ahead of its
        association's COMM_UP.
        """
        assocID, source = event.assocID, event.source
        paths = list(event.paths) if event.paths else ([source] if source is not None else [])
        old = self.registry.byKernelID(assocID)
        if old is not None and source is not None:
            if source in paths and any(old.hasPath(p) for p in paths):
                self.registry.setPaths(old, paths)
                return old
            self._end(old, "comm_lost")
        assoc = self.registry.implicit(assocID, source or ("", 0), self.readTime)
        if source is not None:
            self.registry.setPaths(assoc, paths)
        self._attachProtocol(assoc)
        return assoc

    def _peerAddresses(self, assocID: int) -> List[HostPort]:
        """
        The registry's C{resolvePaths}: the backend's peer addresses of
        C{assocID}, asked for only when a lookup by peer address misses.
        """
        return self.backend.peerAddresses(assocID)

    def eventReceived(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        assoc = handler(event) if handler is not None else None
        if self.observers:
            self._notify(SCTPEvent(event.kind, assoc, event.native, getattr(event, "source", None)))

    def _notify(self, event: SCTPEvent) -> None:
        for observer in list(self.observers):
            try:
                observer(event)
            except Exception:
                _log.failure("SCTP event observer {observer!r} raised", observer=observer)

    def _associationUp(self, event: AssociationUp) -> Optional[Association]:
        if event.reason == "restart":
            self.stats.restarts += 1
            return self.registry.byKernelID(event.assocID)
        self.stats.established += 1
        primary = event.source or ("", 0)
        paths = list(event.paths) or [primary]
        if primary not in paths:
            paths.insert(0, primary)
        # registry.up() completes a record made by connect(), by an implicit
        # send, or by data that got here before this COMM_UP.
        peer = SCTPAddress(primary[0], primary[1], tuple(h for h, _ in paths))
        assoc, stale = self.registry.up(event.assocID, peer, event.inboundStreams, event.outboundStreams, self.readTime)
        if stale is not None:
            self._lost(stale, "comm_lost")
        if len(paths) > 1 or assoc.outgoing:
            # (up() has recorded the peer's addresses; an outgoing record may
            # have more, given to connect.)
            self.registry.setPaths(assoc, paths)
        if not event.complete:
            self.registry.lazyPaths(assoc)
        limit = self.registry.maxAssocs
        if limit >= 0 and self.registry.opened > limit:
            assoc.rejected = True
            try:
                self.backend.abort(event.assocID, MAX_ASSOCS_REASON)
            except OSError as e:
                _log.warn("{prefix} could not abort association {assocID} over max_assocs: {err}", prefix=self.logPrefix(), assocID=event.assocID, err=e)
            else:
                self.stats.local_reject += 1
            self._failQueue(assoc, "rejected_association")
            self._failConnects(assoc, AssociationLimitError("max_assocs={} reached".format(limit)))
            return assoc
        if assoc.protocol is None:
            self._attachProtocol(assoc)
        if assoc.protocol is not None:
            for d in self._connecting.pop(assoc, []):
                d.callback(assoc.protocol)
        if self._queues.waiting(assoc):
            self.backend.startWriting()
        return assoc

    def _associationDown(self, event: AssociationDown) -> Optional[Association]:
        known = self.registry.byKernelID(event.assocID)
        if event.reason == "cant_start":
            self.stats.connect_failed += 1
            assoc = known
            if assoc is None and event.source is not None:
                assoc = self.registry.byPeer(event.source)
            if assoc is not None and assoc.state == AssociationState.CONNECTING:
                self.registry.failed(assoc, "connect_failed")
                self._lost(assoc, "connect_failed", event.error)
            return assoc
        if event.reason == "shutdown_complete":
            self.stats.assoc_shutdown += 1
            how = "shutdown"
            if known is not None and not known.shutdownSeen and known.closeRequested is None:
                how = "autoclose"
                self.stats.autoclosed += 1
        else:
            self.stats.comm_lost += 1
            how = "comm_lost"
            if known is not None:
                if known.rejected:
                    how = "rejected"
                elif known.closeRequested == "abort":
                    how = "aborted"
        assoc = self.registry.down(event.assocID, how)
        if assoc is not None:
            self._lost(assoc, how, event.error)
        return assoc

    def _pathChanged(self, event: PathChanged) -> Optional[Association]:
        assoc = self.registry.byKernelID(event.assocID)
        if assoc is not None and event.address is not None:
            self.registry.pathChange(assoc, event.address, event.state)
        return assoc

    def _peerShutdown(self, event: PeerShutdown) -> Optional[Association]:
        self.stats.remote_shutdown += 1
        assoc = self.registry.byKernelID(event.assocID)
        if assoc is not None:
            assoc.shutdownSeen = True
            assoc.state = AssociationState.SHUTTING_DOWN
        return assoc

    def _partialDeliveryAborted(self, event: PartialDeliveryAborted) -> Optional[Association]:
        _log.error("{prefix} partial delivery aborted on association {assocID}", prefix=self.logPrefix(), assocID=event.assocID)
        return self.registry.byKernelID(event.assocID)

    def _remoteError(self, event: RemoteErrorReceived) -> Optional[Association]:
        _log.warn("{prefix} remote error {error} on association {assocID}", prefix=self.logPrefix(), error=event.error, assocID=event.assocID)
        return self.registry.byKernelID(event.assocID)

    def _sendFailed(self, event: SendFailed) -> Optional[Association]:
        self.stats.send_failed += 1
        assoc = self.registry.byKernelID(event.assocID)
        address = event.source or (assoc.peer.paths()[0] if assoc is not None else None)
        if not (event.error == 0 and address is not None and event.payload and self._resend(event.payload, event.params, address)):
            _log.warn(
                "{prefix} send failed to {peer} (error {error}, {size} bytes not re-sent)",
                prefix=self.logPrefix(),
                peer=address,
                error=event.error,
                size=len(event.payload),
            )
        return assoc

    def _attachProtocol(self, assoc: Association) -> None:
        try:
            protocol = self.factory.buildProtocol(assoc.peer)
        except Exception:
            _log.failure("{prefix} buildProtocol failed", prefix=self.logPrefix())
            protocol = None
        if protocol is None:
            self.abortAssociation(assoc, b"refused")
            return
        transport = self.transportFactory(self, assoc)
        assoc.protocol = protocol
        assoc.transport = transport
        try:
            protocol.makeConnection(transport)
        except Exception:
            _log.failure("{prefix} makeConnection failed", prefix=self.logPrefix())

    def _end(self, assoc: Association, how: str) -> None:
        """
        Close C{assoc}'s record and end its protocol.
        """
        if assoc.upSeen:
            self.registry.down(assoc.assocID, how)
        else:
            self.registry.failed(assoc, how)
        self._lost(assoc, how)

    def _lost(self, assoc: Association, how: str, error: int = 0) -> None:
        # Our queue's messages never reached the peer: re-send them when the
        # backend's own unsent ones come back re-sendable (error 0).
        self._failQueue(assoc, "association_lost", resend=how != "port_closed" and error == 0)
        if assoc in self._connecting:
            self._failConnects(assoc, ConnectError(how, error) if how == "connect_failed" else AssociationLost(how, error))
        transport = assoc.transport
        if transport is not None:
            transport.connected = False
            transport.disconnecting = False
            self._closing.discard(transport)
            producer, transport.producer = transport.producer, None
            if producer is not None:
                try:
                    producer.stopProducing()
                except Exception:
                    _log.failure("{prefix} stopProducing raised", prefix=self.logPrefix())
        protocol, assoc.protocol = assoc.protocol, None
        if protocol is not None:
            try:
                protocol.connectionLost(Failure(AssociationLost(how, error)))
            except Exception:
                _log.failure("{prefix} connectionLost raised", prefix=self.logPrefix())

    def _failConnects(self, assoc: Association, exc: Exception) -> None:
        for d in self._connecting.pop(assoc, []):
            d.errback(Failure(exc))

    def backendLost(self, reason: Failure) -> None:
        self.connectionLost(reason)

    def connectionLost(self, reason: Failure) -> None:
        """
        The endpoint is gone: every association ends ("port_closed").
        """
        if self.disconnected:
            return
        self.disconnected = True
        self.connected = False
        for assoc in list(self.registry):
            self._end(assoc, "port_closed")
        self.backend.close()
        self.factory.doStop()

    # -- association control ---------------------------------------------

    def connect(self, address: Union[SCTPAddress, HostPort]) -> defer.Deferred[Any]:
        """
        Open an association to C{address} (all of an L{SCTPAddress}'s hosts
        are given to the backend, for a multihomed peer).

        @return: a Deferred firing with the association's protocol once it is
            up, or failing with L{ConnectError} / L{AssociationLimitError}.
        """
        if isinstance(address, SCTPAddress):
            peer = address
        else:
            peer = SCTPAddress(normalizeHost(address[0]), int(address[1]))
        existing = self.registry.byPeer(peer.paths()[0])
        if existing is not None and existing.protocol is not None and existing.upSeen:
            return defer.succeed(existing.protocol)
        try:
            assoc = existing or self._resolveAddress(peer.paths()[0], peer)
        except AssociationLimitError:
            return defer.fail()
        d: defer.Deferred[Any] = defer.Deferred()
        self._connecting.setdefault(assoc, []).append(d)
        if existing is None:
            try:
                assocID = self.backend.connect(list(peer.paths()))
            except OSError as e:
                self.registry.failed(assoc, "connect_failed")
                self.stats.connect_failed += 1
                self._failConnects(assoc, ConnectError(str(e)))
                return d
            if assocID and not assoc.assocID and assoc.state == AssociationState.CONNECTING:
                self.registry.setAssocID(assoc, assocID)
        return d

    def shutdownAssociation(self, assoc: Association) -> None:
        """
        Start a graceful SHUTDOWN of C{assoc} now (what the backend has
        taken goes first; see L{AssociationTransport.loseConnection} for a
        close after our own queue).
        """
        if assoc.state == AssociationState.CLOSED or not assoc.assocID:
            return
        assoc.closeRequested = "shutdown"
        assoc.state = AssociationState.SHUTTING_DOWN
        try:
            self.backend.shutdown(assoc.assocID)
        except OSError as e:
            _log.warn("{prefix} SHUTDOWN of association {id} failed: {err}", prefix=self.logPrefix(), id=assoc.id, err=e)

    def abortAssociation(self, assoc: Association, reason: bytes = b"") -> None:
        """
        ABORT C{assoc} with C{reason} as the user-initiated abort cause.
        """
        if assoc.state == AssociationState.CLOSED or not assoc.assocID:
            return
        assoc.closeRequested = "abort"
        try:
            self.backend.abort(assoc.assocID, reason)
        except OSError as e:
            _log.warn("{prefix} ABORT of association {id} failed: {err}", prefix=self.logPrefix(), id=assoc.id, err=e)

    def snapshot(self) -> Dict[str, object]:
        """
        @return: every counter, with the computed current_opened_connections
            and current_tracked_connections.
        """
        return self.stats.asDict(self.registry.opened, self.registry.tracked)


