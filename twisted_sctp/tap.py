# -*- test-case-name: tests.test_tap -*-
"""
C{twistd sctp-sip}: a SIP registrar, stateless proxy and OPTIONS responder
over SCTP, with an AMP admin endpoint::

    twistd -n sctp-sip --listen sctp:127.0.0.1:5060 --option autoclose=120
    twistd -n sctp-sip --listen 'sctp:(10.0.0.1,10.0.1.1):5060' --listen 'sctp:[::1]:5060'
    twistd -n sctp-sip --config /etc/sctp-sip.toml --option send_retries=2

The configuration file is TOML (a name ending in C{.toml}, read with
C{tomllib}, or C{tomli} before Python 3.11) or INI (any other name, read with C{configparser}), with the
sections C{[server]} (C{listen}, C{admin}, C{admin_secret_file},
C{metrics}), C{[sctp]} (the 19 options) and C{[sip]} (L{SIP_SETTINGS}).
The command line wins over the file: C{--listen} replaces the file's
listeners, C{--option}/C{--sip} override single names.  See
docs/sip-server.md.
"""

from __future__ import annotations

import configparser
import os
import socket
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import attrs

from twisted.application import service
from twisted.cred import strcred
from twisted.internet import defer, error as ierror
from twisted.logger import Logger, LogLevel
from twisted.python import usage

from twisted_sctp import endpoints
from twisted_sctp.engine.endpoints import isUDPString, parseUDPListen
from twisted_sctp.transport.address import SCTPAddress, familyOf, parseListen
from twisted_sctp.error import OptionError, SCTPUnavailableError, UnknownOptionError
from twisted_sctp.transport.options import SCTPOptions, normalizeName
from twisted_sctp.transport.port import SCTPPort
from twisted_sctp.sip.transport import SIPSettings, SIPTransport
from twisted_sctp.sip.server import ServerSettings, SIPServer
from twisted_sctp.sip.credentials import CREDENTIAL_INTERFACES, DigestAuthenticator
from twisted_sctp.sip.flow import ViaSeal
from twisted_sctp.kernel import mmsg
from twisted_sctp.sip import leanimpl
from twisted_sctp.sip.store import MemoryStore, RedisStore, RedisURL, StoreUnavailable, parseStoreURL, probeRedis
from twisted_sctp.sip.policy import SECURITY_SETTINGS, RequestGuard, SecuritySettings, defaultRealm, securitySettingsFrom

Listen = Tuple[List[str], int]
#: A listener's addresses and port, as a key of per-listener options.
ListenKey = Tuple[Tuple[str, ...], int]

DEFAULT_LISTEN = "sctp:127.0.0.1:5060"

#: C{[sip]} / C{--sip} names: (which settings object, attribute, type).
SIP_SETTINGS: Dict[str, Tuple[str, str, type]] = {
    "crlf_pingpong": ("sip", "crlfPingPong", bool),
    "crlf_drop": ("sip", "crlfDrop", bool),
    "ppid": ("sip", "ppid", int),
    "stream": ("sip", "stream", int),
    "unordered": ("sip", "unordered", bool),
    "max_header_bytes": ("sip", "maxHeaderBytes", int),
    "udp": ("sip", "udp", bool),
    "lean_path": ("sip", "leanPath", bool),
    "default_expires": ("server", "defaultExpires", int),
    "min_expires": ("server", "minExpires", int),
    "max_expires": ("server", "maxExpires", int),
    "max_contacts": ("server", "maxContacts", int),
    "max_bindings": ("server", "maxBindings", int),
    "max_aor_bytes": ("server", "maxAORBytes", int),
    "max_contact_bytes": ("server", "maxContactBytes", int),
    "max_binding_bytes": ("server", "maxBindingBytes", int),
    "domains": ("server", "domains", tuple),
    "allow_internal": ("server", "allowInternal", tuple),
    "server_name": ("server", "serverName", str),
}

_SERVER_KEYS = ("listen", "admin", "admin_secret_file", "metrics", "store")
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}

