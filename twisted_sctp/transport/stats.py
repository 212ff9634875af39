# -*- test-case-name: tests.test_association -*-
"""
Counters: Kamailio's eleven C{sctp} counters with the same meanings, plus
ours (messages and bytes each way, drops by reason, queueing).
"""

from __future__ import annotations

import collections
from typing import Dict

import attrs

#: Kamailio's counter names, in its order (the two computed ones last).
KAMAILIO_COUNTERS = (
    "established",
    "connect_failed",
    "local_reject",
    "remote_shutdown",
    "assoc_shutdown",
    "comm_lost",
    "sendq_full",
    "send_failed",
    "send_force_retry",
    "current_opened_connections",
    "current_tracked_connections",
)

#: Drop reasons that L{SCTPStats.drop} accepts.
DROP_REASONS = (
    "oversize",  # a partially delivered message grew past the reassembly bound
    "no_eor",  # a partial message was cut off (e.g. its association ended)
    "short_notification",  # a notification shorter than its header or struct
    "bad_notification",  # a notification the codec could not decode
    "no_sndrcvinfo",  # a data message without its SCTP_SNDRCV control message
    "source_port_zero",  # a data message from port 0
    "queue_full",  # a send refused because the association's queue was full
    "association_lost",  # queued messages of an association that ended
    "protocol_error",  # the protocol raised while handling a message
    "rejected_association",  # data on an association aborted for max_assocs
)


@attrs.define
class SCTPStats:
    """
    The counters of one port.  The two C{current_*} figures are computed
    from the registry, see L{twisted_sctp.transport.registry.AssociationRegistry}.
    """

    established: int = 0
    connect_failed: int = 0
    local_reject: int = 0
    remote_shutdown: int = 0
    assoc_shutdown: int = 0
    comm_lost: int = 0
    sendq_full: int = 0
    send_failed: int = 0
    send_force_retry: int = 0
    # ours
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    notifications_in: int = 0
    partial_reassembled: int = 0
    autoclosed: int = 0
    restarts: int = 0
    outgoing_refused: int = 0
    queued: int = 0
    send_errors: int = 0
    drops: Dict[str, int] = attrs.field(factory=lambda: collections.Counter())

    def drop(self, reason: str, count: int = 1) -> None:
        """
        Count C{count} messages dropped for C{reason} (one of
        L{DROP_REASONS}).
        """
        if reason not in DROP_REASONS:
            raise ValueError("unknown drop reason {!r}".format(reason))
        self.drops[reason] += count

    def asDict(self, opened: int, tracked: int) -> dict[str, object]:
        """
        @param opened: the open-association count (current_opened_connections).
        @param tracked: the tracked-association count, -1 while tracking is off.
        @return: every counter by name; drops as C{drop_<reason>}.
        """
        out: dict[str, object] = {}
        for name in KAMAILIO_COUNTERS[:-2]:
            out[name] = getattr(self, name)
        out["current_opened_connections"] = opened
        out["current_tracked_connections"] = tracked
        for field in attrs.fields(SCTPStats):
            if field.name not in out and field.name != "drops":
                out[field.name] = getattr(self, field.name)
        for reason in DROP_REASONS:
            out["drop_" + reason] = self.drops.get(reason, 0)
        return out
