# -*- test-case-name: tests.test_engine_data -*-
"""
The engine's settings, in the units of the kernel transport's options (the
C{srto_*}, C{hbinterval}, C{sack_delay} values are milliseconds there; here
they are seconds, as the engine's clock is).
"""

from __future__ import annotations

from typing import Optional

import attrs


#: The largest UDP payload over IPv4 (65535 less the IP and UDP headers).
MAX_MTU = 65507


def _positive(instance: object, attribute: "attrs.Attribute[float]", value: float) -> None:
    if value <= 0:
        raise ValueError("{} must be positive, not {!r}".format(attribute.name, value))


@attrs.frozen
class EngineConfig:
    """
    Protocol parameters of one engine endpoint (RFC 9260 section 16 defaults
    unless noted).

    @ivar rtoInitial: C{srto_initial} in seconds.
    @ivar rtoMin: C{srto_min} in seconds.
    @ivar rtoMax: C{srto_max} in seconds.
    @ivar maxInitRetransmits: C{init_max_attempts}.
    @ivar maxInitTimeout: C{init_max_timeo} in seconds: the cap of the INIT
        and COOKIE-ECHO timer.
    @ivar assocMaxRetrans: C{asocmaxrxt}.
    @ivar pathMaxRetrans: C{pathmaxrxt}.
    @ivar hbInterval: C{hbinterval} in seconds, C{None} to disable
        heartbeats.
    @ivar sackDelay: C{sack_delay} in seconds.
    @ivar sackFreq: C{sack_freq}: packets with DATA before a SACK is sent
        without waiting.
    @ivar maxBurst: C{max_burst}: most new packets sent at once.
    @ivar mtu: the largest SCTP packet we send (without the UDP header):
        the path MTU less the IP and UDP headers; up to L{MAX_MTU} (on the
        loopback, where IP fragments cost nothing, a large value bundles
        several DATA chunks per packet).
    @ivar rwnd: our advertised receive window in bytes.
    @ivar outStreams: outbound streams we ask for.
    @ivar inStreams: the most inbound streams we accept.
    @ivar cookieLifetime: validity of our state cookies in seconds.
    @ivar maxMessage: the largest user message we send or reassemble.
    """

    rtoInitial: float = attrs.field(default=1.0, validator=_positive)
    rtoMin: float = attrs.field(default=1.0, validator=_positive)
    rtoMax: float = attrs.field(default=60.0, validator=_positive)
    maxInitRetransmits: int = 8
    maxInitTimeout: float = attrs.field(default=60.0, validator=_positive)
    assocMaxRetrans: int = 10
    pathMaxRetrans: int = 5
    hbInterval: Optional[float] = 30.0
    sackDelay: float = attrs.field(default=0.2, validator=_positive)
    sackFreq: int = 2
    maxBurst: int = 4
    mtu: int = 1200
    rwnd: int = 1 << 20
    outStreams: int = 10
    inStreams: int = 65535
    cookieLifetime: float = attrs.field(default=60.0, validator=_positive)
    maxMessage: int = 1 << 20
    maxDuplicatesReported: int = 32
    maxGapsReported: int = 64

    def __attrs_post_init__(self) -> None:
        if not self.rtoMin <= self.rtoInitial <= self.rtoMax:
            raise ValueError("need rtoMin <= rtoInitial <= rtoMax")
        if self.mtu < 256:
            raise ValueError("mtu {} is too small".format(self.mtu))
        if self.mtu > MAX_MTU:
            raise ValueError("mtu {} is over the largest UDP payload, {}".format(self.mtu, MAX_MTU))
        if self.sackFreq < 1:
            raise ValueError("sackFreq must be at least 1")
