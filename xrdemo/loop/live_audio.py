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
        from ..audio.engine import whisper_gains_from_pairs
        from ..audio.realtime import DEFAULT_AHEAD, AudioProcess

        voices = None
        if remote_voices:                 # a networked room: voices arrive over the network
            from ..net.room_audio import InboxVoices as voices

        self.n, self.local, self.log = n, local, log
        self._whisper_gains = whisper_gains_from_pairs
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

    @property
    def mouth(self) -> np.ndarray:
        """Mouth shapes per person (N, 5) 0..1, from the voices as played (audio.visemes)."""
        return self.process.mouths()

    def publish(self, head_pos, head_rot, mouths: np.ndarray, heads: np.ndarray, speaking: np.ndarray,
                whisper_pairs=(), volume: np.ndarray | None = None):
        """From the render loop: listener pose, mouths (N, 3), heads (N, 3), speaking (N,) bool,
        whisper_pairs (P, 2) int: who whispers with whom (``scene.whisper_pairs_now``, the core's
        one decision with hysteresis and dwell); volume: (N,) linear gain per person (master x
        person), or None for 1."""
        if not self.process.running:
            return
        self._publishes += 1
        if self._publishes % self.CHECK_EVERY == 0 and not self.process.poll():
            self.log(f"audio: {self.process.reason}; carrying on without sound")
            return
        col = (self._whisper_gains(whisper_pairs, len(heads))[:, self.local] if self.local >= 0
               else np.ones(len(heads)))
        if volume is not None:
            col = col * volume
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


class LevelVad:
    """A stand-in for MicProcessor where WebRTC's audio processing cannot load: no cleaning, voice
    activity from the level alone (-45 dBFS)."""

    def process(self, frame: np.ndarray):
        rms = float(np.sqrt(np.mean(np.square(frame, dtype=np.float64))))
        return frame, rms > 10 ** (-45 / 20)


class MicSender:
    """The microphone's sender thread: every SEND_EVERY_S it takes what the capture ring holds and
    runs ``chain.push(samples, t_ms)`` (audio.mic_chain.MicChain: echo cancellation, noise
    suppression, gain, the mute gate, Opus); the packets it returns go to ``send(seq, t_ms,
    payload)`` (the room's client; None with no room). Nothing here runs on the PortAudio thread.
    ``lost`` counts samples the thread fell more than the ring behind for."""

    def __init__(self, mic, chain, send=None):
        self.mic, self.chain, self.send = mic, chain, send
        self.index = mic.write_index
        self.lost = 0
        self.packets = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xrdemo-mic-sender", daemon=True)
        self._thread.start()

    def pump(self) -> int:
        """Process and send what is new now; returns the packets sent."""
        from ..net.session import now_ms

        with self._lock:
            x, self.index, lost = self.mic.read_since(self.index)
            self.lost += lost
            if len(x) == 0:
                return 0
            t_ms = (now_ms() - len(x) * 1000 // self.mic.sample_rate) & 0xFFFFFFFF
            packets = self.chain.push(x, t_ms)
            if self.send is not None:
                for seq, t, payload in packets:
                    self.send(seq, t, payload)
            self.packets += len(packets)
            return len(packets)

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

    def __init__(self, cfg, log, room=None, volume=None):
        self.cfg, self.log, self.room, self.volume = cfg, log, room, volume
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
        if self.audio.device:                                # lips follow the voice as played here
            tick.inputs.voice_mouth = self.audio.mouth.copy()
            if remote is not None:
                remote.level[:] = self.audio.level

    def after_frame(self, tick) -> None:
        if self.audio is None:
            return
        state = tick.state
        ppl = state.people
        k = state.local
        self.audio.publish(ppl.head_pos[k], ppl.head_rot[k], S.mouth_positions(ppl), ppl.head_pos,
                           S.speaking_now(state), S.whisper_pairs_now(state),
                           None if self.volume is None else self.volume.gains())

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
    """The local microphone: captured by PortAudio into a ring, processed and (in a networked
    meeting) sent by a MicSender thread; its voice level and "speaking" into the core's inputs.
    ``gate`` (audio.mic_gate.MicGate) is the mute / push-to-talk switch the menu and keys use:
    muted audio never leaves the machine (it is never encoded). audio: the LiveAudio part, whose
    audio process reports what it plays (the echo canceller's far end)."""

    def __init__(self, cfg, log, room=None, audio=None, mic=None):
        from ..audio.mic_gate import MicGate

        self.cfg, self.log, self.room, self.audio = cfg, log, room, audio
        self.gate = MicGate(cfg.audio.start_muted, cfg.audio.push_to_talk)
        self.mic = mic if mic is not None else open_microphone(cfg, log)
        self.chain = self.sender = None
        self._far = None
        if self.gate.muted:
            log("microphone: muted ([audio] start_muted); unmute with M or the menu")

    def on_meeting(self, loop, state) -> None:
        if self.mic is None:
            return
        process = getattr(self.audio.audio, "process", None) if self.audio is not None else None
        far = process.far_end if process is not None and process.running else None
        if self.chain is not None and far is self._far:
            return
        self._close_sender()
        self._far = far
        self.chain = self._make_chain(far)
        send = None
        if self.room is not None:
            net = self.room.net
            self.chain.sender = net._voice
            send = net.send_voice_frame          # whispers go to the partner alone, encrypted
        self.sender = MicSender(self.mic, self.chain, send)

    def _make_chain(self, far):
        from ..audio.mic_chain import MicChain
        from ..audio.realtime import DEFAULT_AHEAD

        try:
            from ..audio.mic_processing import MicProcessor

            delay_ms = int(1000 * (DEFAULT_AHEAD + 1) * self.cfg.audio.block / self.cfg.audio.sample_rate)
            processor = MicProcessor(far_ring=far, delay_ms=delay_ms,
                                     echo_cancellation=far is not None)
        except ImportError as exc:
            self.log(f"microphone: no echo cancellation or noise suppression ({exc})")
            processor = LevelVad()
        return MicChain(processor, self.gate)

    def on_frame(self, tick) -> None:
        from ..platform.base import EventKind

        for event in tick.frame.events:
            if event.kind == EventKind.TALK:
                self.gate.set_talk_key(bool(event.detail.get("held")))

    def on_inputs(self, tick) -> None:
        if self.mic is not None and tick.inputs is not None and self.chain is not None:
            tick.inputs.mic_level = self.chain.level

    def _close_sender(self) -> None:
        if self.sender is not None:
            self.sender.close()
            self.sender = None

    def close(self, error) -> None:
        self._close_sender()
        if self.mic is not None:
            self.mic.stop()
