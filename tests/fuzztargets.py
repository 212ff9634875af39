# -*- test-case-name: tests.test_fuzz -*-
"""
Fuzz targets: each takes arbitrary bytes and raises only when it finds a bug
(an exception the code under test must never raise, or a broken property).
The same targets run under hypothesis in CI (C{tests/test_fuzz.py}) and
under atheris for the long run (C{scripts/fuzz}, C{make fuzz}); a crash
found there becomes a regression input in C{tests/test_fuzz.py}.

Targets:
  - C{notifications}: L{decodeNotification} returns a notification that
    re-packs to bytes decoding the same, or raises L{CodecError}.
  - C{options}: the socket option codec (every struct's C{unpack} then
    C{pack} round trip, address lists, ancillary data) and
    L{SCTPOptions.fromMapping} / L{changeOption} with random names and
    values: a result or L{OptionError}, never anything else.
  - C{sip}: L{parseMessage} returns a message whose accessors work and that
    survives C{toBytes}, or raises L{SIPParseError}.
  - C{port}: scripted kernel input (notifications, data, partial pieces,
    errors) and application sends through an L{SCTPPort} over
    L{twisted_sctp.testing.FakeKernel}: C{doRead}/C{doWrite} never raise,
    nothing is logged as an unexpected failure, and every complete message
    fed is delivered or counted as a drop.
  - C{engine}: up to four SCTP packets (their CRC32c made right, so they
    reach the chunk parser and the state machine, unless the first byte
    asks for the bytes as they are) at a live association of the
    user-space engine or from an unknown peer, then its timers run:
    C{receiveDatagram} never raises, every packet is counted, and no more
    than one association per peer exists.
  - C{proxy}: up to four SIP messages from one association into the
    stateless proxy (default settings, no C{allow_internal}): requests
    whose Request-URI, Route or registered Contact names a host drawn
    from internal (loopback, unspecified, link-local, multicast, our own)
    and ordinary addresses, and responses whose top Via names us with a
    made-up seal.  Nothing is ever sent to an internal address, no
    response is forwarded (no seal of ours can be made up), nothing is
    logged as an unexpected failure.
"""

from __future__ import annotations

import contextlib
import errno
import pickle
import random
import struct
from typing import Any, Callable, Dict, Iterator, List, Optional

from twisted_sctp.error import OptionError
from twisted_sctp.kernel.notifications import decodeNotification
from twisted_sctp.transport.options import OPTION_NAMES, SCTPOptions, changeOption
from twisted_sctp.sip.message import LocalSIPError, SIPParseError, SIPRequest, SIPResponse, makeResponse
from twisted_sctp.sip.headers import DIALOG_HEADERS, canonicalName
from twisted_sctp.sip.parser import parseMessage
from twisted_sctp.kernel.sockopt import (
    AssocParams,
    AssocValue,
    CodecError,
    Event,
    EventSubscribe,
    InitMsg,
    PeerAddrInfo,
    PeerAddrParams,
    PRInfo,
    RcvInfo,
    RTOInfo,
    SackInfo,
    SndInfo,
    SndRcvInfo,
    Status,
    parseAncillary,
    unpackAddrList,
    unpackAssocIDList,
    unpackSockaddr,
    unpackSockaddrs,
)


