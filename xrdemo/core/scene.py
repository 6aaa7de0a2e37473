"""A meeting as data: the room, the people (structure of arrays) and the per-frame step.

``step(state, inputs, t_ns) -> (state, FrameScene)`` advances every scripted person to the
display time ``t_ns`` (int nanoseconds) — conversation, gaze, blinks, jaws, gestures, whispering
and table contacts through ``presence.presence_step`` — takes the local person's tracked head and
hands from ``inputs``, and has the instances the renderer draws built (``frame_build.py``). Pure
numpy; no clock, no I/O.
The presence state inside MeetingState is advanced in place (it carries the conversation's and
the eyes' history); everything else in the returned state is new, except ``derived``: constants
derived from the seats, table, script, colours and names (rebuilt when one of those objects is
replaced — replace them, don't edit them in place). See docs/performance.md.

Why one long module (~620 lines): the meeting state's dataclasses and the one step that
advances them, in the order a frame needs; presence, hands, gaze, faces, whispering, tables and
the FrameScene's building live in their own modules and are called from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import hands as H
from . import pose as P
from . import script
from . import expressions as E
from .presence import PresenceConfig, PresenceFrame, new_presence, presence_step
from .lips import VoiceEnvelope
from .table import CONTACT_JOINTS, TableGeometry
from .frame import FrameScene
# (the frame's constants and tag helpers are re-exported: callers know them as scene.*)
from .frame_build import (FLAGGED_MARK, NAME_TAG_HEIGHT, TAG_MAX_LINEAR, VERIFIED_MARK,  # noqa: F401
                          WHISPER_TAG, WHISPER_TAG_RGB, contact_glow, frame_scene, tag_text)
from .room import Room, Table, fit_table, room_meshes, room_shell, seat_layout
from .whisper import InviteConfig, invite_step
from .face_behaviour import FaceBehaviour, apply as apply_layer
from .face_sources import combine_expressions, remote_gaze
from .avatars import HIP_IN_SEAT, SPINE_TURN_SHARE, body_colors, body_template, skin_tones

MAX_PEOPLE = 64
_IS_LEFT = np.tile([True, False], MAX_PEOPLE)

# Distinct, friendly colours (linear RGB) for people; hands use a skin-tinted version.
PALETTE = np.array([
    [0.80, 0.22, 0.16], [0.10, 0.42, 0.80], [0.92, 0.60, 0.06], [0.20, 0.62, 0.28],
    [0.55, 0.24, 0.72], [0.05, 0.60, 0.62], [0.85, 0.30, 0.52], [0.45, 0.50, 0.12],
    [0.30, 0.30, 0.85], [0.75, 0.42, 0.20], [0.12, 0.50, 0.45], [0.62, 0.12, 0.30],
    [0.40, 0.62, 0.85], [0.80, 0.72, 0.30], [0.35, 0.22, 0.55], [0.60, 0.60, 0.62],
])

# Head geometry relative to the head pose (the point between the eyes), metres, head frame.
EYE_OFFSETS = np.array([[-0.031, 0.0, 0.002], [0.031, 0.0, 0.002]])
"""(2, 3) the eyes' centres (left, right) in the head frame, metres."""
EYE_RADIUS = 0.012
MOUTH_OFFSET = np.array([0.0, -0.0545, -0.03])


