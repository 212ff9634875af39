"""
The fault lab: SCTP associations between network namespaces joined by two
veth paths each, with netem loss/delay/reorder, path cuts and peer restarts,
on a real kernel (run under C{scripts/with-sctp-kernel}; C{make fault-lab}).

L{tests.faultlab.topology} builds and tears down the hosts and paths,
C{tests/faultlab/peer.py} is the peer program run inside a namespace, and
L{tests.faultlab.test_faults} holds the fault tests.
"""
