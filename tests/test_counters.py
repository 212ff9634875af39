# -*- test-case-name: tests.test_counters -*-
"""
Tests for L{twisted_sctp.counters}, the one counter base.
"""

from __future__ import annotations

from typing import ClassVar

from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.counters import Counters


class Sample(Counters):
    """Two declared counters and restricted drop reasons."""

    dropReasons = ("full", "late")
    note: ClassVar[str] = "a class variable is not a counter"

    first: int
    second: int


class Open(Counters):
    """Any drop reason; a prefix."""

    prefix = "x_"

    only: int


class Derived(Sample):
    """A subclass adds its own after its parent's."""

    third: int


class CountersTests(SynchronousTestCase):
    """
    L{Counters}: declared counters as attributes, counters named at run
    time, drops by reason, one flat C{asDict}.
    """

    def test_declaredStartAtZero(self) -> None:
        """
        Each C{name: int} annotation is a counter, in order, starting at 0;
        a class variable is not one.
        """
        counters = Sample()
        self.assertEqual(Sample.names, ("first", "second"))
        self.assertEqual((counters.first, counters.second), (0, 0))
        self.assertEqual(Derived.names, ("first", "second", "third"))

    def test_startingValues(self) -> None:
        """
        Keyword arguments give starting values; an unknown name is refused.
        """
        self.assertEqual(Sample(first=3).first, 3)
        e = self.assertRaises(TypeError, Sample, third=1)
        self.assertIn("third", str(e))

    def test_attributesAndItems(self) -> None:
        """
        A counter incremented as an attribute reads the same by name;
        C{count} adds to a declared counter or to one named at run time;
        a name never counted reads 0.
        """
        counters = Sample()
        counters.first += 2
        counters.count("second", 5)
        counters.count("replies_404")
        self.assertEqual((counters["first"], counters.second, counters["replies_404"]), (2, 5, 1))
        self.assertEqual(counters["never"], 0)

    def test_dropReasons(self) -> None:
        """
        C{drop} counts by reason; a restricted set refuses other reasons,
        naming them, and counts nothing.
        """
        counters = Sample()
        counters.drop("full")
        counters.drop("full", 2)
        self.assertEqual(counters.drops["full"], 3)
        e = self.assertRaises(ValueError, counters.drop, "because")
        self.assertIn("'because'", str(e))
        self.assertNotIn("because", counters.drops)
        free = Open()
        free.drop("anything")
        self.assertEqual(free.drops["anything"], 1)

    def test_asDict(self) -> None:
        """
        C{asDict}: declared counters in order, then run-time ones sorted,
        then drops as C{drop_<reason>}: every restricted reason (0 if never
        counted), or the reasons seen; with the prefix.
        """
        counters = Sample(second=4)
        counters.count("zeta")
        counters.count("alpha", 2)
        counters.drop("late")
        self.assertEqual(list(counters.asDict().items()), [
            ("first", 0), ("second", 4), ("alpha", 2), ("zeta", 1), ("drop_full", 0), ("drop_late", 1),
        ])
        self.assertEqual(list(counters), list(counters.asDict()))
        free = Open()
        self.assertEqual(free.asDict(), {"x_only": 0})
        free.drop("b")
        free.drop("a")
        self.assertEqual(list(free.asDict()), ["x_only", "x_drop_a", "x_drop_b"])

    def test_instancesIndependent(self) -> None:
        """
        Two instances do not share counts (nor drops).
        """
        one, two = Sample(), Sample()
        one.first += 1
        one.drop("full")
        one.count("extra")
        self.assertEqual((two.first, two["extra"], dict(two.drops)), (0, 0, {}))

    def test_repr(self) -> None:
        """
        The repr names the counters that are not 0.
        """
        counters = Sample(first=1)
        self.assertEqual(repr(counters), "Sample(first=1)")


