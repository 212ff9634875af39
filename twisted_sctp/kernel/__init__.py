"""
The Linux kernel SCTP backend: the socket on the reactor (L{backend}) and
its translation to the transport's neutral events (L{translate}); the
C{sctp.h} constants and struct codecs (L{sockaddr}, L{sockopt},
L{notifications}); the calls into the kernel over pysctp and ctypes
(L{sctpsocket}, L{kerneloptions}, L{sockcalls}); and the read policy of the
receive loop.
"""
