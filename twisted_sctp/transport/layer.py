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

from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

import attrs
from zope.interface import implementer

from twisted.internet import defer, error as ierror
from twisted.internet.interfaces import IProtocolFactory
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_sctp.error import (
    AssociationLimitError,
    AssociationLost,
    ConnectError,
    SendQueueFullError,
    UnknownAssociationError,
)
from twisted_sctp.transport.address import HostPort, SCTPAddress, normalizeHost
from twisted_sctp.transport.backend import AssociationGoneError, ISCTPBackend, ISCTPBackendSink
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
    SendParameters,
)
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.registry import Association, AssociationRegistry, AssociationState
from twisted_sctp.transport.sending import Outgoing, SendQueues
from twisted_sctp.transport.stats import SCTPStats

#: The reason text carried in the ABORT of an association over max_assocs.
MAX_ASSOCS_REASON = b"Maximum configured number of open associations exceeded"

#: The largest caller's context: the kernel backend keeps send_retries in
#: the top bits of the 32-bit context.
MAX_CONTEXT = (1 << 28) - 1

#: How many send parameters a layer keeps (it starts afresh when full).
_PARAMS_CACHE_SIZE = 4096

Target = Union[Association, int, SCTPAddress, HostPort]

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
class AssociationLayer:
    """
    Associations, protocols and sends over one L{ISCTPBackend}.

    @ivar backend: the backend.
    @ivar registry: the L{AssociationRegistry}.
    @ivar stats: the L{SCTPStats} counters.
    @ivar options: the current L{SCTPOptions}.
    @ivar observers: callables given each L{SCTPEvent}.
    @ivar maxQueuedMessages: per-association send queue bound (messages).
    @ivar maxQueuedBytes: per-association send queue bound (bytes).
    @ivar highWaterBytes: queued bytes above which the protocol's streaming
        producer is paused (resumed once the queue is empty).
    @ivar transportFactory: builds an association's transport from
        C{(layer, association)}.
    @ivar readTime: see L{ISCTPBackendSink.readTime}.
    """

    maxQueuedMessages = 10000
    maxQueuedBytes = 8 << 20
    highWaterBytes = 256 << 10
    transportFactory: Callable[[Any, Association], Any]
    backend: ISCTPBackend

    def __init__(self, factory: IProtocolFactory, options: Optional[SCTPOptions], reactor: Any) -> None:
        self._reactor = reactor
        self.factory = factory
        self.options = options if options is not None else SCTPOptions()
        self.registry = AssociationRegistry(
            reactor, tracking=bool(self.options.assoc_tracking), maxAssocs=self.options.max_assocs
        )
        self.stats = SCTPStats()
        self.observers: List[Callable[[SCTPEvent], None]] = []
        self.connected = False
        self.disconnected = False
        self.readTime: Optional[float] = None
        self._queues = SendQueues()
        self._connecting: Dict[Association, List[defer.Deferred[Any]]] = {}
        #: Transports with a pull producer that wrote: resumed once drained.
        self._pullWaiting: List[Any] = []
        #: Transports whose loseConnection waits for their queue or producer.
        self._closing: Set[Any] = set()
        self._params: Dict[Tuple[int, int, bool, int, int, int], SendParameters] = {}
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
        assoc = self.registry.implicit(assocID, source or ("", 0))
        if source is not None:
            self.registry.setPaths(assoc, paths)
        self._attachProtocol(assoc)
        return assoc

    def eventReceived(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        assoc = handler(event) if handler is not None else None
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
        assoc, stale = self.registry.up(event.assocID, peer, event.inboundStreams, event.outboundStreams)
        if stale is not None:
            self._lost(stale, "comm_lost")
        self.registry.setPaths(assoc, paths)
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

    def _resend(self, data: bytes, params: SendParameters, address: HostPort) -> bool:
        """
        The one re-send of the retry policy: a message that never reached
        the peer (given back by the backend, or left in our queue when its
        association ended without an error cause) goes again by address, on
        an association to it (opened if needed), with one retry fewer,
        counted in C{send_force_retry}.

        @return: whether it was re-sent (C{False}: no retries left, or the
            re-send failed).
        """
        if params.retries <= 0:
            return False
        again = self.sendParameters(params.stream, params.ppid, params.unordered, None, params.context, params.retries - 1)
        self.stats.send_force_retry += 1
        try:
            self._submit(self._resolveAddress(address), address, data, again)
        except Exception as e:
            _log.warn("{prefix} re-send of a message failed: {err}", prefix=self.logPrefix(), err=e)
            return False
        return True

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

    # -- sending ---------------------------------------------------------

    def sendParameters(
        self,
        stream: int,
        ppid: int,
        unordered: bool,
        ttl: Optional[int],
        context: int,
        retries: Optional[int] = None,
    ) -> SendParameters:
        """
        @param ttl: L{None} for the C{send_ttl} option.
        @param retries: L{None} for the C{send_retries} option.
        @return: the L{SendParameters}, one object per distinct value.
        @raise ValueError: C{context} is out of range.
        """
        if ttl is None:
            ttl = self.options.send_ttl
        if retries is None:
            retries = self.options.send_retries
        key = (stream, ppid, unordered, ttl, context, retries)
        params = self._params.get(key)
        if params is not None:
            return params
        if not 0 <= context <= MAX_CONTEXT:
            raise ValueError("context must be 0..{}".format(MAX_CONTEXT))
        params = SendParameters(stream, ppid & 0xFFFFFFFF, bool(unordered), ttl, context, retries)
        if len(self._params) >= _PARAMS_CACHE_SIZE:
            self._params.clear()
        self._params[key] = params
        return params

    def sendMessage(
        self,
        data: bytes,
        target: Target,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        ttl: Optional[int] = None,
        context: int = 0,
    ) -> Association:
        """
        Send C{data} as one SCTP message (ordered unless C{unordered}).

        @param target: an L{Association} (or its id) to send on, or a peer
            address (C{(host, port)} or L{SCTPAddress}): an existing
            association to it is used, otherwise the backend opens one.
        @param ttl: PR-SCTP time to live in ms (default: send_ttl; 0: none).
        @param context: the caller's context (0..2**28-1), reported back in
            SEND_FAILED.
        @return: the association the message was sent or queued on.
        @raise AssociationLimitError: a new association would go over
            max_assocs (tracking on); nothing was sent.
        @raise SendQueueFullError: the per-association queue is full.
        @raise UnknownAssociationError: no tracked association has that id.
        """
        if not self.connected:
            raise ierror.NotListeningError("the SCTP port is closed")
        params = self.sendParameters(stream, ppid, unordered, ttl, context)
        if isinstance(target, int):
            found = self.registry.byID(target)
            if found is None:
                raise UnknownAssociationError(target)
            target = found
        if isinstance(target, Association):
            assoc = target
            if assoc.state == AssociationState.CLOSED or not self.options.assoc_reuse:
                address = assoc.peer.paths()[0]
                assoc = self._resolveAddress(address)
                self._submit(assoc, address, data, params)
                return assoc
            self._submit(assoc, None if assoc.assocID else assoc.peer.paths()[0], data, params)
            return assoc
        if isinstance(target, SCTPAddress):
            address = (normalizeHost(target.host), target.port)
            peer = target
        else:
            address = (normalizeHost(target[0]), int(target[1]))
            peer = SCTPAddress(address[0], address[1])
        assoc = self._resolveAddress(address, peer)
        self._submit(assoc, address, data, params)
        return assoc

    def _resolveAddress(self, address: HostPort, peer: Optional[SCTPAddress] = None) -> Association:
        assoc = self.registry.byPeer(address)
        if assoc is not None and not assoc.rejected:
            return assoc
        if self.registry.tracking and self.registry.wouldExceed():
            self.stats.outgoing_refused += 1
            raise AssociationLimitError(
                "max_assocs={} associations are open; not opening one to {}:{}".format(self.registry.maxAssocs, *address)
            )
        return self.registry.connecting(peer or SCTPAddress(address[0], address[1]))

    def _submit(self, assoc: Association, address: Optional[HostPort], data: bytes, params: SendParameters) -> None:
        if self._queues.waiting(assoc):
            self._enqueue(assoc, Outgoing(data, params, address))
            return
        try:
            self._sendOne(assoc, data, params, address)
        except BlockingIOError:
            self.stats.sendq_full += 1
            self._enqueue(assoc, Outgoing(data, params, address))

    def _sendOne(self, assoc: Association, data: bytes, params: SendParameters, address: Optional[HostPort]) -> None:
        """
        One send, on the association when it has a backend id, by address
        otherwise or when the backend finds the association gone.

        @raise BlockingIOError: the backend has no room.
        """
        backend = self.backend
        try:
            if address is None and assoc.assocID:
                try:
                    backend.send(data, params, assoc.assocID)
                except AssociationGoneError:
                    backend.send(data, params, assoc.assocID, assoc.peer.paths()[0])
            else:
                backend.send(data, params, assoc.assocID, address or assoc.peer.paths()[0])
        except BlockingIOError:
            raise
        except OSError:
            self.stats.send_errors += 1
            if assoc.state == AssociationState.CONNECTING and not self._connecting.get(assoc):
                self.registry.failed(assoc, "send_error")
            raise
        size = len(data)
        self.registry.sent(assoc, size, self.readTime)
        self.stats.messages_out += 1
        self.stats.bytes_out += size

    def _enqueue(self, assoc: Association, item: Outgoing) -> None:
        if not self._queues.push(assoc, item, self.maxQueuedMessages, self.maxQueuedBytes):
            self.stats.drop("queue_full")
            raise SendQueueFullError(
                "send queue of association {} is full ({} messages, {} bytes)".format(
                    assoc.id or assoc.assocID, self._queues.count(assoc), self._queues.size(assoc)
                )
            )
        self.stats.queued += 1
        if self._queues.size(assoc) > self.highWaterBytes and assoc.transport is not None:
            assoc.transport._pause()
        self.backend.startWriting()

    def queuedMessages(self, assoc: Association) -> int:
        """
        @return: how many messages wait in C{assoc}'s send queue.
        """
        return self._queues.count(assoc)

    @property
    def _queuedBytes(self) -> Dict[Association, int]:
        # The fault lab watches the queue sizes through this name.
        return self._queues.sizes()

    def writable(self) -> None:
        """
        The backend has room again: drain the per-association queues in
        turn, then resume the pull producers whose writes are all sent and
        shut down the associations whose close waited for that.
        """
        for assoc, queue in self._queues.items():
            while queue:
                item = queue[0]
                try:
                    self._sendOne(assoc, item.data, item.params, item.address)
                except BlockingIOError:
                    return
                except OSError as e:
                    self.stats.drop("association_lost")
                    _log.warn("{prefix} dropping a queued message: {err}", prefix=self.logPrefix(), err=e)
                self._queues.popleft(assoc)
            self._queues.drop(assoc)
            if assoc.transport is not None:
                assoc.transport._resume()
        waiting, self._pullWaiting = self._pullWaiting, []
        for transport in waiting:
            producer = transport.producer
            if producer is not None and not transport.streamingProducer and transport.connected:
                producer.resumeProducing()
        for transport in list(self._closing):
            self._closeIfDrained(transport)
        if not self._queues and not self._pullWaiting and not self._closing:
            self.backend.stopWriting()

    def _pullWrote(self, transport: Any) -> None:
        """
        A transport with a pull producer wrote: resume the producer once
        what it wrote is sent (at the backend's next writable), as
        Twisted's own transports do.
        """
        if transport not in self._pullWaiting:
            self._pullWaiting.append(transport)
        self.backend.startWriting()

    def _closeWhenDrained(self, transport: Any) -> None:
        """
        C{loseConnection}: SHUTDOWN once the association's queue is empty
        and its pull producer, if any, has finished.
        """
        self._closing.add(transport)
        self._closeIfDrained(transport)
        if transport in self._closing:
            self.backend.startWriting()

    def _closeIfDrained(self, transport: Any) -> None:
        assoc = transport.association
        if not transport.connected:
            self._closing.discard(transport)
        elif not self._queues.waiting(assoc) and (transport.producer is None or transport.streamingProducer):
            self._closing.discard(transport)
            self.shutdownAssociation(assoc)

    def _failQueue(self, assoc: Association, reason: str, resend: bool = False) -> None:
        queue = self._queues.drop(assoc)
        if resend:
            # C{assoc} ended (without an error cause) with messages never
            # given to the backend: re-send those with retries left.
            dropped = [item for item in queue if not self._resend(item.data, item.params, item.address or assoc.peer.paths()[0])]
        else:
            dropped = queue
        if dropped:
            self.stats.drop(reason, len(dropped))
            _log.warn("{prefix} {count} queued message(s) of association {id} dropped: {reason}", prefix=self.logPrefix(), count=len(dropped), id=assoc.id, reason=reason)

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


