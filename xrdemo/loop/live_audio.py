"""Live sound on a headset or in a window: the meeting's binaural audio (in its own process), the
microphone, and the network voice sender — and the loop parts that drive them.

- ``LiveMeetingAudio``: the audio process for the local person (see ``audio.realtime``).
- ``MicSender``: a thread that takes what the microphone captured (``audio.io.MicInput``'s ring)
  every few milliseconds and hands it to the network (Opus encoding, MAC, UDP send happen here,
  never on the PortAudio thread).
- ``LiveAudio`` / ``Microphone``: loop parts (voice levels into the inputs, the listener pose out
  after every frame, reopened when the room reseats us).
"""

from __future__ import annotations

import threading

import numpy as np

from ..core import scene as S
from .frame_loop import FramePart

MIC_FLOOR_DB, MIC_FULL_DB = -55.0, -15.0
"""Microphone levels (dBFS) mapped to a voice level of 0 and 1."""


def mic_to_level(level_db: float) -> float:
    """The local microphone's dBFS level as a 0..1 voice level for the core."""
    return float(np.clip((level_db - MIC_FLOOR_DB) / (MIC_FULL_DB - MIC_FLOOR_DB), 0.0, 1.0))


class LiveMeetingAudio:
    """Live binaural audio of a meeting for the local person, rendered in its own process.

    The audio process (``realtime.AudioProcess``) owns the sound device, the engine and the voices
    and plays on the device's own clock. The render loop calls ``publish(...)`` once per frame: the
    newest head pose, people's mouths, who speaks and the whisper gains go into shared memory
    through a seqlock (never waits, never blocks the audio). ``level`` is each person's voice level
    as rendered there (for lips and the speaking indicator). With no sound device it says so in one
    line and stays silent (``device`` is then None); if the audio process dies, it says so once and
    the meeting carries on silent. ``close()`` stops and joins the process.
    """

    CHECK_EVERY = 16   # publishes between liveness checks of the audio process (~0.2 s at 90 Hz)

    def __init__(self, n: int, local: int, sample_rate: int = 48000, block: int = 256, seed: int = 0,
                 reflections: bool = False, table_height: float = 0.74, log=print, ahead: int | None = None,
                 device=None, priority: bool = True, render_delay_s: float = 0.0,
                 remote_voices: bool = False):
        from ..audio.engine import whisper_gains
        from ..audio.realtime import DEFAULT_AHEAD, AudioProcess

        voices = None
        if remote_voices:                 # a networked room: voices arrive over the network
            from ..net.room_audio import InboxVoices as voices

        self.n, self.local, self.log = n, local, log
        self._whisper_gains = whisper_gains
        self._publishes = 0
        self.process = AudioProcess(n, local, sample_rate, block, seed=seed, reflections=reflections,
                                    table_height=table_height, ahead=ahead or DEFAULT_AHEAD, device=device,
                                    priority=priority, render_delay_s=render_delay_s,
                                    voices=voices)
        p = self.process
        if p.running:
            latency = 1000.0 * p.ahead * block / sample_rate
            log(f"audio: playing on {p.device} (audio process {p.process.pid}, "
                f"{p.ahead} blocks = {latency:.1f} ms ahead, {p.info.get('priority')} priority)")
        elif p.state == "no-device":
            log(f"audio: no sound device ({p.reason}); the meeting is silent")
        else:
            log(f"audio: off ({p.reason}); the meeting is silent")

    @property
    def device(self) -> str | None:
        """The output device's name while the audio process plays, else None."""
        return self.process.device if self.process.running else None

    @property
    def voice_port(self) -> int | None:
        """Loopback UDP port where the audio process takes network voice frames (remote_voices)."""
        return self.process.info.get("voice_port") if self.process.running else None

    @property
    def level(self) -> np.ndarray:
        """Voice level per person (N,) 0..1 (zeros while silent)."""
        return self.process.levels()

    def publish(self, head_pos, head_rot, mouths: np.ndarray, heads: np.ndarray, speaking: np.ndarray):
        """From the render loop: listener pose, mouths (N, 3), heads (N, 3), speaking (N,) bool."""
        if not self.process.running:
            return
        self._publishes += 1
        if self._publishes % self.CHECK_EVERY == 0 and not self.process.poll():
            self.log(f"audio: {self.process.reason}; carrying on without sound")
            return
        col = self._whisper_gains(heads)[:, self.local] if self.local >= 0 else np.ones(len(heads))
        self.process.publish(head_pos, head_rot, mouths, speaking, col)

    def stats(self) -> dict:
        return self.process.stats()

    def close(self) -> None:
        """Stop and join the audio process; say how it went (blocks played, underruns) once."""
        was_running = self.process.running
        self.process.close()
        if was_running:
            st = self.process.stats()
            self.log(f"audio: played {st.get('callbacks', 0)} blocks, {st.get('underruns', 0)} underruns")


