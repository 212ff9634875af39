# -*- test-case-name: tests.test_admin -*-
"""
L{AdminClient}: the admin endpoint for Python users (re-exported by
L{twisted_sctp.admin.server}; C{sctp-sipctl} is built on it).  It imports
the commands and their errors from L{twisted_sctp.admin.protocol}, never
the server's code::

    client = AdminClient(reactor, "unix:sctp-sip.admin", secret=None)
    yield client.connect()            # connects and authenticates
    info = yield client.info()        # {"opened_connections": 1, ...}
    yield client.setOption("autoclose", 120)
    client.close()
"""

from __future__ import annotations

from typing import Any, Coroutine, Dict, List, Optional, Type, TypeVar

from twisted.internet import defer, endpoints
from twisted.internet.protocol import Factory
from twisted.protocols import amp

from twisted_sctp.admin.auth import challengeResponse, loadSecret
from twisted_sctp.admin.endpoints import clientEndpoint
from twisted_sctp.admin.protocol import (
    DEFAULT_PAGE,
    AbortAssociation,
    Associations,
    Authenticate,
    AuthenticationFailed,
    Challenge,
    Info,
    Options,
    SetOption,
    ShutdownAssociation,
    Stats,
)

_T = TypeVar("_T")


def _deferred(coroutine: Coroutine[Any, Any, _T]) -> defer.Deferred[_T]:
    return defer.Deferred.fromCoroutine(coroutine)


