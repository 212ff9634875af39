# -*- test-case-name: tests.test_options -*-
"""
The 19 SCTP options, their rules and their validation (pure: no sockets).

The names, their order, their defaults and their run-time rules follow
Kamailio's C{sctp} module (C{sctp.options}, C{cfg.set_now_int sctp NAME}),
with the reference's quirks fixed:

  - Values are validated at start-up too (the reference's start-up checker
    was never called), with the same ranges as at run time, so a bad
    C{--option} or config file is a usage error, not a silent clamp.
  - C{hbinterval=-1} means "disable heartbeats" both at start-up and at run
    time (the reference compared -1 unsigned at start-up and refused it at
    run time).
  - C{init_max_timeo} is limited to 0..65535 ms: C{sinit_max_init_timeo} is a
    C{__u16} in C{struct sctp_initmsg}, so larger values (allowed by the
    reference's 0..2^30 range) would be truncated by the kernel API.
  - C{sack_delay} is limited to 0..500 ms: Linux answers C{EINVAL} above 500,
    which the reference only logged.

Decisions:

  - The 14 kernel-backed options default to 0, meaning "keep the OS
    default"; the kernel treats 0 fields of RTOINFO, ASSOCINFO, INITMSG,
    PEER_ADDR_PARAMS and SACK_INFO as "no change", so nothing is pushed for
    them.  (The reference pre-filled them from the OS and pushed them back,
    which has the same result.)  C{sctpsocket.osDefaults} reads the OS
    values when they are to be shown.
  - C{autoclose=0} is accepted at start-up with the kernel's meaning, "never
    close idle associations", but refused at run time (range 1..2^30) as the
    reference does.  The kernel clamps values above
    C{net.sctp.max_autoclose} (C{INT_MAX/HZ}: 21474836 s with HZ=100).
  - C{max_assocs}: -1 is unlimited; other negative values are refused (the
    reference treated any negative value as unlimited through an unsigned
    compare).
  - C{sack_freq=1} is allowed: the kernel then turns delayed SACK off (and
    reports C{sack_delay} 0).
  - C{max_burst=0} keeps the OS value (as in the reference), so the kernel's
    own "0 = no burst limit" cannot be requested.
  - At run time, turning C{assoc_tracking} off asks for the tracking table
    to be flushed (L{RuntimeChange.flushTracking}); turning it on does not
    (the reference's second flush only guarded against a race between
    processes, which a single reactor thread cannot have).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import attrs

from twisted_sctp.error import OptionError, UnknownOptionError

__all__ = [
    "OPTION_NAMES",
    "OPTIONS",
    "OptionInfo",
    "SCTPOptions",
    "RuntimeChange",
    "changeOption",
    "describeOptions",
    "normalizeName",
    "parseValue",
    "KERNEL_OPTIONS",
    "INTERNAL_OPTIONS",
    "APPLIES_NOW",
    "APPLIES_NEW_ASSOCIATIONS",
    "APPLIES_UNCHANGED",
    "APPLIES_STARTUP",
    "APPLIES_NOT_APPLICABLE",
]

_2_30 = 2**30
_INT_MAX = 2**31 - 1

APPLIES_NOW = "now"
APPLIES_NEW_ASSOCIATIONS = "new-associations"
APPLIES_UNCHANGED = "unchanged"
APPLIES_STARTUP = "start-up"
#: A run-time change the port's backend cannot apply (e.g. C{autoclose} on the
#: user-space engine): recorded, without effect.
APPLIES_NOT_APPLICABLE = "not-applicable"

PREFIX = "sctp_"


@attrs.frozen
class OptionInfo:
    """
    What one option means and which values it takes.

    @ivar name: the option's name, without the C{sctp_} prefix.
    @ivar unit: C{"bytes"}, C{"s"}, C{"ms"}, C{"count"}, C{"packets"} or
        C{"bool"}.
    @ivar minimum: the smallest value of the main range.
    @ivar maximum: the largest value of the main range.
    @ivar special: values allowed outside the main range, with their meaning
        (e.g. C{-1: "disable heartbeats"}).
    @ivar kernel: whether the value is kernel socket state (C{False}: kept by
        twisted-sctp itself).
    @ivar runtime: whether it can be changed at run time.
    @ivar runtimeMinimum: the smallest value accepted at run time, where it
        differs from start-up (C{autoclose}: 1).
    @ivar keepZero: whether 0 means "keep the current (OS) value".
    @ivar appliesTo: what a run-time change affects: L{APPLIES_NOW},
        L{APPLIES_NEW_ASSOCIATIONS}, or L{APPLIES_STARTUP} (read-only).
    @ivar default: the default value.
    @ivar description: one line for docs and the command line.
    """

    name: str
    unit: str
    minimum: int
    maximum: int
    kernel: bool
    runtime: bool
    keepZero: bool
    appliesTo: str
    default: int
    description: str
    special: Mapping[int, str] = attrs.field(factory=dict)
    runtimeMinimum: Optional[int] = None

    def allowed(self, runtime: bool = False) -> str:
        """
        @param runtime: describe the run-time range instead of start-up's.
        @return: the allowed values in words, e.g. C{"0 (keep) or 1..500 ms"}.
        """
        low = self.minimum
        if runtime and self.runtimeMinimum is not None:
            low = self.runtimeMinimum
        parts = []
        for value, meaning in sorted(self.special.items()):
            parts.append("{} ({})".format(value, meaning))
        if self.keepZero:
            parts.append("0 (keep the OS value)")
            low = max(low, 1)
        unit = "" if self.unit in ("bool", "count", "packets") else " " + self.unit
        parts.append("{}..{}{}".format(low, _power(self.maximum), unit))
        return " or ".join(parts)

    def check(self, value: int, runtime: bool = False) -> Optional[str]:
        """
        @return: C{None} if C{value} is allowed, else the reason it is not.
        """
        low = self.minimum
        if runtime and self.runtimeMinimum is not None:
            low = self.runtimeMinimum
        if value in self.special or (low <= value <= self.maximum):
            return None
        if self.keepZero and value == 0:
            return None
        when = "at run time" if runtime else ""
        return " ".join(
            p for p in ("value {} out of range".format(value), when) if p
        ) + "; allowed: " + self.allowed(runtime)


def _power(value: int) -> str:
    """
    Write round powers of two the way the reference's table does.
    """
    if value == _2_30:
        return "2^30"
    if value == _INT_MAX:
        return "2^31-1"
    return str(value)


def _kernel(
    name: str,
    unit: str,
    maximum: int,
    description: str,
    minimum: int = 1,
    special: Optional[Dict[int, str]] = None,
) -> OptionInfo:
    return OptionInfo(
        name=name,
        unit=unit,
        minimum=minimum,
        maximum=maximum,
        kernel=True,
        runtime=True,
        keepZero=True,
        appliesTo=APPLIES_NEW_ASSOCIATIONS,
        default=0,
        description=description,
        special=special or {},
    )


_INFOS: Tuple[OptionInfo, ...] = (
    OptionInfo(
        "socket_rcvbuf", "bytes", 512, _2_30, kernel=True, runtime=False,
        keepZero=True, appliesTo=APPLIES_STARTUP, default=0,
        description="socket receive buffer (SO_RCVBUF, shown halved as Linux "
        "doubles it)",
    ),
    OptionInfo(
        "socket_sndbuf", "bytes", 512, _2_30, kernel=True, runtime=False,
        keepZero=True, appliesTo=APPLIES_STARTUP, default=0,
        description="socket send buffer (SO_SNDBUF, shown halved as Linux "
        "doubles it)",
    ),
    OptionInfo(
        "autoclose", "s", 0, _2_30, kernel=True, runtime=True,
        keepZero=False, appliesTo=APPLIES_NEW_ASSOCIATIONS, default=180,
        description="seconds of idleness after which the kernel closes an "
        "association (SCTP_AUTOCLOSE); 0 (start-up only) never closes",
        runtimeMinimum=1,
    ),
    OptionInfo(
        "send_ttl", "ms", 0, _2_30, kernel=False, runtime=True,
        keepZero=False, appliesTo=APPLIES_NOW, default=32000,
        description="lifetime of a sent message before the kernel abandons "
        "it (PR-SCTP TTL); 0 never abandons",
    ),
    OptionInfo(
        "send_retries", "count", 0, 9, kernel=False, runtime=True,
        keepZero=False, appliesTo=APPLIES_NOW, default=0,
        description="times a message reported by SEND_FAILED is re-sent by "
        "address (keep at 1..3)",
    ),
    OptionInfo(
        "assoc_tracking", "bool", 0, 1, kernel=False, runtime=True,
        keepZero=False, appliesTo=APPLIES_NOW, default=1,
        description="track associations with ids that are never reused "
        "(needed by assoc_reuse and by max_assocs before sending)",
    ),
    OptionInfo(
        "assoc_reuse", "bool", 0, 1, kernel=False, runtime=True,
        keepZero=False, appliesTo=APPLIES_NOW, default=1,
        description="send replies on the association the request came in "
        "on (needs assoc_tracking=1)",
    ),
    OptionInfo(
        "max_assocs", "count", 0, _INT_MAX, kernel=False, runtime=True,
        keepZero=False, appliesTo=APPLIES_NOW, default=-1,
        description="most open associations; more are aborted (incoming) "
        "or refused (outgoing); -1 is unlimited",
        special={-1: "unlimited"},
    ),
    _kernel("srto_initial", "ms", _2_30,
            "initial retransmission timeout (SCTP_RTOINFO srto_initial)"),
    _kernel("srto_max", "ms", _2_30,
            "largest retransmission timeout (SCTP_RTOINFO srto_max)"),
    _kernel("srto_min", "ms", _2_30,
            "smallest retransmission timeout (SCTP_RTOINFO srto_min); keep "
            ">= 500 or >= the peers' sack_delay"),
    _kernel("asocmaxrxt", "count", 1024,
            "retransmissions before an association is declared lost "
            "(SCTP_ASSOCINFO); about pathmaxrxt x paths"),
    _kernel("init_max_attempts", "count", 1024,
            "INIT retransmissions before giving up (SCTP_INITMSG)"),
    _kernel("init_max_timeo", "ms", 65535,
            "largest INIT retransmission timeout (SCTP_INITMSG, a 16-bit "
            "field)"),
    _kernel("hbinterval", "ms", _2_30,
            "heartbeat interval per path (SCTP_PEER_ADDR_PARAMS); -1 "
            "disables heartbeats",
            special={-1: "disable heartbeats"}),
    _kernel("pathmaxrxt", "count", 1024,
            "retransmissions before a path is declared unreachable "
            "(SCTP_PEER_ADDR_PARAMS)"),
    _kernel("sack_delay", "ms", 500,
            "delayed SACK timeout (SCTP_DELAYED_SACK); Linux allows at most "
            "500"),
    _kernel("sack_freq", "packets", 1024,
            "packets received before a SACK is sent (SCTP_DELAYED_SACK); 1 "
            "turns delayed SACK off"),
    _kernel("max_burst", "packets", 1024,
            "most packets sent at once (SCTP_MAX_BURST)"),
)

#: The 19 option names in Kamailio's C{sctp.options} order.
OPTION_NAMES: Tuple[str, ...] = tuple(info.name for info in _INFOS)

#: Per-option metadata by name, in L{OPTION_NAMES} order.
OPTIONS: Dict[str, OptionInfo] = {info.name: info for info in _INFOS}

#: The 14 options that are kernel socket state.
KERNEL_OPTIONS: Tuple[str, ...] = tuple(i.name for i in _INFOS if i.kernel)

#: The 5 options kept by twisted-sctp itself (not kernel state).
INTERNAL_OPTIONS: Tuple[str, ...] = tuple(i.name for i in _INFOS if not i.kernel)


def normalizeName(name: str) -> str:
    """
    @param name: an option name, with or without the C{sctp_} prefix, any
        case, with C{-} allowed for C{_}.
    @return: the canonical name (no prefix).
    @raise UnknownOptionError: no option has that name.
    """
    key = name.strip().lower().replace("-", "_")
    if key not in OPTIONS and key.startswith(PREFIX):
        key = key[len(PREFIX):]
    if key not in OPTIONS:
        raise UnknownOptionError(
            name, "unknown option; valid names: " + ", ".join(OPTION_NAMES)
        )
    return key


def parseValue(name: str, value: object) -> int:
    """
    Turn a value given as text (command line, config file, AMP) or as a
    number into an C{int}.

    @param name: the option's canonical name, for the error.
    @raise OptionError: C{value} is not an integer.
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (str, bytes)):
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        try:
            return int(text.strip(), 10)
        except ValueError:
            pass
    raise OptionError(
        name,
        "not an integer: {!r}; allowed: {}".format(value, OPTIONS[name].allowed()),
    )


