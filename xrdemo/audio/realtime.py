"""The live audio process: the meeting's binaural audio rendered in a process of its own.

Why a process: a render thread in the app process needs the app's GIL, and a busy render loop that
holds the GIL while the OS preempts it (2 cores, other programs) makes that thread late, so the
device underruns. A process has its own GIL: nothing in the app can hold it up.

App side, ``AudioProcess``: creates the shared memory (``handoff.MeetingChannel``), starts the
process (spawn context, SIGINT ignored there: Ctrl-C stops the app, whose ``close()`` stops the
audio), waits until it reports the device open (or no device), and then only writes the newest
meeting snapshot (``publish``, a seqlock: never waits) and reads voice levels and counters.
Audio side, ``run_audio_process``: builds the engine and the voices, opens the PortAudio stream
there (so JACK/PortAudio initialise in that process), raises its priority when the OS allows,
and runs the ``io.RenderAheadFeeder`` until told to stop or until the app process has gone.

Added head-tracking latency of rendering ahead: at most ``ahead`` blocks (ahead x 5.33 ms at
256 / 48 kHz), because a block is rendered with the pose that is newest when it is rendered, up to
``ahead`` blocks before the device plays it.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import time

import numpy as np

from .io import DEFAULT_AHEAD, RenderAheadFeeder, feeder_stats, raise_thread_priority

WARM_UP_BLOCKS = 4       # rendered before the stream starts: first-call costs are paid off-line
START_TIMEOUT_S = 30.0   # engine + voices + device; generous for a loaded machine
STOP_TIMEOUT_S = 5.0
STOP = 0                 # MeetingChannel.control[0]: the app asks the audio process to stop
PRIORITIES = ("fifo", "nice", "normal")


@contextlib.contextmanager
def _sigint_ignored():
    """Children started inside inherit SIGINT ignored (Ctrl-C reaches the whole process group; the
    app, not the terminal, stops the audio process). Only the main thread may change handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _MeetingRenderer:
    """Audio-process side of one block: newest meeting snapshot -> voices -> engine -> (block, 2)."""

    def __init__(self, channel, engine, voices, render_delay_s: float = 0.0):
        self.channel, self.engine, self.voices = channel, engine, voices
        self.packed = np.zeros(channel.input_len)
        channel.inputs.read(self.packed)
        self.render_delay_s = render_delay_s
        self._levels_out = np.zeros(channel.n * (1 + channel.MOUTH))
        self.visemes = None
        try:
            from .visemes import VisemeAnalyser

            self.visemes = VisemeAnalyser(channel.n, engine.sample_rate, engine.block)
        except (ImportError, ValueError):            # no model, or a block the analysis cannot take
            self.visemes = None

    def render(self, out: np.ndarray) -> np.ndarray:
        channel, engine = self.channel, self.engine
        channel.inputs.read(self.packed)       # on the rare failed read the previous snapshot stays
        pose, mouths, speaking, whisper = channel.unpack(self.packed)
        engine.set_listener(pose[:3], pose[3:])
        engine.set_sources(mouths)
        engine.set_whisper_gains(whisper)
        mono, (level, _) = self.voices.next_block(speaking > 0.5)
        engine.process(mono, out=out)
        n = len(level)
        self._levels_out[:n] = level
        if self.visemes is not None:               # mouth shapes from the voices as played here
            self._levels_out[n:] = self.visemes.update(mono).reshape(-1)
        channel.levels.write(self._levels_out)
        if self.render_delay_s:                # test knob: a render too slow for the device
            end = time.perf_counter() + self.render_delay_s
            while time.perf_counter() < end:
                pass
        return out


