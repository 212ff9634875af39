# -*- test-case-name: tests.test_layer -*-
"""
The boundary between the association layer and an SCTP backend.

A backend (the kernel socket in L{twisted_sctp.kernel.backend}, a fake in
L{twisted_sctp.testing}, a user-space engine later) provides
L{ISCTPBackend}: the layer calls it to listen, send, connect, shut down,
abort and configure.  The layer provides L{ISCTPBackendSink}: the backend
calls it with the events of L{twisted_sctp.transport.events}, whole
messages only, and says when it can take data again.  Nothing crosses
but those values: no socket, no errno, no kernel structure.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from zope.interface import Attribute, Interface

from twisted.python.failure import Failure

from twisted_sctp.transport.address import HostPort
from twisted_sctp.transport.events import DataReceived, Event, SendParameters
from twisted_sctp.transport.options import SCTPOptions


class ISCTPBackendSink(Interface):
    """
    What a backend reports to (the association layer).
    """

    stats = Attribute("The L{twisted_sctp.transport.stats.SCTPStats} the backend counts its drops in.")
    readTime = Attribute(
        "The time of the current batch of input (set by the backend before it "
        "reports the first data message of a wake-up, or before the first "
        "message where it can see the batch's arrival time ahead; None again "
        "after the last, and None while a wake-up has reported only events "
        "whose time is not known yet): the activity time of everything "
        "received and sent meanwhile; where it is None, the clock's."
    )

    def dataReceived(event: DataReceived) -> None:
        """
        One whole user message arrived.
        """

    def eventReceived(event: Event) -> None:
        """
        Anything else happened (an association came up or went down, a path
        changed, a message came back unsent...).
        """

    def writable() -> None:
        """
        The backend can take data again after L{ISCTPBackend.send} raised
        C{BlockingIOError} (asked for with L{ISCTPBackend.startWriting}).
        """

    def backendLost(reason: Failure) -> None:
        """
        The backend stopped working (a fatal read error, or it was closed).
        """

    def logPrefix() -> str:
        """
        @return: the name to log the backend's lines under.
        """


class ISCTPBackend(Interface):
    """
    One SCTP endpoint (a listening, one-to-many socket or its equivalent).
    """

    family = Attribute("C{AF_INET} or C{AF_INET6}.")
    boundPort = Attribute("The local port, once listening (0 before).")
    warnings = Attribute("The option problems found when listening, one sentence each.")
    bindFailures = Attribute("C{(host, OSError)} for each secondary address that could not be added.")

    def listen(sink: ISCTPBackendSink, hosts: Sequence[str], port: int, options: SCTPOptions) -> None:
        """
        Open the endpoint on C{hosts} (the first primary) and C{port} (0 for
        any), apply C{options}, and start reporting to C{sink}.

        @raise twisted.internet.error.CannotListenError: binding failed.
        @raise twisted_sctp.error.SCTPUnavailableError: no SCTP here.
        """

    def send(payload: bytes, params: SendParameters, assocID: int = 0, address: Optional[HostPort] = None) -> None:
        """
        Send one message.

        @param assocID: the backend's id of the association (0 when not
            known yet); it is also how the backend knows whether that
            association is up.
        @param address: C{None} to send on association C{assocID}; else the
            peer address to send to (the backend opens an association to it
            if it has none).
        @raise AssociationGoneError: (sending on C{assocID}) that association
            is gone; the caller may send by address instead.
        @raise BlockingIOError: no room now; call again after
            L{ISCTPBackendSink.writable}.
        @raise OSError: the message was refused.
        """

    def connect(paths: Sequence[HostPort]) -> int:
        """
        Start an association to a peer with these addresses.

        @return: the new association's id, 0 when not known until it is up.
        @raise OSError: the backend refused.
        """

    def shutdown(assocID: int) -> None:
        """
        Start a graceful SHUTDOWN (what was given to L{send} goes first).

        @raise OSError: the backend refused.
        """

    def abort(assocID: int, reason: bytes = b"") -> None:
        """
        ABORT the association with C{reason} as the user-initiated cause.

        @raise OSError: the backend refused.
        """

    def peerAddresses(assocID: int) -> List[HostPort]:
        """
        @return: every address of the association's peer.
        @raise OSError: e.g. the association is unknown.
        """

    def localAddresses(assocID: int = 0) -> List[HostPort]:
        """
        @return: the local addresses of the association (0: of the endpoint).
        @raise OSError: the backend refused.
        """

    def applyOption(name: str, value: int) -> None:
        """
        Apply a changed option (validated by the caller) to future
        associations.

        @raise OSError: the backend refused.
        """

    def readOptions() -> Dict[str, int]:
        """
        @return: the live values of the 19 options.
        @raise OSError: a read failed.
        """

    def startWriting() -> None:
        """
        Call L{ISCTPBackendSink.writable} once there is room to send.
        """

    def stopWriting() -> None:
        """
        Stop calling L{ISCTPBackendSink.writable}.
        """

    def pauseReading() -> None:
        """
        Report no more input until L{resumeReading}.
        """

    def resumeReading() -> None:
        """
        Report input again.
        """

    def close() -> None:
        """
        Close the endpoint (every association with it); report nothing more.
        """


class AssociationGoneError(OSError):
    """
    L{ISCTPBackend.send} on an association the backend no longer has (it
    ended, and its end may not have been reported yet).
    """
