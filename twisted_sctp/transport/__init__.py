"""
The backend-neutral SCTP transport: addresses, the association registry,
options and their rules, statistics, and the port facade that protocols see
(L{SCTPPort}, L{AssociationTransport}, L{SCTPMessage}, L{listenSCTP}).
"""
