"""A meeting as data: the room, the people (structure of arrays) and the per-frame step.

``step(state, inputs, t_ns) -> (state, FrameScene)`` advances every scripted person to the
display time ``t_ns`` (int nanoseconds), takes the local person's tracked head and hands from
``inputs``, and builds the instances the renderer draws. Pure numpy; no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import hands as H
from . import pose as P
from . import script
from .frame import Capsules, FrameScene, MeshInstances
from .room import Room, Table, fit_table, room_meshes, seat_layout

MAX_PEOPLE = 64
_IS_LEFT = np.tile([True, False], MAX_PEOPLE)

# Distinct, friendly colours (linear RGB) for people; hands use a skin-tinted version.
PALETTE = np.array([
    [0.80, 0.22, 0.16], [0.10, 0.42, 0.80], [0.92, 0.60, 0.06], [0.20, 0.62, 0.28],
    [0.55, 0.24, 0.72], [0.05, 0.60, 0.62], [0.85, 0.30, 0.52], [0.45, 0.50, 0.12],
    [0.30, 0.30, 0.85], [0.75, 0.42, 0.20], [0.12, 0.50, 0.45], [0.62, 0.12, 0.30],
    [0.40, 0.62, 0.85], [0.80, 0.72, 0.30], [0.35, 0.22, 0.55], [0.60, 0.60, 0.62],
])
SKIN = np.array([0.78, 0.55, 0.42])

# Head geometry relative to the head pose (the point between the eyes), metres, head frame.
HEAD_CENTER = np.array([0.0, 0.025, 0.075])
HEAD_SCALE = np.array([0.078, 0.102, 0.092])
EYE_OFFSETS = np.array([[-0.031, 0.0, -0.004], [0.031, 0.0, -0.004]])
EYE_RADIUS = 0.0155
PUPIL_RADIUS = 0.0085
NOSE_OFFSET = np.array([0.0, -0.028, -0.012])
MOUTH_OFFSET = np.array([0.0, -0.058, 0.004])


@dataclass
class People:
    """Everyone in the meeting, structure of arrays (N people).

    head_pos (N, 3) metres and head_rot (N, 4) quaternions: T_stage_head (the point between the
    eyes). gaze (N, 3) unit vectors, stage space. joints (N, 2, 26, 3) metres, stage space (hand 0
    left, 1 right). radii (N, 2, 26) metres. valid (N, 2, 26) bool. hand_alpha (N, 2) 0..1.
    color (N, 3) linear RGB. seat (N,) int. speaking (N,) 0..1 level. mouth_open (N,) 0..1.
    """

    head_pos: np.ndarray
    head_rot: np.ndarray
    gaze: np.ndarray
    joints: np.ndarray
    radii: np.ndarray
    valid: np.ndarray
    hand_alpha: np.ndarray
    color: np.ndarray
    seat: np.ndarray
    speaking: np.ndarray
    mouth_open: np.ndarray
    names: tuple = ()

    def __len__(self) -> int:
        return int(self.head_pos.shape[0])


@dataclass
class LocalInput:
    """What the local person's tracker says this frame (any field may be None = not tracked).

    head_pos (3,) / head_rot (4,): T_stage_head. joints (2, 26, 3) metres, stage space;
    valid (2, 26) bool; radii (2, 26) metres.
    """

    head_pos: np.ndarray | None = None
    head_rot: np.ndarray | None = None
    joints: np.ndarray | None = None
    valid: np.ndarray | None = None
    radii: np.ndarray | None = None
    voice_level: np.ndarray | None = None
    """(N,) 0..1 voice energy per person on the audio clock (drives mouths when given)."""


@dataclass
class MeetingState:
    """The whole meeting. local: index of the person this device shows (-1 = an observer)."""

    table: Table
    room: Room
    people: People
    seat_pos: np.ndarray
    seat_yaw: np.ndarray
    static_meshes: dict
    script: script.ScriptTables
    seat_rot: np.ndarray
    local: int = 0
    seed: int = 0
    t_ns: int | None = None
    draw_local_head: bool = False


def make_meeting(n_people: int, table: Table | None = None, room: Room | None = None,
                 local: int = 0, seed: int = 0, names=None) -> MeetingState:
    """A meeting of n_people seated around the table; person k sits in seat k.

    The table grows (room.fit_table) if it is too small to seat everyone comfortably.
    """
    if not 1 <= n_people <= MAX_PEOPLE:
        raise ValueError(f"people must be between 1 and {MAX_PEOPLE}, not {n_people}")
    if not -1 <= local < n_people:
        raise ValueError(f"seat {local} does not exist in a meeting of {n_people}")
    table = fit_table(table or Table(), n_people)
    room = room or Room()
    seat_pos, seat_yaw = seat_layout(table, n_people)
    n = n_people
    color = PALETTE[np.arange(n) % len(PALETTE)] * (1.0 - 0.25 * (np.arange(n) // len(PALETTE) % 2))[:, None]
    people = People(
        head_pos=seat_pos.copy(),
        head_rot=P.quat_from_yaw_pitch_roll(seat_yaw),
        gaze=P.quat_rotate(P.quat_from_yaw_pitch_roll(seat_yaw), np.array([0.0, 0.0, -1.0])),
        joints=np.zeros((n, 2, H.JOINT_COUNT, 3)),
        radii=np.broadcast_to(H.TYPICAL_RADII, (n, 2, H.JOINT_COUNT)).copy(),
        valid=np.ones((n, 2, H.JOINT_COUNT), bool),
        hand_alpha=np.ones((n, 2)),
        color=color,
        seat=np.arange(n),
        speaking=np.zeros(n),
        mouth_open=np.zeros(n),
        names=tuple(names) if names else tuple(f"Guest {k + 1}" for k in range(n)),
    )
    return MeetingState(table=table, room=room, people=people, seat_pos=seat_pos,
                        seat_yaw=seat_yaw, static_meshes=room_meshes(table, room, seat_pos, seat_yaw),
                        script=script.ScriptTables.make(seed, n), seat_rot=P.quat_from_yaw_pitch_roll(seat_yaw),
                        local=local, seed=seed)


WHISPER_INVITE_M = 0.80
"""Metres: when the local head comes this close to a neighbour's head, the neighbour leans in too
and whispers back (a side conversation, DESIGN.md's whisper rule)."""


def current_speaker(state: MeetingState, t_s: float) -> int:
    """Who holds the floor at time t_s in the foundation's simple script (turns of ~5 s)."""
    return script.speaker_at(state.script, len(state.people), t_s)


def whisper_partner(state: MeetingState, local_head_pos) -> int:
    """The scripted neighbour the local person leans toward (-1 for none)."""
    k = state.local
    if local_head_pos is None or not 0 <= k < len(state.people):
        return -1
    d = np.linalg.norm(state.seat_pos - np.asarray(local_head_pos, float), axis=1)
    d[k] = np.inf
    j = int(np.argmin(d))
    return j if d[j] < WHISPER_INVITE_M else -1


def speaking_at(state: MeetingState, t_s: float, local_head_pos=None) -> np.ndarray:
    """(N,) bool: who talks at t_s — the floor holder, plus a neighbour whispering back to a
    local person who leans toward them. The local person never talks in the script."""
    n = len(state.people)
    out = np.zeros(n, bool)
    out[current_speaker(state, t_s)] = True
    partner = whisper_partner(state, local_head_pos)
    if partner >= 0:
        out[partner] = True
    if 0 <= state.local < n:
        out[state.local] = False
    return out


def step(state: MeetingState, inputs: LocalInput | None, t_ns: int):
    """Advance the meeting to display time t_ns and describe the frame.

    Returns (new_state, FrameScene). Scripted people: the speaker gestures, listeners rest their
    hands and turn their heads toward the speaker. The local person's head and hands come from
    ``inputs`` when tracked.
    """
    t_s = t_ns * 1e-9
    ppl = state.people
    n = len(ppl)
    speaker = current_speaker(state, t_s)
    is_speaker = np.arange(n) == speaker
    local_head = inputs.head_pos if inputs is not None else None
    partner = whisper_partner(state, local_head)
    speaking = speaking_at(state, t_s, local_head).astype(np.float64)

    # Heads: face the speaker (the speaker faces the table's middle), with a small sway.
    target = np.where(is_speaker[:, None], np.array([0.0, state.table.height + 0.15, 0.0]),
                      state.seat_pos[speaker])
    look = target - state.seat_pos
    sway = 0.05 * np.sin(0.9 * t_s + np.arange(n) * 1.7)
    yaw, pitch = P.yaw_pitch_toward(look)
    head_rot = P.quat_from_yaw_pitch_roll(yaw + sway, pitch + 0.3 * sway)
    head_pos = state.seat_pos.copy()
    head_pos[:, 1] += 0.01 * np.sin(0.4 * t_s + np.arange(n))
    if partner >= 0:
        # The neighbour you lean toward leans in to meet you and faces you while whispering.
        lean = 0.45 * (np.asarray(local_head, float) - state.seat_pos[partner])
        head_pos[partner] = state.seat_pos[partner] + lean
        look[partner] = np.asarray(local_head, float) - head_pos[partner]
        y, p = P.yaw_pitch_toward(look[partner])
        head_rot[partner] = P.quat_from_yaw_pitch_roll(y, p)
    gaze = look / np.linalg.norm(look, axis=1, keepdims=True)

    # Hands: scripted pose weights and wrist poses, blended in one pass for all 2N hands.
    weights, raised = script.hand_pose_weights(state.script, t_s, is_speaker)
    wrist_p, wrist_q = script.wrist_poses(state.script, state.seat_pos, state.seat_rot,
                                          state.table.height, raised, t_s)
    local_joints = H.blend_poses(weights.reshape(2 * n, -1))
    joints = H.hands_to_stage(wrist_p.reshape(-1, 3), wrist_q.reshape(-1, 4), local_joints,
                              _IS_LEFT[: 2 * n]).reshape(n, 2, H.JOINT_COUNT, 3)
    radii = ppl.radii
    # Curled resting hands would sink into the table: lift each hand until it rests on the top.
    lowest = (joints[..., 1] - radii).min(axis=-1)                         # (N, 2)
    joints[..., 1] += np.maximum(0.0, state.table.height + 0.002 - lowest)[..., None]
    valid = np.ones((n, 2, H.JOINT_COUNT), bool)

    if inputs is not None and 0 <= state.local < n:
        k = state.local
        if inputs.head_pos is not None and inputs.head_rot is not None:
            head_pos[k] = inputs.head_pos
            head_rot[k] = inputs.head_rot
            gaze[k] = P.quat_rotate(inputs.head_rot, np.array([0.0, 0.0, -1.0]))
        if inputs.joints is not None:
            joints[k] = inputs.joints
            valid[k] = inputs.valid if inputs.valid is not None else True
            if inputs.radii is not None:
                radii = radii.copy()
                radii[k] = inputs.radii

    if inputs is not None and inputs.voice_level is not None:
        mouth = np.clip(1.6 * np.asarray(inputs.voice_level, float), 0.0, 1.0)
    else:
        mouth = speaking * (0.35 + 0.35 * np.abs(np.sin(9.0 * t_s + np.arange(n))))
    people = replace(ppl, head_pos=head_pos, head_rot=head_rot, gaze=gaze, joints=joints,
                     valid=valid, radii=radii, speaking=speaking, mouth_open=mouth)
    new_state = replace(state, people=people, t_ns=t_ns)
    return new_state, build_frame_scene(new_state)


# Spheres drawn per head, in this order: skull, left eye, right eye, nose, mouth, then two pupils.
_HEAD_OFFSETS = np.array([HEAD_CENTER, EYE_OFFSETS[0], EYE_OFFSETS[1], NOSE_OFFSET, MOUTH_OFFSET])
_HEAD_SCALES = np.array([HEAD_SCALE, [EYE_RADIUS] * 3, [EYE_RADIUS] * 3, [0.011, 0.016, 0.014],
                         [0.020, 0.003, 0.010]])
SPHERES_PER_HEAD = 7


def head_meshes(people: People, hide: int = -1):
    """Sphere instances for heads: skull, eyes, nose, mouth and two pupils per person.

    Returns (transforms (M, 4, 4) float32, colors (M, 4) float32), M = 7 per drawn person,
    person-major. ``hide`` skips one person (the viewer's own head). The mouth opens with
    ``mouth_open``; pupils sit on the eyeballs along ``gaze``.
    """
    keep = np.arange(len(people)) != hide
    pos, rot = people.head_pos[keep], people.head_rot[keep]
    m = pos.shape[0]
    R = P.quat_to_matrix(rot)                                             # (m, 3, 3)
    mat = np.zeros((m, SPHERES_PER_HEAD, 4, 4))
    mat[..., 3, 3] = 1.0
    scales = np.broadcast_to(_HEAD_SCALES, (m, 5, 3)).copy()
    scales[:, 4, 1] += 0.011 * people.mouth_open[keep]
    mat[:, :5, :3, :3] = R[:, None] * scales[:, :, None, :]
    centers = pos[:, None, :] + np.einsum("mij,oj->moi", R, _HEAD_OFFSETS)
    mat[:, :5, :3, 3] = centers
    idx = np.arange(3)
    mat[:, 5:, idx, idx] = PUPIL_RADIUS
    mat[:, 5:, :3, 3] = centers[:, 1:3] + (people.gaze[keep] * (EYE_RADIUS - 0.45 * PUPIL_RADIUS))[:, None]
    colors = np.empty((m, SPHERES_PER_HEAD, 4), np.float32)
    colors[..., 3] = 1.0
    colors[:, 0, :3] = people.color[keep]
    colors[:, 1:3, :3] = (0.92, 0.92, 0.90)
    colors[:, 3, :3] = people.color[keep] * 0.85
    colors[:, 4, :3] = (0.18, 0.04, 0.05)
    colors[:, 5:, :3] = (0.03, 0.03, 0.04)
    return mat.reshape(-1, 4, 4).astype(np.float32), colors.reshape(-1, 4)


def build_frame_scene(state: MeetingState) -> FrameScene:
    """The FrameScene for the current state: room, table, heads and every visible hand."""
    ppl = state.people
    n = len(ppl)
    hide = -1 if state.draw_local_head else state.local
    head_t, head_c = head_meshes(ppl, hide)
    hand_color = 0.55 * SKIN[None, :] + 0.45 * ppl.color
    caps = H.hand_capsules(ppl.joints.reshape(2 * n, H.JOINT_COUNT, 3),
                           ppl.radii.reshape(2 * n, H.JOINT_COUNT),
                           ppl.valid.reshape(2 * n, H.JOINT_COUNT),
                           np.repeat(hand_color, 2, axis=0), ppl.hand_alpha.reshape(-1))
    meshes = dict(state.static_meshes)
    meshes["sphere"] = MeshInstances(head_t, head_c)
    return FrameScene(capsules=caps, meshes=meshes,
                      stats={"people": n, "hand_capsules": len(caps)})
