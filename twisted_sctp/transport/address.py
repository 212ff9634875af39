# -*- test-case-name: tests.test_address -*-
"""
Addresses of SCTP endpoints; an endpoint may have several (multihoming).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from typing import Tuple

import attrs
from zope.interface import implementer

from twisted.internet.interfaces import IAddress

HostPort = Tuple[str, int]


@functools.lru_cache(maxsize=16384)
def familyOf(host: str) -> int:
    """
    @return: C{AF_INET6} for an IPv6 literal, otherwise C{AF_INET}
        (cached, as L{normalizeHost}: routing asks for the same few hosts).
    @raise ValueError: C{host} is not an IP literal.
    """
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


@functools.lru_cache(maxsize=16384)
def normalizeHost(host: str) -> str:
    """
    @return: the canonical text of an IP literal (IPv4-mapped IPv6 addresses
        become plain IPv4).  Results are cached (the receive path asks for
        the same few peers on every message; C{ipaddress} takes microseconds).
    """
    try:
        # A canonical dotted quad (every IPv4 peer the kernel reports) is its
        # own answer: two C calls instead of ipaddress's parse, which a new
        # peer address (not yet cached) would otherwise pay.
        if socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, host)) == host:
            return host
    except (OSError, ValueError, TypeError):
        pass
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


@implementer(IAddress)
@attrs.frozen
class SCTPAddress:
    """
    An SCTP transport address: a port and one or more IP addresses.

    @ivar host: the primary address.
    @ivar port: the SCTP port.
    @ivar hosts: every address of the endpoint, primary first.
    """

    host: str
    port: int
    hosts: Tuple[str, ...] = attrs.field(default=())
    type: str = "SCTP"

    def __attrs_post_init__(self) -> None:
        if not self.hosts:
            object.__setattr__(self, "hosts", (self.host,))
        elif self.hosts[0] != self.host:
            rest = tuple(h for h in self.hosts if h != self.host)
            object.__setattr__(self, "hosts", (self.host,) + rest)

    @property
    def family(self) -> int:
        """
        The address family of the primary address.
        """
        return familyOf(self.host)

    def paths(self) -> list[HostPort]:
        """
        @return: C{(host, port)} for every address.
        """
        return [(h, self.port) for h in self.hosts]

    def __str__(self) -> str:
        def one(h: str) -> str:
            return "[{}]".format(h) if ":" in h else h

        if len(self.hosts) == 1:
            return "sctp:{}:{}".format(one(self.host), self.port)
        return "sctp:({}):{}".format(",".join(one(h) for h in self.hosts), self.port)


def parseListen(text: str) -> tuple[list[str], int]:
    """
    Parse a listen address: C{sctp:HOST:PORT}, C{sctp:(H1,H2):PORT},
    C{sctp:[::1]:PORT}; the C{sctp:} prefix is optional.

    @return: the hosts (primary first) and the port.
    @raise ValueError: the text is not such an address.
    """
    rest = text.strip()
    if rest.lower().startswith("sctp:"):
        rest = rest[5:]
    if not rest:
        raise ValueError("empty listen address")
    if rest.startswith("("):
        close = rest.find(")")
        if close < 0:
            raise ValueError("unclosed '(' in {!r}".format(text))
        hostsText = rest[1:close]
        after = rest[close + 1 :]
        hosts = [h.strip().strip("[]") for h in hostsText.split(",") if h.strip()]
    elif rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            raise ValueError("unclosed '[' in {!r}".format(text))
        hosts = [rest[1:close]]
        after = rest[close + 1 :]
    else:
        host, sep, portText = rest.rpartition(":")
        if not sep:
            host, portText = rest, "5060"
        hosts = [host]
        after = ":" + portText
    if after in ("", ":"):
        port = 5060
    elif after.startswith(":") and after[1:].isascii() and after[1:].isdigit():
        port = int(after[1:])
    else:
        raise ValueError("bad port in {!r}".format(text))
    if not hosts:
        raise ValueError("no address in {!r}".format(text))
    if not 0 <= port <= 65535:
        raise ValueError("port out of range in {!r}".format(text))
    out = []
    for h in hosts:
        try:
            out.append(normalizeHost(h))
        except ValueError:
            raise ValueError("{!r} is not an IP address (in {!r})".format(h, text))
    return out, port
