"""One call per frame for every presence behaviour: who speaks, where eyes look, blinks, jaws,
hand gestures, whisper pairs and table contacts. Pure numpy, time passed in, seeded.

Entry point for ``scene.step``::

    state = new_presence(PresenceConfig(n=6, seed=1, local_index=0), t_ns=t0)
    state, pf = presence_step(state, head_positions, head_orientations, t_ns,
                              local_eye_dir=None, hand_joints=None, hand_tracked=None, voice=None)

Inputs (N people, stage space, metres):
- head_positions (N, 3): eye centres (the head position is fine).
- head_orientations (N, 4) x,y,z,w: the *base* head orientation. For scripted people the seat's
  facing orientation (the scene applies ``pf.head_offset`` on top: q_head = q_base * q_offset); for
  the local user and tracked remote people, their tracked head (their head_offset stays identity).
- t_ns: predicted display time (int ns). Internally seconds since the state's epoch.
- local_eye_dir: optional (3,) unit world gaze of the local user's eye tracker
  (XR_EXT_eye_gaze_interaction); without it eye contact is inferred from head pose.
- hand_joints: optional (N, 2, 26, 3) XR_EXT_hand_tracking joints (hand 0 left, 1 right). For
  scripted people pass last frame's synthesised joints (from this module's gesture weights).
- hand_tracked: optional (N, 2) bool (default all True); drives the fade alphas.
- voice: optional :class:`~xrdemo.core.lips.VoiceEnvelope` — real audio energy on the audio clock;
  where valid it replaces the scripted energy (and drives speaking for non-scripted people).

Outputs (:class:`PresenceFrame`): speaking (N,) bool, speech_level (N,) 0..1, floor (int, -1 none),
eye_dir (N, 3) world unit, eye_in_head (N, 2) yaw/pitch rad, gaze_target (N,) int (-1 none),
eyelid (N,) 0 open..1 closed, head_offset (N, 4), jaw (N,) 0..1, lip_sync_offset_ms (float, NaN when
scripted only), gesture_weights (N, 2, 8) over gestures.POSE_NAMES, hand_lift (N, 2),
point_dir (N, 2, 3), hand_alpha (N, 2), whisper_pairs (P, 2) int, whisper_cue (N,) 0..1,
contact_intensity (N, 2, 6) for table.CONTACT_JOINTS, contact_down (E, 3) int (person, hand, joint
slot), haptic (N, 2) 0..1, beat (N,) 0..1 the stressed-syllable pulse (brows lift on it),
backchannel (N,) 0..1 a listener's "mm-hm" level (in speech_level too; it does not take the floor),
question (N,) 0..1 brow raise of a question, laugh (N,) 0..1 laughing (these three None while
nobody does it). A listener's nod is already in
head_offset (a pitch dip after the gaze's turn). ``state.conversation.schedule()`` lists the current
and upcoming scripted turns for the audio layer.

The state is updated in place and returned (so the call reads like ``step``); outputs are fresh
arrays or read-only views of state that stay valid until the next call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .conversation import ConversationState, conversation_step, new_conversation
from .gaze import GazeState, gaze_step, new_gaze
from .gestures import GestureState, gestures_step, hand_fade_step, new_gestures
from .lips import VoiceEnvelope, jaw_from_energy, sample_envelope
from .pose import quat_from_yaw_pitch_roll, quat_mul, quat_to_matrix
from .table import CONTACT_JOINTS, ContactConfig, TableGeometry, contact_step
from .whisper import WhisperState, new_whisper, whisper_step


@dataclass
class PresenceConfig:
    """Who is who at the table."""

    n: int                              # people, 1..64
    seed: int = 0                       # every random choice derives from this
    local_index: int = -1               # the local user (-1: none, e.g. a recording of scripted people)
    scripted: np.ndarray | None = None  # (N,) bool; default: everyone but the local user
    table: TableGeometry | None = None  # for contacts; None disables them


@dataclass
class PresenceState:
    cfg: PresenceConfig
    conversation: ConversationState
    gaze: GazeState
    gestures: GestureState
    whisper: WhisperState
    contact: np.ndarray      # (N*2, 6) bool
    hand_alpha: np.ndarray   # (N, 2)
    jaw: np.ndarray          # (N,)
    epoch_ns: int
    last_t: float = math.nan
    alpha_full: bool = False  # every hand_alpha is 1 after a step in which every hand was tracked


@dataclass
class PresenceFrame:
    speaking: np.ndarray
    speech_level: np.ndarray
    floor: int
    eye_dir: np.ndarray
    eye_in_head: np.ndarray
    gaze_target: np.ndarray
    eyelid: np.ndarray
    head_offset: np.ndarray
    jaw: np.ndarray
    lip_sync_offset_ms: float
    gesture_weights: np.ndarray
    hand_lift: np.ndarray
    point_dir: np.ndarray
    hand_alpha: np.ndarray
    whisper_pairs: np.ndarray
    whisper_cue: np.ndarray
    contact_intensity: np.ndarray
    contact_down: np.ndarray
    haptic: np.ndarray
    beat: np.ndarray | None = None   # (N,) 0..1 stressed-syllable pulse of scripted speech
    backchannel: np.ndarray | None = None  # (N,) 0..1 vocal backchannel ("mm-hm") level; None: nobody
    question: np.ndarray | None = None  # (N,) 0..1 brow raise at a question's end and the wait; None: none
    laugh: np.ndarray | None = None     # (N,) 0..1 laughing; None: nobody


def new_presence(cfg: PresenceConfig, t_ns: int = 0, record_gaze: bool = False) -> PresenceState:
    """Fresh state at time ``t_ns``. The same cfg (seed) and the same inputs give the same frames."""
    n = cfg.n
    if not 1 <= n <= 256:
        raise ValueError(f"presence supports 1..256 people, got {n}")
    if cfg.scripted is None:
        scripted = np.ones(n, bool)
        if 0 <= cfg.local_index < n:
            scripted[cfg.local_index] = False
        cfg.scripted = scripted
    scripted = np.asarray(cfg.scripted, bool)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(3)]
    return PresenceState(
        cfg=cfg,
        conversation=new_conversation(n, rngs[0], scripted=scripted),
        gaze=new_gaze(n, rngs[1], head_driven=~scripted, record=record_gaze),
        gestures=new_gestures(n, rngs[2]),
        whisper=new_whisper(n),
        contact=np.zeros((2 * n, len(CONTACT_JOINTS)), bool),
        hand_alpha=np.ones((n, 2)),
        jaw=np.zeros(n),
        epoch_ns=int(t_ns),
    )


def presence_step(state: PresenceState, head_positions: np.ndarray, head_orientations: np.ndarray,
                  t_ns: int, *, local_eye_dir=None, hand_joints=None, hand_tracked=None,
                  voice: VoiceEnvelope | None = None, head_matrices=None):
    """Advance every presence behaviour to display time ``t_ns``. -> (state, PresenceFrame).

    head_matrices: optional (N, 3, 3) rotation matrices of head_orientations, when the caller
    has them already (they are not rebuilt then).
    """
    cfg = state.cfg
    n = cfg.n
    t = (int(t_ns) - state.epoch_ns) * 1e-9
    dt = 0.0 if math.isnan(state.last_t) else max(t - state.last_t, 0.0)
    state.last_t = t
    head_pos = np.asarray(head_positions, float)
    R = quat_to_matrix(head_orientations) if head_matrices is None else head_matrices

    voice_energy = None
    sync_ms = math.nan
    if voice is not None:
        ls = sample_envelope(voice, int(t_ns))
        voice_energy = np.where(voice.valid, ls.energy, np.nan)
        sync_ms = ls.offset_ms
    conv = conversation_step(state.conversation, t, voice_energy)
    cs = state.conversation
    gz = gaze_step(state.gaze, t, head_pos, R, conv.speaking, conv.floor, conv.floor_changed,
                   cfg.local_index, local_eye_dir, turn_end=cs.turn_end,
                   next_speaker=cs.queue[0].speaker if cs.queue else -1, nod=conv.nod)
    state.jaw = jaw_from_energy(conv.energy, state.jaw, dt)
    forward = -R[:, :, 2]
    gs = gestures_step(state.gestures, t, conv.speaking, conv.energy, conv.beat, conv.floor,
                       conv.floor_changed, head_pos, forward, cfg.scripted)
    tracked = None if hand_tracked is None else np.asarray(hand_tracked, bool)
    if tracked is not None or not state.alpha_full:
        if tracked is None:
            tracked = np.ones((n, 2), bool)
        # (With every hand tracked and fully shown, the fade leaves every alpha at 1.)
        state.hand_alpha = hand_fade_step(state.hand_alpha, tracked, dt)
        state.alpha_full = hand_tracked is None and bool((state.hand_alpha == 1.0).all())
    pairs, cue = whisper_step(state.whisper, head_pos, t)

    if hand_joints is not None and cfg.table is not None:
        j = np.asarray(hand_joints, float).take(_CONTACT_INDEX, axis=2).reshape(2 * n, len(CONTACT_JOINTS), 3)
        valid = None                                   # every hand tracked and fully shown
        if hand_tracked is not None or not state.alpha_full:
            valid = (state.hand_alpha > 0.0).reshape(2 * n)
            if hand_tracked is not None:
                valid &= tracked.reshape(2 * n)
        cf = contact_step(state.contact, j, valid, cfg.table, _CONTACT_CFG)
        state.contact = cf.contact
        intensity = cf.intensity.reshape(n, 2, -1)
        down = np.stack([cf.down[:, 0] // 2, cf.down[:, 0] % 2, cf.down[:, 1]], axis=1) if len(
            cf.down) else _NO_DOWN
        haptic = cf.haptic.reshape(n, 2)
    else:
        intensity = np.zeros((n, 2, len(CONTACT_JOINTS)))
        down = _NO_DOWN
        haptic = np.zeros((n, 2))

    head_offset = gz.head_offset
    if conv.nod is not None:
        # A listener's nod: a pitch dip composed after the gaze's head turn (q_gaze * q_nod).
        head_offset = quat_mul(head_offset, quat_from_yaw_pitch_roll(0.0, conv.nod))

    return state, PresenceFrame(
        speaking=conv.speaking, speech_level=conv.energy, floor=conv.floor, beat=conv.beat,
        backchannel=conv.backchannel, question=conv.question, laugh=conv.laugh,
        eye_dir=gz.eye_dir, eye_in_head=gz.eye_in_head, gaze_target=gz.target, eyelid=gz.eyelid,
        head_offset=head_offset, jaw=state.jaw, lip_sync_offset_ms=sync_ms,
        gesture_weights=gs.weights, hand_lift=gs.lift, point_dir=gs.point_dir,
        hand_alpha=state.hand_alpha, whisper_pairs=pairs, whisper_cue=cue,
        contact_intensity=intensity, contact_down=down, haptic=haptic,
    )


_CONTACT_CFG = ContactConfig()
_NO_DOWN = np.zeros((0, 3), int)
_NO_DOWN.flags.writeable = False
_CONTACT_INDEX = np.asarray(CONTACT_JOINTS)
