#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages QDT needs outside Python:
#   - Qt's xcb platform plugin libraries (to open a window),
#   - OpenGL/EGL from Mesa (VTK renders on screen, and offscreen through EGL without a display),
#   - Xvfb (a virtual display for the GUI tests),
#   - a CJK font (Chinese UI text and reports),
#   - poppler-utils (pdftoppm: the report tests rasterise the PDFs they write),
#   - python3-venv (to create .venv).
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
  postgresql postgresql-15-postgis-3
  poppler-utils
)

missing=()
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
