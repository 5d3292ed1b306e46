#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages QDT needs outside Python:
#   - Qt's xcb platform plugin libraries (to open a window),
#   - OpenGL/EGL from Mesa (VTK renders on screen, and offscreen through EGL without a display),
#   - Xvfb (a virtual display for the GUI tests),
#   - a CJK font (Chinese UI text and reports),
#   - poppler-utils (pdftoppm: the report tests rasterise the PDFs they write),
#   - mosquitto (MQTT broker: the live-feed tests and `make run DEMO_FEED=1` start one on loopback),
#   - python3-venv (to create .venv),
#   - nodejs and npm (the tests validate every .glb QDT writes with the Khronos glTF validator),
#   - PostgreSQL and PostGIS (the PostGIS tests start a throw-away cluster); the PostGIS package
#     is the one built for the PostgreSQL major the distribution ships (postgresql-15-postgis-3 on
#     Debian 12, postgresql-16-postgis-3 on Ubuntu 24.04 …), read from the "postgresql" package.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

PACKAGES=(
  python3-venv
  xvfb xauth
  libgl1 libegl1 libglx-mesa0 libegl-mesa0 libgl1-mesa-dri libosmesa6
  libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 libxcb-randr0 libxcb-xkb1 libxcb-xfixes0
  libxrender1 libxcursor1 libxi6 libxt6 libsm6 libice6 libdbus-1-3 libfontconfig1 libglib2.0-0
  fonts-wqy-microhei
  postgresql
  poppler-utils
  mosquitto
)

# The PostgreSQL major of the distribution's "postgresql" metapackage (installed, else the
# candidate in the package lists), else the newest postgresql-N-postgis-3 the lists know.
pg_major() {
  local dep
  dep=$(dpkg-query -W -f='${Depends}' postgresql 2>/dev/null | grep -oE 'postgresql-[0-9]+' | head -n1 || true)
  [ -n "$dep" ] || dep=$(apt-cache depends postgresql 2>/dev/null | grep -oE 'postgresql-[0-9]+' | head -n1 || true)
  if [ -z "$dep" ]; then
    dep=$(apt-cache search --names-only '^postgresql-[0-9]+-postgis-3$' 2>/dev/null | cut -d' ' -f1 \
          | sed -E 's/-postgis-3$//' | sort -t- -k2,2n | tail -n1 || true)
  fi
  echo "${dep#postgresql-}"
}
major=$(pg_major)
if [ -z "$major" ] && [ "$(id -u)" -eq 0 ]; then  # empty package lists (fresh container)
  apt-get update -q >/dev/null && major=$(pg_major)
fi
if [ -z "$major" ]; then
  echo "cannot tell which PostgreSQL version this distribution ships (no 'postgresql' package in the" >&2
  echo "package lists); run 'apt-get update', or install PostgreSQL and its PostGIS 3 package yourself" >&2
  exit 1
fi
PACKAGES+=("postgresql-${major}-postgis-3")

missing=()
# Node: any node with npm will do (NodeSource's nodejs bundles npm and conflicts with Debian's npm
# package), so install Debian's pair only where no npm is on the PATH.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "QDT needs these system packages. Run as root (or with sudo), then run make again:" >&2
  echo "  sudo sh -c '$line'" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
