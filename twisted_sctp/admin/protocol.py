# -*- test-case-name: tests.test_admin -*-
"""
The AMP commands of the admin endpoint and their typed errors, shared by
the server (L{twisted_sctp.admin.server}, which re-exports them) and the
client (L{twisted_sctp.admin.client}), so that neither side imports the
other's code.

Values: scalars are C{amp.Integer}/C{amp.Unicode}/C{amp.Boolean}; the flat
dictionaries (info, options, counters) and the association list travel as
one L{JSON} value each: UTF-8 JSON text, at most 65535 bytes, as every AMP
value.  The association list is paged (C{offset}, C{limit}, C{total}) so an
answer always fits.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Type

from twisted.protocols import amp

__all__ = [
    "AbortAssociation", "AdminError", "AmbiguousAssociation", "AssociationNotReady", "Associations",
    "Authenticate", "AuthenticationFailed", "BadParam", "BadProtocol", "Challenge", "ChangeRefused",
    "Info", "JSON", "NoSCTPSocket", "NotListening", "Options", "OptionsReadFailed", "SetOption",
    "ShutdownAssociation", "Stats", "UnknownAssociation", "UnknownOption",
]


class AdminError(Exception):
    """
    Base of the admin's typed errors; the single argument is the message the
    operator sees (the AMP error description).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class BadParam(AdminError):
    """
    C{options PARAM}: the parameter is not an address, C{address:port},
    C{default} or C{first} (Kamailio's fault text).
    """


class BadProtocol(AdminError):
    """
    C{options PARAM}: the parameter names a protocol other than SCTP.
    """


class NotListening(AdminError):
    """
    C{options PARAM}: no SCTP listener has that address.
    """


class NoSCTPSocket(AdminError):
    """
    The service has no SCTP listener (yet).
    """


class OptionsReadFailed(AdminError):
    """
    Reading a listener's options from the kernel failed.
    """


class UnknownOption(AdminError):
    """
    C{set NAME VALUE}: no option has that name.
    """


class ChangeRefused(AdminError):
    """
    C{set NAME VALUE}: the change is refused (read-only option, value out of
    range, a cross-option rule, or the kernel said no); the message says why.
    """


class UnknownAssociation(AdminError):
    """
    C{abort ID} / C{shutdown ID}: no live association has that id.
    """


class AmbiguousAssociation(AdminError):
    """
    C{abort ID} / C{shutdown ID}: ids are per listener, and several
    listeners have an association with that id; name the listener.
    """


class AssociationNotReady(AdminError):
    """
    C{abort ID} / C{shutdown ID}: the association has no kernel association
    yet (an outgoing one still connecting), so there is nothing to close.
    """


class AuthenticationFailed(AdminError):
    """
    The response to the challenge does not match the shared secret.
    """


#: The most associations one L{Associations} answer carries.
MAX_PAGE = 500
#: The associations an L{Associations} answer carries by default.
DEFAULT_PAGE = 100


class JSON(amp.Argument):
    """
    An AMP value holding any JSON-serialisable value as UTF-8 JSON text.
    """

    def toString(self, inObject: Any) -> bytes:
        data = json.dumps(inObject, separators=(",", ":")).encode("utf-8")
        if len(data) > amp.MAX_VALUE_LENGTH:
            raise ValueError("JSON value of {} bytes is over AMP's {} byte limit".format(len(data), amp.MAX_VALUE_LENGTH))
        return data

    def fromString(self, inString: bytes) -> Any:
        return json.loads(inString.decode("utf-8"))


_ASSOCIATION_ERRORS: Dict[Type[Exception], bytes] = {
    UnknownAssociation: b"UNKNOWN_ASSOCIATION",
    AmbiguousAssociation: b"AMBIGUOUS_ASSOCIATION",
    AssociationNotReady: b"ASSOCIATION_NOT_READY",
}


class Challenge(amp.Command):
    """
    Start authenticating: the answer has a fresh random C{nonce} (valid for
    one L{Authenticate}) and whether the server C{required}s
    authentication.  Allowed before authenticating.
    """

    commandName = b"Challenge"
    arguments = []
    response = [(b"nonce", amp.String()), (b"required", amp.Boolean())]


class Authenticate(amp.Command):
    """
    Prove knowledge of the shared secret: C{response} is
    C{HMAC-SHA256(secret, b"twisted-sctp-admin-v1" + nonce)} for the nonce
    of the last L{Challenge}.  A wrong response is refused with
    C{AUTHENTICATION_FAILED} and counted; the third failure on a connection
    drops it.  Allowed before authenticating.
    """

    commandName = b"Authenticate"
    arguments = [(b"response", amp.String())]
    response = []
    errors = {AuthenticationFailed: b"AUTHENTICATION_FAILED"}


