# -*- test-case-name: tests.test_port -*-
"""
Exceptions raised by twisted-sctp.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionLost


class SCTPError(Exception):
    """
    Base class of the errors this package raises.
    """


class SCTPUnavailableError(SCTPError):
    """
    The running kernel cannot open SCTP sockets (no C{sctp} module).
    """

    def __str__(self) -> str:
        detail = self.args[0] if self.args else ""
        return (
            "kernel SCTP is not available ({}): load it with 'modprobe sctp' "
            "(package linux-modules-extra on some distributions), or run under "
            "scripts/with-sctp-kernel".format(detail)
        )


class OptionError(SCTPError, ValueError):
    """
    An SCTP option name or value was refused.

    @ivar name: the option's name (without the C{sctp_} prefix).
    @ivar reason: a sentence saying why.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name = name
        self.reason = reason

    def __str__(self) -> str:
        return "{}: {}".format(self.name, self.reason)


class UnknownOptionError(OptionError):
    """
    No option has that name.
    """


class AssociationLimitError(SCTPError):
    """
    A send would open a new association while C{max_assocs} are already open
    (refused before any packet leaves).
    """


class SendQueueFullError(SCTPError):
    """
    The kernel send buffer and the per-association queue are both full; the
    message was not accepted.
    """


class UnknownAssociationError(SCTPError, KeyError):
    """
    No tracked association has that id.
    """

    def __str__(self) -> str:
        return "unknown association {}".format(self.args[0] if self.args else "?")


class ConnectError(SCTPError):
    """
    An association could not be set up (COMM_CANT_STR_ASSOC, or the INIT was
    refused).
    """

    def __str__(self) -> str:
        detail = " ".join(str(a) for a in self.args if a not in ("", 0))
        return "SCTP association could not be set up" + (": " + detail if detail else "")


class AssociationLost(ConnectionLost):
    """
    An association ended.

    @ivar how: one of C{"shutdown"} (graceful close, either side),
        C{"autoclose"} (idle timer), C{"aborted"} (we aborted it),
        C{"comm_lost"} (peer abort or timeout), C{"port_closed"}.
    @ivar error: the kernel's error code, where one was given.
    """

    def __init__(self, how: str, error: int = 0, detail: str = "") -> None:
        super().__init__(how, error, detail)
        self.how = how
        self.error = error
        self.detail = detail

    def __str__(self) -> str:
        text = "SCTP association ended: {}".format(self.how)
        if self.error:
            text += " (error {})".format(self.error)
        if self.detail:
            text += ": " + self.detail
        return text
