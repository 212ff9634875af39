# -*- test-case-name: tests.test_ctl -*-
"""
Tests for L{twisted_sctp.admin.ctl} (C{sctp-sipctl}): formatting, C{--json}
objects and exit codes, with a fake L{AdminClient}; and once end to end over
C{iosim} with the real client and admin protocol.
"""

from __future__ import annotations

import io
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from twisted.internet import defer, error as ierror
from twisted.protocols import amp
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from tests.test_admin import AdminTestMixin, up
from twisted_sctp.admin import ctl
from twisted_sctp.admin.endpoints import EndpointError
from twisted_sctp.admin.server import (
    AdminClient,
    AmbiguousAssociation,
    AuthenticationFailed,
    ChangeRefused,
    NotListening,
    UnknownAssociation,
    UnknownOption,
)
from twisted_sctp.transport.options import OPTION_NAMES
from twisted_sctp.transport.stats import KAMAILIO_COUNTERS

INFO = {
    "opened_connections": 2,
    "tracked_connections": 2,
    "total_connections": 5,
    "listeners": 1,
    "listen": ["sctp:127.0.0.1:5060"],
    "uptime": 12.5,
}
OPTIONS = {"sctp_" + name: 0 for name in OPTION_NAMES}
OPTIONS.update(sctp_autoclose=180, sctp_send_ttl=32000, sctp_max_assocs=-1)
COUNTERS = {name: 0 for name in KAMAILIO_COUNTERS}
COUNTERS.update(established=4, messages_in=10, admin_connections=1)
ASSOCIATION = {
    "id": 3,
    "assoc_id": 41,
    "listener": "sctp:127.0.0.1:5060",
    "peer": "sctp:127.0.0.9:6000",
    "paths": {"127.0.0.9:6000": "active", "127.0.0.10:6000": "unreachable"},
    "state": "established",
    "outgoing": False,
    "age": 61.25,
    "idle": 1.0,
    "messages_in": 7,
    "messages_out": 6,
    "bytes_in": 700,
    "bytes_out": 600,
    "inbound_streams": 10,
    "outbound_streams": 10,
}


class FakeClient:
    """
    Stands in for L{AdminClient}: canned answers, or an exception per call.
    """

    instances: List["FakeClient"] = []

    def __init__(self, reactor: Any, endpoint: Optional[str], secretFile: Optional[str] = None, timeout: float = 10.0) -> None:
        self.endpoint = endpoint or "unix:sctp-sip.admin"
        self.secretFile = secretFile
        self.timeout = timeout
        self.calls: List[Tuple[str, Tuple[Any, ...]]] = []
        self.closed = False
        self.errors: Dict[str, BaseException] = dict(FakeClient.nextErrors)
        FakeClient.instances.append(self)

    nextErrors: Dict[str, BaseException] = {}

    def _answer(self, name: str, value: Any, *args: Any) -> "defer.Deferred[Any]":
        self.calls.append((name, args))
        if name in self.errors:
            return defer.fail(self.errors[name])
        return defer.succeed(value)

    def connect(self) -> "defer.Deferred[Any]":
        return self._answer("connect", self)

    def info(self) -> "defer.Deferred[Any]":
        return self._answer("info", dict(INFO))

    def options(self, param: Optional[str] = None) -> "defer.Deferred[Any]":
        return self._answer("options", {"options": dict(OPTIONS), "listener": "sctp:127.0.0.1:5060", "live": param is not None}, param)

    def setOption(self, name: str, value: object) -> "defer.Deferred[Any]":
        return self._answer("setOption", {"name": name, "old": 180, "new": int(str(value)), "applies": "new-associations", "listeners": 1}, name, value)

    def stats(self) -> "defer.Deferred[Any]":
        return self._answer("stats", {"counters": dict(COUNTERS), "sip": {"requests_in": 3, "sip_replies": 2}, "kernel": {"SctpCurrEstab": 2}})

    def allAssociations(self) -> "defer.Deferred[Any]":
        return self._answer("allAssociations", [dict(ASSOCIATION)])

    def abort(self, id: int, listener: Optional[str] = None, reason: Optional[str] = None) -> "defer.Deferred[Any]":
        return self._answer("abort", {"id": id, "assoc_id": 41, "listener": "sctp:127.0.0.1:5060", "peer": "sctp:127.0.0.9:6000"}, id, listener, reason)

    def shutdown(self, id: int, listener: Optional[str] = None) -> "defer.Deferred[Any]":
        return self._answer("shutdown", {"id": id, "assoc_id": 41, "listener": "sctp:127.0.0.1:5060", "peer": "sctp:127.0.0.9:6000"}, id, listener)

    def close(self) -> None:
        self.closed = True


