"""The FrameScene of a meeting's state: faces, bodies, hands as capsules, contact shadows and name
tags, built for ``scene.step`` (and ``scene.build_frame_scene``) from the state's People and the
per-meeting constants (``scene._Derived``). Pure numpy.

At 16 people this is a few dozen numpy calls on small arrays, so the cost is per call, not per
person: what only changes with who sits where (drawn heads, tag texts and colours, body colours,
skin and hair rows) is cached per seating in ``der.tags``; arrays that never change within a
meeting (skin and hair rows, capsule radii and colours of fully shown hands, the light, the
clear colour, the room shell counts) are shared between frames and read-only. See
docs/performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import expressions as E
from . import hands as H
from .avatars import BODY_SPHERES, body_transforms, eye_gaze
from .frame import Capsules, FaceInstances, FrameScene, Labels, MeshInstances, CLEAR_COLOR, LIGHT_DIR
from .table import CONTACT_JOINTS

CONTACT_SHADOW_RGB = (0.12, 0.07, 0.04)
"""Linear colour of the soft spot a touching fingertip leaves on the (wooden) table."""
NAME_TAG_HEIGHT = 0.20
"""Metres above the head pose of the centre of each person's name tag."""
WHISPER_TAG = "whispering"
"""The small second tag under the name of someone whispering (with their lean, the cue)."""
WHISPER_TAG_RGB = (0.20, 0.22, 0.30)
TAG_MAX_LINEAR = 0.42
"""Brightest a lit tag's background gets (linear; ~0.68 sRGB), so its white name still reads."""
VERIFIED_MARK, UNVERIFIED_MARK, FLAGGED_MARK = "\u2713", "?", "\u2717"
"""Name tag prefixes (✓, ?, ✗) by People.verified (1, 0, -1); render/labels.py draws ✓ and ✗."""
FLAGGED_TAG_RGB = (0.55, 0.06, 0.04)
"""Linear colour of a flagged person's tag (their name came with another key)."""

_ONES3 = np.ones(3)
_MAX = np.maximum.reduce
_GLOW_SCALE = np.diag([0.012, 0.0008, 0.012, 1.0]).astype(np.float32)
_GLOW_RGB = np.array(CONTACT_SHADOW_RGB, np.float32)
_NAME_TAG_OFFSET = np.array([0.0, NAME_TAG_HEIGHT, 0.0])
_LAST_ROW = np.array([0.0, 0.0, 0.0, 1.0], np.float32)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def tag_text(name: str, verified: int | None) -> str:
    """A name tag's text: the name, after a mark when the meeting knows who is verified."""
    if verified is None:
        return name
    mark = VERIFIED_MARK if verified > 0 else FLAGGED_MARK if verified < 0 else UNVERIFIED_MARK
    return f"{mark} {name}"


def drawn_heads(people, hide: int) -> np.ndarray:
    """(N,) bool: whose head is drawn — present people, except the hidden viewer."""
    drawn = np.arange(len(people)) != hide
    return drawn if people.present is None else drawn & people.present


def name_tags(people, hide: int):
    """(shown people (M,), their tag texts (M,), tag colours (M, 4) float32) for the drawn heads."""
    shown = np.flatnonzero(drawn_heads(people, hide))
    tag_color = np.concatenate([np.minimum(people.color[shown] * 0.42, 0.22), np.full((len(shown), 1), 0.88)], axis=1)
    v = people.verified
    if v is None:
        return shown, tuple(people.names[i] for i in shown), tag_color.astype(np.float32)
    flagged = v[shown] < 0
    tag_color[flagged, :3] = FLAGGED_TAG_RGB
    return shown, tuple(tag_text(people.names[i], int(v[i])) for i in shown), tag_color.astype(np.float32)


@dataclass(frozen=True)
class Seating:
    """What the frame draws that changes only with who is drawn (cached per seating in der.tags).

    keep: the drawn heads (a slice when everyone is, else (M,) indices); shown, texts, tag_color
    (M, 4) float32: name_tags; tag_slope (M, 3) float32: how a tag lights up with the voice;
    body_colors (3M, 4), skin and hair (M, 4) float32, read-only. sphere_m (3M + S, 4, 4) and
    sphere_c (3M + S, 4) float32, read-only: the frame's sphere instances to copy the first of,
    the bodies' colours and then S = 12N contact shadows (their glow transform, colour and alpha 0).
    """

    keep: object
    shown: np.ndarray
    texts: tuple
    tag_color: np.ndarray
    tag_slope: np.ndarray
    body_colors: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    sphere_m: np.ndarray
    sphere_c: np.ndarray


