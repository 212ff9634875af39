"""
The management endpoint: AMP commands over a Twisted endpoint, answering
info / options / stats / associations and changing options at run time
(Kamailio's C{sctp.info} / C{sctp.options}), and its client.

Modules:
  - L{twisted_sctp.admin.protocol}: the AMP commands and their errors (shared
    by the server and the client).
  - L{twisted_sctp.admin.view}: the pure views (info, options, stats, assocs).
  - L{twisted_sctp.admin.auth}: the shared-secret challenge and the endpoint
    policy (a private unix socket only, unless a secret is set).
  - L{twisted_sctp.admin.server}: the AMP server and its service.
  - L{twisted_sctp.admin.client}: L{AdminClient}, used by C{sctp-sipctl}.
  - L{twisted_sctp.admin.ctl}: the C{sctp-sipctl} command.
  - L{twisted_sctp.admin.metrics}: the Prometheus exporter.

The public names are re-exported here: C{from twisted_sctp.admin import
AdminClient, ChangeRefused}.
"""

from twisted_sctp.admin.server import (
    ADMIN_ENV,
    DEFAULT_ADMIN_ENDPOINT,
    DEFAULT_ADMIN_PATH,
    AbortAssociation,
    AdminClient,
    AdminError,
    AdminFactory,
    AdminProtocol,
    AmbiguousAssociation,
    AssociationNotReady,
    Associations,
    Authenticate,
    AuthenticationFailed,
    BadParam,
    BadProtocol,
    Challenge,
    ChangeRefused,
    Info,
    JSON,
    NoSCTPSocket,
    NotListening,
    Options,
    OptionsReadFailed,
    SetOption,
    ShutdownAssociation,
    Stats,
    UnknownAssociation,
    UnknownOption,
    clientEndpoint,
    makeAdminService,
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
