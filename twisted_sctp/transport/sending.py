# -*- test-case-name: tests.test_layer -*-
"""
The per-association send queues of the association layer: messages a
backend could not take yet (it raised C{BlockingIOError}), kept in order
with their send parameters, bounded in messages and bytes.  Pure data.
"""

from __future__ import annotations

import collections
from typing import Deque, Dict, Iterator, List, Optional, Tuple

import attrs

from twisted_sctp.transport.address import HostPort
from twisted_sctp.transport.events import SendParameters
from twisted_sctp.transport.registry import Association


@attrs.define
class Outgoing:
    """
    One queued message.

    @ivar address: the peer address to send it to, or L{None} to send it on
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
