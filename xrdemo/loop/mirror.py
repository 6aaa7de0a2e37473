"""See what the wearer sees: the left eye mirrored to a desktop window (``xrdemo run --mirror``,
``loop.mirror_window``) and/or to an MP4 with the sound of the meeting from the wearer's head
(``xrdemo run --mirror-to FILE.mp4``) — for a spectator, a bug report or a stream. The left eye is drawn once more, at the mirror's size, from the frame's scene and the
wearer's room-space view; the sound is rendered in-process by the same engine, block by block on
the frame clock (the built-in voices of a local meeting, or the room's voices, teed from the
network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .frame_loop import FramePart

NS = 1_000_000_000


class Mirror(FramePart):
    """The left eye of every drawn frame into ``out`` (H.264 + binaural AAC). size: (w, h) of
    the video; the frame rate is the platform's (from its frame period). room: the loop's
    RoomPart in a networked meeting (its voices are heard), else None. sound: False for no
    audio track."""

    def __init__(self, out: Path | None, cfg, size=(960, 540), room=None, log=print, sound: bool = True,
                 window: bool = False):
        if out is not None and not Path(out).parent.exists():
            raise FileNotFoundError(f"folder {Path(out).parent} does not exist (for --mirror-to {out})")
        self.out = Path(out) if out is not None else None
        self.cfg, self.size, self.room, self.log = cfg, tuple(size), room, log
        self.want_sound = sound and cfg.audio.enabled and out is not None
        self.window = None
        if window:
            from .mirror_window import MirrorWindow

            self.window = MirrorWindow(self.size, log=log)
        self._window_gone = False
        self.loop = self.target = self.writer = self.sound = None
        self.fps = None
        self.frames = 0
        self._voices = None

    def on_meeting(self, loop, state) -> None:
        from .frame_sound import RoomSound, ScriptedSound

        self.loop = loop
        if not self.want_sound:
            return
        if self.room is None:
            self.sound = ScriptedSound(self.cfg, state, state.local)
        else:
            from ..net.room_audio import RemoteVoices

            self._voices = RemoteVoices(len(state.people), self.cfg.audio.sample_rate, self.cfg.audio.block,
                                        local=state.local)
            net = self.room.net
            if net.voice_sink is None or getattr(net.voice_sink, "mirror", None) is not self:
                previous = net.voice_sink           # (a rebuild keeps the tee; it reads _voices)

                def tee(*frame):
                    if previous is not None:
                        previous(*frame)
                    self._voices.push(*frame)
                tee.mirror = self
                net.voice_sink = tee
            import time

            self.sound = RoomSound(self.cfg, state, self._voices, t_origin_ns=time.monotonic_ns())
        if self.writer is not None:          # a rebuilt meeting: the sound goes on from here
            self.sound.rendered = self._samples_due(self.frames)

    def _samples_due(self, frames: int) -> int:
        return frames * self.cfg.audio.sample_rate // self.fps

    def after_frame(self, tick) -> None:
        if tick.scene is None or not tick.room.should_render:
            return
        if self.target is None:
            self._open(tick.frame.predicted_display_period_ns)
        renderer = self.loop.renderer
        renderer.draw_view(tick.room.views[0], self.target.draw_fbo, self.size)
        image = self.target.read_rgba()[..., :3]
        if self.window is not None and not self._window_gone:
            if self.window.alive:
                self.window.show(image)
            else:
                self._window_gone = True
                self.log("mirror: the window was closed; the meeting goes on")
        if self.writer is None:
            self.frames += 1
            return
        samples = None
        if self.sound is not None:
            head = tick.room.head
            state = tick.state
            k = state.local
            listener = (head.position, head.orientation) if head.valid else (state.people.head_pos[k],
                                                                            state.people.head_rot[k])
            samples = self.sound.render_until(state, self._samples_due(self.frames + 1), listener)
        self.writer.add(image, samples)
        self.frames += 1

    def _open(self, period_ns: int) -> None:
        from ..media import Mp4Writer
        from ..render.renderer import Framebuffer

        self.fps = int(np.clip(round(NS / max(int(period_ns), 1)), 10, 120))
        self.target = Framebuffer(self.size, samples=4)
        if self.out is not None:
            self.writer = Mp4Writer(self.out, self.size, self.fps,
                                    self.cfg.audio.sample_rate if self.sound is not None else None)

    def close(self, error) -> None:
        if self.window is not None:
            self.window.close()
        if self.out is None:
            return
        if self.writer is not None:
            self.writer.close()
            self.log(f"mirror: wrote {self.out} ({self.frames} frames of the left eye at {self.fps} fps"
                     f"{', with sound' if self.sound is not None else ''})")
        else:
            self.log(f"mirror: nothing was shown, so {self.out} was not written")
