# -*- test-case-name: tests.test_sipratelimit -*-
"""
Tests for L{twisted_sctp.sip.ratelimit}: the per-source rate limiter and the
per-source warning lines, on a L{task.Clock}.
"""

from __future__ import annotations

from typing import Any, Dict, List

from twisted.internet import task
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.sip.ratelimit import RateLimiter, SourceCounts, SourceWarnings


class RateLimiterTests(SynchronousTestCase):
    """
    L{RateLimiter}.
    """

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.clock.advance(100)

    def test_limit(self) -> None:
        """
        Up to the limit per window pass; the rest are refused and counted;
        another source is not affected.
        """
        limiter = RateLimiter(self.clock, 10, 2.0)
        self.assertEqual(sum(limiter.allow("10.0.0.1") for _ in range(50)), 10)
        self.assertEqual(limiter.limited, 40)
        self.assertTrue(limiter.allow("10.0.0.2"))

    def test_slidingWindow(self) -> None:
        """
        A burst at the end of one window and the start of the next cannot
        pass twice the limit; a source that slows down gets through again.
        """
        limiter = RateLimiter(self.clock, 10, 2.0)
        self.clock.advance(1.9)
        self.assertEqual(sum(limiter.allow("a") for _ in range(10)), 10)
        self.clock.advance(0.2)
        self.assertLessEqual(sum(limiter.allow("a") for _ in range(10)), 2)
        self.clock.advance(4)
        self.assertEqual(sum(limiter.allow("a") for _ in range(5)), 5)

    def test_steadyRateWithinLimit(self) -> None:
        """
        A source at 80% of the limit, steadily, is never refused.
        """
        limiter = RateLimiter(self.clock, 10, 1.0)
        refused = 0
        for _ in range(800):
            refused += not limiter.allow("a")
            self.clock.advance(0.125)
        self.assertEqual(refused, 0)

    def test_boundedMemory(self) -> None:
        """
        However many sources send, at most maxSources are tracked.
        """
        limiter = RateLimiter(self.clock, 5, 1.0, maxSources=1000)
        for i in range(100000):
            limiter.allow("10.{}.{}.{}".format(i >> 16, (i >> 8) & 255, i & 255))
        self.assertEqual((len(limiter), limiter.evicted), (1000, 99000))

    def test_settingsChecked(self) -> None:
        """
        A limit, window or cap that is not positive is refused.
        """
        for args in ((0, 1.0, 1), (1, 0.0, 1), (1, 1.0, 0)):
            self.assertRaises(ValueError, RateLimiter, self.clock, *args)
        self.assertEqual(RateLimiter(self.clock, 1, 0.2).retryAfter, 1)


class SourceCountsTests(SynchronousTestCase):
    """
    L{SourceCounts}.
    """

    def test_countsBounded(self) -> None:
        """
        Counts per source; past maxSources the least recently counted is
        forgotten.
        """
        counts = SourceCounts(maxSources=2)
        self.assertEqual([counts.add(s) for s in "aabac"], [1, 2, 1, 3, 1])
        self.assertEqual((counts.get("a"), counts.get("b"), counts.get("c"), len(counts)), (3, 0, 1, 2))


class SourceWarningsTests(SynchronousTestCase):
    """
    L{SourceWarnings}.
    """

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.events: List[Dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def test_oncePerInterval(self) -> None:
        """
        One line per source per interval.
        """
        warnings = SourceWarnings(self.clock, interval=60)
        self.assertEqual([warnings.warn("a", "flood from {source}") for _ in range(5)], [True, False, False, False, False])
        self.assertTrue(warnings.warn("b", "flood from {source}"))
        self.assertTrue(warnings.warn("a", "another kind from {source}"))
        self.clock.advance(60)
        self.assertTrue(warnings.warn("a", "flood from {source}"))
        self.assertEqual([e["source"] for e in self.events], ["a", "b", "a", "a"])

    def test_burstCap(self) -> None:
        """
        Many sources: at most burst lines per interval, then one line that
        says how many were held back.
        """
        warnings = SourceWarnings(self.clock, interval=60, burst=3, maxSources=10)
        for i in range(50):
            warnings.warn(str(i), "flood from {source}")
        self.assertEqual(len(self.events), 3)
        self.assertEqual(warnings.suppressed, 47)
        self.clock.advance(60)
        warnings.warn("x", "flood from {source}")
        self.assertEqual(self.events[3]["count"], 47)
        self.assertEqual(len(warnings._last), 10)