class ByteSource:
    """
    Draws values from a byte string, deterministically, padding with zeros
    when it runs out (so every input is a valid script).
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return max(0, len(self.data) - self.pos)

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk + bytes(n - len(chunk))

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "little")

    def sint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "little", signed=True)

    def choice(self, items: List[Any]) -> Any:
        return items[self.uint(1) % len(items)]

    def blob(self, maxLength: int) -> bytes:
        return self.take(self.uint(2) % (maxLength + 1))

    def text(self, maxLength: int) -> str:
        return self.blob(maxLength).decode("utf-8", "replace")


# -- notifications -------------------------------------------------------------


def notificationsTarget(data: bytes) -> None:
    try:
        note = decodeNotification(data)
    except CodecError:
        return
    again = decodeNotification(note.pack())
    if again != note:
        raise AssertionError("re-packed notification decodes differently: {!r} != {!r}".format(again, note))


# -- the option codec and the option rules ---------------------------------------

_STRUCTS: List[Any] = [SndRcvInfo, SndInfo, RcvInfo, PRInfo, RTOInfo, AssocParams, InitMsg, SackInfo, AssocValue, Event,
                       EventSubscribe, PeerAddrParams, PeerAddrInfo, Status]

_NAMES = list(OPTION_NAMES) + ["sctp_" + n for n in OPTION_NAMES] + [n.upper().replace("_", "-") for n in OPTION_NAMES]

_SPECIAL_VALUES: List[Any] = [
    0, 1, -1, 2, 9, 10, 100, 500, 1024, 1025, 65535, 65536, 2 ** 30, 2 ** 30 + 1, 2 ** 31, 2 ** 32, 2 ** 63, -(2 ** 31),
    True, False, None, 1.0, 1.5, float("nan"), float("inf"), -0.0, 1e300, "", " ", "12", " 12 ", "+5", "-1", "0x10",
    "1e3", "1_000", "\u0661\u0662", "12abc", b"12", b"\xff", [], {}, (), "9" * 5000,
]


def _value(src: ByteSource) -> Any:
    kind = src.uint(1) % 6
    if kind == 0:
        return src.choice(_SPECIAL_VALUES)
    if kind == 1:
        return src.sint(src.choice([1, 2, 4, 8]))
    if kind == 2:
        return str(src.sint(4))
    if kind == 3:
        return src.text(12)
    if kind == 4:
        return struct.unpack("d", src.take(8))[0]
    return src.blob(12)


def _name(src: ByteSource) -> str:
    if src.uint(1) % 4 == 0:
        return src.text(24)
    return str(src.choice(_NAMES))


def optionsTarget(data: bytes) -> None:
    src = ByteSource(data)
    # The struct codec: unpack then pack round trips to the same value.
    cls = src.choice(_STRUCTS)
    raw = src.blob(200)
    try:
        value = cls.unpack(raw)
    except CodecError:
        value = None
    if value is not None:
        again = cls.unpack(value.pack())
        if again != value:
            raise AssertionError("{} round trip: {!r} != {!r}".format(cls.__name__, again, value))
    for decode in (unpackSockaddr, unpackSockaddrs, unpackAddrList, unpackAssocIDList):
        try:
            decode(raw)
        except CodecError:
            pass
    try:
        parseAncillary([(src.uint(2) % 140, src.uint(1) % 12, src.blob(64)) for _ in range(src.uint(1) % 3)])
    except CodecError:
        pass
    # The option rules: a result or OptionError, nothing else.
    mapping: Dict[str, Any] = {}
    for _ in range(src.uint(1) % 8):
        mapping[_name(src)] = _value(src)
    try:
        options: Optional[SCTPOptions] = SCTPOptions.fromMapping(mapping)
    except OptionError:
        options = None
    if options is not None:
        for prefixed in (False, True):
            if SCTPOptions.fromMapping(options.asDict(prefixed)) != options:
                raise AssertionError("asDict/fromMapping round trip broke for {!r}".format(options))
    try:
        change = changeOption(options or SCTPOptions(), _name(src), _value(src))
    except OptionError:
        return
    SCTPOptions.fromMapping(change.options.asDict())


# -- SIP -------------------------------------------------------------------------

_ACCESSORS = ("vias", "topVia", "branch", "fromAddr", "toAddr", "fromTag", "toTag", "callID", "cseq",
              "maxForwards", "contacts", "expires", "routes", "recordRoutes", "contentLength")


def sipTarget(data: bytes) -> None:
    try:
        message = parseMessage(data)
    except SIPParseError:
        return
    for accessor in _ACCESSORS:
        getattr(message, accessor)
    again = parseMessage(message.toBytes())
    if again.body != message.body:
        raise AssertionError("body changed through toBytes")
    if isinstance(message, SIPRequest):
        # Our stateless answer (the one response builder), the message's
        # own header lines as extras (less those a response copies): a SIP
        # error, or bytes that read back as a response with the request's
        # Via lines.
        extra = [line for line in message.headers[:2] if canonicalName(line[0]) not in DIALOG_HEADERS]
        answer = _outcome(lambda: makeResponse(message, 200, None, extra, b"", "t").toBytes())
        if isinstance(answer, bytes):
            response = parseMessage(answer)
            if not isinstance(response, SIPResponse) or response.getHeaders("via") != message.getHeaders("via"):
                raise AssertionError("makeResponse().toBytes() does not read back with the request's Vias")


def _outcome(call: Callable[[], bytes]) -> Any:
    try:
        return call()
    except (SIPParseError, LocalSIPError) as e:
        return type(e), str(e)


# -- the port's receive path -------------------------------------------------------

_PEERS = [("127.0.0.2", 5070), ("127.0.0.3", 5071), ("::1", 5072), ("127.0.0.2", 0), None]


class _FuzzProtocol:
    """Counts messages; answers some of them (sends from inside doRead)."""

    def __init__(self, port: Any, reply: bool) -> None:
        self.port = port
        self.reply = reply
        self.transport: Any = None
        self.messages = 0

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport

    def messageReceived(self, message: Any) -> None:
        self.messages += 1
        if self.reply and self.transport is not None and self.transport.connected:
            try:
                self.transport.write(message.payload[:64])
            except Exception as e:  # counted refusals (queue full, ...) are fine
                if type(e).__name__ not in ("SendQueueFullError", "AssociationLimitError", "UnknownAssociationError", "NotListeningError") and not isinstance(e, OSError):
                    raise

    def connectionLost(self, reason: Any) -> None:
        self.transport = None


@contextlib.contextmanager
def _noLoggedFailure(what: str) -> Iterator[None]:
    """
    Run the block with an observer of the global log; if anything in it
    logged a failure, raise after it.

    @param what: the part under test, for the message.
    @raise AssertionError: a failure was logged.
    """
    from twisted.logger import globalLogPublisher

    failures: List[Any] = []

    def observe(event: Dict[str, Any]) -> None:
        if "log_failure" in event:
            failures.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        yield
    finally:
        globalLogPublisher.removeObserver(observe)
    if failures:
        raise AssertionError("{} logged an unexpected failure: {}".format(what, failures[0]["log_failure"].getTraceback()))


def portTarget(data: bytes) -> None:
    from twisted.internet.protocol import Factory
    from twisted.internet.testing import MemoryReactorClock

    from twisted_sctp.kernel.notifications import AssocChange, PeerAddrChange, SendFailed, ShutdownEvent, PartialDeliveryEvent
    from twisted_sctp.transport.port import SCTPPort
    from twisted_sctp.testing import FakeKernel

    src = ByteSource(data)
    options = SCTPOptions(send_retries=src.uint(1) % 3, max_assocs=src.choice([-1, 1, 2, 5]), assoc_tracking=1, assoc_reuse=1)
    kernel = FakeKernel()
    factory = Factory()
    reply = bool(src.uint(1) & 1)
    protocols: List[_FuzzProtocol] = []

    def build(addr: Any) -> Any:
        if src.uint(1) % 16 == 0:
            return None  # refused by the factory
        p = _FuzzProtocol(port, reply)
        protocols.append(p)
        return p

    factory.buildProtocol = build  # type: ignore[method-assign]
    port = SCTPPort(5060, factory, ["127.0.0.1"], options, MemoryReactorClock(), kernel=kernel)
    port.maxMessageSize = src.choice([256, 4096, 1 << 20])
    port.readBufferSize = src.choice([64, 1024, 65536])
    port.maxQueuedMessages = src.choice([2, 100])
    sock = kernel.socket
    with _noLoggedFailure("the port"):
        port.startListening()
        complete = 0
        steps = src.uint(1) % 40
        for _ in range(steps):
            if not src.remaining():
                break
            op = src.uint(1) % 12
            assocID = src.uint(1) % 4
            peer = src.choice(_PEERS)
            if peer is not None and assocID and assocID not in kernel.peers:
                kernel.peers[assocID] = [peer]
            eor = src.uint(1) % 4 != 0
            if op == 0:
                raw = src.blob(300)
                sock.feedNotification(raw, peer, eor=eor)
            elif op in (1, 2, 3):
                payload = src.blob(600)
                sock.feedData(payload, assocID, peer or ("127.0.0.9", 5099), stream=src.uint(2), ppid=src.uint(4), eor=eor, flags=src.uint(2))
            elif op == 4:
                sock.feedNotification(AssocChange(state=src.uint(1) % 6, error=src.uint(2), assocID=assocID, info=src.blob(40)), peer, eor=eor)
            elif op == 5:
                sock.feedNotification(PeerAddrChange(address=src.choice([p for p in _PEERS if p]), state=src.uint(1) % 8, error=src.uint(1), assocID=assocID), peer, eor=eor)
            elif op == 6:
                info = SndRcvInfo(stream=src.uint(2), flags=src.uint(2), ppid=src.uint(4), context=src.uint(4), assocID=assocID)
                sock.feedNotification(SendFailed(flags=src.uint(1) % 2, error=src.choice([0, 0, 3072, src.uint(4)]), info=info, assocID=assocID, data=src.blob(100)), peer, eor=eor)
            elif op == 7:
                sock.feedNotification(src.choice([ShutdownEvent(assocID=assocID), PartialDeliveryEvent(indication=src.uint(1) % 2, assocID=assocID)]), peer, eor=eor)
            elif op == 8:
                sock.feedError(src.choice([errno.EAGAIN, errno.EINTR, errno.ECONNRESET, errno.ENOBUFS, errno.EBADF]))
            elif op == 9:
                sock.blocked = bool(src.uint(1) & 1)
                port.doWrite()
            elif op == 10:
                target = src.choice([assocID, peer or ("127.0.0.4", 5090)] + [a for a in port.registry][:1])
                try:
                    port.sendMessage(src.blob(80), target, stream=src.uint(1), ttl=src.choice([None, 0, 10]))
                except Exception as e:
                    if type(e).__name__ not in ("SendQueueFullError", "AssociationLimitError", "UnknownAssociationError", "NotListeningError") and not isinstance(e, (OSError, ValueError)):
                        raise
            else:
                sock.sendErrors.append(OSError(src.choice([errno.EPIPE, errno.EINVAL, errno.ECONNRESET, errno.EAGAIN]), "scripted"))
            if op <= 7 and eor:
                complete += 1
            if src.uint(1) % 3 == 0 or not src.remaining():
                result = port.doRead()
                if result is not None:
                    port.connectionLost(result)
                    break
        if port.connected:
            while sock.incoming:
                before = len(sock.incoming)
                result = port.doRead()
                if result is not None:
                    port.connectionLost(result)
                    break
                if len(sock.incoming) == before:
                    break
    stats = port.stats
    accounted = stats.messages_in + stats.notifications_in + sum(
        stats.drops.get(r, 0) for r in ("source_port_zero", "no_sndrcvinfo", "rejected_association", "oversize")
    )
    if port.connected and accounted < complete - len(sock.incoming):
        raise AssertionError("{} complete messages fed, only {} delivered or counted: {}".format(complete, accounted, port.snapshot()))
    if port.registry.opened < 0:
        raise AssertionError("negative open count")


#: The engine target's timers: short, so that every one of them fires
#: within L{_ENGINE_RUN} simulated seconds after the input: T1 gives up
#: after 0.2 + 0.4 + 0.8 s, T3 reaches COMM_LOST after 0.2 + 0.4 + 0.5 +
#: 0.5 s, one round of heartbeats goes at 1.2 s.
_ENGINE_RUN = 2.0
#: The connected pair every input starts from, pickled: unpickling it (C
#: code) costs a fraction of a handshake in instrumented Python, and every
#: input starts from the same state, so a crash replays from its input.
_ENGINE_PAIR: Optional[bytes] = None


class _SeededRandom(random.Random):
    """
    A C{random.Random} that pickles as its seed: unpickling a plain one
    seeds it from C{os.urandom} and then loads its 625-word state, a third
    of the engine target's fixed cost per input.  Every input still starts
    from the same state.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self._seed = seed

    def __reduce__(self) -> Any:
        return (type(self), (self._seed,))


