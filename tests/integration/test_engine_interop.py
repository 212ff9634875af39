"""
The user-space engine against Linux's own SCTP over UDP encapsulation
(RFC 6951), in the kernel guest: C{net.sctp.udp_port} is the kernel's UDP
port, C{net.sctp.encap_port} points at ours.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import struct
from typing import Any, Callable, List, Optional

from twisted.internet import defer, reactor, threads
from twisted.trial.unittest import TestCase

from tests.integration.helpers import waitFor
from tests.integration.support import IPPROTO_SCTP, requireSCTP
from twisted_sctp.engine import (
    AssocChange,
    AssociationChanged,
    Endpoint,
    EngineConfig,
    Event,
    MessageReceived,
    SendFailed,
)
from twisted_sctp.engine import chunks as C
from twisted_sctp.engine.udp import UDPCarrier

KERNEL_UDP = 9899
OUR_UDP = 9911
MSG_EOR = 0x80
SCTP_NODELAY = 3
SCTP_REMOTE_UDP_ENCAPS_PORT = 132

_SYSCTL = "/proc/sys/net/sctp/"


def _readSysctl(name: str) -> str:
    with open(_SYSCTL + name) as f:
        return f.read().strip()


def _writeSysctl(name: str, value: str) -> None:
    with open(_SYSCTL + name, "w") as f:
        f.write(value)


class EngineSide:
    """
    An engine endpoint on the real reactor, recording its events and
    optionally echoing every message.
    """

    def __init__(self, testCase: TestCase, sctpPort: int, echo: bool = False, config: Optional[EngineConfig] = None) -> None:
        self.events: List[Event] = []
        self.echo = echo
        #: Whether the echo is packetized at once (C{False}: with whatever
        #: else this read produced).
        self.flush = True
        self.endpoint = Endpoint(sctpPort, config or EngineConfig(rtoMin=0.05, rtoInitial=0.3, hbInterval=None))
        self.carrier = UDPCarrier(reactor, self._onEvent, encapPort=KERNEL_UDP)
        self.carrier.addEndpoint(self.endpoint)
        self.port = reactor.listenUDP(OUR_UDP, self.carrier, interface="127.0.0.1")  # type: ignore[attr-defined]
        testCase.addCleanup(self.port.stopListening)

    def _onEvent(self, endpoint: Endpoint, event: Event) -> None:
        self.events.append(event)
        if self.echo and isinstance(event, MessageReceived):
            endpoint.send(event.assocID, event.data, self.carrier.now(), stream=event.stream, ppid=event.ppid, flush=self.flush)

    def messages(self) -> List[MessageReceived]:
        return [e for e in self.events if isinstance(e, MessageReceived)]

    def changes(self, change: AssocChange) -> List[AssociationChanged]:
        return [e for e in self.events if isinstance(e, AssociationChanged) and e.change is change]

    def do(self, fn: Callable[[Endpoint, float], Any]) -> Any:
        result = fn(self.endpoint, self.carrier.now())
        self.carrier.pump()
        return result


def _recvMessage(s: socket.socket) -> bytes:
    """
    One whole SCTP message from a kernel one-to-one socket (b"" at EOF).
    """
    parts: List[bytes] = []
    while True:
        data, _, flags, _ = s.recvmsg(1 << 20)
        if not data:
            return b"".join(parts)
        parts.append(data)
        if flags & MSG_EOR:
            return b"".join(parts)


def _kernelSocket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_SCTP)
    s.setsockopt(IPPROTO_SCTP, SCTP_NODELAY, 1)
    s.settimeout(30)
    return s


def _optionsReply(request: bytes) -> bytes:
    """
    A 200 OK for a SIP request: the dialog headers copied, a To tag added.
    """
    head = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = []
    for line in head[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"from", b"call-id", b"cseq"):
            keep.append(line)
        elif name == b"to":
            keep.append(line if b";tag=" in line else line + b";tag=engine")
    keep += [b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS", b"Content-Length: 0"]
    return b"\r\n".join([b"SIP/2.0 200 OK"] + keep) + b"\r\n\r\n"


class SIPResponder(EngineSide):
    """
    Answers every SIP request with 200 OK on its association.
    """

    def _onEvent(self, endpoint: Endpoint, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, MessageReceived) and not event.data.startswith(b"SIP/2.0"):
            endpoint.send(event.assocID, _optionsReply(event.data), self.carrier.now(), stream=event.stream, unordered=True)


class KernelInteropTests(TestCase):
    """
    Our engine and kernel SCTP talk over UDP encapsulation.
    """

    timeout = 120

    def setUp(self) -> None:
        requireSCTP()
        saved = {n: _readSysctl(n) for n in ("udp_port", "encap_port")}
        for n, v in saved.items():
            self.addCleanup(_writeSysctl, n, v)
        _writeSysctl("udp_port", str(KERNEL_UDP))
        _writeSysctl("encap_port", str(OUR_UDP))

    @defer.inlineCallbacks
    def test_kernelClient(self) -> Any:
        """
        A kernel client connects to the engine, messages (one of 100 KB)
        echo both ways, and the kernel's close is a graceful shutdown.
        """
        engine = EngineSide(self, 15061, echo=True)
        s = _kernelSocket()
        self.addCleanup(s.close)
        yield threads.deferToThread(s.connect, ("127.0.0.1", 15061))
        yield waitFor(lambda: engine.changes(AssocChange.COMM_UP), what="COMM_UP on the engine")
        for payload in (b"hello engine", os.urandom(100000), b"after the big one"):
            yield threads.deferToThread(s.sendall, payload)
            echoed = yield threads.deferToThread(_recvMessage, s)
            self.assertEqual(echoed, payload)
        self.assertEqual([len(m.data) for m in engine.messages()], [12, 100000, 17])
        s.close()
        yield waitFor(lambda: engine.changes(AssocChange.SHUTDOWN_COMP), what="SHUTDOWN_COMP on the engine")
        self.assertEqual(engine.endpoint.associations(), [])

    @defer.inlineCallbacks
    def test_seqpacketWithSocketOption(self) -> Any:
        """
        With no default C{encap_port}, a one-to-many (SOCK_SEQPACKET) kernel
        socket given SCTP_REMOTE_UDP_ENCAPS_PORT reaches the engine: an
        implicit association from C{sendto}, and the echo comes back.
        """
        _writeSysctl("encap_port", "0")
        engine = EngineSide(self, 15070, echo=True)
        s = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, IPPROTO_SCTP)
        self.addCleanup(s.close)
        s.settimeout(30)
        # struct sctp_udpencaps: assoc id, sockaddr_storage (8-aligned), port
        # in network order; assoc id 0 (SCTP_FUTURE_ASSOC) with the wildcard
        # address 0.0.0.0: every future association of the socket.
        wildcard = struct.pack("=H", socket.AF_INET) + bytes(14)
        encaps = struct.pack("=I4x128s", 0, wildcard) + struct.pack("!H", OUR_UDP) + bytes(6)
        s.setsockopt(IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, encaps)
        # (Reading it back needs the struct passed in to getsockopt, which
        # Python's socket.getsockopt cannot do; that the engine is reached at
        # all with encap_port=0 shows the option took effect.)
        yield threads.deferToThread(s.sendto, b"seqpacket hello", ("127.0.0.1", 15070))

        def receive() -> bytes:
            while True:
                data, _, flags, _ = s.recvmsg(65536)
                if not flags & 0x8000:  # not a notification
                    return data

        echoed = yield threads.deferToThread(receive)
        self.assertEqual(echoed, b"seqpacket hello")
        self.assertEqual(len(engine.changes(AssocChange.COMM_UP)), 1)

    @defer.inlineCallbacks
    def test_engineClient(self) -> Any:
        """
        The engine connects to a kernel listener, messages (one of 200 KB)
        cross both ways, and the engine shuts down gracefully: the kernel
        reads EOF.
        """
        listener = _kernelSocket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 15062))
        listener.listen(5)
        accepted = threads.deferToThread(listener.accept)
        engine = EngineSide(self, 15063)
        aid = engine.do(lambda ep, now: ep.connect("127.0.0.1", 15062, now))
        conn, _ = yield accepted
        self.addCleanup(conn.close)
        yield waitFor(lambda: engine.changes(AssocChange.COMM_UP), what="COMM_UP on the engine")
        big = os.urandom(200000)
        engine.do(lambda ep, now: ep.send(aid, b"from the engine", now))
        engine.do(lambda ep, now: ep.send(aid, big, now, stream=1, ppid=51))
        first = yield threads.deferToThread(_recvMessage, conn)
        second = yield threads.deferToThread(_recvMessage, conn)
        self.assertEqual((first, second), (b"from the engine", big))
        yield threads.deferToThread(conn.sendall, big[::-1])
        yield waitFor(lambda: engine.messages(), what="the kernel's 200 KB message")
        self.assertEqual(engine.messages()[0].data, big[::-1])
        engine.do(lambda ep, now: ep.shutdown(aid, now))
        eof = yield threads.deferToThread(_recvMessage, conn)
        self.assertEqual(eof, b"")
        yield waitFor(lambda: engine.changes(AssocChange.SHUTDOWN_COMP), what="SHUTDOWN_COMP on the engine")

    @defer.inlineCallbacks
    def test_sippOptions(self) -> Any:
        """
        SIPp on kernel SCTP (encapsulated by the kernel) sends 200 OPTIONS
        to an engine responder with C{-t s1} (one association) and 100
        with C{-t sn} (one per call): every one is answered.
        """
        from tests.integration.test_sip_sipp import SCENARIOS, freePort, requireSIPp, sipp

        requireSIPp()
        engine = SIPResponder(self, 15073)
        options = os.path.join(SCENARIOS, "options.xml")
        target = "127.0.0.1:15073"
        one = yield sipp(self, "-sf", options, "-i", "127.0.0.1", "-p", str(freePort()), "-m", "200", "-r", "100", target)
        self.assertEqual((one.rc, one.successful, one.failed), (0, 200, 0), one)
        many = yield sipp(self, "-t", "sn", "-sf", options, "-i", "127.0.0.1", "-p", str(freePort()), "-m", "100", "-r", "50", target)
        self.assertEqual((many.rc, many.successful, many.failed), (0, 100, 0), many)
        self.assertEqual(len(engine.messages()), 300)
        self.assertGreaterEqual(len(engine.changes(AssocChange.COMM_UP)), 2)

    @defer.inlineCallbacks
    def test_noListener(self) -> Any:
        """
        An INIT to a kernel port nobody listens on is answered with ABORT:
        CANT_STR_ASSOC at once, not after the INIT retries.
        """
        engine = EngineSide(self, 15071)
        engine.do(lambda ep, now: ep.connect("127.0.0.1", 15072, now))
        yield waitFor(lambda: engine.changes(AssocChange.CANT_STR_ASSOC), timeout=2, what="CANT_STR_ASSOC")
        self.assertEqual(engine.changes(AssocChange.CANT_STR_ASSOC)[0].reason, "peer abort")
        self.assertEqual(engine.endpoint.associations(), [])

    @defer.inlineCallbacks
    def test_abortBothWays(self) -> Any:
        """
        The engine's ABORT resets the kernel's socket; the kernel's ABORT
        (close with linger 0) is COMM_LOST on the engine.
        """
        engine = EngineSide(self, 15064)
        for who in ("engine", "kernel"):
            s = _kernelSocket()
            self.addCleanup(s.close)
            yield threads.deferToThread(s.connect, ("127.0.0.1", 15064))
            yield waitFor(lambda: len(engine.changes(AssocChange.COMM_UP)) == (1 if who == "engine" else 2), what="COMM_UP")
            aid = engine.changes(AssocChange.COMM_UP)[-1].assocID
            if who == "engine":
                engine.do(lambda ep, now: ep.abort(aid, now, b"test"))
                with self.assertRaises(OSError) as e:
                    yield threads.deferToThread(_recvMessage, s)
                self.assertEqual(e.exception.errno, errno.ECONNRESET)
            else:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                yield waitFor(lambda: len(engine.changes(AssocChange.COMM_LOST)) == 2, what="COMM_LOST on the engine")
                self.assertEqual(engine.changes(AssocChange.COMM_LOST)[-1].reason, "peer abort")
        self.assertEqual(engine.endpoint.associations(), [])

    def netem(self, *args: str) -> None:
        """
        Put netem on loopback for the rest of the test.
        """
        try:
            subprocess.run(["tc", "qdisc", "replace", "dev", "lo", "root", "netem", *args], check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            self.fail("netem unavailable in the guest: {}".format(e))
        self.addCleanup(subprocess.run, ["tc", "qdisc", "del", "dev", "lo", "root"], stderr=subprocess.DEVNULL)

    @defer.inlineCallbacks
    def test_kernelGoesSilent(self) -> Any:
        """
        When the kernel peer stops answering (all packets lost), the engine's
        unacknowledged message exhausts asocmaxrxt: SEND_FAILED, COMM_LOST.
        """
        listener = _kernelSocket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 15066))
        listener.listen(5)
        accepted = threads.deferToThread(listener.accept)
        cfg = EngineConfig(rtoMin=0.05, rtoInitial=0.2, rtoMax=0.4, hbInterval=None, assocMaxRetrans=3)
        engine = EngineSide(self, 15067, config=cfg)
        aid = engine.do(lambda ep, now: ep.connect("127.0.0.1", 15066, now))
        conn, _ = yield accepted
        self.addCleanup(conn.close)
        yield waitFor(lambda: engine.changes(AssocChange.COMM_UP), what="COMM_UP")
        self.netem("loss", "100%")
        engine.do(lambda ep, now: ep.send(aid, b"into the void", now))
        yield waitFor(lambda: engine.changes(AssocChange.COMM_LOST), timeout=20, what="COMM_LOST")
        self.assertEqual(engine.changes(AssocChange.COMM_LOST)[0].reason, "retransmissions exceeded")
        self.assertEqual([e.data for e in engine.events if isinstance(e, SendFailed)], [b"into the void"])

    @defer.inlineCallbacks
    def test_kernelRestarts(self) -> Any:
        """
        The kernel peer loses its association without the engine hearing
        (its ABORT is lost) and connects again from the same port: the
        engine restarts the live association (RESTART) and data flows.
        """
        engine = EngineSide(self, 15068)
        s = _kernelSocket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 15069))
        yield threads.deferToThread(s.connect, ("127.0.0.1", 15068))
        yield waitFor(lambda: engine.changes(AssocChange.COMM_UP), what="COMM_UP")
        self.netem("loss", "100%")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=True)
        s2 = _kernelSocket()
        self.addCleanup(s2.close)
        s2.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s2.bind(("127.0.0.1", 15069))
        yield threads.deferToThread(s2.connect, ("127.0.0.1", 15068))
        yield waitFor(lambda: engine.changes(AssocChange.RESTART), what="RESTART on the engine")
        self.assertEqual(len(engine.endpoint.associations()), 1)
        yield threads.deferToThread(s2.sendall, b"after restart")
        yield waitFor(lambda: engine.messages(), what="a message after the restart")
        self.assertEqual(engine.messages()[0].data, b"after restart")

    @defer.inlineCallbacks
    def test_lossyPath(self) -> Any:
        """
        With 10% loss and 5 ms delay on loopback (netem), 100 messages and
        one of 200 KB each way all arrive, in order.
        """
        self.netem("loss", "10%", "delay", "5ms")
        engine = EngineSide(self, 15065, echo=True)
        payloads = [(b"%03d" % i) * (1 + i * 7) for i in range(100)] + [os.urandom(200000)]
        a = yield self.echoedThroughKernel(engine, 15065, payloads)
        self.assertGreater(a.sender.retransmissions, 0)

    @defer.inlineCallbacks
    def echoedThroughKernel(self, engine: EngineSide, port: int, payloads: List[bytes]) -> Any:
        """
        A kernel client connects to C{engine} on C{port}, sends C{payloads}
        and reads every echo: both ends got every message, in order.

        @return: (a Deferred of) the engine's association.
        """
        s = _kernelSocket()
        self.addCleanup(s.close)
        yield threads.deferToThread(s.connect, ("127.0.0.1", port))

        def exchange() -> List[bytes]:
            for p in payloads:
                s.sendall(p)
            return [_recvMessage(s) for _ in payloads]

        echoed = yield threads.deferToThread(exchange)
        self.assertEqual(echoed, payloads)
        self.assertEqual([m.data for m in engine.messages()], payloads)
        a = engine.endpoint.associations()[0]
        assert a.sender is not None
        return a

    @defer.inlineCallbacks
    def test_lossyPathBundled(self) -> Any:
        """
        With our mtu at 65000 and the echoes packetized together (several
        DATA chunks to a packet), the kernel accepts our packets, and with
        10% loss and 5 ms delay on loopback 200 messages of 1 KB each way
        all arrive, in order.
        """
        self.netem("loss", "10%", "delay", "5ms")
        engine = EngineSide(self, 15066, echo=True, config=EngineConfig(rtoMin=0.05, rtoInitial=0.3, hbInterval=None, mtu=65000))
        engine.flush = False
        perPacket: List[int] = []
        write = engine.port.write

        def tap(datagram: bytes, addr: Any) -> Any:
            perPacket.append(sum(isinstance(c, C.DataChunk) for c in C.decodePacket(datagram).chunks))
            return write(datagram, addr)

        engine.port.write = tap
        a = yield self.echoedThroughKernel(engine, 15066, [(b"%04d" % i) * 256 for i in range(200)])
        # The kernel took packets of several DATA chunks.
        self.assertGreater(max(perPacket), 1)
        self.assertGreater(a.sender.retransmissions, 0)
