"""Draws a FrameScene for any list of views with a constant number of instanced draw calls.

One draw call per unit-mesh kind (sphere, box, cylinder), one for every person's head (one mesh,
blend shapes in the vertex shader from per-instance expression weights), one for all capsules and
one for all name tags, per view, however many people there are (6 at most). Needs a current OpenGL 3.3+ core context (see context.py).
Colours in the scene are linear; targets are sRGB, so GL does the encoding.
"""

from __future__ import annotations

import ctypes

import numpy as np
from OpenGL import GL

from ..core import pose as P
from ..core.frame import MESH_KINDS, FrameScene, MeshInstances, View
from ..core.room import PENDANT_HEIGHT
from ..resources import read_shader
from . import meshes
from .panel import PanelRenderer

NEAR, FAR = 0.05, 50.0
DRAW_ORDER = ("box", "cylinder", "sphere")
"""Room and table first, so translucent spheres (contact shadows, cues) blend over them."""
PENDANT_POS = np.array([0.0, PENDANT_HEIGHT, 0.0], np.float32)


class GLError(RuntimeError):
    """An OpenGL call failed; the message names the stage."""


def check_gl(stage: str) -> None:
    """Raise GLError if the GL error flag is set (draining every pending error)."""
    errors = []
    while True:
        err = GL.glGetError()
        if err == GL.GL_NO_ERROR:
            break
        errors.append(hex(int(err)))
        if len(errors) > 8:
            break
    if errors:
        raise GLError(f"OpenGL error {', '.join(errors)} during {stage}")


def _compile(vert: str, frag: str) -> int:
    prog = GL.glCreateProgram()
    shaders = []
    for name, kind in ((vert, GL.GL_VERTEX_SHADER), (frag, GL.GL_FRAGMENT_SHADER)):
        sh = GL.glCreateShader(kind)
        GL.glShaderSource(sh, read_shader(name))
        GL.glCompileShader(sh)
        if not GL.glGetShaderiv(sh, GL.GL_COMPILE_STATUS):
            log = GL.glGetShaderInfoLog(sh).decode(errors="replace")
            raise GLError(f"shader {name} failed to compile:\n{log}")
        GL.glAttachShader(prog, sh)
        shaders.append(sh)
    GL.glLinkProgram(prog)
    if not GL.glGetProgramiv(prog, GL.GL_LINK_STATUS):
        log = GL.glGetProgramInfoLog(prog).decode(errors="replace")
        raise GLError(f"shaders {vert}+{frag} failed to link:\n{log}")
    for sh in shaders:
        GL.glDeleteShader(sh)
    return prog


class _InstancedMesh:
    """A VAO holding one static mesh plus a per-instance buffer re-filled each frame."""

    def __init__(self, vertices: np.ndarray, indices: np.ndarray, vertex_layout, instance_layout):
        self.vao = GL.glGenVertexArrays(1)
        GL.glBindVertexArray(self.vao)
        self.vbo = GL.glGenBuffers(1)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.vbo)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, vertices.nbytes, vertices, GL.GL_STATIC_DRAW)
        stride = vertices.shape[1] * 4
        offset = 0
        for loc, size in vertex_layout:
            GL.glEnableVertexAttribArray(loc)
            GL.glVertexAttribPointer(loc, size, GL.GL_FLOAT, False, stride, ctypes.c_void_p(offset))
            offset += size * 4
        self.ebo = GL.glGenBuffers(1)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, self.ebo)
        GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, indices.nbytes, indices, GL.GL_STATIC_DRAW)
        self.index_count = int(indices.size)
        self.ibo = GL.glGenBuffers(1)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.ibo)
        self.instance_floats = sum(size for _, size in instance_layout)
        stride = self.instance_floats * 4
        offset = 0
        for loc, size in instance_layout:
            GL.glEnableVertexAttribArray(loc)
            GL.glVertexAttribPointer(loc, size, GL.GL_FLOAT, False, stride, ctypes.c_void_p(offset))
            GL.glVertexAttribDivisor(loc, 1)
            offset += size * 4
        GL.glBindVertexArray(0)
        self.count = 0

    def upload(self, data: np.ndarray) -> None:
        """data: (M, instance_floats) float32, C-contiguous."""
        data = np.ascontiguousarray(data, dtype=np.float32)
        self.count = int(data.shape[0])
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.ibo)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, max(data.nbytes, 4), data if self.count else None,
                        GL.GL_STREAM_DRAW)

    def draw(self) -> int:
        """Issue the instanced draw; returns the number of draw calls made (0 or 1)."""
        if self.count == 0:
            return 0
        GL.glBindVertexArray(self.vao)
        GL.glDrawElementsInstanced(GL.GL_TRIANGLES, self.index_count, GL.GL_UNSIGNED_INT, None,
                                   self.count)
        return 1


