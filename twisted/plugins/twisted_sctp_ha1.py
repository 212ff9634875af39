# The strcred drop-in for `--auth ha1:PATH` (see twisted_sctp.sip.credentials):
# one checker factory, so that plugin discovery imports little.
from twisted_sctp.sip.credentials import HA1CheckerFactory

theHA1CheckerFactory = HA1CheckerFactory()
