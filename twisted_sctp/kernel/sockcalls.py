# -*- test-case-name: tests.integration.test_kernel_options -*-
"""
The raw socket-option calls under L{twisted_sctp.kernel.sctpsocket}:
C{getsockopt} through libc with a prepared buffer (SCTP options read input
fields such as C{assoc_id}; the stdlib passes an uninitialised one), and
small integer and structure helpers.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
from typing import Tuple

from twisted_sctp.kernel.constants import SOL_SCTP, SockOpt

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


def _getInt(sock: socket.socket, level: int, optname: int) -> int:
    return int(sock.getsockopt(level, optname))


def _setInt(sock: socket.socket, level: int, optname: int, value: int) -> None:
    sock.setsockopt(level, optname, value)


def _getStruct(sock: socket.socket, optname: int, request: bytes) -> bytes:
    return getsockoptBuffer(sock, SOL_SCTP, optname, request)
