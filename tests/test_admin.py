# -*- test-case-name: tests.test_admin -*-
"""
Tests for L{twisted_sctp.admin.server}: every AMP command and every error through
C{iosim}, authentication, endpoint defaults and the security checks.
"""

from __future__ import annotations

import itertools

import errno
from typing import Any, Dict, List, Optional, Sequence, Tuple

from twisted.internet import defer, error as ierror
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols import amp
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.admin import server as admin
from twisted_sctp.admin.auth import challengeResponse
from twisted_sctp.transport.address import SCTPAddress
from twisted_sctp.admin.server import (
    AdminClient,
    AdminFactory,
    AdminProtocol,
    AmbiguousAssociation,
    AssociationNotReady,
    AuthenticationFailed,
    BadParam,
    BadProtocol,
    ChangeRefused,
    NoSCTPSocket,
    NotListening,
    OptionsReadFailed,
    UnknownAssociation,
    UnknownOption,
)
from twisted_sctp.kernel.constants import SendFlags
from twisted_sctp.transport.options import OPTION_NAMES, SCTPOptions
from twisted_sctp.transport.port import SCTPPort
from twisted_sctp.transport.stats import KAMAILIO_COUNTERS
from twisted_sctp.testing import FakeKernel, commUp

SECRET = b"correct horse battery staple"


class LiveKernel(FakeKernel):
    """
    A L{FakeKernel} whose live option values follow the options applied at
    start-up and the run-time changes, like the kernel's.
    """

    def __init__(self, boundPort: int = 5060) -> None:
        super().__init__(boundPort)
        self.live: Dict[str, int] = {name: 0 for name in OPTION_NAMES}
        self.live.update(autoclose=180, srto_initial=3000, hbinterval=30000)
        self.failRead: Optional[OSError] = None
        self.failWrite: Optional[OSError] = None

    def applyRuntimeOption(self, sock: Any, name: str, value: int, family: int) -> None:
        if self.failWrite is not None:
            raise self.failWrite
        super().applyRuntimeOption(sock, name, value, family)
        self.live[name] = value

    def readOptions(self, sock: Any, family: int) -> Dict[str, int]:
        if self.failRead is not None:
            raise self.failRead
        return dict(self.live)


class FakeSIPService:
    """
    What the admin needs of the SIP service: C{ports}, C{sipStats()},
    C{server}.
    """

    def __init__(self, ports: Sequence[SCTPPort]) -> None:
        self.ports = list(ports)
        self.server = None
        self.sip = {"requests_in": 7, "responses_out": 7}

    def sipStats(self) -> Dict[str, int]:
        return dict(self.sip)


def makePort(reactor: Any, hosts: Sequence[str] = ("127.0.0.1",), number: int = 5060, **options: Any) -> SCTPPort:
    """
    A started L{SCTPPort} over a L{LiveKernel}.
    """
    kernel = LiveKernel(number)
    port = SCTPPort(number, Factory.forProtocol(Protocol), list(hosts), SCTPOptions(**options), reactor, kernel=kernel)
    # Ids from a counter of this listener's own (registries take one), so the
    # tests can predict them and exercise the ambiguous-id check.
    port.registry._ids = itertools.count(1)
    port.startListening()
    return port


def up(port: SCTPPort, assocID: int, peer: Tuple[str, int]) -> Any:
    """
    Script a COMM_UP on C{port}.

    @return: the association.
    """
    port._kernel.peers[assocID] = [peer]
    port._kernel.socket.feedNotification(commUp(assocID), peer)
    port.doRead()
    return port.registry.byKernelID(assocID)


