"""
The build's one addition to setup.cfg: the optional compiled accelerators
(issue 10): the lean path (lever 2) and the kernel backend's C{recvmmsg}
(lever 3, C{twisted_sctp/kernel/_mmsg.c}, plain C) and the lean path's
header-block splitter (C{twisted_sctp/sip/_leanhead.c}, plain C).

Each module in L{ACCELERATED} is compiled by Cython, as it is, into a
separate extension module beside it (C{twisted_sctp/sip/lean.py} ->
C{twisted_sctp.sip._lean_c}), so the C{.py} stays importable as the
reference; L{twisted_sctp.sip.leanimpl} picks one at run time.  The copy
Cython compiles is made at build time under C{build/cython/} and ends with
C{SOURCE_DIGEST}, the SHA-256 of the source it came from, so a module built
from an older source is known as such and not used.

Without Cython, or without a working C compiler (C{CC=/bin/false}), or with
C{TWISTED_SCTP_NO_COMPILE=1}, the build prints one warning line and installs
the pure-Python package: C{pip install .} never fails for want of a compiler.
"""

import hashlib
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

#: (extension module, the source it is compiled from), paths from the root.
ACCELERATED = [
    ("twisted_sctp.sip._lean_c", "twisted_sctp/sip/lean.py"),
]

#: Extensions written in C (no Cython needed): (module, its source).
C_EXTENSIONS = [
    ("twisted_sctp.kernel._mmsg", "twisted_sctp/kernel/_mmsg.c"),
    ("twisted_sctp.sip._leanhead", "twisted_sctp/sip/_leanhead.c"),
]

#: Cython's directives.  Annotations type the compiled code (Cython's
#: default: C{x: bytes} takes only bytes, a C{list}-annotated local is a
#: C-level list, C{float} is a C double): 8% fewer instructions in the scan
#: than with C{annotation_typing=False} (bench/README.md, History);
#: test_siplean's comparison of the two modules keeps them the same.
DIRECTIVES = {"language_level": 3, "binding": True}


def _warn(text):
    sys.stderr.write("twisted-sctp: WARNING: {}; that part is installed as pure Python only\n".format(text))


def _generated(module, source):
    """
    Copy C{source} to where Cython compiles it from, with its digest.

    @return: the copy's path, relative to the root.
    """
    with open(os.path.join(HERE, source), "rb") as f:
        text = f.read()
    digest = hashlib.sha256(text).hexdigest()
    path = os.path.join("build", "cython", *module.split(".")) + ".py"
    # (The directives are named in the copy, so that changing them makes
    # Cython compile it again: it only compares times.)
    body = text + "\n\n# Compiled with the Cython directives {!r}.\n#: The SHA-256 of the source this module was compiled from (setup.py).\nSOURCE_DIGEST = {!r}\n".format(DIRECTIVES, digest).encode("ascii")
    full = os.path.join(HERE, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    old = None
    if os.path.exists(full):
        with open(full, "rb") as f:
            old = f.read()
    if old != body:  # (unchanged: keep its time, so Cython need not run again)
        with open(full, "wb") as f:
            f.write(body)
    return path


def extensions():
    """
    @return: the extension modules to build, C{[]} where they cannot be.
    """
    if os.environ.get("TWISTED_SCTP_NO_COMPILE", "") not in ("", "0"):
        _warn("TWISTED_SCTP_NO_COMPILE is set")
        return []
    from setuptools import Extension

    plain = [Extension(module, [source]) for module, source in C_EXTENSIONS]
    try:
        from Cython.Build import cythonize
    except ImportError:
        _warn("Cython is not installed")
        return plain
    try:
        modules = [Extension(module, [_generated(module, source)]) for module, source in ACCELERATED]
        return cythonize(modules, compiler_directives=DIRECTIVES, quiet=True) + plain
    except Exception as e:  # (Cython refusing a source must not stop the install)
        _warn("Cython failed ({}: {})".format(type(e).__name__, e))
        return plain


class OptionalBuildExt(build_ext):
    """
    C{build_ext} that warns and goes on where an extension cannot be built.
    """

    def run(self):
        try:
            super().run()
        except Exception as e:  # (no compiler at all: DistutilsPlatformError)
            _warn("the C extensions were not built ({}: {})".format(type(e).__name__, e))

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:  # (CCompilerError, DistutilsExecError, a missing Python.h...)
            _warn("{} was not built ({}: {})".format(ext.name, type(e).__name__, e))

    def copy_extensions_to_source(self):
        # An editable install copies what was built into the checkout: only
        # what was built.
        built = [ext for ext in self.extensions if os.path.exists(os.path.join(self.build_lib, self.get_ext_filename(self.get_ext_fullname(ext.name))))]
        kept, self.extensions = self.extensions, built
        try:
            super().copy_extensions_to_source()
        finally:
            self.extensions = kept


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