def _validator(name: str) -> Callable[[Any, Any, Any], None]:
    info = OPTIONS[name]

    def validate(instance: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionError(
                name,
                "must be an integer, not {!r}; allowed: {}".format(
                    value, info.allowed()
                ),
            )
        reason = info.check(value)
        if reason is not None:
            raise OptionError(name, reason)

    return validate


def _field(name: str) -> Any:
    return attrs.field(default=OPTIONS[name].default, validator=_validator(name))


@attrs.frozen
class SCTPOptions:
    """
    The 19 options of a listener, validated when built.

    Field names are the option names (the user contract).  The kernel-backed
    options default to 0: keep the OS value.

    @raise OptionError: from the constructor, for a value out of range or a
        broken cross-option rule (C{assoc_reuse=1} needs
        C{assoc_tracking=1}; C{srto_min <= srto_initial <= srto_max} among the
        ones that are set).
    """

    socket_rcvbuf: int = _field("socket_rcvbuf")
    socket_sndbuf: int = _field("socket_sndbuf")
    autoclose: int = _field("autoclose")
    send_ttl: int = _field("send_ttl")
    send_retries: int = _field("send_retries")
    assoc_tracking: int = _field("assoc_tracking")
    assoc_reuse: int = _field("assoc_reuse")
    max_assocs: int = _field("max_assocs")
    srto_initial: int = _field("srto_initial")
    srto_max: int = _field("srto_max")
    srto_min: int = _field("srto_min")
    asocmaxrxt: int = _field("asocmaxrxt")
    init_max_attempts: int = _field("init_max_attempts")
    init_max_timeo: int = _field("init_max_timeo")
    hbinterval: int = _field("hbinterval")
    pathmaxrxt: int = _field("pathmaxrxt")
    sack_delay: int = _field("sack_delay")
    sack_freq: int = _field("sack_freq")
    max_burst: int = _field("max_burst")

    def __attrs_post_init__(self) -> None:
        if self.assoc_reuse and not self.assoc_tracking:
            raise OptionError(
                "assoc_reuse",
                "assoc_reuse=1 needs assoc_tracking=1 (set assoc_reuse=0 or "
                "assoc_tracking=1)",
            )
        low, initial, high = self.srto_min, self.srto_initial, self.srto_max
        if low and high and low > high:
            raise OptionError(
                "srto_min",
                "srto_min ({}) must be <= srto_max ({})".format(low, high),
            )
        if initial and low and initial < low:
            raise OptionError(
                "srto_initial",
                "srto_initial ({}) must be >= srto_min ({})".format(initial, low),
            )
        if initial and high and initial > high:
            raise OptionError(
                "srto_initial",
                "srto_initial ({}) must be <= srto_max ({})".format(initial, high),
            )

    @classmethod
    def fromMapping(cls, mapping: Mapping[str, object]) -> SCTPOptions:
        """
        Build options from C{NAME=VALUE} pairs (command line, config file).

        @param mapping: names with or without the C{sctp_} prefix; values as
            C{int} or decimal text.  Missing names take their defaults.
        @raise UnknownOptionError: a name is not one of the 19.
        @raise OptionError: a value is not an integer, is out of range, a name
            is given twice, or a cross-option rule is broken.
        """
        values: Dict[str, int] = {}
        for key, value in mapping.items():
            name = normalizeName(key)
            if name in values:
                raise OptionError(name, "given twice (with and without sctp_?)")
            values[name] = parseValue(name, value)
        return cls(**values)

    def asDict(self, prefixed: bool = False) -> Dict[str, int]:
        """
        @param prefixed: name the keys C{sctp_<name>}, as Kamailio's
            C{sctp.options} does.
        @return: the 19 values in L{OPTION_NAMES} order.
        """
        prefix = PREFIX if prefixed else ""
        return {prefix + name: getattr(self, name) for name in OPTION_NAMES}

    def warnings(self) -> List[str]:
        """
        @return: the documented pitfalls these values fall into (legal values
            that risk instability or extra traffic), one sentence each.
        """
        out: List[str] = []
        if self.srto_min and self.srto_min < 500:
            out.append(
                "srto_min={} is below 500 ms: peers that delay SACKs up to "
                "500 ms will see spurious retransmissions (keep srto_min >= "
                "500 unless all peers use a short sack_delay or "
                "sack_freq=1)".format(self.srto_min)
            )
        if self.sack_delay:
            for name in ("srto_min", "srto_max"):
                value = getattr(self, name)
                if value and value < self.sack_delay:
                    out.append(
                        "{}={} is below sack_delay={}: retransmissions before "
                        "the SACK can arrive".format(name, value, self.sack_delay)
                    )
        if self.asocmaxrxt and self.pathmaxrxt and self.asocmaxrxt < self.pathmaxrxt:
            out.append(
                "asocmaxrxt={} is below pathmaxrxt={}: the association is "
                "lost before a path can fail over (use about pathmaxrxt x "
                "number of paths)".format(self.asocmaxrxt, self.pathmaxrxt)
            )
        if self.send_retries > 3:
            out.append(
                "send_retries={} multiplies traffic towards dead peers (keep "
                "it at 1..3)".format(self.send_retries)
            )
        return out


@attrs.frozen
class RuntimeChange:
    """
    The outcome of an accepted run-time change.

    @ivar name: the option's canonical name.
    @ivar old: the value before.
    @ivar new: the value after (equal to C{old} when C{appliesTo} is
        C{"unchanged"}).
    @ivar options: the options after the change.
    @ivar appliesTo: L{APPLIES_NOW} (internal options, seen by the next
        message), L{APPLIES_NEW_ASSOCIATIONS} (kernel options: pushed to the
        listen sockets for future associations; existing ones keep theirs)
        or L{APPLIES_UNCHANGED} (0 = keep).
    @ivar flushTracking: the caller must empty the tracking table (tracking
        was turned off).
    """

    name: str
    old: int
    new: int
    options: SCTPOptions
    appliesTo: str
    flushTracking: bool = False


def changeOption(current: SCTPOptions, name: str, value: object) -> RuntimeChange:
    """
    Apply the reference's run-time rules (C{cfg.set_now_int sctp NAME
    VALUE}), with its C{hbinterval=-1} quirk fixed.

    @param current: the options in force.
    @param name: the option, with or without the C{sctp_} prefix.
    @param value: the new value, as C{int} or decimal text.
    @return: what changed and what it applies to.  The caller pushes kernel
        options to its sockets (C{sctpsocket.applyRuntimeOption}) when
        C{appliesTo} is C{"new-associations"}.
    @raise UnknownOptionError: no such option.
    @raise OptionError: the option is read-only, the value is out of its
        run-time range, or a cross-option rule refuses it; the reason says
        which and what is allowed.
    """
    name = normalizeName(name)
    info = OPTIONS[name]
    new = parseValue(name, value)
    old: int = getattr(current, name)
    if not info.runtime:
        raise OptionError(
            name, "read-only at run time; set it at start-up (--option)"
        )
    reason = info.check(new, runtime=True)
    if reason is not None:
        raise OptionError(name, reason)
    if info.keepZero and new == 0:
        return RuntimeChange(name, old, old, current, APPLIES_UNCHANGED, False)
    if name == "assoc_tracking" and new == 0 and current.assoc_reuse:
        raise OptionError(
            name,
            "cannot turn assoc_tracking off while assoc_reuse=1; set "
            "assoc_reuse=0 first",
        )
    if name == "assoc_reuse" and new == 1 and not current.assoc_tracking:
        raise OptionError(
            name,
            "assoc_reuse=1 needs assoc_tracking=1; set assoc_tracking=1 first",
        )
    options = attrs.evolve(current, **{name: new})
    flush = name == "assoc_tracking" and old == 1 and new == 0
    return RuntimeChange(name, old, new, options, info.appliesTo, flush)


def describeOptions(names: Iterable[str] = OPTION_NAMES) -> List[str]:
    """
    @return: one help line per option: name, allowed values, default and
        description (for C{--help} and docs).
    """
    lines = []
    for name in names:
        info = OPTIONS[name]
        default = "OS value" if info.keepZero and info.default == 0 else str(info.default)
        ro = "" if info.runtime else ", read-only at run time"
        lines.append(
            "{}: {} (default {}{}); {}".format(
                name, info.allowed(), default, ro, info.description
            )
        )
    return lines
