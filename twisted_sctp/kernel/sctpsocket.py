# -*- test-case-name: tests.integration.test_kernel_options -*-
"""
The one module that talks to kernel SCTP: it wraps pysctp (C{import sctp})
and the raw socket-option calls, and nothing else in twisted-sctp does.

pysctp is used for C{bindx} (secondary addresses of a multihomed
listener).  Its gaps are filled here with C{setsockopt}/C{getsockopt} and
the codec in L{twisted_sctp.kernel.sockopt}: pysctp lacks C{SCTP_DELAYED_SACK},
C{SCTP_MAX_BURST}, C{SCTP_GET_ASSOC_ID_LIST} and an assoc id from
C{connectx}, and its C{get_rtoinfo} is broken.  The stdlib C{getsockopt}
passes an uninitialised buffer, but SCTP getsockopts read input fields
(C{assoc_id}, C{ss_family}), so L{getsockoptBuffer} calls libc through
C{ctypes} with a prepared buffer.

Decisions (see also L{twisted_sctp.transport.options}):

  - Receive information: we keep the legacy C{SCTP_SNDRCV} control message
    (32-byte C{sctp_sndrcvinfo} on every data message, enabled by the
    C{data_io} event) and do not turn on C{SCTP_RECVRCVINFO}: it would only
    add a second control message with the same fields to every read.
  - Events: C{SCTP_EVENTS} is written with the whole 14-byte structure (so
    the subscription is exactly the reference's seven, whatever the socket
    had), falling back to the portable 10-byte form on kernels whose
    structure is shorter.
  - C{SCTP_PARTIAL_DELIVERY_POINT}: the reference tries C{SO_RCVBUF/2} and
    steps down by one on each failure, up to C{SO_RCVBUF/2} system calls.
    Linux accepts exactly the values C{<= sk_rcvbuf/2}, a monotone test, so
    a binary search reaches the same value (the largest accepted one) in at
    most about 20 calls, and any error other than C{EINVAL} stops it.
  - C{hbinterval=-1} is written as C{SPP_HB_DISABLE} with interval 0, at
    start-up and at run time; L{readOptions} reports -1 for a socket whose
    heartbeats are disabled.  C{pathmaxrxt} adds C{SPP_PMTUD_ENABLE} at run
    time too (the reference only did at start-up; old kernels ignored
    C{pathmaxrxt} without it).
  - L{osDefaults} also reads C{SCTP_AUTOCLOSE} (0, "never", on Linux), so it
    gives all 14 kernel-backed values.

Kernel facts (Linux 6.1, checked under scripts/with-sctp-kernel):
C{SCTP_AUTOCLOSE} silently clamps to C{net.sctp.max_autoclose} (21474836 s
with HZ=100); C{SCTP_DELAYED_SACK} refuses C{sack_delay > 500} with
C{EINVAL} and C{sack_freq=1} turns delayed SACK off (it then reads back
delay 0, freq 1); C{SCTP_RTOINFO} only checks C{min <= max} (an initial
outside them is taken); C{SO_RCVBUF}/C{SO_SNDBUF} are doubled, clamped to
C{net.core.rmem_max}/C{wmem_max} and raised to at least 2304/4608;
C{SCTP_PARTIAL_DELIVERY_POINT} takes exactly C{0..SO_RCVBUF/2};
C{SCTP_GET_LOCAL_ADDRS} sets C{optlen} to the size of the addresses without
the 8-byte header (C{SCTP_GET_PEER_ADDRS} includes it); C{SCTP_EVENTS}
starts all off; pysctp's C{bindx} raises C{ValueError} for a bad literal.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import socket
import struct
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

import sctp as _pysctp  # pysctp

from twisted_sctp.kernel.constants import FUTURE_ASSOC, IPPROTO_SCTP, SO_TIMESTAMPNS, SOL_SCTP, SockOpt, SPPFlags
from twisted_sctp.error import SCTPUnavailableError
from twisted_sctp.transport.options import KERNEL_OPTIONS, OPTION_NAMES, OPTIONS, SCTPOptions
from twisted_sctp.kernel.sockopt import (
    AssocParams, AssocValue, CodecError, EventSubscribe, InitMsg, PeerAddrParams,
    RTOInfo, SackInfo, Status, packSockaddrs, unpackAddrList, unpackAssocIDList,
)

__all__ = [
    "openSocket", "bindAddresses", "getsockoptBuffer", "connectx", "peerAddresses",
    "localAddresses", "associationStatus", "assocIDs", "osDefaults", "applyOptions",
    "applyRuntimeOption", "readOptions", "readAssociationParameters", "readSNMP",
    "SUBSCRIBED_EVENTS", "UNAVAILABLE_ERRNOS",
]

from twisted_sctp.transport.address import HostPort  # noqa: E402  (one definition)

#: errnos of C{socket()} that mean "this kernel has no SCTP".
UNAVAILABLE_ERRNOS = (
    errno.EPROTONOSUPPORT,  # 93
    errno.ESOCKTNOSUPPORT,  # 94
    errno.EAFNOSUPPORT,  # 97
    errno.ENOSYS,  # sctp.ko loaded without hmac: every socket() fails
)

#: The reference's subscription: exactly these seven notification types.
SUBSCRIBED_EVENTS = EventSubscribe(
    dataIO=True, association=True, address=True, sendFailure=True,
    peerError=True, shutdown=True, partialDelivery=True,
)

_SOCKLEN = ctypes.c_uint32
_libc = ctypes.CDLL(None, use_errno=True)
_getsockopt = _libc.getsockopt
_getsockopt.argtypes = [ctypes.c_int] * 3 + [ctypes.c_void_p, ctypes.POINTER(_SOCKLEN)]
_getsockopt.restype = ctypes.c_int
_setsockopt = _libc.setsockopt
_setsockopt.argtypes = [ctypes.c_int] * 3 + [ctypes.c_void_p, _SOCKLEN]
_setsockopt.restype = ctypes.c_int

#: C{struct sctp_getaddrs_old}: assoc_id, addr_num (bytes of addresses),
#: a pointer to the packed addresses (16 bytes on 64-bit).
_GETADDRS_OLD = struct.Struct("@iiP")
_INT = struct.Struct("@i")
_MAX_LIST_BUFFER = 1 << 20
_FAILED = object()


def _osError(code: int, what: str) -> OSError:
    return OSError(code, "{}: {}".format(what, os.strerror(code)))


def _getsockoptRaw(
    fd: int, level: int, optname: int, inbuf: bytes, whole: bool = False
) -> Tuple[int, bytes]:
    """
    C{getsockopt} with C{inbuf} as the initial content of the buffer.

    @return: C{(errno, data)}: 0 and the C{optlen} bytes the kernel wrote, or
        the errno and the buffer as it was left (some options write results
        even when they fail, like C{CONNECTX3} with C{EINPROGRESS}).  With
        C{whole}, the whole buffer comes back whatever C{optlen} says.
    """
    buf = ctypes.create_string_buffer(bytes(inbuf), max(len(inbuf), 1))
    length = _SOCKLEN(len(inbuf))
    rc = _getsockopt(fd, level, optname, buf, ctypes.byref(length))
    if rc != 0:
        return ctypes.get_errno(), buf.raw[: len(inbuf)]
    return 0, buf.raw[: len(inbuf) if whole else length.value]


def getsockoptBuffer(
    sock: socket.socket, level: int, optname: int, inbuf: bytes
) -> bytes:
    """
    C{getsockopt} with a prepared input buffer (SCTP options read fields such
    as C{assoc_id} or C{spp_address.ss_family} from it).

    @param inbuf: the buffer's initial content; its length is the C{optlen}
        passed in.
    @return: the C{optlen} bytes the kernel wrote back.
    @raise OSError: the kernel refused.
    """
    code, data = _getsockoptRaw(sock.fileno(), level, optname, inbuf)
    if code:
        raise _osError(code, "getsockopt({}, {})".format(level, _optName(optname)))
    return data


def _optName(optname: int) -> str:
    try:
        return "SCTP_" + SockOpt(optname).name
    except ValueError:
        return str(optname)


def openSocket(family: int = socket.AF_INET) -> socket.socket:
    """
    Open a one-to-many (C{SOCK_SEQPACKET}) SCTP socket, non-blocking.

    @param family: C{AF_INET} or C{AF_INET6}.
    @raise SCTPUnavailableError: the kernel has no SCTP.
    @raise OSError: any other failure.
    """
    try:
        sock = socket.socket(family, socket.SOCK_SEQPACKET, IPPROTO_SCTP)
    except OSError as e:
        if e.errno in UNAVAILABLE_ERRNOS:
            raise SCTPUnavailableError(
                "{}: {}".format(errno.errorcode.get(e.errno or 0, e.errno), e.strerror)
            ) from e
        raise
    sock.setblocking(False)
    try:
        # Arrival times ride along with each message: the port dates its
        # activity with them instead of a clock read per wake-up.
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        pass
    return sock


def bindAddresses(
    sock: socket.socket, hosts: Sequence[str], port: int
) -> Tuple[int, List[Tuple[str, OSError]]]:
    """
    Bind a (multihomed) listener: C{bind} the first host, then add the others
    with pysctp's C{bindx} on the port that was bound.

    @param hosts: one or more IP literals; the first is the primary.
    @param port: the port, 0 for an ephemeral one.
    @return: the bound port, and the secondary hosts that could not be added
        with their errors (not fatal, as in the reference).
    @raise OSError: the primary address could not be bound.
    @raise ValueError: C{hosts} is empty.
    """
    if not hosts:
        raise ValueError("no address to bind")
    sock.bind((hosts[0], port))
    bound: int = sock.getsockname()[1]
    failures: List[Tuple[str, OSError]] = []
    for host in hosts[1:]:
        try:
            _pysctp._sctp.bindx(sock.fileno(), [(host, bound)], _pysctp.BINDX_ADD)
        except OSError as e:
            failures.append((host, e))
        except Exception as e:  # pysctp raises others for bad literals
            failures.append((host, OSError(errno.EINVAL, "{}: {}".format(host, e))))
    return bound, failures


def connectx(sock: socket.socket, paths: Sequence[HostPort]) -> int:
    """
    Start an association to a (multihomed) peer without blocking.

    Uses C{getsockopt(SCTP_SOCKOPT_CONNECTX3)}, which reports the new
    association's id even when the set-up is still in progress, falling back
    to C{setsockopt(SCTP_SOCKOPT_CONNECTX)} (which returns the id as its
    result, but not on C{EINPROGRESS}: the id is then 0, unknown until
    COMM_UP).

    @param paths: the peer's addresses, all with the same port.
    @return: the kernel's assoc_id (0 if unknown).
    @raise OSError: the kernel refused (C{EINPROGRESS} is success).
    @raise CodecError: an address is not an IP literal.
    """
    addrs = packSockaddrs(paths)
    buf = ctypes.create_string_buffer(addrs, len(addrs))
    param = _GETADDRS_OLD.pack(0, len(addrs), ctypes.addressof(buf))
    code, data = _getsockoptRaw(sock.fileno(), SOL_SCTP, SockOpt.SOCKOPT_CONNECTX3, param)
    if code in (0, errno.EINPROGRESS):
        return int(_INT.unpack_from(data)[0])
    if code not in (errno.ENOPROTOOPT, errno.EOPNOTSUPP):
        raise _osError(code, "connectx")
    return _connectxLegacy(sock, addrs)


def _connectxLegacy(sock: socket.socket, addrs: bytes) -> int:
    """
    C{setsockopt(SCTP_SOCKOPT_CONNECTX)}, whose result is the assoc id.

    @return: the assoc id, or 0 on C{EINPROGRESS} (unknown until COMM_UP).
    @raise OSError: the kernel refused.
    """
    buf = ctypes.create_string_buffer(addrs, len(addrs))
    rc = _setsockopt(sock.fileno(), SOL_SCTP, int(SockOpt.SOCKOPT_CONNECTX), buf, len(addrs))
    if rc >= 0:
        return int(rc)
    code = ctypes.get_errno()
    if code == errno.EINPROGRESS:
        return 0
    raise _osError(code, "connectx")


def _addressList(sock: socket.socket, optname: int, assocID: int) -> List[HostPort]:
    """
    Read a C{struct sctp_getaddrs}, growing the buffer on C{ENOMEM}.  The
    whole buffer is decoded (C{addr_num} says how many addresses): Linux sets
    C{optlen} of C{SCTP_GET_LOCAL_ADDRS} to the size of the addresses alone,
    without the 8-byte header.
    """
    size = 8 + 28 * 16
    while True:
        code, data = _getsockoptRaw(
            sock.fileno(), SOL_SCTP, optname, struct.pack("=iI", assocID, 0) + bytes(size),
            whole=True,
        )
        if code == errno.ENOMEM and size < _MAX_LIST_BUFFER:
            size *= 4
            continue
        if code:
            raise _osError(code, _optName(optname))
        return unpackAddrList(data)


def peerAddresses(sock: socket.socket, assocID: int) -> List[HostPort]:
    """
    @return: every address (path) of the peer of association C{assocID}
        (C{SCTP_GET_PEER_ADDRS}).
    @raise OSError: e.g. C{EINVAL} for an unknown association.
    """
    return _addressList(sock, SockOpt.GET_PEER_ADDRS, assocID)


def localAddresses(sock: socket.socket, assocID: int = 0) -> List[HostPort]:
    """
    @param assocID: an association, or 0 for the socket's bound addresses.
    @return: the local addresses (C{SCTP_GET_LOCAL_ADDRS}).
    @raise OSError: the kernel refused.
    """
    return _addressList(sock, SockOpt.GET_LOCAL_ADDRS, assocID)


def associationStatus(sock: socket.socket, assocID: int) -> Status:
    """
    @return: the association's C{SCTP_STATUS} (state, windows, streams,
        primary path).
    @raise OSError: e.g. C{EINVAL} for an unknown association.
    """
    return Status.unpack(
        getsockoptBuffer(sock, SOL_SCTP, SockOpt.STATUS, Status(assocID=assocID).pack())
    )


def assocIDs(sock: socket.socket) -> List[int]:
    """
    @return: the ids of the socket's current associations
        (C{SCTP_GET_ASSOC_ID_LIST}).
    @raise OSError: the kernel refused (C{ENOPROTOOPT} before Linux 4.8).
    """
    count = 64
    while True:
        code, data = _getsockoptRaw(
            sock.fileno(), SOL_SCTP, SockOpt.GET_ASSOC_ID_LIST, bytes(4 + 4 * count)
        )
        if code == errno.EINVAL and count * 4 < _MAX_LIST_BUFFER:
            count *= 4
            continue
        if code:
            raise _osError(code, "SCTP_GET_ASSOC_ID_LIST")
        return unpackAssocIDList(data)


def _getInt(sock: socket.socket, level: int, optname: int) -> int:
    return int(sock.getsockopt(level, optname))


def _setInt(sock: socket.socket, level: int, optname: int, value: int) -> None:
    sock.setsockopt(level, optname, value)


def _getStruct(sock: socket.socket, optname: int, request: bytes) -> bytes:
    return getsockoptBuffer(sock, SOL_SCTP, optname, request)


def _readAssociationLevel(sock: socket.socket, family: int, assocID: int) -> Dict[str, int]:
    """
    The options that exist per association (and, with assoc_id 0, for
    future ones): RTOINFO, ASSOCINFO, PEER_ADDR_PARAMS with only
    C{ss_family} set, DELAYED_SACK (falling back to DELAYED_ACK_TIME: delay
    only, frequency 0) and MAX_BURST.
    """
    rto = RTOInfo.unpack(_getStruct(sock, SockOpt.RTOINFO, RTOInfo(assocID).pack()))
    assoc = AssocParams.unpack(_getStruct(sock, SockOpt.ASSOCINFO, AssocParams(assocID).pack()))
    request = PeerAddrParams.forFamily(family, assocID=assocID)
    try:
        data = _getStruct(sock, SockOpt.PEER_ADDR_PARAMS, request.pack())
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        data = _getStruct(sock, SockOpt.PEER_ADDR_PARAMS, request.pack(legacy=True))
    spp = PeerAddrParams.unpack(data)
    try:
        sack = SackInfo.unpack(_getStruct(sock, SockOpt.DELAYED_SACK, SackInfo(assocID).pack()))
    except OSError:
        value = _getStruct(sock, SockOpt.DELAYED_ACK_TIME, AssocValue(assocID).pack())
        sack = SackInfo(assocID, AssocValue.unpack(value).value, 0)
    burst = AssocValue.unpack(_getStruct(sock, SockOpt.MAX_BURST, AssocValue(assocID).pack()))
    return {
        "srto_initial": rto.initial,
        "srto_max": rto.max,
        "srto_min": rto.min,
        "asocmaxrxt": assoc.asocmaxrxt,
        "hbinterval": -1 if spp.flags & SPPFlags.HB_DISABLE else spp.hbinterval,
        "pathmaxrxt": spp.pathmaxrxt,
        "spp_flags": spp.flags,
        "sack_delay": sack.delay,
        "sack_freq": sack.freq,
        "max_burst": burst.value,
    }


def _readKernel(sock: socket.socket, family: int) -> Dict[str, int]:
    """
    Read the 14 kernel-backed options as the reference's
    C{init_sctp_options} and C{sctp.options ADDRESS} do (buffers halved).
    """
    init = InitMsg.unpack(_getStruct(sock, SockOpt.INITMSG, InitMsg().pack()))
    values = _readAssociationLevel(sock, family, FUTURE_ASSOC)
    del values["spp_flags"]
    values.update(
        socket_rcvbuf=_getInt(sock, socket.SOL_SOCKET, socket.SO_RCVBUF) // 2,
        socket_sndbuf=_getInt(sock, socket.SOL_SOCKET, socket.SO_SNDBUF) // 2,
        autoclose=_getInt(sock, SOL_SCTP, SockOpt.AUTOCLOSE),
        init_max_attempts=init.maxAttempts,
        init_max_timeo=init.maxInitTimeo,
    )
    return values


def osDefaults(family: int = socket.AF_INET) -> Dict[str, int]:
    """
    Read the OS defaults of the 14 kernel-backed options from a throw-away
    socket, as the reference's C{init_sctp_options} (buffers halved, as
    Linux reports twice the size set).

    @return: option name -> value, in the documented order.
    @raise SCTPUnavailableError: no kernel SCTP.
    @raise OSError: a read failed.
    """
    sock = openSocket(family)
    try:
        values = _readKernel(sock, family)
    finally:
        sock.close()
    return {name: values[name] for name in KERNEL_OPTIONS}


def readOptions(sock: socket.socket, family: int) -> Dict[str, int]:
    """
    The live values of a listener's 19 options, read back from the kernel
    (as C{sctp.options ADDRESS}): the five internal ones are 0, and
    C{hbinterval} is -1 when heartbeats are disabled.

    @return: option name -> value, in the documented order.
    @raise OSError: a read failed.
    """
    values = _readKernel(sock, family)
    return {name: values.get(name, 0) for name in OPTION_NAMES}


def readAssociationParameters(sock: socket.socket, assocID: int, family: int) -> Dict[str, int]:
    """
    The parameters one association actually uses, to tell them from the
    socket's values for future associations.

    @return: C{srto_initial}, C{srto_max}, C{srto_min}, C{asocmaxrxt},
        C{hbinterval} (-1 when heartbeats are disabled), C{pathmaxrxt},
        C{spp_flags}, C{sack_delay}, C{sack_freq}, C{max_burst}.
    @raise OSError: e.g. C{EINVAL} for an unknown association.
    """
    return _readAssociationLevel(sock, family, assocID)


#: Which kernel options are written together, in the reference's order.
_GROUPS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("SCTP_AUTOCLOSE", ("autoclose",)),
    ("SCTP_RTOINFO", ("srto_initial", "srto_max", "srto_min")),
    ("SCTP_ASSOCINFO", ("asocmaxrxt",)),
    ("SCTP_INITMSG", ("init_max_attempts", "init_max_timeo")),
    ("SCTP_PEER_ADDR_PARAMS", ("hbinterval", "pathmaxrxt")),
    ("SCTP_DELAYED_SACK", ("sack_delay", "sack_freq")),
    ("SCTP_MAX_BURST", ("max_burst",)),
)


def _writeGroup(sock: socket.socket, group: str, v: Mapping[str, int], family: int) -> bool:
    """
    Write one kernel structure for future associations (assoc_id 0), its 0
    fields meaning "no change".

    C{hbinterval} -1 is C{SPP_HB_DISABLE} with interval 0, a positive one
    C{SPP_HB_ENABLE}; C{pathmaxrxt} adds C{SPP_PMTUD_ENABLE}.  The 156-byte
    C{sctp_paddrparams} falls back to the legacy 152 bytes on C{EINVAL}.
    C{SCTP_DELAYED_SACK} falls back to C{SCTP_DELAYED_ACK_TIME} (delay only).

    @return: C{False} when C{sack_freq} was given but could not be applied.
    @raise OSError: the kernel refused.
    """
    if group == "SCTP_AUTOCLOSE":
        _setInt(sock, SOL_SCTP, SockOpt.AUTOCLOSE, v["autoclose"])
    elif group == "SCTP_RTOINFO":
        rto = RTOInfo(FUTURE_ASSOC, v["srto_initial"], v["srto_max"], v["srto_min"])
        sock.setsockopt(SOL_SCTP, SockOpt.RTOINFO, rto.pack())
    elif group == "SCTP_ASSOCINFO":
        sock.setsockopt(SOL_SCTP, SockOpt.ASSOCINFO, AssocParams(FUTURE_ASSOC, v["asocmaxrxt"]).pack())
    elif group == "SCTP_INITMSG":
        init = InitMsg(0, 0, v["init_max_attempts"], v["init_max_timeo"])
        sock.setsockopt(SOL_SCTP, SockOpt.INITMSG, init.pack())
    elif group == "SCTP_PEER_ADDR_PARAMS":
        hb, flags = v["hbinterval"], 0
        if hb == -1:
            hb, flags = 0, SPPFlags.HB_DISABLE
        elif hb > 0:
            flags = SPPFlags.HB_ENABLE
        if v["pathmaxrxt"]:
            flags |= SPPFlags.PMTUD_ENABLE
        spp = PeerAddrParams.forFamily(
            family, assocID=FUTURE_ASSOC, hbinterval=hb, pathmaxrxt=v["pathmaxrxt"], flags=int(flags)
        )
        try:
            sock.setsockopt(SOL_SCTP, SockOpt.PEER_ADDR_PARAMS, spp.pack())
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            sock.setsockopt(SOL_SCTP, SockOpt.PEER_ADDR_PARAMS, spp.pack(legacy=True))
    elif group == "SCTP_DELAYED_SACK":
        delay, freq = v["sack_delay"], v["sack_freq"]
        try:
            sock.setsockopt(SOL_SCTP, SockOpt.DELAYED_SACK, SackInfo(FUTURE_ASSOC, delay, freq).pack())
        except OSError:
            if not delay:
                raise
            value = AssocValue(FUTURE_ASSOC, delay).pack()
            sock.setsockopt(SOL_SCTP, SockOpt.DELAYED_ACK_TIME, value)
            return not freq
    elif group == "SCTP_MAX_BURST":
        sock.setsockopt(SOL_SCTP, SockOpt.MAX_BURST, AssocValue(FUTURE_ASSOC, v["max_burst"]).pack())
    return True


def _setPartialDeliveryPoint(sock: socket.socket) -> Tuple[int, int]:
    """
    Set C{SCTP_PARTIAL_DELIVERY_POINT} to the largest accepted value up to
    C{SO_RCVBUF/2} (the reference's aim: no partial delivery).

    @return: C{(limit, value)}; C{value} is -1 if nothing was accepted.
    @raise OSError: an error other than C{EINVAL}.
    """
    limit = _getInt(sock, socket.SOL_SOCKET, socket.SO_RCVBUF) // 2

    def accepted(value: int) -> bool:
        try:
            _setInt(sock, SOL_SCTP, SockOpt.PARTIAL_DELIVERY_POINT, value)
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            return False
        return True

    if accepted(limit):
        return limit, limit
    # Accepted values are exactly 0..bound for some bound < limit; the last
    # accepted probe of this search is the largest one, so it stays set.
    low, high, best = 0, limit - 1, -1
    while low <= high:
        middle = (low + high) // 2
        if accepted(middle):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return limit, best


def applyOptions(sock: socket.socket, options: SCTPOptions, family: int) -> List[str]:
    """
    Configure a new listen socket before C{bind}, in the reference's order:
    SO_REUSEADDR, buffers, FRAGMENT_INTERLEAVE=0, PARTIAL_DELIVERY_POINT,
    NODELAY=1, DISABLE_FRAGMENTS=0, AUTOCLOSE, RTOINFO, ASSOCINFO, INITMSG,
    PEER_ADDR_PARAMS, DELAYED_SACK, MAX_BURST, EVENTS.

    Options that are 0 ("keep the OS value") are not written.  Only a failure
    of C{SCTP_AUTOCLOSE} or C{SCTP_EVENTS} is fatal; the others are returned
    as warnings.  When a warning starts with C{"sack_freq"}, the frequency
    could not be applied and the caller should treat C{sack_freq} as 0
    (checklist 50).

    @return: warnings, one sentence each (empty when all went well).
    @raise OSError: C{SCTP_AUTOCLOSE} or C{SCTP_EVENTS} failed.
    """
    warnings: List[str] = []

    def attempt(what: str, call: Callable[[], object]) -> object:
        try:
            return call()
        except (OSError, CodecError) as e:
            warnings.append("setting {} failed: {}".format(what, e))
            return _FAILED

    attempt("SO_REUSEADDR", lambda: _setInt(sock, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
    for name, opt, sysctl in (
        ("socket_rcvbuf", socket.SO_RCVBUF, "rmem_max"),
        ("socket_sndbuf", socket.SO_SNDBUF, "wmem_max"),
    ):
        wanted = getattr(options, name)
        setBuffer = functools.partial(_setInt, sock, socket.SOL_SOCKET, opt, wanted)
        if wanted and attempt(name, setBuffer) is not _FAILED:
            got = _getInt(sock, socket.SOL_SOCKET, opt) // 2
            if got != wanted:
                warnings.append(
                    "{}={} was adjusted by the kernel to {} (see net.core.{})".format(
                        name, wanted, got, sysctl
                    )
                )
    attempt("SCTP_FRAGMENT_INTERLEAVE=0",
            lambda: _setInt(sock, SOL_SCTP, SockOpt.FRAGMENT_INTERLEAVE, 0))
    point = attempt("SCTP_PARTIAL_DELIVERY_POINT", lambda: _setPartialDeliveryPoint(sock))
    if isinstance(point, tuple) and point[1] < point[0]:
        warnings.append(
            "SCTP_PARTIAL_DELIVERY_POINT set to {} instead of {}{}".format(
                max(point[1], 0), point[0], "" if point[1] >= 0 else " (nothing accepted)"
            )
        )
    attempt("SCTP_NODELAY=1", lambda: _setInt(sock, SOL_SCTP, SockOpt.NODELAY, 1))
    attempt("SCTP_DISABLE_FRAGMENTS=0",
            lambda: _setInt(sock, SOL_SCTP, SockOpt.DISABLE_FRAGMENTS, 0))

    values = options.asDict()
    _writeGroup(sock, "SCTP_AUTOCLOSE", values, family)  # fatal
    got = _getInt(sock, SOL_SCTP, SockOpt.AUTOCLOSE)
    if got != options.autoclose:
        warnings.append(
            "autoclose={} was clamped by the kernel to {} (net.sctp.max_autoclose)".format(
                options.autoclose, got
            )
        )
    for group, names in _GROUPS[1:]:
        if any(values[name] for name in names):
            what = "{} ({})".format(group, ", ".join(names))
            applied = attempt(what, lambda: _writeGroup(sock, group, values, family))
            if group == "SCTP_DELAYED_SACK" and options.sack_freq and applied is not True:
                warnings.append(
                    "sack_freq={} could not be applied; it is 0 (kernel default) "
                    "on this socket".format(options.sack_freq)
                )
    _subscribe(sock)  # fatal
    return warnings


def _subscribe(sock: socket.socket) -> None:
    """
    Subscribe exactly the reference's seven events.

    @raise OSError: the kernel refused.
    """
    try:
        sock.setsockopt(SOL_SCTP, SockOpt.EVENTS, SUBSCRIBED_EVENTS.pack(length=14))
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        sock.setsockopt(SOL_SCTP, SockOpt.EVENTS, SUBSCRIBED_EVENTS.pack())


def applyRuntimeOption(sock: socket.socket, name: str, value: int, family: int) -> None:
    """
    Write one changed option to a listen socket for FUTURE associations
    (assoc_id 0, every other field 0 = unchanged), as the reference's
    run-time callbacks: associations that exist keep their parameters.
    C{hbinterval=-1} disables heartbeats.

    Internal options and 0 ("keep") values write nothing.

    @param name: a canonical option name (see L{twisted_sctp.transport.options}).
    @param value: the new value, already validated (C{changeOption}).
    @raise OSError: the kernel refused.
    @raise ValueError: C{name} is read-only at run time.
    """
    info = OPTIONS[name]
    if not info.runtime:
        raise ValueError("{} is read-only at run time".format(name))
    if not info.kernel or (info.keepZero and value == 0):
        return
    values = dict.fromkeys(KERNEL_OPTIONS, 0)
    values[name] = value
    (group,) = [group for group, names in _GROUPS if name in names]
    _writeGroup(sock, group, values, family)


def readSNMP(path: str = "/proc/net/sctp/snmp") -> Dict[str, int]:
    """
    @return: the kernel's SCTP MIB counters (C{SctpCurrEstab}, ...); an empty
        dict when the file is missing (no SCTP module loaded).
    """
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    pairs = (line.split() for line in lines)
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].lstrip("-").isdigit()}

