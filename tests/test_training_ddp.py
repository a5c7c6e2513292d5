"""The trainer under torchrun with 2 CPU processes (gloo): the same loss curve as one process.

Each rank trains on half of every global batch; descriptors are gathered so both ranks compute the loss
of the whole batch and fill identical memories, and gradients are summed across ranks. With gradient
accumulation and a momentum-encoder memory on top, the curve must still match the single process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from benchmark_layouts import write_cub

from irt_desktop.retrieval.datasets import load_cub
from irt_desktop.retrieval.training import TrainConfig, Trainer

WORKER = Path(__file__).with_name("ddp_worker.py")
CONFIG = dict(
    iterations=6,
    batch_size=16,
    m_per_class=4,
    lr=1e-3,
    num_workers=0,
    device="cpu",
    precision="fp32",
    grad_accum=2,
    momentum=0.9,
    memory_size=20,
)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tiny_bundle, tmp_path):
    data = write_cub(tmp_path / "cub", 6, 1, 5)
    single = Trainer(
        tiny_bundle, load_cub(data).train, TrainConfig(**CONFIG), models_dir=tmp_path / "one"
    ).run()

    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps(
            {"data": str(data), "bundle": str(tiny_bundle.path), "out": str(tmp_path), "config": CONFIG}
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(WORKER),
            str(settings),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    expected = [h.loss for h in single.history]
    for r in ranks:
        assert r["losses"] == pytest.approx(expected, rel=1e-4)
    # Only rank 0 writes the bundle.
    assert ranks[0]["bundle"] and Path(ranks[0]["bundle"], "model.safetensors").is_file()
    assert ranks[1]["bundle"] is None


@pytest.mark.slow
def test_benchmark_command_runs_unchanged_under_torchrun(tiny_bundle, tmp_path):
    from irt_desktop.retrieval.bundle import list_bundles

    write_cub(tmp_path / "data" / "cub", 4, 4, 4)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "irt_desktop", "--library", str(tmp_path / "lib"), "--benchmark", "--datasets", "cub"]
    cmd += ["--data-root", str(tmp_path / "data"), "--model", str(tiny_bundle.path), "--train", "irt_r"]
    cmd += ["--iterations", "3", "--workers", "0", "--device", "cpu", "--out", str(tmp_path / "out")]
    cmd += ["--allow-partial"]  # a tiny CUB: not the protocol's counts (marked partial in the report)
    proc = subprocess.run(
        cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Rank 0 alone reports: one table (the notes may name metrics too, so count the table's header).
    head = ["dataset", "variant", "dims", "metric"]
    assert sum(line.split()[:4] == head for line in proc.stdout.splitlines()) == 1
    assert proc.stdout.count("\ncub (partial)  IRT_R from random init ") == 4  # R@1, R@2, R@4, R@8
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert {r["variant"] for r in rows} == {"IRT_R from random init"}
    (trained,) = list_bundles(tmp_path / "lib" / "models")
    assert trained.card.provenance["training"]["processes"] == 2
