# -*- test-case-name: tests.test_leanhead -*-
"""
Tests for C{twisted_sctp.sip._leanhead}, the lean path's header-block
splitter in C: for every block, what L{twisted_sctp.sip.lean._splitHead}
(the reference) gives, and the compiled lean module uses it.

Where the extension is not built these are skipped, with the reason, but
in CI (C{CI} set: C{.ci/run} installs a C compiler) they fail.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from twisted_sctp.sip import lean as pureLean
from twisted_sctp.sip import leanimpl

try:
    from twisted_sctp.sip import _leanhead
except ImportError as e:
    _leanhead: Any = None  # type: ignore[no-redef]
    _WHY: Optional[str] = "the C header splitter is not built ({})".format(e)
else:
    _WHY = None

#: A block SIPp sends (bench/options.xml), without its blank line.
SIPP_HEAD = (
    b"OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK-1234-1-0\r\n"
    b"From: <sip:sipp@127.0.0.2:5070>;tag=1234SIPpTag001\r\n"
    b"To: <sip:127.0.0.1:5060>\r\n"
    b"Call-ID: 1-1234@127.0.0.2\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 0"
)

#: Bytes that decide the outcome, and some that do not.
_ALPHABET = [b"\r\n", b"\r", b"\n", b":", b": ", b" ", b"  ", b"a", b"Via", b"\t", b"\x00", b"\x1f", b"\x7f", b"\xff", b";", b"-"]


def _blocks() -> st.SearchStrategy[bytes]:
    """Header blocks: pieces of the alphabet, and SIPp's block with one piece changed."""
    pieces = st.lists(st.sampled_from(_ALPHABET), max_size=40).map(b"".join)
    edited = st.tuples(st.integers(0, len(SIPP_HEAD)), st.integers(0, 3), st.sampled_from(_ALPHABET)).map(
        lambda t: SIPP_HEAD[: t[0]] + t[2] + SIPP_HEAD[t[0] + t[1]:]
    )
    return st.one_of(pieces, edited, st.binary(max_size=60))


class SplitHeadTests(SynchronousTestCase):
    """
    C{splitHead} gives what C{_splitHead} gives.
    """

    def setUp(self) -> None:
        if _leanhead is None:
            if os.environ.get("CI"):
                self.fail("CI is set and " + str(_WHY))
            raise SkipTest(_WHY)

    def test_sipp(self) -> None:
        """
        SIPp's block: its header names and its lines.
        """
        names, lines = _leanhead.splitHead(SIPP_HEAD)
        self.assertEqual(names, (b"Via", b"From", b"To", b"Call-ID", b"CSeq", b"Max-Forwards", b"Content-Length"))
        self.assertEqual(lines, SIPP_HEAD.split(b"\r\n"))
        self.assertEqual(_leanhead.splitHead(SIPP_HEAD), pureLean._splitHead(SIPP_HEAD))

    def test_refused(self) -> None:
        """
        Each shape the lean path leaves to the full parser gives C{None},
        as the reference does.
        """
        for head in [
            SIPP_HEAD.replace(b"To: ", b"To:  "),          # two spaces after the colon
            SIPP_HEAD.replace(b"70\r\n", b"70 \r\n"),      # a space before a line break
            SIPP_HEAD + b" ",                              # ... and at the end
            SIPP_HEAD.replace(b"CSeq: ", b"CSeq:"),        # no space after the colon
            SIPP_HEAD.replace(b"CSeq: ", b"CSeq "),        # no colon
            SIPP_HEAD.replace(b"To: ", b"To:x: "),         # the first colon is not followed by a space
            SIPP_HEAD.replace(b"To: ", b": "),             # an empty name: the scan refuses its plan
            SIPP_HEAD.replace(b"\r\nTo", b"\nTo"),         # a bare LF
            SIPP_HEAD.replace(b"\r\nTo", b"\rTo"),         # a bare CR
            SIPP_HEAD.replace(b"1-0", b"1\t0"),            # HTAB
            SIPP_HEAD.replace(b"1-0", b"1\x7f0"),          # DEL
            SIPP_HEAD + b"\r\n",                           # an empty last line
            SIPP_HEAD.replace(b"1-0", b"1\x000"),          # NUL
        ]:
            expected = pureLean._splitHead(head)
            self.assertEqual(_leanhead.splitHead(head), expected, head)
            if head != SIPP_HEAD.replace(b"To: ", b": "):
                self.assertIsNone(expected, head)
        self.assertEqual(_leanhead.splitHead(SIPP_HEAD.replace(b"To: ", b": "))[0][2], b"")

    def test_startLineOnly(self) -> None:
        """
        A block of one line: no names, the line.
        """
        self.assertEqual(_leanhead.splitHead(b"OPTIONS sip:a SIP/2.0"), ((), [b"OPTIONS sip:a SIP/2.0"]))
        self.assertEqual(_leanhead.splitHead(b""), ((), [b""]))
        self.assertEqual(pureLean._splitHead(b""), ((), [b""]))

    def test_notBytes(self) -> None:
        """
        Anything but bytes is a TypeError.
        """
        self.assertRaises(TypeError, _leanhead.splitHead, "OPTIONS")
        self.assertRaises(TypeError, _leanhead.splitHead, bytearray(b"OPTIONS"))

    def test_noLeak(self) -> None:
        """
        The block's reference count is where it was after the calls: a
        block of one line is kept by its result only.
        """
        head = bytes(SIPP_HEAD)
        before = sys.getrefcount(head)
        for _ in range(100):
            _leanhead.splitHead(head)
            _leanhead.splitHead(head + b" ")
        self.assertEqual(sys.getrefcount(head), before)
        one = bytes(b"OPTIONS sip:a SIP/2.0")
        before = sys.getrefcount(one)
        lines = _leanhead.splitHead(one)[1]
        self.assertIs(lines[0], one)
        self.assertEqual(sys.getrefcount(one), before + 1)
        del lines
        self.assertEqual(sys.getrefcount(one), before)

    def test_sameAsReference(self) -> None:
        """
        For every block hypothesis makes: the same names and lines, or
        C{None} for both.
        """
        seen = {True: 0, False: 0}

        @settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(_blocks())
        def check(head: bytes) -> None:
            expected = pureLean._splitHead(head)
            self.assertEqual(_leanhead.splitHead(head), expected, head)
            seen[expected is None] += 1

        check()
        self.assertGreaterEqual(seen[False], 100)
        self.assertGreaterEqual(seen[True], 100)


class SelectionTests(SynchronousTestCase):
    """
    Which splitter each lean module uses.
    """

    def test_pureUsesReference(self) -> None:
        """
        The pure module splits with its own Python function.
        """
        self.assertIs(pureLean._split, pureLean._splitHead)
        self.assertIs(pureLean._splitter("twisted_sctp.sip.lean"), pureLean._splitHead)

    def test_compiledUsesC(self) -> None:
        """
        The compiled lean module splits with the C function where it is built.
        """
        compiled, why = leanimpl.compiledModule()
        if compiled is None or _leanhead is None:
            if os.environ.get("CI"):
                self.fail("CI is set and the compiled lean path is not usable: {}; {}".format(why, _WHY))
            raise SkipTest("{}; {}".format(why, _WHY))
        self.assertIs(compiled._split, _leanhead.splitHead)
        self.assertIs(pureLean._splitter("twisted_sctp.sip._lean_c"), _leanhead.splitHead)
