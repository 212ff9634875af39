# -*- test-case-name: tests.test_engine_backend -*-
"""
C{autoclose} for the engine backend: associations idle (nothing sent or
received) for C{seconds} are shut down gracefully, as Linux's
C{SCTP_AUTOCLOSE} does.  One reactor timer, armed at the earliest
deadline; a message costs one dict store.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional


class IdleCloser:
    """
    @ivar seconds: the idle time before an association is closed (0: never).
    """

    def __init__(self, clock: Any, seconds: int, close: Callable[[int], None]) -> None:
        self._clock = clock
        self.seconds = seconds
        self._close = close
        self._last: Dict[int, float] = {}
        self._timer: Optional[Any] = None

    def touch(self, assocID: int, now: float) -> None:
        """
        Association C{assocID} was active at C{now}.
        """
        if self.seconds:
            self._last[assocID] = now
            if self._timer is None:
                self._timer = self._clock.callLater(self.seconds, self._fire)

    def forget(self, assocID: int) -> None:
        """
        Association C{assocID} ended.
        """
        self._last.pop(assocID, None)

    def setSeconds(self, seconds: int) -> None:
        """
        Change the idle time (for what is active from now on).
        """
        self.seconds = seconds
        self.stop()
        if seconds and self._last:
            now = self._clock.seconds()
            for assocID in self._last:
                self._last[assocID] = now
            self._timer = self._clock.callLater(seconds, self._fire)

    def stop(self) -> None:
        """
        Cancel the timer.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.seconds()
        idle = [a for a, t in self._last.items() if t + self.seconds <= now + 0.001]
        for assocID in idle:
            del self._last[assocID]
            self._close(assocID)
        if self._last and self.seconds:
            earliest = min(self._last.values())
            self._timer = self._clock.callLater(max(0.0, earliest + self.seconds - now), self._fire)
