"""
Tests for L{twisted_sctp.transport.options}: defaults, ranges, cross rules, parsing and
the run-time rules of the reference (checklist items 1 and 9-14).
"""

from __future__ import annotations

from typing import Dict

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_sctp.error import OptionError, UnknownOptionError
from twisted_sctp.transport.options import (
    APPLIES_NEW_ASSOCIATIONS,
    APPLIES_NOW,
    APPLIES_STARTUP,
    APPLIES_UNCHANGED,
    INTERNAL_OPTIONS,
    KERNEL_OPTIONS,
    OPTION_NAMES,
    OPTIONS,
    SCTPOptions,
    changeOption,
    describeOptions,
)

_KAMAILIO_ORDER = (
    "sctp_socket_rcvbuf, sctp_socket_sndbuf, sctp_autoclose, sctp_send_ttl, "
    "sctp_send_retries, sctp_assoc_tracking, sctp_assoc_reuse, sctp_max_assocs, "
    "sctp_srto_initial, sctp_srto_max, sctp_srto_min, sctp_asocmaxrxt, "
    "sctp_init_max_attempts, sctp_init_max_timeo, sctp_hbinterval, "
    "sctp_pathmaxrxt, sctp_sack_delay, sctp_sack_freq, sctp_max_burst"
).split(", ")

#: (option, accepted edge values, refused edge values) at start-up.
_EDGES = {
    "socket_rcvbuf": ([0, 512, 2**30], [-1, 1, 511, 2**30 + 1]),
    "socket_sndbuf": ([0, 512, 2**30], [-1, 1, 511, 2**30 + 1]),
    "autoclose": ([0, 1, 2**30], [-1, 2**30 + 1]),
    "send_ttl": ([0, 1, 2**30], [-1, 2**30 + 1]),
    "send_retries": ([0, 9], [-1, 10]),
    "assoc_tracking": ([0, 1], [-1, 2]),
    "assoc_reuse": ([0, 1], [-1, 2]),
    "max_assocs": ([-1, 0, 1, 2**31 - 1], [-2, 2**31]),
    "srto_initial": ([0, 1, 2**30], [-1, 2**30 + 1]),
    "srto_max": ([0, 1, 2**30], [-1, 2**30 + 1]),
    "srto_min": ([0, 1, 2**30], [-1, 2**30 + 1]),
    "asocmaxrxt": ([0, 1, 1024], [-1, 1025]),
    "init_max_attempts": ([0, 1, 1024], [-1, 1025]),
    "init_max_timeo": ([0, 1, 65535], [-1, 65536]),
    "hbinterval": ([-1, 0, 1, 2**30], [-2, 2**30 + 1]),
    "pathmaxrxt": ([0, 1, 1024], [-1, 1025]),
    "sack_delay": ([0, 1, 500], [-1, 501]),
    "sack_freq": ([0, 1, 1024], [-1, 1025]),
    "max_burst": ([0, 1, 1024], [-1, 1025]),
}


def _build(name: str, value: int) -> SCTPOptions:
    """
    Build options with one value set, relaxing the tracking/reuse rule so
    that edge values of either can be tried alone.
    """
    extra: Dict[str, int] = {}
    if name == "assoc_tracking":
        extra["assoc_reuse"] = 0
    return SCTPOptions(**{name: value}, **extra)


