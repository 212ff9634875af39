"""
twisted.protocols.sip's RegisterProxy over SCTP, through the datagram adapter.

    PYTHONPATH=. .venv/bin/python examples/sip_registerproxy.py \\
        --listen sctp:127.0.0.1:5060 --domain 127.0.0.1

(on a host without kernel SCTP, prefix with scripts/with-sctp-kernel).  Then,
for example, with SIPp over SCTP:

    sipp -t s1 -sf examples/sipp/register.xml -s bob -p 15070 \\
         -key uas_port 15070 -key expires 300 -m 1 127.0.0.1:5060
    sipp -t s1 -sf examples/sipp/uas.xml -i 127.0.0.1 -p 15070 &
    sipp -t s1 -sf examples/sipp/uac.xml -s bob -m 10 -r 5 127.0.0.1:5060

The application is twisted.protocols.sip's RegisterProxy: it receives each
SCTP message as datagramReceived(data, (host, port)) and answers with
transport.write(data, (host, port)), which the adapter sends on the
association to that peer.  SCTPRegisterProxy changes three things that are
limits of twisted.protocols.sip (written for RFC 2543), not of SCTP:
  - it reaches contacts registered with ;transport=sctp (the stock code
    refuses any URL whose transport is not UDP; over the adapter every send
    is SCTP);
  - it forwards ACK (the stock RegisterProxy drops every ACK, so no INVITE it
    proxies could complete);
  - it reads several Via values on one line (RFC 3261 7.3.1; SIPp writes
    them so), where the stock parser expects one per line.
Note also that RegisterProxy binds an AOR to the address the REGISTER came
from, not to the Contact's port: register from the UAS's own port.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from twisted.internet import reactor
from twisted.logger import globalLogBeginner, textFileLogObserver
from twisted.protocols import sip

from twisted_sctp.transport.address import parseListen
from twisted_sctp.sip import listenDatagramSCTP


class SCTPRegisterProxy(sip.RegisterProxy):
    """
    RegisterProxy, able to reach contacts that say ;transport=sctp.
    """

    def sendMessage(self, destURL: Any, message: Any) -> None:
        if destURL.transport == "sctp":
            destURL = sip.URL(host=destURL.host, port=destURL.port)
        sip.RegisterProxy.sendMessage(self, destURL, message)

    def handle_ACK_request(self, message: Any, addr: Any) -> None:
        self.handle_request_default(message, addr)

    def addMessage(self, msg: Any) -> None:
        vias = msg.headers.get("via")
        if vias:
            msg.headers["via"] = [value.strip() for line in vias for value in line.split(",")]
        sip.RegisterProxy.addMessage(self, msg)


def main(argv: list) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="sctp:127.0.0.1:5060", help="sctp:HOST:PORT, sctp:(H1,H2):PORT or sctp:[::1]:PORT")
    parser.add_argument("--domain", default=None, help="the SIP domain registrations are for (default: the first listen address)")
    args = parser.parse_args(argv)
    hosts, port = parseListen(args.listen)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    proxy = SCTPRegisterProxy(host=hosts[0], port=port)
    proxy.registry = proxy.locator = sip.InMemoryRegistry(args.domain or hosts[0])
    listenDatagramSCTP(reactor, port, proxy, hosts)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
