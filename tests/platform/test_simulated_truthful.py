"""The simulated runtime as unkind as a headset (issue 13 item 5): a stage that is no seat, recentring,
tracking loss, hands and controllers swapping, derived frames, and passthrough that shows a
(synthetic) real room wherever nothing virtual is drawn."""

import dataclasses

import numpy as np
import pytest

from xrdemo.core import pose as P
from xrdemo.core.frame import View
from xrdemo.platform.base import EventKind
from xrdemo.platform.simulated import SimulatedPlatform
from xrdemo.platform.simulated_camera import CAMERA_COLORS, camera_image
from xrdemo.testing.fake_xr import run_frames as run
from xrdemo.platform.timeline import (
    NS, ScriptEvent, Timeline, default_controllers, seated_off_origin_head, stand_turn_recenter_timeline,
)


def test_reference_space_is_room_by_default_and_stage_on_request():
    assert SimulatedPlatform().capabilities.reference_space == "room"
    p = SimulatedPlatform(Timeline(head=seated_off_origin_head()), reference_space="stage")
    assert p.capabilities.reference_space == "stage"
    f = run(p, 2)[-1]
    assert np.linalg.norm(f.head.position[[0, 2]]) > 1.0        # the stage origin is no seat
    with pytest.raises(ValueError, match="reference_space"):
        SimulatedPlatform(reference_space="floor")


def test_stage_recentre_moves_the_origin_under_the_wearer():
    tl = stand_turn_recenter_timeline(NS)
    p = SimulatedPlatform(tl, start_ns=NS, reference_space="stage", view_count=2)
    frames = run(p, int(4.5 * 72))
    recentres = [(f, e) for f in frames for e in f.events if e.kind == EventKind.RECENTER]
    assert len(recentres) == 1
    f_re, e = recentres[0]
    head_p, _ = tl.head(e.detail["change_time_ns"])
    np.testing.assert_allclose(e.detail["position"], [head_p[0], 0.0, head_p[2]], atol=1e-9)
    after = frames[-1]
    np.testing.assert_allclose(after.head.position[[0, 2]], 0.0, atol=1e-9)
    assert abs(float(P.yaw_of(after.head.orientation))) < 1e-9
    centre = 0.5 * (after.views[0].position + after.views[1].position)
    np.testing.assert_allclose(centre, after.head.position, atol=1e-9)   # views moved with the head
    # in "room" the same script moves nothing: poses are the room's already
    room = run(SimulatedPlatform(stand_turn_recenter_timeline(NS), start_ns=NS), int(4.5 * 72))
    assert not any(e.kind == EventKind.RECENTER for f in room for e in f.events)
    assert abs(room[-1].head.position[0] - head_p[0]) < 1e-9


