#!/usr/bin/env python3
"""
The Python floor: the least a Python process can do to answer SIP OPTIONS
over SCTP.  Standard library only (no Twisted, no twisted_sctp): one
blocking one-to-many SCTP socket, one C{recvmsg} and one C{sendmsg} per
transaction, the reply sent on the request's association (the assoc_id of
the C{SCTP_SNDRCV} control message), and L{answer}'s minimal parsing.

    python3 bench/floor_responder.py --port 5090 [--host 127.0.0.1]

L{answer} is shared with C{bench/twisted_responder.py} and with the host-side
cost measurement (C{bench/hostcost.py}), so the three compare the same
parse-and-reply work.
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import sys
from typing import Any, Optional

IPPROTO_SCTP = 132
SCTP_SNDRCV = 1
SCTP_NODELAY = 3
SCTP_EVENTS = 11
#: struct sctp_sndrcvinfo: stream, ssn, flags, (pad), ppid, context,
#: timetolive, tsn, cumtsn, assoc_id.
SNDRCVINFO = struct.Struct("@HHHIIIIIi")
_SNDRCV_SIZE = SNDRCVINFO.size
_ASSOC_ID = struct.Struct("@i")
_ASSOC_ID_OFFSET = _SNDRCV_SIZE - 4
SCTP_UNORDERED = 1
MSG_NOTIFICATION = 0x8000

#: The headers a response copies (RFC 3261 8.2.6), lower-cased, with the
#: compact forms.
_COPIED = frozenset((b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq"))
_TO = frozenset((b"to", b"t"))


def answer(data: bytes) -> Optional[bytes]:
    """
    The minimal SIP responder: a 200 to an OPTIONS request, a 501 to any
    other request but ACK, nothing to responses, ACKs, keep-alives or junk.

    Parsing is the least that makes a correct reply: the method from the
    start line, then the Via, From, To, Call-ID and CSeq lines copied in
    order (a To without a tag gets one).  No validation.

    @return: the response bytes, or C{None}.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0 or data.startswith(b"SIP/"):
        return None
    lines = data[:end].split(b"\r\n")
    method = lines[0].split(b" ", 1)[0]
    if method == b"ACK" or not method:
        return None
    out = [b"SIP/2.0 200 OK" if method == b"OPTIONS" else b"SIP/2.0 501 Not Implemented"]
    for line in lines[1:]:
        name = line.split(b":", 1)[0].rstrip().lower()
        if name in _COPIED:
            if name in _TO and b";tag=" not in line:
                line += b";tag=floor"
            out.append(line)
    out.append(b"Content-Length: 0\r\n\r\n")
    return b"\r\n".join(out)


def openListener(host: str, port: int, blocking: bool = True) -> socket.socket:
    """
    A one-to-many SCTP socket bound to C{host:port}, listening, subscribed to
    the C{data_io} event only (so every data message carries its
    C{SCTP_SNDRCV} receive info and no notification is ever delivered), with
    C{SCTP_NODELAY} on.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, IPPROTO_SCTP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(IPPROTO_SCTP, SCTP_EVENTS, b"\x01" + b"\x00" * 13)
    # As Kamailio and twisted_sctp do: no Nagle delay on small replies.
    sock.setsockopt(IPPROTO_SCTP, SCTP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(blocking)
    return sock


def replyAncillary(ancdata: list) -> list:
    """
    @return: the ancillary data for a reply on the association a message
        came on (an unordered send on stream 0 with that assoc_id).
    """
    for level, kind, payload in ancdata:
        if level == IPPROTO_SCTP and kind == SCTP_SNDRCV and len(payload) >= _SNDRCV_SIZE:
            (assocID,) = _ASSOC_ID.unpack_from(payload, _ASSOC_ID_OFFSET)
            return [(IPPROTO_SCTP, SCTP_SNDRCV, SNDRCVINFO.pack(0, 0, SCTP_UNORDERED, 0, 0, 0, 0, 0, assocID))]
    return []


def respond(sendmsg: Any, data: bytes, ancdata: Any, flags: int, address: Any) -> None:
    """
    Answer one received message (notifications and non-OPTIONS ignored):
    on its association when its receive info names one, else by address.
    Shared by this floor and the bare Twisted responder.
    """
    if flags & MSG_NOTIFICATION or not data:
        return
    reply = answer(data)
    if reply is None:
        return
    anc = replyAncillary(ancdata)
    try:
        if anc:
            sendmsg([reply], anc)
        else:
            sendmsg([reply], [], 0, address)
    except OSError:
        pass


def serve(sock: socket.socket) -> None:
    """
    The blocking loop: one C{recvmsg}, one C{sendmsg} per transaction.
    """
    recvmsg = sock.recvmsg
    sendmsg = sock.sendmsg
    while True:
        try:
            data, ancdata, flags, address = recvmsg(65536, 256)
        except (InterruptedError, ConnectionResetError, ConnectionRefusedError):
            continue
        respond(sendmsg, data, ancdata, flags, address)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5090)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    sock = openListener(args.host, args.port)
    try:
        serve(sock)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
