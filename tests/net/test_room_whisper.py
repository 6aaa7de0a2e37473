"""Whispering across the network: a participant who leans in to a neighbour is heard loud by that
neighbour and faint by the rest of the table, from head poses that travelled through the server."""

import time

import numpy as np

from xrdemo.meetings import meeting_state
from xrdemo.audio.engine import SpatialAudioEngine, whisper_gains
from xrdemo.config import Config
from xrdemo.core import scene as S
from xrdemo.net.room_audio import RemoteVoices
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting
from xrdemo.net.room_link import RoomLink

RATE, BLOCK = 48000, 256


def _level_db(x):
    return 20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-12)


def test_a_lean_in_whisper_reaches_the_neighbour_loud_and_the_table_faint():
    server = ServerThread(port=0, capacity=6)
    server.start()
    nets = []
    try:
        for name in ("Ada", "Bea", "Cy", "Dee"):
            n = NetMeeting(f"127.0.0.1:{server.port}/w", name, log=lambda *_: None)
            n.connect()
            nets.append(n)
        ada, bea, cy, dee = nets
        cfg = Config()
        states = [meeting_state(cfg, n.room_shape()) for n in nets]
        links = [RoomLink(n, log=lambda *_: None) for n in nets]
        voices = [RemoteVoices(n.capacity, RATE, BLOCK, local=n.seat) for n in nets]
        for n, v in zip(nets, voices):
            n.voice_sink = v.push
        # Ada (seat 0) leans toward Bea (seat 1): her head 0.3 m from Bea's.
        seat = states[0].seat_pos
        lean = seat[1] + 0.3 * (seat[0] - seat[1]) / np.linalg.norm(seat[0] - seat[1])
        rng = np.random.default_rng(0)
        speech = (0.2 * rng.standard_normal(RATE * 4)).astype(np.float32)
        heard = {n.seat: [] for n in nets}
        t0 = time.monotonic_ns()
        sent = 0
        engines = [SpatialAudioEngine(RATE, BLOCK) for _ in nets]
        pulled = 0
        while (time.monotonic_ns() - t0) < 2.5e9:
            now = time.monotonic_ns()
            t = now - t0
            for i, (n, link) in enumerate(zip(nets, links)):
                rem = link.before_step(states[i], now)
                head = lean if n is ada else states[i].seat_pos[n.seat]
                inp = S.LocalInput(head_pos=head, head_rot=states[i].seat_rot[n.seat], remote=rem)
                states[i], _ = S.step(states[i], inp, t)
                link.after_step(states[i], 0.5, now)
            due = int(t * RATE / 1e9)
            ada.send_voice(speech[sent:due] if due <= len(speech) else np.zeros(due - sent, np.float32),
                           ((t0 + sent * 1_000_000 // 48) // 1_000_000) & 0xFFFFFFFF)
            sent = due
            while (pulled + 1) * BLOCK <= due:          # every listener plays what arrives
                pulled += 1
                for i, n in enumerate(nets[1:], start=1):
                    st = states[i]
                    eng = engines[i]
                    eng.set_listener(st.people.head_pos[n.seat], st.people.head_rot[n.seat])
                    eng.set_sources(S.mouth_positions(st.people))
                    eng.set_whisper_gains(whisper_gains(st.people.head_pos)[:, n.seat])
                    mono, _ = voices[i].next_block(None, now)
                    if pulled * BLOCK > 1.0 * RATE:         # after the buffers have settled
                        heard[n.seat].append(eng.process(mono).copy())
            time.sleep(0.005)
        # Every listener saw Ada leaning in (her head came over the network).
        for i in (1, 2, 3):
            assert np.linalg.norm(states[i].people.head_pos[ada.seat] - lean) < 0.02
        level = {s: _level_db(np.concatenate(h)) for s, h in heard.items() if h}
        assert level[bea.seat] - level[cy.seat] >= 10.0, level
        assert level[bea.seat] - level[dee.seat] >= 10.0, level
        assert level[cy.seat] > -70.0                  # the rest of the table still hears a murmur
    finally:
        for n in nets:
            n.close()
        server.stop()


def test_display_times_on_the_monotonic_clock_are_used_as_they_are():
    from xrdemo.net.room_link import display_time_on_monotonic

    now = time.monotonic_ns()
    assert display_time_on_monotonic(now + 20_000_000, 11_111_111) == now + 20_000_000
    # A runtime clock with another epoch: one frame period after now.
    t = display_time_on_monotonic(now + 10**15, 11_111_111)
    assert 11_111_111 <= t - now < 11_111_111 + 50_000_000
    t = display_time_on_monotonic(None, None)
    assert 16_000_000 <= t - now < 16_666_667 + 50_000_000
