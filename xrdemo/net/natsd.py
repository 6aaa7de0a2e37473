"""A local ``nats-server`` process on OS-chosen ports, for tests, benchmarks and trying things out.

``NatsServerProcess().start()`` runs the ``nats-server`` binary (Debian package ``nats-server``)
on 127.0.0.1 with a random client port (and, with ``cluster=True``, a random route port; pass
``routes`` to join another node), reads the chosen ports from its log, and ``stop()`` ends it.
``restart()`` brings it back on the same ports (a server outage, as a test needs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time

_CLIENT_RE = re.compile(r"Listening for client connections on ([0-9.]+):(\d+)")
_ROUTE_RE = re.compile(r"Listening for route connections on ([0-9.]+):(\d+)")


class NatsServerProcess:
    """One nats-server node (see the module docstring).

    cluster: also listen for routes (a node of a cluster named ``cluster_name``); routes: route
    URLs of other nodes (``nats://127.0.0.1:PORT``) to join; config: a nats-server configuration
    file (its listen address and port are overridden); binary: the nats-server program.
    After ``start()``: ``url`` (``nats://127.0.0.1:PORT``), ``port``, ``route_url`` (or None).
    """

    def __init__(self, cluster: bool = False, routes: list[str] | None = None,
                 cluster_name: str = "xrdemo", binary: str = "nats-server", name: str = "",
                 config=None):
        self.cluster, self.routes, self.cluster_name = cluster or bool(routes), list(routes or []), cluster_name
        self.binary = binary
        self.config = config
        self.name = name
        self.port = -1
        self.route_port = -1
        self.proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self.lines: list[str] = []
        self._cond = threading.Condition()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def route_url(self) -> str | None:
        return f"nats://127.0.0.1:{self.route_port}" if self.cluster else None

    def start(self, timeout_s: float = 10.0) -> "NatsServerProcess":
        exe = shutil.which(self.binary)
        if exe is None:
            raise FileNotFoundError(f"{self.binary} not found: install it (Debian: apt-get install "
                                    "nats-server; or a release from https://nats.io)")
        cmd = [exe, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.config is not None:
            cmd += ["-c", str(self.config)]
        if self.name:
            cmd += ["-n", self.name]
        if self.cluster:
            cmd += ["--cluster_name", self.cluster_name,
                    "--cluster", f"nats://127.0.0.1:{self.route_port}"]
            if self.routes:
                cmd += ["--routes", ",".join(self.routes)]
        with self._cond:
            self.lines = []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read_log, args=(self.proc,), daemon=True)
        self._reader.start()
        try:
            host, port = self.wait_for_log(_CLIENT_RE, timeout_s).groups()
            self.port = int(port)
            if self.cluster:
                self.route_port = int(self.wait_for_log(_ROUTE_RE, timeout_s).group(2))
            self.wait_for_log(re.compile(r"Server is ready"), timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_log(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        proc.stderr.close()
        with self._cond:
            self._cond.notify_all()

    def wait_for_log(self, pattern, timeout_s: float = 10.0, start: int = 0) -> re.Match:
        """The first log line (from index start) matching pattern; RuntimeError after timeout_s
        or when the process has ended (its log in the message)."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout_s
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    tail = "\n".join(self.lines[-10:])
                    raise RuntimeError(f"nats-server: no log line matching {rx.pattern!r} "
                                       f"within {timeout_s:g} s:\n{tail}")
                self._cond.wait(min(left, 0.1))

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the process (SIGTERM, then SIGKILL) and wait for it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout_s)
        self._reader.join(timeout_s)        # it closes the log pipe at its end

    def restart(self, timeout_s: float = 10.0) -> "NatsServerProcess":
        """Stop and start again on the same ports."""
        self.stop()
        return self.start(timeout_s)

    def __enter__(self) -> "NatsServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
