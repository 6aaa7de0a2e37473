"""Run Monado's ``monado-service`` headless (null compositor) for tests, benchmarks and doctor.

The service gets a private HOME / XDG_CONFIG_HOME / XDG_RUNTIME_DIR, so it never meets a user's
Monado, and is always stopped by ``stop()`` (or leaving the ``with`` block). Build it first with
``scripts/build_monado.sh`` (cached under ~/.cache/xrdemo/monado).
"""

from __future__ import annotations

import os
import shutil
import signal
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
    controllers and 26-joint hands, driven over TCP 127.0.0.1:4242 (see monado_remote.py).
    """

    def __init__(self, prefix: Path | None = None, *, remote: bool = False, start_timeout_s: float = 20.0):
        self.prefix = Path(prefix or default_prefix())
        self.remote = remote
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
        self.env = env
        self.log_path = Path(self.dir) / "monado-service.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([str(service)], env={**os.environ, **env}, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        socket = runtime_dir / "monado_comp_ipc"
        deadline = time.monotonic() + self.start_timeout_s
        while not socket.exists():
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
        return self

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
