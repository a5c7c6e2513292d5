"""One rank of the DDP test (tests/test_training_ddp.py), launched by torchrun: train, write the history.

python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_worker.py SETTINGS.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from irt_desktop.retrieval.bundle import load_bundle
from irt_desktop.retrieval.datasets import load_cub
from irt_desktop.retrieval.training import TrainConfig, Trainer


def main() -> None:
    settings = json.loads(Path(sys.argv[1]).read_text())
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    bench = load_cub(Path(settings["data"]))
    config = TrainConfig(**settings["config"])
    out = Path(settings["out"])
    result = Trainer(
        load_bundle(Path(settings["bundle"])), bench.train, config, models_dir=out / "models"
    ).run()
    record = {
        "world_size": torch.distributed.get_world_size(),
        "losses": [h.loss for h in result.history],
        "bundle": str(result.bundle.path) if result.bundle is not None else None,
    }
    (out / f"rank{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