@dataclass
class People:
    """Everyone in the meeting, structure of arrays (N people).

    head_pos (N, 3) metres and head_rot (N, 4) quaternions: T_stage_head (the point between the
    eyes). gaze (N, 3) unit vectors, stage space. joints (N, 2, 26, 3) metres, stage space (hand 0
    left, 1 right). radii (N, 2, 26) metres. valid (N, 2, 26) bool. hand_alpha (N, 2) 0..1.
    color (N, 3) linear RGB. seat (N,) int. speaking (N,) 0..1 speech level. mouth_open (N,) 0..1.
    eyelid (N,) 0 open .. 1 closed. whisper_cue (N,) 0..1. contact (N, 2, 6) 0..1 table contact of
    the palm and five fingertips (presence.table.CONTACT_JOINTS). present (N,) bool: someone sits
    in that seat (None: every seat is taken); empty seats are neither drawn nor heard.
    verified (N,) int8, networked meetings only (None elsewhere: no marks): 1 the person's
    signed join checked out (their name tag shows "✓ name"), 0 not verified ("? name"), -1
    flagged: a name this user knew with another key ("✗ name", a red tag). See net/identity.py.
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
    notes: tuple = ()
    """Per person, a few words their name tag adds ("muted", "hand up"; "" for none; may be
    empty): what the room says about them (networked meetings)."""
    eyelid: np.ndarray | None = None
    whisper_cue: np.ndarray | None = None
    contact: np.ndarray | None = None
    present: np.ndarray | None = None
    verified: np.ndarray | None = None
    skin: np.ndarray | None = None
    """(N, 4) float32 linear RGB skin (faces and hands) + iris darkness (avatars.skin_tones;
    None: seeded from the meeting's seed). Replace the array to change it, don't edit in place."""
    hair: np.ndarray | None = None
    """(N, 4) float32 linear RGB hair (and brows) + opacity; None as for skin."""
    expressions: np.ndarray | None = None
    """(N, EXPRESSION_COUNT) float32 0..1 expression weights in core/expressions.py's order (None:
    neutral faces). The step fills a procedural baseline (see ``procedural_expressions``)."""

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
    mic_level: float | None = None
    """0..1 level of the local person's own microphone (their voice drives their jaw and the
    conversation: scripted speakers wait while they talk)."""
    remote: RemoteInput | None = None
    """People on other machines (a networked meeting), at this frame's display time."""
    face: np.ndarray | None = None
    """(EXPRESSION_COUNT,) float32 0..1: the local person's face tracker mapped onto
    core/expressions.py (platform FrameInput.face when valid, NaN in columns it cannot see;
    None: no face tracking)."""
    voice_mouth: np.ndarray | None = None
    """(N, 5) mouth weights per person from the voice as heard (core/visemes.py, VISEME_GROUPS
    order), sampled for this display time like voice_level; None: no viseme analysis."""


@dataclass
class RemoteInput:
    """People on other machines as their pose buffers say at this display time (N seats).

    present (N,) bool: a remote person sits there and their pose is known (other seats keep what
    the meeting says: scripted, local or empty). head_pos (N, 3) metres and head_rot (N, 4):
    T_stage_head. joints (N, 2, 26, 3) metres, stage space. hand_valid (N, 2) bool: that hand is
    tracked (an untracked hand fades out). level (N,) 0..1: their voice level (drives the jaw, the
    speaking indicator and who holds the floor). Rows of absent seats are ignored.
    verified (N,) int8 or None: who is verified (see ``People.verified``), for the name tags.
    gaze (N, 3) unit line of sight in each person's head frame (-Z ahead) and gaze_valid (N,) bool:
    from their eye tracker (rows not valid: infer the gaze). vergence_deg (N,): the angle between
    their two eyes' lines of sight. face (N, EXPRESSION_COUNT) float32 0..1 and face_valid (N,)
    bool: their face tracker's expression weights (rows not valid: voice and behaviour drive the face).
    """

    present: np.ndarray
    head_pos: np.ndarray
    head_rot: np.ndarray
    joints: np.ndarray
    hand_valid: np.ndarray
    level: np.ndarray
    verified: np.ndarray | None = None
    gaze: np.ndarray | None = None
    gaze_valid: np.ndarray | None = None
    vergence_deg: np.ndarray | None = None
    face: np.ndarray | None = None
    face_valid: np.ndarray | None = None

    @staticmethod
    def empty(n: int) -> "RemoteInput":
        """Nobody remote in a meeting of n seats (fill rows, then set present)."""
        return RemoteInput(present=np.zeros(n, bool), head_pos=np.zeros((n, 3)),
                           head_rot=np.tile([0.0, 0.0, 0.0, 1.0], (n, 1)),
                           joints=np.zeros((n, 2, H.JOINT_COUNT, 3)), hand_valid=np.zeros((n, 2), bool),
                           level=np.zeros(n), gaze=np.tile([0.0, 0.0, -1.0], (n, 1)),
                           gaze_valid=np.zeros(n, bool), vergence_deg=np.zeros(n),
                           face=E.neutral(n), face_valid=np.zeros(n, bool))


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
    face_behaviour: FaceBehaviour | None = None
    """Procedural face layer (brows on stresses, greeting smiles, resting movement), advanced in
    place by step (made on the first step)."""
    partner: int = -1
    torso: bool = True
    """Draw seated shoulders and chests (config [avatars] torso); False: heads and hands only."""
    derived: object = field(default=None, repr=False, compare=False)
    """Per-meeting constants step() derives from the seats, table, script and colours (a
    _Derived, rebuilt whenever one of those objects is replaced). Not part of the meeting."""