def seating(people, hide: int, der) -> Seating:
    """The cached Seating of the people drawn when `hide` is the hidden viewer (-1: none)."""
    key = hide if people.present is None else (hide, people.present.tobytes())
    if people.verified is not None:
        key = (key, people.verified.tobytes())
    s = der.tags.get(key)
    if s is None:
        drawn = drawn_heads(people, hide)
        shown, texts, tag_color = name_tags(people, hide)
        keep = slice(None) if drawn.all() else np.flatnonzero(drawn)
        body_colors = der.body_colors[keep].reshape(-1, 4)
        b, slots = len(body_colors), len(der.contact_joint)
        sphere_m = np.zeros((b + slots, 4, 4), np.float32)
        sphere_m[b:] = der.glow
        sphere_c = np.zeros((b + slots, 4), np.float32)
        sphere_c[:b] = body_colors
        sphere_c[b:, :3] = _GLOW_RGB
        s = der.tags[key] = Seating(
            keep=keep, shown=shown, texts=texts, tag_color=tag_color,
            tag_slope=1.2 * tag_color[:, :3] + np.float32(0.05), body_colors=_read_only(body_colors),
            skin=_read_only(np.array(der.skin[keep])), hair=_read_only(np.array(der.hair[keep])),
            sphere_m=_read_only(sphere_m), sphere_c=_read_only(sphere_c))
    return s


