# -*- test-case-name: tests.test_siplean -*-
"""
Which implementation of the lean path (L{twisted_sctp.sip.lean}) runs: the
compiled accelerator C{twisted_sctp.sip._lean_c} (Cython's build of the same
source, made by C{pip install .} where a C compiler exists: C{setup.py})
when it is importable and was built from the C{lean.py} beside it, the
pure-Python module otherwise.  The pure module is the reference; the tests
run both (C{tests/test_siplean.py}).

C{TWISTED_SCTP_PURE=1} in the environment forces the pure module.
L{IMPLEMENTATION} and L{REASON} say which one is in use and why;
C{twistd sctp-sip} logs them at start.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from types import ModuleType
from typing import TYPE_CHECKING, Optional, Tuple

from twisted_sctp.sip import lean as pure

__all__ = ["IMPLEMENTATION", "OptionsReply", "OwnOptions", "PURE_ENV", "REASON", "compiledModule", "scanOwnOptions", "select"]

#: The environment variable that forces the pure-Python module (any value
#: but C{""} and C{"0"}).
PURE_ENV = "TWISTED_SCTP_PURE"


def _sourceDigest() -> Optional[str]:
    try:
        with open(pure.__file__, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except (OSError, TypeError):
        return None


def compiledModule() -> Tuple[Optional[ModuleType], str]:
    """
    The compiled module, if it can be used, regardless of L{PURE_ENV}.

    @return: the module (C{None} if there is none that can be used) and
        why: C{"not built"}, C{"stale"} (built from another C{lean.py}:
        rebuild with C{scripts/setup-env} or C{pip install -e .}) or
        C{"built from this lean.py"}.
    """
    try:
        _lean_c = importlib.import_module("twisted_sctp.sip._lean_c")
    except ImportError as e:
        return None, "not built ({})".format(e)
    source = _sourceDigest()
    if source is not None and getattr(_lean_c, "SOURCE_DIGEST", None) != source:
        return None, "stale: {} was built from another lean.py (rebuild: scripts/setup-env or pip install -e .)".format(_lean_c.__file__)
    return _lean_c, "built from this lean.py"


def select() -> Tuple[ModuleType, str, str]:
    """
    @return: the module to use, C{"compiled"} or C{"pure"}, and why.
    """
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return pure, "pure", "{} is set".format(PURE_ENV)
    module, why = compiledModule()
    if module is None:
        return pure, "pure", "the compiled module is " + why
    return module, "compiled", "{} ({})".format(module.__file__, why)


_module, IMPLEMENTATION, REASON = select()

if TYPE_CHECKING:  # (both modules have the same names; the pure one types them)
    from twisted_sctp.sip.lean import OptionsReply, OwnOptions, scanOwnOptions
else:
    scanOwnOptions = _module.scanOwnOptions
    OptionsReply = _module.OptionsReply
    OwnOptions = _module.OwnOptions
