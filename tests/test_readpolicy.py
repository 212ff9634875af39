# -*- test-case-name: tests.test_readpolicy -*-
"""
Tests for L{twisted_sctp.kernel.readpolicy}.
"""

from __future__ import annotations

from typing import List

from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.kernel.readpolicy import ReadPolicy


def wakeups(policy: ReadPolicy, waiting: List[int]) -> List[bool]:
    """
    Play wake-ups that each find C{waiting[i]} messages (at least one): a
    second read finds a message when more than one was waiting.

    @return: for each wake-up, whether it read on after its first message.
    """
    decisions = []
    for count in waiting:
        readOn = policy.readOn()
        decisions.append(readOn)
        if readOn:
            policy.found(count > 1)
    return decisions


class ReadPolicyTests(SynchronousTestCase):
    def test_startsReadingOn(self) -> None:
        """
        A new policy reads on: the first wake-ups of a port drain the socket.
        """
        self.assertTrue(ReadPolicy().readOn())

    def test_emptySecondReadsStopIt(self) -> None:
        """
        After C{fullCredit} second reads in a row that find nothing, a
        wake-up stops at its first message.
        """
        policy = ReadPolicy()
        self.assertEqual(wakeups(policy, [1, 1, 1, 1]), [True, True, False, False])

    def test_probesEveryNthWakeup(self) -> None:
        """
        While stopping at one message, every C{probeEvery}-th wake-up tries a
        second read anyway: one empty read in eight wake-ups at low load.
        """
        policy = ReadPolicy(credit=0)
        decisions = wakeups(policy, [1] * 24)
        self.assertEqual([i for i, d in enumerate(decisions) if d], [7, 15, 23])

    def test_backlogSeenAtTheNextProbe(self) -> None:
        """
        When messages start to queue up, the next probe finds one and the
        policy reads on from then on; a second read that finds a message
        restores the full credit.
        """
        policy = ReadPolicy(credit=0)
        decisions = wakeups(policy, [3] * 12)
        self.assertEqual(decisions, [False] * 7 + [True] * 5)
        self.assertEqual((policy.credit, policy.skipped), (policy.fullCredit, 0))

    def test_oneFoundResetsCredit(self) -> None:
        """
        A message found by a second read tops the credit up, so that one
        empty read in a busy period does not stop the draining.
        """
        policy = ReadPolicy()
        self.assertEqual(wakeups(policy, [1, 2, 1, 2, 1, 1, 1]), [True] * 6 + [False])
