# -*- test-case-name: tests.test_readpolicy -*-
"""
When a wake-up of the port should read again after its first message.

Reading until C{EAGAIN} costs one empty C{recvmsg} per wake-up: at low
load, where each wake-up finds one message, that is one system call per
message for nothing.  Stopping after one message costs, under a backlog,
one more C{epoll_wait} and reactor iteration per message (the socket stays
readable, so nothing is lost either way).  L{ReadPolicy} learns which case
holds from the second reads themselves: a second read that finds a message
keeps the port reading on; second reads that find nothing stop it, and
a probe every so many wake-ups tries again so that a rising load is seen.
The probes back off: each that finds nothing doubles the wake-ups to the
next one, from L{ReadPolicy.probeEvery} up to L{ReadPolicy.maxProbeEvery},
so that a steady low load pays one empty read in C{maxProbeEvery}
messages; a probe that finds a message starts over at C{probeEvery} (and
the port reads on).  A notification read ahead of data (C{COMM_UP} with
the first request bundled behind it) says nothing about load and does not
reset the gap: a new association per call would otherwise bring back one
probe in C{probeEvery}.
"""

from __future__ import annotations

import attrs


@attrs.define
class ReadPolicy:
    """
    Decides, after a wake-up's first message, whether to read on.

    @ivar credit: second reads left to try before stopping at one message
        per wake-up; set to L{fullCredit} whenever one finds a message.
    @ivar fullCredit: the credit after a second read that found a message:
        this many empty second reads in a row switch to one read per wake-up.
    @ivar probeEvery: while reading one message per wake-up, the first
        probe comes after this many wake-ups.
    @ivar maxProbeEvery: the longest gap between probes: each probe that
        finds nothing doubles the gap, up to this.
    @ivar interval: the wake-ups from the last probe to the next one.
    @ivar skipped: wake-ups since the last second read (while out of credit).
    """

    fullCredit: int = 2
    probeEvery: int = 8
    maxProbeEvery: int = 128
    credit: int = 2
    skipped: int = 0
    interval: int = attrs.field(default=attrs.Factory(lambda self: self.probeEvery, takes_self=True))

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.probeEvery <= self.maxProbeEvery:
            raise ValueError(f"need 1 <= probeEvery ({self.probeEvery}) <= maxProbeEvery ({self.maxProbeEvery})")

    def readOn(self) -> bool:
        """
        @return: whether the wake-up that just read its first message should
            try another read.
        """
        if self.credit > 0:
            return True
        self.skipped += 1
        if self.skipped >= self.interval:
            self.skipped = 0
            return True
        return False

    def found(self, message: bool) -> None:
        """
        Record what the second read of a wake-up found.

        @param message: C{True} if it got a message, C{False} for C{EAGAIN}.
        """
        if message:
            self.credit = self.fullCredit
            self.skipped = 0
            self.interval = self.probeEvery
        elif self.credit > 0:
            self.credit -= 1
        else:
            self.interval = min(self.interval * 2, self.maxProbeEvery)
