# -*- test-case-name: tests.test_sockopt -*-
"""
Linux kernel SCTP constants that the stdlib C{socket} module lacks.

Values come from C{<linux/sctp.h>} (linux-libc-dev 6.1, checked with gcc on
x86_64) and RFC 4960 / RFC 6458.  They are Linux values: other systems number
several of them differently.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

IPPROTO_SCTP = 132
"""
The protocol number of SCTP (C{IPPROTO_SCTP}).
"""

SOL_SCTP = 132
"""
The socket option level of SCTP (C{SOL_SCTP}), equal to L{IPPROTO_SCTP}.
"""

SO_TIMESTAMPNS = 35
"""
C{SO_TIMESTAMPNS} (C{SOL_SOCKET}; Python's C{socket} module lacks it): the
kernel adds each received message's arrival time, a C{struct timespec}, as
an ancillary item of the same number (C{SCM_TIMESTAMPNS}).  SCTP delivers
it like the other socket types (C{sctp_recvmsg} calls C{sock_recv_cmsgs}).
"""


class SockOpt(IntEnum):
    """
    SCTP socket option names, for C{setsockopt(SOL_SCTP, ...)} and
    C{getsockopt(SOL_SCTP, ...)}.
    """

    RTOINFO = 0
    ASSOCINFO = 1
    INITMSG = 2
    NODELAY = 3
    AUTOCLOSE = 4
    PRIMARY_ADDR = 6
    DISABLE_FRAGMENTS = 8
    PEER_ADDR_PARAMS = 9
    DEFAULT_SEND_PARAM = 10
    EVENTS = 11
    I_WANT_MAPPED_V4_ADDR = 12
    MAXSEG = 13
    STATUS = 14
    GET_PEER_ADDR_INFO = 15
    DELAYED_SACK = 16
    DELAYED_ACK_TIME = 16
    FRAGMENT_INTERLEAVE = 18
    PARTIAL_DELIVERY_POINT = 19
    MAX_BURST = 20
    GET_ASSOC_ID_LIST = 29
    RECVRCVINFO = 32
    DEFAULT_SNDINFO = 34
    REUSE_PORT = 36
    SOCKOPT_BINDX_ADD = 100
    SOCKOPT_BINDX_REM = 101
    SOCKOPT_PEELOFF = 102
    GET_PEER_ADDRS = 108
    GET_LOCAL_ADDRS = 109
    SOCKOPT_CONNECTX = 110
    SOCKOPT_CONNECTX3 = 111
    GET_ASSOC_STATS = 112
    DEFAULT_PRINFO = 114
    EVENT = 127


class CmsgType(IntEnum):
    """
    Ancillary data (control message) types at level L{IPPROTO_SCTP}.
    """

    INIT = 0
    SNDRCV = 1
    SNDINFO = 2
    RCVINFO = 3
    NXTINFO = 4
    PRINFO = 5
    AUTHINFO = 6
    DSTADDRV4 = 7
    DSTADDRV6 = 8


class SendFlags(IntFlag):
    """
    Flags of C{sinfo_flags} / C{snd_flags}.  The legacy API also carries a
    PR-SCTP policy (L{PRPolicy}) in the bits C{0x30} of C{sinfo_flags}.
    """

    UNORDERED = 1
    ADDR_OVER = 2
    ABORT = 4
    SACK_IMMEDIATELY = 8
    SENDALL = 64
    EOF = 0x200


MSG_FIN = 0x200
"""
C{MSG_FIN}, the value of L{SendFlags.EOF}.
"""


class PRPolicy(IntEnum):
    """
    PR-SCTP policies (C{pr_policy} of C{struct sctp_prinfo}).
    """

    NONE = 0
    TTL = 0x10
    RTX = 0x20
    PRIO = 0x30


PR_SCTP_NONE = PRPolicy.NONE
PR_SCTP_TTL = PRPolicy.TTL
PR_SCTP_RTX = PRPolicy.RTX
PR_SCTP_PRIO = PRPolicy.PRIO

MSG_NOTIFICATION = 0x8000
"""
C{msg_flags} bit: the message read is a notification, not user data.
"""

MSG_EOR = 0x80
"""
C{msg_flags} bit: the message read is complete (absent on partial delivery).
"""


class SPPFlags(IntFlag):
    """
    Flags of C{spp_flags} in C{struct sctp_paddrparams}.
    """

    HB_ENABLE = 1
    HB_DISABLE = 2
    HB_DEMAND = 4
    PMTUD_ENABLE = 8
    PMTUD_DISABLE = 16
    SACKDELAY_ENABLE = 32
    SACKDELAY_DISABLE = 64
    HB_TIME_IS_ZERO = 128


FUTURE_ASSOC = 0
CURRENT_ASSOC = 1
ALL_ASSOC = 2


class NotificationType(IntEnum):
    """
    The C{sn_type} of an SCTP notification.
    """

    DATA_IO_EVENT = 0x8000
    ASSOC_CHANGE = 0x8001
    PEER_ADDR_CHANGE = 0x8002
    SEND_FAILED = 0x8003
    REMOTE_ERROR = 0x8004
    SHUTDOWN_EVENT = 0x8005
    PARTIAL_DELIVERY_EVENT = 0x8006
    ADAPTATION_INDICATION = 0x8007
    AUTHENTICATION_EVENT = 0x8008
    SENDER_DRY_EVENT = 0x8009
    STREAM_RESET_EVENT = 0x800A
    ASSOC_RESET_EVENT = 0x800B
    STREAM_CHANGE_EVENT = 0x800C
    SEND_FAILED_EVENT = 0x800D


class AssocChangeState(IntEnum):
    """
    C{sac_state} of an C{SCTP_ASSOC_CHANGE} notification.
    """

    COMM_UP = 0
    COMM_LOST = 1
    RESTART = 2
    SHUTDOWN_COMP = 3
    CANT_STR_ASSOC = 4


class PeerAddrState(IntEnum):
    """
    C{spc_state} of an C{SCTP_PEER_ADDR_CHANGE} notification.
    """

    ADDR_AVAILABLE = 0
    ADDR_UNREACHABLE = 1
    ADDR_REMOVED = 2
    ADDR_ADDED = 3
    ADDR_MADE_PRIM = 4
    ADDR_CONFIRMED = 5
    ADDR_POTENTIALLY_FAILED = 6


SEND_FAILED_DATA_UNSENT = 0
"""
C{ssf_flags}: the message never went on the wire.
"""

SEND_FAILED_DATA_SENT = 1
"""
C{ssf_flags}: the message was sent but not acknowledged.
"""


class PartialDeliveryIndication(IntEnum):
    """
    C{pdapi_indication} of an C{SCTP_PARTIAL_DELIVERY_EVENT}.
    """

    PD_ABORTED = 0


class AuthIndication(IntEnum):
    """
    C{auth_indication} of an C{SCTP_AUTHENTICATION_EVENT}.
    """

    NEW_KEY = 0
    FREE_KEY = 1
    NO_AUTH = 2


class AssocState(IntEnum):
    """
    C{sstat_state} of C{struct sctp_status} (C{enum sctp_sstat_state}).
    """

    EMPTY = 0
    CLOSED = 1
    COOKIE_WAIT = 2
    COOKIE_ECHOED = 3
    ESTABLISHED = 4
    SHUTDOWN_PENDING = 5
    SHUTDOWN_SENT = 6
    SHUTDOWN_RECEIVED = 7
    SHUTDOWN_ACK_SENT = 8


class TransportState(IntEnum):
    """
    C{spinfo_state} of C{struct sctp_paddrinfo} (C{enum sctp_spinfo_state}).
    """

    INACTIVE = 0
    PF = 1
    ACTIVE = 2
    UNCONFIRMED = 3
    UNKNOWN = 0xFFFF


class ErrorCause(IntEnum):
    """
    SCTP error cause codes (RFC 4960 section 3.3.10), as found in ABORT and
    ERROR chunks and in C{sre_error} of C{SCTP_REMOTE_ERROR}.
    """

    INVALID_STREAM = 1
    MISSING_PARAM = 2
    STALE_COOKIE = 3
    NO_RESOURCE = 4
    UNRESOLVABLE_ADDR = 5
    UNRECOGNIZED_CHUNK = 6
    INVALID_PARAM = 7
    UNRECOGNIZED_PARAM = 8
    NO_DATA = 9
    COOKIE_IN_SHUTDOWN = 10
    RESTART = 11
    USER_ABORT = 12
    PROTOCOL_VIOLATION = 13


ERROR_USER_ABORT = ErrorCause.USER_ABORT
"""
The error cause code of a user-initiated abort (12).
"""

SCTP_BINDX_ADD_ADDR = 1
SCTP_BINDX_REM_ADDR = 2
