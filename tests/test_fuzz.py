# -*- test-case-name: tests.test_fuzz -*-
"""
Property-based fuzzing in CI (a few seconds per target) of the notification
decoder, the option codec and option rules, the SIP parser and the port's
whole receive path over the fake socket.  The targets live in
L{tests.fuzztargets}; C{make fuzz} runs them for a million inputs each with
atheris.  Inputs that crashed a target once are kept in L{REGRESSIONS} and
replayed here.
"""

from __future__ import annotations

import struct
from typing import Any, Dict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twisted.internet.testing import MemoryReactorClock
from twisted.internet.protocol import Factory
from twisted.trial.unittest import SynchronousTestCase

from tests.fuzztargets import TARGETS, _STRUCTS, engineTarget, notificationsTarget, optionsTarget, portTarget, sipTarget
from twisted_sctp.kernel.constants import MSG_EOR, MSG_NOTIFICATION, NotificationType
from twisted_sctp.error import OptionError
from twisted_sctp.transport.options import OPTION_NAMES, SCTPOptions, changeOption
from twisted_sctp.transport.port import SCTPPort
from twisted_sctp.kernel.sockopt import CodecError
from twisted_sctp.testing import FakeKernel, commUp

#: Inputs that crashed a target in a fuzz run, by target: replayed by
#: L{RegressionTests}.  (The 2026-11 atheris run of 1,000,000 inputs per
#: target found none; see docs/reliability.md.)
REGRESSIONS: Dict[str, list[bytes]] = {
    "notifications": [],
    "options": [],
    "sip": [],
    "port": [],
}

