# -*- test-case-name: tests.test_metrics -*-
"""
Tests for L{twisted_sctp.admin.metrics}: the Prometheus text format, read live at
scrape time, and the service's endpoint defaults.
"""

from __future__ import annotations

from typing import Any, Dict

from prometheus_client.parser import text_string_to_metric_families

from twisted.internet import defer, reactor as globalReactor
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, readBody
from twisted.web.test.requesthelper import DummyRequest

from tests.test_admin import FakeSIPService, makePort, up
from twisted_sctp.admin.metrics import makeMetricsResource, makeMetricsService
from twisted_sctp.transport.stats import KAMAILIO_COUNTERS


def samples(text: str) -> Dict[Any, float]:
    """
    @return: (sample name, sorted label items) -> value for every sample.
    """
    out: Dict[Any, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


class MetricsTests(SynchronousTestCase):
    """
    The collector over two fake listeners.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.ports = [makePort(self.reactor), makePort(self.reactor, ("127.0.0.2",), 5070)]
        self.sip = FakeSIPService(self.ports)
        self.snmp = {"SctpCurrEstab": 2, "SctpInSCTPPacks": 40, "SctpActiveEstabs": 3}
        self.resource = makeMetricsResource(self.sip, lambda: dict(self.snmp))

    def scrape(self) -> str:
        request = DummyRequest([b"metrics"])
        child = self.resource.getChildWithDefault(b"metrics", request)
        body = child.render(request)
        [contentType] = request.responseHeaders.getRawHeaders(b"content-type") or [b""]
        self.assertTrue(contentType.startswith(b"text/plain"), contentType)
        return str(body.decode("utf-8"))

    def test_textFormat(self) -> None:
        """
        The scrape is valid Prometheus text with Kamailio's counters per
        listener, ours, drops by reason, associations by state, the options,
        the SIP counters and the kernel's MIB.
        """
        up(self.ports[0], 11, ("127.0.0.9", 6000))
        up(self.ports[1], 21, ("127.0.0.8", 7000))
        self.ports[0]._kernel.socket.feedData(b"hello", 11, ("127.0.0.9", 6000))
        self.ports[0].doRead()
        values = samples(self.scrape())
        first = (("listener", "sctp:127.0.0.1:5060"),)
        second = (("listener", "sctp:127.0.0.2:5070"),)
        for name in KAMAILIO_COUNTERS:
            metric = "sctp_" + name + ("" if name.startswith("current_") else "_total")
            self.assertIn((metric, first), values)
        self.assertEqual(values[("sctp_established_total", first)], 1)
        self.assertEqual(values[("sctp_current_opened_connections", second)], 1)
        self.assertEqual(values[("sctp_tracked_connections_created_total", first)], 1)
        self.assertEqual(values[("sctp_messages_in_total", first)], 1)
        self.assertEqual(values[("sctp_received_bytes_total", first)], 5)
        self.assertEqual(values[("sctp_dropped_messages_total", (("listener", "sctp:127.0.0.1:5060"), ("reason", "oversize")))], 0)
        self.assertEqual(values[("sctp_associations", (("listener", "sctp:127.0.0.1:5060"), ("state", "established")))], 1)
        self.assertEqual(values[("sctp_option_seconds", (("listener", "sctp:127.0.0.1:5060"), ("name", "autoclose")))], 180)
        self.assertEqual(values[("sip_requests_in_total", ())], 7)
        self.assertEqual(values[("sctp_kernel_curr_estab", ())], 2)
        self.assertEqual(values[("sctp_kernel_in_sctp_packs_total", ())], 40)
        self.assertEqual(values[("sctp_kernel_active_estabs_total", ())], 3)

    def test_live(self) -> None:
        """
        Each scrape reads the counters as they are then.
        """
        before = samples(self.scrape())
        self.assertEqual(before[("sctp_established_total", (("listener", "sctp:127.0.0.1:5060"),))], 0)
        up(self.ports[0], 11, ("127.0.0.9", 6000))
        self.sip.sip["requests_in"] = 8
        after = samples(self.scrape())
        self.assertEqual(after[("sctp_established_total", (("listener", "sctp:127.0.0.1:5060"),))], 1)
        self.assertEqual(after[("sip_requests_in_total", ())], 8)

    def test_noListeners(self) -> None:
        """
        Before the SIP service has listeners, the scrape still works.
        """
        self.sip.ports = []
        values = samples(self.scrape())
        self.assertEqual(values[("sip_requests_in_total", ())], 7)

    def test_endpointDefaults(self) -> None:
        """
        tcp:PORT binds loopback unless it names an interface; a bad string is
        a usage error.
        """
        service = makeMetricsService(MemoryReactorClock(), "tcp:9464", self.sip)
        self.assertEqual(service.endpoint._interface, "127.0.0.1")
        service = makeMetricsService(MemoryReactorClock(), "tcp:9464:interface=0.0.0.0", self.sip)
        self.assertEqual(service.endpoint._interface, "0.0.0.0")
        for text in ("nonsense", "tcp:x", ""):
            self.assertRaises(usage.UsageError, makeMetricsService, MemoryReactorClock(), text, self.sip)


class LiveMetricsTests(TestCase):
    """
    The service over real HTTP.
    """

    @defer.inlineCallbacks
    def test_scrape(self) -> Any:
        """
        GET /metrics on the service's port answers 200 with the text format.
        """
        clock = MemoryReactorClock()
        sip = FakeSIPService([makePort(clock)])
        service = makeMetricsService(globalReactor, "tcp:0", sip)
        service.startService()
        self.addCleanup(service.stopService)
        port = service._waitingForPort.result.getHost().port  # type: ignore[union-attr]
        response = yield Agent(globalReactor).request(b"GET", "http://127.0.0.1:{}/metrics".format(port).encode())
        self.assertEqual(response.code, 200)
        body = yield readBody(response)
        self.assertIn(b"sctp_established_total{listener=\"sctp:127.0.0.1:5060\"} 0.0", body)
