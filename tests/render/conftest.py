"""One headless EGL context (Mesa llvmpipe) for the render tier; every test must leave no GL error."""

import pytest


@pytest.fixture(scope="session")
def gl_context():
    from xrdemo.render.context import create_headless_context

    ctx = create_headless_context()
    yield ctx
    ctx.release()


@pytest.fixture(scope="session")
def renderer(gl_context):
    from xrdemo.render.renderer import Renderer

    return Renderer()


@pytest.fixture(autouse=True)
def no_gl_errors(gl_context):
    from OpenGL import GL

    assert GL.glGetError() == GL.GL_NO_ERROR, "a GL error was pending before the test"
    yield
    assert GL.glGetError() == GL.GL_NO_ERROR, "the test left a GL error behind"
