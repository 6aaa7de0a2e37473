"""The one frame loop every mode runs, and the parts that plug into it.

``frame_loop.FrameLoop`` is begin_frame -> (parts see the frame) -> inputs -> step -> (parts see
the scene) -> upload + end_frame -> (parts see the finished frame). What differs between modes is
passed in as parts: where frames come from (a platform), what drives the people (a driver: the
core step, or a replay), and where pictures and sound go (a headset, a window, an MP4). The modes
that compose them are ``xrdemo.app`` (live on a headset or in a window), ``xrdemo.recording``
(headless recordings, a networked headless participant) and ``xrdemo.replay.output`` (replays).
See docs/architecture.md.
"""
