"""
The twisted-sctp benchmark (C{make bench}): see C{bench/README.md}.
"""