class NamesTests(SynchronousTestCase):
    """
    The 19 names and their metadata.
    """

    def test_orderIsKamailios(self) -> None:
        """
        L{OPTION_NAMES} prefixed with C{sctp_} is C{sctp.options}' order.
        """
        self.assertEqual(["sctp_" + n for n in OPTION_NAMES], _KAMAILIO_ORDER)
        self.assertEqual(len(OPTION_NAMES), 19)

    def test_fieldsAreTheNames(self) -> None:
        """
        The attrs fields of L{SCTPOptions} are the option names, in order.
        """
        self.assertEqual(
            tuple(f.name for f in attrs.fields(SCTPOptions)), OPTION_NAMES
        )

    def test_kernelAndInternal(self) -> None:
        """
        Five options are internal, fourteen are kernel state.
        """
        self.assertEqual(
            INTERNAL_OPTIONS,
            ("send_ttl", "send_retries", "assoc_tracking", "assoc_reuse", "max_assocs"),
        )
        self.assertEqual(len(KERNEL_OPTIONS), 14)

    def test_metadataComplete(self) -> None:
        """
        Every option has a unit, a description and a run-time scope.
        """
        for name in OPTION_NAMES:
            info = OPTIONS[name]
            self.assertTrue(info.unit and info.description, name)
            self.assertIn(
                info.appliesTo,
                (APPLIES_NOW, APPLIES_NEW_ASSOCIATIONS, APPLIES_STARTUP),
            )
        self.assertFalse(OPTIONS["socket_rcvbuf"].runtime)
        self.assertFalse(OPTIONS["socket_sndbuf"].runtime)

    def test_describeOptions(self) -> None:
        """
        L{describeOptions} gives one line per option, naming it and its range.
        """
        lines = describeOptions()
        self.assertEqual(len(lines), 19)
        self.assertTrue(lines[16].startswith("sack_delay: "))
        self.assertIn("1..500 ms", lines[16])


class DefaultsTests(SynchronousTestCase):
    """
    Defaults as checklist item 1.
    """

    def test_defaults(self) -> None:
        """
        autoclose=180, send_ttl=32000, send_retries=0, tracking and reuse on,
        max_assocs=-1.
        """
        o = SCTPOptions()
        self.assertEqual(
            (o.autoclose, o.send_ttl, o.send_retries, o.assoc_tracking,
             o.assoc_reuse, o.max_assocs),
            (180, 32000, 0, 1, 1, -1),
        )

    def test_kernelDefaultsKeep(self) -> None:
        """
        The kernel-backed options other than autoclose default to 0 (keep the
        OS value).
        """
        o = SCTPOptions()
        for name in KERNEL_OPTIONS:
            if name != "autoclose":
                self.assertEqual(getattr(o, name), 0, name)
                self.assertTrue(OPTIONS[name].keepZero, name)

    def test_defaultsHaveNoWarnings(self) -> None:
        """
        The defaults fall into no documented pitfall.
        """
        self.assertEqual(SCTPOptions().warnings(), [])


class RangeTests(SynchronousTestCase):
    """
    Start-up validation of every range edge.
    """

    def test_edgesAccepted(self) -> None:
        """
        Each range edge is accepted.
        """
        for name, (good, _) in _EDGES.items():
            for value in good:
                self.assertEqual(getattr(_build(name, value), name), value)

    def test_edgesRefused(self) -> None:
        """
        Just outside each edge is refused with an L{OptionError} naming the
        option and the allowed range.
        """
        for name, (_, bad) in _EDGES.items():
            for value in bad:
                e = self.assertRaises(OptionError, _build, name, value)
                self.assertEqual(e.name, name)
                self.assertIn(OPTIONS[name].allowed(), e.reason)
                self.assertIn(name, str(e))

    def test_allNamesHaveEdges(self) -> None:
        """
        The edge table covers the 19 options.
        """
        self.assertEqual(set(_EDGES), set(OPTION_NAMES))

    def test_reasonNamesRange(self) -> None:
        """
        The reason spells the range out, e.g. sack_delay's.
        """
        e = self.assertRaises(OptionError, SCTPOptions, sack_delay=501)
        self.assertEqual(
            e.reason, "value 501 out of range; allowed: 0 (keep the OS value) or 1..500 ms"
        )

    def test_notAnInteger(self) -> None:
        """
        Non-integers (including C{bool}) are refused by the constructor.
        """
        e = self.assertRaises(OptionError, SCTPOptions, autoclose="10")
        self.assertEqual(e.name, "autoclose")
        self.assertRaises(OptionError, SCTPOptions, send_retries=True)
        self.assertRaises(OptionError, SCTPOptions, send_ttl=1.5)


