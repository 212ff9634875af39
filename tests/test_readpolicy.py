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

    def test_probesBackOff(self) -> None:
        """
        While stopping at one message, a probe tries a second read after
        C{probeEvery} wake-ups; each that finds nothing doubles the gap to
        the next, up to C{maxProbeEvery}, where it stays.
        """
        policy = ReadPolicy(credit=0)
        decisions = wakeups(policy, [1] * 1000)
        probes = [i for i, d in enumerate(decisions) if d]
        gaps = [b - a for a, b in zip([-1] + probes, probes)]
        self.assertEqual(gaps, [8, 16, 32, 64] + [128] * 6)
        self.assertEqual(policy.interval, policy.maxProbeEvery)

    def test_lowLoadProbeRate(self) -> None:
        """
        At a steady one message per wake-up, from a fresh policy, the empty
        second reads fall to one in C{maxProbeEvery} wake-ups: the two of
        the start-up credit and the back-off's few, then one per 128.
        """
        policy = ReadPolicy()
        decisions = wakeups(policy, [1] * 10000)
        self.assertEqual(sum(decisions), 2 + 4 + (10000 - 2 - 8 - 16 - 32 - 64) // 128)
        self.assertLess(sum(decisions[-1280:]), 11)

    def test_foundResetsTheGap(self) -> None:
        """
        A probe that finds a message brings the next probe back to
        C{probeEvery} wake-ups after the credit it gives runs out.
        """
        policy = ReadPolicy(credit=0)
        wakeups(policy, [1] * 500)
        self.assertEqual(policy.interval, 128)
        # The next probe (within 128 wake-ups) finds a queued message.
        decisions = wakeups(policy, [2] * 128)
        self.assertEqual(policy.interval, policy.probeEvery)
        first = decisions.index(True)
        self.assertEqual(decisions[first:], [True] * (128 - first))
        # Then one message per wake-up again: two empty reads use up the
        # credit, and the probes start over at eight.
        decisions = wakeups(policy, [1] * 40)
        self.assertEqual([i for i, d in enumerate(decisions) if d], [0, 1, 9, 25])

    def test_configurable(self) -> None:
        """
        The first gap and the longest are settings; a first gap longer than
        the longest, or under one, is refused.
        """
        policy = ReadPolicy(credit=0, probeEvery=2, maxProbeEvery=4)
        decisions = wakeups(policy, [1] * 20)
        self.assertEqual([i for i, d in enumerate(decisions) if d], [1, 5, 9, 13, 17])
        self.assertRaises(ValueError, ReadPolicy, probeEvery=0)
        self.assertRaises(ValueError, ReadPolicy, probeEvery=16, maxProbeEvery=8)

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
