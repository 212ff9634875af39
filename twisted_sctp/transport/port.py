# -*- test-case-name: tests.test_port -*-
"""
The SCTP port that applications use: L{SCTPPort} (an C{IListeningPort}),
the transport of each association (L{AssociationTransport}), the received
message (L{SCTPMessage}) and L{listenSCTP}.

An L{SCTPPort} is the L{twisted_sctp.transport.layer.AssociationLayer}
(registry, dispatch, queues, retries) over one backend: by default the
kernel's one-to-many socket (L{twisted_sctp.kernel.backend.KernelBackend}),
or any L{ISCTPBackend} given as C{backend} (e.g.
L{twisted_sctp.testing.FakeBackend}).

Messages are sent ordered unless C{unordered=True} is asked for, by
L{AssociationTransport.write}, L{AssociationTransport.writeMessage} and
L{SCTPPort.sendMessage} alike.
"""

from __future__ import annotations

import socket
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import attrs
from zope.interface import implementer

from twisted.internet import defer, main
from twisted.internet.interfaces import IListeningPort, ILoggingContext, IProducer, IProtocolFactory, IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_sctp.transport.address import SCTPAddress, familyOf, normalizeHost
from twisted_sctp.transport.backend import ISCTPBackend
from twisted_sctp.transport.interfaces import IAssociationTransport
from twisted_sctp.transport.layer import MAX_ASSOCS_REASON, AssociationLayer, SCTPEvent, SCTPMessage
from twisted_sctp.transport.options import APPLIES_NOT_APPLICABLE, RuntimeChange, SCTPOptions, changeOption
from twisted_sctp.transport.registry import Association
from twisted_sctp.transport.sending import Target

__all__ = [
    "MAX_ASSOCS_REASON",
    "AssociationTransport",
    "SCTPEvent",
    "SCTPMessage",
    "SCTPPort",
    "STYLES",
    "Target",
    "listenSCTP",
]

_log = Logger()

#: The kernel socket styles (C{SOCK_SEQPACKET}, C{SOCK_STREAM}).
STYLES = ("one-to-many", "one-to-one")