def engineTarget(data: bytes) -> None:
    from twisted_sctp.engine import chunks as C
    from twisted_sctp.engine.config import EngineConfig
    from twisted_sctp.engine.testing import EnginePair

    global _ENGINE_PAIR
    if _ENGINE_PAIR is None:
        fresh = EnginePair(EngineConfig(rtoMin=0.1, rtoInitial=0.2, rtoMax=0.5, hbInterval=1.0, assocMaxRetrans=3, maxInitRetransmits=2))
        fresh.connect()
        for seed, endpoint in enumerate((fresh.a, fresh.b), 11):
            endpoint._rng = _SeededRandom(seed)
        _ENGINE_PAIR = pickle.dumps(fresh, pickle.HIGHEST_PROTOCOL)
    src = ByteSource(data)
    p: EnginePair = pickle.loads(_ENGINE_PAIR)
    target = p.b
    fed = 0
    for _ in range(1 + src.uint(1) % 4):
        if not src.remaining():
            break
        mode = src.uint(1)
        assocs = target.associations()
        vtag = (assocs[0].myTag if assocs else 1, 0, src.uint(4), 1)[mode % 4]
        srcPort = src.choice([5060, 5060, 5061, 0])
        body = src.blob(1500)
        raw = body if mode & 0x80 else C.encodeRaw(srcPort, 5060, vtag, [body])
        target.receiveDatagram(raw, src.choice(["10.0.0.1", "10.0.0.3"]), 9899, p.now)
        fed += 1
    p.run(limit=p.now + _ENGINE_RUN)
    if target.stats["packets_in"] < fed:
        raise AssertionError("{} packets fed, {} counted".format(fed, target.stats["packets_in"]))
    peers = [a.peer for a in target.associations()]
    if len(peers) != len(set(peers)):
        raise AssertionError("two associations with one peer: {}".format(peers))


