"""
The bench's verdicts and its Markdown report, from the merged results
(C{bench/results/latest.json}).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

ORDER = ("ours", "kamailio", "floor", "twisted")


def _get(d: Any, *path: Any) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def cpuPerTxn(server: Dict[str, Any], run: str = "fixed_s1") -> Optional[float]:
    """
    The server's CPU per transaction used for the targets: host-side
    accounting of its processes (exact run time, user space plus the host's
    trap work) when there is one, else the guest's tick-sampled figure.
    """
    host = _get(server, run, "host", "server_runtime_us_per_txn")
    if host is not None:
        return float(host)
    guest = _get(server, run, "guest", "cpu_us_per_txn")
    return float(guest) if guest is not None else None


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or not b:
        return None
    return round(a / b, 2)


def targets(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """
    @return: one row per target: what, the measured value, the limit,
        whether it is met (C{None}: not measured in this run).
    """
    servers = _get(results, "guest", "servers") or {}
    ours, kam, floor = servers.get("ours", {}), servers.get("kamailio", {}), servers.get("floor", {})
    rows: List[Dict[str, Any]] = []

    def row(what: str, value: Optional[float], limit: float, op: str, detail: str = "") -> None:
        met = None
        if value is not None:
            met = value <= limit if op == "<=" else value >= limit
        rows.append({"target": what, "value": value, "limit": "{} {}".format(op, limit), "met": met, "detail": detail})

    # Issue 10's targets, each a ratio to Kamailio in the same run.
    for run, label, limit in (("fixed_s1", "s1 at the fixed rate (200/s)", 2.0), ("fixed_s1_high", "s1 at the high rate (600/s)", 1.5),
                              ("fixed_sn", "sn (a new association per call)", 2.0)):
        o, k = cpuPerTxn(ours, run), cpuPerTxn(kam, run)
        row("server CPU/txn vs Kamailio 1 worker, {}".format(label), _ratio(o, k), limit, "<=",
            "{} vs {} us; stdlib floor {} us".format(o, k, cpuPerTxn(floor, run)))
    for transport in ("s1", "sn"):
        o = _get(ours, "search_" + transport, "max_sustained_rate")
        k = _get(kam, "search_" + transport, "max_sustained_rate")
        row("max sustained rate -t {} vs Kamailio".format(transport), _ratio(o, k), 1.0, ">=",
            "{} vs {} calls/s".format(o, k))
    raw = _get(ours, "strace", "per_txn")
    excl = _get(ours, "strace", "per_txn_excl_clock")
    stops = _get(ours, "fixed_s1", "host", "server_ptrace_stops_per_txn")
    row("syscalls/txn at 200/s (strace, all calls)", raw, 3.0, "<=",
        "ptrace stops {} (untraced run); {} without clock reads; by name {}; Kamailio {}".format(
            stops, excl, _get(ours, "strace", "by_name_per_txn"), _get(kam, "strace", "per_txn")))
    row("syscalls/txn at 200/s (host ptrace stops, untraced)", stops, 3.0, "<=",
        "Kamailio {}".format(_get(kam, "fixed_s1", "host", "server_ptrace_stops_per_txn")))
    row("association set-ups/s, -t sn (max sustained)", _get(ours, "search_sn", "max_sustained_rate"), 1000, ">=",
        "Kamailio {}".format(_get(kam, "search_sn", "max_sustained_rate")))
    grind = _get(results, "host_cost", "callgrind") or {}
    harness = _get(grind, "fake", "instructions_per_txn")
    instructions = _get(grind, "ours", "instructions_per_txn")
    row("instructions per OPTIONS on the host (callgrind, the bench harness included)", instructions, 150000, "<=",
        "net of the harness's own {} (making the message, the scripted socket): {}; floor {}; ours-sn {}, ours-register {}, ours-proxied {}".format(
            harness, instructions - harness if instructions and harness else None, _get(grind, "floor", "instructions_per_txn"),
            _get(grind, "ours-sn", "instructions_per_txn"), _get(grind, "ours-register", "instructions_per_txn"),
            _get(grind, "ours-proxied", "instructions_per_txn")))
    row("instructions per OPTIONS on the host, net of the harness (ours minus the fake runner)",
        instructions - harness if instructions and harness else None, 150000, "<=",
        "the fake runner makes the same messages and replies through the same scripted socket with no server")
    hostUS = _get(results, "host_cost", "timing", "ours", "us_per_txn_best")
    row("user-space cost per OPTIONS transaction on the host, us", hostUS, 15, "<=",
        "net of the scripted socket {} us; floor: {} us".format(
            _get(results, "host_cost", "timing", "ours", "us_per_txn_net_of_fake"), _get(results, "host_cost", "timing", "floor", "us_per_txn_best")))
    row("engine: 1 KB messages/s each way on one association (host, engine to engine)",
        _get(results, "engine", "layer_mtu65000", "messages_per_second_each_way"), 10000, ">=",
        "mtu 65000; CPU-bound {}; at mtu 1200: {}; sans-io: {}".format(
            _get(results, "engine", "layer_mtu65000", "cpu_bound_messages_per_second_each_way"),
            _get(results, "engine", "layer", "messages_per_second_each_way"),
            _get(results, "engine", "sansio", "messages_per_second_each_way")))
    mem = _get(results, "scale", "memory", "port", "rss_growth_mb_untraced")
    row("RSS growth for 10,000 associations (port + SIP protocols), MB", mem, 30, "<=",
        "registry alone: {} MB".format(_get(results, "scale", "memory", "registry", "rss_growth_mb_untraced")))
    lookups = _get(results, "scale", "lookups") or []
    if len(lookups) >= 2:
        first, last = lookups[0], lookups[-1]
        worst = None
        for key in ("byKernelID_with_source_ns", "byPeer_ns", "byID_ns", "down_us"):
            a, b = first.get(key), last.get(key)
            if a and b:
                exponent = math.log(b / a) / math.log(last["associations"] / first["associations"])
                worst = exponent if worst is None else max(worst, exponent)
        row("lookup and removal time vs associations {} -> {}: growth exponent (O(1): ~0, O(n): 1)".format(
            first["associations"], last["associations"]),
            round(worst, 3) if worst is not None else None, 0.2, "<=",
            "byKernelID+source {} -> {} ns; byPeer {} -> {} ns; down() {} -> {} us".format(
                first.get("byKernelID_with_source_ns"), last.get("byKernelID_with_source_ns"),
                first.get("byPeer_ns"), last.get("byPeer_ns"), first.get("down_us"), last.get("down_us")))
    return rows


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "{:.{}f}".format(value, digits)
    return str(value)


def markdown(results: Dict[str, Any]) -> str:
    """
    @return: the report: environment, the side-by-side table, host-side
        figures, scale, targets.
    """
    lines: List[str] = []
    env = _get(results, "guest", "environment") or {}
    lines.append("# twisted-sctp bench results")
    lines.append("")
    lines.append("- date: {}".format(results.get("date")))
    lines.append("- command: `{}`".format(results.get("command")))
    lines.append("- host load average before/after: {} / {}".format(results.get("loadavg_before"), results.get("loadavg_after")))
    lines.append("- guest: kernel {}, UML {}, host-side accounting {}, UML pinned to host CPU {}".format(
        env.get("kernel"), env.get("uml_guest"), env.get("host_accounting"), results.get("uml_cpu")))
    lines.append("- SIPp: {}; Kamailio: {}".format(env.get("sipp"), env.get("kamailio")))
    cfg = _get(results, "guest", "config") or {}
    lines.append("- fixed load: -t s1 at {} calls/s for {} s x {} rounds (median); -t sn at {} calls/s for {} s; "
                 "high rate -t s1 at {} calls/s for {} s; search steps of {} s".format(
                     cfg.get("rate"), cfg.get("cpu_s"), cfg.get("rounds"), cfg.get("sn_rate"), cfg.get("sn_s"),
                     cfg.get("high_rate"), cfg.get("high_s"), cfg.get("step_s")))
    lines.append("")
    servers = _get(results, "guest", "servers") or {}
    if servers:
        lines.append("## In the guest, side by side")
        lines.append("")
        header = ["", *[(_get(servers, n, "label") or n) for n in ORDER if n in servers]]
        names = [n for n in ORDER if n in servers]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))

        def add(label: str, fn: Any) -> None:
            lines.append("| " + " | ".join([label] + [_fmt(fn(servers[n])) for n in names]) + " |")

        add("server CPU us/txn, s1 (host: stub run time)", lambda s: _get(s, "fixed_s1", "host", "server_runtime_us_per_txn"))
        add("  of which user (host ticks)", lambda s: _get(s, "fixed_s1", "host", "server_utime_us_per_txn"))
        add("  guest kernel us/txn (whole guest, all processes)", lambda s: _get(s, "fixed_s1", "host", "guest_kernel_us_per_txn"))
        add("  guest /proc utime+stime us/txn (100 Hz ticks)", lambda s: _get(s, "fixed_s1", "guest", "cpu_us_per_txn"))
        add("  s1 rounds (us/txn each)", lambda s: " / ".join(_fmt(v) for v in (_get(s, "fixed_s1", "rounds_server_runtime_us_per_txn") or [])) or "n/a")
        add("server CPU us/txn, sn (new association per call)", lambda s: _get(s, "fixed_sn", "host", "server_runtime_us_per_txn"))
        add("server CPU us/txn, s1 at the high rate", lambda s: _get(s, "fixed_s1_high", "host", "server_runtime_us_per_txn"))
        add("ptrace stops/txn (host; ~ syscalls), fixed rate", lambda s: _get(s, "fixed_s1", "host", "server_ptrace_stops_per_txn"))
        add("ptrace stops/txn (host; ~ syscalls), high rate", lambda s: _get(s, "fixed_s1_high", "host", "server_ptrace_stops_per_txn"))
        add("high rate sustained", lambda s: _get(s, "fixed_s1_high", "sipp", "sustained"))
        add("syscalls/txn (strace)", lambda s: _get(s, "strace", "per_txn"))
        add("syscalls/txn without clock calls", lambda s: _get(s, "strace", "per_txn_excl_clock"))
        add("response time p50 us (wire)", lambda s: _get(s, "latency", "wire_us", "p50"))
        add("response time p99 us (wire)", lambda s: _get(s, "latency", "wire_us", "p99"))
        add("SIPp response time p50/p99 ms", lambda s: "{}/{}".format(
            _fmt(_get(s, "latency", "sipp", "sipp_rtt_ms", "p50"), 0), _fmt(_get(s, "latency", "sipp", "sipp_rtt_ms", "p99"), 0)))
        add("max sustained rate -t s1 (calls/s)", lambda s: _get(s, "search_s1", "max_sustained_rate"))
        add("max sustained rate -t sn (assoc set-ups/s)", lambda s: _get(s, "search_sn", "max_sustained_rate"))
        add("first failed rate s1 / sn", lambda s: "{}/{}".format(
            _fmt(_get(s, "search_s1", "first_failed_rate")), _fmt(_get(s, "search_sn", "first_failed_rate"))))
        add("RSS kB after the s1 run (guest)", lambda s: _get(s, "fixed_s1", "rss_kb"))
        add("errors", lambda s: s.get("error") or "-")
        lines.append("")
        top = {n: ", ".join("{} {}".format(k, v) for k, v in list((_get(servers[n], "strace", "by_name_per_txn") or {}).items())[:5]) for n in names}
        lines.append("System calls per transaction by name (strace): " + "; ".join("**{}**: {}".format(n, t) for n, t in top.items()))
        lines.append("")
    host = results.get("host_cost") or {}
    if host.get("timing"):
        lines.append("## On the host: user-space cost per OPTIONS transaction (scripted socket)")
        lines.append("")
        lines.append("| path | us/txn best | us/txn median | net of the fake socket | instructions/txn (callgrind) |")
        lines.append("|---|---|---|---|---|")
        for name, entry in host["timing"].items():
            lines.append("| {} | {} | {} | {} | {} |".format(
                name, _fmt(entry.get("us_per_txn_best"), 2), _fmt(entry.get("us_per_txn_median"), 2),
                _fmt(entry.get("us_per_txn_net_of_fake"), 2),
                _fmt(_get(host, "callgrind", name, "instructions_per_txn"))))
        lines.append("")
    profile = _get(results, "host_cost", "profile") or {}
    if profile.get("tottime"):
        lines.append("Where ours spends its time per OPTIONS (cProfile of {} transactions, {} Python calls each; by own time):".format(
            profile.get("n"), profile.get("function_calls_per_txn")))
        lines.append("")
        lines.append("```")
        lines.extend(profile["tottime"][:28])
        lines.append("```")
        lines.append("")
    scale = results.get("scale") or {}
    if scale:
        lines.append("## Scale (host, pure registry and port on a scripted socket)")
        lines.append("")
        for kind, entry in (scale.get("memory") or {}).items():
            lines.append("- {} with {} associations: RSS growth {} MB (untraced), Python heap {} MB ({} bytes each)".format(
                kind, entry.get("associations"), entry.get("rss_growth_mb_untraced"), entry.get("python_heap_growth_mb"),
                entry.get("bytes_per_association")))
        lines.append("")
        lines.append("| associations | byKernelID ns | byKernelID+source ns | byID ns | byPeer ns | down() us |")
        lines.append("|---|---|---|---|---|---|")
        for row in scale.get("lookups") or []:
            lines.append("| {associations} | {byKernelID_ns} | {byKernelID_with_source_ns} | {byID_ns} | {byPeer_ns} | {down_us} |".format(**row))
        lines.append("")
        for row in scale.get("port_comm_up") or []:
            lines.append("- port with {associations} associations: COMM_UP {comm_up_us} us, SHUTDOWN_COMP {shutdown_comp_us} us".format(**row))
        lines.append("")
    engine = results.get("engine") or {}
    if engine:
        lines.append("## User-space engine (host, engine to engine, one association, 1 KB messages both ways)")
        lines.append("")
        lines.append("| path | messages/s each way | CPU us/message | complete |")
        lines.append("|---|---|---|---|")
        for name, label in (("layer_mtu65000", "SCTPPort over EngineBackend, UDP loopback, reactor, mtu 65000"),
                            ("layer", "SCTPPort over EngineBackend, UDP loopback, reactor, mtu 1200"),
                            ("sansio", "two Endpoints in memory, mtu 1200")):
            entry = engine.get(name) or {}
            lines.append("| {} | {} | {} | {} |".format(label, entry.get("messages_per_second_each_way"),
                                                      entry.get("cpu_us_per_message"), entry.get("complete")))
        for name, label in (("kernel_to_engine", "guest: kernel SCTP port to engine port (UDP encapsulation)"),
                            ("kernel_to_kernel", "guest: kernel SCTP port to kernel SCTP port")):
            entry = (results.get("engine_guest") or {}).get(name) or {}
            if entry:
                lines.append("| {} | {} | {} | {} |".format(label, entry.get("messages_per_second_each_way"),
                                                          entry.get("cpu_us_per_message"), entry.get("complete")))
        lines.append("")
    rows = results.get("targets") or []
    if rows:
        lines.append("## Targets")
        lines.append("")
        lines.append("| target | measured | limit | met | detail |")
        lines.append("|---|---|---|---|---|")
        for r in rows:
            met = {True: "yes", False: "**no**", None: "not measured"}[r["met"]]
            lines.append("| {} | {} | {} | {} | {} |".format(r["target"], _fmt(r["value"], 2), r["limit"], met, r["detail"]))
        lines.append("")
    return "\n".join(lines) + "\n"
