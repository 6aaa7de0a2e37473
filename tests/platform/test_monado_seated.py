"""On the real runtime (Monado, remote driver): a headset session starts with the wearer in their
seat facing the table, whatever the stage origin is — shown by the mirror MP4 of the left eye
(checked by pixels), for a wearer at the stage origin and one standing 1 m to the side, turned 90°."""

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import quiet_config
from xrdemo.core import pose as P
from xrdemo.loop.frame_loop import FramePart
from xrdemo.testing.monado_remote import RemoteDriver

NO_ALIGNMENT = Path("/nonexistent/xrdemo-test/align.json")


def set_head(driver, position, yaw):
    data = type(driver.latest).from_buffer_copy(bytes(driver.latest))
    q = P.quat_from_yaw_pitch_roll(yaw)
    head = data.head
    head.center.position.x, head.center.position.y, head.center.position.z = position
    head.center.orientation.x, head.center.orientation.y, head.center.orientation.z, \
        head.center.orientation.w = q
    head.per_view_data_valid = False
    driver.send(data)


def last_video_frame(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert frames, f"{path} holds no video frames"
    return frames[-1]


class Views(FramePart):
    """Keeps the left eye's room-space view and the state of the last drawn frame."""

    def __init__(self):
        self.view = self.state = None

    def after_frame(self, tick):
        if tick.room.should_render and tick.room.views:
            self.view, self.state = tick.room.views[0], tick.state


@pytest.mark.parametrize("where", ["stage origin", "standing 1 m to the side, turned 90 degrees"])
def test_the_mirror_shows_the_wearer_in_their_seat_facing_the_table(monado, egl, tmp_path, monkeypatch, where):
    from xrdemo import app
    from xrdemo.platform.openxr import OpenXRPlatform
    from xrdemo.platform.xr_import import import_xr
    from xrdemo.render.renderer import project_points

    egl.make_current()
    spy = Views()
    original = app.FrameLoop

    def with_spy(platform, driver, parts, **kw):      # watch the loop the app builds
        return original(platform, driver, [*parts, spy], **kw)
    monkeypatch.setattr(app, "FrameLoop", with_spy)
    out = tmp_path / "mirror.mp4"
    with RemoteDriver(port=4242, host="127.0.0.1") as driver:
        if where == "stage origin":
            set_head(driver, (0.0, 1.6, 0.0), 0.0)
        else:
            set_head(driver, (1.0, 1.6, 0.0), np.pi / 2)
        platform = OpenXRPlatform(import_xr(), egl, log=lambda m: None)
        logs = []
        status = app.live_loop(platform, quiet_config(6), log=logs.append, max_frames=45,
                               table_alignment=NO_ALIGNMENT, mirror_to=out)
    assert status == 0, logs
    assert any("mirror: wrote" in line for line in logs), logs
    image = last_video_frame(out)
    h, w = image.shape[:2]
    state, view = spy.state, spy.view
    assert view is not None, "no frame was drawn"
    k = state.local
    # the wearer's eyes are in (standing: behind) their seat, not over the table
    eye = np.asarray(view.position)
    assert np.hypot(eye[0], eye[2]) >= np.hypot(*state.seat_pos[k][[0, 2]]) - 0.05
    # the table centre is below the middle of the picture, and the table is drawn there
    from xrdemo.loop.mirror import Mirror  # noqa: F401  (the size below is the mirror's default)
    size = (w, h)
    col, row = np.round(project_points(view, size, [[0.0, state.table.height, 0.0]])[0]).astype(int)
    assert 0 <= col < w and h // 2 < row < h, (col, row)
    r, g, b = image[row, col].astype(int)
    assert r > g + 15 > b + 15, f"the table centre pixel {r, g, b} is not wood"
    # at least two other people are in view, and something is drawn where each head is
    others = [j for j in range(len(state.people)) if j != k]
    pix = project_points(view, size, state.people.head_pos[others])
    inside = [(int(c), int(r_)) for c, r_ in np.round(pix) if 8 <= c < w - 8 and 8 <= r_ < h - 8]
    assert len(inside) >= 2, pix
    drawn = 0
    for c, r_ in inside:
        centre = image[r_ - 2:r_ + 3, c - 2:c + 3].reshape(-1, 3).mean(0)
        around = np.concatenate([image[r_ - 8, c - 8:c + 9], image[r_ + 8, c - 8:c + 9]]).mean(0)
        drawn += np.abs(centre - around).max() > 12
    assert drawn >= 2, "no heads where the people sit"
