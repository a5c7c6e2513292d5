"""`irt-desktop status` wall time, this checkout against another one (for example the commit before the
CPU-speed work), each on a library it built itself.

    git worktree add --detach /tmp/before a7c55fa
    python tests/perf/bench_status.py --other /tmp/before [--rounds 7] [--photos 100]

Each checkout builds its own library (DeiT-S random init, --photos indexed photos; an older checkout
cannot open a newer catalog) with its own code, then `python -m irt_desktop --library L status` runs in a
fresh process per round, the two checkouts alternated, wall time from the parent (interpreter start
included, which is what a user waits for). Medians quoted, and whether the process imported torch
(`-X importtime` is not used: it slows imports; the child prints nothing extra, so this is checked in a
separate run with `python -c` over the same entry point).
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

HERE = Path(__file__).resolve()
THIS = HERE.parents[2]

BUILD = """
import sys
from pathlib import Path
sys.path[:0] = [{tests!r}]
from imagegen import save_photo
from irt_desktop.library import Library
try:
    from irt_desktop.retrieval.spec import ModelSpec
except ImportError:  # before the torch-free spec existed
    from irt_desktop.retrieval.model import ModelSpec
from irt_desktop.retrieval.weights import random_init_bundle

photos = Path({photos!r})
for i in range({n}):
    save_photo(photos / f"IMG_{{i:04d}}.jpg", i, (640, 480), quality=90)
bundle = random_init_bundle(ModelSpec(), "deit-s-224", Path({bundles!r}))
with Library.open(Path({library!r})) as lib:
    lib.activate_model(bundle)
    lib.add_root(photos)
    lib.index()
"""

TORCH_CHECK = """
import runpy, sys
sys.argv = ["irt-desktop", "--library", {library!r}, "status"]
try:
    runpy.run_module("irt_desktop", run_name="__main__")
except SystemExit:
    pass
print("TORCH-LOADED" if "torch" in sys.modules else "TORCH-FREE", file=sys.stderr)
"""


def env_for(checkout: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    env.pop("IRT_BACKEND", None)
    return env


def build(checkout: Path, work: Path, n: int) -> Path:
    library = work / "library"
    if (work / "built").exists():
        return library
    code = BUILD.format(
        tests=str(checkout / "tests"),
        photos=str(work / "photos"),
        n=n,
        bundles=str(work / "bundles"),
        library=str(library),
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={**env_for(checkout), "IRT_BACKEND": "torch"},
        cwd=checkout,
    )
    (work / "built").write_text("ok")
    return library


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--other", type=Path, required=True, help="the other checkout (e.g. the commit before)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "irt-bench-status")
    args = ap.parse_args()

    sides = {"other": args.other.resolve(), "this": THIS}
    libraries = {}
    for name, checkout in sides.items():
        libraries[name] = build(checkout, args.work / name, args.photos)
        # One status first, so a first conversion or cache fill is not timed.
        subprocess.run(
            [sys.executable, "-m", "irt_desktop", "--library", str(libraries[name]), "status"],
            env=env_for(checkout),
            cwd=checkout,
            capture_output=True,
            check=False,
        )
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "irt_desktop", "--library", str(libraries[name]), "status"],
                env=env_for(sides[name]),
                cwd=sides[name],
                capture_output=True,
                text=True,
                check=False,
            )
            times[name].append(time.perf_counter() - t0)
            if proc.returncode != 0:
                sys.exit(f"{name}: status exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    for name, checkout in sides.items():
        probe = subprocess.run(
            [sys.executable, "-c", TORCH_CHECK.format(library=str(libraries[name]))],
            env=env_for(checkout),
            cwd=checkout,
            capture_output=True,
            text=True,
            check=False,
        )
        torch_state = "TORCH-LOADED" if "TORCH-LOADED" in probe.stderr else "TORCH-FREE"
        ts = times[name]
        print(
            f"{name:6s} {checkout}: status median {statistics.median(ts):.2f} s "
            f"[{min(ts):.2f}-{max(ts):.2f}] over {len(ts)} runs, {torch_state}"
        )
    ratio = statistics.median(o / t for o, t in zip(times["other"], times["this"], strict=True))
    print(f"other/this (median of same-round ratios): {ratio:.2f}x")


if __name__ == "__main__":
    main()
