"""
A real C{redis-server} for the tests: started on a free port in a temporary
directory, with no persistence, stopped (and restartable on the same port)
by the test.

Without C{redis-server} on C{PATH} the test is skipped, unless C{CI} or
C{TWISTED_SCTP_REQUIRE_KERNEL} is set: then it fails, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any, List, Optional

from twisted.trial.unittest import SkipTest


def _required() -> bool:
    return bool(os.environ.get("CI")) or bool(os.environ.get("TWISTED_SCTP_REQUIRE_KERNEL"))


def _freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """
    One C{redis-server} process.

    @ivar port: its TCP port on 127.0.0.1.
    @ivar password: its C{requirepass}, if any.
    """

    def __init__(self, password: Optional[str] = None, tls: bool = False) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            reason = "redis-server is not installed (apt-get install redis-server; scripts/setup-env does)"
            if _required():
                raise AssertionError("CI/TWISTED_SCTP_REQUIRE_KERNEL is set but " + reason)
            raise SkipTest(reason)
        self.port = _freePort()
        self.password = password
        self.directory = tempfile.mkdtemp(prefix="twisted-sctp-redis-")
        self.process: Optional[subprocess.Popen[bytes]] = None
        #: The self-signed certificate (CN and SAN localhost) of a TLS server, which serves TLS only.
        self.cert: Optional[str] = None
        if tls:
            self.cert = os.path.join(self.directory, "cert.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(self.directory, "key.pem"),
                            "-out", self.cert, "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                           check=True, capture_output=True)

    @property
    def url(self) -> str:
        """The C{--store} URL."""
        auth = ":{}@".format(self.password) if self.password else ""
        if self.cert:
            return "rediss://{}localhost:{}/0?ca={}".format(auth, self.port, self.cert)
        return "redis://{}127.0.0.1:{}/0".format(auth, self.port)

    def start(self) -> None:
        """Start it and wait until it answers PING (10 s at most)."""
        args: List[str] = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--dir", self.directory]
        if self.password:
            args += ["--requirepass", self.password]
        if self.cert:
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.cert, "--tls-key-file",
                     os.path.join(self.directory, "key.pem"), "--tls-auth-clients", "no"]
        with open(os.path.join(self.directory, "log"), "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("redis-server exited with {}: {}".format(self.process.returncode, self.log()[-2000:]))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if self.cert:
                        return  # listening (a PING would need TLS)
                    s.sendall(b"PING\r\n")
                    if s.recv(100):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server on port {} did not answer in 10 s".format(self.port))

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        try:
            with open(os.path.join(self.directory, "log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def command(self, *args: str) -> Any:
        """Run one command with a blocking client; @return: the first reply line."""
        from twisted_sctp.sip.store import _command

        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            if self.password:
                s.sendall(_command("AUTH", self.password))
                s.makefile("rb").readline()
            s.sendall(_command(*args))
            return s.makefile("rb").readline().decode().strip()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def startRedis(testCase: Any, password: Optional[str] = None, tls: bool = False) -> RedisServer:
    """@return: a started L{RedisServer}, stopped and removed after C{testCase}."""
    server = RedisServer(password, tls)
    testCase.addCleanup(server.cleanup)
    server.start()
    return server
