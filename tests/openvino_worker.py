"""Run by tests/test_openvino.py in subprocesses: the pytest process never loads OpenVINO next to torch.

`prepare DIR`: train three tiny bundles a few steps (DeiT-S layout, distilled DeiT-S read at the CLS
token, and one with PCA) so descriptors depend on the input, and write probe images.
`agree DIR NAME`: OpenVINO descriptors vs torch fp32 on those images (JSON: min cosine, max off-diagonal).
`serve DIR NAME`: index and search with OpenVINO serving, sockets refused; JSON of what was imported.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# DeiT-S's own width and heads (bf16 error depends on it), two blocks to stay quick on a CPU.
SMALL = {"depth": 2, "embed_dim": 384, "num_heads": 6}
BACKBONES = {
    "deit-s": "deit_small_patch16_224",
    "deit-s-distilled": "deit_small_distilled_patch16_224",
    "deit-s-pca": "deit_small_patch16_224",
}


def prepare(out: Path) -> None:
    import torch
    from imagegen import photo

    from irt_desktop.retrieval.bundle import save_bundle
    from irt_desktop.retrieval.card import ModelCard
    from irt_desktop.retrieval.losses.contrastive import ContrastiveLoss
    from irt_desktop.retrieval.model import IRT, ModelSpec
    from irt_desktop.retrieval.pca import PCAProjection
    from irt_desktop.retrieval.transforms import eval_transform

    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    for i in range(12):
        photo(100 + i, (120, 90)).save(images_dir / f"q{i:02d}.jpg", quality=92)
    rows = {}
    for name, backbone in BACKBONES.items():
        torch.manual_seed(0)
        spec = ModelSpec(backbone=backbone, input_size=64, backbone_kwargs=SMALL)
        model = IRT(spec)
        transform = eval_transform(spec)
        # Each probe photo is its own class (two views: as is and mirrored), so a few steps already
        # pull the descriptors of different photos apart.
        photos = [photo(100 + i, (120, 90)) for i in range(12)]
        views = [v for im in photos for v in (im, im.transpose(0))]
        x = torch.stack([transform(im) for im in views])
        y = torch.arange(12).repeat_interleave(2)
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
        loss_fn = ContrastiveLoss(0.5)
        model.train()
        for _ in range(30):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        model.eval()
        if name.endswith("pca"):
            with torch.inference_mode():
                model.set_pca(PCAProjection.fit(model.features(x), 16))
        bundle = save_bundle(model, ModelCard(name=name, spec=model.spec), out / "models")
        rows[name] = str(bundle.path)
    (out / "bundles.json").write_text(json.dumps(rows))


def _images(out: Path):
    from PIL import Image

    return [Image.open(p).convert("RGB") for p in sorted((out / "images").glob("*.jpg"))]


def agree(out: Path, name: str) -> None:
    """Torch reference first, then OpenVINO, in one process but never at the same time."""
    import numpy as np

    from irt_desktop.library.decode import Tensorizer
    from irt_desktop.retrieval.bundle import load_bundle
    from irt_desktop.retrieval.embedder import Embedder
    from irt_desktop.retrieval.serving import open_bundle

    bundle = load_bundle(Path(json.loads((out / "bundles.json").read_text())[name]))
    x = np.stack([Tensorizer(bundle.card.spec)(im) for im in _images(out)])
    reference = Embedder.from_bundle(bundle, device="cpu", low_precision=False).embed_array(x)
    served = open_bundle(bundle, backend="openvino", low_precision=True)
    got = served.embedder.embed_array(x)
    sims = reference @ reference.T
    off = sims[~np.eye(len(sims), dtype=bool)]
    print(
        json.dumps(
            {
                "backend": served.backend,
                "precision": served.embedder.precision,
                "min_cosine": float((reference * got).sum(1).min()),
                "max_offdiag": float(off.max()),
                "fallback": served.fallback,
            }
        )
    )


def _refuse_network() -> list[str]:
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def connect(self, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(str(address))
            raise OSError("network refused by the test")
        return real_connect(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    return attempts


def serve(out: Path, name: str) -> None:
    attempts = _refuse_network()
    from irt_desktop.library import Library
    from irt_desktop.retrieval.bundle import load_bundle

    bundle = load_bundle(Path(json.loads((out / "bundles.json").read_text())[name]))
    with Library.open(out / f"lib-{name}", backend="openvino") as lib:
        lib.activate_model(bundle)
        lib.add_root(out / "images")
        report = lib.index()
        hits = lib.search(out / "images" / "q03.jpg", k=3)
        served = lib.models.served(lib.model_id)
        print(
            json.dumps(
                {
                    "embedded": report.embedded,
                    "top": hits[0].path.name if hits else None,
                    "backend": served.backend if served else None,
                    "heavy": [m for m in ("torch", "timm", "torchvision", "pandas") if m in sys.modules],
                    "telemetry_blocked": sys.modules.get("openvino_telemetry", "missing") is None,
                    "network_attempts": attempts,
                }
            )
        )


if __name__ == "__main__":
    command, out = sys.argv[1], Path(sys.argv[2])
    os.environ.setdefault("IRT_CACHE_DIR", str(out / "cache"))
    {
        "prepare": lambda: prepare(out),
        "agree": lambda: agree(out, sys.argv[3]),
        "serve": lambda: serve(out, sys.argv[3]),
    }[command]()
