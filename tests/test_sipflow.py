# -*- test-case-name: tests.test_sipflow -*-
"""
Tests for L{twisted_sctp.sip.flow}: branches, tags and flow tokens.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.sipsamples import INVITE, OPTIONS
from twisted_sctp.sip.flow import BRANCH_MAGIC, ViaSeal, branchFor, decodeFlowToken, encodeFlowToken, newBranch, newTag, replyTag, stableTag
from twisted_sctp.sip.message import SIPRequest
from twisted_sctp.sip.parser import parseMessage


class BranchAndTagTests(SynchronousTestCase):
    """
    Branches and tags.
    """

    def test_newBranchAndTag(self) -> None:
        """
        Branches carry the RFC 3261 magic cookie and random hex; tags are
        random hex.
        """
        branch = newBranch()
        self.assertTrue(branch.startswith("z9hG4bK"))
        int(branch[7:], 16)
        self.assertNotEqual(branch, newBranch())
        self.assertEqual(newBranch(lambda n: b"\x01" * n), "z9hG4bK" + "01" * 16)
        self.assertEqual(newTag(lambda n: b"\xab" * n), "ab" * 8)

    def test_branchForMatchesCancel(self) -> None:
        """
        C{branchFor} is the same for an INVITE and its CANCEL (RFC 3261
        16.11), differs for another transaction, and is an RFC 3261 branch.
        """
        invite = parseMessage(INVITE)
        cancel = parseMessage(INVITE.replace(b"INVITE sip:", b"CANCEL sip:").replace(b"314159 INVITE", b"314159 CANCEL"))
        other = parseMessage(INVITE.replace(b"314159 INVITE", b"314160 INVITE"))
        assert isinstance(invite, SIPRequest) and isinstance(cancel, SIPRequest) and isinstance(other, SIPRequest)
        self.assertEqual(branchFor(invite), branchFor(cancel))
        self.assertNotEqual(branchFor(invite), branchFor(other))
        self.assertTrue(branchFor(invite).startswith(BRANCH_MAGIC))

    def test_replyTagStable(self) -> None:
        """
        C{replyTag} is the same for a retransmission and differs with the
        Call-ID.
        """
        first, again = parseMessage(OPTIONS), parseMessage(OPTIONS)
        other = parseMessage(OPTIONS.replace(b"Call-ID: a84b4c76e66710", b"Call-ID: other"))
        assert isinstance(first, SIPRequest) and isinstance(again, SIPRequest) and isinstance(other, SIPRequest)
        self.assertEqual(replyTag(first), replyTag(again))
        self.assertNotEqual(replyTag(first), replyTag(other))
        self.assertEqual(len(replyTag(first)), 16)


class FlowTokenTests(SynchronousTestCase):
    """
    The ;i= token of our Via.
    """

    def test_kamailioEncoding(self) -> None:
        """
        The id is lower-case hex, least significant nibble first, as
        Kamailio writes it; a listener other than the first is appended.
        """
        self.assertEqual(encodeFlowToken(26), "a1")
        self.assertEqual(encodeFlowToken(1), "1")
        self.assertEqual(encodeFlowToken(0x1234, 2), "4321.2")
        self.assertEqual(decodeFlowToken("a1"), (26, 0))
        self.assertEqual(decodeFlowToken("4321.2"), (0x1234, 2))

    def test_badTokens(self) -> None:
        """
        Anything else decodes to None.
        """
        for text in (None, "", "zz", "0", "a1.x", "a1.-1", "f" * 30):
            self.assertIsNone(decodeFlowToken(text), text)

    def test_stableTag(self) -> None:
        """
        The same inputs give the same tag; different ones differ.
        """
        self.assertEqual(stableTag("b", "c"), stableTag("b", "c"))
        self.assertNotEqual(stableTag("b", "c"), stableTag("b", "d"))
        self.assertEqual(len(stableTag(None)), 16)


class ViaSealTests(SynchronousTestCase):
    """
    L{ViaSeal}: an HMAC over branch, flow token and next hop.
    """

    def test_verifies(self) -> None:
        """
        A seal verifies for the branch, token, transport and host it was
        made for, and for none other; another key does not verify it; two
        seals from one shared secret agree.
        """
        seal = ViaSeal(b"k" * 32)
        value = seal.seal("z9hG4bKts1", "a1", "SCTP", "10.0.0.2")
        self.assertEqual(len(value), 20)
        self.assertTrue(seal.verify(value, "z9hG4bKts1", "a1", "sctp", ["10.0.0.9", "10.0.0.2"]))
        for branch, token, transport, host in (("z9hG4bKts2", "a1", "SCTP", "10.0.0.2"), ("z9hG4bKts1", "b1", "SCTP", "10.0.0.2"),
                                               ("z9hG4bKts1", None, "SCTP", "10.0.0.2"), ("z9hG4bKts1", "a1", "UDP", "10.0.0.2"),
                                               ("z9hG4bKts1", "a1", "SCTP", "10.0.0.3")):
            self.assertFalse(seal.verify(value, branch, token, transport, [host]))
        self.assertFalse(seal.verify(None, "z9hG4bKts1", "a1", "SCTP", ["10.0.0.2"]))
        self.assertFalse(seal.verify(value[:-1], "z9hG4bKts1", "a1", "SCTP", ["10.0.0.2"]))
        self.assertFalse(ViaSeal().verify(value, "z9hG4bKts1", "a1", "SCTP", ["10.0.0.2"]))
        a, b = ViaSeal.fromSecret(b"s" * 16), ViaSeal.fromSecret(b"s" * 16)
        self.assertTrue(b.verify(a.seal("z9hG4bKts1", None, "UDP", "::1"), "z9hG4bKts1", None, "UDP", ["::1"]))
