# The types of twisted_sctp.sip._leanhead (_leanhead.c).
from typing import List, Optional, Tuple

def splitHead(head: bytes) -> Optional[Tuple[Tuple[bytes, ...], List[bytes]]]: ...
