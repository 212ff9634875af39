"""
C{twistd sctp-sip --workers N}: N worker processes on the same SCTP
listeners (docs/store.md, "Workers").

Each worker is a C{twistd -n sctp-sip} child that binds its one-to-many
listen sockets with C{SO_REUSEPORT} (L{ReusePortKernel}): the kernel (Linux
>= 4.20) hands each new association to one of the sockets, and every
message of that association to the same one, so each association lives in
exactly one worker and its registry, reuse and tracking stay exact.  The
workers share registrations through C{--store} (required for N > 1).

The parent (L{WorkerSupervisor}) listens on nothing itself: it starts the
workers, relays their log lines, restarts one that exits (after
L{RESTART_DELAY} seconds) and on SIGTERM stops them all.
"""

from __future__ import annotations

import math
import os
import socket
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from twisted.application import service
from twisted.internet import defer, protocol
from twisted.protocols import amp
from twisted.logger import Logger

from twisted_sctp.admin.protocol import AdminError, Associations, Challenge, Info, NoSCTPSocket, NotListening, Options, SetOption, Stats

_log = Logger()

#: Seconds before a worker that exited is started again.
RESTART_DELAY = 1.0

#: Seconds a stopping worker gets after SIGTERM before SIGKILL.
STOP_GRACE = 10.0

#: Options of the parent that take a value and are not given to workers
#: as they are (a worker keeps C{--workers}: its share of C{max_assocs}).
_PARENT_ONLY = ("--admin", "--worker", "--metrics")

_CHILD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"


class ReusePortKernel:
    """
    The kernel module (L{twisted_sctp.kernel.sctpsocket}) with
    C{SO_REUSEPORT} set on every listen socket before it is bound.
    """

    def __init__(self, kernel: Any) -> None:
        self._kernel = kernel

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kernel, name)

    def applyOptions(self, sock: socket.socket, options: Any, family: int, **kwargs: Any) -> List[str]:
        warnings: List[str] = self._kernel.applyOptions(sock, options, family, **kwargs)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        return warnings


def workerMaxAssocs(maxAssocs: int, workers: int) -> int:
    """
    @return: each worker's share of the server's C{max_assocs}, rounded up
        (the server as a whole holds at most C{workers - 1} more than
        C{maxAssocs}); -1 (unlimited) and 0 stay as they are.
    """
    return int(math.ceil(maxAssocs / workers)) if maxAssocs > 0 else maxAssocs


def workerAdminPath(admin: Optional[str], index: int) -> str:
    """@return: the path of worker C{index}'s admin unix socket (L{workerAdmin})."""
    return workerAdmin(admin, index)[len("unix:"):].split(":", 1)[0]


def workerAdmin(admin: Optional[str], index: int) -> str:
    """
    @return: the admin endpoint of worker C{index}: a unix socket next to
        the one C{--admin} names (or the default C{sctp-sip.admin}), with
        C{.worker-INDEX} appended to its path.
    """
    path, options = "sctp-sip.admin", ":mode=600"
    if admin and admin.startswith("unix:"):
        rest = admin[len("unix:"):]
        path, _, tail = rest.partition(":")
        options = ":" + tail if tail else ":mode=600"
    return "unix:{}.worker-{}{}".format(path, index, options)


