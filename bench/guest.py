"""
The in-kernel half of the bench: run inside a kernel with SCTP (the UML
guest that C{scripts/with-sctp-kernel} boots, or a host with SCTP).  Every
server is started (each on its own port, all idle but the one under load),
then measured with SIPp phase by phase, interleaved:

  1. warm-up (a short SIPp run, not measured);
  2. C{rounds} rounds of the CPU run: C{-t s1} at the fixed rate for the
     fixed duration, servers in a rotating order, with the server's CPU
     read from the host side (L{bench.hostacct}) and from the guest's
     C{/proc}; the median round is reported;
  3. the same with C{-t sn} (one association per call: set-up, OPTIONS,
     200, shutdown), and C{-t s1} at the high rate (batching under load);
  4. per server: the latency run (C{-t s1} at the fixed rate with the wire
     capture of L{bench.capture} and SIPp's response times), the
     system-call run (C{strace -f -ttt} at the fixed rate), and step
     searches for the highest sustained rate with C{-t s1} and C{-t sn}.

Results go to one JSON file (see L{bench.report} for the table).
"""

from __future__ import annotations

import csv
import glob
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import attrs

from bench import capture, hostacct
from bench.servers import SERVERS, ServerSpec, probe

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCENARIO = os.path.join(HERE, "options.xml")
CLIENT_IP = "127.0.0.2"  # SIPp's side; with -i 127.0.0.1 its s1 association never comes up
#: System calls that are vDSO calls (no kernel entry) on a normal x86-64
#: kernel but real system calls in UML.
CLOCK_CALLS = ("clock_gettime", "gettimeofday", "time", "clock_getres")


@attrs.define
class Config:
    """
    Durations and rates of one bench run.
    """

    servers: List[str] = attrs.Factory(lambda: ["ours", "kamailio", "floor", "twisted"])
    rate: int = 200
    cpu_s: float = 20.0
    sn_rate: int = 100
    sn_s: float = 10.0
    latency_s: float = 10.0
    strace_s: float = 8.0
    rounds: int = 3
    high_rate: int = 600
    high_s: float = 10.0
    warmup_s: float = 2.0
    step_s: float = 5.0
    search_start: int = 200
    search_max: int = 6400
    search_steps: int = 7
    search_budget_s: float = 60.0
    settle_s: float = 1.0
    #: Messages each way of the engine-against-kernel run (L{bench.engine}),
    #: after the servers in the same boot; 0: none.
    engine_messages: int = 10000
    searches: List[str] = attrs.Factory(lambda: ["s1", "sn"])

    @classmethod
    def smoke(cls) -> "Config":
        return cls(
            servers=["floor"], rate=50, cpu_s=1.0, sn_rate=20, sn_s=1.0, latency_s=1.0, rounds=1, high_rate=0,
            strace_s=1.0, warmup_s=0.5, step_s=1.0, search_start=50, search_max=100,
            search_steps=1, search_budget_s=10.0, settle_s=0.2, engine_messages=500,
        )

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            rate=200, cpu_s=5.0, sn_rate=100, sn_s=3.0, latency_s=3.0, strace_s=3.0, rounds=2, high_s=3.0,
            warmup_s=1.0, step_s=2.0, search_steps=4, search_budget_s=20.0, settle_s=0.5, engine_messages=2000,
        )


# -- guest-side /proc ------------------------------------------------------


def descendants(pid: int) -> List[int]:
    """
    @return: C{pid} and every live process below it.
    """
    kids: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/{}/stat".format(name)) as f:
                    stat = f.read()
            except OSError:
                continue
            kids.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return sorted(out)


def guestStats(pids: List[int]) -> Dict[str, Dict[str, int]]:
    """
    @return: per guest pid: utime/stime ticks, voluntary context switches,
        RSS in kB (as the guest kernel reports them).
    """
    out: Dict[str, Dict[str, int]] = {}
    for pid in pids:
        try:
            with open("/proc/{}/stat".format(pid)) as f:
                stat = f.read()
            with open("/proc/{}/status".format(pid)) as f:
                status = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        entry = {"utime": int(fields[11]), "stime": int(fields[12]), "vcsw": 0, "rss_kb": 0}
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                entry["vcsw"] = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                entry["rss_kb"] = int(line.split()[1])
        out[str(pid)] = entry
    return out