def contact_spots(people, contact_joint: np.ndarray | None = None):
    """(flat joint index (E,), intensity (E,)) of every palm or fingertip touching the table."""
    if people.contact is None:
        return np.zeros(0, np.intp), np.zeros(0)
    contact = np.asarray(people.contact, float)
    if people.present is not None:
        contact = contact * people.present[:, None, None]
    contact = contact.reshape(-1)
    idx = (contact > 0.05).nonzero()[0]
    if contact_joint is None:
        joint = (idx // len(CONTACT_JOINTS)) * H.JOINT_COUNT + np.asarray(CONTACT_JOINTS)[idx % len(CONTACT_JOINTS)]
    else:
        joint = contact_joint.take(idx)
    return joint, contact.take(idx)


def contact_glow(table_height: float) -> np.ndarray:
    """(4, 4) float32: a contact shadow's transform but for its x and z."""
    glow = _GLOW_SCALE.copy()
    glow[1, 3] = table_height + 0.0009
    return glow


def fill_contact_shadows(mat, colors, people, joint, intensity, table_height: float, glow=None) -> None:
    """Soft dark spots on the table under touching joints into mat (E, 4, 4) and colors (E, 4).
    glow: contact_glow(table_height) when the caller keeps it."""
    if not len(joint):
        return
    mat[:] = contact_glow(table_height) if glow is None else glow
    mat[:, 0:3:2, 3] = people.joints.reshape(-1, 3).take(joint, axis=0)[:, 0::2]   # x and z under the joint
    colors[:, :3] = _GLOW_RGB
    np.multiply(intensity, 0.6, out=colors[:, 3])


_CAPSULE_ENDS: dict = {}


def _capsule_ends(k: int) -> np.ndarray:
    """(2, K * CAPSULES_PER_HAND) flat joint indices of every capsule's ends (a, then b) of K hands."""
    e = _CAPSULE_ENDS.get(k)
    if e is None:
        base = (np.arange(k) * H.JOINT_COUNT)[:, None]
        e = _CAPSULE_ENDS[k] = np.stack([(base + H.CAPSULE_JOINTS[:, 0]).reshape(-1),
                                         (base + H.CAPSULE_JOINTS[:, 1]).reshape(-1)])
    return e


def _hand_capsules(ppl, der, alpha: np.ndarray) -> Capsules:
    """Every hand as capsules (hands.hand_capsules), taking both ends of every capsule at once
    while every hand is fully shown and every joint valid (radii and colours are shared then)."""
    n = len(ppl)
    if not der.capsule_radii or der.capsule_radii[0] is not ppl.radii:   # radii rarely change
        der.capsule_radii = (ppl.radii, _read_only(H.hand_capsule_radii(ppl.radii.reshape(2 * n, H.JOINT_COUNT))))
    if np.count_nonzero(alpha == 1.0) == alpha.size and np.count_nonzero(ppl.valid) == ppl.valid.size:
        if der.capsule_rgba is None:
            der.capsule_rgba = _read_only(der.hand_rgba.repeat(H.CAPSULES_PER_HAND, axis=0))
        ends = ppl.joints.reshape(-1, 3).astype(np.float32).take(_capsule_ends(2 * n), axis=0)
        return Capsules(ends[0], ends[1], der.capsule_radii[1], der.capsule_rgba)
    return H.hand_capsules(ppl.joints.reshape(2 * n, H.JOINT_COUNT, 3), ppl.radii.reshape(2 * n, H.JOINT_COUNT),
                           ppl.valid.reshape(2 * n, H.JOINT_COUNT), der.hand_rgba, alpha.reshape(-1),
                           capsule_radii=der.capsule_radii[1])


def frame_scene(state, der, R_head: np.ndarray) -> FrameScene:
    """The FrameScene of a MeetingState, with its per-meeting constants der (scene._Derived) and
    the head rotation matrices R_head (N, 3, 3)."""
    ppl = state.people
    n = len(ppl)
    seats = seating(ppl, -1 if state.draw_local_head else state.local, der)
    keep, shown = seats.keep, seats.shown
    every = isinstance(keep, slice)
    # Faces: eyes converge on what each person looks at (0: nobody in particular).
    if state.frame is not None:
        tgt = np.asarray(state.frame.gaze_target)
        d = ppl.head_pos.take(np.where(tgt >= 0, tgt, der.index), axis=0)
        d -= ppl.head_pos
        d *= d
        target_d = np.sqrt(d @ _ONES3)
    else:
        target_d = np.zeros(n)
    # Per head one float32 row: its transform (16), eye row (4) and name tag position (3), so
    # the drawn heads are one take; the frame's arrays are views of it.
    rows = np.empty((n, 23), np.float32)
    rows[:, 12:16] = _LAST_ROW
    rows[:, :12].reshape(n, 3, 4)[:, :, :3] = R_head
    rows[:, 3:12:4] = ppl.head_pos
    eye_gaze(R_head, ppl.gaze, target_d, out=rows[:, 16:20])
    np.add(ppl.head_pos, _NAME_TAG_OFFSET, out=rows[:, 20:23])
    expr = ppl.expressions if ppl.expressions is not None else E.neutral(n)
    expr = np.asarray(expr, np.float32)
    if not every:
        rows, expr = rows.take(keep, axis=0), expr.take(keep, axis=0)
    faces = FaceInstances(rows[:, :16].reshape(-1, 4, 4), seats.skin, seats.hair, rows[:, 16:20], expr)
    # Bodies seated in their chairs (unless the meeting draws heads and hands only), then the
    # contact shadows, in one sphere array.
    joint, intensity = contact_spots(ppl, der.contact_joint)
    end = len(seats.body_colors) + len(joint)
    b = len(seats.body_colors) if state.torso else 0
    sph_m = seats.sphere_m[end - b - len(joint):end].copy()        # bodies (unless no torso), shadows
    sph_c = seats.sphere_c[end - b - len(joint):end].copy()
    if b:
        into = sph_m[:b].reshape(-1, BODY_SPHERES, 4, 4)
        if every:
            body_transforms(der.hip, None, ppl.head_pos, R_head, back_rest=der.back_rest,
                            template=der.body_template, out=into)
        else:
            np.take(body_transforms(der.hip, None, ppl.head_pos, R_head, back_rest=der.back_rest,
                                    template=der.body_template), keep, axis=0, out=into, mode="clip")
    if len(joint):                     # the shadows' x and z under their joints, alpha by intensity
        sph_m[b:, 0:3:2, 3] = ppl.joints.reshape(-1, 3).take(joint, axis=0)[:, 0::2]
        np.multiply(intensity, 0.6, out=sph_c[b:, 3])
    meshes = dict(state.static_meshes)
    meshes["sphere"] = MeshInstances(sph_m, sph_c)

    alpha = ppl.hand_alpha if ppl.present is None else ppl.hand_alpha * ppl.present[:, None]
    caps = _hand_capsules(ppl, der, alpha)
    # A speaker's tag lights up with their voice (and their mouth moves): who is talking reads at
    # a glance. The tag stays dark enough for its white text to read.
    colors = seats.tag_color.copy()
    level = np.asarray(ppl.speaking)
    if state.frame is not None:        # hold the light through the gaps between syllables
        level = np.maximum(level, 0.7 * np.asarray(state.frame.speaking))
    # rgb (1 + 1.2 level) + 0.05 level = rgb + level (1.2 rgb + 0.05), capped
    lit = np.multiply(seats.tag_slope, level.take(shown)[:, None], dtype=np.float32)
    lit += colors[:, :3]
    np.minimum(lit, TAG_MAX_LINEAR, out=colors[:, :3])
    texts = seats.texts
    cue = ppl.whisper_cue
    if cue is not None and len(cue) and _MAX(cue) > 0.5 and (np.asarray(cue)[shown] > 0.5).any():
        # Whisperers' tags say so (with their lean, that is the whole cue).
        wh = np.asarray(cue)[shown] > 0.5
        texts = tuple(f"{t} \u00b7 {WHISPER_TAG}" if w else t for t, w in zip(texts, wh))
        colors[wh, :3] = 0.5 * colors[wh, :3] + 0.5 * np.asarray(WHISPER_TAG_RGB, np.float32)
    if any(ppl.notes):
        texts = tuple(f"{t} \u00b7 {ppl.notes[i]}" if i < len(ppl.notes) and ppl.notes[i] else t
                      for t, i in zip(texts, shown))
    return FrameScene(capsules=caps, meshes=meshes, labels=Labels(rows[:, 20:23], texts, colors), faces=faces,
                      light_dir=LIGHT_DIR, clear_color=CLEAR_COLOR,
                      stats={"people": n, "hand_capsules": len(caps), "faces": len(faces)}, shell=der.shell)
