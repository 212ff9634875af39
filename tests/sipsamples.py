# -*- test-case-name: tests.test_sipparser -*-
"""
SIP messages shared by the SIP test modules (RFC 3261 / RFC 4475 style).
"""

from __future__ import annotations

REGISTER = (
    b"REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/SCTP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n"
    b"Call-ID: 843817637684230@998sdasdh09\r\n"
    b"CSeq: 1826 REGISTER\r\n"
    b"Contact: <sip:bob@192.0.2.4;transport=sctp>;expires=3600\r\n"
    b"Expires: 7200\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
    b"s=-\r\n"
    b"c=IN IP4 pc33.atlanta.example.com\r\n"
    b"t=0 0\r\n"
    b"m=audio 49172 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
)

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/SCTP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com;transport=sctp>\r\n"
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Route: <sip:p3.example.com:5070;lr;transport=sctp>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode("ascii") + b"\r\n"
    b"\r\n" + SDP
)

OPTIONS = (
    b"OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/SCTP pc33.atlanta.example.com;branch=z9hG4bKhjhs8ass877\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:carol@chicago.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 63104 OPTIONS\r\n"
    b"Accept: application/sdp\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

OK_MULTIPLE_VIAS = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/SCTP server10.biloxi.example.com"
    b";branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n"
    b"Via: SIP/2.0/SCTP bigbox3.site3.atlanta.example.com"
    b";branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2, "
    b"SIP/2.0/SCTP [2001:db8::10]:5070;branch=z9hG4bK776asdhds;rport=5071"
    b";received=2001:db8::99\r\n"
    b"Record-Route: <sip:server10.biloxi.example.com;lr>, "
    b"<sip:bigbox3.site3.atlanta.example.com;lr>\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def minimalRequest(extra: bytes = b"", method: bytes = b"OPTIONS") -> bytes:
    """
    @return: a small valid request, with C{extra} header lines added.
    """
    return (
        method + b" sip:x.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/SCTP a.example.com;branch=z9hG4bKa\r\n"
        b"From: <sip:a@a.example.com>;tag=1\r\n"
        b"To: <sip:b@x.example.com>\r\n"
        b"Call-ID: c1\r\n"
        b"CSeq: 1 " + method + b"\r\n" + extra + b"\r\n"
    )
