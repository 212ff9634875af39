"""
Host-side CPU accounting of a user-mode Linux guest, and the handshake the
guest driver uses to ask for it.

Why: inside the UML guest, per-process CPU accounting is tick-sampled and
reads about 0 for a busy server (sctp-kernel-lab.md).  On the host, UML runs
every guest address space as a host process of its own (the "stub" that
executes the guest process's user code under ptrace), and the guest kernel
in the main C{linux.uml} process.  So the host's C{/proc/PID/schedstat}
(nanoseconds on the CPU, not sampled) of a guest process's stub is that
process's user-space CPU plus the host kernel's trap work for it; its
C{voluntary_ctxt_switches} count the ptrace stops, about one per guest
system call (page faults and signals add a few).  The guest kernel's own
work (the system calls' bodies, the SCTP stack) runs in the main process
for every guest process at once and cannot be split per process.

Handshake: the guest writes C{req-N.json} into a control directory on the
shared (hostfs) file system; L{Sampler} (a thread in the host driver)
answers with C{ack-N.json}, a L{snapshot} of every host process of that UML
instance taken at that moment.  The guest finds a server's stub processes as
the ones that appeared between two marks around the server's start.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Dict, List, Optional

UML_EXE_NAMES = ("linux.uml", "linux", "vmlinux")


def _readStat(pid: int) -> Optional[Dict[str, Any]]:
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            stat = f.read()
        with open("/proc/{}/schedstat".format(pid)) as f:
            sched = f.read().split()
        with open("/proc/{}/status".format(pid)) as f:
            status = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    entry: Dict[str, Any] = {
        "ppid": int(fields[1]),
        "state": fields[0],
        "utime_ticks": int(fields[11]),
        "stime_ticks": int(fields[12]),
        "start_ticks": int(fields[19]),
        "runtime_ns": int(sched[0]),
    }
    for line in status.splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            entry["vcsw"] = int(line.split()[1])
        elif line.startswith("nonvoluntary_ctxt_switches:"):
            entry["nvcsw"] = int(line.split()[1])
        elif line.startswith("VmRSS:"):
            entry["rss_kb"] = int(line.split()[1])
    return entry


def _children() -> Dict[int, List[int]]:
    kids: Dict[int, List[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(name)) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    return kids


def _isUML(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink("/proc/{}/exe".format(pid))) in UML_EXE_NAMES
    except OSError:
        return False


def snapshot(rootPID: int) -> Dict[str, Any]:
    """
    Every UML host process under C{rootPID} (the host driver's child that
    boots the guest), with its CPU figures.

    @return: C{{"time": monotonic seconds, "ticks_per_s": ..., "main": the
        guest kernel's pid or None, "procs": {pid: {...}}}}.
    """
    kids = _children()
    todo, found = [rootPID], []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(kids.get(pid, []))
    procs: Dict[str, Any] = {}
    for pid in found:
        if pid != rootPID and _isUML(pid):
            entry = _readStat(pid)
            if entry is not None:
                procs[str(pid)] = entry
    main: Optional[int] = None
    for key, info in procs.items():
        if str(info["ppid"]) not in procs:
            main = int(key)
    return {
        "time": time.monotonic(),
        "ticks_per_s": os.sysconf("SC_CLK_TCK"),
        "main": main,
        "procs": procs,
    }


class Sampler(threading.Thread):
    """
    Answers the guest's requests in C{directory} with snapshots of the UML
    processes under C{rootPID}, until L{stop}.
    """

    def __init__(self, directory: str, rootPID: int, interval: float = 0.005) -> None:
        super().__init__(name="uml-sampler", daemon=True)
        self.directory = directory
        self.rootPID = rootPID
        self.interval = interval
        self.answered = 0
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(5)

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                names = os.listdir(self.directory)
            except OSError:
                names = []
            for name in sorted(names):
                if not (name.startswith("req-") and name.endswith(".json")):
                    continue
                number = name[4:-5]
                request = os.path.join(self.directory, name)
                try:
                    with open(request) as f:
                        label = json.load(f).get("label")
                except (OSError, ValueError):
                    continue  # not completely written yet
                snap = snapshot(self.rootPID)
                snap["label"] = label
                tmp = os.path.join(self.directory, "ack-{}.tmp".format(number))
                with open(tmp, "w") as f:
                    json.dump(snap, f)
                os.rename(tmp, os.path.join(self.directory, "ack-{}.json".format(number)))
                os.unlink(request)
                self.answered += 1
            self._stopping.wait(self.interval)


class Control:
    """
    The guest's end of the handshake.  Without a control directory (a host
    kernel with SCTP, or a smoke run) every L{mark} returns C{None}.
    """

    def __init__(self, directory: Optional[str], timeout: float = 5.0) -> None:
        self.directory = directory
        self.timeout = timeout
        self._number = 0
        self.failures = 0

    def mark(self, label: str) -> Optional[Dict[str, Any]]:
        """
        Ask the host for a snapshot now and wait for it.

        @return: the snapshot, or C{None} (no host sampler, or it did not
            answer within C{timeout}).
        """
        if not self.directory:
            return None
        self._number += 1
        base = os.path.join(self.directory, "{}-{:05d}")
        tmp = base.format("req", self._number) + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"label": label}, f)
        os.rename(tmp, base.format("req", self._number) + ".json")
        ack = base.format("ack", self._number) + ".json"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if os.path.exists(ack):
                with open(ack) as f:
                    snap: Dict[str, Any] = json.load(f)
                os.unlink(ack)
                return snap
            time.sleep(0.003)
        self.failures += 1
        return None


def newProcesses(before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]]) -> List[int]:
    """
    @return: the host pids (not the guest kernel's) alive in C{after} and
        not in C{before}.
    """
    if before is None or after is None:
        return []
    return sorted(
        int(pid) for pid in after["procs"]
        if pid not in before["procs"] and int(pid) != after["main"]
    )


def delta(before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]], pids: List[int]) -> Optional[Dict[str, Any]]:
    """
    The CPU used between two snapshots by the host processes C{pids}, by the
    guest kernel (the main process) and by the whole guest.

    @return: seconds and counts, or C{None} without snapshots.
    """
    if before is None or after is None:
        return None
    tick = float(after["ticks_per_s"])

    def diff(pidList: List[str]) -> Dict[str, float]:
        out = {"runtime_s": 0.0, "utime_s": 0.0, "stime_s": 0.0, "vcsw": 0, "nvcsw": 0}
        for pid in pidList:
            a = after["procs"].get(pid)
            b = before["procs"].get(pid)
            if a is None:
                continue
            if b is None:
                b = {"runtime_ns": 0, "utime_ticks": 0, "stime_ticks": 0, "vcsw": 0, "nvcsw": 0}
            out["runtime_s"] += (a["runtime_ns"] - b["runtime_ns"]) / 1e9
            out["utime_s"] += (a["utime_ticks"] - b["utime_ticks"]) / tick
            out["stime_s"] += (a["stime_ticks"] - b["stime_ticks"]) / tick
            out["vcsw"] += a.get("vcsw", 0) - b.get("vcsw", 0)
            out["nvcsw"] += a.get("nvcsw", 0) - b.get("nvcsw", 0)
        return out

    main = str(after["main"])
    return {
        "wall_s": after["time"] - before["time"],
        "server": diff([str(p) for p in pids]),
        "per_process": {str(p): diff([str(p)]) for p in pids},
        "guest_kernel": diff([main]),
        "whole_guest": diff(list(after["procs"])),
    }
