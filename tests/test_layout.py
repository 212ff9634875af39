# -*- test-case-name: tests.test_layout -*-
"""
The import rules of the package layout, checked by reading every module's
imports (module level and inside functions) with L{ast}:

  - nothing in C{twisted_sctp.sip} imports the association registry
    (C{twisted_sctp.transport.registry}) or the kernel backend
    (C{twisted_sctp.kernel}): SIP reaches associations only through
    L{twisted_sctp.sip.transport} and C{Association.isOpen};
  - the admin client side (C{admin/client.py}, C{admin/ctl.py}) imports
    neither the server (C{admin/server.py}) nor its view (C{admin/view.py}):
    the commands and their errors are in C{admin/protocol.py};
  - nothing imports upward: C{kernel} and C{transport} import neither
    C{sip} nor C{admin}.
"""

from __future__ import annotations

import ast
import os
from typing import Dict, Iterator, List, Set, Tuple

from twisted.trial.unittest import SynchronousTestCase

import twisted_sctp

PACKAGE = os.path.dirname(os.path.abspath(twisted_sctp.__file__))


def modules() -> Iterator[Tuple[str, str]]:
    """
    @return: C{(dotted name, path)} of every module of the package.
    """
    for directory, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
                if relative.endswith(".__init__"):
                    relative = relative[: -len(".__init__")]
                yield relative, path


def importsOf(module: str, source: str) -> Set[str]:
    """
    @return: the dotted names C{source} (the text of C{module}) imports,
        anywhere in it; C{from a import b} counts as C{a} and C{a.b}, and
        relative imports are resolved.
    """
    found: Set[str] = set()
    package = module if module.count(".") == 0 else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update("{}.{}".format(base, alias.name) for alias in node.names)
    return found


def imports() -> Dict[str, Set[str]]:
    """@return: every module of the package and what it imports."""
    out = {}
    for module, path in modules():
        with open(path, encoding="utf-8") as f:
            out[module] = importsOf(module, f.read())
    return out


def within(name: str, package: str) -> bool:
    """@return: whether C{name} is C{package} or in it."""
    return name == package or name.startswith(package + ".")


def violations(table: Dict[str, Set[str]], importers: str, forbidden: List[str]) -> List[str]:
    """
    @return: C{"a imports b"} for each module in C{importers} (a package or
        module name) that imports one of C{forbidden}.
    """
    return sorted(
        "{} imports {}".format(module, name)
        for module, names in table.items()
        if within(module, importers)
        for name in names
        if any(within(name, bad) for bad in forbidden)
    )


class ImportsOfTests(SynchronousTestCase):
    """
    L{importsOf} sees every way of importing.
    """

    def test_forms(self) -> None:
        """
        Plain, from, relative and function-level imports are all found.
        """
        source = (
            "import a.b\n"
            "from c import d\n"
            "from . import sibling\n"
            "from ..up import thing\n"
            "def f():\n"
            "    from twisted_sctp.kernel import sctpsocket\n"
        )
        found = importsOf("twisted_sctp.sip.x", source)
        for name in ("a.b", "c.d", "twisted_sctp.sip.sibling", "twisted_sctp.up.thing", "twisted_sctp.kernel.sctpsocket"):
            self.assertIn(name, found)

    def test_violations(self) -> None:
        """
        L{violations} names the importer and what it imported.
        """
        table = {"p.sip.a": {"p.kernel.x"}, "p.sip.b": {"p.transport"}, "p.other": {"p.kernel"}}
        self.assertEqual(violations(table, "p.sip", ["p.kernel"]), ["p.sip.a imports p.kernel.x"])


class LayoutTests(SynchronousTestCase):
    """
    The package's import rules hold.
    """

    def setUp(self) -> None:
        self.table = imports()

    def test_modulesFound(self) -> None:
        """
        The walk finds the packages the rules are about.
        """
        for module in ("twisted_sctp.sip.transport", "twisted_sctp.admin.client", "twisted_sctp.kernel", "twisted_sctp.transport.registry"):
            self.assertIn(module, self.table)

    def test_sipDoesNotKnowTheRegistryOrKernel(self) -> None:
        """
        Nothing in C{sip} imports the registry or the kernel backend.
        """
        self.assertEqual(violations(self.table, "twisted_sctp.sip", ["twisted_sctp.transport.registry", "twisted_sctp.kernel"]), [])

    def test_adminClientSide(self) -> None:
        """
        The admin client and C{sctp-sipctl} import neither the server nor
        its view.
        """
        forbidden = ["twisted_sctp.admin.server", "twisted_sctp.admin.view"]
        for module in ("twisted_sctp.admin.client", "twisted_sctp.admin.ctl"):
            self.assertEqual(violations(self.table, module, forbidden), [])

    def test_nothingImportsUpward(self) -> None:
        """
        C{kernel} and C{transport} import neither C{sip} nor C{admin}.
        """
        upper = ["twisted_sctp.sip", "twisted_sctp.admin"]
        for lower in ("twisted_sctp.kernel", "twisted_sctp.transport"):
            self.assertEqual(violations(self.table, lower, upper), [])
