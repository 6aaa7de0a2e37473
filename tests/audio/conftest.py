import numpy as np
import pytest

from xrdemo.audio.hrtf import load_hrtf


@pytest.fixture(scope="session")
def hrtf():
    return load_hrtf()


def direction_from_azimuth(az_deg, el_deg=0.0):
    """Head-frame unit vector; azimuth counter-clockwise from ahead (90 = left)."""
    a, e = np.radians(az_deg), np.radians(el_deg)
    return np.array([-np.sin(a) * np.cos(e), np.sin(e), -np.cos(a) * np.cos(e)])


def render(engine, signal, block=256):
    """Run a mono signal (T,) through a 1-source engine block by block -> (T, 2)."""
    n = len(signal) // block
    return np.concatenate([engine.process(signal[None, i * block:(i + 1) * block]).copy() for i in range(n)])
