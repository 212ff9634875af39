# -*- test-case-name: tests.test_siplean -*-
"""
Tests for L{twisted_sctp.sip.lean}, the lean path of an OPTIONS to the
server itself: differentially against the full path (two L{SIPService}s on
fake kernels, one with the lean path and one without, fed the same
messages: the same bytes sent, the same counters), and directly (what it
takes, what it leaves to the full path).

Each of these runs twice: against the pure-Python module and against the
compiled accelerator (C{twisted_sctp.sip._lean_c}, built by setup.py; the
C{Compiled*} classes).  Where the compiled module is missing or stale those
are skipped, with the reason, but in CI (C{CI} set: C{.ci/run} installs a C
compiler) they fail.  L{CompiledSameAsPureTests} compares the two scanners
and reply builders directly.  L{twisted_sctp.sip.leanimpl} picks one.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from types import ModuleType
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twisted.cred import strcred
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from twisted_sctp.sip import lean as pureLean
from twisted_sctp.sip import leanimpl
from twisted_sctp.sip import server as sipServer
from twisted_sctp.sip.base import SIPSettings
from twisted_sctp.sip.policy import SecuritySettings
from twisted_sctp.sip.server import ServerSettings
from twisted_sctp.tap import SIPService
from twisted_sctp.testing import FakeKernel, commUp

UAC = ("127.0.0.2", 5070)

#: The compiled module (C{None}: not built, or built from another lean.py) and why.
COMPILED, COMPILED_WHY = leanimpl.compiledModule()


class ImplementationMixin:
    """
    Runs a test case's tests against C{lean}: the module that
    L{twisted_sctp.sip.server} uses for the lean path while they run.
    """

    lean: Optional[ModuleType] = pureLean

    def setUp(self) -> None:
        if self.lean is None:
            self.fail("CI is set and the compiled lean path is not usable: the compiled module is {}".format(COMPILED_WHY))  # type: ignore[attr-defined]
        self.patch(sipServer, "scanOwnOptions", self.lean.scanOwnOptions)  # type: ignore[attr-defined, union-attr]
        self.patch(sipServer, "OptionsReply", self.lean.OptionsReply)  # type: ignore[attr-defined, union-attr]


class CompiledMixin:
    """
    The compiled module instead of the pure one: skipped where it is not
    built (or stale), except in CI, where that fails.
    """

    lean = COMPILED
    skip = None if COMPILED is not None or os.environ.get("CI") else "the compiled lean path is not usable (outside CI): the compiled module is {}".format(COMPILED_WHY)

#: What SIPp sends with bench/options.xml.
SIPP = (
    "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK-1234-1-0\r\n"
    "From: <sip:sipp@127.0.0.2:5070>;tag=1234SIPpTag001\r\n"
    "To: <sip:127.0.0.1:5060>\r\n"
    "Call-ID: 1-1234@127.0.0.2\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Contact: <sip:sipp@127.0.0.2:5070;transport=SCTP>\r\n"
    "Max-Forwards: 70\r\n"
    "Accept: application/sdp\r\n"
    "User-Agent: SIPp bench\r\n"
    "Content-Length: 0\r\n\r\n"
).encode()


class _Pair:
    """
    Two services alike but for the lean path, on fake kernels, each with
    one association from L{UAC} up.
    """

    def __init__(self, case: SynchronousTestCase, security: Optional[SecuritySettings] = None, checkers: Sequence[Any] = ()) -> None:
        self.services = []
        self.answeredLean = 0
        for lean in (True, False):
            reactor = MemoryReactorClock()
            reactor.advance(1000)
            kernel = FakeKernel()
            service = SIPService(
                reactor, [(["127.0.0.1", "127.0.0.4"], 5060)], kernel=kernel, sipSettings=SIPSettings(udp=False, leanPath=lean),
                serverSettings=ServerSettings(domains=("example.com",)), security=security, checkers=checkers,
            )
            service.startService()
            case.addCleanup(service.stopService)
            # So that a request both forward goes out alike: association
            # ids from a count of each service's own (one process-wide
            # count otherwise), so the same flow token (;i=)...
            service.ports[0].registry._ids = itertools.count(1)
            kernel.peers[7] = [UAC]
            kernel.socket.feedNotification(commUp(7), UAC)
            service.ports[0].doRead()
            self.services.append((service, kernel))
        # and one Via seal (a random key each otherwise): the same tsig.
        self.services[1][0].server.viaSeal = self.services[0][0].server.viaSeal
        lean = self.services[0][0]
        self.assertLean = lean.transport.lean is not None and self.services[1][0].transport.lean is None
        original = lean.server.leanReceived

        def counted(data: bytes, origin: Any) -> bool:
            answered = original(data, origin)
            self.answeredLean += answered
            return answered

        lean.transport.lean = counted

    def feed(self, data: bytes) -> List[Tuple[List[Any], Dict[str, int], Dict[str, int]]]:
        """
        @return: for each service, what it sent and its SIP and server counters.
        """
        out = []
        for service, kernel in self.services:
            kernel.socket.feedData(data, 7, UAC)
            service.ports[0].doRead()
            sent = list(kernel.socket.sent)
            del kernel.socket.sent[:]
            out.append((sent, service.transport.stats.asDict(), service.server.asDict()))
        return out


# -- the messages hypothesis makes -------------------------------------------

_URIS = st.sampled_from([
    "sip:127.0.0.1:5060", "sip:127.0.0.1", "sip:127.0.0.4:5060", "sip:127.0.0.1:5061", "sip:bob@127.0.0.1",
    "sips:127.0.0.1;transport=sctp", "sip:example.com", "sip:EXAMPLE.com:5060", "sip:10.9.9.9:5060", "tel:+123",
    "sip:[::1]:5060", "sip:127.0.0.1:5060;lr", "sip:127.0.0.1?x=y", "sip:", "sip:127.0.0.1:99999",
])
_START = st.sampled_from(["OPTIONS {} SIP/2.0", "OPTIONS {} SIP/2.0", "options {} SIP/2.0", "OPTIONS  {} SIP/2.0", "OPTIONS {} sip/2.0", "INFO {} SIP/2.0"])
_VIAS = st.sampled_from([
    "SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK{n}", "SIP/2.0/SCTP 127.0.0.2;branch=z9hG4bK{n}",
    "SIP/2.0/SCTP 10.0.0.1:5070;branch=z9hG4bK{n}", "SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK{n};rport",
    "SIP/2.0/SCTP 127.0.0.2:5070;rport=1;received=1.2.3.4;branch=z9hG4bK{n}", "SIP/2.0/SCTP 127.0.0.2:5070;received=127.0.0.2;branch=z9hG4bK{n}",
    "SIP/2.0/SCTP [::1]:5070;branch=z9hG4bK{n}", "SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK{n}",
    "SIP/2.0/SCTP 127.0.0.2:5070;branch=z9hG4bK{n}, SIP/2.0/SCTP 10.1.1.1;branch=z9hG4bKx", "SIP/2.0/SCTP", "SIP/2.0/SCTP 127.0.0.2:5070;branch=\"a,b\"",
])
_FROMS = st.sampled_from(["<sip:a@127.0.0.2>;tag=f{n}", "\"A b\" <sip:a@127.0.0.2>;tag=1", "sip:a@127.0.0.2;tag=1", "<sip:a@127.0.0.2", "<sip:a@127.0.0.2>"])
_TOS = st.sampled_from(["<sip:127.0.0.1:5060>", "<sip:127.0.0.1>;tag=abc", "sip:x@127.0.0.1", "<<", "\"T\" <sip:x@example.com>"])
_CALLIDS = st.sampled_from(["c{n}@127.0.0.2", "", "a b", "x"])
_CSEQS = st.sampled_from(["1 OPTIONS", "2 INFO", "x OPTIONS", "99999999999 OPTIONS", "7  OPTIONS", "1 options"])
_OPTIONAL = st.lists(st.sampled_from([
    ("Max-Forwards", "70"), ("Max-Forwards", "0"), ("Max-Forwards", "abc"), ("Max-Forwards", "1234567890"),
    ("Content-Length", "0"), ("Content-Length", "5"), ("Content-Length", "x"), ("l", "0"),
    ("Contact", "<sip:a@127.0.0.2>"), ("Contact", "*"), ("Contact", "<sip:a@h>, <sip:b@h>"), ("Contact", "<sip:"), ("m", "<sip:a@h>"),
    ("Route", "<sip:127.0.0.1;lr>"), ("Route", "<sip:10.9.9.9;lr>"), ("Record-Route", "<sip:10.9.9.9;lr>"), ("Expires", "60"), ("Expires", "x"),
    ("Accept", "application/sdp"), ("User-Agent", "x y"), ("Subject", "a:  b"), ("X-Empty", ""), ("Bad Name", "v"), ("X-Utf8", "caf\u00e9"),
    ("Via", "SIP/2.0/SCTP 10.2.2.2;branch=z9hG4bKz"), ("Call-ID", "again"), ("Supported", "path"),
]), max_size=5)
_NAMES = {"Via": ["Via", "v", "VIA"], "From": ["From", "f", "from"], "To": ["To", "t"], "Call-ID": ["Call-ID", "i", "call-id"], "CSeq": ["CSeq", "CSEQ"]}
_SEPARATORS = st.sampled_from([": ", ": ", ": ", ":", " : ", ":  ", ":\t"])
_ENDINGS = st.sampled_from(["", "", "", " ", "\t"])


_GOOD_URIS = st.sampled_from(["sip:127.0.0.1:5060", "sip:127.0.0.1", "sip:127.0.0.4:5060", "sip:example.com", "sip:127.0.0.1:5060;transport=sctp"])
_GOOD_OPTIONAL = st.lists(st.sampled_from([
    ("Max-Forwards", "70"), ("Max-Forwards", "0"), ("Content-Length", "0"), ("Contact", "<sip:a@127.0.0.2>"), ("m", "<sip:a@h>"),
    ("Accept", "application/sdp"), ("User-Agent", "x y"), ("X-Empty", ""), ("X-Utf8", "caf\u00e9"),
]), max_size=4, unique=True)


@st.composite
def optionsMessages(draw: Any) -> bytes:
    """
    OPTIONS messages: half of them of the lean path's shape (which the lean
    path may still refuse: a foreign To, a second Via...), half anything.
    """
    n = draw(st.integers(0, 99))
    clean = draw(st.booleans())

    def pick(good: Any, anything: Any) -> Any:
        return draw(good if clean else anything)

    lines = [pick(st.just("OPTIONS {} SIP/2.0"), _START).format(pick(_GOOD_URIS, _URIS))]
    headers = [
        (draw(st.sampled_from(_NAMES["Via"])), pick(st.sampled_from(_VIAS.elements[:8]), _VIAS).format(n=n)),  # type: ignore[attr-defined]
        (draw(st.sampled_from(_NAMES["From"])), pick(st.sampled_from(_FROMS.elements[:3]), _FROMS).format(n=n)),  # type: ignore[attr-defined]
        (draw(st.sampled_from(_NAMES["To"])), pick(st.sampled_from(_TOS.elements[:3]), _TOS)),  # type: ignore[attr-defined]
        (draw(st.sampled_from(_NAMES["Call-ID"])), pick(st.just("c{n}@127.0.0.2"), _CALLIDS).format(n=n)),
        (draw(st.sampled_from(_NAMES["CSeq"])), pick(st.just("1 OPTIONS"), _CSEQS)),
    ]
    if not clean:
        headers = [h for h in headers if draw(st.integers(0, 19))]
    headers = draw(st.permutations(headers + pick(_GOOD_OPTIONAL, _OPTIONAL)))
    for name, value in headers:
        line = name + pick(st.just(": "), _SEPARATORS) + value + pick(st.just(""), _ENDINGS)
        if not clean and draw(st.integers(0, 29)) == 0:
            line = line.replace(" ", "\r\n ", 1)  # folded
        lines.append(line)
    text = "\r\n".join(lines) + "\r\n\r\n" + draw(st.sampled_from(["", "", "hello"]))
    if not clean and draw(st.integers(0, 19)) == 0:
        text = text.replace("\r\n", "\n")
    if not clean and draw(st.integers(0, 19)) == 0:
        text = "\r\n" + text
    data = text.encode("utf-8")
    if not clean and draw(st.integers(0, 9)) == 0:
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.sampled_from([b"\x00", b"\r", b"\n", b"\x7f", b"\xff", b"\x01"])) + data[cut:]
    return data


class DifferentialMixin(ImplementationMixin):
    """
    The lean path sends what the full path sends and counts what it counts,
    for every message hypothesis makes; and it does answer the common ones.
    """

    security: Optional[SecuritySettings] = None
    checkers: Sequence[Any] = ()

    def setUp(self) -> None:
        super().setUp()
        self.pair = _Pair(self, self.security, self.checkers)  # type: ignore[arg-type]

    def assertSame(self, data: bytes) -> None:
        (leanSent, leanStats, leanServer), (fullSent, fullStats, fullServer) = self.pair.feed(data)
        self.assertEqual(leanSent, fullSent, data)  # type: ignore[attr-defined]
        self.assertEqual(leanStats, fullStats, data)  # type: ignore[attr-defined]
        self.assertEqual(leanServer, fullServer, data)  # type: ignore[attr-defined]

    #: How many of the 400 examples the lean path must answer at least.
    minimumLean = 40

    def test_sameAsFullPath(self) -> None:
        """
        Every message: the same bytes, destinations and counters; and the
        lean path answered many of them.
        """

        @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(optionsMessages())
        def check(data: bytes) -> None:
            self.assertSame(data)

        check()
        self.assertGreaterEqual(self.pair.answeredLean, self.minimumLean)  # type: ignore[attr-defined]

    def test_commonShapesAnswered(self) -> None:
        """
        SIPp's OPTIONS and its usual variations are answered by the lean path
        (with the full path's bytes), so the differential test is not vacuous.
        """
        self.assertTrue(self.pair.assertLean)  # type: ignore[attr-defined]
        variants = [
            SIPP,
            SIPP.replace(b"Via: ", b"v: ").replace(b"To: <sip:127.0.0.1:5060>", b"To: <sip:127.0.0.1:5060>;tag=x"),
            SIPP.replace(b"127.0.0.2:5070;branch", b"10.0.0.9:5070;rport;branch"),
            SIPP.replace(b"sip:127.0.0.1:5060 SIP", b"sip:example.com SIP"),
        ]
        for data in variants:
            self.assertSame(data)
        self.assertEqual(self.pair.answeredLean, len(variants))  # type: ignore[attr-defined]


class DefaultPolicyTests(DifferentialMixin, SynchronousTestCase):
    """The default security settings (no authentication, no rate limit)."""


class RateLimitedTests(DifferentialMixin, SynchronousTestCase):
    """
    A rate limit on: the lean path leaves every untrusted request to the
    full path, which counts the limit once.
    """

    security = SecuritySettings(rateLimit=3, rateWindow=10.0, trusted=("10.0.0.0/8",))
    minimumLean = 0

    def test_commonShapesAnswered(self) -> None:
        """
        Under a rate limit an untrusted source's OPTIONS takes the full
        path (so it is limited there): the 4th is refused with 503.
        """
        for _ in range(4):
            self.assertSame(SIPP)
        self.assertEqual(self.pair.answeredLean, 0)
        service = self.pair.services[0][0]
        self.assertEqual(service.guard.counters.asDict().get("rate_limited"), 1)


class AuthenticatingTests(DifferentialMixin, SynchronousTestCase):
    """Digest authentication on: OPTIONS to us are still unchallenged."""

    def setUp(self) -> None:
        fd, path = tempfile.mkstemp()
        os.write(fd, b"0123456789abcdef0123456789abcdef")
        os.close(fd)
        self.addCleanup(os.remove, path)
        self.security = SecuritySettings(nonceSecretFile=path, trusted=("127.0.0.2/32",))
        self.checkers = [strcred.makeChecker("memory:alice:secret1")]
        super().setUp()

    def test_trustedCounted(self) -> None:
        """
        A trusted source's OPTIONS taken by the lean path is counted as
        trusted, as the full path counts it.
        """
        self.assertSame(SIPP)
        self.assertEqual(self.pair.answeredLean, 1)
        self.assertEqual(self.pair.services[0][0].guard.counters.asDict().get("trusted_requests"), 1)


class ScanTests(ImplementationMixin, SynchronousTestCase):
    """
    L{scanOwnOptions} and L{OptionsReply} directly.
    """

    def scan(self, data: bytes, maxHeaderBytes: int) -> Any:
        return self.lean.scanOwnOptions(data, maxHeaderBytes)  # type: ignore[union-attr]

    def test_sipp(self) -> None:
        """
        SIPp's OPTIONS: its Request-URI, Via and the copied lines in order.
        """
        scan = self.scan(SIPP, 16384)
        assert scan is not None
        self.assertEqual((scan.uri.host, scan.uri.port, scan.via.branch, scan.toHasTag), ("127.0.0.1", 5060, "z9hG4bK-1234-1-0", False))
        self.assertEqual(scan.order, ("via", "from", "to", "call-id", "cseq"))

    def test_fullPathShapes(self) -> None:
        """
        Shapes outside the lean path's: C{None}.
        """
        for data in [
            SIPP.replace(b"OPTIONS sip", b"INFO sip").replace(b"1 OPTIONS", b"1 INFO"),
            SIPP.replace(b"Max-Forwards: 70", b"Route: <sip:127.0.0.1;lr>"),
            SIPP.replace(b"Max-Forwards: 70", b"Max-Forwards:70"),
            SIPP.replace(b"User-Agent: SIPp bench", b"User-Agent: SIPp\r\n bench"),
            SIPP.replace(b"\r\n", b"\n"),
            SIPP[:200],
            b"\r\n" + SIPP,
        ]:
            self.assertIsNone(self.scan(data, 16384), data)
        self.assertIsNone(self.scan(SIPP, 200))

    def test_replyTail(self) -> None:
        """
        The tail writes its own Content-Length and refuses a bad line.
        """
        reply = self.lean.OptionsReply(  # type: ignore[union-attr]
            [("Server", "x")])
        scan = self.scan(SIPP, 16384)
        assert scan is not None
        self.assertTrue(reply.render(scan, "127.0.0.2", 5070).endswith(b"\r\nServer: x\r\nContent-Length: 0\r\n\r\n"))
        self.assertRaises(ValueError, self.lean.OptionsReply,  # type: ignore[union-attr]
                          [("Content-Length", "0")])
        self.assertRaises(Exception, self.lean.OptionsReply,  # type: ignore[union-attr]
                          [("Server", "a\x00b")])


class CompiledDefaultPolicyTests(CompiledMixin, DefaultPolicyTests):
    """L{DefaultPolicyTests} with the compiled module."""


class CompiledRateLimitedTests(CompiledMixin, RateLimitedTests):
    """L{RateLimitedTests} with the compiled module."""


class CompiledAuthenticatingTests(CompiledMixin, AuthenticatingTests):
    """L{AuthenticatingTests} with the compiled module."""


class CompiledScanTests(CompiledMixin, ScanTests):
    """L{ScanTests} with the compiled module."""


def _outcome(lean: Any, data: bytes, maxHeaderBytes: int) -> object:
    """
    What one module makes of C{data}: the scan's fields and two replies
    (from the Via's own address, and from another: C{received}/C{rport}),
    C{None}, or the exception.
    """
    try:
        scan = lean.scanOwnOptions(data, maxHeaderBytes)
        if scan is None:
            return None
        reply = lean.OptionsReply([("Server", "x"), ("Allow", "OPTIONS")])
        return (scan.uri, scan.via, scan.toHasTag, scan.copied, scan.tagValues, scan.order, reply.render(scan, *UAC), reply.render(scan, "10.0.0.9", 5071))
    except Exception as e:
        return ("raised", type(e), str(e))


class CompiledSameAsPureTests(CompiledMixin, SynchronousTestCase):
    """
    The compiled scanner and reply builder give what the pure ones give.
    """

    def setUp(self) -> None:
        if self.lean is None:
            self.fail("CI is set and the compiled lean path is not usable: the compiled module is {}".format(COMPILED_WHY))

    def test_compiled(self) -> None:
        """
        The module tested is the compiled one, not the pure one again.
        """
        self.assertIsNot(self.lean, pureLean)
        self.assertTrue(self.lean.__file__.endswith(".so"), self.lean.__file__)  # type: ignore[union-attr]

    def test_sameOutcome(self) -> None:
        """
        For every message hypothesis makes (and SIPp's): the same scan, the
        same replies, the same C{None}, the same exception.
        """
        answered = []

        @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(optionsMessages(), st.sampled_from([16384, 300, 200]))
        def check(data: bytes, limit: int) -> None:
            outcome = _outcome(pureLean, data, limit)
            self.assertEqual(_outcome(self.lean, data, limit), outcome, data)
            answered.append(outcome is not None)

        check()
        self.assertEqual(_outcome(self.lean, SIPP, 16384), _outcome(pureLean, SIPP, 16384))
        self.assertGreaterEqual(sum(answered), 100)


class SelectionTests(SynchronousTestCase):
    """
    L{leanimpl.select}: the compiled module when it is usable, else the
    pure one; the environment variable forces the pure one.
    """

    def test_forcedPure(self) -> None:
        """
        C{TWISTED_SCTP_PURE=1}: the pure module, whatever is built.
        """
        self.patch(os, "environ", {leanimpl.PURE_ENV: "1"})
        module, name, reason = leanimpl.select()
        self.assertEqual((module, name), (pureLean, "pure"))
        self.assertIn(leanimpl.PURE_ENV, reason)

    def test_default(self) -> None:
        """
        Without it (or with C{0}): the compiled module if usable.
        """
        self.patch(os, "environ", {leanimpl.PURE_ENV: "0"})
        module, name, reason = leanimpl.select()
        if COMPILED is None:
            self.assertEqual((module, name), (pureLean, "pure"))
            self.assertIn("the compiled module is", reason)
        else:
            self.assertEqual((module, name), (COMPILED, "compiled"))

    def test_stale(self) -> None:
        """
        A compiled module built from another C{lean.py} is not used.
        """
        if COMPILED is None:
            raise SkipTest("no compiled module: " + COMPILED_WHY)
        self.patch(leanimpl, "_sourceDigest", lambda: "0" * 64)
        module, why = leanimpl.compiledModule()
        self.assertIsNone(module)
        self.assertIn("stale", why)
        self.patch(os, "environ", {})
        self.assertEqual(leanimpl.select()[:2], (pureLean, "pure"))

    def test_logged(self) -> None:
        """
        C{twistd sctp-sip} (L{SIPService}) logs at start which one it uses
        and why.
        """
        events: List[Any] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        service = SIPService(MemoryReactorClock(), [(["127.0.0.1"], 5060)], kernel=FakeKernel())
        service.startService()
        self.addCleanup(service.stopService)
        self.assertIn("lean path: {} ({})".format(leanimpl.IMPLEMENTATION, leanimpl.REASON), [formatEvent(e) for e in events])
