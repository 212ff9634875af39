# -*- test-case-name: tests.test_association -*-
"""
Counters: Kamailio's eleven C{sctp} counters with the same meanings, plus
ours (messages and bytes each way, drops by reason, queueing).
"""

from __future__ import annotations

from twisted_sctp.counters import Counters

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


class SCTPStats(Counters):
    """
    The counters of one port.  The two C{current_*} figures are computed
    from the registry, see L{twisted_sctp.transport.registry.AssociationRegistry}.
    """

    dropReasons = DROP_REASONS

    established: int
    connect_failed: int
    local_reject: int
    remote_shutdown: int
    assoc_shutdown: int
    comm_lost: int
    sendq_full: int
    send_failed: int
    send_force_retry: int
    # ours
    messages_in: int
    messages_out: int
    bytes_in: int
    bytes_out: int
    notifications_in: int
    partial_reassembled: int
    autoclosed: int
    restarts: int
    outgoing_refused: int
    queued: int
    send_errors: int

    def asDict(self, opened: int, tracked: int) -> dict[str, object]:  # type: ignore[override]
        """
        @param opened: the open-association count (current_opened_connections).
        @param tracked: the tracked-association count, -1 while tracking is off.
        @return: every counter by name, Kamailio's eleven first in its order;
            drops as C{drop_<reason>}.
        """
        counted = super().asDict()
        out: dict[str, object] = {name: counted.pop(name) for name in KAMAILIO_COUNTERS[:-2]}
        out["current_opened_connections"] = opened
        out["current_tracked_connections"] = tracked
        out.update(counted)
        return out
