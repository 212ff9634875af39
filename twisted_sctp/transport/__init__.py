"""
The backend-neutral SCTP transport: the events a backend reports and the
send parameters (L{events}), the backend interface (L{backend}), the
association layer over it (L{layer}, L{sending}), addresses, the
association registry, options and their rules, statistics, and the port
facade that protocols see (L{port}: C{SCTPPort}, C{AssociationTransport},
C{SCTPMessage}, C{listenSCTP}).  No socket and no errno in here: the kernel
backend is L{twisted_sctp.kernel.backend}.
"""
