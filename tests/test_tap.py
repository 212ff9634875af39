# -*- test-case-name: tests.test_tap -*-
"""
Tests for L{twisted_sctp.tap}: the C{twistd sctp-sip} options, the
configuration file, the service, start-up failures and the plugin.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import Any, List, Sequence

from twisted.application.service import IServiceMaker
from twisted.internet import error as ierror
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.integration.support import sctpUnavailableReason
from twisted_sctp.error import SCTPUnavailableError
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.sip.transport import SIPSettings
from twisted_sctp.sip.server import ServerSettings
from twisted_sctp.tap import Options, SIPService, buildService, readConfig, startupError
from twisted_sctp.testing import FakeKernel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


class OptionsTests(SynchronousTestCase):
    """
    Command-line parsing.
    """

    def test_defaults(self) -> None:
        """
        Without options: one listener on 127.0.0.1:5060, default SCTP
        options and SIP settings, no admin or metrics endpoint given.
        """
        options = parse()
        self.assertEqual(options["listeners"], [(["127.0.0.1"], 5060)])
        self.assertEqual(options["sctpOptions"], SCTPOptions())
        self.assertEqual(options["sipSettings"], SIPSettings())
        self.assertEqual(options["serverSettings"], ServerSettings())
        self.assertEqual((options["admin"], options["admin-secret-file"], options["metrics"]), (None, None, None))

    def test_listen(self) -> None:
        """
        --listen is repeatable and takes single, multihomed and IPv6
        addresses.
        """
        options = parse("--listen", "sctp:127.0.0.2:5070", "--listen", "sctp:(127.0.0.1,127.0.0.2):5062", "--listen", "sctp:[::1]:5060")
        self.assertEqual(options["listeners"], [(["127.0.0.2"], 5070), (["127.0.0.1", "127.0.0.2"], 5062), (["::1"], 5060)])

    def test_badListen(self) -> None:
        """
        A bad --listen is a usage error that shows the accepted forms.
        """
        e = self.assertRaises(usage.UsageError, parse, "--listen", "sctp:nohost.example:5060")
        self.assertIn("--listen sctp:nohost.example:5060", str(e))
        self.assertIn("sctp:(HOST1,HOST2):PORT", str(e))
        self.assertRaises(usage.UsageError, parse, "--listen", "sctp:127.0.0.1:99999")

    def test_option(self) -> None:
        """
        --option NAME=VALUE sets one of the 19 options, with or without the
        sctp_ prefix.
        """
        options = parse("--option", "autoclose=120", "--option", "sctp_send_retries=2", "--option", "hbinterval=-1")
        self.assertEqual((options["sctpOptions"].autoclose, options["sctpOptions"].send_retries, options["sctpOptions"].hbinterval), (120, 2, -1))

    def test_badOption(self) -> None:
        """
        An unknown name, a value out of range, a value that is not a number
        or a missing = are usage errors naming the option and what is
        allowed.
        """
        e = self.assertRaises(usage.UsageError, parse, "--option", "send_retries=12")
        self.assertEqual(str(e), "--option send_retries: value 12 out of range; allowed: 0..9")
        e = self.assertRaises(usage.UsageError, parse, "--option", "autoclos=5")
        self.assertIn("autoclos: unknown option; valid names: socket_rcvbuf", str(e))
        e = self.assertRaises(usage.UsageError, parse, "--option", "autoclose=soon")
        self.assertIn("autoclose: not an integer: 'soon'; allowed:", str(e))
        e = self.assertRaises(usage.UsageError, parse, "--option", "autoclose")
        self.assertIn("expected NAME=VALUE", str(e))
        e = self.assertRaises(usage.UsageError, parse, "--option", "assoc_tracking=0")
        self.assertIn("assoc_reuse", str(e))

    def test_sip(self) -> None:
        """
        --sip NAME=VALUE sets the SIP transport and server settings.
        """
        options = parse("--sip", "crlf_pingpong=off", "--sip", "ppid=46", "--sip", "min_expires=30", "--sip", "domains=example.com, Example.org", "--sip", "udp=no")
        self.assertEqual((options["sipSettings"].crlfPingPong, options["sipSettings"].ppid, options["sipSettings"].udp), (False, 46, False))
        self.assertEqual((options["serverSettings"].minExpires, options["serverSettings"].domains), (30, ("example.com", "example.org")))

    def test_badSip(self) -> None:
        """
        An unknown SIP setting or a bad value is a usage error.
        """
        self.assertIn("valid names", str(self.assertRaises(usage.UsageError, parse, "--sip", "pingpong=1")))
        self.assertIn("not a boolean", str(self.assertRaises(usage.UsageError, parse, "--sip", "crlf_drop=maybe")))
        self.assertIn("ppid", str(self.assertRaises(usage.UsageError, parse, "--sip", "ppid=-4")))
        self.assertIn("min_expires", str(self.assertRaises(usage.UsageError, parse, "--sip", "min_expires=9999")))


TOML = """
[server]
listen = ["sctp:127.0.0.2:5070", "sctp:(127.0.0.1,127.0.0.2):5062"]
admin = "unix:/tmp/admin.sock"
metrics = "tcp:9100"

