# -*- test-case-name: tests.test_engine_pair -*-
"""
Two engine endpoints wired back to back over a simulated network with a
deterministic clock, for tests: loss, duplication and reordering are
injected by a caller-supplied policy.
"""

from __future__ import annotations

import heapq
import random
from typing import Callable, Dict, List, Optional, Tuple

from twisted_sctp.engine.config import EngineConfig
from twisted_sctp.engine.endpoint import Endpoint
from twisted_sctp.engine.events import Event

#: C{policy(payload, fromName) -> list of extra delays} : an empty list drops
#: the datagram, two entries duplicate it, differing delays reorder.
Policy = Callable[[bytes, str], List[float]]


def perfect(payload: bytes, source: str) -> List[float]:
    """
    The network that delivers everything once after 1 ms.
    """
    return [0.001]


class EnginePair:
    """
    Endpoints C{"a"} (host 10.0.0.1, UDP 9899) and C{"b"} (10.0.0.2, UDP 9900),
    each on SCTP port 5060, and the network between them.

    @ivar events: every event seen, by endpoint name.
    """

    def __init__(
        self,
        config: Optional[EngineConfig] = None,
        configB: Optional[EngineConfig] = None,
        policy: Policy = perfect,
        seed: int = 1,
    ) -> None:
        self.now = 0.0
        self.policy = policy
        self.hosts = {"a": ("10.0.0.1", 9899), "b": ("10.0.0.2", 9900)}
        self.a = Endpoint(5060, config, secret=b"a" * 32, rng=random.Random(seed), defaultUDPPort=9900)
        self.b = Endpoint(5060, configB or config, secret=b"b" * 32, rng=random.Random(seed + 1), defaultUDPPort=9899)
        self.endpoints: Dict[str, Endpoint] = {"a": self.a, "b": self.b}
        self.events: Dict[str, List[Event]] = {"a": [], "b": []}
        self._inFlight: List[Tuple[float, int, str, bytes, str, int]] = []
        self._seq = 0
        self.sent = 0
        self.tap: Optional[Callable[[str, bytes], None]] = None

    def _other(self, name: str) -> str:
        return "b" if name == "a" else "a"

    def collect(self) -> None:
        """
        Move every endpoint's output onto the network and its events into
        L{events}.
        """
        for name, ep in self.endpoints.items():
            for payload, host, port in ep.datagramsToSend():
                self.sent += 1
                if self.tap is not None:
                    self.tap(name, payload)
                target = self._other(name)
                if (host, port) != self.hosts[target]:
                    continue  # addressed elsewhere: lost
                src = self.hosts[name]
                for delay in self.policy(payload, name):
                    self._seq += 1
                    heapq.heappush(self._inFlight, (self.now + delay, self._seq, target, payload, src[0], src[1]))
            while True:
                e = ep.nextEvent()
                if e is None:
                    break
                self.events[name].append(e)

    def step(self) -> bool:
        """
        Advance the clock to the next datagram arrival or timer and process
        it.

        @return: whether anything was left to do.
        """
        self.collect()
        times = [t for t in (ep.nextTimeout() for ep in self.endpoints.values()) if t is not None]
        nextTimer = min(times) if times else None
        nextPacket = self._inFlight[0][0] if self._inFlight else None
        if nextTimer is None and nextPacket is None:
            return False
        if nextPacket is not None and (nextTimer is None or nextPacket <= nextTimer):
            at, _, target, payload, host, port = heapq.heappop(self._inFlight)
            self.now = max(self.now, at)
            self.endpoints[target].receiveDatagram(payload, host, port, self.now)
        else:
            assert nextTimer is not None
            self.now = max(self.now, nextTimer)
            for ep in self.endpoints.values():
                ep.handleTimer(self.now)
        self.collect()
        return True

    def run(self, until: Optional[Callable[[], bool]] = None, limit: float = 600.0, steps: int = 1000000) -> None:
        """
        Step until C{until()} holds, nothing is left, the clock passes
        C{limit} seconds, or C{steps} steps ran.
        """
        for _ in range(steps):
            if until is not None and until():
                return
            if self.now > limit or not self.step():
                return

    def connect(self) -> Tuple[int, int]:
        """
        Associate C{a} to C{b} and run until both are up.

        @return: the association ids on C{a} and on C{b}.
        """
        aid = self.a.connect("10.0.0.2", 5060, self.now)
        self.run(lambda: bool(self.b.associations()) and self.a.associations()[0].sender is not None, limit=self.now + 300)
        bid = self.b.associations()[0].assocID
        return aid, bid
