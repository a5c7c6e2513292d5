"""Peak resident memory (RSS) of the desktop app after indexing N photos, and of `irt-desktop index`.

    python tests/perf/peak_rss.py [--backends openvino,torch] [--n 1000] [--rounds 1]

Every measurement is `/usr/bin/time -v` around a fresh process on a fresh copy of one prepared library
(DeiT-S, random init, 224 px, one folder of N 12-MP JPEGs added but not indexed); its "Maximum resident
set size" is the figure. The GUI run is the application's own `gui.app.run_app(library, [])`
(offscreen), which indexes the folder on its worker and is closed once the pass has embedded all N
photos; the CLI run is `python -m irt_desktop --library COPY --backend B index`. The OpenVINO model is
compiled once beforehand (into --work/cache), so no run converts. The photos are bench_indexing's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1])]

import perfkit  # noqa: E402


def prepare(work: Path, photos: Path) -> Path:
    """The library to copy: the model activated (and compiled for OpenVINO), the folder added."""
    base = work / "library"
    if (base / "prepared").exists():
        return base
    code = f"""
from pathlib import Path
from irt_desktop.library import Library
from irt_desktop.retrieval.openvino_cache import compile_in_child
from irt_desktop.retrieval.serving import cpu_bf16_native
from irt_desktop.retrieval.spec import ModelSpec
from irt_desktop.retrieval.weights import random_init_bundle

if __name__ == "__main__":
    bundle = random_init_bundle(ModelSpec(), "deit-s-224", Path({str(work / "bundles")!r}))
    compile_in_child(Path(bundle.path), bundle.id, "bf16" if cpu_bf16_native() else "f32")
    with Library.open(Path({str(base)!r})) as lib:
        lib.activate_model(bundle)
        lib.add_root(Path({str(photos)!r}))
    (Path({str(base)!r}) / "prepared").write_text("")
"""
    script = work / "prepare_library.py"
    work.mkdir(parents=True, exist_ok=True)
    script.write_text(code)
    subprocess.run([sys.executable, str(script)], env=_env(work, "torch"), check=True, timeout=3600)
    return base


def _env(work: Path, backend: str) -> dict[str, str]:
    return dict(
        os.environ,
        IRT_BACKEND=backend,
        IRT_CACHE_DIR=str(work / "cache"),
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(work / "config"),
        PYTHONPATH=os.pathsep.join([str(perfkit.REPO), os.environ.get("PYTHONPATH", "")]),
    )


def gui_child(library: Path, n: int, out: Path) -> int:
    """The application indexing `library`; quits once a pass has embedded `n` photos."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import irt_desktop.gui.app as app

    seen = {"embedded": 0}
    original_start = app.Session.start

    def start(session, photos):
        def finished(report, error) -> None:
            if report is not None:
                seen["embedded"] += report.embedded
            if seen["embedded"] >= n or error is not None:
                seen["error"] = None if error is None else str(error)
                QTimer.singleShot(0, QApplication.instance().quit)

        session.client.index_finished.connect(finished)
        original_start(session, photos)

    app.Session.start = start
    t = time.monotonic()
    code = app.run_app(library, [])
    seen.update(seconds=time.monotonic() - t, torch_loaded="torch" in sys.modules)
    out.write_text(json.dumps(seen))
    return code


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, stderr) of `cmd` under /usr/bin/time -v."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True, timeout=7200
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    wall = re.search(
        r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", proc.stderr
    )
    seconds = float("nan")
    if wall:
        h, m, s = wall.groups()
        seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    return (int(rss.group(1)) / 1024 if rss else float("nan")), seconds, proc.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="openvino,torch")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--what", default="gui,index", help="gui, index or both")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "irt-bench-12mp")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "irt-peak-rss")
    ap.add_argument("--gui-child", nargs=3, metavar=("LIBRARY", "N", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.gui_child:
        library, n, out = args.gui_child
        return gui_child(Path(library), int(n), Path(out))

    from bench_indexing import make_photos

    photos = args.cache / f"n{args.n}"
    make_photos(photos, args.n)
    base = prepare(args.work / f"n{args.n}", photos)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    kinds = [f"{what}-{b}" for what in args.what.split(",") for b in backends]
    print(f"{perfkit.cpu_line()}; load {perfkit.load()}; {args.n} photos, DeiT-S 224 px", flush=True)
    rows = []
    for r, kind in perfkit.alternated(kinds, args.rounds):
        what, backend = kind.split("-", 1)
        copy = Path(tempfile.mkdtemp(prefix="irt-rss-")) / "library"
        shutil.copytree(base, copy)
        env = _env(args.work / f"n{args.n}", backend)
        try:
            if what == "gui":
                out = copy.parent / "gui.json"
                cmd = [sys.executable, str(HERE), "--gui-child", str(copy), str(args.n), str(out)]
                rss, wall, _ = timed(cmd, env)
                got = json.loads(out.read_text())
                torch_note = "imported" if got["torch_loaded"] else "not imported"
                note = f"embedded {got['embedded']}, torch {torch_note}"
            else:
                cmd = [
                    sys.executable,
                    "-m",
                    "irt_desktop",
                    "--library",
                    str(copy),
                    "--backend",
                    backend,
                    "index",
                ]
                rss, wall, _ = timed(cmd, env)
                note = ""
        finally:
            shutil.rmtree(copy.parent, ignore_errors=True)
        rows.append({"kind": kind, "rss_mb": rss, "wall_s": wall})
        print(f"  round {r + 1} {kind:<14} peak RSS {rss:7.0f} MB  wall {wall:6.1f} s  {note}", flush=True)
    print("\nmedians:")
    for kind in kinds:
        mine = [row for row in rows if row["kind"] == kind]
        rss = perfkit.median([row["rss_mb"] for row in mine])
        wall = perfkit.median([row["wall_s"] for row in mine])
        print(f"  {kind:<14} peak RSS {rss:7.0f} MB   wall {wall:6.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
