"""Shared by the CPU benchmarks in tests/perf: workers in their own processes, alternated rounds, medians.

On a machine whose cores other work shares, one process's figure says little: the benchmarks start each
measurement as a fresh interpreter (`python SCRIPT --worker KIND ...`), alternate the kinds round by
round (A B, B A, ...), and quote medians and same-round ratios. A worker prints its results as lines
`ROW {json}` on stdout; anything else it prints (warnings, logs) is ignored.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ROW = "ROW "


def emit(**row: Any) -> None:
    """Worker side: one result row for the parent."""
    print(ROW + json.dumps(row), flush=True)


def run_worker(
    script: Path, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 1800
) -> list[dict[str, Any]]:
    """Run `python script *args` in a fresh process; its ROW lines, parsed."""
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(script), *args], env=full_env, capture_output=True, text=True, timeout=timeout
    )
    rows = [json.loads(line[len(ROW) :]) for line in proc.stdout.splitlines() if line.startswith(ROW)]
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return rows


def alternated(kinds: Sequence[str], rounds: int) -> list[tuple[int, str]]:
    """(round, kind) in the order to run them: the kinds rotated by one place each round."""
    order = []
    for r in range(rounds):
        k = r % len(kinds)
        order += [(r, kind) for kind in [*kinds[k:], *kinds[:k]]]
    return order


def run_rounds(
    kinds: Sequence[str],
    rounds: int,
    one: Callable[[str], list[dict[str, Any]]],
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
) -> list[dict[str, Any]]:
    """Every kind once per round, alternated; each row tagged with its round and kind."""
    rows: list[dict[str, Any]] = []
    for r, kind in alternated(kinds, rounds):
        t = time.monotonic()
        got = one(kind)
        for row in got:
            row.setdefault("kind", kind)
            row["round"] = r
        rows += got
        log(f"  round {r + 1}/{rounds} {kind:<18} {time.monotonic() - t:5.1f} s  load {load()}")
    return rows


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_line() -> str:
    model, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line
    except OSError:
        pass
    have = [f for f in ("avx512_bf16", "amx_bf16", "amx_tile") if f in flags.split()]
    return f"{model or 'CPU'}, {os.cpu_count()} cores, {', '.join(have) or 'no bf16/AMX flags'}"


# -- bf16 GEMM peak: what one large matrix product reaches ---------------------------------------------------

GEMM_N = 2048


def gemm_torch(seconds: float, n: int = GEMM_N) -> float:
    """FLOP/s of a bf16 n x n x n matmul in torch (its default thread count)."""
    import torch

    torch.manual_seed(0)
    a = torch.randn(n, n).bfloat16()
    b = torch.randn(n, n).bfloat16()
    for _ in range(2):
        a @ b
    done, t = 0, time.perf_counter()
    while done < 3 or time.perf_counter() - t < seconds:
        a @ b
        done += 1
    return 2.0 * n**3 * done / (time.perf_counter() - t)


def gemm_openvino(seconds: float, n: int = GEMM_N) -> float:
    """FLOP/s of the same product compiled by OpenVINO with the bf16 hint, one request per stream."""
    import numpy as np
    import openvino as ov
    from openvino import opset13 as ops

    rng = np.random.default_rng(0)
    a = ops.parameter([n, n], ov.Type.f32)
    b = ops.constant(rng.standard_normal((n, n), dtype=np.float32))
    model = ov.Model([ops.matmul(a, b, False, False)], [a])
    core = ov.Core()
    compiled = core.compile_model(
        model, "CPU", {"INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "THROUGHPUT"}
    )
    streams = max(1, int(compiled.get_property("NUM_STREAMS")))
    x = rng.standard_normal((n, n), dtype=np.float32)
    queue = ov.AsyncInferQueue(compiled, streams)
    for _ in range(streams):
        queue.start_async({0: x})
    queue.wait_all()
    done, t = 0, time.perf_counter()
    while done < 3 * streams or time.perf_counter() - t < seconds:
        queue.start_async({0: x})
        done += 1
    queue.wait_all()
    return 2.0 * n**3 * done / (time.perf_counter() - t)


def deit_flops(px: int, dim: int = 384, depth: int = 12, patch: int = 16, mlp_ratio: int = 4) -> float:
    """Forward FLOPs (2 per multiply-add) of a ViT such as DeiT-S at `px`: per block qkv (3d^2) + proj
    (d^2) + MLP (2 * mlp_ratio * d^2) per token, and attention (QK^T, AV: 2 N^2 d); the patch embedding
    (3 * patch^2 * d per patch). Matches torch.utils.flop_counter's count of the linear layers and the
    convolution exactly; the counter misses the attention products on CPU (scaled_dot_product_attention)."""
    n_patches = (px // patch) ** 2
    n = n_patches + 1
    per_block = (4 + 2 * mlp_ratio) * dim * dim * n + 2 * n * n * dim
    return 2.0 * (depth * per_block + n_patches * 3 * patch * patch * dim)
