"""Startup time of the desktop application: from launching `irt-desktop` to its first painted window.

    .venv/bin/python tests/perf/gui_startup.py                 # offscreen, 5 runs
    xvfb-run -a .venv/bin/python tests/perf/gui_startup.py --platform xcb

Each run starts a fresh interpreter (`python -m irt_desktop --library TMP`) with
$IRT_DESKTOP_STARTUP_PROBE set: the app writes the wall-clock time of the main window's first paint and
quits. The library holds a small model and indexed photos, so opening it is real work; it happens on
the worker after the window is up, and torch must not be imported before that paint. Target: < 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TARGET_S = 2.0


def prepare_library(root: Path) -> Path:
    sys.path[:0] = [str(HERE.parent), str(REPO)]
    from imagegen import TINY_SPEC, save_photo

    from irt_desktop.library import Library
    from irt_desktop.library.model_store import install_bundle
    from irt_desktop.retrieval.weights import random_init_bundle

    library = root / "library"
    install_bundle(library / "models", random_init_bundle(TINY_SPEC, "tiny", root / "bundles"))
    for i in range(50):
        save_photo(root / "photos" / f"{i:03d}.jpg", i)
    with Library.open(library) as lib:
        lib.add_root(root / "photos")
        lib.index()
    return library


def one_run(library: Path, platform: str, config_home: Path) -> tuple[float, bool]:
    probe = Path(tempfile.mktemp(prefix="irt-startup-"))
    env = dict(
        os.environ,
        IRT_DESKTOP_STARTUP_PROBE=str(probe),
        QT_QPA_PLATFORM=platform,
        XDG_CONFIG_HOME=str(config_home),
        PYTHONPATH=str(REPO),
    )
    # -X importtime goes to stderr: it tells whether torch was imported before the paint.
    cmd = [sys.executable, "-X", "importtime", "-m", "irt_desktop", "--library", str(library)]
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if not probe.exists():
        raise RuntimeError(f"no window was painted (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    painted = float(probe.read_text().strip())
    probe.unlink()
    torch_before_paint = _imported_before_paint(proc.stderr)
    return painted - t0, torch_before_paint


def _imported_before_paint(importtime_log: str) -> bool:
    # The probe quits right after the paint, so the log covers (nearly) only what ran before it; torch
    # imported by the library worker afterwards may or may not appear, so only a top-level import counts.
    return any(line.rstrip().endswith("| torch") for line in importtime_log.splitlines())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--platform", default="offscreen", help="Qt platform plugin: offscreen or xcb")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="irt-startup-") as tmp:
        library = prepare_library(Path(tmp))
        times = []
        for i in range(args.runs):
            seconds, torch_early = one_run(library, args.platform, Path(tmp) / "config")
            times.append(seconds)
            note = "  (torch appeared in the import log)" if torch_early else ""
            print(f"run {i + 1}: {seconds:.2f} s to the first painted window{note}")
    median = statistics.median(times)
    verdict = "OK" if median < TARGET_S else "SLOWER THAN TARGET"
    print(
        f"median {median:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
        f"(target < {TARGET_S:.0f} s): {verdict}"
    )
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
