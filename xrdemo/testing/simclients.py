"""Simulated participants for soak tests and benchmarks of a room server.

``run_participants(url, count, seconds, ...)`` joins ``count`` full participants (``NetMeeting``:
transport, pose codec, pose buffers, Opus voice) to one room and drives them in real time: each
moves its head on its own small circle (``head_path``, a known function of seat and time, so any
process can check where a sender was), rests its hands in front of it, and the first
``talkers`` of them talk; the first ``listeners`` play what they hear (through the jitter
buffers and Opus decoders; the others count the voice frames they receive). Every ``check_every`` seconds each participant checks the people it
sees (its pose buffers are read then, as a frame loop would): who is missing (stale), and how far each avatar is from where its sender really was a
moment ago (within the playout delay); after ``settle_s`` (everyone has joined) the smallest
roster seen is kept as ``roster_min``. Returns a summary dict (plain data, fit for a
multiprocessing queue). ``run_in_processes`` spreads participants over worker processes — in
one process their decoding would compete for one interpreter lock, unlike real participants on
their own machines.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
import traceback

import numpy as np

RATE, BLOCK = 48000, 256


@functools.lru_cache(maxsize=8)
def _seats(capacity: int):
    from ..core.room import Table, fit_table, seat_layout

    return seat_layout(fit_table(Table(), capacity), capacity)


def head_path(seat: int, t_s: float, capacity: int) -> np.ndarray:
    """(3,) where the participant in ``seat`` holds its head at time t_s (seconds): a slow 4 cm
    circle around its seat's head position at the default table (speed about 5 cm/s)."""
    centre = _seats(capacity)[0][seat]
    a = 1.3 * t_s + seat
    return centre + 0.04 * np.array([np.cos(a), 0.5 * np.sin(2 * a), np.sin(a)])


def resting_hands(seat: int, head: np.ndarray, capacity: int) -> np.ndarray:
    """(2, 26, 3) relaxed hands over the table in front of the participant's head."""
    return _hands_from_head(seat, capacity) + head


@functools.lru_cache(maxsize=256)
def _hands_from_head(seat: int, capacity: int) -> np.ndarray:
    """(2, 26, 3) resting hands relative to the head of the participant in ``seat``."""
    from ..core import hands as H
    from ..core import pose as P

    q = P.quat_from_yaw_pitch_roll(_seats(capacity)[1][seat])
    wrists = P.quat_rotate(q, np.array([[-0.17, -0.42, -0.30], [0.17, -0.42, -0.30]]))
    tilt = P.quat_mul(q, P.quat_from_yaw_pitch_roll(0.0, -0.35))
    local = H.blend_poses(np.eye(len(H.POSE_NAMES))[[0, 0]])
    out = H.hands_to_stage(wrists, np.stack([tilt, tilt]), local, np.array([True, False]))
    out.flags.writeable = False
    return out


