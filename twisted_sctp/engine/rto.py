# -*- test-case-name: tests.test_engine_data -*-
"""
Retransmission timeout computation (RFC 9260 section 6.3.1).
"""

from __future__ import annotations

from typing import Optional

from twisted_sctp.engine.config import EngineConfig

_ALPHA = 0.125
_BETA = 0.25
_GRANULARITY = 0.001


class RTOEstimator:
    """
    SRTT, RTTVAR and RTO of one path.
    """

    def __init__(self, config: EngineConfig) -> None:
        self._config = config
        self.srtt: Optional[float] = None
        self.rttvar = 0.0
        self.rto = config.rtoInitial

    def _clamp(self, value: float) -> float:
        return min(max(value, self._config.rtoMin), self._config.rtoMax)

    def sample(self, rtt: float) -> None:
        """
        Take one round-trip measurement (never from a retransmitted chunk).
        """
        rtt = max(rtt, 0.0)
        if self.srtt is None:
            self.srtt = rtt
            self.rttvar = rtt / 2
        else:
            self.rttvar = (1 - _BETA) * self.rttvar + _BETA * abs(self.srtt - rtt)
            self.srtt = (1 - _ALPHA) * self.srtt + _ALPHA * rtt
        self.rto = self._clamp(self.srtt + 4 * max(self.rttvar, _GRANULARITY))

    def backOff(self) -> None:
        """
        Double the RTO after a timer expiry (section 6.3.3 E2).
        """
        self.rto = self._clamp(self.rto * 2)
