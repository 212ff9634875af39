# -*- test-case-name: tests.test_faultlab -*-
"""
Hosts and paths for the fault lab, built with C{ip} and C{tc} inside the
guest of C{scripts/with-sctp-kernel} (which loads C{veth.ko} and
C{sch_netem.ko} and mounts a tmpfs on C{/run} for C{/run/netns}).

    topo = Topology(["a", "b"], testCase=self)     # torn down by addCleanup
    b = topo.hosts["b"]
    peer = topo.peer("b", "echo", "--listen", ",".join(b.addressesTo("a")))
    topo.netem(topo.paths("a", "b")[0], loss=10, delay=20)
    topo.cut(topo.paths("a", "b")[0]) ... topo.restore(...)
    port = topo.listen("a", factory, topo.hosts["a"].addressesTo("b"))

Every host is a network namespace named C{faultlab-<tag>-<host>}; each pair
of hosts is joined by two (or three) veth pairs, each its own /29 subnet in
the documentation ranges (path 1 in 192.0.2.0/24, path 2 in
198.51.100.0/24, path 3 in 203.0.113.0/24), so both ends are multihomed.
A path is cut by taking its veth down at one end (the other end loses
carrier) and restored by bringing it up.

The test process can own sockets inside a namespace without moving into it:
L{Topology.listen} opens the port's socket while its thread is switched into
the namespace with C{setns(2)}; a socket stays in the namespace it was made
in.  Peer programs run as C{ip netns exec NS python tests/faultlab/peer.py}.

Deleting a namespace deletes its veths (and their peers); L{Topology.destroy}
kills our processes first, and L{leftovers} lists what is still there.

The command builders and the address plan are pure (unit-tested on the
host in C{tests/test_faultlab.py}); the rest needs root in the guest.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import attrs

#: Every namespace we create starts with this.
NETNS_PREFIX = "faultlab-"
#: Every veth we create starts with this.
DEVICE_PREFIX = "fl"
#: The peer program.
PEER_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer.py")
#: Path k of every host pair lives in block k-1 (documentation ranges).
PATH_BLOCKS = ("192.0.2", "198.51.100", "203.0.113")
#: Each host pair gets one /29 per path: 32 pairs per block.
SUBNET_SIZE = 8
#: SNMP counters the fault tests report.
RETRANSMIT_COUNTERS = ("SctpT3Retransmits", "SctpFastRetransmits")

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"

_tags = itertools.count(1)


class TopologyError(Exception):
    """
    An C{ip}/C{tc} command failed, or the topology was used wrongly.
    """


# -- pure helpers ------------------------------------------------------------


def namespaceName(tag: str, host: str) -> str:
    """
    @return: the network namespace name of C{host} in topology C{tag}.
    """
    return "{}{}-{}".format(NETNS_PREFIX, tag, host)


def deviceName(local: str, remote: str, path: int) -> str:
    """
    @return: the veth name, inside C{local}'s namespace, of path C{path}
        (1-based) towards C{remote}; at most 15 characters.
    @raise TopologyError: the host names make the name too long.
    """
    name = "{}{}-{}{}".format(DEVICE_PREFIX, local, remote, path)
    if len(name) > 15:
        raise TopologyError("host names too long for a device name: {!r}".format(name))
    return name


def addressPlan(pairIndex: int, path: int) -> Tuple[str, str, str]:
    """
    The subnet of path C{path} (1-based) of host pair C{pairIndex}.

    @return: C{(subnet in CIDR, first host's address, second host's address)}.
    @raise TopologyError: out of addresses.
    """
    if not 1 <= path <= len(PATH_BLOCKS):
        raise TopologyError("path must be 1..{}".format(len(PATH_BLOCKS)))
    if not 0 <= pairIndex < 256 // SUBNET_SIZE:
        raise TopologyError("too many host pairs")
    block = PATH_BLOCKS[path - 1]
    base = pairIndex * SUBNET_SIZE
    return (
        "{}.{}/{}".format(block, base, 32 - (SUBNET_SIZE - 1).bit_length()),
        "{}.{}".format(block, base + 1),
        "{}.{}".format(block, base + 2),
    )


def netemArgs(
    loss: Optional[float] = None,
    delay: Optional[float] = None,
    jitter: Optional[float] = None,
    reorder: Optional[float] = None,
    duplicate: Optional[float] = None,
    limit: int = 10000,
) -> List[str]:
    """
    The netem parameters for C{tc qdisc replace ... netem}.

    @param loss: percent of packets dropped.
    @param delay: ms added to every packet.
    @param jitter: ms of delay variation (needs C{delay}).
    @param reorder: percent of packets sent at once while the others wait
        C{delay} (netem needs a delay to reorder).
    @param duplicate: percent of packets duplicated.
    @param limit: the qdisc's queue length in packets.
    @raise TopologyError: a value out of range, or reorder without delay.
    """
    args = ["limit", str(limit)]
    for name, value in (("loss", loss), ("reorder", reorder), ("duplicate", duplicate)):
        if value is not None and not 0 <= value <= 100:
            raise TopologyError("{} must be 0..100 percent".format(name))
    for name, value in (("delay", delay), ("jitter", jitter)):
        if value is not None and value < 0:
            raise TopologyError("{} must be >= 0 ms".format(name))
    if reorder and not delay:
        raise TopologyError("netem reorders only with a delay")
    if jitter and not delay:
        raise TopologyError("jitter needs a delay")
    if delay is not None:
        args += ["delay", "{:g}ms".format(delay)]
        if jitter:
            args.append("{:g}ms".format(jitter))
    if loss is not None:
        args += ["loss", "{:g}%".format(loss)]
    if reorder is not None:
        args += ["reorder", "{:g}%".format(reorder)]
    if duplicate is not None:
        args += ["duplicate", "{:g}%".format(duplicate)]
    return args


def parseSNMP(text: str) -> Dict[str, int]:
    """
    @return: the counters of a C{/proc/net/sctp/snmp} text.
    """
    out: Dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def counterDelta(before: Mapping[str, int], after: Mapping[str, int], names: Sequence[str] = RETRANSMIT_COUNTERS) -> Dict[str, int]:
    """
    @return: C{after - before} for each of C{names}.
    """
    return {name: after.get(name, 0) - before.get(name, 0) for name in names}


def parseNamespaces(text: str) -> List[str]:
    """
    @return: our namespaces in the output of C{ip netns list}.
    """
    names = [line.split()[0] for line in text.splitlines() if line.strip()]
    return [n for n in names if n.startswith(NETNS_PREFIX)]


def parseLinks(text: str) -> List[str]:
    """
    @return: our veths in the output of C{ip -o link show} (C{"N: NAME@PEER: ..."}).
    """
    out = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) < 3:
            continue
        name = parts[1].strip().split("@")[0]
        if name.startswith(DEVICE_PREFIX):
            out.append(name)
    return out


# -- running commands --------------------------------------------------------


def run(argv: Sequence[str], check: bool = True, timeout: float = 30.0) -> str:
    """
    Run a command and return its stdout.

    @raise TopologyError: it failed and C{check} is set.
    """
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        if check:
            raise TopologyError("{}: {}".format(" ".join(argv), e)) from e
        return ""
    if check and proc.returncode != 0:
        raise TopologyError("{} exited {}: {}".format(" ".join(argv), proc.returncode, proc.stderr.strip()))
    return proc.stdout


def available() -> Optional[str]:
    """
    @return: C{None} if namespaces, veth and netem can be used here,
        otherwise why not.
    """
    if os.geteuid() != 0:
        return "the fault lab needs root (run it under scripts/with-sctp-kernel)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            return "'{}' is missing (apt-get install iproute2)".format(tool)
    return None


@contextlib.contextmanager
def inNamespace(namespace: str) -> Iterator[None]:
    """
    Switch the calling thread into network namespace C{namespace} for the
    block (sockets opened inside stay in it), then back.

    @raise OSError: C{setns} failed.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    current = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(os.path.join(NETNS_DIR, namespace), os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                raise OSError(code, "setns({}): {}".format(namespace, os.strerror(code)))
            try:
                yield
            finally:
                if libc.setns(current, CLONE_NEWNET) != 0:  # pragma: no cover
                    code = ctypes.get_errno()
                    raise OSError(code, "setns back: {}".format(os.strerror(code)))
        finally:
            os.close(target)
    finally:
        os.close(current)


class NamespacedKernel:
    """
    Stands for L{twisted_sctp.kernel.sctpsocket} in an L{SCTPPort} whose socket
    must live in another network namespace: C{openSocket} runs there,
    everything else (which works on the socket) is the module's own.
    """

    def __init__(self, namespace: str) -> None:
        from twisted_sctp.kernel import sctpsocket
        self.namespace = namespace
        self._module = sctpsocket

    def openSocket(self, family: int) -> Any:
        with inNamespace(self.namespace):
            return self._module.openSocket(family)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


# -- the topology ------------------------------------------------------------


@attrs.define
class Path:
    """
    One veth pair between two hosts.

    @ivar index: 1-based path number between the pair.
    @ivar up: whether it is currently carrying traffic (not cut).
    """

    index: int
    hostA: str
    hostB: str
    subnet: str
    addressA: str
    addressB: str
    deviceA: str
    deviceB: str
    up: bool = True

    def address(self, host: str) -> str:
        """@return: C{host}'s address on this path."""
        return self.addressA if host == self.hostA else self.addressB

    def device(self, host: str) -> str:
        """@return: C{host}'s veth of this path."""
        return self.deviceA if host == self.hostA else self.deviceB

    def other(self, host: str) -> str:
        """@return: the host at the other end."""
        return self.hostB if host == self.hostA else self.hostA


@attrs.define
class Host:
    """
    A network namespace.

    @ivar paths: the paths to each other host, by host name, path 1 first.
    """

    name: str
    namespace: str
    paths: Dict[str, List[Path]] = attrs.field(factory=dict)

    def addressesTo(self, other: str) -> List[str]:
        """@return: this host's addresses on its paths to C{other}, path 1 first."""
        return [p.address(self.name) for p in self.paths[other]]


class PeerProcess:
    """
    A process running in a namespace, its output in files.

    @ivar results: the last figures (or status) of each earlier run, one
        per L{restart}.
    """

    def __init__(self, topology: "Topology", host: str, argv: Sequence[str], label: str) -> None:
        self.topology = topology
        self.host = host
        self.argv = list(argv)
        self.label = label
        self.generation = 0
        self.results: List[Dict[str, Any]] = []
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.start()

    def _file(self, kind: str) -> str:
        return os.path.join(self.topology.workdir, "{}.{}.{}".format(self.label, self.generation, kind))

    @property
    def statusPath(self) -> str:
        return self._file("status")

    def start(self) -> None:
        """
        Start (or restart) the process: C{ip netns exec NS ARGV --status FILE}.
        """
        self.generation += 1
        argv = ["ip", "netns", "exec", self.topology.hosts[self.host].namespace] + self.argv
        if PEER_PROGRAM in self.argv:
            argv += ["--status", self.statusPath]
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        with open(self._file("stdout"), "wb") as out, open(self._file("stderr"), "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def readStatus(self) -> Optional[Dict[str, Any]]:
        """
        @return: the peer program's latest status, or C{None} before its first.
        """
        try:
            with open(self.statusPath) as f:
                return dict(json.load(f))
        except (OSError, ValueError):
            return None

    def stderr(self) -> str:
        try:
            with open(self._file("stderr"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def result(self) -> Optional[Dict[str, Any]]:
        """
        @return: the JSON figures the process printed last on stdout (at
            exit), or C{None}.
        """
        try:
            with open(self._file("stdout"), errors="replace") as f:
                lines = [line for line in f.read().splitlines() if line.startswith("{")]
        except OSError:
            return None
        for line in reversed(lines):
            try:
                return dict(json.loads(line))
            except ValueError:
                continue
        return None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.proc is not None
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Ask it to finish (SIGTERM: the peer program prints its figures)."""
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, no goodbye (the kernel closes its sockets)."""
        self.signal(signal.SIGKILL)

    def reap(self, timeout: float = 10.0) -> Optional[int]:
        """
        Wait (blocking) for it to exit, SIGKILL after C{timeout}.

        @return: its exit status.
        """
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait(10)

    def restart(self) -> None:
        """
        Kill the process (SIGKILL), reap it, and start it again with the
        same arguments (a new status file).
        """
        self.kill()
        self.reap()
        self.results.append(self.result() or self.readStatus() or {})
        self.start()


class Topology:
    """
    Hosts (network namespaces) joined pairwise by two or three veth paths.

    @ivar hosts: by name.
    @ivar workdir: where process output and status files go.
    """

    def __init__(
        self,
        hosts: Sequence[str] = ("a", "b"),
        paths: int = 2,
        testCase: Any = None,
        tag: Optional[str] = None,
        workdir: Optional[str] = None,
    ) -> None:
        if len(set(hosts)) != len(hosts) or len(hosts) < 2:
            raise TopologyError("need two or more distinct host names")
        self.tag = tag or "{}{}".format(os.getpid() % 100000, next(_tags))
        self.hosts: Dict[str, Host] = {h: Host(h, namespaceName(self.tag, h)) for h in hosts}
        self.pathCount = paths
        self.processes: List[PeerProcess] = []
        self.ports: List[Any] = []
        self._ownWorkdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="faultlab-")
        self.destroyed = False
        if testCase is not None:
            testCase.addCleanup(self.destroy)
        try:
            self._build()
        except BaseException:
            self.destroy()
            raise

    def _build(self) -> None:
        for host in self.hosts.values():
            run(["ip", "netns", "add", host.namespace])
            run(["ip", "-n", host.namespace, "link", "set", "lo", "up"])
        names = list(self.hosts)
        for pairIndex, (a, b) in enumerate(itertools.combinations(names, 2)):
            ha, hb = self.hosts[a], self.hosts[b]
            for k in range(1, self.pathCount + 1):
                subnet, addrA, addrB = addressPlan(pairIndex, k)
                prefix = subnet.split("/")[1]
                path = Path(k, a, b, subnet, addrA, addrB, deviceName(a, b, k), deviceName(b, a, k))
                run(["ip", "link", "add", path.deviceA, "netns", ha.namespace, "type", "veth",
                     "peer", "name", path.deviceB, "netns", hb.namespace])
                for host, dev, addr in ((ha, path.deviceA, addrA), (hb, path.deviceB, addrB)):
                    run(["ip", "-n", host.namespace, "addr", "add", "{}/{}".format(addr, prefix), "dev", dev])
                    run(["ip", "-n", host.namespace, "link", "set", dev, "up"])
                ha.paths.setdefault(b, []).append(path)
                hb.paths.setdefault(a, []).append(path)

    # -- queries -----------------------------------------------------------

    def paths(self, a: str, b: str) -> List[Path]:
        """@return: the paths between C{a} and C{b}, path 1 first."""
        return self.hosts[a].paths[b]

    def exec(self, host: str, argv: Sequence[str], check: bool = True) -> str:
        """Run C{argv} in C{host}'s namespace; @return: its stdout."""
        return run(["ip", "netns", "exec", self.hosts[host].namespace] + list(argv), check=check)

    def snmp(self, host: str) -> Dict[str, int]:
        """@return: C{host}'s /proc/net/sctp/snmp counters (they are per namespace)."""
        return parseSNMP(self.exec(host, ["cat", "/proc/net/sctp/snmp"]))

    def kernelAssociations(self, host: str) -> int:
        """@return: how many associations /proc/net/sctp/assocs lists in C{host}."""
        lines = self.exec(host, ["cat", "/proc/net/sctp/assocs"]).splitlines()
        return max(0, len(lines) - 1)

    def deviceCounters(self, host: str, device: str) -> Dict[str, int]:
        """@return: C{tx_packets}, C{rx_packets}, ... of one of C{host}'s veths."""
        text = run(["ip", "-n", self.hosts[host].namespace, "-s", "-j", "link", "show", "dev", device])
        stats = json.loads(text)[0].get("stats64", {})
        return {
            "tx_packets": int(stats.get("tx", {}).get("packets", 0)),
            "rx_packets": int(stats.get("rx", {}).get("packets", 0)),
            "tx_bytes": int(stats.get("tx", {}).get("bytes", 0)),
            "rx_bytes": int(stats.get("rx", {}).get("bytes", 0)),
        }

    def qdiscStats(self, host: str, device: str) -> Dict[str, int]:
        """@return: C{sent}, C{dropped} (packets) of the root qdisc of C{host}'s veth."""
        text = run(["ip", "netns", "exec", self.hosts[host].namespace, "tc", "-s", "-j", "qdisc", "show", "dev", device])
        try:
            q = json.loads(text)[0]
        except (ValueError, IndexError):
            return {"sent": 0, "dropped": 0}
        return {"sent": int(q.get("packets", 0)), "dropped": int(q.get("drops", 0))}

    # -- faults --------------------------------------------------------------

    def netem(self, path: Path, ends: Optional[Sequence[str]] = None, **params: Any) -> None:
        """
        Put netem on C{path} at C{ends} (default both: each direction gets
        the same loss and delay).  See L{netemArgs} for C{params}.
        """
        args = netemArgs(**params)
        for host in ends or (path.hostA, path.hostB):
            run(["ip", "netns", "exec", self.hosts[host].namespace, "tc", "qdisc", "replace", "dev",
                 path.device(host), "root", "netem"] + args)

    def clearNetem(self, path: Path) -> None:
        """Remove netem from both ends of C{path}."""
        for host in (path.hostA, path.hostB):
            run(["ip", "netns", "exec", self.hosts[host].namespace, "tc", "qdisc", "del", "dev",
                 path.device(host), "root"], check=False)

    def cut(self, path: Path, at: Optional[str] = None) -> None:
        """
        Cut C{path}: its veth at C{at} (default: the second host) goes
        down, and the other end loses carrier.
        """
        host = at or path.hostB
        run(["ip", "-n", self.hosts[host].namespace, "link", "set", path.device(host), "down"])
        path.up = False

    def restore(self, path: Path) -> None:
        """Bring both ends of C{path} up again."""
        for host in (path.hostA, path.hostB):
            run(["ip", "-n", self.hosts[host].namespace, "link", "set", path.device(host), "up"])
        path.up = True

    # -- processes and ports ---------------------------------------------------

    def spawn(self, host: str, argv: Sequence[str], label: Optional[str] = None) -> PeerProcess:
        """Run C{argv} in C{host}'s namespace."""
        proc = PeerProcess(self, host, argv, label or "{}-{}".format(host, len(self.processes) + 1))
        self.processes.append(proc)
        return proc

    def peer(self, host: str, mode: str, *args: str, label: Optional[str] = None) -> PeerProcess:
        """Run C{peer.py --mode MODE ARGS} in C{host}'s namespace."""
        return self.spawn(host, [sys.executable, PEER_PROGRAM, "--mode", mode] + list(args), label or "{}-{}".format(mode, host))

    def kernel(self, host: str) -> NamespacedKernel:
        """@return: a kernel module stand-in that opens sockets in C{host}."""
        return NamespacedKernel(self.hosts[host].namespace)

    def listen(self, host: str, factory: Any, interfaces: Sequence[str], port: int = 0, options: Any = None, reactor: Any = None) -> Any:
        """
        Start an L{SCTPPort} of this process whose socket lives in C{host};
        it is stopped by L{destroy}.
        """
        from twisted_sctp.transport.options import SCTPOptions
        from twisted_sctp.transport.port import SCTPPort

        if reactor is None:
            from twisted.internet import reactor as _reactor

            reactor = _reactor
        p = SCTPPort(port, factory, interfaces, options if options is not None else SCTPOptions(), reactor, kernel=self.kernel(host))
        p.startListening()
        self.ports.append(p)
        return p

    # -- teardown --------------------------------------------------------------

    def destroy(self) -> None:
        """
        Stop our ports, kill our processes (SIGTERM, then SIGKILL), kill
        anything else left in our namespaces, delete the namespaces (which
        deletes their veths) and the work directory.  Safe to call twice.
        """
        if self.destroyed:
            return
        self.destroyed = True
        for p in self.ports:
            try:
                p.stopListening()
            except Exception:
                pass
        for proc in self.processes:
            proc.stop()
        deadline = time.monotonic() + 5
        for proc in self.processes:
            if proc.proc is None:
                continue
            try:
                proc.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.reap()
        for host in self.hosts.values():
            for pid in run(["ip", "netns", "pids", host.namespace], check=False).split():
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        for host in self.hosts.values():
            run(["ip", "netns", "del", host.namespace], check=False)
        if self._ownWorkdir and os.environ.get("FAULTLAB_KEEP") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)


def peerProcesses() -> List[Tuple[int, str]]:
    """
    @return: C{(pid, command line)} of every running process of the peer
        program.
    """
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/{}/cmdline".format(entry), "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        if "faultlab/peer.py" in cmdline and int(entry) != os.getpid():
            out.append((int(entry), cmdline))
    return out


def leftovers() -> Dict[str, List[Any]]:
    """
    What a fault-lab run may leave behind: our namespaces, our veths in the
    root namespace, and running peer programs.  All empty after a clean run.
    """
    try:
        namespaces = parseNamespaces(run(["ip", "netns", "list"], check=False))
    except TopologyError:  # pragma: no cover
        namespaces = []
    if os.path.isdir(NETNS_DIR):
        namespaces = sorted(set(namespaces) | {n for n in os.listdir(NETNS_DIR) if n.startswith(NETNS_PREFIX)})
    links = parseLinks(run(["ip", "-o", "link", "show"], check=False))
    return {"namespaces": namespaces, "links": links, "processes": peerProcesses()}


def rss() -> int:
    """
    @return: this process's resident set (VmRSS) in kB.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise OSError(errno.ENOENT, "no VmRSS in /proc/self/status")  # pragma: no cover