_fast = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_names = st.sampled_from(list(OPTION_NAMES)) | st.sampled_from(["sctp_" + n for n in OPTION_NAMES]) | st.text(max_size=20)
_values = (
    st.integers()
    | st.integers(-(2 ** 31), 2 ** 31).map(str)
    | st.text(max_size=12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.none()
    | st.booleans()
    | st.binary(max_size=8)
)
_types = st.sampled_from([int(t) for t in NotificationType]) | st.integers(0, 0xFFFF)


class NotificationFuzzTests(SynchronousTestCase):
    """
    L{decodeNotification}: a notification that round-trips, or L{CodecError}.
    """

    @_fast
    @given(st.binary(max_size=600))
    def test_bytes(self, data: bytes) -> None:
        """
        Arbitrary bytes.
        """
        notificationsTarget(data)

    @_fast
    @given(_types, st.integers(0, 0xFFFF), st.integers(0, 2 ** 32 - 1) | st.integers(0, 400), st.binary(max_size=400))
    def test_headerThenBody(self, kind: int, flags: int, length: int, body: bytes) -> None:
        """
        A header of any type (the known ones often), flags and length, then
        any body.
        """
        notificationsTarget(struct.pack("@HHI", kind, flags, length) + body)


class OptionFuzzTests(SynchronousTestCase):
    """
    The option codec round trips; option rules give a result or
    L{OptionError}.
    """

    @_fast
    @given(st.sampled_from(_STRUCTS), st.binary(max_size=260))
    def test_structRoundTrip(self, cls: Any, data: bytes) -> None:
        """
        Every socket-option struct: C{unpack} gives a value that C{pack}s
        to bytes that C{unpack} to the same value, or raises L{CodecError}.
        """
        try:
            value = cls.unpack(data)
        except CodecError:
            return
        self.assertEqual(cls.unpack(value.pack()), value)

    @_fast
    @given(st.dictionaries(_names, _values, max_size=8))
    def test_fromMapping(self, mapping: Dict[str, Any]) -> None:
        """
        Random names and values: L{SCTPOptions} (which round-trips through
        C{asDict}) or L{OptionError}, never anything else.
        """
        try:
            options = SCTPOptions.fromMapping(mapping)
        except OptionError:
            return
        self.assertEqual(SCTPOptions.fromMapping(options.asDict(prefixed=True)), options)

    @_fast
    @given(_names, _values)
    def test_changeOption(self, name: str, value: Any) -> None:
        """
        A run-time change of any name to any value: a L{RuntimeChange} whose
        options are valid, or L{OptionError}.
        """
        try:
            change = changeOption(SCTPOptions(), name, value)
        except OptionError:
            return
        self.assertEqual(SCTPOptions.fromMapping(change.options.asDict()), change.options)

    @_fast
    @given(st.binary(max_size=400))
    def test_bytes(self, data: bytes) -> None:
        """
        The whole options target on arbitrary bytes.
        """
        optionsTarget(data)


class SIPFuzzTests(SynchronousTestCase):
    """
    L{parseMessage}: a usable message or L{SIPParseError}.
    """

    OPTIONS = (b"OPTIONS sip:192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/SCTP 192.0.2.1;branch=z9hG4bKx\r\n"
               b"From: <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:b@192.0.2.2>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
               b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")

    @_fast
    @given(st.binary(max_size=600))
    def test_bytes(self, data: bytes) -> None:
        """
        Arbitrary bytes.
        """
        sipTarget(data)

    @_fast
    @given(st.integers(0, len(OPTIONS)), st.integers(0, 40), st.binary(max_size=40))
    def test_mutatedRequest(self, at: int, cut: int, insert: bytes) -> None:
        """
        A valid request with bytes cut out and others put in.
        """
        sipTarget(self.OPTIONS[:at] + insert + self.OPTIONS[at + cut:])


class PortReceiveFuzzTests(SynchronousTestCase):
    """
    The port's receive path over the fake socket: never raises, never
    logs an unexpected failure, counts what it does not deliver.
    """

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(max_size=3000))
    def test_script(self, data: bytes) -> None:
        """
        A script of notifications, data, partial pieces, errors and sends
        decoded from arbitrary bytes.
        """
        portTarget(data)

    @_fast
    @given(st.lists(st.tuples(st.booleans(), st.binary(max_size=200), st.booleans(), st.integers(0, 5)), max_size=20))
    def test_rawNotificationsAndData(self, items: list[tuple[bool, bytes, bool, int]]) -> None:
        """
        Random notification bytes and random data (with or without its
        receive info, whole or in pieces) after a COMM_UP: C{doRead} never
        raises; every complete data message is delivered or counted.
        """
        kernel = FakeKernel()
        delivered: list[bytes] = []

        class P:
            def makeConnection(self, transport: Any) -> None:
                pass

            def dataReceived(self, data: bytes) -> None:
                delivered.append(data)

            def connectionLost(self, reason: Any) -> None:
                pass

        factory = Factory()
        factory.buildProtocol = lambda addr: P()  # type: ignore[method-assign]
        port = SCTPPort(5060, factory, reactor=MemoryReactorClock(), kernel=kernel)
        port.startListening()
        peer = ("127.0.0.2", 5070)
        kernel.peers[7] = [peer]
        kernel.socket.feedNotification(commUp(7), peer)
        for notification, payload, eor, mode in items:
            if notification:
                kernel.socket.incoming.append((payload, [], MSG_NOTIFICATION | (MSG_EOR if eor else 0), peer))
            elif mode == 0:
                kernel.socket.incoming.append((payload, [], MSG_EOR if eor else 0, peer))  # no receive info
            else:
                kernel.socket.feedData(payload, 7, peer, eor=eor)
        while kernel.socket.incoming:
            self.assertIsNone(port.doRead())
        stats = port.stats
        self.assertLessEqual(len(delivered), stats.messages_in)
        self.assertGreaterEqual(stats.notifications_in, 1)


class EngineTargetTests(SynchronousTestCase):
    """
    The C{engine} target: packets with a right CRC32c at a live engine
    association or from an unknown peer never make it raise.
    """

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(max_size=2000))
    def test_script(self, data: bytes) -> None:
        """
        A script of up to four packets decoded from arbitrary bytes.
        """
        engineTarget(data)


class RegressionTests(SynchronousTestCase):
    """
    Inputs that once crashed a target.
    """

    def test_regressions(self) -> None:
        """
        Each saved input runs through its target without raising.
        """
        for name, inputs in REGRESSIONS.items():
            for data in inputs:
                TARGETS[name](data)
