# The endpoint drop-in for twisted-sctp: `sctp:` server and client endpoint
# strings (see twisted_sctp.endpoints). It only instantiates the parsers.
from twisted_sctp.endpoints import SCTPClientParser, SCTPServerParser

sctpServer = SCTPServerParser()
sctpClient = SCTPClientParser()