def table_geometry(table: Table) -> TableGeometry:
    """The table top as presence.table sees it (a rectangle; a round table's bounding square)."""
    half = [table.radius, table.radius] if table.shape == "round" else [table.width / 2, table.depth / 2]
    return TableGeometry(centre=[0.0, table.height, 0.0], normal=[0.0, 1.0, 0.0],
                         x_axis=[1.0, 0.0, 0.0], half_extents=half)


def make_meeting(n_people: int, table: Table | None = None, room: Room | None = None,
                 local: int = 0, seed: int = 0, names=None, t0_ns: int = 0,
                 scripted=None, present=None) -> MeetingState:
    """A meeting of n_people seated around the table; person k sits in seat k.

    The table grows (room.fit_table) if it is too small to seat everyone comfortably. t0_ns is
    the clock value at which the meeting starts (the first turn begins shortly after).
    scripted: (N,) bool, who follows the script (default: everyone but the local person); in a
    networked meeting nobody does (remote people come through ``LocalInput.remote``).
    present: (N,) bool, taken seats (default: all); see ``set_present``.
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
        present=None if present is None else np.asarray(present, bool).copy(),
        expressions=E.neutral(n),
    )
    people.skin, people.hair = skin_tones(n, seed)
    presence = new_presence(PresenceConfig(n=n, seed=seed, local_index=local, table=table_geometry(table),
                                           scripted=None if scripted is None else np.asarray(scripted, bool)),
                            t_ns=t0_ns)
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


EMPTY_SEAT_AWAY = np.array([0.0, -1000.0, 0.0])
"""Metres: where the (undrawn, silent) head of an empty seat is kept, out of everyone's reach."""

WHISPER_INVITE_M = InviteConfig.enter_m
"""Metres: when the local head comes this close to a scripted neighbour's seat, the neighbour
leans in too and whispers back (a side conversation, DESIGN.md's whisper rule); the invitation
ends beyond InviteConfig.exit_m, with a dwell (core/whisper.py)."""
LEAN_SHARE = 0.45
"""Share of the way from their seat to your head an invited neighbour leans."""


def _invitable(state: MeetingState) -> np.ndarray:
    """(N,) bool: who can be invited to whisper — scripted people in taken seats."""
    e = np.asarray(state.presence.cfg.scripted, bool)
    if state.people.present is not None:
        e = e & state.people.present
    return e


def whisper_pairs_now(state: MeetingState) -> np.ndarray:
    """(P, 2) int pairs whispering after the newest step (core/whisper.py's one decision): what
    the sound (audio.engine.whisper_gains_from_pairs) and the network follow."""
    if state.frame is not None:
        return np.asarray(state.frame.whisper_pairs, int).reshape(-1, 2)
    if state.partner >= 0 and state.local >= 0:
        return np.array([sorted((state.local, state.partner))], int)
    return np.zeros((0, 2), int)


def mouth_positions(people: People) -> np.ndarray:
    """(N, 3) stage positions of everyone's mouth, where their voice comes from."""
    return people.head_pos + P.quat_rotate(people.head_rot, MOUTH_OFFSET)


def set_present(state: MeetingState, present) -> None:
    """Mark which seats are taken ((N,) bool, or None for all): who joined or left a networked
    meeting. Empty seats are not drawn, not heard and never a whisper partner."""
    state.people.present = None if present is None else np.asarray(present, bool).copy()