_log = Logger()


def _listenSpec(text: str, where: str = "--listen") -> Tuple[Listen, Dict[str, int]]:
    """
    Parse a listen address: the short form (C{sctp:HOST:PORT}, ...) or an
    C{sctp:PORT:interface=...} endpoint string (L{endpoints.parseServerString}).

    @return: the listener and the SCTP options its string names.
    """
    if isUDPString(text):
        try:
            spec = parseUDPListen(text).spec
        except ValueError as e:
            raise usage.UsageError("{} {}: {}".format(where, text, e))
        return (list(spec.interfaces), spec.port), dict(spec.given)
    if endpoints.isServerString(text):
        try:
            spec = endpoints.parseServerString(text)
        except ValueError as e:
            raise usage.UsageError("{} {}: {}".format(where, text, e))
        return (list(spec.interfaces), spec.port), dict(spec.given)
    try:
        return parseListen(text), {}
    except ValueError as e:
        raise usage.UsageError("{} {}: {} (use sctp:HOST:PORT, sctp:(HOST1,HOST2):PORT, sctp:[IPV6]:PORT or sctp:PORT:interface=ADDR[,ADDR][:OPTION=VALUE...])".format(where, text, e))


def _udpListeners(texts: Sequence[str]) -> Dict[ListenKey, Tuple[int, int]]:
    """
    @return: C{(udp_port, encap_port)} of each C{sctp+udp:} listener among
        C{texts} (already checked by L{_listenSpec}), by listener.
    """
    out = {}
    for text in texts:
        if isUDPString(text):
            u = parseUDPListen(text)
            out[(tuple(u.spec.interfaces), u.spec.port)] = (u.udpPort, u.encapPort)
    return out


def _listenStyle(text: str) -> str:
    """
    @return: the socket style a listen address names (C{style=} of an
        endpoint string; C{"one-to-many"} otherwise).
    """
    return endpoints.parseServerString(text).style if endpoints.isServerString(text) else "one-to-many"


def _listen(text: str, where: str = "--listen") -> Listen:
    return _listenSpec(text, where)[0]


def _key(listen: Listen) -> ListenKey:
    return tuple(listen[0]), listen[1]


def _pair(text: str, flag: str) -> Tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise usage.UsageError("{} {!r}: expected NAME=VALUE".format(flag, text))
    return name.strip(), value.strip()


