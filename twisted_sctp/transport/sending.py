# -*- test-case-name: tests.test_layer -*-
"""
The sending half of the association layer (L{Sender}), and its
per-association send queues (L{SendQueues}): messages a backend could not
take yet (it raised C{BlockingIOError}), kept in order with their send
parameters, bounded in messages and bytes.
"""

from __future__ import annotations

import collections
from typing import Any, Deque, Dict, Iterator, List, Optional, Set, Tuple, Union

import attrs

from twisted.internet import error as ierror
from twisted.logger import Logger

from twisted_sctp.error import AssociationLimitError, SendQueueFullError, UnknownAssociationError
from twisted_sctp.transport.address import HostPort, SCTPAddress, normalizeHost
from twisted_sctp.transport.backend import AssociationGoneError, ISCTPBackend
from twisted_sctp.transport.events import SendParameters
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.registry import Association, AssociationRegistry, AssociationState
from twisted_sctp.transport.stats import SCTPStats

#: The largest caller's context: the kernel backend keeps send_retries in
#: the top bits of the 32-bit context.
MAX_CONTEXT = (1 << 28) - 1

#: How many send parameters a layer keeps (it starts afresh when full).
_PARAMS_CACHE_SIZE = 4096

Target = Union[Association, int, SCTPAddress, HostPort]

_log = Logger()


@attrs.define
class Outgoing:
    """
    One queued message.

    @ivar address: the peer address to send it to, or C{None} to send it on
        its association.
    """

    data: bytes
    params: SendParameters
    address: Optional[HostPort]


class SendQueues:
    """
    One FIFO of L{Outgoing} per association, with its size in bytes.
    """

    def __init__(self) -> None:
        self._queues: Dict[Association, Deque[Outgoing]] = {}
        self._bytes: Dict[Association, int] = {}

    def __bool__(self) -> bool:
        return bool(self._queues)

    def waiting(self, assoc: Association) -> bool:
        """
        @return: whether C{assoc} has messages queued.
        """
        return assoc in self._queues

    def count(self, assoc: Association) -> int:
        """
        @return: how many messages C{assoc} has queued.
        """
        return len(self._queues.get(assoc, ()))

    def size(self, assoc: Association) -> int:
        """
        @return: how many bytes C{assoc} has queued.
        """
        return self._bytes.get(assoc, 0)

    def sizes(self) -> Dict[Association, int]:
        """
        @return: the bytes queued by association (the queues' own mapping:
            do not change it).
        """
        return self._bytes

    def push(self, assoc: Association, item: Outgoing, maxMessages: int, maxBytes: int) -> bool:
        """
        Queue C{item} behind C{assoc}'s other messages.

        @return: C{False} (nothing queued) when that would pass a bound.
        """
        queue = self._queues.get(assoc)
        size = self._bytes.get(assoc, 0)
        if (len(queue) if queue else 0) >= maxMessages or size + len(item.data) > maxBytes:
            return False
        if queue is None:
            queue = self._queues[assoc] = collections.deque()
        queue.append(item)
        self._bytes[assoc] = size + len(item.data)
        return True

    def items(self) -> Iterator[Tuple[Association, Deque[Outgoing]]]:
        """
        @return: every association with its queue (a snapshot: the caller
            may pop and drop while going through it).
        """
        return iter(list(self._queues.items()))

    def popleft(self, assoc: Association) -> None:
        """
        Remove the first message of C{assoc}'s queue (it was sent or dropped).
        """
        queue = self._queues[assoc]
        item = queue.popleft()
        self._bytes[assoc] -= len(item.data)

    def drop(self, assoc: Association) -> List[Outgoing]:
        """
        Forget C{assoc}'s queue.

        @return: what was in it.
        """
        self._bytes.pop(assoc, None)
        return list(self._queues.pop(assoc, ()))