class CtlTests(SynchronousTestCase):
    """
    The command line, its output and its exit codes.
    """

    def setUp(self) -> None:
        FakeClient.instances = []
        FakeClient.nextErrors = {}

    def run_(self, *argv: str, factory: Any = FakeClient) -> Tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = self.successResultOf(defer.Deferred.fromCoroutine(ctl.run(None, argv, out, err, factory)))
        return code, out.getvalue(), err.getvalue()

    def failWith(self, where: str, exc: BaseException, *argv: str) -> Tuple[int, str]:
        FakeClient.nextErrors = {where: exc}
        code, out, err = self.run_(*argv)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("sctp-sipctl: "), err)
        return code, err

    def test_infoTable(self) -> None:
        """
        info prints aligned name/value lines, Kamailio's three first.
        """
        code, out, err = self.run_("info")
        self.assertEqual((code, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(lines[0], "opened_connections   2")
        self.assertEqual(lines[2], "total_connections    5")
        self.assertIn("listen               sctp:127.0.0.1:5060", lines)
        self.assertIn("uptime               12.5", lines)
        self.assertTrue(FakeClient.instances[0].closed)

    def test_infoJSON(self) -> None:
        """
        info --json is one JSON object on one line with the sctp.info keys.
        """
        code, out, err = self.run_("--json", "info")
        self.assertEqual(code, 0)
        self.assertEqual(len(out.splitlines()), 1)
        self.assertEqual(json.loads(out), INFO)

    def test_optionsAfterCommand(self) -> None:
        """
        The common options may also follow the command.
        """
        code, out, err = self.run_("options", "first", "--json", "--admin", "tcp:7000", "--timeout", "3")
        self.assertEqual(code, 0)
        obj = json.loads(out)
        self.assertEqual(list(obj), ["sctp_" + n for n in OPTION_NAMES])
        client = FakeClient.instances[0]
        self.assertEqual((client.endpoint, client.timeout), ("tcp:7000", 3.0))
        self.assertEqual(client.calls[-1], ("options", ("first",)))

    def test_optionsTable(self) -> None:
        """
        options prints the 19 sctp_ names aligned, after a line saying whose
        values they are.
        """
        code, out, err = self.run_("options")
        lines = out.splitlines()
        self.assertEqual(lines[0], "# configured values (listener sctp:127.0.0.1:5060)")
        self.assertEqual(len(lines), 20)
        self.assertIn("sctp_autoclose          180", lines)
        code, out, err = self.run_("options", "127.0.0.1")
        self.assertEqual(out.splitlines()[0], "# live kernel values of sctp:127.0.0.1:5060")

    def test_set(self) -> None:
        """
        set prints the change and what it applies to; negative values parse.
        """
        code, out, err = self.run_("set", "autoclose", "120")
        self.assertEqual(code, 0)
        self.assertEqual(out, "autoclose: 180 -> 120, applies to new associations only (existing ones keep theirs), on 1 listener\n")
        code, out, err = self.run_("--json", "set", "hbinterval", "-1")
        self.assertEqual(json.loads(out)["new"], -1)

    def test_statsJSON(self) -> None:
        """
        stats --json: Kamailio's counters by name, ours beside them, SIP ones
        prefixed sip_, the kernel's SNMP under kernel.
        """
        code, out, err = self.run_("stats", "--json")
        obj = json.loads(out)
        for name in KAMAILIO_COUNTERS:
            self.assertIn(name, obj)
        self.assertEqual((obj["established"], obj["messages_in"]), (4, 10))
        self.assertEqual((obj["sip_requests_in"], obj["sip_replies"]), (3, 2))
        self.assertEqual(obj["kernel"], {"SctpCurrEstab": 2})

    def test_statsTable(self) -> None:
        """
        stats prints sections: Kamailio's counters, ours, admin, sip, kernel.
        """
        code, out, err = self.run_("stats")
        lines = out.splitlines()
        self.assertEqual(lines[0], "sctp (Kamailio's counters)")
        self.assertIn("  established                  4", lines)
        for section in ("ours", "admin", "sip", "kernel (/proc/net/sctp/snmp)"):
            self.assertIn(section, lines)
        self.assertIn("  SctpCurrEstab  2", lines)

    def test_assocs(self) -> None:
        """
        assocs prints one line per association under a header; --json gives
        {"associations": [...]}.
        """
        code, out, err = self.run_("assocs")
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("ID  ASSOC_ID  PEER PATHS"), lines[0])
        self.assertIn("127.0.0.9:6000 active, 127.0.0.10:6000 unreachable", lines[1])
        self.assertIn("61.2", lines[1])
        self.assertEqual(lines[-1], "1 association")
        code, out, err = self.run_("assocs", "--json")
        self.assertEqual(json.loads(out), {"associations": [ASSOCIATION]})

    def test_abortAndShutdown(self) -> None:
        """
        abort and shutdown pass the id, listener and reason, and say what
        was done.
        """
        code, out, err = self.run_("abort", "3", "--listener", "127.0.0.1", "--reason", "bye")
        self.assertEqual(code, 0)
        self.assertEqual(FakeClient.instances[0].calls[-1], ("abort", (3, "127.0.0.1", "bye")))
        self.assertEqual(out, "association 3 (assoc_id 41, sctp:127.0.0.9:6000 on sctp:127.0.0.1:5060): ABORT sent\n")
        code, out, err = self.run_("--json", "shutdown", "3")
        self.assertEqual(json.loads(out)["action"], "shutdown")

    def test_exitCodes(self) -> None:
        """
        Each kind of failure has its own exit code and one line on stderr.
        """
        cases = [
            ("connect", ierror.ConnectError(string="No such file or directory"), ("info",), ctl.EXIT_UNREACHABLE, "cannot reach"),
            ("connect", ierror.ConnectionRefusedError(), ("info",), ctl.EXIT_UNREACHABLE, "cannot reach"),
            ("info", ierror.ConnectionDone(), ("info",), ctl.EXIT_UNREACHABLE, "cannot reach"),
            ("info", defer.TimeoutError(), ("info",), ctl.EXIT_UNREACHABLE, "cannot reach"),
            ("connect", AuthenticationFailed("authentication failed"), ("info",), ctl.EXIT_AUTH, "authentication refused"),
            ("setOption", UnknownOption("unknown option 'x'"), ("set", "x", "1"), ctl.EXIT_UNKNOWN_OPTION, "unknown option"),
            ("setOption", ChangeRefused("autoclose: out of range"), ("set", "autoclose", "0"), ctl.EXIT_REFUSED, "refused: autoclose"),
            ("abort", UnknownAssociation("unknown association 9"), ("abort", "9"), ctl.EXIT_UNKNOWN_ASSOCIATION, "unknown association 9"),
            ("abort", AmbiguousAssociation("exists on 2 listeners"), ("abort", "1"), ctl.EXIT_ERROR, "2 listeners"),
            ("options", NotListening("not listening on sctp 1.2.3.4"), ("options", "1.2.3.4"), ctl.EXIT_ERROR, "not listening"),
            ("info", amp.UnknownRemoteError("Unknown Error"), ("info",), ctl.EXIT_ERROR, "Unknown Error"),
        ]
        codes = set()
        for where, exc, argv, expected, text in cases:
            code, err = self.failWith(where, exc, *argv)
            self.assertEqual(code, expected, (where, exc))
            self.assertIn(text, err)
            codes.add(code)
        self.assertEqual(codes, {1, 3, 4, 5, 6, 7})

    def test_usage(self) -> None:
        """
        A bad command line exits 2 with one line on stderr; so does a bad
        endpoint or secret file.
        """
        for argv in ((), ("frobnicate",), ("set", "autoclose"), ("abort", "x")):
            code, out, err = self.run_(*argv)
            self.assertEqual(code, ctl.EXIT_USAGE, argv)
            self.assertEqual(len(err.splitlines()), 1)

        def bad(*a: Any, **kw: Any) -> Any:
            raise EndpointError("the secret file s is accessible by other users")

        code, out, err = self.run_("info", factory=bad)
        self.assertEqual((code, err), (ctl.EXIT_USAGE, "sctp-sipctl: the secret file s is accessible by other users\n"))

    def test_helpDocumentsExitCodes(self) -> None:
        """
        --help lists every exit code.
        """
        text = ctl.makeParser().format_help()
        for code, meaning in ctl.EXIT_CODES:
            self.assertIn("  {}  {}".format(code, meaning), text)


class EndToEndTests(AdminTestMixin, SynchronousTestCase):
    """
    sctp-sipctl's code with the real client and admin protocol over iosim.
    """

    def test_commands(self) -> None:
        """
        Every command runs against the admin protocol and exits 0; errors
        keep their exit codes across AMP.
        """
        self.setUpAdmin()
        up(self.ports[0], 11, ("127.0.0.9", 6000))
        pumps: List[iosim.IOPump] = []

        def factory(reactor: Any, endpoint: Any, secretFile: Any = None, timeout: float = 10.0) -> AdminClient:
            client, server, pump = self.connect()
            pumps.append(pump)
            client.connect = client.authenticate  # type: ignore[method-assign, assignment]
            return client

        def run(*argv: str) -> Tuple[int, str, str]:
            out, err = io.StringIO(), io.StringIO()
            d = defer.Deferred.fromCoroutine(ctl.run(self.reactor, argv, out, err, factory))
            for _ in range(10):
                for pump in pumps:
                    pump.flush()
            return self.successResultOf(d), out.getvalue(), err.getvalue()

        for argv in (("info",), ("options",), ("options", "first"), ("set", "autoclose", "120"), ("stats",), ("assocs",), ("shutdown", "1", "--listener", "127.0.0.1")):
            code, out, err = run(*argv)
            self.assertEqual((code, err), (0, ""), argv)
        code, out, err = run("--json", "assocs")
        self.assertEqual(json.loads(out)["associations"][0]["assoc_id"], 11)
        self.assertEqual(run("set", "nope", "1")[0], ctl.EXIT_UNKNOWN_OPTION)
        self.assertEqual(run("set", "assoc_tracking", "0")[0], ctl.EXIT_REFUSED)
        self.assertEqual(run("abort", "77")[0], ctl.EXIT_UNKNOWN_ASSOCIATION)
        self.assertEqual(run("options", "tcp:127.0.0.1")[0], ctl.EXIT_ERROR)
