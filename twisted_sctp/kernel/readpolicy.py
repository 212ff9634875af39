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
one wake-up in L{ReadPolicy.probeEvery} tries again so that a rising load
is seen within a few messages.
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
    @ivar probeEvery: while reading one message per wake-up, every this
        many wake-ups try a second read anyway.
    @ivar skipped: wake-ups since the last second read (while out of credit).
    """

    fullCredit: int = 2
    probeEvery: int = 8
    credit: int = 2
    skipped: int = 0

    def readOn(self) -> bool:
        """
        @return: whether the wake-up that just read its first message should
            try another read.
        """
        if self.credit > 0:
            return True
        self.skipped += 1
        if self.skipped >= self.probeEvery:
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
        elif self.credit > 0:
            self.credit -= 1
