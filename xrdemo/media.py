"""Writing what a headless run sees and hears: an MP4 (H.264 + AAC) and a progress bar.

``Mp4Writer(path, (w, h), fps, sample_rate)``: ``add(image (h, w, 3) uint8, samples (M, 2)
float32 or None)`` per video frame, then ``close()``; picture and sound share one clock.
``ProgressBar(total, seconds)``: ``update(done)``, ``done()``; a bar on a terminal, a line every
10 % in a log.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np


class Mp4Writer:
    """H.264 video + AAC stereo audio into an MP4 with PyAV; audio and video share one clock."""

    def __init__(self, path: Path, size, fps: int, sample_rate: int | None):
        try:
            import av
        except ImportError as exc:
            raise RuntimeError("writing MP4 needs PyAV: pip install av (or use --frames-dir)") from exc
        self.av = av
        self.container = av.open(str(path), mode="w")
        self.video = self.container.add_stream("libx264", rate=fps)
        self.video.width, self.video.height = size
        self.video.pix_fmt = "yuv420p"
        self.video.options = {"crf": "20", "preset": "veryfast"}
        self.audio = None
        if sample_rate:
            self.audio = self.container.add_stream("aac", rate=sample_rate)
            self.audio.layout = "stereo"
            self.sample_rate = sample_rate
            self.audio_pts = 0

    def add(self, image: np.ndarray, samples: np.ndarray | None) -> None:
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self.video.encode(frame):
            self.container.mux(packet)
        if self.audio is not None and samples is not None and len(samples):
            planar = np.ascontiguousarray(samples.T.astype(np.float32))
            aframe = self.av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
            aframe.sample_rate = self.sample_rate
            aframe.pts = self.audio_pts
            self.audio_pts += planar.shape[1]
            for packet in self.audio.encode(aframe):
                self.container.mux(packet)

    def close(self) -> None:
        for stream in (self.video, self.audio):
            if stream is not None:
                for packet in stream.encode(None):
                    self.container.mux(packet)
        self.container.close()


class ProgressBar:
    """A one-line progress bar on a terminal (redrawn at most 10 times a second); a line every
    10 % otherwise (logs stay readable). ``label`` names the work; ``seconds`` is the meeting
    time that ``total`` units stand for."""

    def __init__(self, total: int, seconds: float, enabled: bool = True, label: str = "recording"):
        self.total, self.seconds, self.enabled, self.label = max(1, total), seconds, enabled, label
        self.tty = sys.stderr.isatty()
        self.last_decile = -1
        self.t0 = time.perf_counter()
        self.last_drawn = -1.0

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        frac = min(max(done / self.total, 0.0), 1.0)
        now = time.perf_counter()
        if self.tty:
            if now - self.last_drawn < 0.1 and done < self.total:
                return
        elif int(frac * 10) == self.last_decile:
            return
        self.last_drawn, self.last_decile = now, int(frac * 10)
        elapsed = now - self.t0
        eta = elapsed / frac * (1 - frac) if frac > 0 else 0.0
        text = (f"{self.label} [{'#' * int(30 * frac):<30}] {100 * frac:5.1f}%  "
                f"{frac * self.seconds:5.1f}/{self.seconds:g} s of meeting, {eta:4.0f} s left")
        if self.tty:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled and self.tty and self.last_drawn >= 0:
            print(file=sys.stderr)
