"""Headless outputs: the simulated runtime drawing into an offscreen framebuffer, and the parts
that turn each frame into an MP4 frame (or a PNG) with its sound.

``HeadlessView`` owns the EGL context, the framebuffer and a ``SimulatedPlatform`` that draws into
it (one view, ``fov_deg`` wide). ``FrameSoundPart`` renders the sound of each video frame
(``loop.frame_sound``); ``VideoOutput`` reads the picture back and writes it with that sound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .frame_loop import FramePart

HEADLESS_FOV_DEG = 82.0
"""Horizontal field of view of headless recordings, participants and replays."""


class HeadlessView:
    """An offscreen view: EGL context, multisampled framebuffer of ``size`` and a simulated
    platform that draws into it, driven by ``head(t_ns) -> (position, orientation)``.
    ``release()`` frees it all (the platform is shut down by the loop's owner)."""

    def __init__(self, size, fps: int, head, start_ns=0, fov_deg: float = HEADLESS_FOV_DEG,
                 hands=None):
        from ..platform.simulated import SimulatedPlatform
        from ..platform.timeline import Timeline
        from ..render.context import create_headless_context

        self.size = tuple(size)
        self.ctx = create_headless_context()
        try:
            from ..render.renderer import Framebuffer, Renderer

            self.renderer = Renderer()
            self.target = Framebuffer(self.size, samples=4)
            self.start_ns = start_ns() if callable(start_ns) else int(start_ns)
            timeline = Timeline(head=head, hands=hands, refresh_hz=float(fps), refresh_rates=(float(fps),))
            self.platform = SimulatedPlatform(timeline, start_ns=self.start_ns, view_count=1, view_size=self.size,
                                              fov_deg=fov_deg, framebuffer_for=lambda i, s: self.target.draw_fbo)
        except BaseException:
            self.ctx.release()
            raise

    def read_rgb(self) -> np.ndarray:
        """The last frame drawn, (h, w, 3) uint8."""
        return self.target.read_rgba()[..., :3]

    def release(self) -> None:
        self.platform.shutdown()
        self.ctx.release()


@dataclass
class RecordingMetrics:
    """What a recording cost, per frame in CPU milliseconds (lists), plus totals."""

    core_ms: list = field(default_factory=list)
    render_ms: list = field(default_factory=list)
    readback_ms: list = field(default_factory=list)
    encode_ms: list = field(default_factory=list)
    audio_block_us: list = field(default_factory=list)
    draw_calls_per_view: int = 0
    underruns: int = 0

    def summary(self) -> dict:
        def stats(v):
            a = np.asarray(v, float)
            if a.size == 0:
                return {"median": None, "p95": None, "max": None}
            return {"median": round(float(np.median(a)), 3), "p95": round(float(np.percentile(a, 95)), 3),
                    "max": round(float(a.max()), 3)}
        return {"frames": len(self.core_ms), "core_ms": stats(self.core_ms),
                "render_submit_ms": stats(self.render_ms), "readback_ms": stats(self.readback_ms),
                "encode_ms": stats(self.encode_ms), "audio_block_us": stats(self.audio_block_us),
                "audio_underruns": self.underruns, "draw_calls_per_view": self.draw_calls_per_view}


class FrameSoundPart(FramePart):
    """The sound of each video frame into ``tick.samples``. render(tick) -> (M, 2) float32 gives
    it (a ``frame_sound`` object's render_until with this mode's clock); with ``levels`` set
    ("voice" or "remote") the voices' levels go into the core's inputs first, so lips follow
    the sound as it is heard (ITU-R BT.1359 tolerates sound up to 45 ms early)."""

    def __init__(self, sound, render, levels: str | None = None):
        self.sound, self.render, self.levels = sound, render, levels

    def on_inputs(self, tick) -> None:
        if tick.inputs is None or self.levels is None:
            return
        if self.levels == "voice":
            tick.inputs.voice_level = self.sound.level
            tick.inputs.voice_mouth = getattr(self.sound, "mouth", None)
        elif tick.inputs.remote is not None:
            tick.inputs.remote.level[:] = self.sound.level

    def on_step(self, tick) -> None:
        tick.samples = self.render(tick)


class VideoOutput(FramePart):
    """Each finished frame read back and written: an MP4 (``out``, with ``tick.samples`` as its
    sound), PNG frames (``frames_dir``), a progress bar over ``total`` frames and the metrics.
    If the loop is interrupted, what was written stays playable and the log says how much."""

    def __init__(self, view: HeadlessView, out: Path | None, fps: int, sample_rate: int | None,
                 frames_dir: Path | None, total: int, seconds: float, progress=True, log=print,
                 metrics: RecordingMetrics | None = None):
        from ..media import Mp4Writer, ProgressBar

        self.view, self.out, self.fps, self.frames_dir, self.log = view, out, fps, frames_dir, log
        self.metrics = metrics or RecordingMetrics()
        self.writer = Mp4Writer(out, view.size, fps, sample_rate) if out else None
        if frames_dir is not None:
            Path(frames_dir).mkdir(parents=True, exist_ok=True)
        self.bar = ProgressBar(total, seconds, enabled=progress)
        self.written = 0
        self._image = None

    def after_frame(self, tick) -> None:
        t0 = time.perf_counter()
        if tick.room.should_render or self._image is None:
            self._image = self.view.read_rgb()
        image = self._image                   # a frame not drawn (kept real time) repeats the last
        t1 = time.perf_counter()
        if self.writer is not None:
            self.writer.add(image, tick.samples)
        if self.frames_dir is not None:
            from PIL import Image

            Image.fromarray(image).save(Path(self.frames_dir) / f"frame_{self.written:05d}.png")
        t2 = time.perf_counter()
        m = self.metrics
        m.core_ms.append(tick.timings.get("core", 0.0))
        m.render_ms.append(tick.timings.get("submit", 0.0))
        m.readback_ms.append((t1 - t0) * 1e3)
        m.encode_ms.append((t2 - t1) * 1e3)
        m.draw_calls_per_view = self.view.renderer.stats["draw_calls_per_view"]
        self.written += 1
        self.bar.update(min(self.written, self.bar.total))

    def close(self, error) -> None:
        if isinstance(error, KeyboardInterrupt):
            # Nothing recorded is lost: the file is closed properly below and stays playable.
            self.bar.done()
            kept = ", ".join(str(p) for p in (self.out, self.frames_dir) if p is not None)
            self.log(f"interrupted: {kept} holds the first {self.written / self.fps:.1f} s "
                     f"({self.written} frames)")
        if self.writer is not None:
            self.writer.close()
        self.bar.done()
