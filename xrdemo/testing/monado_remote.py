"""Drive Monado's "remote" driver (P_OVERRIDE_ACTIVE_CONFIG=remote) over TCP, for tests.

Monado listens on a TCP port (4242 unless its config file says otherwise; MonadoService gives each
service a free port of its own: pass ``service.remote_port``) and reads ``struct r_remote_data`` records (its
src/xrt/drivers/remote/r_interface.h): head pose and per-hand controller pose, finger curls and
buttons. Its hand tracker simulates 26 joints from the controller pose and curls. We only ever
connect to 127.0.0.1.
"""

from __future__ import annotations

import ctypes
import socket
import time


class _Vec3(ctypes.Structure):
    _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_float), ("z", ctypes.c_float)]


class _Quat(ctypes.Structure):
    _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_float), ("z", ctypes.c_float), ("w", ctypes.c_float)]


class _Pose(ctypes.Structure):
    _fields_ = [("orientation", _Quat), ("position", _Vec3)]


class _Fov(ctypes.Structure):
    _fields_ = [("angle_left", ctypes.c_float), ("angle_right", ctypes.c_float),
                ("angle_up", ctypes.c_float), ("angle_down", ctypes.c_float)]


class _View(ctypes.Structure):
    _fields_ = [("fov", _Fov), ("pose", _Pose), ("_pad", ctypes.c_uint32)]


class _Head(ctypes.Structure):
    _fields_ = [("views", _View * 2), ("center", _Pose), ("per_view_data_valid", ctypes.c_bool),
                ("_pad", ctypes.c_bool * 3)]


_BOOLS = ("hand_tracking_active", "active", "system_click", "system_touch", "a_click", "a_touch",
          "b_click", "b_touch", "trigger_click", "trigger_touch", "thumbstick_click", "thumbstick_touch",
          "trackpad_touch", "_pad0", "_pad1", "_pad2")


class RemoteController(ctypes.Structure):
    """struct r_remote_controller_data; hand_curl is little, ring, middle, index, thumb (0..1)."""

    _fields_ = [("pose", _Pose), ("linear_velocity", _Vec3), ("angular_velocity", _Vec3),
                ("hand_curl", ctypes.c_float * 5), ("trigger_value", ctypes.c_float),
                ("squeeze_value", ctypes.c_float), ("squeeze_force", ctypes.c_float),
                ("thumbstick", ctypes.c_float * 2), ("trackpad_force", ctypes.c_float),
                ("trackpad", ctypes.c_float * 2)] + [(name, ctypes.c_bool) for name in _BOOLS]


class RemoteData(ctypes.Structure):
    """struct r_remote_data."""

    _fields_ = [("header", ctypes.c_uint64), ("head", _Head), ("left", RemoteController),
                ("right", RemoteController)]


class RemoteDriver:
    """A TCP client of Monado's remote driver. ``send(data)`` replaces the whole device state."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 10.0):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=timeout_s)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        # The hub first writes its reset state and its latest state.
        self.reset = self._read()
        self.latest = self._read()

    def _read(self) -> RemoteData:
        size = ctypes.sizeof(RemoteData)
        buf = b""
        while len(buf) < size:
            chunk = self.sock.recv(size - len(buf))
            if not chunk:
                raise ConnectionError("Monado's remote driver closed the connection")
            buf += chunk
        return RemoteData.from_buffer_copy(buf)

    def send(self, data: RemoteData) -> None:
        self.sock.sendall(bytes(data))
        self.latest = data

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