class Sender:
    """
    The sending half of L{twisted_sctp.transport.layer.AssociationLayer}:
    targets resolved to associations (within C{max_assocs}), sends through
    the backend, the queues and the producers' backpressure, the retry
    policy's one re-send, and closes that wait for the queue.

    @ivar maxQueuedMessages: per-association send queue bound (messages).
    @ivar maxQueuedBytes: per-association send queue bound (bytes).
    @ivar highWaterBytes: queued bytes above which the protocol's streaming
        producer is paused (resumed once the queue is empty).
    @ivar windowCheckBytes: bytes handed to the backend for one
        association between two looks at its send window (the backend's
        C{sendWindow}: the peer's receive window and our unacknowledged
        DATA chunks, C{SCTP_STATUS}, a system call), at least.  Where the
        last look found the peer's window open wider, the next look comes
        after half of it (up to L{windowCheckMaxBytes}): only our own data
        can close that window, so it is still at least half open by then,
        and the looks come closer together as it closes.  An association whose peer's window
        is closed with data outstanding is I{held}: its messages wait in
        our queue (bounded, L{maxQueuedBytes}; beyond it sends fail and are
        counted as C{drop_queue_full}) instead of filling the kernel's send
        buffer, which a one-to-many socket shares between all its
        associations (C{net.sctp.sndbuf_policy=0}).  Counted as C{held}.
    @ivar holdRecheck: seconds between looks at a held association's window.
    @ivar stallAbortAfter: seconds an association may stay held before it
        is ABORTed (counted as C{stalled_aborted}); 0: never.
    """

    maxQueuedMessages = 10000
    maxQueuedBytes = 8 << 20
    highWaterBytes = 256 << 10
    windowCheckBytes = 16 << 10
    windowCheckMaxBytes = 256 << 10
    holdRecheck = 0.1
    stallAbortAfter = 30.0

    backend: ISCTPBackend
    registry: AssociationRegistry
    stats: SCTPStats
    options: SCTPOptions
    connected: bool
    readTime: Optional[float]
    _connecting: Dict[Association, List[Any]]
    _reactor: Any

    def __init__(self) -> None:
        self._queues = SendQueues()
        #: Transports with a pull producer that wrote: resumed once drained.
        self._pullWaiting: List[Any] = []
        #: Transports whose loseConnection waits for their queue or producer.
        self._closing: Set[Any] = set()
        self._params: Dict[Tuple[int, int, bool, int, int, int], SendParameters] = {}
        #: Bytes each association may hand to the backend before the next
        #: look at its window (L{windowCheckBytes} where absent).
        self._untilCheck: Dict[Association, int] = {}
        #: Held associations (peer window closed), with when they were held.
        self._held: Dict[Association, float] = {}
        self._holdTimer: Any = None

    def logPrefix(self) -> str:
        raise NotImplementedError()

    def abortAssociation(self, assoc: Association, reason: bytes = b"") -> None:
        raise NotImplementedError()

    def shutdownAssociation(self, assoc: Association) -> None:
        raise NotImplementedError()

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
        @param ttl: C{None} for the C{send_ttl} option.
        @param retries: C{None} for the C{send_retries} option.
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
        if assoc in self._held and not self._release(assoc):
            self._enqueue(assoc, Outgoing(data, params, address))
            return
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
        if assoc.assocID:
            left = self._untilCheck.get(assoc, self.windowCheckBytes) - size
            if left <= 0:
                left = self._lookAtWindow(assoc)
            self._untilCheck[assoc] = left

    # -- holding an association whose peer does not read -------------------

    def _window(self, assoc: Association) -> Optional[Tuple[int, int]]:
        """
        @return: C{assoc}'s peer's receive window and our DATA chunks
            outstanding (the backend's C{sendWindow}), or C{None} where the
            backend cannot say.
        """
        look = getattr(self.backend, "sendWindow", None)
        return look(assoc.assocID) if look is not None and assoc.assocID else None

    def _stalled(self, assoc: Association) -> bool:
        """
        @return: whether C{assoc}'s peer has closed its receive window
            while we have data outstanding (C{False} where the backend
            cannot say).
        """
        window = self._window(assoc)
        return window is not None and window[0] == 0 and window[1] > 0

    def _lookAtWindow(self, assoc: Association) -> int:
        """
        Look at C{assoc}'s send window and hold it if its peer has closed it.

        @return: the bytes to hand to the backend before the next look.
        """
        window = self._window(assoc)
        if window is None:
            return self.windowCheckBytes
        if window[0] == 0 and window[1] > 0:
            self._hold(assoc)
            return self.windowCheckBytes
        return min(max(self.windowCheckBytes, window[0] // 2), self.windowCheckMaxBytes)

    def _hold(self, assoc: Association) -> None:
        if assoc in self._held:
            return
        self._held[assoc] = self._reactor.seconds()
        self.stats.count("held")
        if self._holdTimer is None or not self._holdTimer.active():
            self._holdTimer = self._reactor.callLater(self.holdRecheck, self._recheckHeld)

    def _release(self, assoc: Association) -> bool:
        """
        Look at a held association's window again.

        @return: whether it was released (its peer reads again).
        """
        if self._stalled(assoc):
            return False
        del self._held[assoc]
        self._untilCheck.pop(assoc, None)
        if self._queues.waiting(assoc):
            self.backend.startWriting()
        return True

    def _recheckHeld(self) -> None:
        self._holdTimer = None
        now = self._reactor.seconds()
        for assoc, since in list(self._held.items()):
            if self._release(assoc):
                continue
            if self.stallAbortAfter and now - since >= self.stallAbortAfter:
                self.stats.count("stalled_aborted")
                _log.warn(
                    "{prefix} aborting association {id}: its peer has not read for {seconds:.0f} s ({queued} messages queued)",
                    prefix=self.logPrefix(),
                    id=assoc.id or assoc.assocID,
                    seconds=now - since,
                    queued=self._queues.count(assoc),
                )
                self._held.pop(assoc, None)
                self.abortAssociation(assoc, b"peer not reading")
        if self._held:
            self._holdTimer = self._reactor.callLater(self.holdRecheck, self._recheckHeld)

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

        A backend with a buffer per association (C{perAssociationBuffers},
        one-to-one sockets) has the other associations drained past a full
        one; over a shared buffer the first full one stops the drain.
        """
        perAssociation = getattr(self.backend, "perAssociationBuffers", False)
        blocked = False
        for assoc, queue in self._queues.items():
            # A held association waits (its peer does not read); the others
            # go on, and so does the loop after one that has no room (with
            # sndbuf_policy=1, or one-to-one sockets, room is per association).
            while queue and assoc not in self._held:
                item = queue[0]
                try:
                    self._sendOne(assoc, item.data, item.params, item.address)
                except BlockingIOError:
                    blocked = True
                    break
                except OSError as e:
                    self.stats.drop("association_lost")
                    _log.warn("{prefix} dropping a queued message: {err}", prefix=self.logPrefix(), err=e)
                self._queues.popleft(assoc)
            if queue:
                continue
            self._queues.drop(assoc)
            if assoc.transport is not None:
                assoc.transport._resume()
        if blocked and not perAssociation:
            return
        waiting, self._pullWaiting = self._pullWaiting, []
        for transport in waiting:
            if self._queues.waiting(transport.association):
                # Its association's buffer is still full (per-association
                # buffers only): what it wrote is not sent yet.
                self._pullWaiting.append(transport)
                continue
            producer = transport.producer
            if producer is not None and not transport.streamingProducer and transport.connected:
                producer.resumeProducing()
        for transport in list(self._closing):
            self._closeIfDrained(transport)
        # A close still waiting needs no wake-up of its own: its queue keeps
        # writing on, its producer's next write or unregisterProducer
        # checks it again.
        if not self._pullWaiting and all(assoc in self._held for assoc, _ in self._queues.items()):
            # Nothing to write but held queues: their re-check wakes us.
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

    def _closeIfDrained(self, transport: Any) -> None:
        assoc = transport.association
        if not transport.connected:
            self._closing.discard(transport)
        elif not self._queues.waiting(assoc) and (transport.producer is None or transport.streamingProducer):
            self._closing.discard(transport)
            self.shutdownAssociation(assoc)

    def _failQueue(self, assoc: Association, reason: str, resend: bool = False) -> None:
        self._held.pop(assoc, None)
        self._untilCheck.pop(assoc, None)
        if not self._held and self._holdTimer is not None and self._holdTimer.active():
            self._holdTimer.cancel()
            self._holdTimer = None
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

