# -*- test-case-name: tests.test_packaging -*-
"""
The packaging and operations files: the licence matches setup.cfg, the TOML
configuration works before Python 3.11 (C{tomli}), the sample configuration
and the systemd unit's command line are what C{twistd sctp-sip} accepts, the
logrotate file rotates the log the unit writes, and the sdist manifest
carries the docs.  The installs themselves: scripts/check-install
(C{make check-install}).
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.tap import Options, readConfig
from twisted_sctp.transport.options import OPTION_NAMES, SCTPOptions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*path: str) -> str:
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


def setupConfig() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read_string(read("setup.cfg"))
    return parser


class MetadataTests(SynchronousTestCase):
    """
    setup.cfg, LICENSE and MANIFEST.in.
    """

    def test_license(self) -> None:
        """
        LICENSE is the MIT licence that setup.cfg names.
        """
        self.assertEqual(setupConfig()["metadata"]["license"], "MIT")
        text = read("LICENSE")
        self.assertTrue(text.startswith("MIT License"))
        self.assertIn("Permission is hereby granted, free of charge", text)

    def test_tomliBeforePython311(self) -> None:
        """
        The floor is Python 3.9 and C{tomli} is required below 3.11, where
        there is no C{tomllib}.
        """
        options = setupConfig()["options"]
        self.assertEqual(options["python_requires"].strip(), ">=3.9")
        requires = [line.strip() for line in options["install_requires"].splitlines() if line.strip()]
        self.assertIn('tomli>=1.1; python_version < "3.11"', requires)

    def test_tomliFallback(self) -> None:
        """
        Without C{tomllib} the configuration file is read with C{tomli}.
        """
        path = self.mktemp() + ".toml"
        with open(path, "w") as f:
            f.write("[sctp]\nautoclose = 7\n")
        self.patch(sys, "modules", dict(sys.modules, tomllib=None, tomli=tomllib))
        self.assertEqual(readConfig(path).sctp, {"autoclose": 7})

    def test_editableInstallSeesTheDropins(self) -> None:
        """
        The checkout is the package root (C{package_dir = =.}), which makes
        an editable install put it on sys.path, where Twisted looks for
        twisted/plugins; and the drop-ins are packaged.
        """
        options = setupConfig()["options"]
        self.assertEqual([line.strip() for line in options["package_dir"].splitlines() if line.strip()], ["= ."])
        self.assertIn("twisted.plugins", options["packages"].split())
        self.assertFalse(os.path.exists(os.path.join(ROOT, "twisted", "plugins", "__init__.py")))

    def test_manifest(self) -> None:
        """
        The sdist takes the licence, the docs, the examples and contrib/.
        """
        manifest = read("MANIFEST.in")
        for line in ("include LICENSE README.md", "recursive-include docs *.md", "recursive-include examples", "recursive-include contrib *"):
            self.assertIn(line, manifest)

    def test_makeTargets(self) -> None:
        """
        The Makefile has the docs, check-install and install-service targets.
        """
        makefile = read("Makefile")
        for target in ("docs", "check-install", "install-service"):
            self.assertRegex(makefile, r"(?m)^{}:".format(target))


class ContribTests(SynchronousTestCase):
    """
    contrib/: the sample configuration, the systemd unit, logrotate.
    """

    def test_sampleConfigIsTheDefaults(self) -> None:
        """
        The sample configuration parses and, as shipped, changes nothing.
        """
        options = Options()
        options.parseOptions(["--config", os.path.join(ROOT, "contrib", "sctp-sip.toml")])
        self.assertEqual(options["listeners"], [(["127.0.0.1"], 5060)])
        self.assertEqual(options["sctpOptions"], SCTPOptions())
        defaults = Options()
        defaults.parseOptions([])
        self.assertEqual((options["sipSettings"], options["serverSettings"]), (defaults["sipSettings"], defaults["serverSettings"]))

    def test_sampleConfigUncommented(self) -> None:
        """
        Every commented setting of the sample is valid once uncommented, and
        the 19 options are all there.
        """
        lines = []
        for line in read("contrib", "sctp-sip.toml").splitlines():
            match = re.match(r"^# ([a-z_]+ = .*?)(\s+#.*)?$", line)
            if match and not match.group(1).startswith("listen"):
                lines.append(match.group(1))
            elif line.startswith("[") or not line.startswith("#"):
                lines.append(line)
        text = "\n".join(lines)
        data = tomllib.loads(text)
        self.assertEqual(sorted(data["sctp"]), sorted(OPTION_NAMES))
        path = self.mktemp() + ".toml"
        with open(path, "w") as f:
            f.write(text.replace('admin_secret_file = "/etc/sctp-sip/admin.secret"\n', ""))
        options = Options()
        options.parseOptions(["--config", path])
        self.assertEqual(options["serverSettings"].domains, ("example.org",))
        self.assertEqual(options["metrics"], "tcp:9464")

    def test_unitCommandLine(self) -> None:
        """
        The unit runs twistd in the foreground without a pid file, with a
        run directory systemd creates, and sctp-sip arguments that parse;
        there is no ExecReload (twistd has no reload).
        """
        unit = read("contrib", "systemd", "sctp-sip.service")
        [start] = re.findall(r"(?m)^ExecStart=(.*)$", unit)
        argv = shlex.split(start)
        self.assertEqual(argv[0], "@VENV@/bin/twistd")
        self.assertIn("--nodaemon", argv)
        self.assertIn("--pidfile=", argv)
        self.assertIn("--rundir=/run/sctp-sip", argv)
        self.assertIn("RuntimeDirectory=sctp-sip", unit)
        self.assertNotIn("ExecReload", unit)
        tail = argv[argv.index("sctp-sip") + 1:]
        self.assertEqual(tail, ["--config", "/etc/sctp-sip/sctp-sip.toml"])

    def test_logrotateMatchesTheUnit(self) -> None:
        """
        logrotate rotates the file the unit appends to, in place.
        """
        unit = read("contrib", "systemd", "sctp-sip.service")
        [output] = re.findall(r"(?m)^StandardOutput=append:(.*)$", unit)
        rotate = read("contrib", "logrotate", "sctp-sip")
        self.assertIn(output + " {", rotate)
        self.assertIn("copytruncate", rotate)
