# -*- test-case-name: tests.test_sockopt -*-
"""
Tests for L{twisted_sctp.kernel.constants}, L{twisted_sctp.kernel.sockopt} and
L{twisted_sctp.kernel.notifications}.

Expected bytes are laid out by hand from C{<linux/sctp.h>} (x86_64, little
endian), with explicit C{<} struct formats or hex, never with the code under
test.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any, List, Tuple, Union

from hypothesis import given, settings
from hypothesis import strategies as st

from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.kernel.constants import (
    ERROR_USER_ABORT,
    IPPROTO_SCTP,
    MSG_NOTIFICATION,
    SOL_SCTP,
    AssocChangeState,
    CmsgType,
    NotificationType,
    PeerAddrState,
    SendFlags,
    SockOpt,
    SPPFlags,
)
from twisted_sctp.kernel.notifications import (
    AdaptationEvent,
    AssocChange,
    AuthenticationEvent,
    PartialDeliveryEvent,
    PeerAddrChange,
    RemoteError,
    SendFailed,
    SendFailedEvent,
    SenderDryEvent,
    ShortNotification,
    ShutdownEvent,
    UnknownNotification,
    decodeNotification,
)
from twisted_sctp.kernel.sockopt import (
    AssocParams,
    AssocValue,
    CodecError,
    Event,
    EventSubscribe,
    InitMsg,
    PeerAddrInfo,
    PeerAddrParams,
    PRInfo,
    RcvInfo,
    RTOInfo,
    SackInfo,
    SndInfo,
    SndRcvInfo,
    Status,
    packAddrList,
    packSockaddr,
    packSockaddrs,
    packStorage,
    parseAncillary,
    prinfoCmsg,
    receiveInfo,
    receiveTime,
    sndinfoCmsg,
    sndrcvCmsg,
    unpackAddrList,
    unpackAssocIDList,
    unpackSockaddr,
    unpackSockaddrs,
)

# Hand-laid socket addresses: family (little-endian u16: AF_INET 2,
# AF_INET6 10), port and address in network order.
V4 = bytes.fromhex("0200" "13c4" "c0000201" "0000000000000000")  # 192.0.2.1:5060
V6 = bytes.fromhex(
    "0a00" "13c5" "00000000" "20010db8000000000000000000000001" "00000000"
)  # [2001:db8::1]:5061
V4_MAPPED = bytes.fromhex(
    "0a00" "0050" "00000000" "00000000000000000000ffffc6336401" "00000000"
)  # [::ffff:198.51.100.1]:80


def storage(sockaddr: bytes) -> bytes:
    """
    @return: C{sockaddr} padded to a 128-byte C{sockaddr_storage}.
    """
    return sockaddr + bytes(128 - len(sockaddr))


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
s32 = st.integers(-(2**31), 2**31 - 1)
v4Hosts = st.ip_addresses(v=4).map(str)


def _notMapped(address: Union[ipaddress.IPv4Address, ipaddress.IPv6Address]) -> bool:
    """
    @return: whether C{address} is an IPv6 address other than IPv4-mapped.
    """
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None


v6Hosts = st.ip_addresses(v=6).filter(_notMapped).map(str)
scopedHosts = st.tuples(v6Hosts, st.integers(1, 0xFFFFFFFF)).map(lambda t: "{}%{}".format(*t))
hostPorts = st.tuples(st.one_of(v4Hosts, v6Hosts, scopedHosts), u16)

flatStructs = st.one_of(
    st.builds(SndRcvInfo, u16, u16, u16, u32, u32, u32, u32, u32, s32),
    st.builds(SndInfo, u16, u16, u32, u32, s32),
    st.builds(RcvInfo, u16, u16, u16, u32, u32, u32, u32, s32),
    st.builds(PRInfo, u16, u32),
    st.builds(RTOInfo, s32, u32, u32, u32),
    st.builds(AssocParams, s32, u16, u16, u32, u32, u32),
    st.builds(InitMsg, u16, u16, u16, u16),
    st.builds(SackInfo, s32, u32, u32),
    st.builds(AssocValue, s32, u32),
    st.builds(Event, s32, u16, st.booleans()),
)

notifications = st.one_of(
    st.builds(
        AssocChange, u16, u16, u16, u16, s32, st.binary(max_size=64), u16
    ),
    st.builds(
        PeerAddrChange, st.one_of(hostPorts, st.just(("", 0))), s32, s32, s32, u16
    ),
    st.builds(
        SendFailed,
        u16,
        u32,
        st.builds(SndRcvInfo, u16, u16, u16, u32, u32, u32, u32, u32, s32),
        s32,
        st.binary(max_size=64),
    ),
    st.builds(
        SendFailedEvent,
        u16,
        u32,
        st.builds(SndInfo, u16, u16, u32, u32, s32),
        s32,
        st.binary(max_size=64),
    ),
    st.builds(RemoteError, u16, s32, st.binary(max_size=64), u16),
    st.builds(ShutdownEvent, s32, u16),
    st.builds(PartialDeliveryEvent, u32, s32, u32, u32, u16),
    st.builds(AdaptationEvent, u32, s32, u16),
    st.builds(AuthenticationEvent, u16, u16, u32, s32, u16),
    st.builds(SenderDryEvent, s32, u16),
    st.builds(
        UnknownNotification,
        st.integers(0, 0xFFFF).filter(
            lambda t: t not in (0x8001, 0x8002, 0x8003, 0x8004, 0x8005)
            and not 0x8006 <= t <= 0x8009
            and t != 0x800D
        ),
        u16,
        st.integers(8, 200),
        st.binary(max_size=64),
    ).map(lambda n: UnknownNotification(n.type, n.flags, 8 + len(n.data), n.data)),
)


class ConstantsTests(SynchronousTestCase):
    """
    Tests for L{twisted_sctp.kernel.constants}.
    """

    def test_linuxValues(self) -> None:
        """
        The constants have the values of C{<linux/sctp.h>}.
        """
        self.assertEqual((IPPROTO_SCTP, SOL_SCTP), (132, 132))
        self.assertEqual(SockOpt.EVENT, 127)
        self.assertEqual(SockOpt.DEFAULT_PRINFO, 114)
        self.assertIs(SockOpt.DELAYED_ACK_TIME, SockOpt.DELAYED_SACK)
        self.assertEqual(CmsgType.DSTADDRV6, 8)
        self.assertEqual(SendFlags.EOF, 0x200)
        self.assertEqual(SPPFlags.SACKDELAY_DISABLE, 64)
        self.assertEqual(NotificationType.SEND_FAILED_EVENT, 0x800D)
        self.assertEqual(AssocChangeState.CANT_STR_ASSOC, 4)
        self.assertEqual(PeerAddrState.ADDR_POTENTIALLY_FAILED, 6)
        self.assertEqual(MSG_NOTIFICATION, 0x8000)
        self.assertEqual(ERROR_USER_ABORT, 12)


class SockaddrTests(SynchronousTestCase):
    """
    Tests for the socket address helpers.
    """

    def test_packIPv4(self) -> None:
        """
        An IPv4 literal packs to a 16-byte C{sockaddr_in}.
        """
        self.assertEqual(packSockaddr("192.0.2.1", 5060), V4)

    def test_packIPv6(self) -> None:
        """
        An IPv6 literal packs to a 28-byte C{sockaddr_in6}.
        """
        self.assertEqual(packSockaddr("2001:db8::1", 5061), V6)

    def test_packIPv6Scope(self) -> None:
        """
        A numeric C{%scope} suffix fills C{sin6_scope_id} (host order).
        """
        expected = bytes.fromhex("0a00" "0000" "00000000" "fe800000000000000000000000000001")
        expected += struct.pack("<I", 3)
        self.assertEqual(packSockaddr("fe80::1%3", 0), expected)

    def test_packInvalid(self) -> None:
        """
        Anything but an IP literal and a port in range is a L{CodecError}.
        """
        for host, port in [
            ("example.com", 1),
            ("1.2.3", 1),
            ("::1%eth0", 1),
            ("::1::2", 1),
            ("", 1),
            ("1.2.3.4\x00", 1),
            ("1.2.3.4", 65536),
            ("::1", -1),
        ]:
            self.assertRaises(CodecError, packSockaddr, host, port)

    def test_unpackIPv4(self) -> None:
        """
        A C{sockaddr_in} unpacks to C{(host, port)}.
        """
        self.assertEqual(unpackSockaddr(V4), ("192.0.2.1", 5060))

    def test_unpackIPv6(self) -> None:
        """
        A C{sockaddr_in6} unpacks to C{(host, port)}, ignoring its flowinfo.
        """
        flowinfo = V6[:4] + b"\x00\x01\x02\x03" + V6[8:]
        self.assertEqual(unpackSockaddr(flowinfo), ("2001:db8::1", 5061))

    def test_unpackV4Mapped(self) -> None:
        """
        An IPv4-mapped IPv6 address comes back as plain IPv4 text.
        """
        self.assertEqual(unpackSockaddr(V4_MAPPED), ("198.51.100.1", 80))

    def test_unpackIPv4Compatible(self) -> None:
        """
        An IPv4-compatible IPv6 address gets RFC 5952 text, as from
        L{ipaddress}, not glibc's dotted form.
        """
        data = bytes.fromhex("0a00" "0001" "00000000" "00000000000000000000000001020304" "00000000")
        self.assertEqual(unpackSockaddr(data), ("::102:304", 1))

    def test_unpackScope(self) -> None:
        """
        A non-zero scope id is appended as C{%scope}.
        """
        data = bytes.fromhex("0a00" "0000" "00000000" "fe800000000000000000000000000001")
        self.assertEqual(unpackSockaddr(data + struct.pack("<I", 7)), ("fe80::1%7", 0))

    def test_unpackStorage(self) -> None:
        """
        A 128-byte C{sockaddr_storage} holding either family unpacks.
        """
        self.assertEqual(unpackSockaddr(storage(V4)), ("192.0.2.1", 5060))
        self.assertEqual(unpackSockaddr(storage(V6)), ("2001:db8::1", 5061))

    def test_unpackUnspecified(self) -> None:
        """
        Family 0 (C{AF_UNSPEC}) unpacks to C{("", 0)}, and L{packStorage}
        writes it for L{None} or C{("", 0)}.
        """
        self.assertEqual(unpackSockaddr(bytes(128)), ("", 0))
        self.assertEqual(packStorage(None), bytes(128))
        self.assertEqual(packStorage(("", 0)), bytes(128))

    def test_unpackShort(self) -> None:
        """
        A truncated address or a missing family is a L{CodecError}.
        """
        for data in [b"", b"\x02", V4[:15], V6[:27]]:
            self.assertRaises(CodecError, unpackSockaddr, data)

    def test_unpackUnknownFamily(self) -> None:
        """
        A family other than 0, C{AF_INET} and C{AF_INET6} is a L{CodecError}.
        """
        self.assertRaises(CodecError, unpackSockaddr, b"\x01\x00" + bytes(30))

    def test_packStorageFamilyOnly(self) -> None:
        """
        A wildcard address packs to a storage whose only non-zero field is
        C{ss_family}.
        """
        self.assertEqual(packStorage(("0.0.0.0", 0)), b"\x02\x00" + bytes(126))
        self.assertEqual(packStorage(("::", 0)), b"\x0a\x00" + bytes(126))

    def test_packSockaddrs(self) -> None:
        """
        L{packSockaddrs} concatenates the packed addresses (for bindx and
        connectx), and L{unpackSockaddrs} reads them back.
        """
        addresses = [("192.0.2.1", 5060), ("2001:db8::1", 5061)]
        self.assertEqual(packSockaddrs(addresses), V4 + V6)
        self.assertEqual(unpackSockaddrs(V4 + V6), addresses)
        self.assertEqual(unpackSockaddrs(V4 + V6, 1), addresses[:1])
        self.assertRaises(CodecError, unpackSockaddrs, V4 + V6[:20])

    def test_unpackAddrList(self) -> None:
        """
        A C{struct sctp_getaddrs} unpacks to its addresses, each taking the
        size its family gives it; L{packAddrList} lays out the same bytes.
        """
        data = struct.pack("<iI", 5, 3) + V6 + V4 + V4_MAPPED + b"junk"
        addresses = [("2001:db8::1", 5061), ("192.0.2.1", 5060), ("198.51.100.1", 80)]
        self.assertEqual(unpackAddrList(data), addresses)
        self.assertEqual(
            packAddrList(5, [("2001:db8::1", 5061), ("192.0.2.1", 5060)]),
            struct.pack("<iI", 5, 2) + V6 + V4,
        )
        self.assertEqual(unpackAddrList(struct.pack("<iI", 5, 0)), [])

    def test_unpackAddrListBad(self) -> None:
        """
        A short header, a truncated list or an unknown family is a
        L{CodecError}.
        """
        for data in [
            b"\x00" * 7,
            struct.pack("<iI", 5, 2) + V4,
            struct.pack("<iI", 5, 1) + V6[:27],
            struct.pack("<iI", 5, 1) + b"\x07\x00" + bytes(26),
        ]:
            self.assertRaises(CodecError, unpackAddrList, data)

    def test_unpackAssocIDList(self) -> None:
        """
        A C{struct sctp_assoc_ids} unpacks to its ids; a short one is a
        L{CodecError}.
        """
        self.assertEqual(unpackAssocIDList(struct.pack("<Iii", 2, 7, -1)), [7, -1])
        self.assertRaises(CodecError, unpackAssocIDList, struct.pack("<Ii", 2, 7))
        self.assertRaises(CodecError, unpackAssocIDList, b"\x01")

    @given(hostPorts)
    def test_sockaddrRoundTrip(self, address: Tuple[str, int]) -> None:
        """
        Any address unpacks to itself, alone or in a storage.
        """
        packed = packSockaddr(*address)
        self.assertEqual(len(packed), 28 if ":" in address[0] else 16)
        self.assertEqual(unpackSockaddr(packed), address)
        self.assertEqual(unpackSockaddr(packStorage(address)), address)

    @given(st.ip_addresses(v=4))
    def test_v4MappedRoundTrip(self, address: ipaddress.IPv4Address) -> None:
        """
        A v4-mapped IPv6 literal packs as IPv6 and unpacks as plain IPv4.
        """
        packed = packSockaddr("::ffff:" + str(address), 9)
        self.assertEqual(packed[:2], b"\x0a\x00")
        self.assertEqual(unpackSockaddr(packed), (str(address), 9))


class InfoStructTests(SynchronousTestCase):
    """
    Tests for the send/receive information structures and control messages.
    """

    def test_sndRcvInfoKnownBytes(self) -> None:
        """
        L{SndRcvInfo} is 32 bytes with 2 zero bytes of padding after C{flags}.
        """
        info = SndRcvInfo(1, 2, 3, 0x05000000, 5, 6, 7, 8, -1)
        expected = struct.pack("<HHH2xIIIIIi", 1, 2, 3, 0x05000000, 5, 6, 7, 8, -1)
        self.assertEqual(len(expected), 32)
        self.assertEqual(info.pack(), expected)
        self.assertEqual(info.pack()[6:8], b"\x00\x00")
        self.assertEqual(SndRcvInfo.unpack(expected), info)

    def test_sndRcvInfoDefaults(self) -> None:
        """
        L{SndRcvInfo} fields all default to zero.
        """
        self.assertEqual(SndRcvInfo().pack(), bytes(32))

    def test_sndRcvInfoPPIDRaw(self) -> None:
        """
        The PPID is written as given, in host order: a caller wanting network
        order converts it first.
        """
        self.assertEqual(SndRcvInfo(ppid=0x01020304).pack()[8:12], b"\x04\x03\x02\x01")

    def test_sndInfoKnownBytes(self) -> None:
        """
        L{SndInfo} is 16 bytes: sid, flags, ppid, context, assoc_id.
        """
        info = SndInfo(3, SendFlags.UNORDERED, 9, 10, 11)
        expected = struct.pack("<HHIIi", 3, 1, 9, 10, 11)
        self.assertEqual(info.pack(), expected)
        self.assertEqual(SndInfo.unpack(expected), info)

    def test_rcvInfoKnownBytes(self) -> None:
        """
        L{RcvInfo} is 28 bytes with padding after C{flags}.
        """
        info = RcvInfo(1, 2, 3, 4, 5, 6, 7, 8)
        expected = struct.pack("<HHH2xIIIIi", 1, 2, 3, 4, 5, 6, 7, 8)
        self.assertEqual(len(expected), 28)
        self.assertEqual(info.pack(), expected)
        self.assertEqual(RcvInfo.unpack(expected), info)

    def test_prInfoKnownBytes(self) -> None:
        """
        L{PRInfo} is 8 bytes: u16 policy, 2 bytes of padding, u32 value.
        """
        expected = struct.pack("<H2xI", 0x10, 3000)
        self.assertEqual(PRInfo(0x10, 3000).pack(), expected)
        self.assertEqual(PRInfo.unpack(expected), PRInfo(0x10, 3000))

    def test_cmsgs(self) -> None:
        """
        The control message helpers return C{(IPPROTO_SCTP, type, bytes)}.
        """
        self.assertEqual(sndrcvCmsg(SndRcvInfo(stream=1)), (132, 1, SndRcvInfo(stream=1).pack()))
        self.assertEqual(sndinfoCmsg(SndInfo(sid=1)), (132, 2, SndInfo(sid=1).pack()))
        self.assertEqual(prinfoCmsg(PRInfo(0x10, 5)), (132, 5, PRInfo(0x10, 5).pack()))

    def test_parseAncillary(self) -> None:
        """
        L{parseAncillary} returns the first complete C{SCTP_SNDRCV} or
        C{SCTP_RCVINFO} item and skips other levels and truncated items.
        """
        sndrcv = struct.pack("<HHH2xIIIIIi", 4, 0, 0, 0, 0, 0, 0, 0, 9)
        rcvinfo = struct.pack("<HHH2xIIIIi", 5, 0, 0, 0, 0, 0, 0, 9)
        self.assertIsNone(parseAncillary([]))
        self.assertIsNone(parseAncillary([(1, 1, sndrcv), (132, 1, sndrcv[:31])]))
        self.assertEqual(
            parseAncillary([(1, 1, sndrcv), (132, 1, sndrcv[:20]), (132, 1, sndrcv)]),
            SndRcvInfo(stream=4, assocID=9),
        )
        self.assertEqual(
            parseAncillary([(132, 4, b"x" * 40), (132, 3, rcvinfo), (132, 1, sndrcv)]),
            RcvInfo(sid=5, assocID=9),
        )

    def test_receiveInfo(self) -> None:
        """
        L{receiveInfo} gives C{(assocID, stream, ppid, flags)} of the item
        that L{parseAncillary} would decode, with the same skipping rules.
        """
        sndrcv = struct.pack("<HHH2xIIIIIi", 4, 7, 1, 0x2E000000, 0, 0, 0, 0, 9)
        rcvinfo = struct.pack("<HHH2xIIIIi", 5, 7, 4, 0x2E, 0, 0, 0, 11)
        self.assertIsNone(receiveInfo([]))
        self.assertIsNone(receiveInfo([(1, 1, sndrcv), (132, 1, sndrcv[:31])]))
        self.assertEqual(receiveInfo([(1, 35, b"t" * 16), (132, 1, sndrcv[:20]), (132, 1, sndrcv)]), (9, 4, 0x2E000000, 1))
        self.assertEqual(receiveInfo([(132, 4, b"x" * 40), (132, 3, rcvinfo), (132, 1, sndrcv)]), (11, 5, 0x2E, 4))

    @given(st.lists(st.tuples(st.sampled_from([1, 132]), st.sampled_from([1, 3, 4, 35]), st.binary(max_size=40)), max_size=4))
    def test_receiveInfoAgreesWithParseAncillary(self, ancdata: List[Tuple[int, int, bytes]]) -> None:
        """
        For any ancillary data, L{receiveInfo} finds the item L{parseAncillary}
        decodes, and reads the same fields from it.
        """
        info = parseAncillary(ancdata)
        if info is None:
            self.assertIsNone(receiveInfo(ancdata))
        else:
            stream = info.stream if isinstance(info, SndRcvInfo) else info.sid
            self.assertEqual(receiveInfo(ancdata), (info.assocID, stream, info.ppid, info.flags))

    def test_receiveTime(self) -> None:
        """
        L{receiveTime} reads the first complete C{SCM_TIMESTAMPNS} item
        (C{SOL_SOCKET}, 35: a native C{struct timespec}, 16 bytes on x86_64)
        as seconds; other levels, types and truncated items are skipped.
        """
        stamp = struct.pack("<qq", 1795305957, 120674244)
        self.assertIsNone(receiveTime([]))
        self.assertIsNone(receiveTime([(132, 35, stamp), (1, 29, stamp), (1, 35, stamp[:15])]))
        self.assertAlmostEqual(
            receiveTime([(132, 1, b"x" * 32), (1, 35, stamp[:8]), (1, 35, stamp)]),  # type: ignore[arg-type]
            1795305957.120674244, places=6,
        )

    def test_shortInput(self) -> None:
        """
        Every flat structure raises L{CodecError} one byte short, and ignores
        bytes past its end.
        """
        classes: List[Any] = [
            SndRcvInfo, SndInfo, RcvInfo, PRInfo, RTOInfo, AssocParams, InitMsg, SackInfo,
            AssocValue, Event,
        ]
        for cls in classes:
            packed = cls().pack()
            self.assertRaises(CodecError, cls.unpack, packed[:-1])
            self.assertEqual(cls.unpack(packed + b"xx"), cls())

    def test_outOfRange(self) -> None:
        """
        A field that does not fit its C type is a L{CodecError}.
        """
        self.assertRaises(CodecError, SndRcvInfo(stream=0x10000).pack)
        self.assertRaises(CodecError, SndInfo(ppid=-1).pack)
        self.assertRaises(CodecError, AssocValue(assocID=2**31).pack)

    @given(flatStructs)
    def test_flatRoundTrip(self, value: Any) -> None:
        """
        Every flat structure unpacks to what was packed.
        """
        self.assertEqual(type(value).unpack(value.pack()), value)


class SocketOptionTests(SynchronousTestCase):
    """
    Tests for the socket option structures.
    """

    def test_rtoInfoKnownBytes(self) -> None:
        """
        L{RTOInfo} is C{assoc_id, initial, max, min}.
        """
        expected = struct.pack("<iIII", 0, 1000, 60000, 200)
        self.assertEqual(RTOInfo(0, 1000, 60000, 200).pack(), expected)
        self.assertEqual(RTOInfo.unpack(expected), RTOInfo(0, 1000, 60000, 200))

    def test_assocParamsKnownBytes(self) -> None:
        """
        L{AssocParams} is 20 bytes with two u16s after the assoc id.
        """
        value = AssocParams(1, 10, 2, 65536, 131072, 60000)
        expected = struct.pack("<iHHIII", 1, 10, 2, 65536, 131072, 60000)
        self.assertEqual(len(expected), 20)
        self.assertEqual(value.pack(), expected)
        self.assertEqual(AssocParams.unpack(expected), value)

    def test_initMsgKnownBytes(self) -> None:
        """
        L{InitMsg} is four u16s.
        """
        self.assertEqual(InitMsg(10, 20, 4, 60000).pack(), bytes.fromhex("0a001400040060ea"))

    def test_sackInfoAndAssocValueKnownBytes(self) -> None:
        """
        L{SackInfo} and L{AssocValue} lay out their fields in order.
        """
        self.assertEqual(SackInfo(2, 200, 2).pack(), struct.pack("<iII", 2, 200, 2))
        self.assertEqual(AssocValue(-1, 4).pack(), bytes.fromhex("ffffffff04000000"))

    def test_eventKnownBytes(self) -> None:
        """
        L{Event} is C{assoc_id, type, on} plus one byte of padding.
        """
        expected = bytes.fromhex("02000000" "0180" "01" "00")
        event = Event(2, NotificationType.ASSOC_CHANGE, True)
        self.assertEqual(event.pack(), expected)
        self.assertEqual(Event.unpack(expected), event)
        self.assertIs(Event.unpack(expected).on, True)

    def test_eventSubscribeDefaultLength(self) -> None:
        """
        L{EventSubscribe.pack} writes 10 bytes by default, one per type.
        """
        subscribe = EventSubscribe(dataIO=True, association=True, shutdown=True, senderDry=True)
        self.assertEqual(subscribe.pack(), bytes.fromhex("01010000000100000001"))
        self.assertEqual(EventSubscribe().pack(), bytes(10))

    def test_eventSubscribeLength(self) -> None:
        """
        A caller may ask for a shorter or longer structure; the default grows
        to cover an enabled type past the tenth.
        """
        subscribe = EventSubscribe(association=True, address=True)
        self.assertEqual(subscribe.pack(length=7), bytes.fromhex("00010100000000"))
        self.assertEqual(subscribe.pack(length=14), bytes.fromhex("0001010000000000000000000000"))
        late = EventSubscribe(sendFailureEvent=True)
        self.assertEqual(late.pack(), bytes(13) + b"\x01")

    def test_eventSubscribeBadLength(self) -> None:
        """
        A length outside 1..14, or one that would drop an enabled type, is a
        L{CodecError}.
        """
        self.assertRaises(CodecError, EventSubscribe().pack, 0)
        self.assertRaises(CodecError, EventSubscribe().pack, 15)
        self.assertRaises(CodecError, EventSubscribe(senderDry=True).pack, 9)

    def test_eventSubscribeUnpack(self) -> None:
        """
        A short structure leaves the types it lacks off; an empty one is a
        L{CodecError}.
        """
        self.assertEqual(
            EventSubscribe.unpack(b"\x00\x01\x00\x00\x00\x01"),
            EventSubscribe(association=True, shutdown=True),
        )
        self.assertEqual(EventSubscribe.unpack(b"\x01" * 20), EventSubscribe(*[True] * 14))
        self.assertRaises(CodecError, EventSubscribe.unpack, b"")

    @given(st.lists(st.booleans(), min_size=14, max_size=14))
    def test_eventSubscribeRoundTrip(self, flags: list[bool]) -> None:
        """
        Any subscription unpacks to itself.
        """
        value = EventSubscribe(*flags)
        self.assertEqual(EventSubscribe.unpack(value.pack()), value)
        self.assertEqual(EventSubscribe.unpack(value.pack(14)), value)

    def paddrParamsBytes(self, sockaddr: bytes, tail: bytes) -> bytes:
        """
        @return: a hand-laid C{struct sctp_paddrparams} with assoc id 3.
        """
        return struct.pack("<i", 3) + storage(sockaddr) + tail

    def test_peerAddrParamsKnownBytes(self) -> None:
        """
        L{PeerAddrParams} is 156 packed bytes: C{pathmtu} sits at the odd
        offset 138.
        """
        flags = SPPFlags.HB_ENABLE | SPPFlags.SACKDELAY_ENABLE
        value = PeerAddrParams(3, ("192.0.2.1", 5060), 30000, 5, 1500, 200, flags, 7, 0x2E)
        tail = struct.pack("<IHIIIIBx", 30000, 5, 1500, 200, 33, 7, 0x2E)
        expected = self.paddrParamsBytes(V4, tail)
        self.assertEqual(len(expected), 156)
        self.assertEqual(expected[138:142], struct.pack("<I", 1500))
        self.assertEqual(value.pack(), expected)
        self.assertEqual(PeerAddrParams.unpack(expected), value)

    def test_peerAddrParamsLegacy(self) -> None:
        """
        The legacy 152-byte form unpacks with C{ipv6Flowlabel} and C{dscp}
        zero, and C{pack(legacy=True)} writes it.
        """
        tail = struct.pack("<IHIII2x", 30000, 5, 1500, 200, 1)
        expected = self.paddrParamsBytes(V6, tail)
        self.assertEqual(len(expected), 152)
        value = PeerAddrParams(3, ("2001:db8::1", 5061), 30000, 5, 1500, 200, 1)
        self.assertEqual(PeerAddrParams.unpack(expected), value)
        self.assertEqual(value.pack(legacy=True), expected)
        self.assertRaises(CodecError, PeerAddrParams.unpack, expected[:151])

    def test_peerAddrParamsNoAddress(self) -> None:
        """
        Without an address the storage is all zero, and unpacks to L{None}.
        """
        packed = PeerAddrParams(hbinterval=1).pack()
        self.assertEqual(packed[4:132], bytes(128))
        self.assertIsNone(PeerAddrParams.unpack(packed).address)

    def test_peerAddrParamsForFamily(self) -> None:
        """
        L{PeerAddrParams.forFamily} packs a storage whose only non-zero field
        is C{ss_family}; another family is a L{CodecError}.
        """
        v4 = PeerAddrParams.forFamily(2, hbinterval=5)
        self.assertEqual(v4.pack()[4:132], b"\x02\x00" + bytes(126))
        self.assertEqual(v4.hbinterval, 5)
        v6 = PeerAddrParams.forFamily(10)
        self.assertEqual(v6.pack()[4:132], b"\x0a\x00" + bytes(126))
        self.assertEqual(PeerAddrParams.unpack(v6.pack()), v6)
        self.assertRaises(CodecError, PeerAddrParams.forFamily, 1)

    @given(
        st.builds(
            PeerAddrParams,
            s32,
            st.one_of(st.none(), hostPorts),
            u32,
            u16,
            u32,
            u32,
            u32,
            u32,
            st.integers(0, 255),
        )
    )
    def test_peerAddrParamsRoundTrip(self, value: PeerAddrParams) -> None:
        """
        Any parameters unpack to themselves.
        """
        self.assertEqual(PeerAddrParams.unpack(value.pack()), value)

    def statusBytes(self) -> bytes:
        """
        @return: a hand-laid C{struct sctp_status} (176 bytes).
        """
        head = struct.pack("<iiIHHHHI", 7, 4, 65536, 1, 2, 10, 5, 1452)
        primary = struct.pack("<i", 7) + storage(V6) + struct.pack("<iIIII", 2, 4380, 30, 300, 1500)
        return head + primary

    def test_statusKnownBytes(self) -> None:
        """
        L{Status} is 24 bytes of state then a packed C{sctp_paddrinfo}.
        """
        expected = self.statusBytes()
        self.assertEqual(len(expected), 176)
        primary = PeerAddrInfo(7, ("2001:db8::1", 5061), 2, 4380, 30, 300, 1500)
        value = Status(7, 4, 65536, 1, 2, 10, 5, 1452, primary)
        self.assertEqual(Status.unpack(expected), value)
        self.assertEqual(Status.unpack(expected + b"extra"), value)
        self.assertEqual(value.pack(), expected)

    def test_statusShort(self) -> None:
        """
        A short C{sctp_status} or C{sctp_paddrinfo} is a L{CodecError}.
        """
        self.assertRaises(CodecError, Status.unpack, self.statusBytes()[:175])
        self.assertRaises(CodecError, PeerAddrInfo.unpack, self.statusBytes()[24:175])

    def test_peerAddrInfoKnownBytes(self) -> None:
        """
        L{PeerAddrInfo} is 152 packed bytes.
        """
        expected = struct.pack("<i", 1) + storage(V4) + struct.pack("<iIIII", 0, 1, 2, 3, 4)
        value = PeerAddrInfo(1, ("192.0.2.1", 5060), 0, 1, 2, 3, 4)
        self.assertEqual(value.pack(), expected)
        self.assertEqual(PeerAddrInfo.unpack(expected), value)

    @given(
        st.builds(
            Status,
            s32,
            s32,
            u32,
            u16,
            u16,
            u16,
            u16,
            u32,
            st.builds(
                PeerAddrInfo, s32, st.one_of(st.none(), hostPorts), s32, u32, u32, u32, u32
            ),
        )
    )
    def test_statusRoundTrip(self, value: Status) -> None:
        """
        Any status unpacks to itself.
        """
        self.assertEqual(Status.unpack(value.pack()), value)


HEADER = struct.Struct("<HHI")


class NotificationTests(SynchronousTestCase):
    """
    Tests for L{twisted_sctp.kernel.notifications}.
    """

    def assertKnownBytes(self, value: Any, expected: bytes) -> None:
        """
        C{value} packs to C{expected}, which decodes to C{value}.
        """
        self.assertEqual(value.pack(), expected)
        self.assertEqual(decodeNotification(expected), value)

    def test_assocChange(self) -> None:
        """
        C{SCTP_ASSOC_CHANGE} is 20 bytes plus C{info}.
        """
        expected = bytes.fromhex(
            "0180" "0000" "16000000" "0000" "0000" "0a00" "0500" "07000000" "0102"
        )
        value = AssocChange(AssocChangeState.COMM_UP, 0, 10, 5, 7, b"\x01\x02")
        self.assertEqual(value.length, 22)
        self.assertKnownBytes(value, expected)

    def test_peerAddrChange(self) -> None:
        """
        C{SCTP_PEER_ADDR_CHANGE} is 148 packed bytes with a storage at 8.
        """
        expected = HEADER.pack(0x8002, 0, 148) + storage(V4) + struct.pack("<iii", 1, 0, 7)
        value = PeerAddrChange(("192.0.2.1", 5060), PeerAddrState.ADDR_UNREACHABLE, 0, 7)
        self.assertKnownBytes(value, expected)

    def test_peerAddrChangeBadFamily(self) -> None:
        """
        An address of an unknown family is a L{CodecError}.
        """
        data = HEADER.pack(0x8002, 0, 148) + b"\x05\x00" + bytes(126) + struct.pack("<iii", 1, 0, 7)
        self.assertRaises(CodecError, decodeNotification, data)

    def test_sendFailed(self) -> None:
        """
        C{SCTP_SEND_FAILED} is 48 bytes, a C{sctp_sndrcvinfo} at 12, then the
        undelivered payload.
        """
        info = struct.pack("<HHH2xIIIIIi", 1, 0, 1, 0x3000000, 77, 0, 0, 0, 7)
        expected = HEADER.pack(0x8003, 1, 51) + struct.pack("<I", 4) + info
        expected += struct.pack("<i", 7) + b"abc"
        value = SendFailed(
            1, 4, SndRcvInfo(stream=1, flags=1, ppid=0x3000000, context=77, assocID=7), 7, b"abc"
        )
        self.assertKnownBytes(value, expected)

    def test_sendFailedEvent(self) -> None:
        """
        C{SCTP_SEND_FAILED_EVENT} is 32 bytes, a C{sctp_sndinfo} at 12, then
        the undelivered payload.
        """
        info = struct.pack("<HHIIi", 2, 1, 3, 4, 7)
        expected = HEADER.pack(0x800D, 0, 34) + struct.pack("<I", 9) + info
        expected += struct.pack("<i", 7) + b"hi"
        value = SendFailedEvent(0, 9, SndInfo(2, 1, 3, 4, 7), 7, b"hi")
        self.assertKnownBytes(value, expected)

    def test_remoteError(self) -> None:
        """
        C{SCTP_REMOTE_ERROR} carries its cause code big-endian; it decodes to
        the host integer.
        """
        expected = bytes.fromhex("0480" "0000" "14000000" "000c" "0000" "07000000" "000c0004")
        value = RemoteError(12, 7, bytes.fromhex("000c0004"))
        self.assertKnownBytes(value, expected)
        self.assertRaises(CodecError, RemoteError(0x10000).pack)

    def test_fixedNotifications(self) -> None:
        """
        The fixed-size notifications lay out their fields after the header.
        """
        self.assertKnownBytes(ShutdownEvent(7), bytes.fromhex("0580" "0000" "0c000000" "07000000"))
        self.assertKnownBytes(
            PartialDeliveryEvent(0, 7, 3, 9),
            bytes.fromhex("0680" "0000" "18000000" "00000000" "07000000" "03000000" "09000000"),
        )
        self.assertKnownBytes(
            AdaptationEvent(0x12345678, 7),
            bytes.fromhex("0780" "0000" "10000000" "78563412" "07000000"),
        )
        self.assertKnownBytes(
            AuthenticationEvent(1, 2, 0, 7),
            bytes.fromhex("0880" "0000" "14000000" "0100" "0200" "00000000" "07000000"),
        )
        self.assertKnownBytes(SenderDryEvent(7), bytes.fromhex("0980" "0000" "0c000000" "07000000"))

    def test_partialDeliveryLegacy(self) -> None:
        """
        The 16-byte C{sctp_pdapi_event} of older kernels decodes with
        C{stream} and C{seq} zero.
        """
        data = bytes.fromhex("0680" "0000" "10000000" "00000000" "07000000")
        self.assertEqual(decodeNotification(data), PartialDeliveryEvent(0, 7, length=16))

    def test_flagsAndLength(self) -> None:
        """
        The header's flags and length are kept as read.
        """
        data = HEADER.pack(0x8005, 0x1234, 99) + struct.pack("<i", 7)
        self.assertEqual(decodeNotification(data), ShutdownEvent(7, 0x1234, 99))

    def test_lengthShorterThanBuffer(self) -> None:
        """
        Trailing data stops at the header's length when the buffer is longer.
        """
        data = AssocChange(1, 0, 0, 0, 7, b"abc").pack() + b"garbage"
        self.assertEqual(decodeNotification(data).info, b"abc")  # type: ignore[union-attr]
        tiny = HEADER.pack(0x8004, 0, 3) + bytes.fromhex("000c000007000000") + b"zz"
        self.assertEqual(decodeNotification(tiny), RemoteError(12, 7, b"", 0, 3))

    def test_lengthLongerThanBuffer(self) -> None:
        """
        Trailing data stops at the buffer's end when the length is larger.
        """
        data = HEADER.pack(0x8003, 0, 1000) + bytes(40) + b"abc"
        note = decodeNotification(data)
        self.assertIsInstance(note, SendFailed)
        self.assertEqual((note.data, note.length), (b"abc", 1000))  # type: ignore[union-attr]

    def test_shortHeader(self) -> None:
        """
        Fewer than 8 bytes is a L{CodecError}.
        """
        for n in range(8):
            self.assertRaises(CodecError, decodeNotification, HEADER.pack(0x8001, 0, 20)[:n])

    def test_shortNotification(self) -> None:
        """
        A notification shorter than its type's fixed structure is a
        L{ShortNotification}.
        """
        sizes = {
            0x8001: 20, 0x8002: 148, 0x8003: 48, 0x8004: 16, 0x8005: 12,
            0x8006: 16, 0x8007: 16, 0x8008: 20, 0x8009: 12, 0x800D: 32,
        }
        for kind, size in sizes.items():
            data = HEADER.pack(kind, 0, size) + bytes(size - 8)
            decodeNotification(data)
            self.assertRaises(ShortNotification, decodeNotification, data[:-1])
        self.assertTrue(issubclass(ShortNotification, CodecError))

    def test_unknownType(self) -> None:
        """
        Another type decodes to an L{UnknownNotification} with its body.
        """
        data = HEADER.pack(0x800A, 3, 12) + b"abcd"
        self.assertEqual(decodeNotification(data), UnknownNotification(0x800A, 3, 12, b"abcd"))
        self.assertEqual(UnknownNotification(0x800A, 3, 12, b"abcd").pack(), data)
        dataIO = HEADER.pack(0x8000, 0, 8)
        self.assertEqual(decodeNotification(dataIO + b"x"), UnknownNotification(0x8000, 0, 8, b""))

    @given(notifications)
    def test_roundTrip(self, value: Any) -> None:
        """
        Any notification decodes from its own bytes to itself.
        """
        self.assertEqual(decodeNotification(value.pack()), value)

    def assertDecodesOrRefuses(self, data: bytes) -> None:
        """
        C{decodeNotification(data)} returns a notification, which re-packs
        to bytes that decode the same, or raises L{CodecError}.
        """
        try:
            note = decodeNotification(data)
        except CodecError:
            return
        self.assertEqual(decodeNotification(note.pack()), note)

    @settings(max_examples=300)
    @given(st.binary(max_size=400))
    def test_arbitraryBytes(self, data: bytes) -> None:
        """
        Arbitrary bytes decode or raise L{CodecError}, nothing else.
        """
        self.assertDecodesOrRefuses(data)

    @settings(max_examples=500)
    @given(
        st.integers(0x8001, 0x800D),
        u16,
        st.one_of(u32, st.integers(0, 420)),
        st.sampled_from([b"", b"\x00\x00", b"\x02\x00", b"\x0a\x00"]),
        st.one_of(st.binary(max_size=400), st.binary(min_size=140, max_size=400)),
    )
    def test_arbitraryBodies(
        self, kind: int, flags: int, length: int, family: bytes, body: bytes
    ) -> None:
        """
        Arbitrary bodies behind a valid type decode or raise L{CodecError};
        the C{family} prefix puts plausible address families where
        C{SCTP_PEER_ADDR_CHANGE} reads one.
        """
        self.assertDecodesOrRefuses(HEADER.pack(kind, flags, length) + family + body)