class CrossRuleTests(SynchronousTestCase):
    """
    Rules between options.
    """

    def test_reuseNeedsTracking(self) -> None:
        """
        C{assoc_reuse=1} with C{assoc_tracking=0} is refused.
        """
        e = self.assertRaises(OptionError, SCTPOptions, assoc_tracking=0)
        self.assertEqual(e.name, "assoc_reuse")
        self.assertIn("assoc_tracking=1", e.reason)
        SCTPOptions(assoc_tracking=0, assoc_reuse=0)
        SCTPOptions(assoc_tracking=1, assoc_reuse=0)

    def test_rtoMinAboveMax(self) -> None:
        """
        C{srto_min > srto_max} is refused when both are set.
        """
        e = self.assertRaises(OptionError, SCTPOptions, srto_min=2000, srto_max=1000)
        self.assertEqual(e.name, "srto_min")
        self.assertIn("srto_max", e.reason)

    def test_rtoInitialOutside(self) -> None:
        """
        C{srto_initial} must lie between the bounds that are set.
        """
        e = self.assertRaises(
            OptionError, SCTPOptions, srto_initial=500, srto_min=1000
        )
        self.assertEqual(e.name, "srto_initial")
        self.assertIn(">= srto_min", e.reason)
        e = self.assertRaises(
            OptionError, SCTPOptions, srto_initial=5000, srto_max=4000
        )
        self.assertEqual(e.name, "srto_initial")
        self.assertIn("<= srto_max", e.reason)

    def test_rtoPartialAccepted(self) -> None:
        """
        Bounds that are 0 (keep) are not compared; equal values are fine.
        """
        SCTPOptions(srto_min=70000)
        SCTPOptions(srto_initial=1, srto_max=1)
        SCTPOptions(srto_min=1000, srto_initial=1000, srto_max=1000)
        SCTPOptions(srto_min=5000, srto_initial=0, srto_max=6000)


class WarningTests(SynchronousTestCase):
    """
    L{SCTPOptions.warnings}.
    """

    def test_srtoMinLow(self) -> None:
        """
        srto_min below 500 ms is a pitfall.
        """
        (w,) = SCTPOptions(srto_min=499).warnings()
        self.assertIn("srto_min=499", w)
        self.assertEqual(SCTPOptions(srto_min=500).warnings(), [])

    def test_belowSackDelay(self) -> None:
        """
        srto_min or srto_max below sack_delay are pitfalls.
        """
        ws = SCTPOptions(srto_min=500, srto_max=500, srto_initial=500, sack_delay=500).warnings()
        self.assertEqual(ws, [])
        ws = SCTPOptions(srto_min=600, srto_max=600, sack_delay=500).warnings()
        self.assertEqual(ws, [])
        ws = SCTPOptions(srto_min=300, srto_max=400, sack_delay=450).warnings()
        self.assertEqual(len(ws), 3)
        self.assertTrue(any("srto_max=400 is below sack_delay" in w for w in ws))

    def test_asocmaxrxt(self) -> None:
        """
        asocmaxrxt below pathmaxrxt is a pitfall.
        """
        (w,) = SCTPOptions(asocmaxrxt=4, pathmaxrxt=5).warnings()
        self.assertIn("pathmaxrxt", w)
        self.assertEqual(SCTPOptions(asocmaxrxt=10, pathmaxrxt=5).warnings(), [])

    def test_sendRetries(self) -> None:
        """
        send_retries above 3 is a pitfall.
        """
        self.assertEqual(SCTPOptions(send_retries=3).warnings(), [])
        (w,) = SCTPOptions(send_retries=4).warnings()
        self.assertIn("send_retries=4", w)