def _convert(name: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in _BOOLEANS:
            return _BOOLEANS[str(value).strip().lower()]
        raise ValueError("not a boolean: {!r} (use true/false, yes/no, on/off, 1/0)".format(value))
    if kind is int:
        if isinstance(value, bool):
            raise ValueError("not an integer: {!r}".format(value))
        return int(str(value).strip(), 10)
    if kind is tuple:
        items = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
        return tuple(str(i).strip().lower() for i in items if str(i).strip())
    return str(value)


def sipSettingsFrom(mapping: Dict[str, Any], flag: str = "--sip") -> Tuple[SIPSettings, ServerSettings]:
    """
    Build the SIP transport and server settings from C{[sip]} names.

    @raise usage.UsageError: an unknown name or a bad value.
    """
    values: Dict[str, Dict[str, Any]] = {"sip": {}, "server": {}}
    for key, value in mapping.items():
        name = key.strip().lower().replace("-", "_")
        if name not in SIP_SETTINGS:
            raise usage.UsageError("{} {}: unknown setting; valid names: {}".format(flag, key, ", ".join(list(SIP_SETTINGS) + list(SECURITY_SETTINGS))))
        group, attribute, kind = SIP_SETTINGS[name]
        try:
            values[group][attribute] = _convert(name, kind, value)
        except ValueError as e:
            raise usage.UsageError("{} {}: {}".format(flag, name, e))
    try:
        return SIPSettings(**values["sip"]), ServerSettings(**values["server"])
    except ValueError as e:
        raise usage.UsageError("{}: {}".format(flag, e))


@attrs.frozen
class ConfigFile:
    """
    What a configuration file says.

    @ivar server: C{[server]} values (C{listen} already parsed).
    @ivar sctp: C{[sctp]} option values.
    @ivar sip: C{[sip]} setting values.
    """

    server: Dict[str, Any] = attrs.field(factory=dict)
    sctp: Dict[str, Any] = attrs.field(factory=dict)
    sip: Dict[str, Any] = attrs.field(factory=dict)


def _toml() -> Any:
    """
    @return: C{tomllib} (Python 3.11+) or C{tomli} (its back-port, a
        dependency on older Pythons).
    """
    import importlib

    try:
        return importlib.import_module("tomllib")
    except ImportError:  # Python < 3.11
        return importlib.import_module("tomli")


def readConfig(path: str) -> ConfigFile:
    """
    Read a TOML (C{*.toml}) or INI configuration file.

    @raise usage.UsageError: it cannot be read, or holds an unknown section
        or server key, or a bad listen address.
    """
    sections: Dict[str, Dict[str, Any]] = {}
    try:
        if path.endswith(".toml"):
            with open(path, "rb") as f:
                data = _toml().load(f)
            for name, section in data.items():
                if not isinstance(section, dict):
                    raise usage.UsageError("--config {}: {} is outside a section ([server], [sctp], [sip])".format(path, name))
                sections[name] = section
        else:
            parser = configparser.ConfigParser(interpolation=None)
            with open(path, encoding="utf-8") as f:
                parser.read_file(f)
            sections = {name: dict(parser[name]) for name in parser.sections()}
    except OSError as e:
        raise usage.UsageError("--config {}: {}".format(path, e.strerror or e))
    except (ValueError, configparser.Error) as e:  # tomllib.TOMLDecodeError is a ValueError
        raise usage.UsageError("--config {}: {}".format(path, str(e).splitlines()[0]))
    unknown = set(sections) - {"server", "sctp", "sip"}
    if unknown:
        raise usage.UsageError("--config {}: unknown section(s) {} (use [server], [sctp], [sip])".format(path, ", ".join(sorted(unknown))))
    server: Dict[str, Any] = {}
    for key, value in sections.get("server", {}).items():
        name = key.lower().replace("-", "_")
        if name not in _SERVER_KEYS:
            raise usage.UsageError("--config {}: unknown key {} in [server] (valid: {})".format(path, key, ", ".join(_SERVER_KEYS)))
        if name == "listen":
            texts = value if isinstance(value, list) else str(value).split()
            specs = [_listenSpec(str(t), "--config {}: listen".format(path)) for t in texts]
            server["listen"] = [listen for listen, _ in specs]
            server["listen_options"] = {_key(listen): given for listen, given in specs if given}
            server["udp_listeners"] = _udpListeners([str(t) for t in texts])
            server["listen_styles"] = {_key(listen): _listenStyle(str(t)) for (listen, _), t in zip(specs, texts)}
        else:
            server[name] = str(value)
    return ConfigFile(server, dict(sections.get("sctp", {})), dict(sections.get("sip", {})))


class Options(usage.Options, strcred.AuthOptionMixin):
    """
    Options of C{twistd sctp-sip}.  C{--auth} (twisted.cred strcred:
    C{memory:USER:PASS:...}, C{file:PATH}, C{ha1:PATH}) turns on Digest
    authentication (docs/security.md).
    """

    supportedInterfaces = CREDENTIAL_INTERFACES

    synopsis = "[--listen sctp:HOST:PORT]... [--option NAME=VALUE]... [--sip NAME=VALUE]... [--config FILE] [--admin ENDPOINT]"
    longdesc = (
        "A SIP registrar, stateless proxy and OPTIONS responder over SCTP (RFC 4168). "
        "SCTP options use Kamailio's names (autoclose, send_ttl, send_retries, ...). "
        "See docs/sip-server.md."
    )
    optParameters = [
        ["config", "c", None, "Read settings from FILE: TOML if it ends in .toml, else INI; sections [server], [sctp], [sip]. The command line wins."],
        ["admin", None, None, "AMP admin endpoint (Twisted server endpoint string). Default: a unix socket with mode 0600 in the run directory."],
        ["admin-secret-file", None, None, "File holding the admin shared secret (required for any admin endpoint but a unix socket closed to others: TCP, even loopback, needs it)."],
        ["metrics", None, None, "Serve Prometheus metrics on this endpoint (e.g. tcp:9100:interface=127.0.0.1)."],
        ["store", None, None, "Where registrations are kept: memory (default) or redis://[:PASSWORD@]HOST:PORT/DB (rediss://...[?ca=FILE] for TLS), shared by every node using it. See docs/store.md."],
        ["workers", None, "1", "Run N worker processes on the same SCTP listeners (SO_REUSEPORT; N > 1 needs --store). See docs/store.md."],
        ["worker", None, None, "Internal: this process is worker I of --workers (the parent sets it)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["listenOptions"] = {}
        self["udpListeners"] = {}
        self["listenStyles"] = {}
        self["option"] = {}
        self["sip"] = {}
        self["credCheckers"] = []

    def opt_listen(self, value: str) -> None:
        """
        Listen on sctp:HOST:PORT; multihomed sctp:(HOST1,HOST2):PORT; IPv6 sctp:[::1]:PORT; or an endpoint string sctp:PORT:interface=ADDR[,ADDR...][:OPTION=VALUE...] (its options override --option for that listener); SCTP over UDP by the user-space engine (no kernel SCTP needed): sctp+udp:HOST:PORT[:udp_port=N][:encap_port=N]. Repeatable. Default: sctp:127.0.0.1:5060.
        """
        listen, given = _listenSpec(value)
        self["listen"].append(listen)
        self["udpListeners"].update(_udpListeners([value]))
        self["listenStyles"][_key(listen)] = _listenStyle(value)
        if given:
            self["listenOptions"][_key(listen)] = given

    def opt_option(self, value: str) -> None:
        """
        Set an SCTP option, NAME=VALUE, one of the 19 Kamailio sctp names (autoclose, send_retries, hbinterval, ...). Repeatable.
        """
        name, text = _pair(value, "--option")
        try:
            self["option"][normalizeName(name)] = text
        except UnknownOptionError as e:
            raise usage.UsageError("--option {}".format(e))

    def opt_sip(self, value: str) -> None:
        """
        Set a SIP setting, NAME=VALUE (crlf_pingpong, crlf_drop, ppid, udp, min_expires, domains, ...). Repeatable.
        """
        name, text = _pair(value, "--sip")
        self["sip"][name] = text

    def postOptions(self) -> None:
        """
        Merge the file and the command line and check every value.
        """
        config = readConfig(self["config"]) if self["config"] else ConfigFile()
        self["listeners"] = self["listen"] or config.server.get("listen") or [_listen(DEFAULT_LISTEN)]
        given = self["listenOptions"] if self["listen"] else config.server.get("listen_options", {})
        if not self["listen"]:
            self["udpListeners"] = config.server.get("udp_listeners", {})
        self["listenerStyles"] = self["listenStyles"] if self["listen"] else config.server.get("listen_styles", {})
        sctp: Dict[str, Any] = {}
        for key, value in config.sctp.items():
            try:
                sctp[normalizeName(key)] = value
            except UnknownOptionError as e:
                raise usage.UsageError("--config {}: [sctp] {}".format(self["config"], e))
        sctp.update(self["option"])
        try:
            self["sctpOptions"] = SCTPOptions.fromMapping(sctp)
        except OptionError as e:
            raise usage.UsageError("--option {}".format(e))
        self["listenerOptions"] = {}
        for key, named in given.items():
            try:
                self["listenerOptions"][key] = SCTPOptions.fromMapping(dict(sctp, **named))
            except OptionError as e:
                raise usage.UsageError("--listen {}: {}".format(str(SCTPAddress(key[0][0], key[1], key[0])), e))
        sip = dict(config.sip)
        sip.update(self["sip"])
        self["securitySettings"], sip = securitySettingsFrom(sip)
        secretFile = self["securitySettings"].nonceSecretFile
        if secretFile and not (os.access(secretFile, os.R_OK) and os.path.getsize(secretFile) >= 16):
            raise usage.UsageError("--sip nonce_secret_file {}: cannot read it, or it holds fewer than 16 bytes".format(secretFile))
        self["sipSettings"], self["serverSettings"] = sipSettingsFrom(sip)
        for key in ("admin", "admin-secret-file", "metrics", "store"):
            if self[key] is None:
                self[key] = config.server.get(key.replace("-", "_"))
        try:
            self["storeURL"] = parseStoreURL(str(self["store"] or "memory"))
        except ValueError as e:
            raise usage.UsageError(str(e))
        self["workerCount"], self["workerIndex"] = _workerOptions(self)


class SIPService(service.Service):
    """
    The SIP server: its listeners (bound in L{privilegedStartService}), the
    L{SIPTransport} and the L{SIPServer}.

    @ivar ports: the started L{SCTPPort}s.
    @ivar listenerOptions: the options of listeners whose C{--listen}
        endpoint string named some (the others use C{options}).
    @ivar listenerStyles: the socket style of each listener whose endpoint
        string named one (C{"one-to-one"}: L{twisted_sctp.kernel.onetoone}).
    @ivar transport: the L{SIPTransport}.
    @ivar server: the L{SIPServer}.
    @ivar guard: its L{RequestGuard} (the security policy, docs/security.md).

    The registrations are in the server's own memory unless C{store} names
    a Redis (docs/store.md).
    """

    name = "sctp-sip"
    purgeInterval = 30.0

    def __init__(
        self,
        reactor: Any,
        listeners: Sequence[Listen] = ((["127.0.0.1"], 5060),),
        options: Optional[SCTPOptions] = None,
        sipSettings: Optional[SIPSettings] = None,
        serverSettings: Optional[ServerSettings] = None,
        kernel: Any = None,
        security: Optional[SecuritySettings] = None,
        checkers: Sequence[Any] = (),
        listenerOptions: Optional[Dict[ListenKey, SCTPOptions]] = None,
        udpListeners: Optional[Dict[ListenKey, Tuple[int, int]]] = None,
        listenerStyles: Optional[Dict[ListenKey, str]] = None,
        store: Optional[RedisURL] = None,
    ) -> None:
        self._reactor = reactor
        self.listenerStyles = dict(listenerStyles or {})
        self.listeners = [(list(hosts), port) for hosts, port in listeners]
        self.options = options if options is not None else SCTPOptions()
        self.listenerOptions = dict(listenerOptions or {})
        #: C{(udp_port, encap_port)} of the listeners on the UDP engine.
        self.udpListeners = dict(udpListeners or {})
        self._kernel = kernel
        self.transport = SIPTransport(reactor, settings=sipSettings)
        self.server = SIPServer(self.transport, reactor, serverSettings)
        if store is not None:
            self.server.store = RedisStore(reactor, self.server.settings, store)
        self.transport.receiver = self.server
        if sipSettings is None or sipSettings.leanPath:
            self.transport.lean = self.server.leanReceived
        security = security if security is not None else SecuritySettings()
        realm = defaultRealm(security, self.server.settings.domains, self.listeners)
        self.guard = self.server.guard = RequestGuard(self.server, reactor, security, DigestAuthenticator(checkers) if checkers else None, realm)
        if security.nonceSecretFile:
            # Nodes sharing the secret file accept each other's Vias.
            with open(security.nonceSecretFile, "rb") as f:
                self.server.viaSeal = ViaSeal.fromSecret(f.read())
        self.ports: List[SCTPPort] = []
        self._bound = False

    def privilegedStartService(self) -> None:
        """
        Bind every listener (before twistd drops privileges).
        """
        if not self._bound:
            self._bound = True
            if self.transport.lean is not None:
                _log.info("lean path: {implementation} ({reason})", implementation=leanimpl.IMPLEMENTATION, reason=leanimpl.REASON)
            _log.info("kernel read: {implementation} ({reason})", implementation=mmsg.IMPLEMENTATION, reason=mmsg.REASON)
            for warning in self.options.warnings():
                _log.warn("SCTP options: {warning}", warning=warning)
            for warning in self.guard.startupWarnings():
                _log.warn("security: {text}", text=warning)
            for hosts, port in self.listeners:
                if any(h in ("0.0.0.0", "::") for h in hosts):
                    _log.warn("listening on a wildcard address ({hosts}): the Via of forwarded requests will name it, so responses can only come back on the request's association; give explicit addresses", hosts=",".join(hosts))
            try:
                for hosts, port in self.listeners:
                    options = self.listenerOptions.get((tuple(hosts), port), self.options)
                    kernel = self._backendFor(hosts, port)
                    if kernel is self._kernel and self.listenerStyles.get((tuple(hosts), port)) == "one-to-one":
                        from twisted_sctp.kernel.onetoone import OneToOneKernel

                        kernel = OneToOneKernel(kernel)
                    listener = self.transport.listen(hosts, port, options, kernel=kernel)
                    self.ports.append(listener.sctp)
            except BaseException:
                self.transport.stopListening()
                self.ports = []
                self._bound = False
                raise
        super().privilegedStartService()

    def _backendFor(self, hosts: Sequence[str], port: int) -> Any:
        """
        @return: an L{EngineBackend} for a C{sctp+udp:} listener (the port
            takes a backend given as C{kernel}), else the kernel calls.
        """
        udp = self.udpListeners.get((tuple(hosts), port))
        if udp is None:
            return self._kernel
        from twisted_sctp.engine.backend import EngineBackend

        return EngineBackend(self._reactor, udp[0], udp[1])

    def startService(self) -> None:
        self.privilegedStartService()
        super().startService()
        if isinstance(self.server.store, MemoryStore):
            # Expired bindings are forgotten every purgeInterval seconds,
            # with no timer pending while there are none.
            self.server.store.purgeInterval = self.purgeInterval
        self.server.store.start()

    def stopService(self) -> defer.Deferred[Any]:
        super().stopService()
        stopped = self.server.store.stop()
        self.ports = []
        self._bound = False
        return defer.gatherResults([stopped, self.transport.stopListening()]).addCallback(lambda _: None)

    def sipStats(self) -> Dict[str, int]:
        """
        @return: the SIP transport's counters and the server's, by name.
        """
        out = self.transport.stats.asDict()
        out.update(self.server.asDict())
        return out


def startupError(error: BaseException) -> str:
    """@return: the one line we print when the server cannot start."""
    if isinstance(error, ierror.CannotListenError):
        where = error.port.decode("utf-8", "replace") if isinstance(error.port, bytes) else error.port
        if error.interface:
            where = "{}:{}".format("[{}]".format(error.interface) if ":" in error.interface else error.interface, where)
        return "twistd sctp-sip: cannot listen on {}: {}".format(where, getattr(error.socketError, "strerror", None) or error.socketError)
    if isinstance(error, (SCTPUnavailableError, usage.UsageError)):
        return "twistd sctp-sip: {}".format(error)
    return "twistd sctp-sip: cannot start: {}".format(error or error.__class__.__name__)


def checkEndpointPort(flag: str, description: str) -> None:
    """
    Refuse a C{tcp:}/C{tcp6:}/C{ssl:} server endpoint string whose port is
    not 0-65535 (Twisted only finds out when it binds, with a traceback).

    @raise usage.UsageError: the port is out of range or not a number.
    """
    from twisted_sctp.admin.endpoints import splitDescription

    kind, args, kwargs = splitDescription(description)
    port = kwargs.get("port", args[0] if args else None)
    if kind in ("tcp", "tcp6", "ssl") and port is not None and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise usage.UsageError("{} {}: port {!r} is not a port number (0-65535)".format(flag, description, port))


def _fail(error: BaseException) -> None:
    message = startupError(error)
    stream = sys.__stderr__ or sys.stderr
    stream.write(message + "\n")
    stream.flush()
    raise SystemExit(1)


class _TopService(service.MultiService):
    """
    The twistd service: a listener that cannot start is one line on stderr
    and exit status 1, not a traceback.
    """

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()
        except Exception as e:
            self._startFailed(e)

    def startService(self) -> None:
        try:
            super().startService()
        except Exception as e:
            self._startFailed(e)

    def _startFailed(self, error: Exception) -> None:
        if not isinstance(error, (SCTPUnavailableError, ierror.CannotListenError)):
            # Not one we expect: the traceback goes to the log at debug
            # level, for a bug report; the operator gets one line.
            _log.failure("start-up failed", level=LogLevel.debug)
        _log.critical("{message}", message=startupError(error))
        _fail(error)


def probeSCTP(families: Sequence[int]) -> None:
    """
    Open and close an SCTP socket of each family.

    @raise SCTPUnavailableError: the kernel has no SCTP.
    """
    from twisted_sctp.kernel import sctpsocket
    for family in families:
        try:
            sctpsocket.openSocket(family).close()
        except SCTPUnavailableError:
            raise
        except OSError:
            pass  # e.g. no IPv6: binding will say so


def buildService(config: Any, reactor: Any, kernel: Any = None, probe: Callable[[Sequence[int]], None] = probeSCTP,
                 probeStore: Callable[[RedisURL], None] = probeRedis) -> service.MultiService:
    """
    L{makeService} with its collaborators given (for tests).
    """
    udpListeners = config.get("udpListeners") or {}
    kernelListeners = [(hosts, port) for hosts, port in config["listeners"] if (tuple(hosts), port) not in udpListeners]
    families = sorted({socket.AF_INET6 if any(familyOf(h) == socket.AF_INET6 for h in hosts) else socket.AF_INET for hosts, _ in kernelListeners})
    try:
        probe(families)
    except SCTPUnavailableError as e:
        _fail(e)
    storeURL = config.get("storeURL")
    if storeURL is not None:
        try:
            probeStore(storeURL)
        except StoreUnavailable as e:
            _fail(usage.UsageError("--store: cannot reach the registration store {}".format(e)))
    top = _TopService()
    sipService = SIPService(reactor, config["listeners"], config["sctpOptions"], config["sipSettings"], config["serverSettings"], kernel,
                            config.get("securitySettings"), config.get("credCheckers", ()), config.get("listenerOptions"), udpListeners,
                            config.get("listenerStyles"), storeURL)
    sipService.setServiceParent(top)
    from twisted_sctp.admin.server import makeAdminService
    from twisted_sctp.kernel.sctpsocket import readSNMP

    try:
        for flag in ("admin", "metrics"):
            if config[flag]:
                checkEndpointPort("--" + flag, config[flag])
        makeAdminService(reactor, config["admin"], sipService, config["admin-secret-file"], readSNMP).setServiceParent(top)
        if config["metrics"]:
            from twisted_sctp.admin.metrics import makeMetricsService

            makeMetricsService(reactor, config["metrics"], sipService).setServiceParent(top)
    except usage.UsageError as e:
        # A refused admin or metrics endpoint: one line, not a traceback.
        _fail(e)
    return top


def _workerOptions(config: Any) -> Tuple[int, Optional[int]]:
    """
    @return: C{--workers} and C{--worker} checked.
    @raise usage.UsageError: a bad count, or N > 1 without a shared store or
        on a listener that is not a kernel one-to-many socket.
    """
    try:
        count = int(config["workers"])
        index = None if config["worker"] is None else int(config["worker"])
    except ValueError:
        raise usage.UsageError("--workers: give a whole number >= 1, e.g. --workers 2")
    if count < 1:
        raise usage.UsageError("--workers: give a whole number >= 1, e.g. --workers 2")
    if count > 1 and config["storeURL"] is None:
        raise usage.UsageError("--workers {}: the workers must share their registrations: give --store redis://HOST:PORT/DB (docs/store.md)".format(count))
    if count > 1 and (config["udpListeners"] or any(style != "one-to-many" for style in config["listenStyles"].values())):
        raise usage.UsageError("--workers {}: every --listen must be a kernel one-to-many sctp: listener (SO_REUSEPORT)".format(count))
    return count, index


def buildWorkers(config: Any, reactor: Any, argv: Sequence[str], probe: Callable[[Sequence[int]], None] = probeSCTP,
                 probeStore: Callable[[RedisURL], None] = probeRedis) -> service.MultiService:
    """
    The parent of C{--workers N}: a L{twisted_sctp.workers.WorkerSupervisor}
    that starts N C{sctp-sip} workers with C{argv}.
    """
    from twisted_sctp.workers import WorkerSupervisor, subcommandArguments, workersAdminService

    # What would stop every worker at start stops the parent instead (one
    # line, exit 1), not a restart loop.
    try:
        probe(sorted({socket.AF_INET6 if any(familyOf(h) == socket.AF_INET6 for h in hosts) else socket.AF_INET for hosts, _ in config["listeners"]}))
        probeStore(config["storeURL"])
    except SCTPUnavailableError as e:
        _fail(e)
    except StoreUnavailable as e:
        _fail(usage.UsageError("--store: cannot reach the registration store {}".format(e)))
    top = service.MultiService()
    supervisor = WorkerSupervisor(reactor, config["workerCount"], subcommandArguments(argv), config["admin"], metrics=bool(config["metrics"]))
    supervisor.setServiceParent(top)
    admin = workersAdminService(reactor, supervisor)
    if admin is not None:
        admin.setServiceParent(top)
    if config["metrics"]:
        from twisted_sctp.admin.metrics import serveMetrics
        from twisted_sctp.workermetrics import workersMetricsResource

        try:
            checkEndpointPort("--metrics", config["metrics"])
            serveMetrics(reactor, config["metrics"], workersMetricsResource(reactor, supervisor)).setServiceParent(top)
        except usage.UsageError as e:
            _fail(e)
    return top


def installReactor() -> None:
    """
    Install L{twisted_sctp.reactor.KernelClockReactor} if no reactor is
    installed yet: C{twistd} installs the one C{--reactor} names while it
    parses the options, and with none named imports the default only
    after C{makeService}.  Where epoll is missing, Twisted's default.
    """
    if "twisted.internet.reactor" in sys.modules:
        return
    try:
        from twisted_sctp.reactor import install
    except ImportError:
        return
    install()


def makeService(config: Any) -> service.MultiService:
    """
    Build the C{sctp-sip} service: the SIP server's listeners, the admin
    endpoint and, if asked for, the metrics endpoint.  On a kernel without
    SCTP this prints one line saying so and exits with status 1.  The
    reactor is L{twisted_sctp.reactor.KernelClockReactor} unless
    C{--reactor} chose another (L{installReactor}).
    """
    installReactor()
    from twisted.internet import reactor

    count, index = config.get("workerCount", 1), config.get("workerIndex")
    if count > 1 and index is None:
        return buildWorkers(config, reactor, sys.argv)
    if count > 1:
        from twisted_sctp.kernel import sctpsocket
        from twisted_sctp.workers import ReusePortKernel, workerMaxAssocs

        options = config["sctpOptions"]
        config["sctpOptions"] = attrs.evolve(options, max_assocs=workerMaxAssocs(options.max_assocs, count))
        config["listenerOptions"] = {key: attrs.evolve(o, max_assocs=workerMaxAssocs(o.max_assocs, count)) for key, o in (config.get("listenerOptions") or {}).items()}
        return buildService(config, reactor, kernel=ReusePortKernel(sctpsocket))
    return buildService(config, reactor)