class _HeadMesh:
    """Every person's head: render/face_mesh.py's mesh, its blend-shape deltas in a buffer
    texture, and per-instance pose, colours, eye angles and 20 expression weights."""

    # model mat4 (2..5), skin (6), hair (8), eyes (9), weights (10..14)
    INSTANCE = [(2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (8, 4), (9, 4), (10, 4), (11, 4), (12, 4),
                (13, 4), (14, 4)]

    def __init__(self, program: int):
        from .face_mesh import EYE_CENTERS, head_mesh

        verts, idx, deltas = head_mesh()
        self.program = program
        self.vertex_count = int(len(verts))
        self.triangles = int(len(idx) // 3)
        self.mesh = _InstancedMesh(verts, idx, [(0, 3), (1, 3), (7, 2)], self.INSTANCE)
        rgba = np.zeros(deltas.shape[:2] + (4,), np.float32)
        rgba[..., :3] = deltas
        self.tbo = GL.glGenBuffers(1)
        GL.glBindBuffer(GL.GL_TEXTURE_BUFFER, self.tbo)
        GL.glBufferData(GL.GL_TEXTURE_BUFFER, rgba.nbytes, rgba, GL.GL_STATIC_DRAW)
        self.texture = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_BUFFER, self.texture)
        GL.glTexBuffer(GL.GL_TEXTURE_BUFFER, GL.GL_RGBA32F, self.tbo)
        GL.glBindBuffer(GL.GL_TEXTURE_BUFFER, 0)
        GL.glUseProgram(program)
        GL.glUniform1i(GL.glGetUniformLocation(program, "u_vertex_count"), self.vertex_count)
        GL.glUniform1i(GL.glGetUniformLocation(program, "u_deltas"), 1)
        GL.glUniform3fv(GL.glGetUniformLocation(program, "u_eye_center"), 2,
                        np.ascontiguousarray(EYE_CENTERS, np.float32))
        GL.glUseProgram(0)

    def upload(self, faces) -> None:
        m = len(faces)
        if m == 0:
            self.mesh.upload(np.zeros((0, 48), np.float32))
            return
        data = np.empty((m, 48), np.float32)
        data[:, :16] = np.transpose(faces.transforms, (0, 2, 1)).reshape(m, 16)
        data[:, 16:20] = faces.skin
        data[:, 20:24] = faces.hair
        data[:, 24:28] = faces.eyes
        data[:, 28:48] = faces.expressions
        self.mesh.upload(data)

    def draw(self) -> int:
        if self.mesh.count == 0:
            return 0
        GL.glActiveTexture(GL.GL_TEXTURE1)
        GL.glBindTexture(GL.GL_TEXTURE_BUFFER, self.texture)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        return self.mesh.draw()


class Renderer:
    """Instanced renderer of FrameScenes. Create it with a current GL context."""

    def __init__(self):
        self.mesh_program = _compile("mesh.vert", "lit.frag")
        self.capsule_program = _compile("capsule.vert", "lit.frag")
        # Mesh instances: mat4 as four vec4 columns (locations 2..5), then colour (6).
        mesh_inst = [(2, 4), (3, 4), (4, 4), (5, 4), (6, 4)]
        builders = {"sphere": meshes.uv_sphere, "box": meshes.box, "cylinder": meshes.cylinder}
        self.meshes = {k: _InstancedMesh(*builders[k](), [(0, 3), (1, 3)], mesh_inst)
                       for k in MESH_KINDS}
        self.capsules = _InstancedMesh(*meshes.capsule_halves(), [(0, 3), (1, 1)],
                                       [(2, 4), (3, 3), (4, 4)])
        self.heads = _HeadMesh(_compile("head.vert", "head.frag"))
        from .labels import LabelRenderer

        self.labels = LabelRenderer(_compile)
        self.panel = None               # render/panel.PanelRenderer, made by the first upload_panel
        self.stats = {"draw_calls_per_view": 0, "views": 0}
        self.passthrough = False
        """Passthrough shows the real room: views clear to alpha 0 and the room shell is left out."""
        self._targets: dict[tuple, "Framebuffer"] = {}
        check_gl("renderer set-up")

    # -- per frame --------------------------------------------------------------------------------
    def upload(self, scene: FrameScene) -> None:
        """Send this frame's instances to the GPU (once per frame, shared by every view)."""
        for kind in MESH_KINDS:
            inst = scene.meshes.get(kind)
            skip = scene.shell.get(kind, 0) if self.passthrough and inst is not None else 0
            if skip:
                inst = MeshInstances(inst.transforms[skip:], inst.colors[skip:])
            if inst is None or len(inst) == 0:
                self.meshes[kind].upload(np.zeros((0, 20), np.float32))
                continue
            # GL wants column-major mat4: transpose each row-major matrix, then flatten.
            cols = np.ascontiguousarray(np.transpose(inst.transforms, (0, 2, 1))).reshape(-1, 16)
            self.meshes[kind].upload(np.concatenate([cols, inst.colors], axis=1))
        c = scene.capsules
        data = np.concatenate([c.a, c.radius[:, None], c.b, c.colors], axis=1) if len(c) else \
            np.zeros((0, 11), np.float32)
        self.capsules.upload(data)
        self.heads.upload(scene.faces)
        self.labels.upload(scene.labels)
        self._scene = scene
        check_gl("instance upload")

    def upload_panel(self, panel) -> None:
        """This frame's in-headset menu (a core.menu.PanelScene, or None for none), drawn in every
        view after the scene. Call once per frame, like upload()."""
        if self.panel is None and panel is not None:
            self.panel = PanelRenderer(_compile)
        if self.panel is not None:
            self.panel.upload(panel)
            check_gl("panel upload")

    def draw_view(self, view: View, framebuffer: int, size: tuple[int, int]) -> int:
        """Draw the uploaded scene for one view into a framebuffer object. Returns draw calls."""
        scene = self._scene
        w, h = size
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, framebuffer)
        GL.glViewport(0, 0, w, h)
        GL.glEnable(GL.GL_FRAMEBUFFER_SRGB)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glEnable(GL.GL_CULL_FACE)
        GL.glCullFace(GL.GL_BACK)
        GL.glFrontFace(GL.GL_CCW)
        GL.glEnable(GL.GL_BLEND)
        # Colour blends "over"; alpha accumulates coverage, so with passthrough (cleared to 0) the
        # image is premultiplied: alpha says how much of the real room each pixel covers.
        GL.glBlendFuncSeparate(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        cc = (0.0, 0.0, 0.0, 0.0) if self.passthrough else scene.clear_color
        GL.glClearColor(float(cc[0]), float(cc[1]), float(cc[2]), float(cc[3]))
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        view_proj = view_projection(view).astype(np.float32)
        light = P.normalize(np.asarray(scene.light_dir, float)).astype(np.float32)
        calls = 0
        for prog, drawables in ((self.mesh_program, [self.meshes[k] for k in DRAW_ORDER]),
                                (self.heads.program, [self.heads]),
                                (self.capsule_program, [self.capsules])):
            GL.glUseProgram(prog)
            GL.glUniformMatrix4fv(GL.glGetUniformLocation(prog, "u_view_proj"), 1, GL.GL_TRUE, view_proj)
            GL.glUniform3fv(GL.glGetUniformLocation(prog, "u_light_dir"), 1, light)
            GL.glUniform3fv(GL.glGetUniformLocation(prog, "u_camera_pos"), 1,
                            np.asarray(view.position, np.float32))
            GL.glUniform3fv(GL.glGetUniformLocation(prog, "u_pendant_pos"), 1, PENDANT_POS)
            for d in drawables:
                calls += d.draw()
        calls += self.labels.draw(view, view_proj, size)
        if self.panel is not None:
            calls += self.panel.draw(view, view_proj)
        GL.glBindVertexArray(0)
        check_gl("drawing a view")
        self.stats["draw_calls_per_view"] = calls
        self.stats["views"] += 1
        return calls

    def render_to_arrays(self, scene: FrameScene, views: list[View], size: tuple[int, int],
                         samples: int = 4) -> list[np.ndarray]:
        """Draw the scene for each view offscreen and read back (H, W, 4) uint8 sRGB images."""
        self.upload(scene)
        target = self._target(size, samples)
        images = []
        for view in views:
            self.draw_view(view, target.draw_fbo, size)
            images.append(target.read_rgba())
        return images

    def _target(self, size, samples) -> "Framebuffer":
        key = (tuple(size), samples)
        if key not in self._targets:
            self._targets[key] = Framebuffer(size, samples)
        return self._targets[key]


def view_projection(view: View) -> np.ndarray:
    """(4, 4) projection @ view matrix (row-major) for a View."""
    proj = P.projection_from_fov(*view.fov, near=NEAR, far=FAR)
    return proj @ P.view_matrix(np.asarray(view.position, float), np.asarray(view.orientation, float))


def project_points(view: View, size: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """Pixel coordinates (column, row from the top) of stage points in a view. (M, 3) -> (M, 2)."""
    pts = np.asarray(points, float)
    clip = np.concatenate([pts, np.ones((len(pts), 1))], 1) @ view_projection(view).T
    ndc = clip[:, :2] / clip[:, 3:4]
    w, h = size
    return np.stack([(ndc[:, 0] + 1) * 0.5 * w, (1 - ndc[:, 1]) * 0.5 * h], -1)


class Framebuffer:
    """An offscreen sRGB colour + depth target, multisampled when samples > 1, with readback."""

    def __init__(self, size: tuple[int, int], samples: int = 4):
        self.size = (int(size[0]), int(size[1]))
        w, h = self.size
        if w < 1 or h < 1:
            raise ValueError(f"image size must be positive, not {w}x{h}")
        self.samples = samples
        self.resolve_fbo, self.resolve_color = self._make(w, h, 0)
        if samples > 1:
            self.draw_fbo, _ = self._make(w, h, samples)
        else:
            self.draw_fbo = self.resolve_fbo
        check_gl("framebuffer creation")

    @staticmethod
    def _make(w, h, samples):
        fbo = GL.glGenFramebuffers(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        color, depth = GL.glGenRenderbuffers(2)
        for rb, fmt, attach in ((color, GL.GL_SRGB8_ALPHA8, GL.GL_COLOR_ATTACHMENT0),
                                (depth, GL.GL_DEPTH_COMPONENT24, GL.GL_DEPTH_ATTACHMENT)):
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rb)
            if samples > 1:
                GL.glRenderbufferStorageMultisample(GL.GL_RENDERBUFFER, samples, fmt, w, h)
            else:
                GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, fmt, w, h)
            GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, attach, GL.GL_RENDERBUFFER, rb)
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            raise GLError(f"framebuffer incomplete (status {hex(int(status))}) for {w}x{h}x{samples}")
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        return fbo, color

    def read_rgba(self) -> np.ndarray:
        """Resolve (if multisampled) and read back: (H, W, 4) uint8, sRGB, top row first."""
        w, h = self.size
        if self.draw_fbo != self.resolve_fbo:
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.draw_fbo)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self.resolve_fbo)
            GL.glBlitFramebuffer(0, 0, w, h, 0, 0, w, h, GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self.resolve_fbo)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        data = GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        check_gl("readback")
        img = np.frombuffer(data, np.uint8).reshape(h, w, 4)
        return img[::-1].copy()
