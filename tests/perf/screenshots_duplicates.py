"""Screenshots of the Duplicates tab (exact copies, near copies, look-alikes) and the compare view, at
1024x700 and 1920x1080, light and dark, for reviewing by eye.

    Xvfb :74 -screen 0 1920x1080x24 & DISPLAY=:74 PYTHONPATH=. .venv/bin/python \
        tests/perf/screenshots_duplicates.py --out /tmp/shots

A throwaway library of generated photos with planted exact copies (a "Backup copy" folder), near copies
(web re-encodes, a rotated and a mirrored copy) and bursts (reframed, re-exposed, tilted frames), indexed
by a small random-init model; the thresholds are the calibrated ones unless a kind would be empty, in
which case the look-alike one is moved as a user would (the caption says so).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent)]
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
os.environ.setdefault("IRT_BACKEND", "torch")

from imagegen import photo, save_photo  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from screenshots import SPEC_KWARGS, grab, pump, settle  # noqa: E402

from irt_desktop.gui.app import create_application  # noqa: E402
from irt_desktop.gui.library_client import LibraryClient  # noqa: E402
from irt_desktop.gui.main_window import MainWindow  # noqa: E402
from irt_desktop.gui.settings import AppSettings  # noqa: E402
from irt_desktop.gui.theme import apply_theme  # noqa: E402

SIZES = ((1024, 700), (1920, 1080))


def make_library(root: Path) -> tuple[Path, Path]:
    from irt_desktop.library.calibration import LOOKALIKE_TRANSFORMS
    from irt_desktop.library.model_store import install_bundle
    from irt_desktop.retrieval.model import ModelSpec
    from irt_desktop.retrieval.weights import random_init_bundle

    spec = ModelSpec(backbone="vit_tiny_patch16_224", input_size=64, backbone_kwargs=SPEC_KWARGS)
    bundle = random_init_bundle(spec, "demo", root / "bundles", seed=0)
    library = root / "library"
    install_bundle(library / "models", bundle)
    pictures = root / "Pictures"
    for album, start in (("Holidays 2023", 0), ("Garden", 100), ("Family", 200)):
        for i in range(start, start + 30):
            save_photo(pictures / album / f"IMG_{i:04d}.jpg", i, (400, 300), quality=90)
    backup = pictures / "Backup copy" / "Holidays 2023"
    backup.mkdir(parents=True)
    for i in (2, 5, 11):
        shutil.copy2(pictures / "Holidays 2023" / f"IMG_{i:04d}.jpg", backup / f"IMG_{i:04d}.jpg")
    web = pictures / "Exports for web"
    web.mkdir()
    for i in (103, 107, 212):
        photo(i, (400, 300)).resize((200, 150), Image.BICUBIC).save(web / f"IMG_{i:04d}_web.jpg", quality=60)
    photo(120, (400, 300)).transpose(Image.Transpose.ROTATE_90).save(web / "IMG_0120 rotated.jpg")
    photo(121, (400, 300)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(web / "IMG_0121 mirrored.jpg")
    bursts = pictures / "Family" / "Bursts"
    bursts.mkdir()
    for b, seed in enumerate((205, 217)):
        base = photo(seed, (400, 300))
        for n, fn in enumerate(LOOKALIKE_TRANSFORMS.values()):
            fn(base).save(bursts / f"BURST_{b}_{n + 1}.jpg", quality=90)
    return library, pictures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("build/screenshots/duplicates"))
    args = ap.parse_args()
    out = args.out.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="irt-dup-shots-"))
    app = create_application([sys.argv[0]])
    settings = AppSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    apply_theme(app, "light")
    library, pictures = make_library(tmp)
    client = LibraryClient(library, settings)
    w = MainWindow(client, settings, auto_fetch_model=False)
    w.resize(*SIZES[0])
    w.show()
    client.start()
    pump(app, lambda: client.state == "ready", timeout=120)
    w.add_folders([pictures])
    pump(
        app,
        lambda: (
            client.roots
            and all(r.status == "indexed" for r in client.roots)
            and not client.indexer.is_running
        ),
        timeout=600,
    )
    w.duplicates_action.trigger()
    dv = w.duplicates_view
    dv.find()
    pump(app, lambda: dv.report is not None and dv.find_button.isEnabled(), timeout=600)
    report = dv.report
    counts = {k: len(report.of_kind(k)) for k in ("exact", "near", "lookalike")}
    print(f"calibrated: near {report.threshold}, look-alike {report.lookalike_threshold}; groups {counts}")
    if not counts["lookalike"] and report.lookalike_threshold is not None:
        # Moved as a user would, so the look-alike page has something to show.
        previous = dv.report
        dv.set_threshold(report.threshold, lookalike=max(0.5, report.lookalike_threshold - 0.02))
        dv.find()
        pump(app, lambda: dv.report is not previous and dv.find_button.isEnabled(), timeout=600)
        counts = {k: len(dv.report.of_kind(k)) for k in ("exact", "near", "lookalike")}
        print(f"look-alike threshold moved to {dv.lookalike_threshold}: groups {counts}")
    dv.check_all_but_best("exact")
    if dv.model.groups["near"]:
        dv.check_all_but_best("near")
    settle(app, 3.0)  # thumbnails
    for theme in ("light", "dark"):
        apply_theme(app, theme)
        for width, height in SIZES:
            w.resize(width, height)
            for n, kind in enumerate(("exact", "near", "lookalike")):
                dv.tabs.setCurrentIndex(n)
                settle(app, 0.6)
                grab(w, out / f"duplicates-{kind}-{theme}-{width}x{height}.png")
            group = dv.panes["lookalike"].tree.topLevelItem(0) or dv.panes["near"].tree.topLevelItem(0)
            if group is not None:
                compare = dv.compare_group(group)
                compare.resize(min(width, 1200), min(height, 760) if width < 1920 else 900)
                pump(app, lambda c=compare: all(p.source is not None for p in c.panes), timeout=30)
                settle(app, 0.6)
                grab(compare, out / f"compare-{theme}-{width}x{height}.png")
                compare.reject()
    w.close()
    client.close()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