# -- the proxy's forwarding decision ----------------------------------------------

_OUR_HOSTS = ("127.0.0.1", "127.0.0.4")
_PROXY_HOSTS = [
    "127.0.0.1", "127.0.0.4", "127.9.8.7", "0.0.0.0", "[::1]", "[::]", "169.254.3.4", "224.0.0.5",
    "[fe80::1]", "[::ffff:127.0.0.1]", "[ff02::1]", "10.0.0.1", "192.0.2.7", "[2001:db8::7]", "example.com",
]


def _internalHost(host: str) -> bool:
    import ipaddress

    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return any(a.is_loopback or a.is_unspecified or a.is_link_local or a.is_multicast or str(a) in _OUR_HOSTS
               for a in ((address, mapped) if mapped is not None else (address,)))


def _proxyURI(src: ByteSource, user: str = "x") -> str:
    mode = src.uint(1)
    if mode % 8 == 7:
        host = ".".join(str(b) for b in src.take(4))
    else:
        host = src.choice(_PROXY_HOSTS)
    uri = "sip:{}{}".format(user + "@" if user else "", host)
    if mode & 0x10:
        uri += ":{}".format(src.choice([5060, 5061, 6000, src.uint(2)]))
    if mode & 0x20:
        uri += ";transport=" + src.choice(["udp", "sctp", "UDP", "tcp"])
    return uri


