# -*- test-case-name: tests.integration.test_kernel_options -*-
"""
The 19 options on a kernel SCTP socket: written at start-up in the
reference's order (L{applyOptions}), one at a time at run time
(L{applyRuntimeOption}), and read back (L{readOptions},
L{readAssociationParameters}).  The decisions and kernel facts behind them
are in L{twisted_sctp.kernel.sctpsocket}'s docstring.
"""

from __future__ import annotations

import errno
import functools
import socket
from typing import Callable, Dict, List, Mapping, Tuple

from twisted_sctp.kernel.constants import FUTURE_ASSOC, SOL_SCTP, SockOpt, SPPFlags
from twisted_sctp.kernel.sockcalls import _getInt, _getStruct, _setInt
from twisted_sctp.kernel.sockopt import (
    AssocParams, AssocValue, CodecError, EventSubscribe, InitMsg, PeerAddrParams, RTOInfo, SackInfo,
)
from twisted_sctp.transport.options import KERNEL_OPTIONS, OPTION_NAMES, OPTIONS, SCTPOptions

#: The reference's subscription: exactly these seven notification types.
SUBSCRIBED_EVENTS = EventSubscribe(
    dataIO=True, association=True, address=True, sendFailure=True,
    peerError=True, shutdown=True, partialDelivery=True,
)

#: C{SCTP_FRAGMENT_INTERLEAVE} of a listen socket: 1, a deliberate
#: deviation from the reference (which sets 0).  At level 0 Linux delivers
#: nothing of any other association while one association's message is
#: partly delivered, so one peer sending big messages holds every other
#: peer's input (measured with C{bench/fairness.py}: 7 of 20 small OPTIONS
#: answered within 2 s while another association sent 1,000,000-byte
#: messages).  At level 1 the pieces of different associations' messages
#: interleave; each piece carries its C{sctp_sndrcvinfo}, and
#: L{twisted_sctp.kernel.backend.KernelBackend} reassembles per association.
#: Level 2 (streams of one association interleaved too) is not used: the
#: backend does not reassemble per stream.
FRAGMENT_INTERLEAVE = 1

_FAILED = object()


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


def _oneToOne(sock: socket.socket) -> bool:
    """
    @return: whether C{sock} is a one-to-one (C{SOCK_STREAM}) socket, which
        has no C{SCTP_AUTOCLOSE}.
    """
    return getattr(sock, "type", None) == socket.SOCK_STREAM


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
        autoclose=0 if _oneToOne(sock) else _getInt(sock, SOL_SCTP, SockOpt.AUTOCLOSE),
        init_max_attempts=init.maxAttempts,
        init_max_timeo=init.maxInitTimeo,
    )
    return values


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


def applyOptions(
    sock: socket.socket, options: SCTPOptions, family: int, interleave: int = FRAGMENT_INTERLEAVE
) -> List[str]:
    """
    Configure a new listen socket before C{bind}, in the reference's order:
    SO_REUSEADDR, buffers, FRAGMENT_INTERLEAVE (C{interleave}, 1 unless
    asked: see L{FRAGMENT_INTERLEAVE}), PARTIAL_DELIVERY_POINT,
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
    attempt("SCTP_FRAGMENT_INTERLEAVE={}".format(interleave),
            lambda: _setInt(sock, SOL_SCTP, SockOpt.FRAGMENT_INTERLEAVE, interleave))
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
    if _oneToOne(sock):
        # Linux refuses SCTP_AUTOCLOSE on one-to-one sockets (EOPNOTSUPP).
        if options.autoclose:
            warnings.append("autoclose={} does not apply to one-to-one sockets".format(options.autoclose))
        got = options.autoclose
    else:
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