def test_tracking_loss_makes_views_invalid_and_nothing_is_drawn():
    tl = Timeline(events=[ScriptEvent(NS + NS // 10, "tracking_lost"), ScriptEvent(NS + NS // 5, "tracking_found")])
    drawn = []
    p = SimulatedPlatform(tl, start_ns=NS, framebuffer_for=lambda i, s: 0)
    frames = run(p, 30, draw=lambda *a: drawn.append(a[0]))
    lost = [f for f in frames if not f.views_valid]
    assert lost and all(not f.should_render and not f.head.valid for f in lost)
    assert len(drawn) == 2 * (len(frames) - len(lost))
    assert frames[-1].views_valid and frames[-1].should_render


def test_hands_and_controllers_swap_with_profile_events():
    tl = Timeline(controllers=default_controllers, hands_need_free_hands=True,
                  events=[ScriptEvent(NS + NS // 10, "controllers_off"), ScriptEvent(NS + NS // 4, "controllers_on")])
    frames = run(SimulatedPlatform(tl, start_ns=NS), 30)
    profiles = [e.detail["left"] for f in frames for e in f.events if e.kind == EventKind.INTERACTION_PROFILE]
    assert profiles == ["", "/interaction_profiles/oculus/touch_controller"]
    assert frames[0].controllers.active.all() and not frames[0].hands.active.any()
    middle = [f for f in frames if NS + NS // 10 < f.predicted_display_time_ns <= NS + NS // 4]
    assert middle and all(f.hands.valid.all() and not f.controllers.active.any() for f in middle)
    assert frames[-1].controllers.active.all() and not frames[-1].hands.active.any()


def test_a_derived_frame_is_accepted_and_draw_gets_the_platforms_views():
    seen = []
    p = SimulatedPlatform(framebuffer_for=lambda i, s: 7)
    for _ in range(3):
        f = p.begin_frame()
        moved = dataclasses.replace(f, views=[View(v.position + 5.0, v.orientation, v.fov) for v in f.views])
        p.end_frame(moved, lambda i, view, fbo, size: seen.append((view.position, f.views[i].position)))
    assert p.frames_submitted == 3 and len(seen) == 6
    for got, own in seen:
        np.testing.assert_array_equal(got, own)


# -- passthrough: the synthetic room shows where the app's alpha is 0 ------------------------------

SIZE = (64, 48)
DRAWN = (0.9, 0.6, 0.1)             # the "virtual thing": an orange quad with alpha 1
CLEAR = (0.1, 0.1, 0.4)             # an opaque clear colour (passthrough off)


@pytest.fixture
def target(egl):
    """An RGBA8 framebuffer (with depth) the simulated platform draws into."""
    from OpenGL import GL

    egl.make_current()
    tex = int(GL.glGenTextures(1))
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, SIZE[0], SIZE[1], 0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, None)
    depth = int(GL.glGenRenderbuffers(1))
    GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, depth)
    GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, SIZE[0], SIZE[1])
    fbo = int(GL.glGenFramebuffers(1))
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0)
    GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, depth)
    assert GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER) == GL.GL_FRAMEBUFFER_COMPLETE
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
    yield fbo
    GL.glDeleteFramebuffers(1, [fbo])
    GL.glDeleteRenderbuffers(1, [depth])
    GL.glDeleteTextures(1, [tex])


def draw_quad_over_nothing(i, view, fbo, size):
    """What the renderer does with passthrough on, by hand: clear to (0, 0, 0, 0) — premultiplied,
    nothing there — then a quad (the middle third) with alpha 1."""
    from OpenGL import GL

    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    GL.glViewport(0, 0, *size)
    GL.glClearColor(0.0, 0.0, 0.0, 0.0)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
    GL.glEnable(GL.GL_SCISSOR_TEST)
    GL.glScissor(size[0] // 3, size[1] // 3, size[0] // 3, size[1] // 3)
    GL.glClearColor(*DRAWN, 1.0)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT)
    GL.glDisable(GL.GL_SCISSOR_TEST)


def read(fbo):
    from OpenGL import GL

    GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, fbo)
    raw = GL.glReadPixels(0, 0, SIZE[0], SIZE[1], GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
    GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, 0)
    assert GL.glGetError() == GL.GL_NO_ERROR
    return np.frombuffer(raw, np.uint8).reshape(SIZE[1], SIZE[0], 4) / 255.0


def test_passthrough_shows_the_room_where_alpha_is_zero_and_keeps_what_is_drawn(target):
    p = SimulatedPlatform(view_count=1, view_size=SIZE, framebuffer_for=lambda i, s: target)
    assert p.set_passthrough(True)
    f = p.begin_frame()
    p.end_frame(f, draw_quad_over_nothing)
    img = read(target)
    inside = np.zeros(img.shape[:2], bool)
    inside[SIZE[1] // 3:2 * SIZE[1] // 3, SIZE[0] // 3:2 * SIZE[0] // 3] = True
    room = camera_image(*SIZE)
    np.testing.assert_allclose(img[~inside][:, :3], room[~inside], atol=1 / 255)   # the real room
    np.testing.assert_allclose(img[inside][:, :3], np.broadcast_to(DRAWN, (inside.sum(), 3)), atol=1 / 255)
    assert (img[..., 3] == 1.0).all()                                               # opaque result
    assert {tuple(c) for c in np.round(img[~inside][:, :3])} == {tuple(c) for c in CAMERA_COLORS}

    assert not p.set_passthrough(False)                # toggled off: nothing under the frame
    f = p.begin_frame()
    p.end_frame(f, draw_quad_over_nothing)
    img = read(target)
    np.testing.assert_allclose(img[~inside][:, :3], 0.0, atol=1 / 255)
    p.shutdown()


def test_a_simulated_runtime_without_a_camera_refuses_passthrough():
    p = SimulatedPlatform(passthrough=False)
    assert not p.capabilities.passthrough and "passthrough" in p.capabilities.missing
    assert not p.set_passthrough(True)


def test_passthrough_under_an_opaque_frame_changes_nothing(target):
    """Today's renderer clears with alpha 1: the room must not bleed through a single pixel."""
    from OpenGL import GL

    def opaque(i, view, fbo, size):
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glClearColor(*CLEAR, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)

    p = SimulatedPlatform(view_count=1, view_size=SIZE, framebuffer_for=lambda i, s: target)
    p.set_passthrough(True)
    f = p.begin_frame()
    p.end_frame(f, opaque)
    np.testing.assert_allclose(read(target)[..., :3], np.broadcast_to(CLEAR, (SIZE[1], SIZE[0], 3)), atol=1 / 255)
    p.shutdown()
