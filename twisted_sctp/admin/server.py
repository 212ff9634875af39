# -*- test-case-name: tests.test_admin -*-
"""
The management endpoint of the SIP server: AMP commands over any Twisted
server endpoint, and L{AdminClient} for Python users (C{sctp-sipctl} is
built on it)::

    from twisted_sctp.admin.server import makeAdminService
    makeAdminService(reactor, "unix:sctp-sip.admin:mode=600", sipService,
                     None).setServiceParent(top)

C{sipService} is anything with C{ports} (the started
L{twisted_sctp.transport.port.SCTPPort}s), C{sipStats()} (the SIP layer's counters)
and C{server}.

Commands (see L{twisted_sctp.admin.protocol}): L{Challenge},
L{Authenticate}, L{Info}, L{Options}, L{SetOption}, L{Stats},
L{Associations}, L{AbortAssociation}, L{ShutdownAssociation}.

Security (see L{twisted_sctp.admin.auth} and docs/operations.md): the default
endpoint is a unix socket with mode 0600 in the run directory; TCP binds
loopback unless told otherwise; any endpoint but a unix socket closed to
others (TCP on loopback included) needs a secret file;
with a secret, a client gets no answer to any command before it has
authenticated: the connection is dropped.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from twisted.application.internet import StreamServerEndpointService
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IStreamServerEndpoint
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python import usage
from twisted.python.failure import Failure

from twisted_sctp.admin import view
from twisted_sctp.admin.auth import checkResponse, loadSecret, newNonce
from twisted_sctp.admin.endpoints import (
    ADMIN,
    ADMIN_ENV,
    DEFAULT_ADMIN_ENDPOINT,
    DEFAULT_ADMIN_PATH,
    EndpointError,
    clientEndpoint,
    listenEndpoint,
)
from twisted_sctp.admin.client import AdminClient
from twisted_sctp.counters import Counters
from twisted_sctp.admin.protocol import (
    DEFAULT_PAGE,
    JSON,
    MAX_PAGE,
    PRE_AUTH_COMMANDS,
    AbortAssociation,
    Associations,
    Authenticate,
    Challenge,
    Info,
    Options,
    SetOption,
    ShutdownAssociation,
    Stats,
)
from twisted_sctp.admin.protocol import (
    AdminError,
    AmbiguousAssociation,
    AssociationNotReady,
    AuthenticationFailed,
    BadParam,
    BadProtocol,
    ChangeRefused,
    NoSCTPSocket,
    NotListening,
    OptionsReadFailed,
    UnknownAssociation,
    UnknownOption,
)

__all__ = [
    "ADMIN_ENV",
    "DEFAULT_ADMIN_ENDPOINT",
    "DEFAULT_ADMIN_PATH",
    "AbortAssociation",
    "AdminClient",
    "AdminError",
    "AdminFactory",
    "AdminProtocol",
    "AmbiguousAssociation",
    "AssociationNotReady",
    "Associations",
    "Authenticate",
    "AuthenticationFailed",
    "BadParam",
    "BadProtocol",
    "Challenge",
    "ChangeRefused",
    "Info",
    "JSON",
    "NoSCTPSocket",
    "NotListening",
    "Options",
    "OptionsReadFailed",
    "SetOption",
    "ShutdownAssociation",
    "Stats",
    "UnknownAssociation",
    "UnknownOption",
    "clientEndpoint",
    "makeAdminService",
]

#: Authentication failures after which a connection is dropped.
MAX_AUTH_FAILURES = 3
#: Seconds a client has to authenticate (when a secret is set).
AUTH_TIMEOUT = 30.0
#: Bytes a client may send before it has authenticated.
MAX_PRE_AUTH_BYTES = 16384
#: Bytes one box may take, on every endpoint (authenticated or not, secret
#: or not): the commands a client sends are a few hundred bytes, and AMP
#: itself would buffer an unterminated box without limit.
MAX_BOX_BYTES = 16384
#: The error code of a command whose arguments do not parse.
BAD_ARGUMENTS = b"BAD_ARGUMENTS"
#: The budget for one page of associations, leaving room for AMP framing.
_PAGE_BUDGET = 60000


def _noSNMP() -> Dict[str, int]:
    """No kernel figures: what L{Stats} says without a C{readSNMP}."""
    return {}


class AdminCounters(Counters):
    """
    The admin endpoint's own counters, named C{admin_*} in L{Stats}.

    @ivar connections: admin connections open now (a gauge).
    @ivar connections_total: admin connections ever accepted.
    @ivar commands: commands received (authenticated or not).
    @ivar auth_failures: failed authentications, all connections together.
    @ivar refused: connections dropped for a command before authenticating,
        too much data before authenticating, or too many failures.
    @ivar bad_boxes: connections dropped for a malformed box (one over
        L{MAX_BOX_BYTES}, or neither a command nor an answer).
    @ivar bad_arguments: commands refused with C{BAD_ARGUMENTS} (an
        argument missing or not of its type).
    """

    prefix = "admin_"

    connections: int
    connections_total: int
    commands: int
    auth_failures: int
    refused: int
    bad_boxes: int
    bad_arguments: int


class AdminFactory(ServerFactory):
    """
    Builds an L{AdminProtocol} per connection and keeps what they share:
    the SIP service, the secret, the kernel's counters and the admin's own
    counters (L{AdminCounters}).

    @ivar readSNMP: reads the kernel's SCTP MIB (C{/proc/net/sctp/snmp}),
        given by the caller (C{twistd sctp-sip} passes the kernel
        backend's); none: L{Stats} has no kernel figures.
    @ivar counters: the L{AdminCounters}.
    """

    noisy = False

    def __init__(
        self,
        reactor: Any,
        sipService: Any,
        secret: Optional[bytes] = None,
        readSNMP: Optional[Callable[[], Dict[str, int]]] = None,
    ) -> None:
        self.reactor = reactor
        self.sipService = sipService
        self.secret = secret
        self.readSNMP = readSNMP if readSNMP is not None else _noSNMP
        self.startTime: float = reactor.seconds()
        self.counters = AdminCounters()

    def buildProtocol(self, addr: Any) -> "AdminProtocol":
        protocol = AdminProtocol(self)
        protocol.factory = self
        return protocol

    def ports(self) -> List[Any]:
        """
        @return: the SIP service's listeners (none before it started).
        """
        return list(getattr(self.sipService, "ports", None) or [])



class AdminProtocol(amp.AMP):
    """
    One admin connection.  With a secret, only L{Challenge} and
    L{Authenticate} are accepted until the client has authenticated; any
    other command drops the connection without an answer.
    """

    log = Logger()

    def __init__(self, admin: AdminFactory) -> None:
        super().__init__()
        self._admin = admin
        self.authenticated = admin.secret is None
        self.failures = 0
        self._nonce: Optional[bytes] = None
        self._received = 0
        self._partial = 0
        self._dropped = False
        self._timeout: Optional[IDelayedCall] = None

    # -- connection and authentication gate -----------------------------

    def connectionMade(self) -> None:
        self._admin.counters.connections += 1
        self._admin.counters.connections_total += 1
        if not self.authenticated:
            self._timeout = self._admin.reactor.callLater(AUTH_TIMEOUT, self._drop, "did not authenticate in time")
        super().connectionMade()

    def makeConnection(self, transport: Any) -> None:
        # amp.AMP logs every connection made and lost at info level: two
        # lines in the server's log for each sctp-sipctl call (twistd's log
        # keeps debug too).  Not logged: AdminFactory counts connections,
        # and refused authentications are logged where they happen.
        amp.BinaryBoxProtocol.makeConnection(self, transport)

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        self._admin.counters.connections -= 1
        self._cancelTimeout()
        amp.BinaryBoxProtocol.connectionLost(self, reason)
        self.transport = None  # as amp.AMP.connectionLost does

    def _cancelTimeout(self) -> None:
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def _peer(self) -> str:
        transport = self.transport
        if transport is None:
            return "?"
        peer = transport.getPeer()
        host, port = getattr(peer, "host", None), getattr(peer, "port", None)
        if host is not None and port is not None:
            return "{}:{}".format("[{}]".format(host) if ":" in str(host) else host, port)
        return "a {} client".format(getattr(peer, "type", None) or peer.__class__.__name__.replace("Address", "").lower() or "local")

    def _drop(self, why: str, counter: str = "refused") -> None:
        if self._dropped:
            return
        self._dropped = True
        self._cancelTimeout()
        self._admin.counters.count(counter)
        self.log.warn("admin: dropping the connection from {peer}: {why}", peer=self._peer(), why=why)
        # Release what the parser holds now, not when the peer has gone.
        self._unprocessed = b""
        self._currentBox = None
        if self.transport is not None:
            self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        if self._dropped:
            return
        if not self.authenticated:
            self._received += len(data)
            if self._received > MAX_PRE_AUTH_BYTES:
                self._drop("sent more than {} bytes before authenticating".format(MAX_PRE_AUTH_BYTES))
                return
        # Bytes since the last whole box (approximate by at most one read):
        # an unterminated box is dropped at MAX_BOX_BYTES on every endpoint.
        self._partial += len(data)
        super().dataReceived(data)
        if self._partial > MAX_BOX_BYTES:
            self._drop("a box of more than {} bytes".format(MAX_BOX_BYTES), "bad_boxes")

    def ampBoxReceived(self, box: amp.AmpBox) -> None:
        self._partial = 0
        if self._dropped:
            return
        if amp.COMMAND not in box and amp.ANSWER not in box and amp.ERROR not in box:
            self._drop("a box that is neither a command nor an answer (keys {})".format(sorted(box)[:5]), "bad_boxes")
            return
        command = box.get(amp.COMMAND)
        if command is not None:
            self._admin.counters.commands += 1
        if not self.authenticated and command not in PRE_AUTH_COMMANDS:
            self._drop("{!r} before authenticating".format(command))
            return
        super().ampBoxReceived(box)
        if self.failures >= MAX_AUTH_FAILURES:
            self._drop("{} failed authentications".format(self.failures))

    def locateResponder(self, name: bytes) -> Any:
        """
        The responder of command C{name}, whose arguments are checked first:
        an argument that is missing or not of its type (C{_command:
        SetOption} without C{value}, C{id=x}) is answered with the typed
        error L{BAD_ARGUMENTS} and counted, not logged as a traceback.
        """
        responder = super().locateResponder(name)
        entry = getattr(self, "_commandDispatch", {}).get(name)
        if responder is None or entry is None:
            return responder
        command = entry[0]

        def checked(box: amp.AmpBox) -> Any:
            try:
                command.parseArguments(box, self)
            except Exception as e:
                self._admin.counters.bad_arguments += 1
                why = "bad arguments for {}: {}: {}".format(name.decode("ascii", "replace"), e.__class__.__name__, e)
                self.log.warn("admin: {peer}: {why}", peer=self._peer(), why=why[:200])
                return defer.fail(amp.RemoteAmpError(BAD_ARGUMENTS, why[:500]))
            return responder(box)

        return checked

    @Challenge.responder
    def challenge(self) -> Dict[str, object]:
        self._nonce = newNonce()
        return {"nonce": self._nonce, "required": self._admin.secret is not None}

    @Authenticate.responder
    def authenticate(self, response: bytes) -> Dict[str, object]:
        secret = self._admin.secret
        nonce, self._nonce = self._nonce, None
        if self.authenticated:
            return {}
        if secret is not None and nonce is not None and checkResponse(secret, nonce, response):
            self.authenticated = True
            self._cancelTimeout()
            self.log.info("admin: {peer} authenticated", peer=self._peer())
            return {}
        self.failures += 1
        self._admin.counters.auth_failures += 1
        self.log.warn(
            "admin: authentication failed from {peer} ({failures} on this connection, {total} in all)",
            peer=self._peer(),
            failures=self.failures,
            total=self._admin.counters.auth_failures,
        )
        reason = "authentication failed" if nonce is not None else "authentication failed (no Challenge before it)"
        if self.failures >= MAX_AUTH_FAILURES:
            reason += "; too many failures, disconnecting"
        raise AuthenticationFailed(reason)

    # -- commands --------------------------------------------------------

    @Info.responder
    def info(self) -> Dict[str, object]:
        uptime = self._admin.reactor.seconds() - self._admin.startTime
        return {"info": view.info(self._admin.ports(), uptime)}

    @Options.responder
    def options(self, param: Optional[str] = None) -> Dict[str, object]:
        ports = self._admin.ports()
        if param is None or not param.strip():
            if not ports:
                raise NoSCTPSocket(view.NO_SOCKET)
            return {"options": view.prefixed(ports[0].getOptions()), "listener": view.listenerName(ports[0]), "live": False}
        port = view.findListener(ports, param)
        return {"options": view.liveOptions(port), "listener": view.listenerName(port), "live": True}

    @SetOption.responder
    def setOption(self, name: str, value: str) -> Dict[str, object]:
        ports = self._admin.ports()
        try:
            change = view.setOption(ports, name, value)
        except AdminError as e:
            self.log.warn("admin: {peer} set {name}={value} refused: {why}", peer=self._peer(), name=name, value=value, why=e)
            raise
        self.log.info(
            "admin: {peer} set {name} {old} -> {new} ({applies})",
            peer=self._peer(),
            name=change.name,
            old=change.old,
            new=change.new,
            applies=change.appliesTo,
        )
        return {"name": change.name, "old": change.old, "new": change.new, "applies": change.appliesTo, "listeners": len(ports)}

    @Stats.responder
    def stats(self) -> Dict[str, object]:
        counters = view.counters(self._admin.ports())
        counters.update(self._admin.counters.asDict())
        sip: Dict[str, int] = {}
        sipStats = getattr(self._admin.sipService, "sipStats", None)
        if sipStats is not None:
            sip = {str(k): v for k, v in dict(sipStats()).items()}
        try:
            kernel = self._admin.readSNMP()
        except OSError:
            kernel = {}
        return {"counters": counters, "sip": sip, "kernel": kernel}

    @Associations.responder
    def associations(self, offset: Optional[int] = None, limit: Optional[int] = None) -> Dict[str, object]:
        offset = max(0, offset or 0)
        limit = DEFAULT_PAGE if limit is None else max(1, min(limit, MAX_PAGE))
        records = view.associationRecords(self._admin.ports())
        now = self._admin.reactor.seconds()
        page: List[Dict[str, object]] = []
        size = 2
        for port, assoc in records[offset : offset + limit]:
            entry = view.describeAssociation(port, assoc, now)
            size += len(JSON().toString(entry)) + 1
            if page and size > _PAGE_BUDGET:
                break
            page.append(entry)
        return {"associations": page, "total": len(records), "offset": offset}

    def _closeAssociation(self, what: str, id: int, listener: Optional[str], reason: Optional[str] = None) -> Dict[str, object]:
        port, assoc = view.findAssociation(self._admin.ports(), id, listener)
        self.log.info(
            "admin: {peer} {what} association {id} (assoc_id {assocID}, {remote}) on {listener}",
            peer=self._peer(),
            what=what,
            id=id,
            assocID=assoc.assocID,
            remote=assoc.peer,
            listener=view.listenerName(port),
        )
        if what == "abort":
            port.abortAssociation(assoc, (reason or "aborted by the administrator").encode("utf-8"))
        else:
            port.shutdownAssociation(assoc)
        return {"id": assoc.id, "assoc_id": assoc.assocID, "listener": view.listenerName(port), "peer": str(assoc.peer)}

    @AbortAssociation.responder
    def abortAssociation(self, id: int, listener: Optional[str] = None, reason: Optional[str] = None) -> Dict[str, object]:
        return self._closeAssociation("abort", id, listener, reason)

    @ShutdownAssociation.responder
    def shutdownAssociation(self, id: int, listener: Optional[str] = None) -> Dict[str, object]:
        return self._closeAssociation("shutdown", id, listener)


class AdminService(StreamServerEndpointService):
    """
    Listens on the admin endpoint while running; a failure to listen is
    raised from C{startService} (the server does not start half-managed).

    @ivar factory: the L{AdminFactory}.
    @ivar description: the endpoint string it listens on.
    """

    log = Logger()

    def __init__(self, reactor: Any, description: str, factory: AdminFactory, endpoint: IStreamServerEndpoint) -> None:
        super().__init__(endpoint, factory)
        self.description = description
        self._raiseSynchronously = True
        self.reactor = reactor

    def startService(self) -> None:
        assert isinstance(self.factory, AdminFactory)
        self.factory.startTime = self.reactor.seconds()
        super().startService()
        self.log.info("admin endpoint listening on {description}", description=self.description)


def makeAdminService(
    reactor: Any,
    description: Optional[str],
    sipService: Any,
    secretFile: Optional[str] = None,
    readSNMP: Optional[Callable[[], Dict[str, int]]] = None,
) -> AdminService:
    """
    Build the admin service for C{sipService}.

    @param description: a Twisted server endpoint string, or C{None} for
        L{DEFAULT_ADMIN_ENDPOINT} (C{unix:sctp-sip.admin:mode=600} in the
        run directory).  C{tcp:PORT} binds 127.0.0.1 (C{tcp6}: ::1);
        C{unix:PATH} gets mode 600 (the rules: L{twisted_sctp.admin.endpoints}).
    @param secretFile: a file holding the shared secret; required for an
        endpoint that is not local.  It must not be accessible by others.
    @param readSNMP: reads the kernel's SCTP counters for L{Stats}
        (C{twistd sctp-sip} gives the kernel backend's); none: no kernel
        figures.
    @raise twisted.python.usage.UsageError: a bad endpoint string, a bad or
        unsafe secret file, or a non-local endpoint without a secret.
    """
    secret = None
    if secretFile:
        try:
            secret = loadSecret(secretFile)
        except EndpointError as e:
            raise usage.UsageError("--admin-secret-file: {}".format(e))
    endpoint, listening = listenEndpoint(reactor, description, ADMIN, secret)
    factory = AdminFactory(reactor, sipService, secret, readSNMP)
    return AdminService(reactor, endpoint.description, factory, listening)