class AdminClient:
    """
    A connection to the admin endpoint, one method per command, each
    returning a Deferred.

    Errors come as the typed exceptions of L{twisted_sctp.admin.protocol}
    (L{AuthenticationFailed}, L{UnknownOption}, L{ChangeRefused},
    L{UnknownAssociation}, ...); a failure to connect as Twisted's
    C{ConnectError} family; no answer within C{timeout} seconds as
    L{twisted.internet.defer.TimeoutError}.

    @ivar protocol: the connected C{amp.AMP}, once connected.
    """

    def __init__(
        self,
        reactor: Any,
        endpoint: Optional[str] = None,
        secret: Optional[bytes] = None,
        secretFile: Optional[str] = None,
        timeout: float = 10.0,
    ) -> None:
        """
        @param endpoint: the admin endpoint: the server's string (C{unix:PATH},
            C{tcp:PORT}...) or a client one (C{tcp:host=H:port=P}); C{None}:
            C{$SCTP_SIP_ADMIN}, else the server's default unix socket in the
            current directory.
        @param secret: the shared secret, or C{secretFile} to read it from
            (it must not be accessible by others).
        @raise twisted_sctp.admin.endpoints.EndpointError: a bad endpoint string or
            secret file.
        """
        self._reactor = reactor
        self.endpoint = clientEndpoint(endpoint)
        if secret is None and secretFile is not None:
            secret = loadSecret(secretFile)
        self._secret = secret
        self.timeout = timeout
        self.protocol: Optional[amp.AMP] = None

    @classmethod
    def fromProtocol(cls, reactor: Any, protocol: amp.AMP, secret: Optional[bytes] = None, timeout: float = 10.0) -> "AdminClient":
        """
        Wrap an AMP protocol that is already connected (tests, custom
        transports); call L{authenticate} before the commands.
        """
        client = cls.__new__(cls)
        client._reactor = reactor
        client.endpoint = ""
        client._secret = secret
        client.timeout = timeout
        client.protocol = protocol
        return client

    def connect(self) -> defer.Deferred["AdminClient"]:
        """
        Connect and authenticate.

        @return: a Deferred firing with this client.
        """

        async def go() -> AdminClient:
            endpoint = endpoints.clientFromString(self._reactor, self.endpoint)
            connecting = endpoint.connect(Factory.forProtocol(amp.AMP))
            connecting.addTimeout(self.timeout, self._reactor)
            self.protocol = await connecting
            try:
                await self.authenticate()
            except BaseException:
                self.close()
                raise
            return self

        return _deferred(go())

    def _call(self, command: Type[amp.Command], **arguments: Any) -> defer.Deferred[Dict[str, Any]]:
        if self.protocol is None:
            return defer.fail(RuntimeError("not connected: call connect() first"))
        question: defer.Deferred[Dict[str, Any]] = self.protocol.callRemote(command, **arguments)
        question.addTimeout(self.timeout, self._reactor)
        # AMP ends the question's chain with an errback that logs and
        # swallows an error that arrives before the caller added its own:
        # hand the outcome to a Deferred of our own at once.
        answer: defer.Deferred[Dict[str, Any]] = defer.Deferred()
        question.chainDeferred(answer)
        return answer

    def authenticate(self) -> defer.Deferred[None]:
        """
        Ask for a challenge and, if the server requires it, answer it with
        the secret.

        @raise AuthenticationFailed: the server refused the answer, or it
            requires a secret and none was given.
        """

        async def go() -> None:
            challenge = await self._call(Challenge)
            if not challenge["required"]:
                return
            if self._secret is None:
                raise AuthenticationFailed("the server requires authentication: give the shared secret (--secret-file)")
            await self._call(Authenticate, response=challengeResponse(self._secret, challenge["nonce"]))

        return _deferred(go())

    def info(self) -> defer.Deferred[Dict[str, Any]]:
        """
        @return: (a Deferred of) Kamailio's C{sctp.info} and our extras.
        """
        return self._call(Info).addCallback(lambda r: r["info"])

    def options(self, param: Optional[str] = None) -> defer.Deferred[Dict[str, Any]]:
        """
        @param param: C{None} for the configured values, else an address,
            C{address:port}, C{first} or C{default} for a listener's live
            kernel values.
        @return: (a Deferred of) C{{"options": {sctp_NAME: value}, "listener":
            name, "live": bool}}.
        """
        if param is None:
            return self._call(Options)
        return self._call(Options, param=param)

    def setOption(self, name: str, value: object) -> defer.Deferred[Dict[str, Any]]:
        """
        @return: (a Deferred of) C{{"name", "old", "new", "applies",
            "listeners"}}.
        """
        return self._call(SetOption, name=name, value=str(value))

    def stats(self) -> defer.Deferred[Dict[str, Any]]:
        """
        @return: (a Deferred of) C{{"counters": ..., "sip": ..., "kernel": ...}}.
        """
        return self._call(Stats)

    def associations(self, offset: int = 0, limit: int = DEFAULT_PAGE) -> defer.Deferred[Dict[str, Any]]:
        """
        @return: (a Deferred of) one page: C{{"associations": [...], "total":
            N, "offset": offset}}.
        """
        return self._call(Associations, offset=offset, limit=limit)

    def allAssociations(self, pageSize: int = DEFAULT_PAGE) -> defer.Deferred[List[Dict[str, Any]]]:
        """
        @return: (a Deferred of) every live association, page by page (an
            association that comes or goes meanwhile may be missed or seen
            twice; entries are de-duplicated by worker, listener and id).
        """

        async def go() -> List[Dict[str, Any]]:
            out: List[Dict[str, Any]] = []
            seen = set()
            offset = 0
            while True:
                page = await self.associations(offset, pageSize)
                entries = page["associations"]
                for entry in entries:
                    key = (entry.get("worker"), entry.get("listener"), entry.get("id"), entry.get("assoc_id"))
                    if key not in seen:
                        seen.add(key)
                        out.append(entry)
                offset += len(entries)
                if not entries or offset >= page["total"]:
                    return out

        return _deferred(go())

    def abort(self, id: int, listener: Optional[str] = None, reason: Optional[str] = None) -> defer.Deferred[Dict[str, Any]]:
        """
        ABORT association C{id}.

        @return: (a Deferred of) C{{"id", "assoc_id", "listener", "peer"}}.
        """
        arguments: Dict[str, Any] = {"id": id}
        if listener is not None:
            arguments["listener"] = listener
        if reason is not None:
            arguments["reason"] = reason
        return self._call(AbortAssociation, **arguments)

    def shutdown(self, id: int, listener: Optional[str] = None) -> defer.Deferred[Dict[str, Any]]:
        """
        Gracefully SHUTDOWN association C{id}.

        @return: as L{abort}.
        """
        arguments: Dict[str, Any] = {"id": id}
        if listener is not None:
            arguments["listener"] = listener
        return self._call(ShutdownAssociation, **arguments)

    def close(self) -> None:
        """
        Close the connection.
        """
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.loseConnection()