class FromMappingTests(SynchronousTestCase):
    """
    L{SCTPOptions.fromMapping} and L{SCTPOptions.asDict}.
    """

    def test_prefixesAndStrings(self) -> None:
        """
        Names with or without C{sctp_}, values as text or numbers.
        """
        o = SCTPOptions.fromMapping(
            {"sctp_autoclose": "60", "send_ttl": 0, "SCTP_HBINTERVAL": " -1 ",
             "sack-delay": "100"}
        )
        self.assertEqual((o.autoclose, o.send_ttl, o.hbinterval, o.sack_delay),
                         (60, 0, -1, 100))
        self.assertEqual(o.max_assocs, -1)

    def test_unknownName(self) -> None:
        """
        An unknown name gives L{UnknownOptionError} listing the valid names.
        """
        e = self.assertRaises(UnknownOptionError, SCTPOptions.fromMapping, {"sctp_bogus": 1})
        self.assertEqual(e.name, "sctp_bogus")
        for name in OPTION_NAMES:
            self.assertIn(name, e.reason)

    def test_badText(self) -> None:
        """
        A value that is not a decimal integer is refused, naming the option.
        """
        e = self.assertRaises(OptionError, SCTPOptions.fromMapping, {"autoclose": "ten"})
        self.assertEqual(e.name, "autoclose")
        self.assertIn("not an integer", e.reason)
        self.assertIn("0..2^30 s", e.reason)

    def test_outOfRangeText(self) -> None:
        """
        Text values are range-checked like numbers.
        """
        e = self.assertRaises(OptionError, SCTPOptions.fromMapping, {"sctp_send_retries": "10"})
        self.assertEqual(e.name, "send_retries")
        self.assertIn("0..9", e.reason)

    def test_givenTwice(self) -> None:
        """
        The same option with and without prefix is refused.
        """
        e = self.assertRaises(
            OptionError, SCTPOptions.fromMapping, {"autoclose": 1, "sctp_autoclose": 2}
        )
        self.assertEqual(e.name, "autoclose")

    def test_asDict(self) -> None:
        """
        L{SCTPOptions.asDict} gives the 19 values in order, optionally
        prefixed.
        """
        o = SCTPOptions(autoclose=7)
        self.assertEqual(list(o.asDict()), list(OPTION_NAMES))
        self.assertEqual(list(o.asDict(prefixed=True)), _KAMAILIO_ORDER)
        self.assertEqual(o.asDict(prefixed=True)["sctp_autoclose"], 7)
        self.assertEqual(SCTPOptions.fromMapping(o.asDict(prefixed=True)), o)

    @settings(max_examples=100, deadline=None)
    @given(st.data())
    def test_roundTrip(self, data: st.DataObject) -> None:
        """
        Any set of in-range values builds and round-trips through
        C{asDict}/C{fromMapping}, prefixed or not, as text or numbers.
        """
        values: Dict[str, int] = {}
        for name in OPTION_NAMES:
            info = OPTIONS[name]
            choices = st.integers(info.minimum, info.maximum)
            if info.special:
                choices = choices | st.sampled_from(sorted(info.special))
            if data.draw(st.booleans()):
                values[name] = data.draw(choices, label=name)
        tracking = values.get("assoc_tracking", 1)
        if not tracking:
            values["assoc_reuse"] = 0
        low, high = values.get("srto_min", 0), values.get("srto_max", 0)
        if low and high and low > high:
            values["srto_min"], values["srto_max"] = high, low
        low, high = values.get("srto_min", 0), values.get("srto_max", 0)
        initial = values.get("srto_initial", 0)
        if initial:
            initial = max(initial, low)
            values["srto_initial"] = min(initial, high) if high else initial
        o = SCTPOptions(**values)
        prefixed = data.draw(st.booleans())
        asText = data.draw(st.booleans())
        mapping = {
            k: (str(v) if asText else v) for k, v in o.asDict(prefixed).items()
        }
        self.assertEqual(SCTPOptions.fromMapping(mapping), o)
        self.assertEqual(SCTPOptions.fromMapping({}), SCTPOptions())


