# The reactor of twisted-sctp: `twistd --reactor sctp-epoll` / `trial --reactor sctp-epoll`
# (see twisted_sctp.reactor).  Kept to one object so that plugin discovery imports nothing heavy.
from twisted.application.reactors import Reactor

sctpEpoll = Reactor("sctp-epoll", "twisted_sctp.reactor", "epoll reactor whose timer check takes 'now' from the SCTP kernel's arrival stamp of the message just read (one clock read less per wake-up)")
