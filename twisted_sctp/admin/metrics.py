# -*- test-case-name: tests.test_metrics -*-
"""
Prometheus metrics of the SIP server, served over twisted.web in the
Prometheus text format at C{/metrics}::

    from twisted_sctp.admin.metrics import makeMetricsService
    makeMetricsService(reactor, "tcp:9464", sipService).setServiceParent(top)

The figures are read from the live listeners at scrape time (a custom
C{prometheus_client} collector, run in the reactor thread: nothing is copied
or sampled in between).  Every family is typed (counter or gauge), counters
end in C{_total}, units are in the names (C{_seconds}, C{_bytes}), and every
per-listener series has a C{listener} label (C{sctp:127.0.0.1:5060}).

  - Kamailio's counters, per listener: C{sctp_established_total},
    C{sctp_connect_failed_total}, C{sctp_local_reject_total},
    C{sctp_remote_shutdown_total}, C{sctp_assoc_shutdown_total},
    C{sctp_comm_lost_total}, C{sctp_sendq_full_total},
    C{sctp_send_failed_total}, C{sctp_send_force_retry_total}; the gauges
    C{sctp_current_opened_connections} and
    C{sctp_current_tracked_connections} (-1 while tracking is off);
    C{sctp_tracked_connections_created_total} (C{sctp.info}'s
    total_connections).
  - Ours, per listener: C{sctp_messages_in_total}, C{sctp_received_bytes_total}
    and the rest of L{twisted_sctp.transport.stats.SCTPStats};
    C{sctp_dropped_messages_total{reason}}; C{sctp_associations{state}}; the
    configured options split by unit: C{sctp_option_seconds{name}},
    C{sctp_option_bytes{name}} and C{sctp_option{name}} (counts, booleans).
  - SIP, for the whole service (the SIP layer does not count per listener):
    L{SIP_METRICS} as C{sip_<name>_total} (gauges C{sip_bindings},
    C{sip_aors}), C{sip_dropped_messages_total{reason}},
    C{sip_replies_total{code}}.
  - Kernel: C{/proc/net/sctp/snmp} as C{sctp_kernel_<name>_total}
    (C{SctpInSCTPPacks} -> C{sctp_kernel_in_sctp_packs_total}), and the gauge
    C{sctp_kernel_curr_estab}.
  - The process: C{process_cpu_seconds_total},
    C{process_resident_memory_bytes}, C{process_open_fds},
    C{process_start_time_seconds}, ... and C{python_info},
    C{python_gc_*} (C{prometheus_client}'s own collectors).

The full list with HELP texts is docs/metrics.md.  The endpoint binds
loopback unless it names an interface (C{tcp:9464} ->
C{interface=127.0.0.1}); it has no authentication (bind it where only the
scraper can reach it).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from twisted.application.internet import StreamServerEndpointService
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from twisted_sctp.admin import view
from twisted_sctp.admin.endpoints import METRICS, listenEndpoint
from twisted_sctp.transport.options import OPTION_NAMES, OPTIONS
from twisted_sctp.transport.stats import DROP_REASONS, KAMAILIO_COUNTERS

__all__ = ["SCTPCollector", "MetricsResource", "makeMetricsService"]

_GAUGES = ("current_opened_connections", "current_tracked_connections")
_HELP = {
    "established": "Associations that came up (COMM_UP), including ones later rejected.",
    "connect_failed": "Outgoing associations that could not be set up (CANT_STR_ASSOC).",
    "local_reject": "Associations aborted because max_assocs was reached.",
    "remote_shutdown": "Graceful closes started by the peer (SHUTDOWN_EVENT).",
    "assoc_shutdown": "Graceful closes, either side, autoclose included (SHUTDOWN_COMP).",
    "comm_lost": "Associations lost: abort, timeout, or a max_assocs abort (COMM_LOST).",
    "sendq_full": "Sends that found the kernel send buffer full (EAGAIN).",
    "send_failed": "SEND_FAILED notifications from the kernel.",
    "send_force_retry": "Re-sends triggered by send_retries after SEND_FAILED.",
    "current_opened_connections": "Open associations.",
    "current_tracked_connections": "Tracked associations (-1 while assoc_tracking is off).",
}

#: twisted-sctp's own port counters: metric name (before C{_total}) and HELP.
_OURS = {
    "messages_in": ("sctp_messages_in", "SCTP data messages received and handed to a protocol."),
    "messages_out": ("sctp_messages_out", "SCTP data messages given to the kernel."),
    "bytes_in": ("sctp_received_bytes", "Payload bytes of the SCTP messages received."),
    "bytes_out": ("sctp_sent_bytes", "Payload bytes of the SCTP messages given to the kernel."),
    "notifications_in": ("sctp_notifications_in", "SCTP notifications received from the kernel."),
    "partial_reassembled": ("sctp_partial_reassembled", "Messages delivered in pieces and reassembled."),
    "autoclosed": ("sctp_autoclosed", "Associations closed by autoclose after being idle."),
    "restarts": ("sctp_restarts", "Association restarts reported by the kernel (RESTART)."),
    "outgoing_refused": ("sctp_outgoing_refused", "Sends refused because they would open an association over max_assocs."),
    "queued": ("sctp_queued_messages", "Messages that waited in the per-association send queue (kernel buffer full)."),
    "send_errors": ("sctp_send_errors", "Sends the kernel refused with an error other than EAGAIN."),
}

#: The SIP layer's figures: name in C{sipStats()} -> (counter?, HELP).
SIP_METRICS: Dict[str, Tuple[bool, str]] = {
    "requests_in": (True, "Well-formed SIP requests received."),
    "responses_in": (True, "Well-formed SIP responses received."),
    "requests_out": (True, "SIP requests sent (forwarded by the proxy)."),
    "responses_out": (True, "SIP responses sent, ours and forwarded."),
    "parse_errors": (True, "Malformed SIP messages received."),
    "error_replies": (True, "Malformed SIP requests answered (400, 505 or 513)."),
    "keepalive_pings": (True, "RFC 5626 CRLFCRLF keep-alives received."),
    "keepalive_pongs": (True, "RFC 5626 CRLF keep-alive answers sent."),
    "lone_crlf": (True, "Lone CRLF messages received and dropped."),
    "options_answered": (True, "OPTIONS requests for us answered 200."),
    "registrations": (True, "REGISTER requests accepted."),
    "register_errors": (True, "REGISTER requests refused."),
    "requests_forwarded": (True, "Requests forwarded by the stateless proxy."),
    "forward_failed": (True, "Requests that could not be forwarded (answered 503)."),
    "responses_forwarded": (True, "Responses forwarded to the next Via."),
    "responses_absorbed": (True, "Responses whose only Via was ours, absorbed."),
    "responses_not_ours": (True, "Responses whose top Via is not ours, dropped."),
    "responses_unroutable": (True, "Responses with no route to their next Via, dropped."),
    "acks_absorbed": (True, "ACKs to our own final responses, absorbed."),
    "bindings": (False, "Registered contact bindings."),
    "aors": (False, "Addresses of record with at least one binding."),
    "store_unavailable": (True, "REGISTERs and routed requests answered 503 because the registration store was unreachable."),
    "store_available": (False, "Whether the Redis registration store answers (1) or is unreachable (0), with --store redis://."),
    "store_failures": (True, "Registration store commands that failed because Redis was unreachable."),
}

#: The option families by unit: name, HELP, units that go in it, scale.
_OPTION_FAMILIES = (
    ("sctp_option_seconds", "Configured SCTP options that are durations, in seconds (0: the kernel's default; -1 hbinterval: heartbeats off).", {"s": 1.0, "ms": 0.001}),
    ("sctp_option_bytes", "Configured SCTP options that are sizes, in bytes (0: the kernel's default).", {"bytes": 1.0}),
    ("sctp_option", "Configured SCTP options without a unit: counts, packets and booleans (1 on, 0 off).", {"count": 1.0, "packets": 1.0, "bool": 1.0}),
)


def _snake(name: str) -> str:
    name = re.sub(r"^Sctp", "", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return _clean(name.lower())


def _clean(name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    return name if not name[:1].isdigit() else "_" + name


def _optionValue(name: str, value: int, scale: float) -> float:
    if value in OPTIONS[name].special:
        return float(value)
    return value * scale


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
            "sctp_tracked_connections_created", "Tracked associations ever created (sctp.info total_connections).", labels=["listener"]
        )
        for port in ports:
            created.add_metric([view.listenerName(port)], float(port.registry.total))
        yield created
        ours = [n for n, _ in snapshots[0][1].items() if n not in KAMAILIO_COUNTERS and not n.startswith("drop_")] if snapshots else list(_OURS)
        for name in ours:
            metric, text = _OURS.get(name, ("sctp_" + _clean(name), "twisted-sctp port counter {}.".format(name)))
            family = CounterMetricFamily(metric, text, labels=["listener"])
            for listener, snap in snapshots:
                family.add_metric([listener], float(snap[name]))
            yield family
        drops = CounterMetricFamily("sctp_dropped_messages", "SCTP messages dropped, by reason.", labels=["listener", "reason"])
        for listener, snap in snapshots:
            for reason in DROP_REASONS:
                drops.add_metric([listener, reason], float(snap.get("drop_" + reason, 0)))
        yield drops
        yield from self._associations(ports)
        yield from self._options(ports)
        yield from self._sip()
        yield from self._kernel()

    def _associations(self, ports: List[Any]) -> Iterable[Metric]:
        family = GaugeMetricFamily("sctp_associations", "Live associations, by state.", labels=["listener", "state"])
        for port in ports:
            counts = {"connecting": 0, "established": 0, "shutting-down": 0}
            for assoc in port.registry:
                if assoc.state.value in counts:
                    counts[assoc.state.value] += 1
            for state, count in counts.items():
                family.add_metric([view.listenerName(port), state], float(count))
        yield family

    def _options(self, ports: List[Any]) -> Iterable[Metric]:
        values = [(view.listenerName(port), port.getOptions()) for port in ports]
        for metric, text, units in _OPTION_FAMILIES:
            family = GaugeMetricFamily(metric, text, labels=["listener", "name"])
            for listener, options in values:
                for name in OPTION_NAMES:
                    unit = OPTIONS[name].unit
                    if unit in units:
                        family.add_metric([listener, name], _optionValue(name, options[name], units[unit]))
            yield family

    def _sip(self) -> Iterable[Metric]:
        sipStats = getattr(self._sipService, "sipStats", None)
        if sipStats is None:
            return
        stats = {str(k): v for k, v in dict(sipStats()).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        drops = CounterMetricFamily("sip_dropped_messages", "SIP messages dropped, by reason.", labels=["reason"])
        replies = CounterMetricFamily("sip_replies", "Requests we answered with a status other than 200, by status code.", labels=["code"])
        others: Dict[str, float] = {}
        for name, value in sorted(stats.items()):
            bare = name[4:] if name.startswith("sip_") else name
            if bare.startswith("drop_"):
                drops.add_metric([bare[5:]], float(value))
            elif bare.startswith("replies_") and bare[8:].isdigit():
                replies.add_metric([bare[8:]], float(value))
            else:
                others[bare] = float(value)
        for name in list(SIP_METRICS) + sorted(set(others) - set(SIP_METRICS)):
            counter, text = SIP_METRICS.get(name, (True, "SIP counter {}.".format(name)))
            kind = CounterMetricFamily if counter else GaugeMetricFamily
            yield kind("sip_" + _clean(name), text, value=others.get(name, 0.0))
        yield drops
        yield replies

    def _kernel(self) -> Iterable[Metric]:
        try:
            snmp = self._readSNMP()
        except OSError:
            return
        for name, value in sorted(snmp.items()):
            metric = "sctp_kernel_" + _snake(name)
            if name == "SctpCurrEstab":
                yield GaugeMetricFamily(metric, "Associations now in ESTABLISHED, SHUTDOWN-RECEIVED or SHUTDOWN-PENDING (kernel SCTP MIB {}).".format(name), value=float(value))
            else:
                yield CounterMetricFamily(metric, "Kernel SCTP MIB counter {} (/proc/net/sctp/snmp, every socket of the host).".format(name), value=float(value))


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


def makeMetricsResource(
    sipService: Any, readSNMP: Optional[Callable[[], Dict[str, int]]] = None, processCollectors: bool = True
) -> Resource:
    """
    @param processCollectors: also register C{prometheus_client}'s process,
        platform and garbage-collector collectors.
    @return: a resource tree with the metrics at C{/metrics} (and at C{/}).
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SCTPCollector(sipService, readSNMP))
    if processCollectors:
        # process_* (CPU seconds, resident memory, open fds, start time)
        # from /proc/self, python_info and python_gc_*.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
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
    return serveMetrics(reactor, endpoint, makeMetricsResource(sipService))


def serveMetrics(reactor: Any, endpoint: str, resource: Resource) -> StreamServerEndpointService:
    """
    Serve C{resource} (the metrics at C{/metrics} and C{/}) on C{endpoint},
    checked as L{makeMetricsService} checks it.

    @raise twisted.python.usage.UsageError: a bad endpoint string.
    """
    _, listening = listenEndpoint(reactor, endpoint, METRICS)
    service = StreamServerEndpointService(listening, _QuietSite(resource))
    service._raiseSynchronously = True
    return service
