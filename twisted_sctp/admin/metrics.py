# -*- test-case-name: tests.test_metrics -*-
"""
Prometheus metrics of the SIP server, served over twisted.web in the
Prometheus text format at C{/metrics}.

    from twisted_sctp.admin.metrics import makeMetricsService
    makeMetricsService(reactor, "tcp:9464", sipService).setServiceParent(top)

The counters are read from the live listeners at scrape time (a custom
C{prometheus_client} collector, run in the reactor thread: nothing is copied
or sampled in between).  Every per-listener series has a C{listener} label
(C{sctp:127.0.0.1:5060}).

  - Kamailio's counters: C{sctp_established_total}, C{sctp_connect_failed_total},
    C{sctp_local_reject_total}, C{sctp_remote_shutdown_total},
    C{sctp_assoc_shutdown_total}, C{sctp_comm_lost_total},
    C{sctp_sendq_full_total}, C{sctp_send_failed_total},
    C{sctp_send_force_retry_total}; gauges
    C{sctp_current_opened_connections} and C{sctp_current_tracked_connections}
    (-1 while tracking is off); C{sctp_tracked_connections_created_total}
    (C{sctp.info}'s total_connections).
  - Ours: C{sctp_messages_in_total} and the other counters of
    L{twisted_sctp.transport.stats.SCTPStats} as C{sctp_<name>_total};
    C{sctp_dropped_messages_total{reason}}; C{sctp_associations{state}};
    C{sctp_option{name}} (the configured 19 options).
  - SIP: C{sip_<name>} for each of C{sipService.sipStats()} (untyped: the SIP
    layer says which are counters).
  - Kernel: C{/proc/net/sctp/snmp} as C{sctp_kernel_<name>_total}
    (C{SctpInSCTPPacks} -> C{sctp_kernel_in_sctp_packs_total}), and the gauge
    C{sctp_kernel_curr_estab}.

The endpoint binds loopback unless it names an interface (C{tcp:9464} ->
C{interface=127.0.0.1}); it has no authentication (bind it where only the
scraper can reach it).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, UnknownMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from twisted.application.internet import StreamServerEndpointService
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from twisted_sctp.admin import view
from twisted_sctp.admin.endpoints import METRICS, listenEndpoint
from twisted_sctp.transport.options import OPTION_NAMES
from twisted_sctp.transport.stats import DROP_REASONS, KAMAILIO_COUNTERS

__all__ = ["SCTPCollector", "MetricsResource", "makeMetricsService"]

_GAUGES = ("current_opened_connections", "current_tracked_connections")
_HELP = {
    "established": "associations that came up (COMM_UP), including ones later rejected",
    "connect_failed": "outgoing associations that could not be set up (CANT_STR_ASSOC)",
    "local_reject": "associations aborted because of max_assocs",
    "remote_shutdown": "graceful closes started by the peer (SHUTDOWN_EVENT)",
    "assoc_shutdown": "graceful closes, either side, autoclose included (SHUTDOWN_COMP)",
    "comm_lost": "associations lost: abort, timeout, or a max_assocs abort (COMM_LOST)",
    "sendq_full": "sends that found the kernel send buffer full (EAGAIN)",
    "send_failed": "SEND_FAILED notifications",
    "send_force_retry": "re-sends triggered by send_retries",
    "current_opened_connections": "open associations",
    "current_tracked_connections": "tracked associations (-1 while assoc_tracking is off)",
}


def _snake(name: str) -> str:
    name = re.sub(r"^Sctp", "", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return _clean(name.lower())


def _clean(name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    return name if not name[:1].isdigit() else "_" + name


class SCTPCollector:
    """
    A C{prometheus_client} collector reading the SIP service's listeners,
    its SIP counters and the kernel's SCTP MIB at each scrape.
    """

    def __init__(self, sipService: Any, readSNMP: Optional[Callable[[], Dict[str, int]]] = None) -> None:
        self._sipService = sipService
        if readSNMP is None:
            from twisted_sctp.kernel.sctpsocket import readSNMP as _read

            readSNMP = _read
        self._readSNMP = readSNMP

    def _ports(self) -> List[Any]:
        return list(getattr(self._sipService, "ports", None) or [])

    def collect(self) -> Iterator[Metric]:
        ports = self._ports()
        snapshots = [(view.listenerName(p), p.snapshot()) for p in ports]
        for name in KAMAILIO_COUNTERS:
            family: Any
            if name in _GAUGES:
                family = GaugeMetricFamily("sctp_" + name, _HELP[name], labels=["listener"])
            else:
                family = CounterMetricFamily("sctp_" + name, _HELP[name], labels=["listener"])
            for listener, snap in snapshots:
                family.add_metric([listener], float(snap[name]))
            yield family
        created = CounterMetricFamily(
            "sctp_tracked_connections_created", "tracked associations ever created (sctp.info total_connections)", labels=["listener"]
        )
        for port in ports:
            created.add_metric([view.listenerName(port)], float(port.registry.total))
        yield created
        ours = [n for n, _ in snapshots[0][1].items() if n not in KAMAILIO_COUNTERS and not n.startswith("drop_")] if snapshots else []
        for name in ours:
            family = CounterMetricFamily("sctp_" + _clean(name), "twisted-sctp counter " + name, labels=["listener"])
            for listener, snap in snapshots:
                family.add_metric([listener], float(snap[name]))
            yield family
        drops = CounterMetricFamily("sctp_dropped_messages", "messages dropped, by reason", labels=["listener", "reason"])
        for listener, snap in snapshots:
            for reason in DROP_REASONS:
                drops.add_metric([listener, reason], float(snap.get("drop_" + reason, 0)))
        yield drops
        yield from self._associations(ports)
        yield from self._options(ports)
        yield from self._sip()
        yield from self._kernel()

    def _associations(self, ports: List[Any]) -> Iterable[Metric]:
        family = GaugeMetricFamily("sctp_associations", "live associations, by state", labels=["listener", "state"])
        for port in ports:
            counts = {"connecting": 0, "established": 0, "shutting-down": 0}
            for assoc in port.registry:
                if assoc.state.value in counts:
                    counts[assoc.state.value] += 1
            for state, count in counts.items():
                family.add_metric([view.listenerName(port), state], float(count))
        yield family

    def _options(self, ports: List[Any]) -> Iterable[Metric]:
        family = GaugeMetricFamily("sctp_option", "the configured value of each of the 19 options", labels=["listener", "name"])
        for port in ports:
            values = port.getOptions()
            for name in OPTION_NAMES:
                family.add_metric([view.listenerName(port), name], float(values[name]))
        yield family

    def _sip(self) -> Iterable[Metric]:
        sipStats = getattr(self._sipService, "sipStats", None)
        if sipStats is None:
            return
        for name, value in sorted(dict(sipStats()).items()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metric = _clean(name if str(name).startswith("sip_") else "sip_" + str(name))
                yield UnknownMetricFamily(metric, "SIP counter " + str(name), value=float(value))

    def _kernel(self) -> Iterable[Metric]:
        try:
            snmp = self._readSNMP()
        except OSError:
            return
        for name, value in sorted(snmp.items()):
            metric = "sctp_kernel_" + _snake(name)
            if name == "SctpCurrEstab":
                yield GaugeMetricFamily(metric, "kernel SCTP MIB " + name, value=float(value))
            else:
                yield CounterMetricFamily(metric, "kernel SCTP MIB " + name, value=float(value))


class MetricsResource(Resource):
    """
    Renders a registry in the Prometheus text format, in the reactor thread.
    """

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self._registry = registry

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode("ascii"))
        return generate_latest(self._registry)


class _QuietSite(Site):
    """
    A Site that does not log every scrape.
    """

    noisy = False

    def log(self, request: Any) -> None:
        pass


def makeMetricsResource(sipService: Any, readSNMP: Optional[Callable[[], Dict[str, int]]] = None) -> Resource:
    """
    @return: a resource tree with the metrics at C{/metrics} (and at C{/}).
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SCTPCollector(sipService, readSNMP))
    metrics = MetricsResource(registry)
    root = Resource()
    root.putChild(b"metrics", metrics)
    root.putChild(b"", metrics)
    return root


def makeMetricsService(reactor: Any, endpoint: str, sipService: Any) -> StreamServerEndpointService:
    """
    Serve the metrics of C{sipService} on C{endpoint} (a Twisted server
    endpoint string; C{tcp:PORT} binds 127.0.0.1 unless it names an
    interface; the rules: L{twisted_sctp.admin.endpoints.METRICS}).

    @raise twisted.python.usage.UsageError: a bad endpoint string.
    """
    _, listening = listenEndpoint(reactor, endpoint, METRICS)
    service = StreamServerEndpointService(listening, _QuietSite(makeMetricsResource(sipService)))
    service._raiseSynchronously = True
    return service
