"""
The Linux kernel SCTP backend: the C{sctp.h} constants and struct codecs
(L{sockopt}, L{notifications}), the socket calls over pysctp and ctypes
(L{sctpsocket}), and the read policy of the receive loop.
"""