class AdminTestMixin:
    """
    Builds a service with two listeners and connects an L{AdminClient} to
    its admin protocol over C{iosim}.
    """

    secret: Optional[bytes] = None

    def setUpAdmin(self, ports: Optional[List[SCTPPort]] = None) -> None:
        self.reactor = MemoryReactorClock()
        if ports is None:
            ports = [makePort(self.reactor), makePort(self.reactor, ("127.0.0.2", "127.0.0.3"), 5070)]
        self.ports = ports
        self.sip = FakeSIPService(ports)
        self.snmp = {"SctpCurrEstab": 2, "SctpActiveEstabs": 5}
        self.factory = AdminFactory(self.reactor, self.sip, self.secret, lambda: dict(self.snmp))

    def connect(self, secret: Optional[bytes] = None) -> Tuple[AdminClient, AdminProtocol, iosim.IOPump]:
        clientProto, serverProto, pump = iosim.connectedServerAndClient(
            lambda: self.factory.buildProtocol(None), amp.AMP, greet=False
        )
        client = AdminClient.fromProtocol(self.reactor, clientProto, secret)
        return client, serverProto, pump

    def call(self, d: "defer.Deferred[Any]", pump: iosim.IOPump) -> Any:
        pump.flush()
        return self.successResultOf(d)  # type: ignore[attr-defined]

    def failed(self, d: "defer.Deferred[Any]", pump: iosim.IOPump, *kinds: type) -> Any:
        pump.flush()
        return self.failureResultOf(d, *kinds).value  # type: ignore[attr-defined]