class Info(amp.Command):
    """
    Kamailio's C{sctp.info} summed over the listeners (C{opened_connections},
    C{tracked_connections}, C{total_connections}) and ours (C{listeners},
    C{listen}, C{uptime}, C{associations} and their count by state,
    C{assoc_tracking}), as one flat L{JSON} object C{info}.
    """

    commandName = b"Info"
    arguments = []
    response = [(b"info", JSON())]


class Options(amp.Command):
    """
    Kamailio's C{sctp.options [param]}: the 19 options as C{sctp_<name>}.
    Without C{param}, the configured values (of the first listener; run-time
    changes apply to every listener).  With C{param} (C{address},
    C{address:port}, C{[sctp:]...}, C{first} or C{default}), the live kernel
    values of that listener (the five internal options read 0).
    """

    commandName = b"Options"
    arguments = [(b"param", amp.Unicode(optional=True))]
    response = [(b"options", JSON()), (b"listener", amp.Unicode()), (b"live", amp.Boolean())]
    errors = {
        BadParam: b"BAD_PARAM",
        BadProtocol: b"BAD_PROTOCOL",
        NotListening: b"NOT_LISTENING",
        OptionsReadFailed: b"OPTIONS_READ_FAILED",
        NoSCTPSocket: b"NO_SCTP_SOCKET",
    }


class SetOption(amp.Command):
    """
    Change option C{name} (with or without C{sctp_}) to C{value} (decimal
    text) on every listener, with the reference's run-time rules.  The
    answer gives the canonical C{name}, the C{old} and C{new} values and what
    the change C{applies} to: C{now}, C{new-associations} (kernel options:
    existing associations keep theirs) or C{unchanged} (0 = keep).
    """

    commandName = b"SetOption"
    arguments = [(b"name", amp.Unicode()), (b"value", amp.Unicode())]
    response = [
        (b"name", amp.Unicode()),
        (b"old", amp.Integer()),
        (b"new", amp.Integer()),
        (b"applies", amp.Unicode()),
        (b"listeners", amp.Integer()),
    ]
    errors = {UnknownOption: b"UNKNOWN_OPTION", ChangeRefused: b"CHANGE_REFUSED", NoSCTPSocket: b"NO_SCTP_SOCKET"}


class Stats(amp.Command):
    """
    The counters: C{counters} has Kamailio's 11 by their names summed over the
    listeners, ours beside them (messages, bytes, drops, admin); C{sip} the
    SIP layer's; C{kernel} the kernel's C{/proc/net/sctp/snmp}.
    """

    commandName = b"Stats"
    arguments = []
    response = [(b"counters", JSON()), (b"sip", JSON()), (b"kernel", JSON())]


class Associations(amp.Command):
    """
    One page of the live associations: C{limit} (default 100, at most 500;
    fewer if the answer would not fit in one AMP value) starting at
    C{offset}; C{total} says how many there are in all.  Each entry: id,
    assoc_id, listener, peer, paths (address -> state), state, outgoing,
    age, idle, messages_in/out, bytes_in/out, streams.
    """

    commandName = b"Associations"
    arguments = [(b"offset", amp.Integer(optional=True)), (b"limit", amp.Integer(optional=True))]
    response = [(b"associations", JSON()), (b"total", amp.Integer()), (b"offset", amp.Integer())]


class AbortAssociation(amp.Command):
    """
    ABORT the association with our id C{id} (C{listener} needed only when
    several listeners have that id), with C{reason} as the user abort cause.
    """

    commandName = b"AbortAssociation"
    arguments = [
        (b"id", amp.Integer()),
        (b"listener", amp.Unicode(optional=True)),
        (b"reason", amp.Unicode(optional=True)),
    ]
    response = [(b"id", amp.Integer()), (b"assoc_id", amp.Integer()), (b"listener", amp.Unicode()), (b"peer", amp.Unicode())]
    errors = dict(_ASSOCIATION_ERRORS)


class ShutdownAssociation(amp.Command):
    """
    Start a graceful SHUTDOWN of the association with our id C{id}
    (C{listener} as for L{AbortAssociation}).
    """

    commandName = b"ShutdownAssociation"
    arguments = [(b"id", amp.Integer()), (b"listener", amp.Unicode(optional=True))]
    response = [(b"id", amp.Integer()), (b"assoc_id", amp.Integer()), (b"listener", amp.Unicode()), (b"peer", amp.Unicode())]
    errors = dict(_ASSOCIATION_ERRORS)


#: The commands a client may send before authenticating.
PRE_AUTH_COMMANDS = (Challenge.commandName, Authenticate.commandName)
