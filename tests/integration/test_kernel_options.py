"""
Real-kernel tests of L{twisted_sctp.kernel.sctpsocket}: every option we set is read
back from the kernel (run under scripts/with-sctp-kernel).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
from typing import Callable, Dict, List, Optional, Tuple

from twisted.trial.unittest import SynchronousTestCase

from tests.integration.support import requireSCTP
from twisted_sctp.kernel import sctpsocket
from twisted_sctp.kernel.constants import (
    IPPROTO_SCTP,
    MSG_NOTIFICATION,
    SOL_SCTP,
    AssocChangeState,
    AssocState,
    NotificationType,
    SockOpt,
    SPPFlags,
)
from twisted_sctp.transport.options import INTERNAL_OPTIONS, KERNEL_OPTIONS, OPTION_NAMES, SCTPOptions
from twisted_sctp.kernel.sockopt import EventSubscribe, packSockaddrs

_SYSCTL = "/proc/sys/net/sctp/"
_ASSOC_CHANGE = struct.Struct("=HHIHHHHi")


def _sysctl(name: str) -> int:
    with open(_SYSCTL + name) as f:
        return int(f.read().split()[0])


class _KernelCase(SynchronousTestCase):
    """
    Opens sockets that are closed after the test.
    """

    def setUp(self) -> None:
        requireSCTP()

    def newSocket(self, family: int = socket.AF_INET) -> socket.socket:
        sock = sctpsocket.openSocket(family)
        self.addCleanup(sock.close)
        return sock

    def listener(
        self,
        hosts: Tuple[str, ...] = ("127.0.0.1",),
        options: Optional[SCTPOptions] = None,
        family: int = socket.AF_INET,
    ) -> Tuple[socket.socket, int]:
        sock = self.newSocket(family)
        sctpsocket.applyOptions(sock, options or SCTPOptions(), family)
        port, failures = sctpsocket.bindAddresses(sock, list(hosts), 0)
        self.assertEqual(failures, [])
        sock.listen(16)
        return sock, port

    def waitFor(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 5
        while not predicate():
            if time.monotonic() > deadline:
                self.fail("timed out waiting for " + what)
            time.sleep(0.01)

    def commUp(self, sock: socket.socket, assocID: Optional[int] = None) -> int:
        """
        Read notifications until a COMM_UP (for C{assocID} if given).

        @return: its assoc_id.
        """
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            select.select([sock], [], [], 0.5)
            try:
                data, _, flags, _ = sock.recvmsg(65536, 1024)
            except BlockingIOError:
                continue
            if not flags & MSG_NOTIFICATION:
                continue
            kind, _, _, state, _, _, _, aid = _ASSOC_CHANGE.unpack_from(data)
            if kind == NotificationType.ASSOC_CHANGE and state == AssocChangeState.COMM_UP:
                if assocID is None or aid == assocID:
                    return int(aid)
        self.fail("no COMM_UP")


class OptionRoundTripTests(_KernelCase):
    """
    Each of the 19 options, set on a fresh socket and read back.
    """

    def roundTrip(self, name: str, value: int, expected: Optional[int] = None) -> Dict[str, int]:
        sock = self.newSocket()
        options = SCTPOptions(**{name: value})
        warnings = sctpsocket.applyOptions(sock, options, socket.AF_INET)
        self.assertEqual(warnings, [])
        live = sctpsocket.readOptions(sock, socket.AF_INET)
        self.assertEqual(list(live), list(OPTION_NAMES))
        self.assertEqual(live[name], value if expected is None else expected)
        return live

    def internal(self, name: str, value: int) -> None:
        options = SCTPOptions(**{name: value, "assoc_reuse": 0})
        sock = self.newSocket()
        sctpsocket.applyOptions(sock, options, socket.AF_INET)
        live = sctpsocket.readOptions(sock, socket.AF_INET)
        self.assertEqual(live[name], 0)
        self.assertEqual(getattr(options, name), value)
        defaults = self.newSocket()
        sctpsocket.applyOptions(defaults, SCTPOptions(assoc_reuse=0), socket.AF_INET)
        self.assertEqual(live, sctpsocket.readOptions(defaults, socket.AF_INET))

    def test_socketRcvbuf(self) -> None:
        """
        socket_rcvbuf=65536 reads back as 65536 (SO_RCVBUF halved).
        """
        self.roundTrip("socket_rcvbuf", 65536)

    def test_socketSndbuf(self) -> None:
        """
        socket_sndbuf=65536 reads back as 65536.
        """
        self.roundTrip("socket_sndbuf", 65536)

    def test_autoclose(self) -> None:
        """
        autoclose=77 is the socket's SCTP_AUTOCLOSE (checklist 4).
        """
        sock = self.newSocket()
        sctpsocket.applyOptions(sock, SCTPOptions(autoclose=77), socket.AF_INET)
        self.assertEqual(sock.getsockopt(SOL_SCTP, SockOpt.AUTOCLOSE), 77)
        self.roundTrip("autoclose", 77)
        self.roundTrip("autoclose", 0)

    def test_autocloseClamped(self) -> None:
        """
        The kernel clamps autoclose to net.sctp.max_autoclose, and
        L{sctpsocket.applyOptions} warns.
        """
        sock = self.newSocket()
        warnings = sctpsocket.applyOptions(sock, SCTPOptions(autoclose=2**30), socket.AF_INET)
        limit = _sysctl("max_autoclose")
        self.assertEqual(sctpsocket.readOptions(sock, socket.AF_INET)["autoclose"], limit)
        self.assertEqual(len(warnings), 1)
        self.assertIn("max_autoclose", warnings[0])

    def test_sendTTL(self) -> None:
        """
        send_ttl is not kernel state.
        """
        self.internal("send_ttl", 5)

    def test_sendRetries(self) -> None:
        """
        send_retries is not kernel state.
        """
        self.internal("send_retries", 2)

    def test_assocTracking(self) -> None:
        """
        assoc_tracking is not kernel state.
        """
        self.internal("assoc_tracking", 0)

    def test_assocReuse(self) -> None:
        """
        assoc_reuse is not kernel state.
        """
        self.internal("assoc_reuse", 0)

    def test_maxAssocs(self) -> None:
        """
        max_assocs is not kernel state.
        """
        self.internal("max_assocs", 3)

    def test_srtoInitial(self) -> None:
        """
        srto_initial goes to SCTP_RTOINFO.
        """
        self.roundTrip("srto_initial", 2500)

    def test_srtoMax(self) -> None:
        """
        srto_max goes to SCTP_RTOINFO.
        """
        self.roundTrip("srto_max", 50000)

    def test_srtoMin(self) -> None:
        """
        srto_min goes to SCTP_RTOINFO.
        """
        live = self.roundTrip("srto_min", 700)
        self.assertEqual(live["srto_max"], _sysctl("rto_max"))

    def test_asocmaxrxt(self) -> None:
        """
        asocmaxrxt goes to SCTP_ASSOCINFO.
        """
        self.roundTrip("asocmaxrxt", 7)

    def test_initMaxAttempts(self) -> None:
        """
        init_max_attempts goes to SCTP_INITMSG.
        """
        live = self.roundTrip("init_max_attempts", 3)
        self.assertEqual(live["init_max_timeo"], _sysctl("rto_max"))

    def test_initMaxTimeo(self) -> None:
        """
        init_max_timeo goes to SCTP_INITMSG, up to 65535.
        """
        self.roundTrip("init_max_timeo", 9000)
        self.roundTrip("init_max_timeo", 65535)

    def test_hbinterval(self) -> None:
        """
        hbinterval goes to SCTP_PEER_ADDR_PARAMS with heartbeats on.
        """
        self.roundTrip("hbinterval", 4000)

    def test_hbintervalDisable(self) -> None:
        """
        hbinterval=-1 at start-up sets SPP_HB_DISABLE (reads back -1).
        """
        self.roundTrip("hbinterval", -1)

    def test_pathmaxrxt(self) -> None:
        """
        pathmaxrxt goes to SCTP_PEER_ADDR_PARAMS.
        """
        self.roundTrip("pathmaxrxt", 3)

    def test_sackDelay(self) -> None:
        """
        sack_delay goes to SCTP_DELAYED_SACK, up to 500.
        """
        self.roundTrip("sack_delay", 120)
        self.roundTrip("sack_delay", 500)

    def test_sackDelayAboveLinuxLimit(self) -> None:
        """
        Linux refuses sack_delay 501 with EINVAL (why the range stops at 500).
        """
        sock = self.newSocket()
        e = self.assertRaises(
            OSError, sock.setsockopt, SOL_SCTP, SockOpt.DELAYED_SACK,
            struct.pack("@iII", 0, 501, 0),
        )
        self.assertEqual(e.errno, errno.EINVAL)

    def test_sackFreq(self) -> None:
        """
        sack_freq goes to SCTP_DELAYED_SACK; 1 turns delayed SACK off.
        """
        self.roundTrip("sack_freq", 3)
        live = self.roundTrip("sack_freq", 1)
        self.assertEqual(live["sack_delay"], 0)

    def test_maxBurst(self) -> None:
        """
        max_burst goes to SCTP_MAX_BURST.
        """
        self.roundTrip("max_burst", 6)

    def test_everything(self) -> None:
        """
        All kernel options at once, against IPv4 and IPv6 sockets.
        """
        values = dict(
            socket_rcvbuf=32768, socket_sndbuf=49152, autoclose=33,
            srto_initial=1500, srto_max=20000, srto_min=600, asocmaxrxt=12,
            init_max_attempts=4, init_max_timeo=7000, hbinterval=6000,
            pathmaxrxt=4, sack_delay=150, sack_freq=2, max_burst=5,
        )
        for family in (socket.AF_INET, socket.AF_INET6):
            sock = self.newSocket(family)
            self.assertEqual(sctpsocket.applyOptions(sock, SCTPOptions(**values), family), [])
            live = sctpsocket.readOptions(sock, family)
            self.assertEqual({k: live[k] for k in values}, values)
            self.assertEqual(set(values), set(KERNEL_OPTIONS))
            self.assertEqual({k: live[k] for k in INTERNAL_OPTIONS}, dict.fromkeys(INTERNAL_OPTIONS, 0))


class DefaultsTests(_KernelCase):
    """
    OS defaults and the listen socket's fixed settings (checklist 2-6).
    """

    def test_osDefaultsAreSysctls(self) -> None:
        """
        L{sctpsocket.osDefaults} equals /proc/sys/net/sctp (checklist 2).
        """
        d = sctpsocket.osDefaults()
        expected = {
            "srto_initial": _sysctl("rto_initial"),
            "srto_max": _sysctl("rto_max"),
            "srto_min": _sysctl("rto_min"),
            "asocmaxrxt": _sysctl("association_max_retrans"),
            "init_max_attempts": _sysctl("max_init_retransmits"),
            "init_max_timeo": _sysctl("rto_max"),
            "hbinterval": _sysctl("hb_interval"),
            "pathmaxrxt": _sysctl("path_max_retrans"),
            "sack_delay": _sysctl("sack_timeout"),
            "sack_freq": 2,
            "max_burst": _sysctl("max_burst"),
            "autoclose": 0,
        }
        self.assertEqual({k: d[k] for k in expected}, expected)
        self.assertEqual(set(d), set(KERNEL_OPTIONS))
        self.assertEqual(sctpsocket.osDefaults(socket.AF_INET6), d)

    def test_buffersHalved(self) -> None:
        """
        socket_rcvbuf/sndbuf are SO_RCVBUF/SO_SNDBUF divided by 2
        (checklist 3), before and after setting them.
        """
        d = sctpsocket.osDefaults()
        raw = self.newSocket()
        self.assertEqual(d["socket_rcvbuf"], raw.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2)
        self.assertEqual(d["socket_sndbuf"], raw.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2)
        sock = self.newSocket()
        sctpsocket.applyOptions(sock, SCTPOptions(socket_rcvbuf=40000), socket.AF_INET)
        self.assertEqual(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF), 80000)

    def test_bufferClampWarns(self) -> None:
        """
        A buffer the kernel adjusts gives a warning naming the option.
        """
        sock = self.newSocket()
        warnings = sctpsocket.applyOptions(sock, SCTPOptions(socket_rcvbuf=2**30), socket.AF_INET)
        self.assertEqual(len(warnings), 1)
        self.assertIn("socket_rcvbuf", warnings[0])

    def test_listenSocket(self) -> None:
        """
        A listen socket is a non-blocking SEQPACKET/SCTP socket with
        NODELAY=1, FRAGMENT_INTERLEAVE=1 (our deviation from checklist 5's
        0: see kerneloptions.FRAGMENT_INTERLEAVE), DISABLE_FRAGMENTS=0 and
        PARTIAL_DELIVERY_POINT = rcvbuf/2 (checklist 4 and 5).
        """
        sock, _ = self.listener()
        self.assertEqual(sock.type, socket.SOCK_SEQPACKET)
        self.assertEqual(sock.proto, IPPROTO_SCTP)
        self.assertFalse(sock.getblocking())
        self.assertEqual(sock.getsockopt(SOL_SCTP, SockOpt.NODELAY), 1)
        self.assertEqual(sock.getsockopt(SOL_SCTP, SockOpt.FRAGMENT_INTERLEAVE), 1)
        self.assertEqual(sock.getsockopt(SOL_SCTP, SockOpt.DISABLE_FRAGMENTS), 0)
        self.assertEqual(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR), 1)
        point = sock.getsockopt(SOL_SCTP, SockOpt.PARTIAL_DELIVERY_POINT)
        self.assertEqual(point, sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2)

    def test_interleaveLevelZeroSelectable(self) -> None:
        """
        The reference's level 0 is still there for the asking
        (C{applyOptions(..., interleave=0)}, C{KernelBackend.fragmentInterleave}).
        """
        sock = self.newSocket()
        self.assertEqual(sctpsocket.applyOptions(sock, SCTPOptions(), socket.AF_INET, interleave=0), [])
        self.assertEqual(sock.getsockopt(SOL_SCTP, SockOpt.FRAGMENT_INTERLEAVE), 0)

    def test_events(self) -> None:
        """
        Exactly data_io, association, address, send_failure, peer_error,
        shutdown and partial_delivery are on (checklist 6).
        """
        sock, _ = self.listener()
        data = sctpsocket.getsockoptBuffer(sock, SOL_SCTP, SockOpt.EVENTS, bytes(14))
        self.assertEqual(
            EventSubscribe.unpack(data),
            EventSubscribe(dataIO=1, association=1, address=1, sendFailure=1,
                           peerError=1, shutdown=1, partialDelivery=1),
        )
        self.assertEqual(data, b"\x01" * 7 + b"\x00" * 7)
        self.assertEqual(sock.getsockopt(SOL_SCTP, SockOpt.RECVRCVINFO), 0)


class RuntimeTests(_KernelCase):
    """
    Run-time changes reach future associations only (checklist 14).
    """

    def beforeAndAfter(
        self, name: str, value: int
    ) -> Tuple[Dict[str, int], Dict[str, int], Dict[str, int]]:
        """
        Open association A, change C{name} on the client socket, open B.

        @return: A's and B's parameters and the socket's live options.
        """
        _, port1 = self.listener()
        _, port2 = self.listener()
        client = self.newSocket()
        sctpsocket.applyOptions(client, SCTPOptions(), socket.AF_INET)
        before = sctpsocket.connectx(client, [("127.0.0.1", port1)])
        sctpsocket.applyRuntimeOption(client, name, value, socket.AF_INET)
        after = sctpsocket.connectx(client, [("127.0.0.1", port2)])
        self.assertNotEqual(before, after)
        a = sctpsocket.readAssociationParameters(client, before, socket.AF_INET)
        b = sctpsocket.readAssociationParameters(client, after, socket.AF_INET)
        return a, b, sctpsocket.readOptions(client, socket.AF_INET)

    def futureOnly(self, name: str, value: int) -> None:
        a, b, live = self.beforeAndAfter(name, value)
        default = sctpsocket.osDefaults()[name]
        self.assertNotEqual(default, value)
        self.assertEqual((a[name], b[name], live[name]), (default, value, value))

    def test_srtoInitial(self) -> None:
        """
        srto_initial reaches new associations only.
        """
        self.futureOnly("srto_initial", 2500)

    def test_srtoMax(self) -> None:
        """
        srto_max reaches new associations only.
        """
        self.futureOnly("srto_max", 40000)

    def test_srtoMin(self) -> None:
        """
        srto_min reaches new associations only.
        """
        self.futureOnly("srto_min", 800)

    def test_asocmaxrxt(self) -> None:
        """
        asocmaxrxt reaches new associations only.
        """
        self.futureOnly("asocmaxrxt", 6)

    def test_hbinterval(self) -> None:
        """
        hbinterval reaches new associations only.
        """
        self.futureOnly("hbinterval", 7000)

    def test_hbintervalDisable(self) -> None:
        """
        Run-time hbinterval=-1 gives new associations SPP_HB_DISABLE; older
        ones keep heartbeats on (the reference's quirk fixed).
        """
        a, b, live = self.beforeAndAfter("hbinterval", -1)
        self.assertTrue(a["spp_flags"] & SPPFlags.HB_ENABLE)
        self.assertTrue(b["spp_flags"] & SPPFlags.HB_DISABLE)
        self.assertFalse(b["spp_flags"] & SPPFlags.HB_ENABLE)
        self.assertEqual((b["hbinterval"], live["hbinterval"]), (-1, -1))

    def test_pathmaxrxt(self) -> None:
        """
        pathmaxrxt reaches new associations only.
        """
        self.futureOnly("pathmaxrxt", 3)

    def test_sackDelay(self) -> None:
        """
        sack_delay reaches new associations only.
        """
        self.futureOnly("sack_delay", 100)

    def test_sackFreq(self) -> None:
        """
        sack_freq reaches new associations only.
        """
        self.futureOnly("sack_freq", 4)

    def test_maxBurst(self) -> None:
        """
        max_burst reaches new associations only.
        """
        self.futureOnly("max_burst", 9)

    def test_socketLevel(self) -> None:
        """
        autoclose and init_* (socket-level only: the kernel has no
        per-association read for them) change the live value; 0 keeps it.
        """
        sock, _ = self.listener()
        for name, value in [("autoclose", 45), ("init_max_attempts", 2), ("init_max_timeo", 5000)]:
            sctpsocket.applyRuntimeOption(sock, name, value, socket.AF_INET)
            self.assertEqual(sctpsocket.readOptions(sock, socket.AF_INET)[name], value)
        before = sctpsocket.readOptions(sock, socket.AF_INET)
        for name in KERNEL_OPTIONS:
            if name not in ("socket_rcvbuf", "socket_sndbuf", "autoclose"):
                sctpsocket.applyRuntimeOption(sock, name, 0, socket.AF_INET)
        self.assertEqual(sctpsocket.readOptions(sock, socket.AF_INET), before)
        self.assertRaises(ValueError, sctpsocket.applyRuntimeOption, sock, "socket_rcvbuf", 4096, socket.AF_INET)

    def test_incomingAssociations(self) -> None:
        """
        A change on a listener reaches incoming associations set up after it,
        not the ones before.
        """
        server, port = self.listener()
        first = self.newSocket()
        second = self.newSocket()
        sctpsocket.connectx(first, [("127.0.0.1", port)])
        self.waitFor(lambda: len(sctpsocket.assocIDs(server)) == 1, "first association")
        (old,) = sctpsocket.assocIDs(server)
        sctpsocket.applyRuntimeOption(server, "srto_initial", 2000, socket.AF_INET)
        sctpsocket.connectx(second, [("127.0.0.1", port)])
        self.waitFor(lambda: len(sctpsocket.assocIDs(server)) == 2, "second association")
        (new,) = set(sctpsocket.assocIDs(server)) - {old}
        read = sctpsocket.readAssociationParameters
        self.assertEqual(read(server, old, socket.AF_INET)["srto_initial"], _sysctl("rto_initial"))
        self.assertEqual(read(server, new, socket.AF_INET)["srto_initial"], 2000)


class AddressTests(_KernelCase):
    """
    Binding, connecting and reading addresses and counters.
    """

    def test_multihomedBind(self) -> None:
        """
        The primary is bound and the secondary added with bindx (checklist 8).
        """
        sock = self.newSocket()
        port, failures = sctpsocket.bindAddresses(sock, ["127.0.0.1", "127.0.0.2"], 0)
        self.assertEqual(failures, [])
        self.assertNotEqual(port, 0)
        self.assertEqual(
            sorted(sctpsocket.localAddresses(sock)),
            [("127.0.0.1", port), ("127.0.0.2", port)],
        )

    def test_badSecondary(self) -> None:
        """
        A secondary address that cannot be bound is reported, not fatal.
        """
        sock = self.newSocket()
        port, failures = sctpsocket.bindAddresses(
            sock, ["127.0.0.1", "192.0.2.55", "not-an-address", "127.0.0.3"], 0
        )
        self.assertEqual([host for host, _ in failures], ["192.0.2.55", "not-an-address"])
        self.assertEqual(failures[0][1].errno, errno.EADDRNOTAVAIL)
        self.assertEqual(
            sorted(sctpsocket.localAddresses(sock)), [("127.0.0.1", port), ("127.0.0.3", port)]
        )

    def test_badPrimary(self) -> None:
        """
        A primary address that cannot be bound raises.
        """
        sock = self.newSocket()
        e = self.assertRaises(OSError, sctpsocket.bindAddresses, sock, ["192.0.2.55", "127.0.0.1"], 0)
        self.assertEqual(e.errno, errno.EADDRNOTAVAIL)

    def test_connectx(self) -> None:
        """
        L{sctpsocket.connectx} returns the assoc id of the association whose
        COMM_UP follows; its peer, status and id list agree.
        """
        _, port = self.listener(("127.0.0.1", "127.0.0.2"))
        client = self.newSocket()
        sctpsocket.applyOptions(client, SCTPOptions(), socket.AF_INET)
        assocID = sctpsocket.connectx(client, [("127.0.0.1", port), ("127.0.0.2", port)])
        self.assertGreater(assocID, 0)
        self.assertEqual(self.commUp(client), assocID)
        self.assertEqual(sctpsocket.assocIDs(client), [assocID])
        self.assertEqual(
            sorted(sctpsocket.peerAddresses(client, assocID)),
            [("127.0.0.1", port), ("127.0.0.2", port)],
        )
        status = sctpsocket.associationStatus(client, assocID)
        self.assertEqual((status.assocID, status.state), (assocID, AssocState.ESTABLISHED))
        local = sctpsocket.localAddresses(client, assocID)
        self.assertIn("127.0.0.1", [host for host, _ in local])

    def test_connectxLegacy(self) -> None:
        """
        The C{SCTP_SOCKOPT_CONNECTX} fallback gives the assoc id on a blocking
        socket and 0 (unknown) on a non-blocking one.
        """
        _, port1 = self.listener()
        _, port2 = self.listener()
        client = self.newSocket()
        client.setblocking(True)
        assocID = sctpsocket._connectxLegacy(client, packSockaddrs([("127.0.0.1", port1)]))
        self.assertEqual(sctpsocket.assocIDs(client), [assocID])
        client.setblocking(False)
        self.assertEqual(
            sctpsocket._connectxLegacy(client, packSockaddrs([("127.0.0.1", port2)])), 0
        )
        self.waitFor(lambda: len(sctpsocket.assocIDs(client)) == 2, "second association")

    def test_ipv6(self) -> None:
        """
        An IPv6 listener on ::1 takes options, binds, and accepts an
        association.
        """
        requireSCTP(socket.AF_INET6)
        server, port = self.listener(("::1",), SCTPOptions(hbinterval=5000), socket.AF_INET6)
        self.assertEqual(sctpsocket.localAddresses(server), [("::1", port)])
        self.assertEqual(sctpsocket.readOptions(server, socket.AF_INET6)["hbinterval"], 5000)
        client = self.newSocket(socket.AF_INET6)
        sctpsocket.applyOptions(client, SCTPOptions(), socket.AF_INET6)
        assocID = sctpsocket.connectx(client, [("::1", port)])
        self.assertEqual(self.commUp(client), assocID)
        self.assertEqual(sctpsocket.peerAddresses(client, assocID), [("::1", port)])

    def test_readSNMP(self) -> None:
        """
        L{sctpsocket.readSNMP} reads the kernel's counters; a missing file
        gives C{{}}.
        """
        before = sctpsocket.readSNMP()
        for name in ("SctpCurrEstab", "SctpActiveEstabs", "SctpPassiveEstabs", "SctpAborteds"):
            self.assertIn(name, before)
        _, port = self.listener()
        client = self.newSocket()
        sctpsocket.applyOptions(client, SCTPOptions(), socket.AF_INET)
        self.commUp(client, sctpsocket.connectx(client, [("127.0.0.1", port)]))
        after = sctpsocket.readSNMP()
        self.assertEqual(after["SctpActiveEstabs"], before["SctpActiveEstabs"] + 1)
        self.assertGreaterEqual(after["SctpCurrEstab"], 1)
        self.assertEqual(sctpsocket.readSNMP(self.mktemp()), {})


class _FakeSocket:
    """
    Socket options in a dict; chosen ones fail with C{EINVAL}.
    """

    def __init__(self, failing: List[int]) -> None:
        self.failing = failing
        self.values: Dict[Tuple[int, int], object] = {
            (socket.SOL_SOCKET, socket.SO_RCVBUF): 4000,
            (SOL_SCTP, SockOpt.AUTOCLOSE): 0,
        }

    def setsockopt(self, level: int, opt: int, value: object) -> None:
        if level == SOL_SCTP and opt in self.failing:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        self.values[level, opt] = value

    def getsockopt(self, level: int, opt: int) -> object:
        return self.values.get((level, opt), 0)


class FatalityTests(SynchronousTestCase):
    """
    Which failures stop L{sctpsocket.applyOptions} (checklist 7), with a fake
    socket: no kernel needed.
    """

    def apply(self, failing: List[int], options: SCTPOptions = SCTPOptions()) -> List[str]:
        fake = _FakeSocket(failing)
        return sctpsocket.applyOptions(fake, options, socket.AF_INET)  # type: ignore[arg-type]

    def test_autocloseFatal(self) -> None:
        """
        An SCTP_AUTOCLOSE failure raises.
        """
        self.assertRaises(OSError, self.apply, [SockOpt.AUTOCLOSE])

    def test_eventsFatal(self) -> None:
        """
        An SCTP_EVENTS failure raises.
        """
        self.assertRaises(OSError, self.apply, [SockOpt.EVENTS])

    def test_othersWarn(self) -> None:
        """
        Other failures are warnings; sack_freq that could not be applied says
        so.
        """
        options = SCTPOptions(srto_initial=2000, max_burst=3, sack_freq=2, sack_delay=100)
        warnings = self.apply(
            [SockOpt.NODELAY, SockOpt.RTOINFO, SockOpt.MAX_BURST, SockOpt.DELAYED_SACK], options
        )
        self.assertEqual(len(warnings), 5)
        self.assertEqual(
            [w.split()[0] for w in warnings],
            ["setting", "setting", "setting", "sack_freq=2", "setting"],
        )
        self.assertIn("SCTP_NODELAY", warnings[0])
        self.assertIn("could not be applied", warnings[3])

    def test_partialDeliveryPointSearch(self) -> None:
        """
        When SO_RCVBUF/2 is refused, the largest accepted value is found by
        bisection, with a warning.
        """
        fake = _FakeSocket([])
        calls: List[int] = []
        original = fake.setsockopt

        def setsockopt(level: int, opt: int, value: object) -> None:
            if level == SOL_SCTP and opt == SockOpt.PARTIAL_DELIVERY_POINT:
                assert isinstance(value, int)
                calls.append(value)
                if value > 1234:
                    raise OSError(errno.EINVAL, "too big")
            original(level, opt, value)

        fake.setsockopt = setsockopt  # type: ignore[method-assign]
        warnings = sctpsocket.applyOptions(fake, SCTPOptions(), socket.AF_INET)  # type: ignore[arg-type]
        self.assertEqual(fake.values[SOL_SCTP, SockOpt.PARTIAL_DELIVERY_POINT], 1234)
        self.assertEqual(warnings, ["SCTP_PARTIAL_DELIVERY_POINT set to 1234 instead of 2000"])
        self.assertLess(len(calls), 15)
