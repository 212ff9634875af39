#!/usr/bin/env python3
# -*- test-case-name: tests.faultlab.test_faults -*-
"""
The fault lab's peer program, run inside a network namespace:

    ip netns exec NS python tests/faultlab/peer.py --mode echo --listen A1,A2 --port 5060
    ... --mode sink  --listen A1 --port 5060 --pause-after 200 --pause-for 10
    ... --mode client --to B1,B2 --to-port 5060 --count 1000 --window 20 --sip
    ... --mode flood --pairs SRC=DST,SRC=DST --to-port 5060 --attempts 500

It uses our L{SCTPPort}.  While it runs it rewrites a JSON status file
(C{--status}); when it ends (SIGTERM, or a client's work done) it prints its
figures as one JSON line on stdout.

Modes:
  - C{echo}: send every message back on its association (C{--sip}: answer
    each SIP request with a 200 built by L{twisted_sctp.sip.message}).
  - C{sink}: count messages (each starts with an 8-digit sequence number),
    stop reading for C{--pause-for} seconds after C{--pause-after} messages.
  - C{client}: send C{--count} messages (SIP OPTIONS with C{--sip}) with at
    most C{--window} unanswered, count the answers, exit.
  - C{flood}: C{--attempts} associations from new ports on the C{--pairs}
    source addresses, C{--batch} at a time; record which are rejected for
    max_assocs; ping the survivors; hold them until SIGTERM.

The protocol classes are importable (C{tests.faultlab.peer}) so that the
fault tests run the same client and responders in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

if __name__ == "__main__":  # run as a script: make the checkout importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from twisted.internet import defer, task
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from twisted_sctp.transport.address import SCTPAddress
from twisted_sctp.kernel.constants import AssocChangeState, SendFlags
from twisted_sctp.error import SCTPError
from twisted_sctp.kernel.notifications import AssocChange
from twisted_sctp.transport.options import SCTPOptions
from twisted_sctp.transport.port import MAX_ASSOCS_REASON, SCTPEvent, SCTPMessage, SCTPPort, listenSCTP
from twisted_sctp.sip.message import (
    SIPParseError,
    SIPRequest,
    SIPResponse,
    makeResponse,
    newTag,
    parseMessage,
    prependVia,
)

# -- SIP -----------------------------------------------------------------------


def optionsRequest(n: int, local: Tuple[str, int], target: Tuple[str, int], tag: str) -> bytes:
    """
    @return: the bytes of SIP OPTIONS number C{n} (Call-ID C{fl-<tag>-<n>}).
    """
    request = SIPRequest(
        "OPTIONS",
        "sip:{}:{};transport=sctp".format(*target),
        [
            ("Max-Forwards", "70"),
            ("From", "<sip:faultlab@{}:{}>;tag={}".format(local[0], local[1], tag)),
            ("To", "<sip:{}:{}>".format(*target)),
            ("Call-ID", "fl-{}-{}".format(tag, n)),
            ("CSeq", "{} OPTIONS".format(n + 1)),
            ("Accept", "application/sdp"),
        ],
    )
    prependVia(request, local[0], local[1])
    return request.toBytes()


def transactionOf(response: bytes, tag: str) -> Optional[Tuple[int, int]]:
    """
    @return: C{(transaction number, status code)} of a response to one of
        our requests, or C{None} if it is not one.
    """
    try:
        message = parseMessage(response)
    except SIPParseError:
        return None
    if not isinstance(message, SIPResponse):
        return None
    callID = message.callID or ""
    prefix = "fl-{}-".format(tag)
    if not callID.startswith(prefix) or not callID[len(prefix):].isdigit():
        return None
    return int(callID[len(prefix):]), message.code


# -- protocols -------------------------------------------------------------------


class Counting(Protocol):
    """
    Counts messages and remembers how its association ended.
    """

    def __init__(self) -> None:
        self.received = 0
        self.lost: Optional[Failure] = None

    def messageReceived(self, message: SCTPMessage) -> None:
        self.received += 1
        self.factory.received += 1  # type: ignore[attr-defined]
        self.handle(message)

    def handle(self, message: SCTPMessage) -> None:
        pass

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost = reason
        self.factory.lost += 1  # type: ignore[attr-defined]


class Echo(Counting):
    """
    Echo each message (unordered if it came unordered); with the factory's
    C{sip} set, answer SIP requests with 200 OK instead.
    """

    def handle(self, message: SCTPMessage) -> None:
        payload = message.payload
        factory = self.factory  # type: ignore[attr-defined]
        if factory.sip:
            try:
                request = parseMessage(payload)
            except SIPParseError:
                request = None
            if isinstance(request, SIPRequest):
                payload = makeResponse(request, 200, toTag=factory.toTag).toBytes()
                factory.answered += 1
        try:
            self.transport.writeMessage(  # type: ignore[attr-defined]
                payload, stream=message.stream, unordered=bool(message.flags & SendFlags.UNORDERED)
            )
        except SCTPError as e:
            factory.sendErrors[type(e).__name__] = factory.sendErrors.get(type(e).__name__, 0) + 1


class Sink(Counting):
    """
    Count messages; check their 8-digit sequence numbers (per association).
    """

    def __init__(self) -> None:
        super().__init__()
        self.expected = 0

    def handle(self, message: SCTPMessage) -> None:
        factory = self.factory  # type: ignore[attr-defined]
        head = message.payload[:8]
        if head.isdigit():
            seq = int(head)
            if seq != self.expected:
                factory.outOfOrder += 1
            self.expected = seq + 1
            factory.lastSeq = seq
        factory.bytes += len(message.payload)
        factory.onMessage()


class PeerFactory(Factory):
    """
    Builds one protocol class, shares the counters.
    """

    def __init__(self, protocol: Any, sip: bool = False) -> None:
        self.protocol = protocol
        self.sip = sip
        self.toTag = newTag()
        self.received = 0
        self.answered = 0
        self.lost = 0
        self.bytes = 0
        self.outOfOrder = 0
        self.lastSeq = -1
        self.sendErrors: Dict[str, int] = {}
        self.client: Any = None
        self.built: List[Any] = []
        self.onMessage: Callable[[], None] = lambda: None

    def buildProtocol(self, addr: Any) -> Any:
        p = self.protocol()
        p.factory = self
        self.built.append(p)
        return p


class TransactionClient:
    """
    Sends numbered messages to C{target} (by address: the association to it,
    or a new one if that ended) and records the answers: SIP OPTIONS if
    C{sip}, else 8-digit numbered payloads echoed back.

    With C{interval} 0 it keeps at most C{window} unanswered; otherwise it
    sends one message every C{interval} seconds whatever is answered (until
    C{count}, or L{stopSending}).

    @ivar answered: transaction number -> status (200, or 0 for an echo).
    @ivar duplicates: answers seen twice.
    @ivar refused: sends that raised at once (counted by exception name).
    @ivar sentAt: transaction number -> when it was sent (monotonic).
    """

    def __init__(
        self,
        port: SCTPPort,
        target: SCTPAddress,
        count: int,
        window: int = 20,
        sip: bool = True,
        size: int = 0,
        tag: Optional[str] = None,
        interval: float = 0.0,
        clock: Any = None,
    ) -> None:
        self.port = port
        self.target = target
        self.count = count
        self.window = window
        self.sip = sip
        self.size = size
        self.interval = interval
        self.clock = clock
        self.tag = tag or newTag()[:8]
        self.sent = 0
        self.answered: Dict[int, int] = {}
        self.refusedIDs: Set[int] = set()
        self.sentAt: Dict[int, float] = {}
        self.duplicates = 0
        self.refused: Dict[str, int] = {}
        self.done: defer.Deferred[None] = defer.Deferred()
        self.started = 0.0
        self.finished = 0.0
        self._loop: Optional[task.LoopingCall] = None

    def payload(self, n: int) -> bytes:
        if self.sip:
            host = self.port.getHost()
            return optionsRequest(n, (host.host, host.port), (self.target.host, self.target.port), self.tag)
        return b"%08d" % n + b"." * max(0, self.size - 8)

    def start(self) -> defer.Deferred[None]:
        """
        Begin sending; the port's factory must be a L{PeerFactory} of
        L{Answers} whose C{client} is this.

        @return: a Deferred firing once C{count} messages were sent and all
            of them answered (or refused).
        """
        self.started = time.monotonic()
        if self.interval:
            self._loop = task.LoopingCall(self.sendOne)
            if self.clock is not None:
                self._loop.clock = self.clock
            self._loop.start(self.interval)
        else:
            self.pump()
        return self.done

    def stopSending(self) -> None:
        """Send nothing more (paced mode); C{count} becomes what was sent."""
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.count = self.sent
        self.check()

    def outstanding(self) -> int:
        return self.sent - len(self.answered) - len(self.refusedIDs)

    def sendOne(self) -> None:
        if self.sent >= self.count:
            if self._loop is not None and self._loop.running:
                self._loop.stop()
            self.check()
            return
        n = self.sent
        self.sent += 1
        self.sentAt[n] = time.monotonic()
        try:
            self.port.sendMessage(self.payload(n), self.target, unordered=True)
        except (SCTPError, OSError) as e:
            name = type(e).__name__
            self.refused[name] = self.refused.get(name, 0) + 1
            self.refusedIDs.add(n)  # refused at once: counted, never waited for
        self.check()

    def pump(self) -> None:
        while not self.interval and self.sent < self.count and self.outstanding() < self.window:
            self.sendOne()
        self.check()

    def answer(self, payload: bytes) -> None:
        if self.sip:
            found = transactionOf(payload, self.tag)
            if found is None:
                return
            n, code = found
        else:
            if not payload[:8].isdigit():
                return
            n, code = int(payload[:8]), 0
        if n in self.answered:
            self.duplicates += 1
        else:
            self.answered[n] = code
        self.pump()

    def check(self) -> None:
        if self.sent >= self.count and len(self.answered) + len(self.refusedIDs) >= self.count and not self.done.called:
            self.finished = time.monotonic()
            self.done.callback(None)

    def unanswered(self) -> List[int]:
        """@return: the numbers sent (not refused) that got no answer yet."""
        return [n for n in range(self.sent) if n not in self.answered and n not in self.refusedIDs]

    def figures(self) -> Dict[str, Any]:
        refused = len(self.refusedIDs)
        return {
            "sent": self.sent - refused,
            "answered": len(self.answered),
            "ok": sum(1 for v in self.answered.values() if v in (0, 200)),
            "lost": self.sent - refused - len(self.answered),
            "refused": refused,
            "duplicates": self.duplicates,
            "seconds": round((self.finished or time.monotonic()) - self.started, 2) if self.started else 0,
        }


class Answers(Protocol):
    """
    The client side of an association: answers go to the factory's
    C{client} (a L{TransactionClient} or anything with C{answer(payload)}).
    """

    def __init__(self) -> None:
        self.lost: Optional[Failure] = None
        self.early: List[bytes] = []
        self.client: Any = None

    def messageReceived(self, message: SCTPMessage) -> None:
        client = self.client or getattr(self.factory, "client", None)  # type: ignore[attr-defined]
        if client is None:
            self.early.append(message.payload)
        else:
            client.answer(message.payload)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost = reason


# -- the program ---------------------------------------------------------------------


def parseOptions(pairs: Sequence[str]) -> SCTPOptions:
    values: Dict[str, object] = {}
    for item in pairs:
        name, _, value = item.partition("=")
        values[name] = value
    return SCTPOptions.fromMapping(values)


class Program:
    """
    One run of the peer program.
    """

    def __init__(self, reactor: Any, args: argparse.Namespace) -> None:
        self.reactor = reactor
        self.args = args
        self.options = parseOptions(args.option)
        self.figures: Dict[str, Any] = {"mode": args.mode, "pid": os.getpid(), "ready": False}
        self.ports: List[SCTPPort] = []
        self.floodPorts: List[SCTPPort] = []
        self.events: Dict[str, int] = {}
        self.started = time.monotonic()

    def observe(self, event: SCTPEvent) -> None:
        note = event.notification
        key = event.kind
        if isinstance(note, AssocChange):
            key = "assoc_change:" + AssocChangeState(note.state).name if note.state in AssocChangeState._value2member_map_ else "assoc_change:{}".format(note.state)
        elif event.kind == "peer_addr_change":
            key = "peer_addr_change:{}".format(getattr(note, "state", "?"))
        elif event.kind == "send_failed":
            key = "send_failed:error={}".format(getattr(note, "error", "?"))
        self.events[key] = self.events.get(key, 0) + 1

    def listen(self, factory: Any, hosts: Sequence[str], port: int) -> SCTPPort:
        p = listenSCTP(self.reactor, port, factory, hosts, self.options)
        p.observers.append(self.observe)
        self.ports.append(p)
        return p

    def writeStatus(self) -> None:
        self.figures["events"] = dict(self.events)
        self.figures["uptime"] = round(time.monotonic() - self.started, 2)
        if self.ports and self.args.mode != "flood":
            self.figures["stats"] = self.ports[0].snapshot()
        if not self.args.status:
            return
        tmp = self.args.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.figures, f, sort_keys=True)
        os.replace(tmp, self.args.status)

    def run(self) -> None:
        mode = self.args.mode
        start = getattr(self, "start_" + mode)
        self.reactor.callWhenRunning(self._start, start)
        self.reactor.callLater(self.args.lifetime, self.reactor.stop)
        self.ticker = task.LoopingCall(self.writeStatus)
        self.ticker.start(0.2, now=False)
        self.reactor.run()
        self.figures["exiting"] = True
        self.writeStatus()
        print(json.dumps(self.figures, sort_keys=True), flush=True)

    def _start(self, start: Callable[[], Any]) -> None:
        d = defer.maybeDeferred(start)

        def failed(f: Failure) -> None:
            self.figures["error"] = f.getErrorMessage()
            sys.stderr.write(f.getTraceback())
            self.reactor.stop()

        d.addErrback(failed)

    def _ready(self, **more: Any) -> None:
        self.figures.update(more)
        self.figures["ready"] = True
        self.writeStatus()

    # -- modes -------------------------------------------------------------

    def start_echo(self) -> None:
        factory = PeerFactory(Echo, sip=self.args.sip)
        p = self.listen(factory, self.args.listen.split(","), self.args.port)
        if self.args.abort_on_close:
            # SO_LINGER {on, 0}: close() ABORTs every association, as if the
            # host went away, instead of a graceful SHUTDOWN.
            p.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        def counters() -> None:
            self.figures.update(received=factory.received, answered=factory.answered, lost=factory.lost, sendErrors=factory.sendErrors)

        task.LoopingCall(counters).start(0.1)
        self._ready(port=p.getHost().port)

    def start_sink(self) -> None:
        factory = PeerFactory(Sink)
        p = self.listen(factory, self.args.listen.split(","), self.args.port)
        state = {"paused": False, "pauses": 0}

        def resume() -> None:
            state["paused"] = False
            p.resumeProducing()
            self.figures["resumedAt"] = round(time.monotonic() - self.started, 2)

        def onMessage() -> None:
            self.figures.update(received=factory.received, bytes=factory.bytes, outOfOrder=factory.outOfOrder, lastSeq=factory.lastSeq)
            if self.args.pause_after and factory.received == self.args.pause_after and not state["pauses"]:
                state["paused"] = True
                state["pauses"] += 1
                p.pauseProducing()
                self.figures["pausedAt"] = round(time.monotonic() - self.started, 2)
                self.reactor.callLater(self.args.pause_for, resume)
            self.figures["paused"] = state["paused"]

        factory.onMessage = onMessage
        self.figures.update(received=0, paused=False)
        self._ready(port=p.getHost().port)

    @defer.inlineCallbacks
    def start_client(self) -> Any:
        factory = PeerFactory(Answers)
        hosts = self.args.listen.split(",") if self.args.listen else ["0.0.0.0"]
        p = self.listen(factory, hosts, 0)
        to = self.args.to.split(",")
        target = SCTPAddress(to[0], self.args.to_port, tuple(to))
        yield p.connect(target)
        client = factory.client = TransactionClient(p, target, self.args.count, self.args.window, self.args.sip, self.args.size, interval=self.args.interval)
        self._ready(port=p.getHost().port)

        def progress() -> None:
            self.figures.update(client.figures())

        task.LoopingCall(progress).start(0.2)
        yield client.start()
        progress()
        self.reactor.stop()

    @defer.inlineCallbacks
    def start_flood(self) -> Any:
        pairs = [tuple(item.split("=", 1)) for item in self.args.pairs.split(",")]
        attempts, batch = self.args.attempts, self.args.batch
        outcome = {"attempts": 0, "up": 0, "rejected": 0, "connect_failed": 0, "lost_other": 0}
        alive: List[Tuple[SCTPPort, Any]] = []
        rejectedPorts: Set[SCTPPort] = set()

        def observer(port: SCTPPort) -> Callable[[SCTPEvent], None]:
            def seen(event: SCTPEvent) -> None:
                self.observe(event)
                note = event.notification
                if isinstance(note, AssocChange) and note.state == AssocChangeState.COMM_LOST and MAX_ASSOCS_REASON in note.info:
                    rejectedPorts.add(port)
            return seen

        def attempt(i: int) -> defer.Deferred[Any]:
            source, destination = pairs[i % len(pairs)]
            factory = PeerFactory(Answers)
            p = listenSCTP(self.reactor, 0, factory, [source], self.options)
            p.observers.append(observer(p))
            self.floodPorts.append(p)
            outcome["attempts"] += 1
            d = p.connect((destination, self.args.to_port))

            def up(protocol: Any) -> None:
                outcome["up"] += 1
                alive.append((p, protocol))

            def failed(f: Failure) -> None:
                outcome["connect_failed"] += 1
                p.stopListening()

            d.addCallbacks(up, failed)
            return d

        def sweep() -> None:
            for p, protocol in list(alive):
                if protocol.lost is not None:
                    alive.remove((p, protocol))
                    if p in rejectedPorts:
                        outcome["rejected"] += 1
                    else:
                        outcome["lost_other"] += 1
                    p.stopListening()
            self.figures.update(outcome, open=len(alive))
            self.writeStatus()

        done = 0
        while done < attempts:
            n = min(batch, attempts - done)
            yield defer.DeferredList([attempt(done + i) for i in range(n)])
            done += n
            yield task.deferLater(self.reactor, self.args.settle, lambda: None)
            sweep()
        # Late ABORTs: sweep until nothing changes for a while.
        quiet = 0
        while quiet < 5:
            before = dict(outcome)
            yield task.deferLater(self.reactor, self.args.settle, lambda: None)
            sweep()
            quiet = quiet + 1 if outcome == before else 0
        # Every survivor must still work: one ping each, echoed.
        echoed: Set[int] = set()
        for i, (p, protocol) in enumerate(alive):
            protocol.client = _PingCollector(i, echoed)
            protocol.transport.write(b"ping %08d" % i)
        deadline = time.monotonic() + 60
        while len(echoed) < len(alive) and time.monotonic() < deadline:
            yield task.deferLater(self.reactor, 0.1, lambda: None)
        self._ready(open=len(alive), echoed=len(echoed), **outcome)

    # -- exit --------------------------------------------------------------

    def stopAll(self) -> None:
        for p in self.ports + self.floodPorts:
            p.stopListening()


class _PingCollector:
    def __init__(self, index: int, echoed: Set[int]) -> None:
        self.index = index
        self.echoed = echoed

    def answer(self, payload: bytes) -> None:
        if payload == b"ping %08d" % self.index:
            self.echoed.add(self.index)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", required=True, choices=["echo", "sink", "client", "flood"])
    parser.add_argument("--listen", default="", help="local addresses, comma-separated (first is primary)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--option", action="append", default=[], help="NAME=VALUE, one of the 19 options")
    parser.add_argument("--status", default="", help="JSON status file, rewritten while running")
    parser.add_argument("--lifetime", type=float, default=900.0, help="exit after this many seconds whatever happens")
    parser.add_argument("--sip", action="store_true", help="echo/client: SIP OPTIONS and 200 answers")
    parser.add_argument("--pause-after", type=int, default=0, help="sink: stop reading after N messages")
    parser.add_argument("--pause-for", type=float, default=10.0, help="sink: for this many seconds")
    parser.add_argument("--to", default="", help="client: the peer's addresses, comma-separated")
    parser.add_argument("--to-port", type=int, default=5060)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.0, help="client: one message every INTERVAL s (0: windowed)")
    parser.add_argument("--abort-on-close", action="store_true", help="echo: SO_LINGER 0, so dying ABORTs its associations")
    parser.add_argument("--pairs", default="", help="flood: SOURCE=DESTINATION,... address pairs")
    parser.add_argument("--attempts", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--settle", type=float, default=0.3)
    args = parser.parse_args(argv)

    from twisted.internet import reactor

    program = Program(reactor, args)
    reactor.addSystemEventTrigger("before", "shutdown", program.stopAll)  # type: ignore[attr-defined]
    program.run()
    return 1 if "error" in program.figures else 0


if __name__ == "__main__":
    sys.exit(main())
