# -*- test-case-name: tests.test_counters -*-
"""
The one counter base: a set of named integer counters, read as attributes
or by name, with messages dropped counted by reason, and one flat
C{asDict} for the admin endpoint and the metrics::

    class PortCounters(Counters):
        dropReasons = ("oversize", "queue_full")
        messages_in: int
        messages_out: int

    counters = PortCounters()
    counters.messages_in += 1          # the hot path: a plain attribute
    counters.drop("oversize")
    counters.count("replies_404")      # a counter named at run time
    counters["messages_in"], counters.asDict()

A subclass declares its counters as C{name: int} annotations (in the order
C{asDict} lists them); each starts at 0.  Pure: no I/O, no clock.
"""

from __future__ import annotations

import collections
from typing import ClassVar, Dict, Iterator, Optional, Tuple

__all__ = ["Counters"]


class Counters:
    """
    Named counters.

    @cvar names: the declared counters, in order (from the annotations).
    @cvar dropReasons: the reasons L{drop} accepts, listed by L{asDict} even
        at 0; C{None}: any reason, listed once seen.
    @cvar prefix: put before every name in L{asDict}.
    @ivar drops: messages dropped, by reason.
    """

    names: ClassVar[Tuple[str, ...]] = ()
    dropReasons: ClassVar[Optional[Tuple[str, ...]]] = None
    prefix: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        names = list(cls.names)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if annotation in ("int", int) and name not in names:
                names.append(name)
        cls.names = tuple(names)

    def __init__(self, **values: int) -> None:
        """
        @param values: starting values of declared counters (default 0).
        @raise TypeError: a name that is not a declared counter.
        """
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise TypeError("{} has no counter {}".format(type(self).__name__, ", ".join(unknown)))
        for name in self.names:
            setattr(self, name, values.get(name, 0))
        self.drops: Dict[str, int] = collections.Counter()
        self._extra: Dict[str, int] = collections.Counter()

    def count(self, name: str, count: int = 1) -> None:
        """
        Add C{count} to the counter C{name}, declared or named at run time
        (such as C{replies_404}).
        """
        if name in self.names:
            setattr(self, name, getattr(self, name) + count)
        else:
            self._extra[name] += count

    def drop(self, reason: str, count: int = 1) -> None:
        """
        Count C{count} messages dropped for C{reason}.

        @raise ValueError: C{reason} is not one of L{dropReasons}.
        """
        if self.dropReasons is not None and reason not in self.dropReasons:
            raise ValueError("unknown drop reason {!r}".format(reason))
        self.drops[reason] += count

    def __getitem__(self, name: str) -> int:
        """
        @return: the counter C{name} (0 for one never counted).
        """
        if name in self.names:
            return int(getattr(self, name))
        return self._extra.get(name, 0)

    def __iter__(self) -> Iterator[str]:
        """@return: the names of the counters, as in L{asDict} (without prefix)."""
        return iter(self._items())

    def _items(self) -> Dict[str, int]:
        out = {name: getattr(self, name) for name in self.names}
        for name in sorted(self._extra):
            out[name] = self._extra[name]
        reasons = self.dropReasons if self.dropReasons is not None else sorted(self.drops)
        for reason in reasons:
            out["drop_" + reason] = self.drops.get(reason, 0)
        return out

    def asDict(self) -> Dict[str, int]:
        """
        @return: every counter by name (with L{prefix}): the declared ones in
            order, then those named at run time, then drops as
            C{drop_<reason>}.
        """
        prefix = self.prefix
        return {prefix + name: value for name, value in self._items().items()}

    def __repr__(self) -> str:
        return "{}({})".format(type(self).__name__, ", ".join("{}={}".format(k, v) for k, v in self._items().items() if v))
