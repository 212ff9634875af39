# -*- test-case-name: tests.test_metrics_conventions -*-
"""
The metrics of L{twisted_sctp.admin.metrics} against the Prometheus
conventions, read back with C{prometheus_client.parser}: every family typed,
counters ending in C{_total}, units in names, real HELP texts, options split
by unit, the process collectors, and docs/metrics.md listing every family.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.metrics_core import Metric

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from tests.test_admin import FakeSIPService, makePort, up
from twisted_sctp.admin.metrics import SIP_METRICS, makeMetricsResource
from twisted_sctp.transport.options import OPTION_NAMES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Families that are not ours (prometheus_client's collectors) and so are
#: not listed one by one in docs/metrics.md.
FOREIGN = re.compile(r"^(process_|python_)")


class ConventionTests(SynchronousTestCase):
    """
    A scrape of a service with two listeners, SIP counters of every kind and
    the kernel's MIB.
    """

    def setUp(self) -> None:
        reactor = MemoryReactorClock()
        self.ports = [makePort(reactor), makePort(reactor, ("127.0.0.2",), 5070, hbinterval=-1, socket_rcvbuf=65536)]
        up(self.ports[0], 11, ("127.0.0.9", 6000))
        sip = FakeSIPService(self.ports)
        sip.sip = {"requests_in": 5, "responses_out": 4, "drop_no_via": 2, "replies_404": 3, "bindings": 6, "aors": 2, "brand_new": 1}
        resource = makeMetricsResource(sip, lambda: {"SctpCurrEstab": 1, "SctpOutSCTPPacks": 9})
        request = DummyRequest([b"metrics"])
        self.text = resource.getChildWithDefault(b"metrics", request).render(request).decode("utf-8")
        self.families: Dict[str, Metric] = {f.name: f for f in text_string_to_metric_families(self.text)}

    def sample(self, _family: str, _sample: str, **labels: str) -> float:
        for s in self.families[_family].samples:
            if s.name == _sample and s.labels == labels:
                return float(s.value)
        raise AssertionError("no sample {}{} in {}".format(_sample, labels, _family))

    def test_everyFamilyTyped(self) -> None:
        """
        No family is untyped: every one has a C{# TYPE} line of counter,
        gauge (or, for the collectors, info), and a C{# HELP} line.
        """
        self.assertTrue(self.families)
        for name, family in self.families.items():
            self.assertIn(family.type, ("counter", "gauge", "info"), name)
            exposed = name + "_total" if family.type == "counter" else name
            self.assertIn("# TYPE {} {}\n".format(exposed, family.type), self.text)

    def test_countersEndInTotal(self) -> None:
        """
        Every counter's samples end in C{_total} (C{_created} aside), every
        gauge's do not.
        """
        for name, family in self.families.items():
            for sample in family.samples:
                if family.type == "counter":
                    self.assertTrue(sample.name.endswith(("_total", "_created")), sample.name)
                elif family.type == "gauge":
                    self.assertFalse(sample.name.endswith("_total"), sample.name)

    def test_realHelp(self) -> None:
        """
        Every HELP text is a sentence (capitalised, a full stop), not a
        placeholder naming the metric.
        """
        for name, family in self.families.items():
            if FOREIGN.match(name):
                continue
            self.assertRegex(family.documentation, r"^[A-Z].*\.$", name)
            self.assertNotIn("twisted-sctp counter", family.documentation, name)

    def test_sipFamilies(self) -> None:
        """
        Every known SIP figure is a family even at 0; counters get C{_total},
        drops and non-200 replies are labelled families, an unknown name
        still comes out typed.
        """
        for name, (counter, _) in SIP_METRICS.items():
            self.assertEqual(self.families["sip_" + name].type, "counter" if counter else "gauge", name)
        self.assertEqual(self.sample("sip_requests_in", "sip_requests_in_total"), 5)
        self.assertEqual(self.sample("sip_registrations", "sip_registrations_total"), 0)
        self.assertEqual(self.sample("sip_bindings", "sip_bindings"), 6)
        self.assertEqual(self.sample("sip_dropped_messages", "sip_dropped_messages_total", reason="no_via"), 2)
        self.assertEqual(self.sample("sip_replies", "sip_replies_total", code="404"), 3)
        self.assertEqual(self.sample("sip_brand_new", "sip_brand_new_total"), 1)
        self.assertNotIn("sip_drop_no_via", self.families)

    def test_optionsSplitByUnit(self) -> None:
        """
        Each option is in exactly one family per listener: durations in
        seconds (ms converted), sizes in bytes, the rest unitless; special
        values stay as they are.
        """
        first, second = "sctp:127.0.0.1:5060", "sctp:127.0.0.2:5070"
        seen: List[str] = []
        for family in ("sctp_option_seconds", "sctp_option_bytes", "sctp_option"):
            self.assertEqual(self.families[family].type, "gauge")
            seen += [s.labels["name"] for s in self.families[family].samples if s.labels["listener"] == first]
        self.assertEqual(sorted(seen), sorted(OPTION_NAMES))
        self.assertEqual(self.sample("sctp_option_seconds", "sctp_option_seconds", listener=first, name="autoclose"), 180)
        self.assertEqual(self.sample("sctp_option_seconds", "sctp_option_seconds", listener=first, name="send_ttl"), 32.0)
        self.assertEqual(self.sample("sctp_option_seconds", "sctp_option_seconds", listener=second, name="hbinterval"), -1)
        self.assertEqual(self.sample("sctp_option_bytes", "sctp_option_bytes", listener=second, name="socket_rcvbuf"), 65536)
        self.assertEqual(self.sample("sctp_option", "sctp_option", listener=first, name="max_assocs"), -1)

    def test_processMetrics(self) -> None:
        """
        The process collector's figures by Prometheus' names, with
        plausible values for this process.
        """
        self.assertGreater(self.sample("process_cpu_seconds", "process_cpu_seconds_total"), 0)
        self.assertGreater(self.sample("process_resident_memory_bytes", "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(self.sample("process_open_fds", "process_open_fds"), 2)
        self.assertGreater(self.sample("process_start_time_seconds", "process_start_time_seconds"), 1.6e9)
        self.assertIn("python_info", self.families)

    def test_unitsInNames(self) -> None:
        """
        Byte counts say so: C{sctp_received_bytes_total}, C{sctp_sent_bytes_total}.
        """
        self.assertEqual(self.sample("sctp_received_bytes", "sctp_received_bytes_total", listener="sctp:127.0.0.1:5060"), 0)
        self.assertIn("sctp_sent_bytes", self.families)
        self.assertNotIn("sctp_bytes_in", self.families)

    def test_documented(self) -> None:
        """
        docs/metrics.md names every family of ours (by its exposed name).
        """
        with open(os.path.join(ROOT, "docs", "metrics.md"), encoding="utf-8") as f:
            doc = f.read()
        missing = []
        for name, family in self.families.items():
            if FOREIGN.match(name) or name in ("sip_brand_new",):
                continue
            shown = name + "_total" if family.type == "counter" else name
            if name.startswith("sctp_kernel_"):
                shown = "sctp_kernel_"
            if "`{}".format(shown) not in doc:
                missing.append(shown)
        self.assertEqual(missing, [])