def guestDelta(before: Dict[str, Dict[str, int]], after: Dict[str, Dict[str, int]]) -> Dict[str, float]:
    tick = float(os.sysconf("SC_CLK_TCK"))
    cpu = 0
    vcsw = 0
    for pid, a in after.items():
        b = before.get(pid, {"utime": 0, "stime": 0, "vcsw": 0})
        cpu += a["utime"] + a["stime"] - b["utime"] - b["stime"]
        vcsw += a["vcsw"] - b["vcsw"]
    return {"cpu_s": cpu / tick, "vcsw": vcsw}


def sctpAssociations() -> Optional[int]:
    """
    @return: how many SCTP associations the kernel has (C{/proc/net/sctp/assocs}).
    """
    try:
        with open("/proc/net/sctp/assocs") as f:
            return max(0, len(f.readlines()) - 1)
    except OSError:
        return None


# -- SIPp --------------------------------------------------------------------


def _lastStats(path: str) -> Dict[str, str]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
    except OSError:
        return {}
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1]))


def _rtts(directory: str) -> "tuple[List[float], List[float]]":
    """
    @return: SIPp's response times (ms) and their dates (ms since start).
    """
    values: List[float] = []
    dates: List[float] = []
    for path in glob.glob(os.path.join(directory, "*_rtt.csv")):
        with open(path) as f:
            for line in f:
                parts = line.strip().split(";")
                if len(parts) >= 2 and parts[1] and parts[1][0].isdigit():
                    dates.append(float(parts[0]))
                    values.append(float(parts[1]))
    return values, dates


def runSipp(
    scratch: str, tag: str, port: int, transport: str, rate: float, seconds: float, rttEvery: int = 20,
) -> Dict[str, Any]:
    """
    One SIPp run: C{rate} OPTIONS calls per second for C{seconds}.

    The achieved rate is the number of responses SIPp logged in its
    response-time file over the time of the last one (SIPp writes that file
    every C{rttEvery} calls; 1 logs every call, for percentiles, at the cost
    of one write per call in SIPp).  The rate is sustained when every call
    succeeded and the achieved rate is at least 95% of the offered one.

    @return: offered and achieved rate, successful and failed calls, SIPp's
        response times (ms resolution), whether the rate was sustained.
    """
    directory = os.path.join(scratch, tag)
    os.makedirs(directory, exist_ok=True)
    calls = max(1, int(round(rate * seconds)))
    guard = int(seconds * 3 + 15)
    argv = [
        "sipp", "-sf", SCENARIO, "-t", transport, "-i", CLIENT_IP, "127.0.0.1:{}".format(port),
        "-r", str(int(rate)), "-m", str(calls), "-l", str(max(50, int(rate))),
        "-buff_size", "4194304", "-nostdin", "-trace_stat", "-stf", "stat.csv", "-fd", "1",
        "-trace_rtt", "-rtt_freq", str(rttEvery), "-trace_err", "-timeout", "{}s".format(guard), "-timeout_error",
    ]
    started = time.monotonic()
    with open(os.path.join(directory, "sipp.out"), "wb") as out:
        try:
            rc = subprocess.call(argv, cwd=directory, stdout=out, stderr=subprocess.STDOUT, timeout=guard + 10)
        except subprocess.TimeoutExpired:
            rc = -9
    wall = time.monotonic() - started
    stats = _lastStats(os.path.join(directory, "stat.csv"))

    def number(key: str) -> int:
        try:
            return int(stats.get(key, "0") or 0)
        except ValueError:
            return 0

    successful = number("SuccessfulCall(C)")
    failed = number("FailedCall(C)")
    rtts, dates = _rtts(directory)
    lastMS = max(dates) if dates else None
    achieved = None
    if lastMS:
        achieved = len(dates) / (lastMS / 1000.0)
    sustained = (
        rc == 0 and failed == 0 and successful == calls
        and achieved is not None and achieved >= 0.95 * rate
    )
    result = {
        "transport": transport,
        "offered_rate": rate,
        "calls": calls,
        "successful": successful,
        "failed": failed,
        "sipp_rc": rc,
        "wall_s": round(wall, 3),
        "achieved_rate": round(achieved, 1) if achieved else None,
        "sustained": sustained,
        "sipp_rtt_ms": {
            "p50": capture.percentile(rtts, 0.50),
            "p99": capture.percentile(rtts, 0.99),
            "samples": len(rtts),
        },
    }
    if not sustained:
        errors = glob.glob(os.path.join(directory, "*_errors.log"))
        if errors:
            with open(errors[0], errors="replace") as f:
                result["sipp_errors_head"] = f.read(600)
    return result