[sctp]
autoclose = 120
sctp_send_retries = 2

[sip]
crlf_pingpong = false
domains = ["example.com"]
"""

INI = """
[server]
listen = sctp:127.0.0.2:5070
    sctp:(127.0.0.1,127.0.0.2):5062
admin = unix:/tmp/admin.sock

[sctp]
autoclose = 120
send_retries = 2

[sip]
crlf_pingpong = no
domains = example.com
"""


class ConfigFileTests(SynchronousTestCase):
    """
    --config FILE: TOML or INI; the command line wins.
    """

    def write(self, text: str, suffix: str) -> str:
        path = self.mktemp() + suffix
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, options: Options) -> None:
        self.assertEqual(options["listeners"], [(["127.0.0.2"], 5070), (["127.0.0.1", "127.0.0.2"], 5062)])
        self.assertEqual((options["sctpOptions"].autoclose, options["sctpOptions"].send_retries), (120, 2))
        self.assertEqual(options["sipSettings"].crlfPingPong, False)
        self.assertEqual(options["serverSettings"].domains, ("example.com",))
        self.assertEqual(options["admin"], "unix:/tmp/admin.sock")

    def test_toml(self) -> None:
        """
        A .toml file is read with tomllib.
        """
        options = parse("--config", self.write(TOML, ".toml"))
        self.check(options)
        self.assertEqual(options["metrics"], "tcp:9100")

    def test_ini(self) -> None:
        """
        Any other file is INI; listen takes one address per line or word.
        """
        self.check(parse("--config", self.write(INI, ".ini")))

    def test_commandLineWins(self) -> None:
        """
        --listen replaces the file's listeners; --option, --sip and --admin
        override single values.
        """
        options = parse("--config", self.write(TOML, ".toml"), "--listen", "sctp:127.0.0.3:5080", "--option", "autoclose=60", "--sip", "crlf_pingpong=1", "--admin", "tcp:7000")
        self.assertEqual(options["listeners"], [(["127.0.0.3"], 5080)])
        self.assertEqual((options["sctpOptions"].autoclose, options["sctpOptions"].send_retries), (60, 2))
        self.assertEqual((options["sipSettings"].crlfPingPong, options["admin"]), (True, "tcp:7000"))

    def test_badFiles(self) -> None:
        """
        A missing file, bad TOML, an unknown section or key, or a bad value
        in the file is a usage error naming the file.
        """
        missing = self.mktemp() + ".toml"
        self.assertIn(missing, str(self.assertRaises(usage.UsageError, parse, "--config", missing)))
        for text, suffix, expected in (
            ("[server\n", ".toml", "--config"),
            ("[sctpp]\nautoclose = 1\n", ".toml", "unknown section"),
            ("listen = 'sctp:127.0.0.1:5060'\n", ".toml", "outside a section"),
            ("[server]\nport = 5\n", ".ini", "unknown key port"),
            ("[sctp]\nautoclos = 1\n", ".ini", "autoclos: unknown option"),
            ("[sctp]\nsend_retries = 10\n", ".toml", "allowed: 0..9"),
            ("[server]\nlisten = sctp:bad:x\n", ".ini", "listen"),
            ("not ini at all\n", ".conf", "--config"),
        ):
            e = self.assertRaises(usage.UsageError, parse, "--config", self.write(text, suffix))
            self.assertIn(expected, str(e), text)

    def test_readConfigEmptyFile(self) -> None:
        """
        An empty file changes nothing.
        """
        config = readConfig(self.write("", ".toml"))
        self.assertEqual((config.server, config.sctp, config.sip), ({}, {}, {}))


class ServiceTests(SynchronousTestCase):
    """
    makeService's service tree, started over a fake kernel.
    """

    def build(self, *args: str, probe: Any = None) -> Any:
        options = parse("--admin", "unix:" + os.path.abspath(self.mktemp()), *args)
        self.reactor = MemoryReactorClock()
        self.probed: List[Sequence[int]] = []
        return buildService(options, self.reactor, kernel=FakeKernel(), probe=probe or self.probed.append)

    def test_serviceTree(self) -> None:
        """
        The top service holds the SIP service (ports filled at start, SIP
        counters, the server) and the admin service; the probe is asked for
        the listeners' families.
        """
        import socket

        top = self.build("--listen", "sctp:127.0.0.1:5060", "--listen", "sctp:[::1]:5062")
        sip = top.getServiceNamed("sctp-sip")
        self.assertIsInstance(sip, SIPService)
        self.assertEqual(self.probed, [[socket.AF_INET, socket.AF_INET6]])
        self.assertEqual(len(list(top)), 2)
        self.assertEqual(sip.ports, [])
        top.privilegedStartService()
        top.startService()
        self.assertEqual([p.getHost().port for p in sip.ports], [5060, 5062])
        self.assertTrue(all(isinstance(v, int) for v in sip.sipStats().values()))
        self.assertIs(sip.server.transport, sip.transport)
        top.stopService()
        self.assertEqual(sip.ports, [])

    def test_metricsService(self) -> None:
        """
        --metrics adds the metrics service.
        """
        top = self.build("--metrics", "tcp:0:interface=127.0.0.1")
        self.assertEqual(len(list(top)), 3)

    def test_noSCTP(self) -> None:
        """
        Without kernel SCTP, makeService prints one line saying so and how to
        fix it, and exits with status 1.
        """
        err = io.StringIO()
        self.patch(sys, "__stderr__", err)

        def probe(families: Sequence[int]) -> None:
            raise SCTPUnavailableError("ESOCKTNOSUPPORT: Socket type not supported")

        e = self.assertRaises(SystemExit, self.build, probe=probe)
        self.assertEqual(e.code, 1)
        [line] = err.getvalue().splitlines()
        self.assertIn("kernel SCTP is not available", line)
        self.assertIn("modprobe sctp", line)

    def test_adminRefused(self) -> None:
        """
        A non-loopback admin endpoint without a secret stops start-up with
        one line naming the fix and exit status 1, not a traceback.
        """
        err = io.StringIO()
        self.patch(sys, "__stderr__", err)
        options = parse("--admin", "tcp:0:interface=0.0.0.0")
        e = self.assertRaises(SystemExit, buildService, options, MemoryReactorClock(), kernel=FakeKernel(), probe=lambda families: None)
        self.assertEqual(e.code, 1)
        [line] = err.getvalue().splitlines()
        self.assertIn("--admin-secret-file", line)

    def test_cannotListen(self) -> None:
        """
        A listener that cannot bind is one line on stderr and exit status 1.
        """
        err = io.StringIO()
        self.patch(sys, "__stderr__", err)
        top = self.build()
        sip = top.getServiceNamed("sctp-sip")

        def fail(*a: Any, **kw: Any) -> Any:
            raise ierror.CannotListenError("127.0.0.1", 5060, OSError(98, "Address already in use"))

        self.patch(sip.transport, "listen", fail)
        e = self.assertRaises(SystemExit, top.privilegedStartService)
        self.assertEqual(e.code, 1)
        self.assertEqual(err.getvalue(), "twistd sctp-sip: cannot listen on 127.0.0.1:5060: Address already in use\n")
        self.flushLoggedErrors()

    def test_startupErrorText(self) -> None:
        """
        startupError words an SCTPUnavailableError with the fix.
        """
        self.assertIn("modprobe sctp", startupError(SCTPUnavailableError("x")))
        self.assertEqual(startupError(ierror.CannotListenError(None, b"/run/x.sock", OSError("AF_UNIX path too long"))), "twistd sctp-sip: cannot listen on /run/x.sock: AF_UNIX path too long")
        self.assertEqual(startupError(ierror.CannotListenError("::1", 5060, OSError(98, "Address already in use"))), "twistd sctp-sip: cannot listen on [::1]:5060: Address already in use")


class PluginTests(SynchronousTestCase):
    """
    The twistd drop-in.
    """

    def test_plugin(self) -> None:
        """
        getPlugins(IServiceMaker) yields sctp-sip, whose options are ours.
        """
        import twisted.plugins

        makers = {m.tapname: m for m in getPlugins(IServiceMaker, twisted.plugins)}
        self.assertIn("sctp-sip", makers)
        self.assertIsInstance(makers["sctp-sip"].options(), Options)

    def test_noSCTPOnTheCommandLine(self) -> None:
        """
        On a kernel without SCTP, `twistd -n sctp-sip` prints one error line
        (no traceback) and exits non-zero.
        """
        if sctpUnavailableReason() is None:
            raise SkipTest("this host has kernel SCTP")
        env = dict(os.environ, PYTHONPATH=ROOT)
        rundir = self.mktemp()
        os.makedirs(rundir)
        result = subprocess.run(
            [sys.executable, "-c", "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()", "-n", "--pidfile=", "sctp-sip"],
            env=env, cwd=rundir, capture_output=True, text=True, timeout=60,
        )
        self.assertEqual(os.listdir(rundir), [])
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        [line] = result.stderr.splitlines()
        self.assertIn("kernel SCTP is not available", line)
        self.assertIn("modprobe sctp", line)


class SIPServiceTests(SynchronousTestCase):
    """
    The SIP service on its own.
    """

    def test_failedListenerReleasesOthers(self) -> None:
        """
        If a later listener cannot bind, the ones already bound are closed
        and the error propagates.
        """
        kernel = FakeKernel()
        service = SIPService(MemoryReactorClock(), [(["127.0.0.1"], 5060), (["127.0.0.2"], 5062)], kernel=kernel)
        calls = []
        listen = service.transport.listen

        def flaky(hosts: Any, port: int, *a: Any, **kw: Any) -> Any:
            calls.append(port)
            if port == 5062:
                raise ierror.CannotListenError("127.0.0.2", port, OSError(98, "Address already in use"))
            return listen(hosts, port, *a, **kw)

        self.patch(service.transport, "listen", flaky)
        self.assertRaises(ierror.CannotListenError, service.startService)
        self.assertEqual(calls, [5060, 5062])
        self.assertEqual((service.ports, service.transport.listeners), ([], []))
        self.assertTrue(kernel.socket.closed)
