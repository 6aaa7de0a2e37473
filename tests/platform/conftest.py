"""The real-runtime tier: Monado's monado-service, headless (null compositor), on a private runtime
directory, built by scripts/build_monado.sh (cached outside the repository; seconds when built).

One service runs the whole session in the "remote" configuration (a Remote HMD with controllers and
26-joint hand tracking driven over TCP 127.0.0.1 on a free port of its own, ``monado.remote_port``;
the service checks the port and its IPC socket are held by the process it started) and is always
stopped at the end.
"""

import pytest


@pytest.fixture(scope="session")
def monado():
    from xrdemo.testing.monado_service import MonadoService, build_monado

    try:
        prefix = build_monado()
    except Exception as exc:   # the tier must not silently skip: say what to run
        pytest.fail(f"Monado is not built and scripts/build_monado.sh failed: {exc}", pytrace=False)
    service = MonadoService(prefix, remote=True)
    service.start()
    old = service.apply_env()
    try:
        yield service
    finally:
        service.restore_env(old)
        service.stop()


@pytest.fixture(scope="session")
def egl():
    from xrdemo.render.context import create_headless_context

    # Not released: every EglContext shares Mesa's one surfaceless EGLDisplay, and release()
    # terminates that display, which would break the render tier's context in the same run.
    return create_headless_context()


@pytest.fixture
def openxr(monado, egl):
    """A fresh OpenXRPlatform on the running service; shut down after the test whatever happens."""
    from xrdemo.platform.openxr import OpenXRPlatform
    from xrdemo.platform.xr_import import import_xr

    egl.make_current()
    platform = OpenXRPlatform(import_xr(), egl, log=lambda m: None)
    try:
        yield platform
    finally:
        platform.shutdown()
