"""A meeting as data: the room, the people (structure of arrays) and the per-frame step.

``step(state, inputs, t_ns) -> (state, FrameScene)`` advances every scripted person to the
display time ``t_ns`` (int nanoseconds) — conversation, gaze, blinks, jaws, gestures, whispering
and table contacts through ``presence.presence_step`` — takes the local person's tracked head and
hands from ``inputs``, and builds the instances the renderer draws. Pure numpy; no clock, no I/O.
The presence state inside MeetingState is advanced in place (it carries the conversation's and
the eyes' history); everything else in the returned state is new.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import hands as H
from . import pose as P
from . import script
from .presence import PresenceConfig, PresenceFrame, new_presence, presence_step
from .lips import VoiceEnvelope
from .table import TableGeometry
from .frame import Capsules, FrameScene, Labels, MeshInstances
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
    color (N, 3) linear RGB. seat (N,) int. speaking (N,) 0..1 speech level. mouth_open (N,) 0..1.
    eyelid (N,) 0 open .. 1 closed. whisper_cue (N,) 0..1. contact (N, 2, 6) 0..1 table contact of
    the palm and five fingertips (presence.table.CONTACT_JOINTS).
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
    eyelid: np.ndarray | None = None
    whisper_cue: np.ndarray | None = None
    contact: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.head_pos.shape[0])


@dataclass
class LocalInput:
    """What the local person's tracker says this frame (any field may be None = not tracked).

    head_pos (3,) / head_rot (4,): T_stage_head. joints (2, 26, 3) metres, stage space;
    valid (2, 26) bool; radii (2, 26) metres. eye_dir (3,) unit gaze from an eye tracker.
    voice_level (N,) 0..1: voice energy per person on the audio clock (drives jaws when given).
    """

    head_pos: np.ndarray | None = None
    head_rot: np.ndarray | None = None
    joints: np.ndarray | None = None
    valid: np.ndarray | None = None
    radii: np.ndarray | None = None
    eye_dir: np.ndarray | None = None
    voice_level: np.ndarray | None = None


@dataclass
class MeetingState:
    """The whole meeting. local: index of the person this device shows (-1 = an observer).

    presence: the behaviours' state (advanced in place by step). frame: the newest PresenceFrame
    (who speaks, whisper pairs, contact events for haptics), None before the first step.
    """

    table: Table
    room: Room
    people: People
    seat_pos: np.ndarray
    seat_yaw: np.ndarray
    static_meshes: dict
    script: script.ScriptTables
    seat_rot: np.ndarray
    presence: object
    local: int = 0
    seed: int = 0
    t_ns: int | None = None
    draw_local_head: bool = False
    frame: PresenceFrame | None = None
    partner: int = -1


def table_geometry(table: Table) -> TableGeometry:
    """The table top as presence.table sees it (a rectangle; a round table's bounding square)."""
    half = [table.radius, table.radius] if table.shape == "round" else [table.width / 2, table.depth / 2]
    return TableGeometry(centre=[0.0, table.height, 0.0], normal=[0.0, 1.0, 0.0],
                         x_axis=[1.0, 0.0, 0.0], half_extents=half)


def make_meeting(n_people: int, table: Table | None = None, room: Room | None = None,
                 local: int = 0, seed: int = 0, names=None, t0_ns: int = 0) -> MeetingState:
    """A meeting of n_people seated around the table; person k sits in seat k.

    The table grows (room.fit_table) if it is too small to seat everyone comfortably. t0_ns is
    the clock value at which the meeting starts (the first turn begins shortly after).
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
    seat_rot = P.quat_from_yaw_pitch_roll(seat_yaw)
    people = People(
        head_pos=seat_pos.copy(),
        head_rot=seat_rot.copy(),
        gaze=P.quat_rotate(seat_rot, np.array([0.0, 0.0, -1.0])),
        joints=np.zeros((n, 2, H.JOINT_COUNT, 3)),
        radii=np.broadcast_to(H.TYPICAL_RADII, (n, 2, H.JOINT_COUNT)).copy(),
        valid=np.ones((n, 2, H.JOINT_COUNT), bool),
        hand_alpha=np.ones((n, 2)),
        color=color,
        seat=np.arange(n),
        speaking=np.zeros(n),
        mouth_open=np.zeros(n),
        names=default_names(n, names),
        eyelid=np.zeros(n), whisper_cue=np.zeros(n), contact=np.zeros((n, 2, 6)),
    )
    presence = new_presence(PresenceConfig(n=n, seed=seed, local_index=local,
                                           table=table_geometry(table)), t_ns=t0_ns)
    return MeetingState(table=table, room=room, people=people, seat_pos=seat_pos,
                        seat_yaw=seat_yaw, static_meshes=room_meshes(table, room, seat_pos, seat_yaw),
                        script=script.ScriptTables.make(seed, n), seat_rot=seat_rot,
                        presence=presence, local=local, seed=seed)


DEFAULT_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Dennis",
                 "Frances", "Tim", "Radia", "Linus", "Hedy", "Claude", "Katherine", "John")


def default_names(n: int, names=None) -> tuple:
    """Display names for n people: the given ones first, then DEFAULT_NAMES, then "Guest k"."""
    given = list(names or [])
    out = given + [DEFAULT_NAMES[k] if k < len(DEFAULT_NAMES) else f"Guest {k + 1}"
                   for k in range(len(given), n)]
    return tuple(out[:n])


WHISPER_INVITE_M = 0.80
"""Metres: when the local head comes this close to a neighbour's head, the neighbour leans in too
and whispers back (a side conversation, DESIGN.md's whisper rule)."""


def whisper_partner(state: MeetingState, local_head_pos) -> int:
    """The scripted neighbour the local person leans toward (-1 for none)."""
    k = state.local
    if local_head_pos is None or not 0 <= k < len(state.people):
        return -1
    d = np.linalg.norm(state.seat_pos - np.asarray(local_head_pos, float), axis=1)
    d[k] = np.inf
    j = int(np.argmin(d))
    return j if d[j] < WHISPER_INVITE_M else -1


def speaking_now(state: MeetingState) -> np.ndarray:
    """(N,) bool: who talks after the newest step — the conversation's speakers plus a neighbour
    whispering back to a local person leaning toward them. The local person is never scripted."""
    n = len(state.people)
    out = np.zeros(n, bool) if state.frame is None else np.array(state.frame.speaking, bool)
    if state.partner >= 0:
        out[state.partner] = True
    if 0 <= state.local < n:
        out[state.local] = False
    return out


def step(state: MeetingState, inputs: LocalInput | None, t_ns: int):
    """Advance the meeting to display time t_ns and describe the frame.

    Returns (new_state, FrameScene). Scripted people follow the conversation (presence): the
    speaker gestures on stressed syllables, listeners rest their hands and look at the speaker,
    eyes saccade and blink, jaws follow the voice. The local person's head and hands come from
    ``inputs`` when tracked; their voice is their own.
    """
    t_s = t_ns * 1e-9
    ppl = state.people
    n = len(ppl)
    k = state.local
    inputs = inputs or LocalInput()
    head_pos = state.seat_pos.copy()
    head_pos[:, 1] += 0.008 * np.sin(0.4 * t_s + np.arange(n))          # breathing
    base_rot = state.seat_rot.copy()
    local_tracked = 0 <= k < n and inputs.head_pos is not None and inputs.head_rot is not None
    if local_tracked:
        head_pos[k] = inputs.head_pos
        base_rot[k] = inputs.head_rot
    partner = whisper_partner(state, head_pos[k] if local_tracked else None)
    if partner >= 0:
        # The neighbour you lean toward leans in to meet you and turns to you.
        head_pos[partner] = state.seat_pos[partner] + 0.45 * (head_pos[k] - state.seat_pos[partner])
        y, p = P.yaw_pitch_toward(head_pos[k] - head_pos[partner])
        base_rot[partner] = P.quat_from_yaw_pitch_roll(y, p)

    hand_tracked = np.ones((n, 2), bool)
    local_hands = 0 <= k < n and inputs.joints is not None
    if local_hands:
        v = np.ones((2, H.JOINT_COUNT), bool) if inputs.valid is None else np.asarray(inputs.valid, bool)
        hand_tracked[k] = v.any(axis=1)
    voice = None
    if inputs.voice_level is not None:
        level = np.asarray(inputs.voice_level, float)
        period = 33_333_333 if state.t_ns is None else max(t_ns - state.t_ns, 1)
        valid = np.ones(n, bool)
        if 0 <= k < n:
            valid[k] = False
        voice = VoiceEnvelope(values=np.stack([level, level], axis=1), t0_ns=t_ns - period,
                              rate_hz=1e9 / period, valid=valid)
    pres, pf = presence_step(state.presence, head_pos, base_rot, t_ns,
                             local_eye_dir=inputs.eye_dir, hand_joints=ppl.joints if state.t_ns is not None else None,
                             hand_tracked=hand_tracked, voice=voice)
    head_rot = P.quat_mul(base_rot, pf.head_offset)
    if local_tracked:
        head_rot[k] = base_rot[k]

    # Hands: gesture weights and lift from presence, placed by the script's wrist model.
    weights = pf.gesture_weights
    raised = np.clip(pf.hand_lift, 0.0, 1.0)
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
    if local_hands:
        joints[k] = inputs.joints
        valid[k] = v
        if inputs.radii is not None:
            radii = radii.copy()
            radii[k] = inputs.radii

    people = replace(ppl, head_pos=head_pos, head_rot=head_rot, gaze=pf.eye_dir, joints=joints,
                     valid=valid, radii=radii, speaking=np.asarray(pf.speech_level, float),
                     mouth_open=np.asarray(pf.jaw, float), hand_alpha=pf.hand_alpha.copy(),
                     eyelid=pf.eyelid, whisper_cue=pf.whisper_cue, contact=pf.contact_intensity)
    new_state = replace(state, people=people, t_ns=t_ns, presence=pres, frame=pf, partner=partner)
    return new_state, build_frame_scene(new_state)


# Spheres drawn per head, in this order: skull, left eye, right eye, nose, mouth, then two pupils.
_HEAD_OFFSETS = np.array([HEAD_CENTER, EYE_OFFSETS[0], EYE_OFFSETS[1], NOSE_OFFSET, MOUTH_OFFSET])
_HEAD_SCALES = np.array([HEAD_SCALE, [EYE_RADIUS] * 3, [EYE_RADIUS] * 3, [0.011, 0.016, 0.014],
                         [0.020, 0.003, 0.010]])
SPHERES_PER_HEAD = 7
CONTACT_SHADOW_RGB = (0.12, 0.07, 0.04)
"""Linear colour of the soft spot a touching fingertip leaves on the (wooden) table."""
INDICATOR_HEIGHT = 0.255
"""Metres above the head pose of the speaking indicator disc."""
NAME_TAG_HEIGHT = 0.19
"""Metres above the head pose of the centre of each person's name tag."""


def head_meshes(people: People, hide: int = -1):
    """Sphere instances for heads: skull, eyes, nose, mouth and two pupils per person.

    Returns (transforms (M, 4, 4) float32, colors (M, 4) float32), M = 7 per drawn person,
    person-major. ``hide`` skips one person (the viewer's own head). The mouth opens with
    ``mouth_open``; eyes close with ``eyelid``; pupils sit on the eyeballs along ``gaze``.
    """
    keep = np.arange(len(people)) != hide
    pos, rot = people.head_pos[keep], people.head_rot[keep]
    m = pos.shape[0]
    R = P.quat_to_matrix(rot)                                             # (m, 3, 3)
    lid = np.zeros(m) if people.eyelid is None else np.asarray(people.eyelid)[keep]
    open_ = 1.0 - 0.88 * np.clip(lid, 0.0, 1.0)
    mat = np.zeros((m, SPHERES_PER_HEAD, 4, 4))
    mat[..., 3, 3] = 1.0
    scales = np.broadcast_to(_HEAD_SCALES, (m, 5, 3)).copy()
    scales[:, 4, 1] += 0.011 * people.mouth_open[keep]
    scales[:, 1:3, 1] *= open_[:, None]
    mat[:, :5, :3, :3] = R[:, None] * scales[:, :, None, :]
    centers = pos[:, None, :] + np.einsum("mij,oj->moi", R, _HEAD_OFFSETS)
    mat[:, :5, :3, 3] = centers
    # Pupils: flattened with the lids, in the head's frame, on the eyeball along the gaze.
    pupil_scale = np.stack([np.full(m, PUPIL_RADIUS), PUPIL_RADIUS * open_, np.full(m, PUPIL_RADIUS)], -1)
    mat[:, 5:, :3, :3] = (R * pupil_scale[:, None, :])[:, None]
    mat[:, 5:, :3, 3] = centers[:, 1:3] + (people.gaze[keep] * (EYE_RADIUS - 0.45 * PUPIL_RADIUS))[:, None]
    colors = np.empty((m, SPHERES_PER_HEAD, 4), np.float32)
    colors[..., 3] = 1.0
    colors[:, 0, :3] = people.color[keep]
    colors[:, 1:3, :3] = (0.92, 0.92, 0.90)
    colors[:, 1:3, :3] = colors[:, 1:3, :3] * (1 - lid[:, None, None]) + people.color[keep][:, None] * lid[:, None, None]
    colors[:, 3, :3] = people.color[keep] * 0.85
    colors[:, 4, :3] = (0.18, 0.04, 0.05)
    colors[:, 5:, :3] = (0.03, 0.03, 0.04)
    return mat.reshape(-1, 4, 4).astype(np.float32), colors.reshape(-1, 4)


def cue_meshes(people: People, table_height: float, hide: int = -1):
    """Speaking indicators (a disc above each speaker, brighter with their voice), whisper cues
    (a small pale-blue light beside a whispering head) and contact shadows (a soft dark spot on
    the table under each touching fingertip or palm). Returns {"cylinder": ..., "sphere": ...} arrays.
    """
    n = len(people)
    keep = np.arange(n) != hide
    level = np.asarray(people.speaking, float)
    talk = np.flatnonzero(keep & (level > 0.05))
    disc_m = np.zeros((len(talk), 4, 4))
    disc_m[:, 3, 3] = 1.0
    disc_m[:, [0, 1, 2], [0, 1, 2]] = [0.045, 0.004, 0.045]
    disc_m[:, :3, 3] = people.head_pos[talk] + [0.0, INDICATOR_HEIGHT, 0.0]
    disc_c = np.concatenate([np.minimum(people.color[talk] * (0.6 + 1.2 * level[talk, None]) + 0.15, 1.0),
                             (0.35 + 0.65 * level[talk, None])], axis=1)
    cue = np.zeros(n) if people.whisper_cue is None else np.asarray(people.whisper_cue, float)
    wh = np.flatnonzero(keep & (cue > 0.05))
    R = P.quat_to_matrix(people.head_rot[wh]) if len(wh) else np.zeros((0, 3, 3))
    cue_m = np.zeros((len(wh), 4, 4))
    cue_m[:, 3, 3] = 1.0
    cue_m[:, [0, 1, 2], [0, 1, 2]] = 0.011
    cue_m[:, :3, 3] = people.head_pos[wh] + np.einsum("mij,j->mi", R, [0.10, 0.07, 0.05])
    cue_c = np.concatenate([np.tile([0.55, 0.8, 1.0], (len(wh), 1)), 0.9 * cue[wh, None]], axis=1)
    contact = np.zeros((n, 2, 6)) if people.contact is None else np.asarray(people.contact, float)
    p_idx, h_idx, j_idx = np.nonzero(contact > 0.05)
    from .table import CONTACT_JOINTS

    spots = people.joints[p_idx, h_idx, np.asarray(CONTACT_JOINTS)[j_idx]]
    glow_m = np.zeros((len(spots), 4, 4))
    glow_m[:, 3, 3] = 1.0
    glow_m[:, [0, 1, 2], [0, 1, 2]] = [0.012, 0.0008, 0.012]
    glow_m[:, :3, 3] = np.stack([spots[:, 0], np.full(len(spots), table_height + 0.0009), spots[:, 2]], -1) \
        if len(spots) else np.zeros((0, 3))
    glow_c = np.concatenate([np.tile(CONTACT_SHADOW_RGB, (len(spots), 1)),
                             0.6 * contact[p_idx, h_idx, j_idx, None]], axis=1)
    return {"cylinder": (disc_m, disc_c),
            "sphere": (np.concatenate([cue_m, glow_m]), np.concatenate([cue_c, glow_c]))}


def build_frame_scene(state: MeetingState) -> FrameScene:
    """The FrameScene for the current state: room, table, heads, cues and every visible hand."""
    ppl = state.people
    n = len(ppl)
    hide = -1 if state.draw_local_head else state.local
    head_t, head_c = head_meshes(ppl, hide)
    hand_color = 0.55 * SKIN[None, :] + 0.45 * ppl.color
    caps = H.hand_capsules(ppl.joints.reshape(2 * n, H.JOINT_COUNT, 3),
                           ppl.radii.reshape(2 * n, H.JOINT_COUNT),
                           ppl.valid.reshape(2 * n, H.JOINT_COUNT),
                           np.repeat(hand_color, 2, axis=0), ppl.hand_alpha.reshape(-1))
    cues = cue_meshes(ppl, state.table.height, hide)
    meshes = dict(state.static_meshes)
    sph_t, sph_c = cues["sphere"]
    meshes["sphere"] = MeshInstances(np.concatenate([head_t, sph_t.astype(np.float32)]),
                                     np.concatenate([head_c, sph_c.astype(np.float32)]))
    cyl = state.static_meshes["cylinder"]
    disc_t, disc_c = cues["cylinder"]
    meshes["cylinder"] = MeshInstances(np.concatenate([cyl.transforms, disc_t.astype(np.float32)]),
                                       np.concatenate([cyl.colors, disc_c.astype(np.float32)]))
    shown = np.flatnonzero(np.arange(n) != hide)
    tag_color = np.concatenate([ppl.color[shown] * 0.55, np.full((len(shown), 1), 0.85)], axis=1)
    labels = Labels(positions=(ppl.head_pos[shown] + [0.0, NAME_TAG_HEIGHT, 0.0]).astype(np.float32),
                    texts=tuple(ppl.names[i] for i in shown), colors=tag_color.astype(np.float32))
    return FrameScene(capsules=caps, meshes=meshes, labels=labels,
                      stats={"people": n, "hand_capsules": len(caps)})
