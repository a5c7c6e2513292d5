#!/usr/bin/env bash
# Install irt-desktop's desktop integration for the current user (or system-wide with PREFIX=/usr/local
# as root): the launcher, "Open with irt-desktop" for photos, the icon in every size, AppStream metadata.
#
#   bash packaging/linux/install.sh                 # uses `irt-desktop` from PATH (pip install)
#   bash packaging/linux/install.sh dist/irt-desktop  # a PyInstaller one-folder build: linked into bin/
#   bash packaging/linux/install.sh --uninstall
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RES="$ROOT/resources"
ID=io.github.irt_desktop.IrtDesktop
if [ "$(id -u)" = 0 ] && [ -n "${PREFIX:-}" ]; then
  DATA="$PREFIX/share"; BIN="$PREFIX/bin"
else
  DATA="${XDG_DATA_HOME:-$HOME/.local/share}"; BIN="$HOME/.local/bin"
fi

refresh() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
  command -v xdg-icon-resource >/dev/null && xdg-icon-resource forceupdate || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$DATA/applications/$ID.desktop" "$DATA/metainfo/$ID.metainfo.xml"
  rm -f "$DATA"/icons/hicolor/*/apps/irt-desktop.png "$DATA/icons/hicolor/scalable/apps/irt-desktop.svg"
  [ -L "$BIN/irt-desktop" ] && rm -f "$BIN/irt-desktop"
  refresh
  echo "irt-desktop desktop integration removed from $DATA"
  exit 0
fi

if [ -n "${1:-}" ]; then
  app="$(cd "$1" && pwd)/irt-desktop"
  [ -x "$app" ] || { echo "no irt-desktop executable in $1" >&2; exit 1; }
  mkdir -p "$BIN"
  ln -sfn "$app" "$BIN/irt-desktop"
elif ! command -v irt-desktop >/dev/null; then
  echo "irt-desktop is not on PATH: pip install it first, or pass the PyInstaller folder" >&2
  exit 1
fi

install -Dm644 "$RES/desktop/$ID.desktop" "$DATA/applications/$ID.desktop"
install -Dm644 "$RES/desktop/$ID.metainfo.xml" "$DATA/metainfo/$ID.metainfo.xml"
install -Dm644 "$RES/icons/irt-desktop.svg" "$DATA/icons/hicolor/scalable/apps/irt-desktop.svg"
for png in "$RES"/icons/hicolor/*/apps/irt-desktop.png; do
  size=$(basename "$(dirname "$(dirname "$png")")")
  install -Dm644 "$png" "$DATA/icons/hicolor/$size/apps/irt-desktop.png"
done
refresh
echo "irt-desktop installed for the desktop under $DATA"
