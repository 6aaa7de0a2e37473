"""Helpers shared by the end-to-end tests."""

import subprocess


def headless_pair(xrdemo_cmd, url: str, cwd, seconds: float, extra=lambda name: ()):
    """Two headless participants, Ada and Alan, in the room `url` at the same time; both must end
    well and see the other. Returns their outputs. extra(name): more arguments for one of them."""
    cmds = [[xrdemo_cmd, "run", "--platform", "headless", "--join", url, "--name", name,
             "--seconds", str(seconds), "--video", f"{name}.mp4", *extra(name)] for name in ("Ada", "Alan")]
    procs = [subprocess.Popen(c, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for c in cmds]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out
        assert "saw up to 1 other people" in out, out
    return outs