class CommandTests(AdminTestMixin, SynchronousTestCase):
    """
    Every command, through AMP, against two fake listeners.
    """

    def setUp(self) -> None:
        self.setUpAdmin()
        self.client, self.server, self.pump = self.connect()
        self.a1 = up(self.ports[0], 11, ("127.0.0.9", 6000))
        self.a2 = up(self.ports[0], 12, ("127.0.0.9", 6001))
        self.b1 = up(self.ports[1], 21, ("127.0.0.8", 7000))

    def test_info(self) -> None:
        """
        Info sums Kamailio's three sctp.info figures over the listeners and
        adds ours.
        """
        self.reactor.advance(42)
        info = self.call(self.client.info(), self.pump)
        self.assertEqual((info["opened_connections"], info["tracked_connections"], info["total_connections"]), (3, 3, 3))
        self.assertEqual(info["listeners"], 2)
        self.assertEqual(info["listen"], ["sctp:127.0.0.1:5060", "sctp:(127.0.0.2,127.0.0.3):5070"])
        self.assertEqual(info["uptime"], 42)
        self.assertEqual((info["associations"], info["associations_established"], info["associations_connecting"]), (3, 3, 0))
        self.assertEqual(info["assoc_tracking"], 1)

    def test_infoTrackingOff(self) -> None:
        """
        With tracking off on every listener, tracked_connections is -1, as
        Kamailio's.
        """
        for name, value in (("assoc_reuse", "0"), ("assoc_tracking", "0")):
            self.call(self.client.setOption(name, value), self.pump)
        info = self.call(self.client.info(), self.pump)
        self.assertEqual(info["tracked_connections"], -1)
        self.assertEqual(info["opened_connections"], 3)
        self.assertEqual(info["assoc_tracking"], 0)

    def test_infoNoListeners(self) -> None:
        """
        Before the SIP service has started its listeners, info is all zero.
        """
        self.sip.ports = []
        info = self.call(self.client.info(), self.pump)
        self.assertEqual((info["opened_connections"], info["tracked_connections"], info["total_connections"]), (0, 0, 0))
        self.assertEqual(info["listeners"], 0)

    def test_optionsConfigured(self) -> None:
        """
        Options without a parameter gives the configured 19 options, named
        and ordered as Kamailio's sctp.options.
        """
        result = self.call(self.client.options(), self.pump)
        self.assertEqual(list(result["options"]), ["sctp_" + n for n in OPTION_NAMES])
        self.assertEqual(result["options"]["sctp_autoclose"], 180)
        self.assertEqual(result["options"]["sctp_max_assocs"], -1)
        self.assertEqual(result["options"]["sctp_send_ttl"], 32000)
        self.assertFalse(result["live"])
        self.assertEqual(result["listener"], "sctp:127.0.0.1:5060")

    def test_optionsLive(self) -> None:
        """
        Options with first, default, an address or address:port gives that
        listener's live kernel values.
        """
        self.ports[1]._kernel.live["autoclose"] = 99
        for param, listener, autoclose in (
            ("first", "sctp:127.0.0.1:5060", 180),
            ("default", "sctp:127.0.0.1:5060", 180),
            ("127.0.0.3", "sctp:(127.0.0.2,127.0.0.3):5070", 99),
            ("127.0.0.2:5070", "sctp:(127.0.0.2,127.0.0.3):5070", 99),
            ("sctp:127.0.0.1:5060", "sctp:127.0.0.1:5060", 180),
            ("SCTP:127.0.0.1", "sctp:127.0.0.1:5060", 180),
        ):
            result = self.call(self.client.options(param), self.pump)
            self.assertEqual((result["listener"], result["live"]), (listener, True), param)
            self.assertEqual(result["options"]["sctp_autoclose"], autoclose, param)
            self.assertEqual(len(result["options"]), 19)

    def test_optionsIPv6(self) -> None:
        """
        An IPv6 listener is found by [addr]:port, by the bare address, and
        default prefers an IPv4 listener.
        """
        self.sip.ports.insert(0, makePort(self.reactor, ("::1",), 5080))
        for param in ("[::1]:5080", "::1", "[::1]", "sctp:[::1]:5080"):
            result = self.call(self.client.options(param), self.pump)
            self.assertEqual(result["listener"], "sctp:[::1]:5080", param)
        result = self.call(self.client.options("default"), self.pump)
        self.assertEqual(result["listener"], "sctp:127.0.0.1:5060")
        result = self.call(self.client.options("first"), self.pump)
        self.assertEqual(result["listener"], "sctp:[::1]:5080")

    def test_optionsBadParam(self) -> None:
        """
        An unparsable parameter gives Kamailio's "bad param" fault.
        """
        for param in ("127.0.0.1:abc", "127.0.0.1:0", "127.0.0.1:70000", "sctp:", "[::1", "a:b:c", "[::1]x"):
            e = self.failed(self.client.options(param), self.pump, BadParam)
            self.assertEqual(str(e), "bad param (use address, address:port, default or first)", param)

    def test_optionsBadProtocol(self) -> None:
        """
        A protocol other than SCTP gives Kamailio's "bad protocol" fault.
        """
        for param in ("tcp:127.0.0.1:5060", "udp:127.0.0.1", "tls:[::1]:5061"):
            e = self.failed(self.client.options(param), self.pump, BadProtocol)
            self.assertEqual(str(e), "bad protocol in param (only SCTP allowed)", param)

    def test_optionsNotListening(self) -> None:
        """
        An address no listener has gives "not listening on sctp PARAM".
        """
        for param in ("127.0.0.5", "127.0.0.1:5999", "localhost:5060", "sctp:10.0.0.1:5060"):
            e = self.failed(self.client.options(param), self.pump, NotListening)
            self.assertEqual(str(e), "not listening on sctp " + param)

    def test_optionsNoSocket(self) -> None:
        """
        Without any listener, options gives "could not find a sctp socket".
        """
        self.sip.ports = []
        for param in (None, "first", "default"):
            e = self.failed(self.client.options(param), self.pump, NoSCTPSocket)
            self.assertEqual(str(e), "could not find a sctp socket")

    def test_optionsReadFailed(self) -> None:
        """
        A failing kernel read gives "failed to get socket options".
        """
        self.ports[0]._kernel.failRead = OSError(errno.EBADF, "Bad file descriptor")
        e = self.failed(self.client.options("first"), self.pump, OptionsReadFailed)
        self.assertTrue(str(e).startswith("failed to get socket options"), str(e))

    def test_setKernelOption(self) -> None:
        """
        A kernel option goes to every listener's socket and applies to new
        associations only; options ADDRESS then shows it.
        """
        result = self.call(self.client.setOption("autoclose", 120), self.pump)
        self.assertEqual(result, {"name": "autoclose", "old": 180, "new": 120, "applies": "new-associations", "listeners": 2})
        for port in self.ports:
            self.assertEqual(port._kernel.runtime, [("autoclose", 120)])
            self.assertEqual(port.options.autoclose, 120)
        live = self.call(self.client.options("127.0.0.2"), self.pump)
        self.assertEqual(live["options"]["sctp_autoclose"], 120)

    def test_setInternalOption(self) -> None:
        """
        An internal option (sctp_ prefix allowed) applies now and touches no
        socket.
        """
        result = self.call(self.client.setOption("sctp_send_ttl", "5000"), self.pump)
        self.assertEqual((result["name"], result["old"], result["new"], result["applies"]), ("send_ttl", 32000, 5000, "now"))
        self.assertEqual([p.options.send_ttl for p in self.ports], [5000, 5000])
        self.assertEqual(self.ports[0]._kernel.runtime, [])

    def test_setKeepZero(self) -> None:
        """
        0 for a "0 = keep" option is accepted and changes nothing.
        """
        result = self.call(self.client.setOption("srto_initial", 0), self.pump)
        self.assertEqual(result["applies"], "unchanged")
        self.assertEqual(self.ports[0]._kernel.runtime, [])

    def test_setHeartbeatOff(self) -> None:
        """
        hbinterval -1 (refused by the reference at run time) disables
        heartbeats for new associations.
        """
        result = self.call(self.client.setOption("hbinterval", -1), self.pump)
        self.assertEqual((result["new"], result["applies"]), (-1, "new-associations"))
        self.assertEqual(self.ports[1]._kernel.runtime, [("hbinterval", -1)])

    def test_setRefusedTrackingWhileReuse(self) -> None:
        """
        assoc_tracking 0 while assoc_reuse is 1 is refused with the reason,
        and nothing changes on any listener.
        """
        e = self.failed(self.client.setOption("assoc_tracking", 0), self.pump, ChangeRefused)
        self.assertIn("cannot turn assoc_tracking off while assoc_reuse=1", str(e))
        self.assertEqual([p.options.assoc_tracking for p in self.ports], [1, 1])

    def test_setRefused(self) -> None:
        """
        Read-only options, values out of range and values that are not
        integers are refused with the allowed values.
        """
        for name, value, text in (
            ("socket_rcvbuf", "4096", "read-only at run time"),
            ("autoclose", "0", "out of range"),
            ("send_retries", "10", "allowed: 0..9"),
            ("sack_delay", "501", "out of range"),
            ("max_assocs", "-2", "out of range"),
            ("autoclose", "soon", "not an integer"),
        ):
            e = self.failed(self.client.setOption(name, value), self.pump, ChangeRefused)
            self.assertIn(text, str(e), (name, value))
            self.assertTrue(str(e).startswith(name + ":"), str(e))

    def test_setRefusedNothingChanged(self) -> None:
        """
        A change the second listener refuses is not applied to the first.
        """
        self.ports[1].options = SCTPOptions(assoc_reuse=0, assoc_tracking=1, srto_max=2000)
        self.failed(self.client.setOption("srto_min", 3000), self.pump, ChangeRefused)
        self.assertEqual(self.ports[0].options.srto_min, 0)
        self.assertEqual(self.ports[0]._kernel.runtime, [])

    def test_setKernelRefused(self) -> None:
        """
        A change the kernel refuses is reported, naming the listener.
        """
        self.ports[1]._kernel.failWrite = OSError(errno.EINVAL, "Invalid argument")
        e = self.failed(self.client.setOption("sack_delay", 300), self.pump, ChangeRefused)
        self.assertIn("the kernel refused sack_delay=300 on sctp:(127.0.0.2,127.0.0.3):5070", str(e))
        self.assertIn("applied on: sctp:127.0.0.1:5060", str(e))

    def test_setUnknownOption(self) -> None:
        """
        An unknown option name has its own error, listing the valid names.
        """
        e = self.failed(self.client.setOption("autoclos", 1), self.pump, UnknownOption)
        self.assertIn("unknown option 'autoclos'", str(e))
        self.assertIn("sctp_", "sctp_" + str(e))
        self.assertIn("max_burst", str(e))

    def test_setNoListener(self) -> None:
        """
        Without listeners there is nothing to change.
        """
        self.sip.ports = []
        self.failed(self.client.setOption("autoclose", 1), self.pump, NoSCTPSocket)

    def test_stats(self) -> None:
        """
        Stats has Kamailio's 11 counters summed, ours, the admin's, the SIP
        layer's and the kernel's SNMP.
        """
        self.ports[0]._kernel.socket.feedData(b"hello", 11, ("127.0.0.9", 6000))
        self.ports[0].doRead()
        result = self.call(self.client.stats(), self.pump)
        counters = result["counters"]
        for name in KAMAILIO_COUNTERS:
            self.assertIn(name, counters)
        self.assertEqual(counters["established"], 3)
        self.assertEqual(counters["current_opened_connections"], 3)
        self.assertEqual(counters["current_tracked_connections"], 3)
        self.assertEqual((counters["messages_in"], counters["bytes_in"]), (1, 5))
        self.assertEqual(counters["drop_oversize"], 0)
        self.assertEqual(counters["admin_connections"], 1)
        self.assertEqual(counters["admin_commands"], 1)
        self.assertEqual(result["sip"], {"requests_in": 7, "responses_out": 7})
        self.assertEqual(result["kernel"], self.snmp)

    def test_associations(self) -> None:
        """
        Associations lists every live association with its listener, ids,
        peer paths, state, age and traffic.
        """
        self.reactor.advance(5)
        self.ports[0]._kernel.socket.feedData(b"hello", 12, ("127.0.0.9", 6001))
        self.ports[0].doRead()
        result = self.call(self.client.associations(), self.pump)
        self.assertEqual((result["total"], result["offset"]), (3, 0))
        entries = result["associations"]
        self.assertEqual([(e["listener"], e["id"], e["assoc_id"]) for e in entries], [
            ("sctp:127.0.0.1:5060", 1, 11),
            ("sctp:127.0.0.1:5060", 2, 12),
            ("sctp:(127.0.0.2,127.0.0.3):5070", 1, 21),
        ])
        second = entries[1]
        self.assertEqual(second["paths"], {"127.0.0.9:6001": "active"})
        self.assertEqual((second["state"], second["age"], second["messages_in"], second["bytes_in"]), ("established", 5, 1, 5))
        self.assertEqual(second["messages_out"], 0)

    def test_associationsListEveryPath(self) -> None:
        """
        A multihomed peer's association is listed with every address the
        kernel reports, though COMM_UP did not ask for them: the listing
        asks, for the records it shows.
        """
        kernel = self.ports[0]._kernel
        kernel.peers[11] = [("127.0.0.9", 6000), ("127.0.0.10", 6000)]
        asked = len(kernel.peerQueries)
        result = self.call(self.client.associations(limit=1), self.pump)
        [first] = result["associations"]
        self.assertEqual(first["assoc_id"], 11)
        self.assertEqual(first["paths"], {"127.0.0.9:6000": "active", "127.0.0.10:6000": "active"})
        self.assertEqual(first["peer"], "sctp:(127.0.0.9,127.0.0.10):6000")
        self.assertEqual(kernel.peerQueries[asked:], [11])

    def test_associationsPaged(self) -> None:
        """
        limit and offset page the list; total counts them all;
        allAssociations walks every page.
        """
        for i in range(30):
            up(self.ports[0], 100 + i, ("127.0.0.9", 8000 + i))
        page = self.call(self.client.associations(offset=10, limit=7), self.pump)
        self.assertEqual((page["total"], page["offset"], len(page["associations"])), (33, 10, 7))
        self.assertEqual(page["associations"][0]["id"], 11)
        everything = self.call(self.client.allAssociations(pageSize=8), self.pump)
        self.assertEqual(len(everything), 33)
        past = self.call(self.client.associations(offset=40), self.pump)
        self.assertEqual(past["associations"], [])

    def test_associationsFitOneValue(self) -> None:
        """
        A page never exceeds one AMP value, whatever the limit asked for.
        """
        hosts = ["10.1.{}.{}".format(i // 200, i % 200) for i in range(40)]
        for i in range(600):
            assoc = up(self.ports[0], 1000 + i, ("127.0.0.9", 10000 + i))
            self.ports[0].registry.setPaths(assoc, [(h, 10000 + i) for h in hosts[:4]])
        page = self.call(self.client.associations(limit=10000), self.pump)
        self.assertEqual(page["total"], 603)
        self.assertLess(len(page["associations"]), 500)
        self.assertGreater(len(page["associations"]), 50)
        everything = self.call(self.client.allAssociations(pageSize=500), self.pump)
        self.assertEqual(len(everything), 603)

    def test_abort(self) -> None:
        """
        AbortAssociation sends an ABORT on that association, with the reason.
        """
        sock = self.ports[0]._kernel.socket
        result = self.call(self.client.abort(2, listener="127.0.0.1", reason="maintenance"), self.pump)
        self.assertEqual(result, {"id": 2, "assoc_id": 12, "listener": "sctp:127.0.0.1:5060", "peer": "sctp:127.0.0.9:6001"})
        data, info, address = sock.sent[-1]
        self.assertEqual((data, info.assocID, address), (b"maintenance", 12, None))
        self.assertTrue(info.flags & SendFlags.ABORT)

    def test_shutdown(self) -> None:
        """
        ShutdownAssociation starts a graceful SHUTDOWN (SCTP_EOF).
        """
        sock = self.ports[1]._kernel.socket
        result = self.call(self.client.shutdown(1, listener="sctp:(127.0.0.2,127.0.0.3):5070"), self.pump)
        self.assertEqual((result["id"], result["assoc_id"]), (1, 21))
        data, info, address = sock.sent[-1]
        self.assertEqual((data, info.assocID), (b"", 21))
        self.assertTrue(info.flags & SendFlags.EOF)
        self.assertEqual(self.b1.state.value, "shutting-down")

    def test_abortUnknown(self) -> None:
        """
        An id no live association has gives UnknownAssociation.
        """
        for d in (self.client.abort(99), self.client.shutdown(99), self.client.abort(0), self.client.abort(2, "127.0.0.2")):
            e = self.failed(d, self.pump, UnknownAssociation)
            self.assertIn("unknown association", str(e))

    def test_abortAmbiguous(self) -> None:
        """
        Ids are per listener: id 1 exists on both, so the listener must be
        named.
        """
        e = self.failed(self.client.abort(1), self.pump, AmbiguousAssociation)
        self.assertIn("exists on 2 listeners", str(e))
        self.assertEqual(self.call(self.client.abort(2), self.pump)["assoc_id"], 12)

    def test_abortNotReady(self) -> None:
        """
        An outgoing association with no kernel id yet cannot be aborted.
        """
        assoc = self.ports[0].registry.connecting(SCTPAddress("127.0.0.7", 9000))
        e = self.failed(self.client.abort(assoc.id), self.pump, AssociationNotReady)
        self.assertIn("still connecting", str(e))


class AuthenticationTests(AdminTestMixin, SynchronousTestCase):
    """
    With a secret, nothing is answered before a valid Authenticate.
    """

    secret = SECRET

    def setUp(self) -> None:
        self.setUpAdmin()

    def test_authenticated(self) -> None:
        """
        The right secret authenticates; commands are then answered.
        """
        client, server, pump = self.connect(SECRET)
        self.call(client.authenticate(), pump)
        self.assertTrue(server.authenticated)
        self.assertEqual(self.call(client.info(), pump)["listeners"], 2)
        self.assertEqual(self.factory.counters.auth_failures, 0)

    def test_noAnswerBeforeAuthentication(self) -> None:
        """
        Any command before authenticating gets no answer: the connection is
        dropped, and the drop is counted.
        """
        for call in ("info", "stats", "options", "associations"):
            client, server, pump = self.connect()
            f = self.failed(getattr(client, call)(), pump, ierror.ConnectionDone, ierror.ConnectionLost)
            self.assertFalse(isinstance(f, amp.RemoteAmpError))
            self.assertTrue(server.transport is None or server.transport.disconnected)  # type: ignore[attr-defined]
        client, server, pump = self.connect()
        self.failed(client.setOption("autoclose", 1), pump, ierror.ConnectionDone, ierror.ConnectionLost)
        self.assertEqual(self.ports[0].options.autoclose, 180)
        client, server, pump = self.connect()
        self.failed(client.abort(1, "127.0.0.1"), pump, ierror.ConnectionDone, ierror.ConnectionLost)
        self.assertEqual(self.ports[0]._kernel.socket.sent, [])
        self.assertEqual(self.factory.counters.refused, 6)

    def test_wrongSecret(self) -> None:
        """
        A wrong secret is refused with AuthenticationFailed and counted; the
        connection stays for another try until the third failure.
        """
        client, server, pump = self.connect(b"wrong")
        e = self.failed(client.authenticate(), pump, AuthenticationFailed)
        self.assertEqual(str(e), "authentication failed")
        self.assertEqual((self.factory.counters.auth_failures, server.failures), (1, 1))
        client._secret = SECRET
        self.call(client.authenticate(), pump)
        self.assertTrue(server.authenticated)

    def test_threeFailuresDrop(self) -> None:
        """
        The third failure is answered, then the connection is dropped.
        """
        client, server, pump = self.connect(b"wrong")
        for i in range(2):
            self.failed(client.authenticate(), pump, AuthenticationFailed)
        e = self.failed(client.authenticate(), pump, AuthenticationFailed)
        self.assertIn("too many failures", str(e))
        self.assertEqual(self.factory.counters.auth_failures, 3)
        self.failed(client.info(), pump, ierror.ConnectionDone, ierror.ConnectionLost)
        self.assertEqual(self.factory.counters.refused, 1)

    def test_authenticateWithoutChallenge(self) -> None:
        """
        An Authenticate without a Challenge first fails: there is no nonce,
        so a recorded answer cannot be replayed.
        """
        client, server, pump = self.connect(SECRET)
        nonceResponse = challengeResponse(SECRET, b"\0" * 32)
        d = client._call(admin.Authenticate, response=nonceResponse)
        e = self.failed(d, pump, AuthenticationFailed)
        self.assertIn("no Challenge", str(e))

    def test_replayRefused(self) -> None:
        """
        An answer is valid for one nonce only.
        """
        client, server, pump = self.connect(SECRET)
        challenge = self.call(client._call(admin.Challenge), pump)
        response = challengeResponse(SECRET, challenge["nonce"])
        other, otherServer, otherPump = self.connect()
        self.call(other._call(admin.Challenge), otherPump)
        self.failed(other._call(admin.Authenticate, response=response), otherPump, AuthenticationFailed)
        self.call(client._call(admin.Authenticate, response=response), pump)
        self.assertTrue(server.authenticated)
        self.assertFalse(otherServer.authenticated)

    def test_noSecretGiven(self) -> None:
        """
        A client without a secret learns from the challenge that one is
        required, and fails without sending a guess.
        """
        client, server, pump = self.connect()
        e = self.failed(client.authenticate(), pump, AuthenticationFailed)
        self.assertIn("requires authentication", str(e))
        self.assertEqual(self.factory.counters.auth_failures, 0)

    def test_timeout(self) -> None:
        """
        A client that does not authenticate in time is dropped.
        """
        client, server, pump = self.connect()
        self.reactor.advance(admin.AUTH_TIMEOUT + 1)
        pump.flush()
        self.assertTrue(server._dropped)
        self.failed(client.info(), pump, ierror.ConnectionDone, ierror.ConnectionLost)

    def test_tooMuchBeforeAuthentication(self) -> None:
        """
        A client sending more than MAX_PRE_AUTH_BYTES before authenticating
        is dropped (an AMP box could otherwise grow without bound).
        """
        client, server, pump = self.connect()
        server.dataReceived(b"\x00\x05hello" * 4000)
        self.assertTrue(server._dropped)

    def test_noSecretNoGate(self) -> None:
        """
        Without a secret (a local endpoint), commands need no
        authentication, and Authenticate succeeds.
        """
        self.factory.secret = None
        client, server, pump = self.connect()
        self.assertEqual(self.call(client.info(), pump)["listeners"], 2)
        self.call(client.authenticate(), pump)