class RuntimeTests(SynchronousTestCase):
    """
    L{changeOption}: the reference's run-time rules (checklist 9-14), quirks
    fixed.
    """

    def test_zeroKeeps(self) -> None:
        """
        0 leaves every "0 = keep" option unchanged (checklist 9).
        """
        current = SCTPOptions(srto_initial=2000, sack_delay=100)
        for name in OPTION_NAMES:
            if OPTIONS[name].keepZero and OPTIONS[name].runtime:
                change = changeOption(current, name, 0)
                self.assertEqual(change.appliesTo, APPLIES_UNCHANGED, name)
                self.assertEqual(change.new, change.old)
                self.assertIs(change.options, current)
        change = changeOption(current, "srto_initial", "0")
        self.assertEqual((change.old, change.new), (2000, 2000))

    def test_keepZeroSet(self) -> None:
        """
        The "0 = keep" options are the reference's eleven.
        """
        self.assertEqual(
            {n for n in OPTION_NAMES if OPTIONS[n].keepZero and OPTIONS[n].runtime},
            {"srto_initial", "srto_max", "srto_min", "asocmaxrxt",
             "init_max_attempts", "init_max_timeo", "hbinterval", "pathmaxrxt",
             "sack_delay", "sack_freq", "max_burst"},
        )

    def test_autocloseZeroRefused(self) -> None:
        """
        Run-time C{autoclose=0} is refused (min 1), though start-up allows it
        (checklist 10).
        """
        e = self.assertRaises(OptionError, changeOption, SCTPOptions(), "autoclose", 0)
        self.assertEqual(e.name, "autoclose")
        self.assertIn("1..2^30 s", e.reason)
        change = changeOption(SCTPOptions(), "autoclose", 1)
        self.assertEqual((change.old, change.new, change.appliesTo),
                         (180, 1, APPLIES_NEW_ASSOCIATIONS))
        self.assertEqual(change.options.autoclose, 1)

    def test_buffersReadOnly(self) -> None:
        """
        socket_rcvbuf and socket_sndbuf are read-only at run time (checklist
        10), even with prefix and a valid value.
        """
        for name in ("socket_rcvbuf", "sctp_socket_sndbuf"):
            e = self.assertRaises(OptionError, changeOption, SCTPOptions(), name, 65536)
            self.assertIn("read-only", e.reason)
            self.assertEqual(e.name, name.replace("sctp_", ""))

    def test_sendRetries(self) -> None:
        """
        send_retries 10 is refused, 9 accepted and applies now (checklist 11).
        """
        e = self.assertRaises(OptionError, changeOption, SCTPOptions(), "send_retries", 10)
        self.assertIn("0..9", e.reason)
        change = changeOption(SCTPOptions(), "send_retries", 9)
        self.assertEqual((change.new, change.appliesTo), (9, APPLIES_NOW))

    def test_hbintervalDisable(self) -> None:
        """
        Run-time C{hbinterval=-1} is accepted and means "disable heartbeats"
        (the reference's quirk, checklist 11, fixed); -2 is refused.
        """
        change = changeOption(SCTPOptions(), "hbinterval", -1)
        self.assertEqual((change.old, change.new), (0, -1))
        self.assertEqual(change.appliesTo, APPLIES_NEW_ASSOCIATIONS)
        self.assertEqual(change.options.hbinterval, -1)
        self.assertIn("disable heartbeats", OPTIONS["hbinterval"].special[-1])
        e = self.assertRaises(OptionError, changeOption, SCTPOptions(), "hbinterval", -2)
        self.assertIn("-1 (disable heartbeats)", e.reason)

    def test_trackingOffRefusedWhileReuse(self) -> None:
        """
        assoc_tracking=0 is refused while assoc_reuse=1 (checklist 12).
        """
        e = self.assertRaises(OptionError, changeOption, SCTPOptions(), "assoc_tracking", 0)
        self.assertEqual(e.name, "assoc_tracking")
        self.assertIn("while assoc_reuse=1", e.reason)

    def test_reuseOnRefusedWithoutTracking(self) -> None:
        """
        assoc_reuse=1 is refused while assoc_tracking=0 (checklist 12).
        """
        current = SCTPOptions(assoc_tracking=0, assoc_reuse=0)
        e = self.assertRaises(OptionError, changeOption, current, "assoc_reuse", 1)
        self.assertEqual(e.name, "assoc_reuse")
        self.assertIn("needs assoc_tracking=1", e.reason)

    def test_trackingOffFlushes(self) -> None:
        """
        Turning tracking off (after reuse) asks for a flush (checklist 13);
        turning it on or setting the same value does not.
        """
        step = changeOption(SCTPOptions(), "assoc_reuse", 0)
        self.assertFalse(step.flushTracking)
        off = changeOption(step.options, "assoc_tracking", 0)
        self.assertTrue(off.flushTracking)
        self.assertEqual((off.old, off.new, off.appliesTo), (1, 0, APPLIES_NOW))
        on = changeOption(off.options, "assoc_tracking", "1")
        self.assertFalse(on.flushTracking)
        same = changeOption(off.options, "assoc_tracking", 0)
        self.assertFalse(same.flushTracking)
        reuse = changeOption(on.options, "assoc_reuse", 1)
        self.assertEqual(reuse.options, SCTPOptions())

    def test_appliesTo(self) -> None:
        """
        Internal options apply now; kernel options to new associations only
        (checklist 14).
        """
        current = SCTPOptions()
        values = {
            "autoclose": 60, "send_ttl": 0, "send_retries": 2,
            "assoc_tracking": 1, "assoc_reuse": 0, "max_assocs": 0,
            "srto_initial": 2000, "srto_max": 50000, "srto_min": 500,
            "asocmaxrxt": 12, "init_max_attempts": 3, "init_max_timeo": 9000,
            "hbinterval": 5000, "pathmaxrxt": 4, "sack_delay": 100,
            "sack_freq": 1, "max_burst": 8,
        }
        for name, value in values.items():
            change = changeOption(current, name, value)
            expected = APPLIES_NEW_ASSOCIATIONS if name in KERNEL_OPTIONS else APPLIES_NOW
            self.assertEqual(change.appliesTo, expected, name)
            self.assertEqual(change.name, name)
            self.assertEqual(getattr(change.options, name), value)
            self.assertFalse(change.flushTracking)
        self.assertEqual(len(values), 17)

    def test_runtimeRanges(self) -> None:
        """
        Run-time values are range-checked like start-up ones.
        """
        for name, value in [("sack_delay", 501), ("max_assocs", -2),
                            ("init_max_timeo", 65536), ("send_ttl", -1)]:
            e = self.assertRaises(OptionError, changeOption, SCTPOptions(), name, value)
            self.assertEqual(e.name, name)

    def test_runtimeCrossRto(self) -> None:
        """
        A run-time srto_min above the configured srto_max is refused.
        """
        current = SCTPOptions(srto_max=3000)
        e = self.assertRaises(OptionError, changeOption, current, "srto_min", 4000)
        self.assertEqual(e.name, "srto_min")

    def test_runtimeUnknown(self) -> None:
        """
        An unknown name is an L{UnknownOptionError}.
        """
        self.assertRaises(UnknownOptionError, changeOption, SCTPOptions(), "nodelay", 1)

    def test_runtimeBadText(self) -> None:
        """
        Text that is not a number is refused with the range.
        """
        e = self.assertRaises(OptionError, changeOption, SCTPOptions(), "max_burst", "x")
        self.assertIn("not an integer", e.reason)
