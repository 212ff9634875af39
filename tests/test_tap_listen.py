# -*- test-case-name: tests.test_tap_listen -*-
"""
Tests for C{twistd sctp-sip --listen} with C{sctp:} endpoint strings
(L{twisted_sctp.tap}): the short form keeps working beside them, and an
endpoint string's options apply to its own listener.
"""

from __future__ import annotations

import socket

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.tap import Options, SIPService, readConfig
from twisted_sctp.testing import FakeKernel
from twisted_sctp.transport.options import SCTPOptions


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


class ListenEndpointTests(SynchronousTestCase):
    """
    C{--listen} endpoint strings.
    """

    def test_endpointAndShortForms(self) -> None:
        """
        Endpoint strings (brackets unescaped, interfaces repeated or
        comma-separated) and the short form mix; the listeners come out in
        order.
        """
        options = parse(
            "--listen", "sctp:5070:interface=127.0.0.1,127.0.0.2",
            "--listen", "sctp:127.0.0.3:5060",
            "--listen", "sctp:5080:interface=[::1]:interface=127.0.0.4",
            "--listen", r"sctp:5090:interface=\:\:1",
        )
        self.assertEqual(
            options["listeners"],
            [(["127.0.0.1", "127.0.0.2"], 5070), (["127.0.0.3"], 5060), (["::1", "127.0.0.4"], 5080), (["::1"], 5090)],
        )
        self.assertEqual(options["listenerOptions"], {})

    def test_listenerOptions(self) -> None:
        """
        An endpoint string's options override C{--option} on its listener
        only; the other listeners keep the global options.
        """
        options = parse(
            "--listen", "sctp:5070:interface=127.0.0.1:autoclose=30:send_retries=1",
            "--listen", "sctp:127.0.0.2:5060",
            "--option", "send_retries=2", "--option", "hbinterval=5000",
        )
        self.assertEqual(options["sctpOptions"], SCTPOptions(send_retries=2, hbinterval=5000))
        self.assertEqual(
            options["listenerOptions"],
            {(("127.0.0.1",), 5070): SCTPOptions(autoclose=30, send_retries=1, hbinterval=5000)},
        )

    def test_listenerOptionsReachThePort(self) -> None:
        """
        The service opens each listener with its own options.
        """
        options = parse("--listen", "sctp:5070:interface=127.0.0.1:autoclose=30", "--listen", "sctp:127.0.0.2:5060", "--sip", "udp=false")
        kernels = [FakeKernel(5070), FakeKernel(5060)]
        applied = []
        for kernel in kernels:
            service = SIPService(MemoryReactorClock(), options["listeners"][len(applied):len(applied) + 1], options["sctpOptions"],
                                 options["sipSettings"], options["serverSettings"], kernel, listenerOptions=options["listenerOptions"])
            service.privilegedStartService()
            applied.append(kernel.applied)
        self.assertEqual([a.autoclose if a else None for a in applied], [30, 180])

    def test_styleReachesThePort(self) -> None:
        """
        C{style=one-to-one} in a C{--listen} endpoint string (or in the
        configuration file's C{listen}) gives that listener a one-to-one
        port; the others stay one-to-many.
        """
        from twisted_sctp.kernel.backend import KernelBackend
        from twisted_sctp.kernel.onetoone import OneToOneBackend

        options = parse("--listen", "sctp:5070:interface=127.0.0.1:style=one-to-one", "--listen", "sctp:127.0.0.2:5060", "--sip", "udp=false")
        self.assertEqual(options["listenerStyles"], {(("127.0.0.1",), 5070): "one-to-one", (("127.0.0.2",), 5060): "one-to-many"})
        backends = []
        for listener, kernel in zip(options["listeners"], [FakeKernel(5070), FakeKernel(5060)]):
            service = SIPService(MemoryReactorClock(), [listener], options["sctpOptions"], options["sipSettings"], options["serverSettings"], kernel,
                                 listenerStyles=options["listenerStyles"])
            service.privilegedStartService()
            backends.append(type(service.ports[0].backend))
            self.assertEqual(kernel.kinds, [socket.SOCK_STREAM] if backends[-1] is OneToOneBackend else [socket.SOCK_SEQPACKET])
        self.assertEqual(backends, [OneToOneBackend, KernelBackend])
        path = self.mktemp() + ".toml"
        with open(path, "w") as f:
            f.write('[server]\nlisten = ["sctp:5070:interface=127.0.0.1:style=one-to-one"]\n')
        self.assertEqual(parse("--config", path)["listenerStyles"], {(("127.0.0.1",), 5070): "one-to-one"})

    def test_badEndpointStrings(self) -> None:
        """
        A bad endpoint string is one usage error naming the flag, the string
        and the problem; an unknown style names the two there are.
        """
        for text, words in [
            ("sctp:5060:interface=nowhere", ["--listen sctp:5060:interface=nowhere", "not an IP address"]),
            ("sctp:5060:autoclose=-5", ["autoclose", "out of range"]),
            ("sctp:5060:bogus=1", ["unknown keyword 'bogus'"]),
            ("sctp:99999", ["not a port number"]),
            ("sctp:5060:style=stream", ["style='stream'", "use one-to-many or one-to-one"]),
        ]:
            e = self.assertRaises(usage.UsageError, parse, "--listen", text)
            for word in words:
                self.assertIn(word, str(e))

    def test_crossOptionRuleWithGlobal(self) -> None:
        """
        A listener's option that breaks a rule together with C{--option}
        is refused, naming the listener.
        """
        e = self.assertRaises(usage.UsageError, parse, "--listen", "sctp:5060:interface=127.0.0.1:srto_max=1000", "--option", "srto_min=2000")
        self.assertIn("--listen sctp:127.0.0.1:5060", str(e))
        self.assertIn("srto", str(e))

    def test_configFile(self) -> None:
        """
        The configuration file's C{listen} takes endpoint strings too, with
        their options.
        """
        path = self.mktemp() + ".toml"
        with open(path, "w") as f:
            f.write('[server]\nlisten = ["sctp:5070:interface=127.0.0.1:autoclose=40", "sctp:127.0.0.2:5060"]\n')
        config = readConfig(path)
        self.assertEqual(config.server["listen"], [(["127.0.0.1"], 5070), (["127.0.0.2"], 5060)])
        options = parse("--config", path)
        self.assertEqual(options["listenerOptions"], {(("127.0.0.1",), 5070): SCTPOptions(autoclose=40)})
        options = parse("--config", path, "--listen", "sctp:127.0.0.9:5060")
        self.assertEqual((options["listeners"], options["listenerOptions"]), ([(["127.0.0.9"], 5060)], {}))
