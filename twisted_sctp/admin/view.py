# -*- test-case-name: tests.test_admin -*-
"""
What the admin endpoint and the metrics show, computed from the listeners
(L{twisted_sctp.transport.port.SCTPPort}s) of the SIP service: Kamailio's C{sctp.info},
C{sctp.options} (with its parameter syntax and faults) and counters, summed
over the listeners, plus ours.  Pure: no I/O except the optional kernel reads
the caller asks for; the errors are the admin's typed AMP errors (defined
with the commands in L{twisted_sctp.admin.protocol}, re-exported here).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from twisted_sctp.admin.protocol import (
    AdminError,
    AmbiguousAssociation,
    AssociationNotReady,
    BadParam,
    BadProtocol,
    ChangeRefused,
    NoSCTPSocket,
    NotListening,
    OptionsReadFailed,
    UnknownAssociation,
    UnknownOption,
)
from twisted_sctp.transport.registry import Association, AssociationState
from twisted_sctp.error import OptionError, UnknownOptionError
from twisted_sctp.transport.options import OPTION_NAMES, PREFIX, RuntimeChange, changeOption
from twisted_sctp.transport.stats import KAMAILIO_COUNTERS


BAD_PARAM = "bad param (use address, address:port, default or first)"
BAD_PROTOCOL = "bad protocol in param (only SCTP allowed)"
NO_SOCKET = "could not find a sctp socket"
READ_FAILED = "failed to get socket options"

#: The protocols Kamailio's C{[proto:]host[:port]} parameter knows.
_PROTOCOLS = ("udp", "tcp", "tls", "sctp", "ws", "wss")

#: Live association states, in the order they are reported.
_STATES = (AssociationState.CONNECTING, AssociationState.ESTABLISHED, AssociationState.SHUTTING_DOWN)


def listenerName(port: Any) -> str:
    """
    @return: how the admin names a listener: its address as C{--listen}
        takes it (C{sctp:127.0.0.1:5060}, C{sctp:(h1,h2):5060}).
    """
    return str(port.getHost())


def sumTracked(values: Iterable[int]) -> int:
    """
    Kamailio's C{tracked_connections} over several listeners.

    @return: -1 when every listener has tracking off (each gives -1),
        otherwise the sum of the tracked counts.
    """
    values = list(values)
    if values and all(v < 0 for v in values):
        return -1
    return sum(v for v in values if v >= 0)


def info(ports: Sequence[Any], uptime: float) -> Dict[str, object]:
    """
    Kamailio's C{sctp.info} summed over the listeners, then ours.

    @param uptime: seconds since the service started.
    """
    out: Dict[str, object] = {
        "opened_connections": sum(p.registry.opened for p in ports),
        "tracked_connections": sumTracked(p.registry.tracked for p in ports),
        "total_connections": sum(p.registry.total for p in ports),
        "listeners": len(ports),
        "listen": [listenerName(p) for p in ports],
        "uptime": round(uptime, 3),
    }
    states = {state: 0 for state in _STATES}
    for port in ports:
        for assoc in port.registry:
            if assoc.state in states:
                states[assoc.state] += 1
    out["associations"] = sum(states.values())
    for state, count in states.items():
        out["associations_" + state.value.replace("-", "_")] = count
    out["assoc_tracking"] = int(bool(ports) and all(p.registry.tracking for p in ports))
    return out


def counters(ports: Sequence[Any]) -> Dict[str, int]:
    """
    Kamailio's 11 counters summed over the listeners (the current_tracked
    one -1 while tracking is off), then ours (messages, bytes, drops...).
    """
    out: Dict[str, int] = {name: 0 for name in KAMAILIO_COUNTERS}
    tracked = []
    for port in ports:
        for name, value in port.snapshot().items():
            if name == "current_tracked_connections":
                tracked.append(int(value))
            elif isinstance(value, int):
                out[name] = out.get(name, 0) + value
    out["current_tracked_connections"] = sumTracked(tracked)
    return out


def prefixed(options: Dict[str, int]) -> Dict[str, int]:
    """
    @return: the 19 options named as Kamailio's C{sctp.options} names them
        (C{sctp_autoclose}, ...), in its order.
    """
    return {PREFIX + name: int(options.get(name, 0)) for name in OPTION_NAMES}


def _parseParam(param: str) -> Tuple[str, Optional[int]]:
    """
    Parse C{[proto:]host[:port]} (C{[v6]} brackets allowed; a bare IPv6
    literal is an address without port).

    @return: the host text and the port (C{None}: any port).
    @raise BadParam: unparsable.
    @raise BadProtocol: a protocol other than SCTP.
    """
    rest = param.strip()
    head, sep, tail = rest.partition(":")
    if sep and head.lower() in _PROTOCOLS:
        if head.lower() != "sctp":
            raise BadProtocol(BAD_PROTOCOL)
        rest = tail
    if not rest:
        raise BadParam(BAD_PARAM)
    if _isIP(rest):
        return rest, None
    portText: Optional[str]
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            raise BadParam(BAD_PARAM)
        host, after = rest[1:close], rest[close + 1 :]
        if after and not after.startswith(":"):
            raise BadParam(BAD_PARAM)
        portText = after[1:] if after else None
    else:
        host, sep, portText = rest.rpartition(":")
        if not sep:
            host, portText = rest, None
        elif ":" in host:
            raise BadParam(BAD_PARAM)
    if not host:
        raise BadParam(BAD_PARAM)
    if portText is None:
        return host, None
    if not portText.isdigit() or not 0 < int(portText) <= 65535:
        raise BadParam(BAD_PARAM)
    return host, int(portText)


def _isIP(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def findListener(ports: Sequence[Any], param: str) -> Any:
    """
    The listener C{sctp.options PARAM} means: C{first}, C{default} (the
    first IPv4 listener, else the first IPv6 one: our listeners are also our
    send sockets), or C{[sctp:]host[:port]} (a missing port matches any
    port; any address of a multihomed listener matches).

    @raise BadParam: see L{_parseParam}.
    @raise BadProtocol: see L{_parseParam}.
    @raise NotListening: no listener has that address.
    @raise NoSCTPSocket: C{first}/C{default} and there is no listener.
    """
    live = [p for p in ports if getattr(p, "connected", True)]
    keyword = param.strip().lower()
    if keyword in ("first", "default"):
        if not live:
            raise NoSCTPSocket(NO_SOCKET)
        if keyword == "default":
            for family in (socket.AF_INET, socket.AF_INET6):
                for port in live:
                    if port.family == family:
                        return port
        return live[0]
    host, number = _parseParam(param)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise NotListening("not listening on sctp {}".format(param.strip()))
    canonical = str(ip.ipv4_mapped) if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else str(ip)
    for port in live:
        address = port.getHost()
        if canonical in address.hosts and (number is None or number == address.port):
            return port
    raise NotListening("not listening on sctp {}".format(param.strip()))


def liveOptions(port: Any) -> Dict[str, int]:
    """
    @return: a listener's 19 options read back from its kernel socket,
        prefixed (the five internal ones 0, as the reference).
    @raise OptionsReadFailed: the kernel read failed.
    """
    try:
        return prefixed(port.getOptions(live=True))
    except (OSError, ValueError) as e:
        raise OptionsReadFailed("{} ({}: {})".format(READ_FAILED, listenerName(port), e))


def setOption(ports: Sequence[Any], name: str, value: str) -> RuntimeChange:
    """
    Change an option on every listener with the reference's run-time rules.
    Every listener's change is checked first (pure), so a refused change
    changes nothing; then each listener applies it (kernel options are
    pushed to its socket for future associations).

    @return: the first listener's L{RuntimeChange}.
    @raise UnknownOption: no such option.
    @raise ChangeRefused: the rules or the kernel refused.
    @raise NoSCTPSocket: there is no listener.
    """
    if not ports:
        raise NoSCTPSocket(NO_SOCKET)
    try:
        for port in ports:
            changeOption(port.options, name, value)
    except UnknownOptionError as e:
        raise UnknownOption("unknown option {!r}; valid names: {}".format(e.name, ", ".join(OPTION_NAMES)))
    except OptionError as e:
        raise ChangeRefused(str(e))
    changes: List[RuntimeChange] = []
    for port in ports:
        try:
            changes.append(port.setOption(name, value))
        except OptionError as e:
            raise ChangeRefused(str(e))
        except (OSError, ValueError) as e:
            done = ", ".join(listenerName(p) for p in ports[: len(changes)]) or "none"
            raise ChangeRefused(
                "the kernel refused {}={} on {}: {} (applied on: {})".format(name, value, listenerName(port), e, done)
            )
    return changes[0]


def associationRecords(ports: Sequence[Any]) -> List[Tuple[Any, Association]]:
    """
    Every live association of every listener (the port keeps a record of
    each; with C{assoc_tracking=0} their C{id} is 0), in a stable order:
    by listener, then id, then kernel assoc_id.
    """
    out: List[Tuple[Any, Association]] = []
    for port in ports:
        records = sorted(port.registry, key=lambda a: (a.id or 1 << 62, a.assocID))
        out.extend((port, assoc) for assoc in records)
    return out


def describeAssociation(port: Any, assoc: Association, now: float) -> Dict[str, object]:
    """
    @param now: the time, used when the port has no clock of its own (the
        registry's timestamps come from the port's reactor).
    @return: the association's flat summary (id, assoc_id, peer, paths and
        their state, state, age, idle, messages and bytes each way, streams)
        and its C{listener}; every peer address (those not asked for at
        COMM_UP are asked for now, for the records shown only).
    """
    port.registry.resolve(assoc)
    clock = getattr(port, "_reactor", None)
    entry = assoc.summary(clock.seconds() if clock is not None else now)
    entry["listener"] = listenerName(port)
    return entry


def findAssociation(ports: Sequence[Any], id: int, listener: Optional[str] = None) -> Tuple[Any, Association]:
    """
    The live association with our id C{id}.

    @param listener: the listener's name (L{listenerName}) or one of its
        addresses, needed only when several listeners have that id.
    @raise UnknownAssociation: none has it.
    @raise AmbiguousAssociation: several listeners have it and C{listener}
        was not given.
    @raise AssociationNotReady: it has no kernel association yet.
    """
    found: List[Tuple[Any, Association]] = []
    for port in ports:
        if listener and not _isListener(port, listener):
            continue
        assoc = port.registry.byID(id) if id > 0 else None
        if assoc is not None and assoc.state != AssociationState.CLOSED:
            found.append((port, assoc))
    where = " on {}".format(listener) if listener else ""
    if not found:
        raise UnknownAssociation("unknown association {}{}".format(id, where))
    if len(found) > 1:
        raise AmbiguousAssociation(
            "association id {} exists on {} listeners ({}); name the listener".format(
                id, len(found), ", ".join(listenerName(p) for p, _ in found)
            )
        )
    port, assoc = found[0]
    if not assoc.assocID:
        raise AssociationNotReady("association {} is still connecting (no kernel association yet)".format(id))
    return port, assoc


def _isListener(port: Any, text: str) -> bool:
    text = text.strip()
    if text == listenerName(port):
        return True
    try:
        return findListener([port], text) is port
    except AdminError:
        return False
