# -*- test-case-name: tests.test_workers -*-
"""
The metrics of a server run as C{--workers N}: each worker serves its own
on a unix socket next to its admin socket (L{workerMetrics}); the parent
serves C{--metrics} by asking every worker and merging (L{mergeMetrics}):
the server's counters and gauges summed over the workers (one series per
label set, as one process would report them), the option gauges (the same
on every worker) and the kernel's SNMP counters (the machine's, read alike
by every worker) taken from the first worker, and the per-process families
(C{process_*}, C{python_*}) kept for each worker with a C{worker} label.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer, endpoints
from twisted.logger import Logger
from twisted.web.client import Agent, readBody
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

__all__ = ["WorkersMetricsResource", "mergeMetrics", "workerMetrics", "workerMetricsPath", "workersMetricsResource"]

_log = Logger()

#: Families the same on every worker (taken from the first).
_SAME = ("sctp_option_", "sctp_kernel_")
#: Families of each process (kept per worker, with a C{worker} label).
_PER_PROCESS = ("process_", "python_")


def workerMetricsPath(admin: Optional[str], index: int) -> str:
    """@return: the path of worker C{index}'s metrics unix socket (next to its admin socket)."""
    from twisted_sctp.workers import workerAdminPath

    return workerAdminPath(admin, index) + ".metrics"


def workerMetrics(admin: Optional[str], index: int) -> str:
    """@return: the C{--metrics} endpoint of worker C{index} (mode 600: only the parent reads it)."""
    return "unix:{}:mode=600".format(workerMetricsPath(admin, index))


def mergeMetrics(texts: Sequence[Tuple[int, str]]) -> List[Metric]:
    """
    @param texts: C{(worker index, its exposition text)}.
    @return: the merged families (see the module docstring), in the first
        worker's order.
    """
    merged: Dict[str, Metric] = {}
    values: Dict[str, Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]] = {}
    for index, text in texts:
        for family in text_string_to_metric_families(text):
            name = family.name
            perProcess = name.startswith(_PER_PROCESS)
            same = name.startswith(_SAME)
            if name not in merged:
                merged[name] = Metric(name, family.documentation, family.type, family.unit)
                values[name] = {}
            elif same:
                continue
            series = values[name]
            for sample in family.samples:
                labels = dict(sample.labels)
                if perProcess:
                    labels["worker"] = str(index)
                key = (sample.name, tuple(sorted(labels.items())))
                if key in series and sample.name.endswith("_created"):
                    continue  # a creation time: the first worker's
                series[key] = series.get(key, 0.0) + sample.value
    out = []
    for name, metric in merged.items():
        for (sampleName, pairs), value in values[name].items():
            metric.add_sample(sampleName, dict(pairs), value)
        out.append(metric)
    return out


class _Merged:
    """A collector of already merged families (for C{generate_latest})."""

    def __init__(self, families: List[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def workersMetricsResource(reactor: Any, supervisor: Any) -> Resource:
    """@return: a tree with L{WorkersMetricsResource} at C{/metrics} and C{/}."""
    metrics = WorkersMetricsResource(reactor, supervisor)
    root = Resource()
    root.putChild(b"metrics", metrics)
    root.putChild(b"", metrics)
    return root


class WorkersMetricsResource(Resource):
    """
    The parent's C{/metrics}: every worker's, merged (L{mergeMetrics}).
    A worker that does not answer (being restarted) is left out, and
    C{sctp_workers_answering} says how many did.
    """

    isLeaf = True

    def __init__(self, reactor: Any, supervisor: Any) -> None:
        super().__init__()
        self._reactor = reactor
        self._supervisor = supervisor

    def _fetch(self, index: int) -> "defer.Deferred[str]":
        path = workerMetricsPath(self._supervisor.admin, index)
        agent = Agent.usingEndpointFactory(self._reactor, _UNIXFactory(self._reactor, path))
        d: "defer.Deferred[Any]" = agent.request(b"GET", b"http://worker/metrics")
        d.addCallback(readBody)
        d.addCallback(lambda body: body.decode("utf-8", "replace"))
        return d

    async def _gather(self) -> bytes:
        texts: List[Tuple[int, str]] = []
        for index in sorted(self._supervisor.workers):
            try:
                texts.append((index, await self._fetch(index)))
            except Exception as e:
                _log.warn("metrics: worker {index} did not answer: {why}", index=index, why=e)
        families = mergeMetrics(texts)
        answering = Metric("sctp_workers_answering", "Workers whose metrics are in this answer.", "gauge")
        answering.add_sample("sctp_workers_answering", {}, float(len(texts)))
        return bytes(generate_latest(_Merged(families + [answering])))

    def render_GET(self, request: Request) -> Any:
        def done(body: bytes) -> None:
            request.setHeader(b"Content-Type", b"text/plain; version=0.0.4; charset=utf-8")
            request.write(body)
            request.finish()

        def failed(reason: Any) -> None:
            _log.failure("metrics: merging the workers' metrics failed", reason)
            request.setResponseCode(500)
            request.finish()

        defer.ensureDeferred(self._gather()).addCallbacks(done, failed)
        return NOT_DONE_YET


class _UNIXFactory:
    """An endpoint factory for L{Agent}: every request to one unix socket."""

    def __init__(self, reactor: Any, path: str) -> None:
        self._reactor = reactor
        self._path = path

    def endpointForURI(self, uri: Any) -> Any:
        return endpoints.UNIXClientEndpoint(self._reactor, self._path, timeout=5)
