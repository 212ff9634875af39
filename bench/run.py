#!/usr/bin/env python3
"""
C{make bench}: the twisted-sctp benchmark, end to end.

  1. Install what it needs if missing (apt: kamailio, kamailio-sctp-modules,
     sip-tester, strace, valgrind, user-mode-linux, kmod, iproute2).
  2. On the host, without a kernel: the user-space cost per OPTIONS
     transaction (L{bench.hostcost}: time.perf_counter, callgrind, cProfile)
     and the registry's scale (L{bench.scale}).
  3. In ONE boot of the SCTP kernel (C{scripts/with-sctp-kernel}, the UML
     guest pinned to one host CPU), every server side by side
     (L{bench.guest}), with the host-side CPU accounting of the guest's
     processes (L{bench.hostacct}) answering the guest's marks.
  4. Write C{bench/results/latest.json} and C{latest.md}.

    .venv/bin/python bench/run.py                # the full run (about 10 minutes)
    .venv/bin/python bench/run.py --preset quick # a shorter one
    .venv/bin/python bench/run.py --preset smoke --guest-only --skip-host --out-dir DIR
                                                 # seconds; already inside a kernel with SCTP
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import hostacct, report  # noqa: E402

APT_PACKAGES = ("kamailio", "kamailio-sctp-modules", "sip-tester", "strace", "valgrind", "user-mode-linux", "kmod", "iproute2")


def log(text: str) -> None:
    print("bench: " + text, flush=True)


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def ensurePackages() -> None:
    """
    apt-get install the packages the bench needs, if any is missing.
    """
    missing = []
    for name in APT_PACKAGES:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True)
        if b"install ok installed" not in proc.stdout:
            missing.append(name)
    if not missing:
        return
    log("installing {}".format(" ".join(missing)))
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env)


def hostHasSCTP() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, 132).close()
    except OSError:
        return False
    return True


def runJSON(argv: List[str], timeout: int) -> Dict[str, Any]:
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=timeout, env=dict(os.environ, PYTHONPATH=ROOT))
    if proc.returncode != 0:
        return {"error": "{} exited {}: {}".format(" ".join(argv[-4:]), proc.returncode, proc.stderr.decode(errors="replace")[-800:])}
    result: Dict[str, Any] = json.loads(proc.stdout)
    return result


def hostPart(preset: str) -> Dict[str, Any]:
    """
    The host-side measurements, each in a fresh interpreter.
    """
    python = sys.executable
    out: Dict[str, Any] = {}
    small = preset in ("quick", "smoke")
    n, repeat = ("1000", "3") if small else ("5000", "9")
    log("host: user-space cost per transaction (perf_counter)")
    cost = runJSON([python, "-m", "bench.hostcost", "--json", "--only", "ours,ours-sn,ours-register,ours-proxied,floor,twisted,fake", "--n", n, "--repeat", repeat], 1800)
    if preset != "smoke":
        log("host: cProfile of ours")
        prof = runJSON([python, "-m", "bench.hostcost", "--json", "--only", "ours", "--repeat", "0", "--n", "3000", "--profile", "ours"], 600)
        cost["profile"] = prof.get("profile", prof)
        if shutil.which("valgrind"):
            log("host: instruction counts (callgrind; a few minutes)")
            grind = runJSON([python, "-m", "bench.hostcost", "--json", "--repeat", "0", "--callgrind", "ours,ours-sn,ours-register,ours-proxied,floor,fake"], 3600)
            cost["callgrind"] = grind.get("callgrind", grind)
    out["host_cost"] = cost
    log("host: the user-space engine, engine to engine")
    out["engine"] = runJSON([python, "-m", "bench.engine", "--json", "--n", "5000" if small else "20000"], 900)
    log("host: registry scale")
    sizes = "100,1000,10000" if small else "100,1000,10000,50000"
    out["scale"] = runJSON([python, "-m", "bench.scale", "--json", "--n", "10000", "--sizes", sizes], 1800)
    return out


def guestPart(preset: str, servers: Optional[str], guestOnly: bool, cpu: str) -> Dict[str, Any]:
    """
    Run L{bench.guest} in one boot of the SCTP kernel (or here, with
    C{guestOnly} or on a host with SCTP), answering its marks with host-side
    snapshots of the UML processes.
    """
    tmpRoot = os.path.join(HERE, "results", "tmp")
    os.makedirs(tmpRoot, exist_ok=True)
    work = tempfile.mkdtemp(prefix="run-", dir=tmpRoot)
    output = os.path.join(work, "guest.json")
    argv = [sys.executable, "-m", "bench.guest", "--out", output, "--preset", preset]
    if servers:
        argv += ["--servers", servers]
    env = dict(os.environ, PYTHONPATH=ROOT)
    sampler = None
    try:
        if guestOnly or hostHasSCTP():
            log("guest part here (no UML boot)")
            proc = subprocess.Popen(argv, cwd=ROOT, env=env)
        else:
            control = os.path.join(work, "control")
            os.makedirs(control)
            env.update(BENCH_CONTROL_DIR=control, WITH_SCTP_KERNEL_CPU=cpu, WITH_SCTP_KERNEL_TIMEOUT="5400")
            log("guest part in one UML boot pinned to host CPU {}".format(cpu))
            proc = subprocess.Popen([os.path.join(ROOT, "scripts", "with-sctp-kernel"), *argv], cwd=ROOT, env=env)
            sampler = hostacct.Sampler(control, proc.pid)
            sampler.start()
        rc = proc.wait()
    finally:
        if sampler is not None:
            sampler.stop()
    try:
        with open(output) as f:
            result: Dict[str, Any] = json.load(f)
    except (OSError, ValueError) as e:
        result = {"error": "no guest results ({}); exit status {}".format(e, rc)}
    result["exit_status"] = rc
    if sampler is not None:
        result["host_marks_answered"] = sampler.answered
    shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description="twisted-sctp benchmark (make bench)")
    parser.add_argument("--preset", choices=["full", "quick", "smoke"], default="full")
    parser.add_argument("--servers", default=None, help="comma-separated: ours,kamailio,floor,twisted")
    parser.add_argument("--skip-host", action="store_true", help="no host-side (kernel-less) measurements")
    parser.add_argument("--skip-guest", action="store_true", help="no in-kernel measurements")
    parser.add_argument("--guest-only", action="store_true", help="run the in-kernel part here, without booting UML")
    parser.add_argument("--no-apt", action="store_true", help="do not install missing packages")
    parser.add_argument("--cpu", default=os.environ.get("BENCH_CPU", "1"), help="host CPU to pin the UML guest to")
    parser.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    parser.add_argument("--name", default="latest")
    args = parser.parse_args(argv)
    if not args.no_apt and not args.guest_only:
        ensurePackages()
    started = time.time()
    results: Dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *argv]),
        "preset": args.preset,
        "loadavg_before": loadavg(),
        "host_cpus": os.cpu_count(),
        "uml_cpu": None if args.guest_only else args.cpu,
    }
    if not args.skip_host:
        results.update(hostPart(args.preset))
    if not args.skip_guest:
        results["guest"] = guestPart(args.preset, args.servers, args.guest_only, args.cpu)
        # bench.guest ran the engine against kernel SCTP in the same boot.
        results["engine_guest"] = results["guest"].pop("engine", {"error": "bench.guest gave no engine run"})
    results["loadavg_after"] = loadavg()
    results["elapsed_s"] = round(time.time() - started, 1)
    results["targets"] = report.targets(results)
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, args.name)
    with open(base + ".json", "w") as f:
        json.dump(results, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(report.markdown(results))
    log("wrote {0}.json and {0}.md in {1:.0f} s".format(os.path.relpath(base, ROOT), results["elapsed_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
