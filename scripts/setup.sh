#!/usr/bin/env bash
# Set up xrdemo on a fresh Debian/Ubuntu machine (idempotent; a second run takes seconds):
#   1. system packages (installed with apt when running as root, else the apt line is printed),
#   2. a virtual environment in .venv with xrdemo and its test extras,
#   3. (with --monado) a headless Monado OpenXR runtime for the real-runtime tests, cached
#      outside the repository by scripts/build_monado.sh.
# Usage: scripts/setup.sh [--monado]
set -euo pipefail
cd "$(dirname "$0")/.."

# Runtime: EGL on Mesa (headless rendering), PortAudio (sound), Xvfb (desktop window tests),
# JACK with its dummy driver (a paced audio device with no sound card), OpenAL Soft (the audio
# benchmark's reference), Vulkan on llvmpipe and cJSON (what Monado's null compositor runs on),
# nats-server (rooms over NATS, and the tests that start a real one).
PACKAGES=(python3-venv libegl1 libegl-mesa0 libgl1-mesa-dri libglx-mesa0 libopengl0 libosmesa6
          libportaudio2 jackd2 xvfb xauth xdotool libopenal1 libvulkan1 mesa-vulkan-drivers libcjson1 libopus0
          nats-server espeak-ng libespeak-ng1)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    # jackd2 asks about real-time priority; answer for it.
    echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections 2>/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages; please run:"
    echo "  sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.xrdemo-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing xrdemo and its test extras into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test,fast]'
  touch "$stamp"
fi

if [ "${1:-}" = "--monado" ] && [ -x scripts/build_monado.sh ]; then
  scripts/build_monado.sh
fi
echo "setup: ready (.venv/bin/xrdemo)"
