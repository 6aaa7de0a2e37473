#!/usr/bin/env bash
# Build Monado (an open-source OpenXR runtime) for the real-runtime tests, cached outside the repo.
#
# Debian 12 has no Monado package, so this fetches Debian trixie's *source* package through a
# private apt state (the system's sources are not touched), builds it with cmake + ninja with the
# null compositor and the simulated/remote drivers, and installs it under the cache:
#
#   ${XRDEMO_MONADO_CACHE:-${XDG_CACHE_HOME:-~/.cache}/xrdemo/monado}/install
#       bin/monado-service
#       share/openxr/1/openxr_monado.json     (point XR_RUNTIME_JSON here)
#
# Idempotent: when the install is present, a second run returns at once. When run as root it
# installs the build and run dependencies with apt-get. Prints the install prefix on its last line.
set -euo pipefail

CACHE="${XRDEMO_MONADO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xrdemo/monado}"
PREFIX="$CACHE/install"
STAMP="$PREFIX/.xrdemo-build-ok"
MIRROR="${XRDEMO_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE="${XRDEMO_MONADO_SUITE:-trixie}"

BUILD_DEPS="cmake ninja-build g++ pkg-config libvulkan-dev glslang-tools libeigen3-dev libcjson-dev
libudev-dev libx11-dev libx11-xcb-dev libxcb-randr0-dev libxrandr-dev libgl-dev libegl-dev libgles-dev
xz-utils"
RUN_DEPS="libvulkan1 mesa-vulkan-drivers libcjson1"

is_built() {
    [ -f "$STAMP" ] && [ -x "$PREFIX/bin/monado-service" ] \
        && [ -f "$PREFIX/share/openxr/1/openxr_monado.json" ]
}

missing_packages() {
    local pkg missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    echo "${missing[@]:-}"
}

ensure_packages() {
    local missing
    missing="$(missing_packages "$@")"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "monado: installing $missing" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >&2
    else
        echo "monado: missing packages (run as root or install them): $missing" >&2
        return 1
    fi
}

if is_built; then
    ensure_packages $RUN_DEPS
    echo "$PREFIX"
    exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # another run (a parallel test session) may be building: wait for it
if is_built; then
    echo "$PREFIX"
    exit 0
fi

ensure_packages $BUILD_DEPS $RUN_DEPS

# Private apt state holding only a deb-src line for the suite that has Monado.
APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/etc/sources.list.d" "$APT/etc/preferences.d"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" \
    > "$APT/etc/sources.list"
APT_OPTS=(
    -o "Dir::Etc::SourceList=$APT/etc/sources.list"
    -o "Dir::Etc::SourceParts=$APT/etc/sources.list.d"
    -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d"
    -o "Dir::State::Lists=$APT/lists"
    -o "Dir::Cache=$APT"
    -o "Dir::Cache::Archives=$APT/archives"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
)

SRC="$CACHE/src"
mkdir -p "$SRC"
if ! ls "$SRC"/monado_*.orig.tar.* >/dev/null 2>&1; then
    echo "monado: fetching the $SUITE source package" >&2
    apt-get "${APT_OPTS[@]}" -q update >&2
    # Only the upstream (orig) tarball is needed; a mirror that lacks the .dsc or the Debian
    # patch tarball of the current revision is fine.
    (cd "$SRC" && apt-get "${APT_OPTS[@]}" -q source --download-only monado >&2) || true
fi
TARBALL="$(ls "$SRC"/monado_*.orig.tar.* 2>/dev/null | head -n1 || true)"
if [ -z "$TARBALL" ]; then
    echo "monado: could not download the monado source package from $MIRROR $SUITE" >&2
    exit 1
fi
TREE="$SRC/tree"
rm -rf "$TREE"
mkdir -p "$TREE"
tar -xf "$TARBALL" -C "$TREE" --strip-components=1

BUILD="$CACHE/build"
rm -rf "$BUILD"
echo "monado: building (several minutes on 2 cores)" >&2
cmake -S "$TREE" -B "$BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DXRT_HAVE_OPENCV=OFF -DXRT_HAVE_GST=OFF -DXRT_HAVE_SYSTEMD=OFF \
    -DXRT_FEATURE_STEAMVR_PLUGIN=OFF -DBUILD_TESTING=OFF \
    -DXRT_BUILD_DRIVER_SIMULATED=ON -DXRT_MODULE_COMPOSITOR_NULL=ON >&2
ninja -C "$BUILD" >&2
ninja -C "$BUILD" install >&2
touch "$STAMP"
echo "$PREFIX"