def whisper_partner(state: MeetingState, local_head_pos) -> int:
    """The scripted neighbour a head at local_head_pos would invite (-1 for none), ignoring the
    invitation's hysteresis and dwell (a query; step() keeps the steady decision in
    ``state.partner``). Real people (local or remote) lean in by themselves."""
    k = state.local
    if local_head_pos is None or not 0 <= k < len(state.people):
        return -1
    d = np.linalg.norm(state.seat_pos - np.asarray(local_head_pos, float), axis=1)
    d[~np.asarray(state.presence.cfg.scripted, bool)] = np.inf
    if state.people.present is not None:
        d[~state.people.present] = np.inf
    d[k] = np.inf
    j = int(np.argmin(d))
    return j if d[j] < WHISPER_INVITE_M else -1


def speaking_now(state: MeetingState) -> np.ndarray:
    """(N,) bool: who talks after the newest step — the conversation's speakers (and listeners
    giving a vocal backchannel) plus a neighbour
    whispering back to a local person leaning toward them. The local person is never scripted."""
    n = len(state.people)
    out = np.zeros(n, bool) if state.frame is None else np.array(state.frame.speaking, bool)
    if state.frame is not None and state.frame.backchannel is not None:
        out |= state.frame.backchannel > 0.0            # a listener's "mm-hm" is heard too
    if state.partner >= 0:
        out[state.partner] = True
    if 0 <= state.local < n:
        out[state.local] = False
    return out


@dataclass
class _Derived:
    """What step() would otherwise recompute every frame from things that only change with the
    meeting: seat rotation matrices, the wrist model, hand colours and instance templates."""

    key: tuple                    # (seat_pos, seat_rot, script, table, color, names, skin, hair), by identity
    R_seat: np.ndarray            # (N, 3, 3)
    breath_phase: np.ndarray      # (N,)
    wrist: script.WristModel
    hand_rgba: np.ndarray         # (2N, 4) float32
    all_valid: np.ndarray         # (N, 2, 26) True, to copy
    skin: np.ndarray              # (N, 4) float32 skin rgb + iris darkness (avatars.skin_tones)
    hair: np.ndarray              # (N, 4) float32 hair rgb + opacity
    tags: dict                    # (hide, present, verified) -> frame_build.Seating (drawn heads, tags, colours)
    contact_joint: np.ndarray     # (N * 2 * 6,) flat joint index of each contact slot
    smile: np.ndarray             # (N,) each person's resting smile 0..1 (seeded)
    hip: np.ndarray               # (N, 3) where each person's hips sit in their chair
    body_colors: np.ndarray       # (N, 3, 4) float32 chest, shoulder and lap colours (avatars)
    body_template: np.ndarray | None = None  # (N, 3, 4, 4) float32 avatars.body_template (laps)
    glow: np.ndarray | None = None  # (4, 4) float32 frame_build.contact_glow of the table's height
    shell: dict | None = None      # room.room_shell of the table (shared by every frame)
    index: np.ndarray | None = None  # (N,) 0..N-1
    back_rest: np.ndarray | None = None  # (N, 3) the seat's share of each chest's facing (avatars.body_transforms)
    capsule_radii: tuple = ()     # (radii array, its hand_capsule_radii) for the newest radii seen
    capsule_rgba: np.ndarray | None = None  # (2N * CAPSULES_PER_HAND, 4) capsule colours, hands fully shown