def workerArguments(argv: Sequence[str], admin: Optional[str], index: int, metrics: bool = False) -> List[str]:
    """
    @param argv: the parent's C{sctp-sip} arguments (after the subcommand).
    @param metrics: the parent serves metrics (C{--metrics} or the config
        file's C{metrics}).
    @return: worker C{index}'s: the same, without C{--admin} and
        C{--metrics}, with C{--worker INDEX}, its own admin socket and, if
        the parent serves metrics, its own metrics socket (which the
        parent's C{--metrics} merges: L{twisted_sctp.workermetrics}).
    """
    from twisted_sctp.workermetrics import workerMetrics

    out: List[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _PARENT_ONLY:
            skip = "=" not in arg
            continue
        out.append(arg)
    out += ["--worker", str(index), "--admin", workerAdmin(admin, index)]
    return out + (["--metrics", workerMetrics(admin, index)] if metrics else [])


def subcommandArguments(argv: Sequence[str]) -> List[str]:
    """@return: what follows C{sctp-sip} in twistd's command line."""
    args = list(argv)
    return args[args.index("sctp-sip") + 1:] if "sctp-sip" in args else []


class _Worker(protocol.ProcessProtocol):
    def __init__(self, supervisor: WorkerSupervisor, index: int) -> None:
        self.supervisor = supervisor
        self.index = index
        self.ended: defer.Deferred[None] = defer.Deferred()
        self._buffer = b""

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            _log.info("worker {index}: {line}", index=self.index, line=line.decode("utf-8", "replace").rstrip())

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.supervisor._ended(self, reason.value)
        self.ended.callback(None)


class WorkerSupervisor(service.Service):
    """
    Starts, restarts and stops the worker processes.

    @ivar workers: the running L{_Worker}s by index.
    @ivar restarts: how many times each worker was started again.
    """

    def __init__(self, reactor: Any, count: int, argv: Sequence[str], admin: Optional[str], executable: str = sys.executable, metrics: bool = False) -> None:
        self._reactor = reactor
        self.metrics = metrics
        self.count = count
        self.argv = list(argv)
        self.admin = admin
        self.executable = executable
        self.workers: Dict[int, _Worker] = {}
        self.restarts: Dict[int, int] = {i: 0 for i in range(count)}
        self._stopping = False

    def command(self, index: int) -> List[str]:
        """@return: worker C{index}'s command line."""
        return [self.executable, "-c", _CHILD, "-n", "--pidfile=", "--logfile=-", "sctp-sip"] + workerArguments(self.argv, self.admin, index, self.metrics)

    def startService(self) -> None:
        super().startService()
        self._stopping = False
        for index in range(self.count):
            self._spawn(index)

    def _spawn(self, index: int) -> None:
        if self._stopping:
            return
        worker = _Worker(self, index)
        self.workers[index] = worker
        argv = self.command(index)
        worker.transport = self._reactor.spawnProcess(worker, argv[0], argv, env=dict(os.environ))
        _log.info("worker {index} started (pid {pid})", index=index, pid=worker.transport.pid)

    def _ended(self, worker: _Worker, why: Any) -> None:
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if self._stopping:
            return
        _log.warn("worker {index} exited ({why}); starting it again in {delay} s", index=worker.index, why=why, delay=RESTART_DELAY)
        # A worker killed leaves its admin socket behind: the next one
        # could not listen there.
        try:
            os.remove(workerAdminPath(self.admin, worker.index))
        except OSError:
            pass
        self.restarts[worker.index] += 1
        self._reactor.callLater(RESTART_DELAY, self._spawn, worker.index)

    def stopService(self) -> "defer.Deferred[Any]":
        super().stopService()
        self._stopping = True
        waits = []
        for worker in list(self.workers.values()):
            try:
                worker.transport.signalProcess("TERM")  # type: ignore[union-attr]
            except Exception:
                continue  # already gone
            killer = self._reactor.callLater(STOP_GRACE, self._kill, worker)

            def cancel(_: object, killer: Any = killer) -> None:
                if killer.active():
                    killer.cancel()

            worker.ended.addBoth(cancel)
            waits.append(worker.ended)
        return defer.DeferredList(waits)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        try:
            worker.transport.signalProcess("KILL")  # type: ignore[union-attr]
        except Exception:
            pass


def sumInfo(infos: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """
    @return: the workers' C{sctp.info} objects as one: numbers summed
        (C{uptime}: the longest), C{listen} the first worker's, and
        C{workers}: how many answered.
    """
    out: Dict[str, Any] = {}
    for info in infos:
        for key, value in info.items():
            if key == "uptime":
                out[key] = max(out.get(key, 0), value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and key not in ("listeners", "assoc_tracking"):
                out[key] = out.get(key, 0) + value
            else:
                out.setdefault(key, value)
    out["workers"] = len(infos)
    return out


def sumCounters(dicts: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """
    @return: the workers' counter dictionaries as one: numbers summed
        (nested dictionaries too, key by key), anything else the first's.
    """
    out: Dict[str, Any] = {}
    for one in dicts:
        for key, value in one.items():
            if isinstance(value, dict):
                out[key] = sumCounters([out.get(key, {}), value])
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + value
            else:
                out.setdefault(key, value)
    return out


class WorkersAdmin(amp.AMP):
    """
    The parent's admin endpoint (a unix socket only, no secret): every
    command asks each worker's admin socket: C{Info} and C{Stats} summed
    (L{sumInfo}, L{sumCounters}; the kernel's own counters are the
    machine's, so the first worker's), C{Associations} every worker's, each
    entry with its C{worker}, C{SetOption} applied on every worker (the
    first refusal is the answer), C{Options} the first worker's (the same on
    every worker, since each change goes to all).
    """

    supervisor: WorkerSupervisor

    @Challenge.responder
    def challenge(self) -> Dict[str, object]:
        # A unix socket of mode 600: the file mode is the access control.
        return {"nonce": b"-", "required": False}

    def _each(self, what: str, call: Callable[[Any], Any], strict: bool = False) -> "defer.Deferred[List[Tuple[int, Any]]]":
        """
        @param call: given a connected L{AdminClient}, returns its answer.
        @param strict: raise the first worker's refusal (an L{AdminError})
            rather than leave that worker out; a worker that cannot be
            reached (being restarted) is left out and logged either way.
        @return: (a Deferred of) C{(worker index, answer)} for each worker
            that answered, in index order.
        """
        from twisted_sctp.admin.client import AdminClient

        async def ask(index: int) -> Any:
            client = AdminClient(self.supervisor._reactor, endpoint=workerAdmin(self.supervisor.admin, index))
            await client.connect()
            try:
                return await call(client)
            finally:
                client.close()

        async def gather() -> List[Tuple[int, Any]]:
            answers = []
            for index in sorted(self.supervisor.workers):
                try:
                    answers.append((index, await ask(index)))
                except AdminError:
                    if strict:
                        raise  # (a refused change is refused by every worker alike)
                    continue
                except Exception as e:
                    _log.warn("admin: worker {index} did not answer {what}: {why}", index=index, what=what, why=e)
            return answers

        return defer.ensureDeferred(gather())

    @Info.responder
    def info(self) -> "defer.Deferred[Dict[str, object]]":
        return self._each("info", lambda c: c.info()).addCallback(lambda answers: {"info": sumInfo([a for _, a in answers])})

    @Stats.responder
    def stats(self) -> "defer.Deferred[Dict[str, object]]":
        def combine(answers: List[Tuple[int, Any]]) -> Dict[str, object]:
            return {
                "counters": sumCounters([a["counters"] for _, a in answers]),
                "sip": sumCounters([a["sip"] for _, a in answers]),
                "kernel": answers[0][1]["kernel"] if answers else {},
            }

        return self._each("stats", lambda c: c.stats()).addCallback(combine)

    @Associations.responder
    def associations(self, offset: Optional[int] = None, limit: Optional[int] = None) -> "defer.Deferred[Dict[str, object]]":
        def combine(answers: List[Tuple[int, Any]]) -> Dict[str, object]:
            every = [dict(entry, worker=index) for index, entries in answers for entry in entries]
            start = max(0, offset or 0)
            count = min(max(1, limit or 100), 500)
            return {"associations": every[start:start + count], "total": len(every), "offset": start}

        return self._each("associations", lambda c: c.allAssociations()).addCallback(combine)

    @SetOption.responder
    def setOption(self, name: str, value: str) -> "defer.Deferred[Dict[str, object]]":
        def combine(answers: List[Tuple[int, Any]]) -> Dict[str, object]:
            if not answers:
                raise NoSCTPSocket("no worker answered")
            first = dict(answers[0][1])
            first["listeners"] = sum(a["listeners"] for _, a in answers)
            return first

        return self._each("set", lambda c: c.setOption(name, value), strict=True).addCallback(combine)

    @Options.responder
    def options(self, param: Optional[str] = None) -> "defer.Deferred[Dict[str, object]]":
        def first(answers: List[Tuple[int, Any]]) -> Dict[str, object]:
            if not answers:
                raise NotListening("no worker answered")
            return dict(answers[0][1])

        return self._each("options", lambda c: c.options(param)).addCallback(first)


def workersAdminService(reactor: Any, supervisor: WorkerSupervisor) -> Optional[service.Service]:
    """
    @return: the parent's L{WorkersAdmin} service on C{--admin} (or the
        default socket), or C{None} when C{--admin} is not a unix socket.
    """
    from twisted.application.internet import StreamServerEndpointService
    from twisted.internet import endpoints

    from twisted_sctp.admin.endpoints import DEFAULT_ADMIN_ENDPOINT

    description = supervisor.admin or DEFAULT_ADMIN_ENDPOINT
    if not description.startswith("unix:"):
        _log.warn("--workers: the parent's admin endpoint is served on unix sockets only; use each worker's socket ({path})",
                  path=workerAdmin(supervisor.admin, 0))
        return None
    if ":mode=" not in description:
        description += ":mode=600"

    def build() -> WorkersAdmin:
        protocol = WorkersAdmin()
        protocol.supervisor = supervisor
        return protocol

    return StreamServerEndpointService(endpoints.serverFromString(reactor, description), protocol.Factory.forProtocol(build))