# -- strace ----------------------------------------------------------------

_STRACE_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(?:<\.\.\. )?([a-z0-9_]+)(\(| resumed>)")


def parseStrace(path: str, start: float, end: float) -> Dict[str, Any]:
    """
    Count the system calls that started within C{[start, end]} (epoch
    seconds) in an C{strace -f -ttt -o} file.
    """
    byName: Dict[str, int] = {}
    byPID: Dict[str, int] = {}
    total = 0
    with open(path, errors="replace") as f:
        for line in f:
            m = _STRACE_LINE.match(line)
            if m is None or m.group(4) != "(":
                continue  # "resumed" halves, signals, exits
            stamp = float(m.group(2))
            if not start <= stamp <= end:
                continue
            total += 1
            byName[m.group(3)] = byName.get(m.group(3), 0) + 1
            byPID[m.group(1)] = byPID.get(m.group(1), 0) + 1
    return {"total": total, "by_name": dict(sorted(byName.items(), key=lambda kv: -kv[1])), "by_pid": byPID}


def straceRun(scratch: str, spec: ServerSpec, pids: List[int], cfg: Config) -> Dict[str, Any]:
    if shutil.which("strace") is None:
        return {"error": "strace is missing (apt-get install strace)"}
    out = os.path.join(scratch, "strace-{}.txt".format(spec.name))
    argv = ["strace", "-f", "-qq", "-ttt", "-o", out]
    for pid in pids:
        argv += ["-p", str(pid)]
    tracer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    if tracer.poll() is not None:
        return {"error": "strace could not attach: {}".format(tracer.stderr.read().decode()[-300:])}  # type: ignore[union-attr]
    start = time.time()
    sipp = runSipp(scratch, "strace-" + spec.name, spec.port, "s1", cfg.rate, cfg.strace_s)
    end = time.time()
    tracer.send_signal(signal.SIGINT)
    try:
        tracer.wait(20)
    except subprocess.TimeoutExpired:
        tracer.kill()
        tracer.wait()
    counts = parseStrace(out, start, end)
    txns = sipp["successful"] or 1
    clock = sum(n for name, n in counts["by_name"].items() if name in CLOCK_CALLS)
    return {
        "sipp": sipp,
        "syscalls": counts["total"],
        "per_txn": round(counts["total"] / txns, 3),
        "per_txn_excl_clock": round((counts["total"] - clock) / txns, 3),
        "by_name_per_txn": {k: round(v / txns, 3) for k, v in counts["by_name"].items()},
        "by_pid": counts["by_pid"],
    }


# -- one server --------------------------------------------------------------


def cpuRun(
    scratch: str, spec: ServerSpec, control: hostacct.Control, hostPIDs: List[int],
    guestPIDs: List[int], transport: str, rate: int, seconds: float,
) -> Dict[str, Any]:
    """
    A SIPp run with the server's CPU measured around it.
    """
    gBefore = guestStats(guestPIDs)
    hBefore = control.mark("cpu-start {} {}".format(spec.name, transport))
    sipp = runSipp(scratch, "cpu-{}-{}".format(spec.name, transport), spec.port, transport, rate, seconds)
    hAfter = control.mark("cpu-end {} {}".format(spec.name, transport))
    gAfter = guestStats(guestPIDs)
    txns = sipp["successful"]
    result: Dict[str, Any] = {"rate": rate, "duration_s": seconds, "sipp": sipp, "transactions": txns}
    g = guestDelta(gBefore, gAfter)
    result["guest"] = {
        "cpu_s": g["cpu_s"],
        "cpu_us_per_txn": round(g["cpu_s"] * 1e6 / txns, 1) if txns else None,
        "vcsw_per_txn": round(g["vcsw"] / txns, 3) if txns else None,
    }
    result["rss_kb"] = sum(v["rss_kb"] for v in gAfter.values())
    h = hostacct.delta(hBefore, hAfter, hostPIDs)
    if h is not None and txns:
        per = lambda seconds_: round(seconds_ * 1e6 / txns, 1)  # noqa: E731
        result["host"] = {
            "wall_s": round(h["wall_s"], 3),
            "server_runtime_us_per_txn": per(h["server"]["runtime_s"]),
            "server_utime_us_per_txn": per(h["server"]["utime_s"]),
            "server_stime_us_per_txn": per(h["server"]["stime_s"]),
            "server_ptrace_stops_per_txn": round(h["server"]["vcsw"] / txns, 3),
            "guest_kernel_us_per_txn": per(h["guest_kernel"]["runtime_s"]),
            "whole_guest_us_per_txn": per(h["whole_guest"]["runtime_s"]),
            "per_process_runtime_us_per_txn": {
                pid: per(d["runtime_s"]) for pid, d in h["per_process"].items()
            },
        }
    return result


def search(scratch: str, spec: ServerSpec, transport: str, cfg: Config, alive: Any) -> Dict[str, Any]:
    """
    Step search for the highest rate sustained with 0 failures: double from
    C{search_start} until a step fails, then bisect, within C{search_steps}
    steps and C{search_budget_s} seconds.
    """
    steps: List[Dict[str, Any]] = []
    best = 0
    failedAt: Optional[int] = None
    rate = cfg.search_start
    deadline = time.monotonic() + cfg.search_budget_s
    while len(steps) < cfg.search_steps and time.monotonic() < deadline and rate > 0:
        r = runSipp(scratch, "search-{}-{}-{}".format(spec.name, transport, rate), spec.port, transport, rate, cfg.step_s)
        steps.append({k: r[k] for k in ("offered_rate", "achieved_rate", "successful", "failed", "sustained", "sipp_rc")})
        if r["sustained"]:
            best = max(best, rate)
        else:
            failedAt = rate if failedAt is None else min(failedAt, rate)
        if not alive():
            steps[-1]["server_died"] = True
            break
        if failedAt is None:
            if rate >= cfg.search_max:
                break
            rate = min(cfg.search_max, rate * 2)
        else:
            if failedAt - best <= max(20, int(0.08 * max(best, 1))):
                break
            rate = int(round((best + failedAt) / 2 / 10.0)) * 10 or (best + failedAt) // 2
            if rate <= best or rate >= failedAt:
                break
        time.sleep(cfg.settle_s)
    return {"transport": transport, "max_sustained_rate": best, "first_failed_rate": failedAt, "steps": steps}


@attrs.define
class Running:
    """
    A started server: its process, its guest and host pids, its results.
    """

    spec: ServerSpec
    proc: Any
    log: Any
    guestPIDs: List[int] = attrs.Factory(list)
    hostPIDs: List[int] = attrs.Factory(list)
    result: Dict[str, Any] = attrs.Factory(dict)

    def alive(self) -> bool:
        return bool(self.proc.poll() is None)


def startServer(spec: ServerSpec, control: hostacct.Control, scratch: str) -> Running:
    """
    Start C{spec}, wait until it answers OPTIONS, and find its processes in
    the guest and (through two host marks around the start) on the host.
    """
    log = open(os.path.join(scratch, "server-{}.log".format(spec.name)), "wb")
    before = control.mark("spawn-begin " + spec.name)
    proc = subprocess.Popen(spec.argv, cwd=spec.cwd, env=spec.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    running = Running(spec, proc, log)
    running.result = {"label": spec.label, "port": spec.port, "argv": spec.argv}
    if not probe(spec.port, timeout=30.0, alive=running.alive):
        running.result["error"] = "the server did not answer OPTIONS within 30 s (exit status {})".format(proc.poll())
        return running
    time.sleep(0.5)  # let forked workers settle
    after = control.mark("spawn-end " + spec.name)
    running.guestPIDs = descendants(proc.pid)
    running.hostPIDs = hostacct.newProcesses(before, after)
    running.result["pids"] = {"guest": running.guestPIDs, "host": running.hostPIDs}
    if after is not None and len(running.hostPIDs) != len(running.guestPIDs):
        running.result.setdefault("warnings", []).append(
            "{} new host processes for {} guest processes".format(len(running.hostPIDs), len(running.guestPIDs)))
    return running


def stopServer(running: Running, scratch: str) -> None:
    proc = running.proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    elif "error" not in running.result:
        running.result["error"] = "the server exited during the run (status {})".format(proc.returncode)
    running.log.close()
    if "error" in running.result:
        with open(os.path.join(scratch, "server-{}.log".format(running.spec.name)), errors="replace") as f:
            running.result["server_log_tail"] = f.read()[-1500:]


def combine(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """
    The median of several CPU runs of one server, field by field, with the
    per-round values of the main figure kept for the spread.
    """
    if not runs:
        return {}
    if len(runs) == 1:
        return runs[0]

    def median(values: List[Any]) -> Any:
        numbers = sorted(v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool))
        if not numbers:
            return values[0]
        middle = len(numbers) // 2
        value = numbers[middle] if len(numbers) % 2 else (numbers[middle - 1] + numbers[middle]) / 2.0
        return round(value, 3) if isinstance(value, float) else value

    def merge(items: List[Any]) -> Any:
        if all(isinstance(i, dict) for i in items):
            keys = [k for k in items[0]]
            return {k: merge([i.get(k) for i in items]) for k in keys}
        return median(items)

    out: Dict[str, Any] = merge([{k: v for k, v in r.items() if k != "sipp"} for r in runs])
    out["rounds"] = len(runs)
    out["sipp"] = runs[-1]["sipp"]
    out["all_sustained"] = all(r["sipp"]["sustained"] for r in runs)
    out["rounds_server_runtime_us_per_txn"] = [_get(r, "host", "server_runtime_us_per_txn") for r in runs]
    out["rounds_transactions"] = [r["transactions"] for r in runs]
    return out


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _rotated(items: List[Any], shift: int) -> List[Any]:
    if not items:
        return items
    shift %= len(items)
    return items[shift:] + items[:shift]


def measureAll(cfg: Config, control: hostacct.Control, scratch: str, results: Dict[str, Any], output: str) -> None:
    """
    Start every server, then measure them phase by phase, interleaved, so
    that a change in the host's load hits them all alike:

      1. warm-up, then C{rounds} rounds of the s1 CPU run, the servers in a
         rotating order (the median is reported);
      2. the sn CPU run, and the s1 CPU run at the high rate;
      3. per server: latency run, strace run, s1 and sn step searches.
    """
    servers: List[Running] = []
    try:
        for name in cfg.servers:
            spec = SERVERS[name](scratch)
            print("bench: starting {} ...".format(spec.label), flush=True)
            running = startServer(spec, control, scratch)
            servers.append(running)
            results["servers"][name] = running.result
        live = [r for r in servers if "error" not in r.result]
        for r in live:
            runSipp(scratch, "warmup-" + r.spec.name, r.spec.port, "s1", cfg.rate, cfg.warmup_s)
        s1Runs: Dict[str, List[Dict[str, Any]]] = {r.spec.name: [] for r in live}
        for round_ in range(cfg.rounds):
            for r in _rotated(live, round_):
                if r.alive():
                    print("bench: round {} s1 CPU run: {}".format(round_ + 1, r.spec.name), flush=True)
                    s1Runs[r.spec.name].append(cpuRun(scratch, r.spec, control, r.hostPIDs, r.guestPIDs, "s1", cfg.rate, cfg.cpu_s))
                    time.sleep(cfg.settle_s)
        for r in live:
            r.result["fixed_s1"] = combine(s1Runs[r.spec.name])
        _write(results, output)
        for r in live:
            if r.alive():
                print("bench: sn and high-rate CPU runs: {}".format(r.spec.name), flush=True)
                r.result["fixed_sn"] = cpuRun(scratch, r.spec, control, r.hostPIDs, r.guestPIDs, "sn", cfg.sn_rate, cfg.sn_s)
                time.sleep(cfg.settle_s)
                r.result["associations_after_sn"] = sctpAssociations()
                if cfg.high_rate:
                    r.result["fixed_s1_high"] = cpuRun(scratch, r.spec, control, r.hostPIDs, r.guestPIDs, "s1", cfg.high_rate, cfg.high_s)
                    time.sleep(cfg.settle_s)
        _write(results, output)
        for r in live:
            if not r.alive():
                continue
            print("bench: latency, strace and searches: {}".format(r.spec.name), flush=True)
            started = time.monotonic()
            r.result["latency"] = latencyRun(scratch, r.spec, cfg)
            time.sleep(cfg.settle_s)
            r.result["strace"] = straceRun(scratch, r.spec, r.guestPIDs, cfg)
            time.sleep(cfg.settle_s)
            for transport in cfg.searches:
                r.result["search_" + transport] = search(scratch, r.spec, transport, cfg, r.alive)
                time.sleep(cfg.settle_s)
            r.result["elapsed_s"] = round(time.monotonic() - started, 1)
            _write(results, output)
    finally:
        for r in servers:
            stopServer(r, scratch)


def latencyRun(scratch: str, spec: ServerSpec, cfg: Config) -> Dict[str, Any]:
    """
    A run at the fixed rate with the wire capture and SIPp logging every
    response time.
    """
    cap = capture.SCTPCapture(spec.port)
    if not cap.start():
        return {"error": cap.error}
    sipp = runSipp(scratch, "latency-" + spec.name, spec.port, "s1", cfg.rate, cfg.latency_s, rttEvery=1)
    matched = cap.stop()
    rtts: List[float] = matched["rtt_us"]  # type: ignore[assignment]
    return {
        "sipp": sipp,
        "wire_us": {
            "p50": round(capture.percentile(rtts, 0.50) or 0, 1) if rtts else None,
            "p99": round(capture.percentile(rtts, 0.99) or 0, 1) if rtts else None,
            "samples": matched["samples"],
            "unmatched": matched["unmatched"],
        },
    }


def environment() -> Dict[str, Any]:
    info: Dict[str, Any] = {
        "kernel": platform.release(),
        "uml_guest": os.environ.get("TWISTED_SCTP_UML_GUEST") == "1",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    for tool, args in (("sipp", ["-v"]), ("kamailio", ["-v"])):
        try:
            out = subprocess.run([tool] + args, capture_output=True, timeout=20).stdout.decode(errors="replace")
            info[tool] = next((line.strip() for line in out.splitlines() if line.strip()), "")
        except (OSError, subprocess.TimeoutExpired):
            info[tool] = None
    return info


def run(cfg: Config, output: str, controlDir: Optional[str]) -> Dict[str, Any]:
    """
    Measure every server of C{cfg} and write the results to C{output}.
    """
    control = hostacct.Control(controlDir)
    # In the UML guest /run is a tmpfs of the guest's own: SIPp's and
    # strace's files stay off hostfs (each hostfs write costs host calls).
    base = "/run" if os.environ.get("TWISTED_SCTP_UML_GUEST") == "1" else None
    scratch = tempfile.mkdtemp(prefix="twisted-sctp-bench-", dir=base)
    results: Dict[str, Any] = {
        "config": attrs.asdict(cfg),
        "environment": environment(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "servers": {},
    }
    results["environment"]["host_accounting"] = bool(controlDir)
    try:
        measureAll(cfg, control, scratch, results, output)
        if cfg.engine_messages:
            results["engine"] = engineAgainstKernel(cfg.engine_messages)
    finally:
        results["host_handshake_failures"] = control.failures
        results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        _write(results, output)
        if os.environ.get("BENCH_KEEP_SCRATCH") != "1":
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print("bench: scratch files kept in {}".format(scratch))
    return results


def engineAgainstKernel(n: int) -> Dict[str, Any]:
    """
    The user-space engine against kernel SCTP (L{bench.engine.guest}) in this
    boot, once the servers are measured and stopped.
    """
    print("bench: the user-space engine against kernel SCTP, {} messages each way".format(n), flush=True)
    from bench import engine

    try:
        return engine.guest(n)
    except (OSError, subprocess.SubprocessError) as e:
        return {"error": str(e)}


def _write(results: Dict[str, Any], output: str) -> None:
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1, sort_keys=False)
    os.replace(tmp, output)


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--servers", default=None)
    parser.add_argument("--preset", choices=["full", "quick", "smoke"], default="full")
    parser.add_argument("--control", default=os.environ.get("BENCH_CONTROL_DIR"))
    args = parser.parse_args()
    config = {"full": Config, "quick": Config.quick, "smoke": Config.smoke}[args.preset]()
    if args.servers:
        config.servers = args.servers.split(",")
    run(config, args.out, args.control)
    sys.exit(0)