def run_participants(url: str, count: int, seconds: float, *, t0_ns: int | None = None, pose_hz: float = 30.0,
                     talkers: int = 0, check_every: float = 2.0, max_lag_s: float = 0.3,
                     settle_s: float = 8.0, listeners: int = 1, check_until: float = float("inf"),
                     first: int = 0) -> dict:
    """Drive ``count`` participants in ``url`` for ``seconds`` (see the module docstring), named
    ``sim{first}``, ``sim{first + 1}``, ... (each has its own key: names must differ between
    workers, or the server refuses a name already held by another key)."""
    from ..core import pose as P
    from ..net.room_audio import RemoteVoices
    from ..net.session import NetMeeting

    clients, voices = [], []
    out = {"errors_m": [], "missing": [], "delay_ms": [], "voice": [], "stats": [], "seats": [],
           "error": None, "checks": 0, "events": []}
    try:
        for i in range(count):
            net = NetMeeting(url, f"sim{first + i}", log=lambda *_: None, pose_hz=pose_hz)
            net.connect(timeout_s=15)
            v = None
            if i < listeners:
                v = RemoteVoices(net.capacity, local=net.seat)
                net.voice_sink = v.push
            else:
                net.voice_sink = _count_voice(out)
            clients.append(net)
            voices.append(v)
        out["seats"] = [c.seat for c in clients]
        cap = clients[0].capacity if clients else 0
        yaws = _seats(cap)[1]
        from ..audio.voices import load_voices

        speech = np.concatenate(load_voices(RATE))             # the built-in speech clips
        t0 = time.monotonic_ns() if t0_ns is None else t0_ns
        sent = [None] * count
        pulled = [None] * count
        next_check = check_every
        while True:
            now = time.monotonic_ns()
            t = (now - t0) / 1e9
            if t >= seconds:
                break
            due = int(t * RATE)
            for i, net in enumerate(clients):
                head = head_path(net.seat, t, cap)
                rot = P.quat_from_yaw_pitch_roll(yaws[net.seat])
                level = talk_level(t) if i < talkers else 0.0
                net.send_pose(head, rot, resting_hands(net.seat, head, cap), [True, True], level, -1,
                              now_ns=now)
                if i < talkers:
                    start = due if sent[i] is None else sent[i]
                    if due > start:
                        idx = np.arange(start, due)
                        net.send_voice(speech[idx % len(speech)], ((t0 + start * 1_000_000 // 48) // 1_000_000)
                                       & 0xFFFFFFFF)
                    sent[i] = due
                for ev in net.poll():
                    if ev.get("type") in ("left", "reconnecting", "reconnected", "room_full"):
                        out["events"].append((round(t, 2), net.seat, ev))
                v = voices[i]
                blocks = due // BLOCK
                pulled[i] = blocks if pulled[i] is None else pulled[i]
                while v is not None and pulled[i] < blocks:
                    voices[i].next_block(None, now)
                    pulled[i] += 1
            if t >= next_check and t <= check_until:
                next_check += check_every
                out["checks"] += 1
                for net in clients:
                    if t >= settle_s:
                        out["roster_min"] = min(out.get("roster_min", cap), len(net.client.roster))
                        if len(net.client.roster) < cap:
                            out["events"].append((round(t, 2), net.seat, {"type": "short_roster",
                                                                           "seats": sorted(net.client.roster)}))
                    rem = net.remote_input(now)
                    seen_missing = 0
                    for s in range(cap):
                        if s == net.seat or s not in net.client.roster:
                            continue
                        if not rem.present[s]:
                            seen_missing += 1
                            continue
                        lags = np.arange(0.0, max_lag_s + 1e-9, 0.01)
                        d = min(float(np.linalg.norm(rem.head_pos[s] - head_path(s, t - lag, cap))) for lag in lags)
                        out["errors_m"].append(d)
                    out["missing"].append((round(t, 1), seen_missing))
                    out["delay_ms"].extend(float(b.stats.delay_ms) for b in list(net.buffers.values()))
            time.sleep(max(0.0, 1.0 / pose_hz - (time.monotonic_ns() - now) / 1e9))
        out["voice"] = [v.stats() for v in voices if v is not None]
        out["poses_sent_per_s"] = [c.stats().get("pose_sent", 0) / max(t, 1e-9) for c in clients]
        out["stats"] = [c.stats() for c in clients]
    except Exception:
        out["error"] = traceback.format_exc()
    finally:
        for c in clients:
            c.close()
    return out


def talk_level(t_s: float) -> float:
    """A talker's speaking level 0..1 (syllable-like, ~4 Hz)."""
    return float(0.5 + 0.4 * np.sin(2 * np.pi * 4.0 * t_s))


def _count_voice(out: dict):
    out["voice_frames_not_played"] = 0

    def sink(*_frame) -> None:
        out["voice_frames_not_played"] += 1
    return sink


def _shares(count: int, processes: int, talkers: int):
    """(participants, first index, talkers) for each worker: count and talkers spread evenly."""
    left, talk_left = count, talkers
    for p in range(processes):
        n = left // (processes - p)
        first = count - left
        left -= n
        t = min(talk_left, n)
        talk_left -= t
        yield n, first, t


def run_in_processes(url: str, count: int, seconds: float, processes: int = 4, talkers: int = 4,
                     **kwargs) -> list[dict]:
    """``count`` participants over ``processes`` worker processes (spawned), the first ``talkers``
    talking; returns each worker's summary. All share one start time."""
    t0 = time.monotonic_ns()
    jobs = [("run_participants", (url, n, seconds + 3.0),             # 3 s to start and join
             dict(kwargs, t0_ns=t0, talkers=t, check_until=seconds, first=first))
            for n, first, t in _shares(count, processes, talkers)]
    return run_workers(jobs, timeout_s=seconds + 120)


# --- light participants and a flooder (fair-share tests and benches) -----------------------------
def run_light_participants(url: str, count: int, seconds: float, *, t0_ns: int, marks: list,
                           pose_hz: float = 30.0, talkers: int = 0, first: int = 0,
                           capacity: int | None = None) -> dict:
    """``count`` transport-only participants (``NetClient``: no codec, no buffers, so many fit on
    a small machine) in ``url`` (``HOST:PORT/ROOM``), named ``lt{first}``, ... Each sends an
    80-byte pose payload ``pose_hz`` times a second, and the first ``talkers`` a 60-byte voice
    frame every 20 ms, and counts what it receives by kind and sender seat. At each time in
    ``marks`` (seconds after t0_ns) it takes a snapshot. Returns ``{"seats", "snapshots":
    [{"t", "received": [{"pose": {seat: n}, "voice": {seat: n}} per client], "sent": [{"pose",
    "voice"} per client]}], "error"}``."""
    from ..net.client import NetClient
    from ..net.protocol import parse_join_url

    host, port, room = parse_join_url(url)
    out = {"seats": [], "snapshots": [], "error": None}
    clients, counts = [], []
    try:
        for i in range(count):
            c = NetClient(host, port, room, f"lt{first + i}")
            got = {"pose": {}, "voice": {}}

            def on_datagram(d, got=got):
                per = got[d.kind]
                per[d.seat] = per.get(d.seat, 0) + 1
            c.on_datagram = on_datagram
            c.connect(timeout_s=15)
            clients.append(c)
            counts.append(got)
        out["seats"] = [c.seat for c in clients]
        pose = bytes(range(80))
        voice = bytes(60)
        sent = [{"pose": 0, "voice": 0} for _ in clients]
        pending = sorted(marks)
        begun = time.monotonic_ns()               # sending starts now (not at t0: no catch-up burst)
        while True:
            now = time.monotonic_ns()
            t = (now - t0_ns) / 1e9
            if t >= seconds:
                break
            t_ms = (now // 1_000_000) & 0xFFFFFFFF
            t_send = (now - begun) / 1e9
            for i, c in enumerate(clients):
                while sent[i]["pose"] < t_send * pose_hz:
                    c.send_pose(pose, t_ms)
                    sent[i]["pose"] += 1
                while i < talkers and sent[i]["voice"] < t_send * 50.0:
                    c.send_voice(sent[i]["voice"] & 0xFFFF, t_ms, voice)
                    sent[i]["voice"] += 1
            while pending and t >= pending[0]:
                out["snapshots"].append({"t": pending.pop(0), "sent": [dict(s) for s in sent],
                                         "received": [{k: dict(v) for k, v in g.items()} for g in counts]})
            time.sleep(0.005)
    except Exception:
        out["error"] = traceback.format_exc()
    finally:
        for c in clients:
            c.close()
    return out


def flood_poses(url: str, rate: float, start_s: float, stop_s: float, t0_ns: int, name: str = "flooder",
                payload_bytes: int = 80) -> dict:
    """A signed-in member of ``url`` that sends ``rate`` valid pose datagrams a second (each with
    a fresh seq and time and a good MAC) from start_s to stop_s after t0_ns, and keeps its
    session alive until then. Returns ``{"sent", "seat", "error"}``."""
    from ..net import protocol as NP
    from ..net.client import NetClient
    from ..net.protocol import parse_join_url

    host, port, room = parse_join_url(url)
    out = {"sent": 0, "seat": -1, "error": None}
    c = NetClient(host, port, room, name)
    try:
        c.connect(timeout_s=15)
        out["seat"] = c.seat
        payload = bytes(payload_bytes)
        seq = 0
        while (time.monotonic_ns() - t0_ns) / 1e9 < start_s:
            time.sleep(0.01)
        begun = time.monotonic_ns()
        while True:
            now = time.monotonic_ns()
            if (now - t0_ns) / 1e9 >= stop_s:
                break
            link = c._link                      # the live session (fault injection: a raw sender)
            due = int((now - begun) / 1e9 * rate)
            while link is not None and out["sent"] < due:
                packet = NP.seal(link.keys.up, NP.pack_client_datagram(
                    NP.KIND_POSE, link.session, seq, (now // 1_000_000), payload))
                try:
                    c._sock.send(packet)       # from the member's bound address
                except OSError:
                    pass
                seq = (seq + 1) & 0xFFFF
                out["sent"] += 1
            time.sleep(0.001)
    except Exception:
        out["error"] = traceback.format_exc()
    finally:
        c.close()
    return out


def _call_worker(queue, fn_name, args, kwargs) -> None:
    queue.put(globals()[fn_name](*args, **kwargs))


def run_workers(jobs: list, timeout_s: float) -> list:
    """Run each ``(function name in this module, args, kwargs)`` in its own spawned process;
    returns their results in job order."""
    ctx = multiprocessing.get_context("spawn")
    queues, procs = [], []
    for fn_name, args, kwargs in jobs:
        q = ctx.Queue()
        p = ctx.Process(target=_call_worker, args=(q, fn_name, args, kwargs), daemon=True)
        p.start()
        queues.append(q)
        procs.append(p)
    results = []
    deadline = time.monotonic() + timeout_s
    try:
        for q, p in zip(queues, procs):
            while True:
                try:
                    results.append(q.get(timeout=1.0))
                    break
                except Exception:
                    if (not p.is_alive() and p.exitcode not in (0, None)) or time.monotonic() > deadline:
                        raise RuntimeError(f"worker failed: exit code {p.exitcode}") from None
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    return results


def measure_flood(url: str, honest: int, *, phase_s: float = 6.0, flood_rate: float = 10000.0,
                  processes: int = 3, talkers: int = 4, settle_s: float = 6.0, pose_hz: float = 30.0) -> dict:
    """``honest`` light participants (``run_light_participants``, over ``processes`` workers) and
    one flooder (``flood_poses``, its own process) in ``url``: a baseline phase without the
    flood, then a phase with it, in one run. Returns per honest receiver its honest pose and
    voice rates (received per second, from honest senders only) in both phases, what the
    honest senders sent, and the flooder's count."""
    t0 = time.monotonic_ns()
    base = (settle_s, settle_s + phase_s)
    attack = (settle_s + phase_s + 1.0, settle_s + 2 * phase_s + 1.0)
    end = attack[1] + 0.5
    marks = [base[0], base[1], attack[0], attack[1]]
    jobs = []
    for n, first, t in _shares(honest, processes, talkers):
        jobs.append(("run_light_participants", (url, n, end),
                     dict(t0_ns=t0, marks=marks, pose_hz=pose_hz, talkers=t, first=first)))
    jobs.append(("flood_poses", (url, flood_rate, attack[0] - 0.5, attack[1], t0), {}))
    results = run_workers(jobs, timeout_s=end + 120)
    flood = results[-1]
    workers = results[:-1]
    errors = [r["error"] for r in results if r["error"]]
    if errors:
        raise RuntimeError("\n".join(errors))
    honest_seats = {s for w in workers for s in w["seats"]}

    def rates(snap_a, snap_b, i, kind, seconds):
        a, b = snap_a["received"][i][kind], snap_b["received"][i][kind]
        return sum(b.get(s, 0) - a.get(s, 0) for s in b if s in honest_seats) / seconds

    out = {"receivers": [], "flood_sent": flood["sent"], "flood_seat": flood["seat"],
           "honest_talkers": talkers, "honest": honest}
    for w in workers:
        snaps = w["snapshots"]
        for i, seat in enumerate(w["seats"]):
            out["receivers"].append({
                "seat": seat,
                "pose_base": rates(snaps[0], snaps[1], i, "pose", phase_s),
                "pose_attack": rates(snaps[2], snaps[3], i, "pose", phase_s),
                "voice_base": rates(snaps[0], snaps[1], i, "voice", phase_s),
                "voice_attack": rates(snaps[2], snaps[3], i, "voice", phase_s),
                "flood_received": snaps[3]["received"][i]["pose"].get(flood["seat"], 0)
                - snaps[2]["received"][i]["pose"].get(flood["seat"], 0)})
    return out
