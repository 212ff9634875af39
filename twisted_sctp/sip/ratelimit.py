# -*- test-case-name: tests.test_sipratelimit -*-
"""
Per-source request rate limiting (Kamailio's C{pike}) and per-source
warning lines, both with bounded memory however many sources send.

Pure logic: time comes from an injected L{IReactorTime}.

L{RateLimiter} estimates each source's rate over a sliding window (the
count of the current fixed window plus the previous window's count weighted
by how much of it still overlaps), so a burst at a window edge cannot pass
twice the limit.  It tracks at most C{maxSources} sources, forgetting the
least recently seen one when full.
"""

from __future__ import annotations

import collections
from typing import Any, List, Optional, Tuple

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

__all__ = ["RateLimiter", "SourceCounts", "SourceWarnings"]

_log = Logger()


class RateLimiter:
    """
    At most C{limit} requests per C{window} seconds from each source.

    @ivar limited: requests refused, in all.
    @ivar evicted: sources forgotten to stay within C{maxSources}.
    """

    def __init__(self, clock: IReactorTime, limit: int, window: float = 2.0, maxSources: int = 16384) -> None:
        if limit < 1 or window <= 0 or maxSources < 1:
            raise ValueError("rate limit, window and source cap must be positive")
        self._clock = clock
        self.limit = limit
        self.window = window
        self.maxSources = maxSources
        # source -> [window start, count in this window, count in the previous one]
        self._sources: collections.OrderedDict[str, List[float]] = collections.OrderedDict()
        self.limited = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._sources)

    def allow(self, source: str) -> bool:
        """
        Count one request from C{source}.

        @return: whether it is within the limit (a refused request counts
            towards the rate too: a source must slow down to get through).
        """
        now = self._clock.seconds()
        entry = self._sources.get(source)
        if entry is None:
            while len(self._sources) >= self.maxSources:
                self._sources.popitem(last=False)
                self.evicted += 1
            entry = self._sources[source] = [now - now % self.window, 0.0, 0.0]
        else:
            self._sources.move_to_end(source)
        start = now - now % self.window
        if start != entry[0]:
            entry[2] = entry[1] if start - entry[0] == self.window else 0.0
            entry[0], entry[1] = start, 0.0
        entry[1] += 1
        overlap = 1.0 - (now - start) / self.window
        if entry[1] + entry[2] * overlap > self.limit:
            self.limited += 1
            return False
        return True

    @property
    def retryAfter(self) -> int:
        """Seconds for a 503's Retry-After: one window, at least 1."""
        return max(1, int(round(self.window)))


class SourceCounts:
    """
    A count per source (such as failed authentications), for at most
    C{maxSources} sources: the least recently counted is forgotten.
    """

    def __init__(self, maxSources: int = 4096) -> None:
        self.maxSources = maxSources
        self._counts: collections.OrderedDict[str, int] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, source: str) -> int:
        """Count one for C{source}. @return: its count now."""
        count = self._counts.pop(source, 0) + 1
        self._counts[source] = count
        while len(self._counts) > self.maxSources:
            self._counts.popitem(last=False)
        return count

    def get(self, source: str) -> int:
        """@return: the count of C{source} (0 if forgotten or never counted)."""
        return self._counts.get(source, 0)


class SourceWarnings:
    """
    One warning line per kind (format string) per source per C{interval}
    seconds (at most C{maxSources} of them remembered), and at most C{burst}
    lines per interval in all: the rest are counted and summed up in one
    line.
    """

    def __init__(self, clock: IReactorTime, interval: float = 60.0, burst: int = 20, maxSources: int = 4096) -> None:
        self._clock = clock
        self.interval = interval
        self.burst = burst
        self.maxSources = maxSources
        self._last: collections.OrderedDict[Tuple[str, str], float] = collections.OrderedDict()
        self._periodStart: Optional[float] = None
        self._lines = 0
        self.suppressed = 0

    def warn(self, source: str, text: str, **fields: Any) -> bool:
        """
        Log C{text} (a L{Logger} format string) for C{source} unless it was
        warned about less than C{interval} seconds ago.

        @return: whether a line was logged.
        """
        now = self._clock.seconds()
        key = (text, source)
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        if self._periodStart is None or now - self._periodStart >= self.interval:
            if self.suppressed:
                _log.warn("{count} more security warnings were suppressed in the last {interval:.0f}s", count=self.suppressed, interval=self.interval)
            self._periodStart, self._lines, self.suppressed = now, 0, 0
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.maxSources:
            self._last.popitem(last=False)
        self._lines += 1
        if self._lines > self.burst:
            self.suppressed += 1
            return False
        _log.warn(text, source=source, **fields)
        return True
