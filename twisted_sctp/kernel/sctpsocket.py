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
  - C{SCTP_FRAGMENT_INTERLEAVE} is 1, not the reference's 0 (a quirk
    fixed): at 0 one association's partly delivered message holds every
    other association's input; see
    L{twisted_sctp.kernel.kerneloptions.FRAGMENT_INTERLEAVE}.
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
import socket
import struct
from typing import Dict, List, Sequence, Tuple

import sctp as _pysctp  # pysctp

from twisted_sctp.kernel.constants import IPPROTO_SCTP, SO_TIMESTAMPNS, SOL_SCTP, SockOpt
from twisted_sctp.error import SCTPUnavailableError
from twisted_sctp.transport.options import KERNEL_OPTIONS
from twisted_sctp.kernel.sockopt import Status, packSockaddrs, unpackAddrList, unpackAssocIDList
from twisted_sctp.kernel.sockcalls import (  # noqa: F401  (getsockoptBuffer is public here)
    _GETADDRS_OLD, _INT, _MAX_LIST_BUFFER, _getsockoptRaw, _osError, _optName, _setsockopt, getsockoptBuffer,
)
from twisted_sctp.kernel.kerneloptions import (  # noqa: F401  (public here)
    SUBSCRIBED_EVENTS, _readKernel, applyOptions, applyRuntimeOption, readAssociationParameters, readOptions,
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


def openSocket(family: int = socket.AF_INET, kind: int = socket.SOCK_SEQPACKET) -> socket.socket:
    """
    Open an SCTP socket, non-blocking: one-to-many (C{SOCK_SEQPACKET}) by
    default, one-to-one with C{kind=SOCK_STREAM}.

    @param family: C{AF_INET} or C{AF_INET6}.
    @raise SCTPUnavailableError: the kernel has no SCTP.
    @raise OSError: any other failure.
    """
    try:
        sock = socket.socket(family, kind, IPPROTO_SCTP)
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

