"""Run Monado's ``monado-service`` headless (null compositor) for tests, benchmarks and doctor.

The service gets a private HOME / XDG_CONFIG_HOME / XDG_RUNTIME_DIR, so it never meets a user's
Monado, and is always stopped by ``stop()`` (or leaving the ``with`` block). Build it first with
``scripts/build_monado.sh`` (cached under ~/.cache/xrdemo/monado).

Another ``monado-service`` left running on the machine must never answer our tests: the IPC
socket lives under our own XDG_RUNTIME_DIR, and the remote driver (which Monado hard-wires to TCP
4242 unless ``$XDG_CONFIG_HOME/monado/config_v0.json`` says otherwise, see its
``target_builder_remote.c`` and ``u_config_json_get_remote_settings``) gets a free port of its own
through that file. ``start()`` then checks, through /proc, that the socket and the port belong to
the process it started, and fails with a clear message otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_monado.sh"


def default_prefix() -> Path:
    cache = os.environ.get("XRDEMO_MONADO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "xrdemo", "monado")
    return Path(cache) / "install"


def build_monado(timeout_s: float = 1800) -> Path:
    """Run the project's build script (seconds when cached); returns the install prefix."""
    if not BUILD_SCRIPT.exists():
        raise FileNotFoundError(f"{BUILD_SCRIPT} is missing (run from a source checkout)")
    out = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout_s)
    if out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"scripts/build_monado.sh failed (exit {out.returncode}):\n{tail}")
    return Path(out.stdout.strip().splitlines()[-1])


class MonadoService:
    """``with MonadoService(prefix, remote=False) as m:`` then ``m.env`` holds XR_RUNTIME_JSON etc.

    remote: start the "remote" configuration (P_OVERRIDE_ACTIVE_CONFIG=remote): a Remote HMD with
    controllers and 26-joint hands, driven over TCP 127.0.0.1:``remote_port`` (see
    monado_remote.py). remote_port: None picks a free port (Monado's own default is 4242).
    """

    def __init__(self, prefix: Path | None = None, *, remote: bool = False, remote_port: int | None = None,
                 start_timeout_s: float = 20.0):
        self.prefix = Path(prefix or default_prefix())
        self.remote = remote
        self.remote_port = remote_port
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.dir: str | None = None
        self.env: dict[str, str] = {}
        self.log_path: Path | None = None

    @property
    def runtime_json(self) -> Path:
        return self.prefix / "share" / "openxr" / "1" / "openxr_monado.json"

    def start(self) -> "MonadoService":
        service = self.prefix / "bin" / "monado-service"
        if not service.exists():
            raise FileNotFoundError(f"{service} not found; build Monado with scripts/build_monado.sh")
        self.dir = tempfile.mkdtemp(prefix="xrdemo-monado-")
        runtime_dir = Path(self.dir) / "run"
        runtime_dir.mkdir(mode=0o700)
        (runtime_dir / "monado_comp_ipc").unlink(missing_ok=True)
        env = {
            "XR_RUNTIME_JSON": str(self.runtime_json),
            "XRT_COMPOSITOR_NULL": "1",
            "XRT_NO_STDIN": "1",
            "HOME": self.dir,
            "XDG_CONFIG_HOME": str(Path(self.dir) / "config"),
            "XDG_RUNTIME_DIR": str(runtime_dir),
        }
        if self.remote:
            env["P_OVERRIDE_ACTIVE_CONFIG"] = "remote"
            if self.remote_port is None:
                self.remote_port = free_tcp_port()
            elif Path("/proc/net/tcp").exists() and listening_pids(self.remote_port):
                holders = sorted(listening_pids(self.remote_port))
                self.stop()
                raise RuntimeError(f"Monado's remote driver port {self.remote_port} is already held by pid "
                                   f"{holders[0]} ({process_name(holders[0])}); stop it, or let "
                                   "MonadoService pick a free port")
            config_dir = Path(env["XDG_CONFIG_HOME"]) / "monado"
            config_dir.mkdir(parents=True)
            (config_dir / "config_v0.json").write_text(json.dumps(
                {"remote": {"version": 0, "port": self.remote_port, "view_count": 2}}))
        self.env = env
        self.log_path = Path(self.dir) / "monado-service.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([str(service)], env={**os.environ, **env}, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        socket_path = runtime_dir / "monado_comp_ipc"
        deadline = time.monotonic() + self.start_timeout_s
        while not socket_path.exists():
            if self.proc.poll() is not None:
                log_text = self.log()
                self.stop()
                raise RuntimeError(f"monado-service exited with {self.proc.returncode}:\n{log_text[-2000:]}")
            if time.monotonic() > deadline:
                log_text = self.log()
                self.stop()
                raise RuntimeError(f"monado-service did not open its socket in {self.start_timeout_s} s:\n"
                                   f"{log_text[-2000:]}")
            time.sleep(0.05)
        try:
            self._check_ours(socket_path, deadline)
        except RuntimeError:
            self.stop()
            raise
        return self

    def _check_ours(self, socket_path: Path, deadline: float) -> None:
        """The IPC socket and (remote) the driver's TCP port are held by the process we started."""
        if not Path("/proc/net/unix").exists():
            return                      # not Linux: the private XDG_RUNTIME_DIR is all we have
        pid = self.proc.pid
        while True:
            ours = socket_inodes(pid)
            ipc_ok = bool(unix_socket_inodes(str(socket_path)) & ours)
            port_owner = listening_pids(self.remote_port) if self.remote else {pid}
            if ipc_ok and pid in port_owner:
                return
            if time.monotonic() > deadline or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not ipc_ok:
            raise RuntimeError(f"the IPC socket {socket_path} is not held by the monado-service we started "
                               f"(pid {pid})")
        others = sorted(port_owner - {pid})
        who = (f"held by pid {', '.join(map(str, others))} ({process_name(others[0])})" if others
               else "not listening")
        raise RuntimeError(f"Monado's remote driver port {self.remote_port} is {who}, not by the "
                           f"monado-service we started (pid {pid}); another Monado may be running: "
                           "stop it, or let MonadoService pick a free port")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def apply_env(self) -> dict[str, str | None]:
        """Point this process's OpenXR loader at the service; returns the old values to restore."""
        client = {k: self.env[k] for k in ("XR_RUNTIME_JSON", "XDG_RUNTIME_DIR")}
        old = {k: os.environ.get(k) for k in client}
        os.environ.update(client)
        return old

    @staticmethod
    def restore_env(old: dict[str, str | None]) -> None:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> "MonadoService":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def free_tcp_port() -> int:
    """A TCP port nothing listens on now (the kernel's choice for 127.0.0.1:0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` has open (from /proc/<pid>/fd)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def unix_socket_inodes(path: str) -> set[int]:
    """Inodes of the Unix sockets bound to ``path`` (from /proc/net/unix)."""
    found = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == path:
                found.add(int(parts[6]))
    return found


def listening_pids(port: int) -> set[int]:
    """Pids of the processes with a TCP socket listening on ``port`` (IPv4 or IPv6, any address)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state, inode = parts[1], parts[3], int(parts[9])
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(inode)
        except OSError:
            continue
    if not inodes:
        return set()
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and socket_inodes(int(entry)) & inodes:
            pids.add(int(entry))
    return pids


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "unknown process"
