#!/usr/bin/env bash
# Build the one-folder application with PyInstaller and smoke-test it:
#   --version, doctor, and an offscreen run that imports a tiny model, indexes a tiny folder and searches it.
# Run by hand (minutes, several GB with a CUDA torch): `bash packaging/build_bundle.sh`. Not part of CI.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
WORK=${WORK:-$ROOT/build/pyinstaller}
DIST=${DIST:-$ROOT/dist}
start=$(date +%s)

"$VENV/bin/python" -m pip install --quiet "pyinstaller>=6.10"
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --workpath "$WORK" --distpath "$DIST" "$ROOT/packaging/irt-desktop.spec"
built=$(date +%s)
APP="$DIST/irt-desktop/irt-desktop"

echo "== smoke test of $APP"
SMOKE=$(mktemp -d)
trap 'rm -rf "$SMOKE"' EXIT
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
"$APP" --version
"$APP" --library "$SMOKE/lib" doctor
# Tiny model and photos come from the source tree's own helper; the frozen app only consumes files.
"$VENV/bin/python" "$ROOT/packaging/smoke_fixture.py" "$SMOKE"
"$APP" --library "$SMOKE/lib" index "$SMOKE/photos" --model "$SMOKE/tiny-bundle"
"$APP" --library "$SMOKE/lib" search "$SMOKE/query.jpg" -k 3 --json > "$SMOKE/hits.json"
"$VENV/bin/python" - "$SMOKE" <<'PY'
import json, sys
from pathlib import Path
smoke = Path(sys.argv[1])
hits = json.loads((smoke / "hits.json").read_text())
hits = hits["hits"] if isinstance(hits, dict) else hits
first = Path(hits[0]["path"]).name
assert first == "target.jpg", f"expected target.jpg first, got {first}"
print(f"search ok: {first} first of {len(hits)}")
PY
# The window itself: start offscreen with the query photo; the app writes its best hit and quits.
IRT_DESKTOP_SMOKE_RESULT="$SMOKE/gui-hit.txt" XDG_CONFIG_HOME="$SMOKE/config" \
  "$APP" --library "$SMOKE/lib" "$SMOKE/query.jpg"
gui_hit=$(basename "$(cat "$SMOKE/gui-hit.txt")")
[ "$gui_hit" = target.jpg ] || { echo "GUI smoke: expected target.jpg first, got $gui_hit" >&2; exit 1; }
echo "GUI smoke ok: the window searched and found $gui_hit first"
end=$(date +%s)
echo "== build $((built - start)) s, smoke $((end - built)) s, bundle size $(du -sh "$DIST/irt-desktop" | cut -f1)"
