"""
Response times measured on the wire: an C{AF_PACKET} capture on C{lo}
(kernel timestamps, C{SO_TIMESTAMPNS}) of the SCTP DATA chunks to and from a
server port; each OPTIONS is matched with its 200 by Call-ID.

SIPp's own response times have a resolution of one millisecond (its clock
ticks in ms), too coarse for servers that answer in a fraction of one, so
the bench reports these beside SIPp's.  The interval is from the request
passing C{lo} to the response passing C{lo}: the server's receive, work and
send, without SIPp's own delays.  The capture runs in a thread of the
driver, so it is used in a run of its own, never in the CPU-accounting run.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from typing import Dict, List, Optional, Tuple

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
_TIMESPEC = struct.Struct("@qq")
_CALL_ID = re.compile(rb"\r\n(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]+)", re.IGNORECASE)


class SCTPCapture:
    """
    Captures SCTP packets on C{lo} in a thread between L{start} and L{stop}.
    """

    def __init__(self, serverPort: int, interface: str = "lo") -> None:
        self.serverPort = serverPort
        self.interface = interface
        self.packets: List[Tuple[int, bytes]] = []
        self.error: Optional[str] = None
        self._sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = False

    def start(self) -> bool:
        """
        @return: whether the capture could start (it needs C{CAP_NET_RAW}).
        """
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind((self.interface, 0))
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            sock.settimeout(0.2)
        except OSError as e:
            self.error = "capture unavailable: {}".format(e)
            return False
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="sctp-capture", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stopping:
            try:
                data, anc, _, address = sock.recvmsg(2048, 64)
            except socket.timeout:
                continue
            except OSError as e:
                self.error = str(e)
                return
            if address[2] == PACKET_OUTGOING:
                continue  # lo shows each packet twice; keep the received copy
            stamp = 0
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(payload)
                    stamp = sec * 1_000_000_000 + nsec
            self.packets.append((stamp, data))

    def stop(self) -> Dict[str, object]:
        """
        Stop and match the requests with their responses.

        @return: C{{"samples": n, "unmatched": n, "rtt_us": [...]}}.
        """
        self._stopping = True
        if self._thread is not None:
            self._thread.join(2)
        if self._sock is not None:
            self._sock.close()
        return matchTransactions(self.packets, self.serverPort)


def dataChunks(frame: bytes) -> List[Tuple[int, int, bytes]]:
    """
    The SCTP DATA chunk payloads of one captured C{lo} frame (14-byte
    Ethernet header, IPv4 or IPv6).

    @return: C{(source port, destination port, payload)} for each.
    """
    if len(frame) < 14:
        return []
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    offset = 14
    if ethertype == 0x0800:
        ihl = (frame[offset] & 0x0F) * 4
        if frame[offset + 9] != 132:
            return []
        offset += ihl
    elif ethertype == 0x86DD:
        if frame[offset + 6] != 132:
            return []
        offset += 40
    else:
        return []
    if len(frame) < offset + 12:
        return []
    sport, dport = struct.unpack_from("!HH", frame, offset)
    offset += 12
    out = []
    while offset + 4 <= len(frame):
        kind, _, length = struct.unpack_from("!BBH", frame, offset)
        if length < 4:
            break
        if kind == 0 and length > 16:
            out.append((sport, dport, frame[offset + 16: offset + length]))
        offset += (length + 3) & ~3
    return out


def matchTransactions(packets: List[Tuple[int, bytes]], serverPort: int) -> Dict[str, object]:
    """
    @return: the response time of every OPTIONS to C{serverPort} answered
        with a 200, in microseconds, in arrival order.
    """
    requests: Dict[bytes, int] = {}
    rtts: List[float] = []
    answered = 0
    for stamp, frame in packets:
        for sport, dport, payload in dataChunks(frame):
            match = _CALL_ID.search(payload)
            if match is None:
                continue
            callID = match.group(1).strip()
            if dport == serverPort and payload.startswith(b"OPTIONS "):
                requests.setdefault(callID, stamp)
            elif sport == serverPort and payload.startswith(b"SIP/2.0 200"):
                sent = requests.pop(callID, None)
                if sent is not None:
                    answered += 1
                    rtts.append((stamp - sent) / 1000.0)
    return {"samples": answered, "unmatched": len(requests), "rtt_us": rtts}


def percentile(values: List[float], fraction: float) -> Optional[float]:
    """
    @return: the nearest-rank percentile of C{values}, or C{None} if empty.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[rank]
