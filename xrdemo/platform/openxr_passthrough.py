"""How an OpenXR session shows the real room: an XR_FB_passthrough layer, or the ALPHA_BLEND
environment blend mode, or not at all.

- XR_FB_passthrough (Quest through Link with Developer Runtime Features): a passthrough layer is
  submitted under the projection layer; the environment blend mode stays OPAQUE.
- No XR_FB_passthrough but XR_ENVIRONMENT_BLEND_MODE_ALPHA_BLEND offered (video see-through
  runtimes): passthrough on = ALPHA_BLEND, off = OPAQUE.
With passthrough on, the projection layer blends by its texture's alpha
(BLEND_TEXTURE_SOURCE_ALPHA_BIT), premultiplied (the OpenXR default, no UNPREMULTIPLIED bit): the
renderer clears to (0, 0, 0, 0) and blends colour "over" with coverage alpha, so where a fading
hand or an antialiased edge is partly drawn, its colour is already multiplied by its alpha.
"""

from __future__ import annotations

import contextlib
import ctypes

OPAQUE, ADDITIVE, ALPHA_BLEND = 1, 2, 3
NOT_OFFERED = ("the runtime offers neither XR_FB_passthrough nor the alpha-blend environment mode "
               "(Quest Link: turn on Developer Runtime Features and Passthrough over Meta Horizon Link)")


@contextlib.contextmanager
def qualified_success_returns(xr):
    """pyopenxr raises qualified successes (XR_SESSION_LOSS_PENDING) as exceptions, which loses
    the handle a create call made; inside this block they return normally instead (the loss
    still arrives as a LOSS_PENDING event)."""
    module = xr.exception
    saved, module.raise_on_qualified_success = module.raise_on_qualified_success, False
    try:
        yield
    finally:
        module.raise_on_qualified_success = saved


class Passthrough:
    """The passthrough choice of one session. ``mode`` is "fb_layer", "alpha_blend" or "".

    xr: pyopenxr (or the fake). extensions: the enabled extension names. blend_modes: the
    environment blend modes the system offers (ints, the runtime's order).
    """

    def __init__(self, xr, extensions, blend_modes: list[int]):
        self.xr = xr
        self.blend_modes = [int(b) for b in blend_modes]
        if "XR_FB_passthrough" in extensions:
            self.mode = "fb_layer"
        elif ALPHA_BLEND in self.blend_modes:
            self.mode = "alpha_blend"
        else:
            self.mode = ""
        self.base_blend = OPAQUE if OPAQUE in self.blend_modes else self.blend_modes[0]
        self.on = False
        self.handle = self.layer = None
        self._layer_struct = None

    def set(self, session, enabled: bool) -> bool:
        """Turn passthrough on or off; returns whether it is on. xr errors propagate (the caller
        guards against session loss); a failure to create the FB objects raises too."""
        xr = self.xr
        if not self.mode:
            return False
        if self.mode == "fb_layer":
            if enabled and self.handle is None:
                flags = xr.PassthroughFlagsFB.IS_RUNNING_AT_CREATION_BIT
                with qualified_success_returns(xr):   # a LOSS_PENDING must not lose the handle
                    self.handle = xr.create_passthrough_fb(session, xr.PassthroughCreateInfoFB(flags=flags))
                    self.layer = xr.create_passthrough_layer_fb(session, xr.PassthroughLayerCreateInfoFB(
                        passthrough=self.handle, flags=flags, purpose=xr.PassthroughLayerPurposeFB.RECONSTRUCTION))
            elif enabled:
                xr.passthrough_start_fb(self.handle)
                xr.passthrough_layer_resume_fb(self.layer)
            elif self.handle is not None and self.on:
                xr.passthrough_layer_pause_fb(self.layer)
                xr.passthrough_pause_fb(self.handle)
        self.on = bool(enabled)
        return self.on

    def blend_mode(self):
        """The environment blend mode for xrEndFrame this frame."""
        mode = ALPHA_BLEND if (self.on and self.mode == "alpha_blend") else self.base_blend
        return self.xr.EnvironmentBlendMode(mode)

    def layers_under(self) -> list:
        """Layer pointers to submit before (under) the projection layer."""
        if not (self.on and self.mode == "fb_layer" and self.layer is not None):
            return []
        self._layer_struct = self.xr.CompositionLayerPassthroughFB(layer_handle=self.layer)
        return [ctypes.byref(self._layer_struct)]

    def projection_flags(self) -> int:
        """XrCompositionLayerFlags for the projection layer: blend by its alpha while on."""
        if not self.on:
            return 0
        F = self.xr.CompositionLayerFlags
        return int(F.BLEND_TEXTURE_SOURCE_ALPHA_BIT)

    def destroy(self) -> None:
        xr = self.xr
        for handle, destroy in ((self.layer, "destroy_passthrough_layer_fb"),
                                (self.handle, "destroy_passthrough_fb")):
            if handle is not None:
                try:
                    getattr(xr, destroy)(handle)
                except xr.XrException:
                    pass
        self.handle = self.layer = None
        self.on = False