def proxyTarget(data: bytes) -> None:
    from twisted.internet.testing import MemoryReactorClock

    from twisted_sctp.sip.server import ServerSettings
    from twisted_sctp.tap import SIPService
    from twisted_sctp.testing import FakeKernel, commUp

    src = ByteSource(data)
    kernel = FakeKernel()
    service = SIPService(MemoryReactorClock(), [(list(_OUR_HOSTS), 5060)], kernel=kernel, serverSettings=ServerSettings(domains=("example.com",)))
    written: List[Any] = []

    class _UDP:
        def write(self, payload: bytes, addr: Any) -> None:
            written.append((payload, addr))

        def stopListening(self) -> None:
            pass

    peer = ("10.1.1.1", 5070)
    try:
        with _noLoggedFailure("the proxy"):
            service.startService()
            service.transport.listeners[0].udp = _UDP()
            kernel.peers[7] = [peer]
            kernel.socket.feedNotification(commUp(7), peer)
            service.ports[0].doRead()
            for n in range(1 + src.uint(1) % 4):
                kind = src.uint(1) % 4
                via = "SIP/2.0/SCTP 10.1.1.1:5070;branch=z9hG4bK{}".format(n)
                if kind == 3:
                    seal = src.text(24).replace("\r", "").replace("\n", "")
                    lines = ["SIP/2.0 200 OK", "Via: SIP/2.0/SCTP 127.0.0.1:5060;branch=z9hG4bK{};tsig={}".format(src.text(8), seal),
                             "Via: SIP/2.0/UDP {};branch=z9hG4bKv".format(_proxyURI(src, "")[4:])]
                elif kind == 2:
                    lines = ["REGISTER sip:127.0.0.1 SIP/2.0", "Via: " + via, "To: <sip:bob@127.0.0.1>",
                             "Contact: <{}>".format(_proxyURI(src, "bob")), "Expires: 300"]
                else:
                    uri = "sip:bob@127.0.0.1" if kind == 1 else _proxyURI(src)
                    lines = ["{} {} SIP/2.0".format(src.choice(["INVITE", "MESSAGE", "OPTIONS"]), uri), "Via: " + via, "To: <{}>".format(uri)]
                    for _ in range(src.uint(1) % 3):
                        lines.append("Route: <{};lr>".format(_proxyURI(src, "")))
                lines += ["From: <sip:alice@example.com>;tag=a", "Call-ID: c{}".format(n), "CSeq: {} {}".format(n + 1, "REGISTER" if kind == 2 else "INVITE"),
                          "Max-Forwards: {}".format(src.choice([70, 1, 0, 999999999]))]
                extra = src.text(40)
                if extra and src.uint(1) & 1:
                    lines.append(extra)
                kernel.socket.feedData(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode("utf-8", "surrogateescape"), 7, peer)
                service.ports[0].doRead()
    finally:
        service.stopService()
    out = [(payload, addr) for payload, _, addr in kernel.socket.sent] + written
    for payload, addr in out:
        if addr is not None and not payload.startswith(b"SIP/2.0 ") and _internalHost(addr[0]):
            raise AssertionError("a request was sent to the internal address {}".format(addr))
    if service.server.counters["responses_forwarded"]:
        raise AssertionError("a response with a made-up seal was forwarded")


TARGETS: Dict[str, Callable[[bytes], None]] = {
    "notifications": notificationsTarget,
    "options": optionsTarget,
    "sip": sipTarget,
    "port": portTarget,
    "engine": engineTarget,
    "proxy": proxyTarget,
}
