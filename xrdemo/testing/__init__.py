"""Test doubles and test infrastructure — installed with the package (the tests, the benches and
``xrdemo doctor`` use them), but not part of the product.

- ``fake_xr``: a fake pyopenxr module with fault injection (what no real runtime can do on demand).
- ``monado_service`` / ``monado_remote``: build, start and drive the real Monado runtime headless.
- ``menu_hands``: scripted hands that open and press the in-headset menu (core/menu.py).
- ``simclients``: simulated networked participants in worker processes (soak tests, benches).
"""