def open_microphone(cfg, log):
    """The default microphone (capturing), or None (said in one line) when there is none."""
    try:
        from ..audio.io import MicInput

        mic = MicInput(cfg.audio.sample_rate, cfg.audio.block)
        mic.start()
    except Exception as exc:   # no PortAudio, no input device, device busy
        log(f"microphone: none ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        return None
    log("microphone: listening on the default input device")
    return mic


SEND_EVERY_S = 0.01
"""How often the sender thread takes the microphone's new samples (seconds)."""


class MicSender:
    """Takes what the microphone captured and sends it (``send(mono float32 (M,))``) from a thread
    of its own, every SEND_EVERY_S. ``gate()``, when given, is asked before each send: False keeps
    the samples on this machine (muted). ``lost`` counts samples the thread fell too far behind for."""

    def __init__(self, mic, send, gate=None):
        self.mic, self.send, self.gate = mic, send, gate
        self.index = mic.write_index
        self.lost = 0
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xrdemo-mic-sender", daemon=True)
        self._thread.start()

    def pump(self) -> int:
        """Send what is new now; returns the samples sent."""
        x, self.index, lost = self.mic.read_since(self.index)
        self.lost += lost
        if len(x) == 0 or (self.gate is not None and not self.gate()):
            return 0
        self.send(x)
        self.sent += len(x)
        return len(x)

    def _run(self) -> None:
        while not self._stop.wait(SEND_EVERY_S):
            try:
                self.pump()
            except Exception:          # the room went away mid-send: the loop notices and says so
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


class LiveAudio(FramePart):
    """The meeting's live sound: voice levels into the core's inputs (lips follow what is played),
    the listener's pose out after every frame; reopened when the meeting is rebuilt with another
    local seat. room: the loop's RoomPart in a networked meeting (voices come from there)."""

    def __init__(self, cfg, log, room=None):
        self.cfg, self.log, self.room = cfg, log, room
        self.audio = self.forwarder = None
        self._seat = None

    def on_meeting(self, loop, state) -> None:
        if self.audio is not None and self._seat == (state.local, len(state.people)):
            return
        self._close_audio()
        self._seat = (state.local, len(state.people))
        cfg = self.cfg
        if cfg.audio.output == "null":
            self.log('audio: off ([audio] output = "null"); the meeting is silent')
            return
        try:
            self.audio = LiveMeetingAudio(len(state.people), state.local, cfg.audio.sample_rate,
                                          cfg.audio.block, seed=cfg.meeting.seed,
                                          reflections=cfg.audio.reflections,
                                          table_height=state.table.height, log=self.log,
                                          remote_voices=self.room is not None,
                                          device=None if cfg.audio.output == "auto" else cfg.audio.output)
        except Exception as exc:   # no PortAudio library, broken device ...
            self.log(f"audio: off ({type(exc).__name__}: {exc})")
            self.audio = None
            return
        if self.room is not None and self.audio.voice_port:
            from ..net.room_audio import VoiceForwarder

            self.forwarder = VoiceForwarder(self.audio.voice_port)
            self.room.net.voice_sink = self.forwarder.send

    def on_inputs(self, tick) -> None:
        if self.audio is None or tick.inputs is None:
            return
        tick.inputs.voice_level = self.audio.level
        remote = tick.inputs.remote
        if remote is not None and self.audio.device:        # lips follow the voice as played here
            remote.level[:] = self.audio.level

    def after_frame(self, tick) -> None:
        if self.audio is None:
            return
        state = tick.state
        ppl = state.people
        k = state.local
        self.audio.publish(ppl.head_pos[k], ppl.head_rot[k], S.mouth_positions(ppl), ppl.head_pos,
                           S.speaking_now(state))

    def _close_audio(self) -> None:
        if self.forwarder is not None:
            if self.room is not None:
                self.room.net.voice_sink = None
            self.forwarder.close()
            self.forwarder = None
        if self.audio is not None:
            self.audio.close()
            self.audio = None

    def close(self, error) -> None:
        self._close_audio()


class Microphone(FramePart):
    """The local microphone: its level into the core's inputs, and in a networked meeting its
    samples to the room from a sender thread (see MicSender)."""

    def __init__(self, cfg, log, room=None):
        self.mic = open_microphone(cfg, log)
        self.sender = None
        if self.mic is not None and room is not None:
            self.sender = MicSender(self.mic, room.net.send_voice)

    def on_inputs(self, tick) -> None:
        if self.mic is not None and tick.inputs is not None:
            tick.inputs.mic_level = mic_to_level(self.mic.level_db)

    def close(self, error) -> None:
        if self.sender is not None:
            self.sender.close()
        if self.mic is not None:
            self.mic.stop()
