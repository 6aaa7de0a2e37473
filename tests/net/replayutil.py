"""Helpers for the replay tests: comparing FrameScenes and a peer that moves and talks in a room."""

from __future__ import annotations

import threading
import time

import numpy as np

from xrdemo.core import hands as H
from xrdemo.core import pose as P


def scene_differences(a, b) -> list[str]:
    """Names of the FrameScene arrays that differ between a and b ([] when every one is equal)."""
    out = []

    def cmp(name, x, y):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y):
            out.append(name)

    for f in ("a", "b", "radius", "colors"):
        cmp(f"capsules.{f}", getattr(a.capsules, f), getattr(b.capsules, f))
    if set(a.meshes) != set(b.meshes):
        out.append("meshes.kinds")
    for kind in a.meshes:
        if kind in b.meshes:
            cmp(f"meshes.{kind}.transforms", a.meshes[kind].transforms, b.meshes[kind].transforms)
            cmp(f"meshes.{kind}.colors", a.meshes[kind].colors, b.meshes[kind].colors)
    cmp("labels.positions", a.labels.positions, b.labels.positions)
    cmp("labels.colors", a.labels.colors, b.labels.colors)
    if tuple(a.labels.texts) != tuple(b.labels.texts):
        out.append("labels.texts")
    cmp("light_dir", a.light_dir, b.light_dir)
    cmp("clear_color", a.clear_color, b.clear_color)
    return out


class Peer:
    """A NetMeeting in its own thread: sits at ``head``, sways, moves its hands, speaks a tone."""

    def __init__(self, url: str, name: str = "Peer", voice: bool = True, head=(0.4, 1.15, -0.6)):
        from xrdemo.net.session import NetMeeting

        self.net = NetMeeting(url, name, log=lambda *_: None)
        self.net.connect()
        self.voice = voice
        self.head = np.array(head, float)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Peer":
        self._thread.start()
        return self

    def _run(self):
        rest = H.blend_poses(np.eye(len(H.POSE_NAMES))[[0, 0]])
        t0 = time.monotonic()
        sent = 0
        while not self._stop.is_set():
            t = time.monotonic() - t0
            head = self.head + [0.05 * np.sin(3 * t), 0.0, 0.0]
            self.net.send_pose(head, P.quat_from_yaw_pitch_roll(0.5 + 0.3 * np.sin(2 * t)),
                               rest + head - [0, 0.4, 0.3] + [0, 0.02 * np.sin(5 * t), 0], [True, True],
                               0.5 + 0.4 * np.sin(4 * t), -1)
            if self.voice:
                due = int(t * 48000)
                n = due - sent
                if n > 0:
                    k = np.arange(sent, due) / 48000
                    self.net.send_voice((0.2 * np.sin(2 * np.pi * 220 * k)).astype(np.float32))
                    sent = due
            self.net.poll()
            time.sleep(1 / 60)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.net.close()
