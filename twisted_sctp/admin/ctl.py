# -*- test-case-name: tests.test_ctl -*-
"""
C{sctp-sipctl}: the operator's client of the SIP server's admin endpoint::

    sctp-sipctl [--admin ENDPOINT] [--secret-file FILE] [--json] COMMAND

Aligned tables by default (like kamcmd); C{--json} prints one JSON object
per command on one line, with the field names as keys.  Errors are one line
on stderr and a distinct exit code (see L{EXIT_CODES}).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple

from twisted.internet import defer, error as ierror
from twisted.protocols import amp

from twisted_sctp.admin.endpoints import ADMIN_ENV, DEFAULT_ADMIN_ENDPOINT, EndpointError, splitDescription
from twisted_sctp.admin.client import AdminClient
from twisted_sctp.admin.protocol import AdminError, AuthenticationFailed, ChangeRefused, UnknownAssociation, UnknownOption
from twisted_sctp.transport.stats import KAMAILIO_COUNTERS

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_UNKNOWN_OPTION = 5
EXIT_REFUSED = 6
EXIT_UNKNOWN_ASSOCIATION = 7

#: Exit code -> what it means (printed in C{--help}).
EXIT_CODES: Tuple[Tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_ERROR, "the server reported another error (bad or unknown address for options, ...)"),
    (EXIT_USAGE, "bad command line, endpoint string or secret file"),
    (EXIT_UNREACHABLE, "server unreachable (cannot connect, no answer in time, connection lost)"),
    (EXIT_AUTH, "authentication refused (wrong secret, or the server requires one)"),
    (EXIT_UNKNOWN_OPTION, "unknown option (set)"),
    (EXIT_REFUSED, "refused change (set: read-only, out of range, a cross-option rule, the kernel said no)"),
    (EXIT_UNKNOWN_ASSOCIATION, "unknown association (abort, shutdown)"),
)

_UNREACHABLE = (
    ierror.ConnectError,
    ierror.ConnectionClosed,
    defer.TimeoutError,
    defer.CancelledError,
    amp.ProtocolSwitched,
)

ClientFactory = Callable[..., Any]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise _UsageError(message)


def _epilog() -> str:
    lines = [
        "commands:",
        "  info                          sctp.info: opened/tracked/total connections, and ours",
        "  options [ADDRESS|first|default]  sctp.options: the 19 options (live kernel values with an address)",
        "  set NAME VALUE                change an option at run time (Kamailio's rules)",
        "  stats                         Kamailio's 11 counters, ours, SIP's, the kernel's SNMP",
        "  assocs                        the associations: id, assoc_id, peer paths, state, age, traffic",
        "  abort ID [--listener L]       ABORT an association",
        "  shutdown ID [--listener L]    gracefully SHUTDOWN an association",
        "",
        "ENDPOINT: the server's --admin string (unix:PATH, tcp:PORT, tcp:PORT:interface=HOST) or a",
        "client one (tcp:host=HOST:port=PORT). Default: ${} if set, else {} (the".format(ADMIN_ENV, DEFAULT_ADMIN_ENDPOINT),
        "server's default socket in its run directory: run sctp-sipctl there).",
        "",
        "exit codes:",
    ]
    lines.extend("  {}  {}".format(code, text) for code, text in EXIT_CODES)
    return "\n".join(lines)


def makeParser() -> argparse.ArgumentParser:
    """
    @return: the command line parser (raises L{_UsageError} on errors).
    """
    common = _Parser(add_help=False)
    common.add_argument("--admin", metavar="ENDPOINT", default=argparse.SUPPRESS, help="the admin endpoint (see below)")
    common.add_argument("--secret-file", metavar="FILE", default=argparse.SUPPRESS, help="the shared secret (mode 600)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="one JSON object on one line")
    common.add_argument("--timeout", type=float, metavar="SECONDS", default=argparse.SUPPRESS, help="default 10")
    common.add_argument("--version", action="store_true", default=argparse.SUPPRESS, help="print the version and exit")
    parser = _Parser(
        prog="sctp-sipctl",
        description="Manage a running twistd sctp-sip server over its AMP admin endpoint.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    sub.add_parser("info", parents=[common], help="sctp.info")
    options = sub.add_parser("options", parents=[common], help="sctp.options")
    options.add_argument("address", nargs="?", metavar="ADDRESS|first|default")
    setter = sub.add_parser("set", parents=[common], help="change an option")
    setter.add_argument("name")
    setter.add_argument("value")
    sub.add_parser("stats", parents=[common], help="counters")
    sub.add_parser("assocs", parents=[common], help="associations")
    for name in ("abort", "shutdown"):
        closer = sub.add_parser(name, parents=[common], help="{} an association".format(name))
        closer.add_argument("id", type=int)
        closer.add_argument("--listener", metavar="ADDRESS", help="the listener, when several have that id")
        if name == "abort":
            closer.add_argument("--reason", help="the ABORT's reason text")
    return parser


# -- formatting ---------------------------------------------------------


def _scalar(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return "{:.3f}".format(value).rstrip("0").rstrip(".") or "0"
    return str(value)


def table(rows: Iterable[Tuple[str, object]], indent: str = "") -> List[str]:
    """
    @return: C{name value} lines with the values aligned.
    """
    rows = list(rows)
    width = max((len(name) for name, _ in rows), default=0)
    return ["{}{}  {}".format(indent, name.ljust(width), _scalar(value)) for name, value in rows]


def grid(header: Sequence[str], rows: Sequence[Sequence[object]]) -> List[str]:
    """
    @return: a table with a header and columns padded to their widest cell.
    """
    cells = [list(header)] + [[_scalar(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def flatStats(result: Dict[str, Any]) -> Dict[str, Any]:
    """
    The C{stats --json} object: the counters by name (Kamailio's first), the
    SIP ones prefixed C{sip_}, the kernel's SNMP under C{kernel}.
    """
    out: Dict[str, Any] = dict(result["counters"])
    for name, value in result["sip"].items():
        out[name if name.startswith("sip_") else "sip_" + name] = value
    out["kernel"] = dict(result["kernel"])
    return out


def formatStats(result: Dict[str, Any]) -> List[str]:
    counters = result["counters"]
    kamailio = [(n, counters[n]) for n in KAMAILIO_COUNTERS if n in counters]
    admin = [(n, v) for n, v in counters.items() if n.startswith("admin_")]
    ours = [(n, v) for n, v in counters.items() if n not in KAMAILIO_COUNTERS and not n.startswith("admin_")]
    lines = ["sctp (Kamailio's counters)"] + table(kamailio, "  ")
    lines += ["ours"] + table(ours, "  ")
    lines += ["admin"] + table(admin, "  ")
    sip = flatStats({"counters": {}, "sip": result["sip"], "kernel": {}})
    del sip["kernel"]
    lines += ["sip"] + (table(sip.items(), "  ") or ["  (none)"])
    lines += ["kernel (/proc/net/sctp/snmp)"] + (table(result["kernel"].items(), "  ") or ["  (not available)"])
    return lines


def _paths(entry: Dict[str, Any]) -> str:
    paths = entry.get("paths") or {}
    return ", ".join("{} {}".format(address, state) for address, state in paths.items()) or str(entry.get("peer", ""))


def formatAssociations(entries: List[Dict[str, Any]]) -> List[str]:
    listeners = {e.get("listener") for e in entries}
    header = ["ID", "ASSOC_ID"] + (["LISTENER"] if len(listeners) > 1 else []) + [
        "PEER PATHS", "STATE", "AGE", "IDLE", "MSGS_IN", "MSGS_OUT", "BYTES_IN", "BYTES_OUT"]
    rows = []
    for e in entries:
        row: List[object] = [e["id"], e["assoc_id"]] + ([e.get("listener", "")] if len(listeners) > 1 else [])
        row += [_paths(e), e["state"], "{:.1f}".format(e["age"]), "{:.1f}".format(e["idle"]),
                e["messages_in"], e["messages_out"], e["bytes_in"], e["bytes_out"]]
        rows.append(row)
    return grid(header, rows) + ["{} association{}".format(len(entries), "" if len(entries) == 1 else "s")]


_APPLIES = {
    "now": "applies now",
    "new-associations": "applies to new associations only (existing ones keep theirs)",
    "unchanged": "unchanged (0 keeps the current value)",
}


def formatChange(result: Dict[str, Any]) -> List[str]:
    if result["applies"] == "unchanged":
        return ["{}: {} (unchanged: 0 keeps the current value)".format(result["name"], result["old"])]
    return ["{}: {} -> {}, {}, on {} listener{}".format(
        result["name"], result["old"], result["new"], _APPLIES.get(result["applies"], result["applies"]),
        result["listeners"], "" if result["listeners"] == 1 else "s")]


# -- running ------------------------------------------------------------


async def _command(client: Any, args: argparse.Namespace) -> Tuple[Any, List[str]]:
    """
    @return: the C{--json} object and the human lines.
    """
    if args.command == "info":
        info = await client.info()
        return info, table(info.items())
    if args.command == "options":
        result = await client.options(args.address)
        where = "live kernel values of {}" if result["live"] else "configured values (listener {})"
        return result["options"], ["# " + where.format(result["listener"])] + table(result["options"].items())
    if args.command == "set":
        result = await client.setOption(args.name, args.value)
        return result, formatChange(result)
    if args.command == "stats":
        result = await client.stats()
        return flatStats(result), formatStats(result)
    if args.command == "assocs":
        entries = await client.allAssociations()
        return {"associations": entries}, formatAssociations(entries)
    if args.command == "abort":
        result = await client.abort(args.id, args.listener, args.reason)
    else:
        result = await client.shutdown(args.id, args.listener)
    verb = "ABORT sent" if args.command == "abort" else "SHUTDOWN started"
    line = "association {} (assoc_id {}, {} on {}): {}".format(result["id"], result["assoc_id"], result["peer"], result["listener"], verb)
    return dict(result, action=args.command), [line]


def versionLine() -> str:
    """
    @return: what C{sctp-sipctl --version} prints: ours and Twisted's
        versions.
    """
    import twisted

    try:
        from importlib.metadata import PackageNotFoundError, version

        ours = version("twisted-sctp")
    except PackageNotFoundError:  # run from a checkout that is not installed
        ours = "(not installed)"
    return "sctp-sipctl (twisted-sctp) {} (Twisted {}, Python {})".format(ours, twisted.__version__, sys.version.split()[0])


def badPort(description: str) -> Optional[str]:
    """
    Check the port of a C{tcp:}/C{tcp6:}/C{ssl:} client endpoint string
    (Twisted itself only finds out when it connects).

    @return: C{None} if it has none or a good one, else why not.
    """
    kind, args, kwargs = splitDescription(description)
    port = kwargs.get("port", args[1] if len(args) > 1 else None)
    if kind in ("tcp", "tcp6", "ssl") and port is not None and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return "port {!r} is not a port number (0-65535)".format(port)
    return None


def _classify(exc: BaseException, endpoint: str) -> Tuple[int, str]:
    if isinstance(exc, AuthenticationFailed):
        return EXIT_AUTH, "authentication refused: {}".format(exc)
    if isinstance(exc, UnknownOption):
        return EXIT_UNKNOWN_OPTION, str(exc)
    if isinstance(exc, ChangeRefused):
        return EXIT_REFUSED, "refused: {}".format(exc)
    if isinstance(exc, UnknownAssociation):
        return EXIT_UNKNOWN_ASSOCIATION, str(exc)
    if isinstance(exc, AdminError):
        return EXIT_ERROR, str(exc)
    if isinstance(exc, _UNREACHABLE):
        what = str(exc).strip().replace("An error occurred while connecting: ", "").rstrip(".") or exc.__class__.__name__
        what = re.sub(r"^\d+: ", "", what)
        return EXIT_UNREACHABLE, "cannot reach the admin endpoint {}: {} (is the server running? --admin or ${})".format(
            endpoint, what, ADMIN_ENV)
    if isinstance(exc, amp.RemoteAmpError):
        return EXIT_ERROR, "the server failed: {}".format(exc.description if hasattr(exc, "description") else exc)
    return EXIT_ERROR, "{}: {}".format(exc.__class__.__name__, exc)


async def run(
    reactor: Any,
    argv: Sequence[str],
    stdout: TextIO,
    stderr: TextIO,
    clientFactory: ClientFactory = AdminClient,
) -> int:
    """
    Run one C{sctp-sipctl} command line.

    @param clientFactory: builds the client: called as C{clientFactory(reactor,
        endpoint, secretFile=..., timeout=...)}; it must have C{connect()} and
        the L{AdminClient} methods.
    @return: the exit code.
    """
    if "--version" in argv:
        stdout.write(versionLine() + "\n")
        return EXIT_OK
    parser = makeParser()
    try:
        args = parser.parse_args(list(argv))
    except _UsageError as e:
        stderr.write("sctp-sipctl: {}\n".format(e))
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return int(e.code or 0)
    endpoint = getattr(args, "admin", None)
    try:
        client = clientFactory(
            reactor, endpoint, secretFile=getattr(args, "secret_file", None), timeout=getattr(args, "timeout", 10.0)
        )
    except EndpointError as e:
        stderr.write("sctp-sipctl: {}\n".format(e))
        return EXIT_USAGE
    shown = str(getattr(client, "endpoint", endpoint))
    problem = badPort(shown)
    try:
        if problem is not None:
            raise ValueError(problem)
        await client.connect()
    except EndpointError as e:  # the secret file
        stderr.write("sctp-sipctl: {}\n".format(e))
        return EXIT_USAGE
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        # What Twisted raises for a string it cannot make an endpoint of.
        stderr.write("sctp-sipctl: bad admin endpoint {!r}: {} (e.g. unix:PATH, tcp:PORT, tcp:host=HOST:port=PORT)\n".format(shown, e))
        return EXIT_USAGE
    except Exception as e:
        code, message = _classify(e, shown)
        stderr.write("sctp-sipctl: {}\n".format(message))
        return code
    try:
        obj, lines = await _command(client, args)
    except Exception as e:
        code, message = _classify(e, shown)
        stderr.write("sctp-sipctl: {}\n".format(message))
        return code
    finally:
        client.close()
    if getattr(args, "json", False):
        stdout.write(json.dumps(obj) + "\n")
    else:
        stdout.write("".join(line + "\n" for line in lines))
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> None:
    """
    The C{sctp-sipctl} console script: exits with the code of L{run}.
    """
    from twisted.internet import task

    arguments = list(sys.argv[1:] if argv is None else argv)

    async def go(reactor: Any) -> None:
        code = await run(reactor, arguments, sys.stdout, sys.stderr)
        if code:
            raise SystemExit(code)

    task.react(lambda reactor: defer.Deferred.fromCoroutine(go(reactor)))


if __name__ == "__main__":
    main()