def _derived(state: MeetingState) -> _Derived:
    key = (state.seat_pos, state.seat_rot, state.script, state.table, state.people.color, state.people.names,
           state.people.skin, state.people.hair)
    d = state.derived
    if d is not None:
        k = d.key
        if (k[0] is key[0] and k[1] is key[1] and k[2] is key[2] and k[3] is key[3] and k[4] is key[4]
                and k[5] is key[5] and k[6] is key[6] and k[7] is key[7]):
            return d
    n = len(state.seat_pos)
    hand_rgba = np.ones((2 * n, 4), np.float32)
    slot = np.arange(n * 2 * len(CONTACT_JOINTS))
    skin, hair = skin_tones(n, state.seed)
    if state.people.skin is not None:
        skin = np.asarray(state.people.skin, np.float32)
    if state.people.hair is not None:
        hair = np.asarray(state.people.hair, np.float32)
    hand_rgba[:, :3] = np.repeat(skin[:, :3], 2, axis=0)
    d = _Derived(key=key, R_seat=P.quat_to_matrix(state.seat_rot), breath_phase=np.arange(n, dtype=float),
                 wrist=script.WristModel.make(state.script, state.seat_pos, state.seat_rot, state.table.height,
                                             state.table),
                 hand_rgba=hand_rgba, all_valid=np.ones((n, 2, H.JOINT_COUNT), bool),
                 skin=skin, hair=hair, tags={},
                 contact_joint=(slot // len(CONTACT_JOINTS)) * H.JOINT_COUNT
                 + np.asarray(CONTACT_JOINTS)[slot % len(CONTACT_JOINTS)],
                 smile=np.random.default_rng([state.seed, 14]).uniform(0.08, 0.25, n),
                 hip=state.seat_pos + P.quat_to_matrix(state.seat_rot) @ HIP_IN_SEAT,
                 body_colors=body_colors(state.people.color))
    d.body_template = body_template(d.hip, d.R_seat[:, :, 2])
    d.glow = contact_glow(state.table.height)
    d.shell = room_shell(state.table)
    d.back_rest = (1.0 - SPINE_TURN_SHARE) * d.R_seat[:, :, 2]
    d.index = np.arange(n)
    state.derived = d
    return d


_NO_INPUT = LocalInput()
_JAW, _SMILE_L, _SMILE_R = E.INDEX["jaw_open"], E.INDEX["smile_left"], E.INDEX["smile_right"]
_LID_L, _LID_R = E.INDEX["lid_close_left"], E.INDEX["lid_close_right"]
_CHEEK_L, _CHEEK_R = E.INDEX["cheek_raise_left"], E.INDEX["cheek_raise_right"]


def procedural_expressions(pf: PresenceFrame, smile: np.ndarray) -> np.ndarray:
    """(N, EXPRESSION_COUNT) float32 weights from the presence frame (the baseline that the face
    layer, voice visemes and face tracking add to or replace): blinks close both lids, the jaw
    opens with the voice, and everyone keeps a slight resting smile (smile (N,) 0..1, per person)
    that relaxes while they talk. Brows: core/face_behaviour.py (on stressed syllables)."""
    n = len(smile)
    terms = np.empty((n, 3))
    terms[:, 0] = pf.eyelid
    terms[:, 1] = pf.jaw
    np.multiply(smile, 1.0 - 0.6 * np.asarray(pf.speaking), out=terms[:, 2])
    return (terms @ _PROCEDURAL).astype(np.float32)     # each weight is one term times 1 or 0.5


_PROCEDURAL = np.zeros((3, E.EXPRESSION_COUNT))
"""(lid, jaw, resting smile) -> expression weights (procedural_expressions)."""
_PROCEDURAL[0, [_LID_L, _LID_R]] = 1.0
_PROCEDURAL[1, _JAW] = 1.0
_PROCEDURAL[2, [_SMILE_L, _SMILE_R]] = 1.0
_PROCEDURAL[2, [_CHEEK_L, _CHEEK_R]] = 0.5


def step(state: MeetingState, inputs: LocalInput | None, t_ns: int):
    """Advance the meeting to display time t_ns and describe the frame.

    Returns (new_state, FrameScene). Scripted people follow the conversation (presence): the
    speaker gestures on stressed syllables, listeners rest their hands and look at the speaker,
    eyes saccade and blink, jaws follow the voice. The local person's head and hands come from
    ``inputs`` when tracked; their voice is their own.
    """
    t_s = t_ns * 1e-9
    ppl = state.people
    n = ppl.head_pos.shape[0]
    k = state.local
    der = _derived(state)
    inputs = inputs or _NO_INPUT
    head_pos = state.seat_pos.copy()
    head_pos[:, 1] += 0.008 * np.sin(0.4 * t_s + der.breath_phase)          # breathing
    base_rot = state.seat_rot.copy()
    R_base = der.R_seat
    local_tracked = 0 <= k < n and inputs.head_pos is not None and inputs.head_rot is not None
    if local_tracked:
        head_pos[k] = inputs.head_pos
        base_rot[k] = inputs.head_rot
        R_base = R_base.copy()
        R_base[k] = P.quat_to_matrix(base_rot[k])
    rm = _remote_mask(inputs.remote, n, k)
    if rm is not None:
        rem = inputs.remote
        head_pos[rm] = rem.head_pos[rm]
        base_rot[rm] = rem.head_rot[rm]
        if R_base is der.R_seat:
            R_base = R_base.copy()
        R_base[rm] = P.quat_to_matrix(base_rot[rm])
    if ppl.present is not None and not ppl.present.all():
        # Empty seats hold no head: put them far off, so nobody's gaze, whisper rule or voice
        # ever reaches for them (each apart from the others, so they never "whisper" either).
        away = ~ppl.present
        head_pos[away] = EMPTY_SEAT_AWAY + np.outer(np.flatnonzero(away), [10.0, 0.0, 0.0])
    partner, leaner, lean = invite_step(state.presence.whisper.invite, k, head_pos[k] if local_tracked else None,
                                        state.seat_pos, _invitable(state), t_s)
    if leaner >= 0:
        # The neighbour you lean toward leans in to meet you and turns to you, over lean_s.
        head_pos[leaner] = state.seat_pos[leaner] + (LEAN_SHARE * lean) * (head_pos[k] - state.seat_pos[leaner])
        y, p = P.yaw_pitch_toward(head_pos[k] - head_pos[leaner])
        base_rot[leaner] = P.quat_slerp(base_rot[leaner], P.quat_from_yaw_pitch_roll(y, p), lean)
        if R_base is der.R_seat:
            R_base = R_base.copy()
        R_base[leaner] = P.quat_to_matrix(base_rot[leaner])

    hand_tracked = None                                  # every hand tracked
    local_hands = 0 <= k < n and inputs.joints is not None
    if local_hands:
        v = np.ones((2, H.JOINT_COUNT), bool) if inputs.valid is None else np.asarray(inputs.valid, bool)
        hand_tracked = np.ones((n, 2), bool)
        hand_tracked[k] = v.any(axis=1)
    if ppl.present is not None or rm is not None:
        hand_tracked = np.ones((n, 2), bool) if hand_tracked is None else hand_tracked
        if rm is not None:
            hand_tracked[rm] = inputs.remote.hand_valid[rm]
        if ppl.present is not None:
            hand_tracked[~ppl.present] = False      # a newcomer's hands fade in
    voice = None
    has_mic = inputs.mic_level is not None and 0 <= k < n
    if inputs.voice_level is not None or has_mic or rm is not None:
        level = np.zeros(n) if inputs.voice_level is None else np.array(inputs.voice_level, float)
        period = 33_333_333 if state.t_ns is None else max(t_ns - state.t_ns, 1)
        valid = np.full(n, inputs.voice_level is not None)
        if rm is not None:
            valid[rm] = True
            level[rm] = inputs.remote.level[rm]
        if 0 <= k < n:
            valid[k] = has_mic
            level[k] = float(inputs.mic_level) if has_mic else 0.0
        voice = VoiceEnvelope(values=np.stack([level, level], axis=1), t0_ns=t_ns - period,
                              rate_hz=1e9 / period, valid=valid)
    pres, pf = presence_step(state.presence, head_pos, base_rot, t_ns,
                             local_eye_dir=inputs.eye_dir, hand_joints=ppl.joints if state.t_ns is not None else None,
                             hand_tracked=hand_tracked, voice=voice, head_matrices=R_base)
    head_rot = P.quat_mul(base_rot, pf.head_offset)
    if local_tracked:
        head_rot[k] = base_rot[k]
    gaze = pf.eye_dir
    if rm is not None and inputs.remote.gaze_valid is not None:
        gaze = remote_gaze(gaze, inputs.remote, head_rot)           # their eye trackers
    if leaner >= 0:
        # Whispering is intimate: the neighbour faces you and holds your eyes (as far as leaned).
        head_rot[leaner] = P.quat_slerp(head_rot[leaner], base_rot[leaner], lean)
        gaze = gaze.copy()
        to_you = head_pos[k] - head_pos[leaner]
        g = (1.0 - lean) * gaze[leaner] + lean * to_you / np.linalg.norm(to_you)
        gaze[leaner] = g / np.linalg.norm(g)

    # Hands: gesture weights and lift from presence, placed by the script's wrist model.
    raised = np.minimum(np.maximum(pf.hand_lift, 0.0), 1.0)
    wrist = script.wrist_transforms(der.wrist, raised, t_s)             # (N, 2, 4, 3), mirrors left hands
    local_joints = H.blend_poses(pf.gesture_weights.reshape(2 * n, -1), homogeneous=True)
    joints = np.matmul(local_joints.reshape(n, 2, H.JOINT_COUNT, 4), wrist)  # (N, 2, 26, 3) stage
    radii = ppl.radii
    # Curled resting hands would sink into the table: lift each hand until it rests on the top.
    lowest = _MIN(joints[..., 1] - radii, axis=-1)                          # (N, 2)
    joints[..., 1] += np.maximum(0.0, state.table.height + 0.002 - lowest)[..., None]
    valid = der.all_valid.copy()
    if rm is not None:
        joints[rm] = inputs.remote.joints[rm]
    if local_hands:
        joints[k] = inputs.joints
        valid[k] = v
        if inputs.radii is not None:
            radii = radii.copy()
            radii[k] = inputs.radii

    # Faces: behaviour (blinks, jaw, resting smile, brows on stresses, greetings, micro-movement),
    # then the voice's mouth shapes and face trackers over it (core/face_sources.py).
    fb = state.face_behaviour
    if fb is None or fb.n != n:
        fb = FaceBehaviour(n, state.seed)
    expr = apply_layer(procedural_expressions(pf, der.smile),
                       fb.step(t_s, pf.speech_level, pf.beat, ppl.present, pf.question, pf.laugh))
    if inputs.face is not None or inputs.voice_mouth is not None or rm is not None:
        expr, _ = combine_expressions(expr, local=k, local_face=inputs.face,
                                      remote=inputs.remote if rm is not None else None,
                                      mouth=inputs.voice_mouth)
    people = People(head_pos=head_pos, head_rot=head_rot, gaze=gaze, joints=joints, radii=radii,
                    valid=valid, hand_alpha=pf.hand_alpha.copy(), color=ppl.color, seat=ppl.seat,
                    speaking=np.asarray(pf.speech_level, float), mouth_open=np.asarray(pf.jaw, float),
                    names=ppl.names, notes=ppl.notes, eyelid=pf.eyelid, whisper_cue=pf.whisper_cue,
                    contact=pf.contact_intensity, present=ppl.present,
                    verified=_verified(inputs.remote, ppl.verified, n), skin=ppl.skin, hair=ppl.hair,
                    expressions=expr)
    new_state = MeetingState(table=state.table, room=state.room, people=people, seat_pos=state.seat_pos,
                             seat_yaw=state.seat_yaw, static_meshes=state.static_meshes, script=state.script,
                             seat_rot=state.seat_rot, presence=pres, local=state.local, seed=state.seed,
                             t_ns=t_ns, draw_local_head=state.draw_local_head, frame=pf, partner=partner,
                             torso=state.torso, face_behaviour=fb, derived=der)
    return new_state, frame_scene(new_state, der, P.quat_to_matrix(head_rot))


def _verified(remote: RemoteInput | None, before: np.ndarray | None, n: int) -> np.ndarray | None:
    """The verified flags of this frame: the network's when it says, else as they were."""
    if remote is None or remote.verified is None:
        return before
    v = np.asarray(remote.verified, np.int8)
    if v.shape != (n,):
        raise ValueError(f"verified flags are for {v.shape[0]} seats, the meeting has {n}")
    return v if before is not None and np.array_equal(v, before) else v.copy()


def _remote_mask(remote: RemoteInput | None, n: int, local: int):
    """(N,) bool seats driven by the network this frame (never the local seat), or None."""
    if remote is None:
        return None
    rm = np.asarray(remote.present, bool).copy()
    if rm.shape != (n,):
        raise ValueError(f"remote input is for {rm.shape[0]} seats, the meeting has {n}")
    if 0 <= local < n:
        rm[local] = False
    return rm if rm.any() else None


_MIN = np.minimum.reduce


def build_frame_scene(state: MeetingState) -> FrameScene:
    """The FrameScene for the current state: room, table, heads, cues and every visible hand."""
    return frame_scene(state, _derived(state), P.quat_to_matrix(state.people.head_rot))