def run_audio_process(channel_name: str, settings: dict, conn) -> None:
    """Entry point of the audio process (spawn). Reports over ``conn`` (one-way pipe to the app):
    ("running", info) once the device plays, or ("no-device", reason) / ("failed", reason);
    at the end ("stopped", stats)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    from .engine import SpatialAudioEngine
    from .handoff import MeetingChannel
    from .meeting import MeetingVoices

    channel = MeetingChannel(settings["n"], name=channel_name)
    stream = feeder = None
    try:
        rate, block, local = settings["sample_rate"], settings["block"], settings["local"]
        engine = SpatialAudioEngine(rate, block, reflections=settings["reflections"],
                                    table_height=settings["table_height"])
        make_voices = settings.get("voices")   # e.g. network voices (net.room_audio.InboxVoices)
        if make_voices is not None:
            voices = make_voices(settings["n"], rate, block, local=local)
        else:
            voices = MeetingVoices(settings["n"], rate, block, seed=settings["seed"],
                                   silent=(local,) if local >= 0 else ())
        renderer = _MeetingRenderer(channel, engine, voices, settings.get("render_delay_s", 0.0))
        try:
            import sounddevice as sd

            stream = sd.OutputStream(samplerate=rate, blocksize=block, channels=2, dtype="float32",
                                     device=settings["device"], latency="low")
            device = sd.query_devices(stream.device)
            hostapi = sd.query_hostapis(device["hostapi"])["name"]
            device_name = f"{device['name']} ({hostapi})"
        except Exception as exc:  # PortAudio missing, no device, device busy ...
            conn.send(("no-device", f"{type(exc).__name__}: {exc}".splitlines()[0]))
            return
        priority = raise_thread_priority() if settings["priority"] else "normal"
        far_end = channel.far_end

        def render_played(out):                # what goes to the device, also to the echo canceller
            renderer.render(out)
            far_end.write(out)
            return out
        feeder = RenderAheadFeeder(stream, block, rate, render_played, ahead=settings["ahead"],
                                   counters=channel.control, underrun_at=channel.underrun_at)
        scratch = np.zeros((block, 2), np.float32)
        for _ in range(WARM_UP_BLOCKS):
            renderer.render(scratch)
        # A full collection walks every object numpy/scipy created at import (~20 ms stalls seen
        # mid-render); frozen, they are never scanned again. The loop itself makes no cycles.
        gc.collect()
        gc.freeze()
        stream.start()
        feeder.measure_capacity()
        conn.send(("running", {"device": device_name, "priority": priority, "pid": os.getpid(),
                               "voice_port": getattr(voices, "port", None)}))
        feeder.run(lambda: bool(channel.control[STOP]) or os.getppid() != parent)
        stats = {**feeder.stats(), "render_priority": priority,
                 "input_retries": channel.inputs.retries, "filter_updates": engine.filter_updates}
        stream.stop()
        stream.close()
        stream = None
        _send(conn, ("stopped", stats))
    except BaseException as exc:  # reported once by the app, which carries on silent
        _send(conn, ("failed", f"{type(exc).__name__}: {exc}".splitlines()[0]))
    finally:
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        renderer = feeder = None
        channel.close()
        channel.unlink()  # attached, not the creator: only forgets the handle
        conn.close()


def _send(conn, message) -> None:
    with contextlib.suppress(OSError, ValueError):  # the app may already be gone
        conn.send(message)


class AudioProcess:
    """App side of the audio process for a meeting of ``n`` people (see the module docstring).

    After construction, ``state`` is "running" (``device`` names the output), "no-device" or
    "failed" (``reason`` says why; the process has exited and the meeting is silent).
    ``publish`` never blocks; ``levels()`` and ``stats()`` read shared memory; ``close()`` stops
    and joins the process and removes the shared memory. If the process dies while running,
    ``poll()`` notices (``state`` becomes "died") and the caller carries on silent.
    """

    def __init__(self, n: int, local: int, sample_rate: int = 48000, block: int = 256, seed: int = 0,
                 reflections: bool = False, table_height: float = 0.74, ahead: int = DEFAULT_AHEAD,
                 device=None, priority: bool = True, render_delay_s: float = 0.0,
                 start_timeout_s: float = START_TIMEOUT_S, voices=None):
        from .handoff import MeetingChannel

        if ahead < 1:
            raise ValueError(f"ahead must be at least 1 block, not {ahead}")
        self.n, self.ahead, self.block, self.sample_rate = n, int(ahead), int(block), int(sample_rate)
        self.channel = MeetingChannel(n)
        self.state, self.reason, self.device, self.info = "starting", "", None, {}
        self.final_stats: dict | None = None
        self._levels_all = np.zeros(n * (1 + MeetingChannel.MOUTH))
        settings = {"n": n, "local": local, "sample_rate": sample_rate, "block": block, "seed": seed,
                    "reflections": reflections, "table_height": table_height, "ahead": self.ahead,
                    "device": device, "priority": priority, "render_delay_s": render_delay_s,
                    "voices": voices}
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=run_audio_process, name="xrdemo-audio", daemon=True,
                                   args=(self.channel.name, settings, child_conn))
        try:
            with _sigint_ignored():
                self.process.start()
        except BaseException:
            self._release_channel()
            raise
        child_conn.close()
        self._wait_for_start(start_timeout_s)

    def _wait_for_start(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.state == "starting":
            if self._conn.poll(0.05):
                self._receive()
            elif not self.process.is_alive():
                self._receive()
                if self.state == "starting":
                    self.state, self.reason = "failed", f"the audio process exited ({self.process.exitcode})"
            elif time.monotonic() > deadline:
                self.state, self.reason = "failed", f"the audio process did not start within {timeout_s:g} s"
        if self.state != "running":
            self.close()

    def _receive(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            while self._conn.poll():
                kind, payload = self._conn.recv()
                if kind == "running":
                    self.state, self.info, self.device = "running", payload, payload["device"]
                elif kind == "stopped":
                    self.final_stats = payload
                else:
                    self.state, self.reason = kind, payload

    @property
    def running(self) -> bool:
        return self.state == "running"

    def publish(self, head_pos, head_rot, mouths, speaking, whisper) -> None:
        """Newest listener pose (3,) + (4,), mouths (N, 3), speaking (N,) bool, whisper gains (N,)."""
        if self.state == "running":
            self.channel.publish(head_pos, head_rot, mouths, speaking, whisper)

    def poll(self) -> bool:
        """True while the process runs; notices a process that died (state "died", reason set)."""
        if self.state == "running" and not self.process.is_alive():
            self._receive()
            if self.state == "running":
                self.state = "died"
                self.reason = f"the audio process stopped unexpectedly (exit code {self.process.exitcode})"
            self.final_stats = self.final_stats or self._live_stats()
            self._shutdown()
        return self.state == "running"

    @property
    def far_end(self):
        """The blocks handed to the sound device, in order (a ``mic_processing.FarEndRing`` to read;
        one reader): the reference for the microphone's echo canceller (``MicProcessor(far_ring=)``).
        Warm-up renders are not in it; nothing is written while no device plays."""
        return self.channel.far_end

    def levels(self) -> np.ndarray:
        """Voice level per person (N,) 0..1 as rendered by the audio process (zeros when silent)."""
        self._read_levels()
        return self._levels_all[:self.n]

    def mouths(self) -> np.ndarray:
        """Mouth shapes per person (N, 5) 0..1 from the voices as played (audio.visemes)."""
        self._read_levels()
        return self._levels_all[self.n:].reshape(self.n, self.channel.MOUTH)

    def _read_levels(self) -> None:
        if self.state == "running":
            self.channel.levels.read(self._levels_all)
        else:
            self._levels_all[:] = 0.0

    def _live_stats(self) -> dict:

        if self.channel.control is None:
            return {}
        return {**feeder_stats(self.channel.control, self.channel.underrun_at, self.ahead,
                               self.block / self.sample_rate),
                "render_priority": self.info.get("priority", "unknown")}

    def stats(self) -> dict:
        """Counters (blocks, underruns, ahead, latency, render time); final ones after close()."""
        base = self.final_stats if self.final_stats is not None else self._live_stats()
        return {**base, "process": self.state, "pid": self.process.pid}

    def _shutdown(self) -> None:
        """Stop (politely, then by signal), join, and remove the shared memory. Idempotent."""
        if self.channel.control is not None:
            self.channel.control[STOP] = 1
        self.process.join(STOP_TIMEOUT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self._receive()
        self._conn.close()
        self._release_channel()

    def _release_channel(self) -> None:
        self.channel.close()
        self.channel.unlink()

    def close(self) -> None:
        if self.state == "running":
            self.final_stats = self._live_stats()   # replaced by the process's own final report
            self._shutdown()
            if self.state == "running":
                self.state = "stopped"
        elif self.channel.control is not None:
            self._shutdown()