@implementer(IAssociationTransport)
class AssociationTransport:
    """
    The transport of one association (see L{IAssociationTransport}).

    Producers behave as with Twisted's own transports: a streaming one is
    paused while the association's queue is above the port's high-water
    mark and resumed once it drains; a pull (non-streaming) one is resumed
    after each write once that write is sent.  Either is stopped when the
    association ends.
    """

    disconnecting = False
    connected = True

    def __init__(self, port: AssociationLayer, association: Association) -> None:
        self._port = port
        self.association = association
        self.producer: Optional[IProducer] = None
        self.streamingProducer = False
        self.producerPaused = False

    def write(self, data: bytes) -> None:
        self.writeMessage(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def writeMessage(
        self,
        data: bytes,
        stream: int = 0,
        ppid: int = 0,
        unordered: bool = False,
        ttl: Optional[int] = None,
        context: int = 0,
    ) -> None:
        self._port.sendMessage(data, self.association, stream, ppid, unordered, ttl, context)
        if self.producer is not None and not self.streamingProducer:
            self._port._pullWrote(self)

    def loseConnection(self) -> None:
        """
        Shut the association down gracefully once what was written is sent
        and a registered pull producer has finished.
        """
        if self.disconnecting or not self.connected:
            return
        self.disconnecting = True
        self._port._closeWhenDrained(self)

    def abortConnection(self, reason: bytes = b"") -> None:
        if not self.connected:
            return
        self.disconnecting = True
        self._port.abortAssociation(self.association, reason)

    def getPeer(self) -> SCTPAddress:
        return self.association.peer

    def getHost(self) -> SCTPAddress:
        return self._port.getHost()  # type: ignore[attr-defined, no-any-return]

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        if self.producer is not None:
            raise RuntimeError("a producer is already registered")
        self.producer = producer
        self.streamingProducer = streaming
        self.producerPaused = False
        if not streaming:
            producer.resumeProducing()  # type: ignore[attr-defined]

    def unregisterProducer(self) -> None:
        self.producer = None
        if self.disconnecting and self.connected:
            self._port._closeWhenDrained(self)

    def _pause(self) -> None:
        if self.producer is not None and self.streamingProducer and not self.producerPaused:
            self.producerPaused = True
            self.producer.pauseProducing()  # type: ignore[attr-defined]

    def _resume(self) -> None:
        if self.producer is not None and self.producerPaused:
            self.producerPaused = False
            self.producer.resumeProducing()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return "<AssociationTransport id={} assoc_id={} peer={}>".format(
            self.association.id, self.association.assocID, self.association.peer
        )


class _OnBackend:
    """
    A port attribute that the backend keeps (the kernel backend's buffer
    sizes and bounds), read and set through the port.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        return self if obj is None else getattr(obj.backend, self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(obj.backend, self.name, value)


def _hostText(hosts: Sequence[str]) -> str:
    texts = ["[{}]".format(h) if ":" in h else h for h in hosts]
    return texts[0] if len(texts) == 1 else "({})".format(",".join(hosts))


@implementer(IListeningPort, ILoggingContext, IPushProducer)
class SCTPPort(AssociationLayer):
    """
    An SCTP endpoint with a protocol per association.

    @ivar backend: the L{ISCTPBackend} (a
        L{twisted_sctp.kernel.backend.KernelBackend} unless one was given).
    @ivar interfaces: the local addresses, the first primary.
    """

    transportFactory = AssociationTransport
    readBufferSize: Any = _OnBackend("readBufferSize")
    ancillaryBufferSize: Any = _OnBackend("ancillaryBufferSize")
    maxMessageSize: Any = _OnBackend("maxMessageSize")
    maxReadsPerWakeup: Any = _OnBackend("maxReadsPerWakeup")
    maxBytesPerWakeup: Any = _OnBackend("maxBytesPerWakeup")
    fragmentInterleave: Any = _OnBackend("fragmentInterleave")
    backlog: Any = _OnBackend("backlog")

    def __init__(
        self,
        port: int,
        factory: IProtocolFactory,
        interfaces: Sequence[str] = ("127.0.0.1",),
        options: Optional[SCTPOptions] = None,
        reactor: Any = None,
        kernel: Any = None,
        backend: Optional[ISCTPBackend] = None,
        style: str = "one-to-many",
    ) -> None:
        """
        @param kernel: for the kernel backend, the kernel calls to use in
            place of L{twisted_sctp.kernel.sctpsocket} (e.g.
            L{twisted_sctp.testing.FakeKernel}); or an L{ISCTPBackend}, used
            as C{backend}.
        @param backend: the backend, in place of the kernel's.
        @param style: for the kernel backend, C{"one-to-many"} (one
            C{SOCK_SEQPACKET} socket) or C{"one-to-one"} (a C{SOCK_STREAM}
            socket per association, L{twisted_sctp.kernel.onetoone}).
        @raise ValueError: an unknown C{style}.
        """
        if reactor is None:
            from twisted.internet import reactor as _r

            reactor = _r
        super().__init__(factory, options, reactor)
        self.port = port
        self.interfaces = [normalizeHost(h) for h in interfaces] or ["0.0.0.0"]
        family = socket.AF_INET6 if any(familyOf(h) == socket.AF_INET6 for h in self.interfaces) else socket.AF_INET
        if style not in STYLES:
            raise ValueError("style={!r}: use {}".format(style, " or ".join(STYLES)))
        if backend is None and ISCTPBackend.providedBy(kernel):
            # A backend given where only kernel= is passed on (for example
            # by SIPTransport.listen for a twistd sctp+udp: listener).
            backend, kernel = kernel, None
        if backend is None and (style == "one-to-one" or getattr(kernel, "style", None) == "one-to-one"):
            from twisted_sctp.kernel.onetoone import OneToOneBackend

            backend = OneToOneBackend(reactor, kernel, family)
        elif backend is None:
            from twisted_sctp.kernel.backend import KernelBackend

            backend = KernelBackend(reactor, kernel, family)
        self.backend = backend

    # -- what the backend knows ------------------------------------------

    @property
    def family(self) -> int:
        """C{AF_INET} or C{AF_INET6}."""
        return int(self.backend.family)

    @property
    def boundPort(self) -> int:
        """The local port, once listening."""
        return int(self.backend.boundPort)

    @property
    def warnings(self) -> List[str]:
        """The option problems found when listening."""
        return list(self.backend.warnings)

    @property
    def bindFailures(self) -> List[Tuple[str, OSError]]:
        """The secondary addresses that could not be bound, with the errors."""
        return list(self.backend.bindFailures)

    @property
    def socket(self) -> Any:
        """The kernel backend's socket (C{None} for other backends)."""
        return getattr(self.backend, "socket", None)

    @socket.setter
    def socket(self, value: Any) -> None:
        self.backend.socket = value  # type: ignore[attr-defined]

    @property
    def _kernel(self) -> Any:
        return getattr(self.backend, "kernel", None)

    # -- listening -------------------------------------------------------

    def startListening(self) -> None:
        """
        Open the endpoint: the backend applies the options (in the
        reference's order for the kernel), binds every interface (the first
        is primary; a failing secondary is logged, not fatal), listens and
        starts reading.

        @raise twisted.internet.error.CannotListenError: binding failed.
        @raise twisted_sctp.error.SCTPUnavailableError: no SCTP here.
        """
        self.backend.listen(self, self.interfaces, self.port, self.options)
        self.connected = True
        self.factory.doStart()
        _log.info("{prefix} listening on {address}", prefix=self.logPrefix(), address=self.getHost())

    def stopListening(self) -> defer.Deferred[None]:
        """
        Close the endpoint (every association shuts down) and tell each
        association's protocol.
        """
        self.loseConnection()
        whenClosed = getattr(self.backend, "whenClosed", None)
        return whenClosed() if whenClosed is not None else defer.succeed(None)

    def loseConnection(self) -> None:
        if not self.connected:
            return
        self.connectionLost(Failure(main.CONNECTION_DONE))

    def getHost(self) -> SCTPAddress:
        return SCTPAddress(self.interfaces[0], self.boundPort, tuple(self.interfaces))

    def logPrefix(self) -> str:
        return "SCTPPort({}:{})".format(_hostText(self.interfaces), self.boundPort or self.port)

    def __repr__(self) -> str:
        return "<SCTPPort {} {}>".format(self.getHost(), "listening" if self.connected else "closed")

    # -- the kernel backend's descriptor, for callers that drive it ------

    def doRead(self) -> Optional[Failure]:
        """Let the kernel backend read (what the reactor calls on it)."""
        return self.backend.doRead()  # type: ignore[attr-defined, no-any-return]

    def doWrite(self) -> Optional[Failure]:
        """Let the kernel backend write (what the reactor calls on it)."""
        return self.backend.doWrite()  # type: ignore[attr-defined, no-any-return]

    def fileno(self) -> int:
        return int(getattr(self.backend, "fileno", lambda: -1)())

    # -- IPushProducer: the port's own input -----------------------------

    def stopReading(self) -> None:
        """Report no input until L{startReading} (the backend holds it)."""
        self.backend.pauseReading()

    def startReading(self) -> None:
        """Report input again."""
        self.backend.resumeReading()

    def pauseProducing(self) -> None:
        self.backend.pauseReading()

    def resumeProducing(self) -> None:
        self.backend.resumeReading()

    def stopProducing(self) -> None:
        self.loseConnection()

    # -- options ---------------------------------------------------------

    def setOption(self, name: str, value: object) -> RuntimeChange:
        """
        Change an option at run time with the reference's rules.

        @return: the L{RuntimeChange}, saying whether it applies now, to new
            associations only, or changes nothing.
        @raise twisted_sctp.error.OptionError: the change is refused.
        """
        change = changeOption(self.options, name, value)
        if change.name in getattr(self.backend, "unsupportedOptions", ()):
            # The backend cannot apply it (e.g. autoclose on the UDP engine).
            change = attrs.evolve(change, appliesTo=APPLIES_NOT_APPLICABLE)
        elif change.appliesTo == "new-associations" and self.connected:
            self.backend.applyOption(change.name, change.new)
        self.options = change.options
        if change.flushTracking:
            self.registry.setTracking(False)
        elif bool(self.options.assoc_tracking) != self.registry.tracking:
            self.registry.setTracking(bool(self.options.assoc_tracking))
        self.registry.maxAssocs = self.options.max_assocs
        _log.info("{prefix} option {name} = {value} ({applies})", prefix=self.logPrefix(), name=change.name, value=change.new, applies=change.appliesTo)
        return change

    def getOptions(self, live: bool = False) -> Dict[str, int]:
        """
        @param live: read the backend's values (the five options that are
            not kernel state read 0, as the reference's
            C{sctp.options ADDRESS}).
        @return: the 19 options by name, in the documented order.
        """
        if live:
            return dict(self.backend.readOptions())
        return dict(self.options.asDict())


def listenSCTP(
    reactor: Any,
    port: int,
    factory: IProtocolFactory,
    interfaces: Sequence[str] = ("127.0.0.1",),
    options: Optional[SCTPOptions] = None,
    style: str = "one-to-many",
) -> SCTPPort:
    """
    Listen for SCTP associations on C{port} of C{interfaces} (several
    addresses make a multihomed endpoint) with one one-to-many socket, or
    with C{style="one-to-one"} a listening C{SOCK_STREAM} socket and a
    socket per association (the same protocols, messages and options;
    C{autoclose} does not apply).

    @return: the started L{SCTPPort} (an C{IListeningPort}).
    @raise ValueError: an unknown C{style}.
    """
    p = SCTPPort(port, factory, interfaces, options, reactor, style=style)
    p.startListening()
    return p
