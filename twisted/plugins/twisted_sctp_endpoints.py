# The endpoint drop-in for twisted-sctp: `sctp:` server and client endpoint
# strings (see twisted_sctp.endpoints) and `sctp+udp:` ones, SCTP over UDP by
# the user-space engine (see twisted_sctp.engine.endpoints). It only
# instantiates the parsers.
from twisted_sctp.endpoints import SCTPClientParser, SCTPServerParser
from twisted_sctp.engine.endpoints import SCTPOverUDPClientParser, SCTPOverUDPServerParser

sctpServer = SCTPServerParser()
sctpClient = SCTPClientParser()
sctpUDPServer = SCTPOverUDPServerParser()
sctpUDPClient = SCTPOverUDPClientParser()
