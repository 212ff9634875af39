# The twistd drop-in for twisted-sctp: `twistd sctp-sip` (see twisted_sctp.tap).
# Kept to one object so that plugin discovery imports nothing heavy.
from twisted.application.service import ServiceMaker

sctpSIP = ServiceMaker("sctp-sip", "twisted_sctp.tap", "SIP registrar, stateless proxy and OPTIONS responder over SCTP (RFC 4168)", "sctp-sip")
