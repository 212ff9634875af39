# -*- test-case-name: tests.test_docs -*-
"""
The docs' code: every Python block of docs/writing-applications.md
compiles, and its testing example runs as written (against the fakes in
L{twisted_sctp.testing}).  The pydoctor build itself is a step of
scripts/run-tests (scripts/build-docs, C{make docs}).
"""

from __future__ import annotations

import os
import re
from typing import Dict, List

from twisted.trial.unittest import SynchronousTestCase

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pythonBlocks(name: str) -> Dict[str, List[str]]:
    """
    @return: the C{```python} blocks of docs/NAME, by the heading above them.
    """
    with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as f:
        text = f.read()
    blocks: Dict[str, List[str]] = {}
    heading = ""
    for part in re.split(r"(?m)^(#+ .*)$", text):
        if part.startswith("#"):
            heading = part.lstrip("# ").strip()
            continue
        blocks.setdefault(heading, []).extend(re.findall(r"```python\n(.*?)```", part, re.S))
    return blocks


class WritingApplicationsTests(SynchronousTestCase):
    """
    docs/writing-applications.md.
    """

    def test_blocksCompile(self) -> None:
        """
        Every Python block is valid Python.
        """
        blocks = pythonBlocks("writing-applications.md")
        self.assertGreater(sum(len(b) for b in blocks.values()), 5)
        for heading, codes in blocks.items():
            for code in codes:
                compile(code, "writing-applications.md: " + heading, "exec")

    def test_testingExampleRuns(self) -> None:
        """
        The "Testing without a kernel" example runs, and its assertion holds.
        """
        [code] = pythonBlocks("writing-applications.md")["Testing without a kernel"]
        namespace: Dict[str, object] = {}
        exec(compile(code, "writing-applications.md", "exec"), namespace)
        self.assertEqual(namespace["data"], b"HELLO")

    def test_linkedFromReadme(self) -> None:
        """
        The README links the how-to, the metrics list and says how to build
        the API docs.
        """
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        for needle in ("docs/writing-applications.md", "docs/metrics.md", "make docs"):
            self.assertIn(needle, readme)
