"""Descriptor throughput per inference backend: DeiT-S (random init) at 224 and 160 px, batch 1 and 32.

    python tests/perf/bench_descriptor.py --backends torch,openvino [--json] [--rounds 5] [--seconds 4]

Each backend runs in its own fresh process (torch and OpenVINO never share one), the processes are
alternated over the rounds (torch openvino, openvino torch, ...), and the figures are medians over
rounds; the ratio openvino/torch is the median of the same-round ratios. Both backends run their
shipped path: torch is `Embedder.from_bundle` on the CPU (bf16 autocast where the CPU has it natively
and it agrees with fp32), OpenVINO is `serving.open_bundle(backend="openvino")` (bf16 hint where native,
throughput model split across streams for a batch, latency model for one image). The OpenVINO models
are converted once before the rounds (`compile_in_child`, cached in --work).

It also measures this CPU's bf16 GEMM rate the same way (own process per round, alternated, median):
a 2048^3 bf16 matmul in torch and the same product compiled by OpenVINO; the fraction of the better
of the two that DeiT-S reaches is img/s x FLOPs per image / GEMM FLOP/s, FLOPs from
perfkit.deit_flops (linear layers + patch embedding + attention products, 2 FLOPs per multiply-add:
9.20 GFLOP at 224 px, 4.54 at 160).

With --json the last thing on stdout is a JSON list of rows {"backend", "px", "batch", "img_s"}
(medians); the tables go to stderr. Random weights: the speed does not depend on their values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import perfkit

HERE = Path(__file__).resolve()
SIZES = (224, 160)
BATCHES = (1, 32)
GEMM_KINDS = {"torch": "gemm-torch", "openvino": "gemm-openvino"}


# -- workers (each a fresh process) --------------------------------------------------------------------------


def worker_prepare(work: Path, sizes: list[int], backends: list[str]) -> None:
    """Bundles for DeiT-S at each size, and their OpenVINO models compiled once (in a child)."""
    from irt_desktop.retrieval.bundle import load_bundle
    from irt_desktop.retrieval.serving import cpu_bf16_native
    from irt_desktop.retrieval.spec import ModelSpec
    from irt_desktop.retrieval.weights import random_init_bundle

    for px in sizes:
        folder = work / "models"
        found = sorted(folder.glob(f"deit-s-{px}-*")) if folder.is_dir() else []
        spec = ModelSpec(input_size=px)
        bundle = load_bundle(found[0]) if found else random_init_bundle(spec, f"deit-s-{px}", folder)
        row = {"px": px, "bundle": str(bundle.path), "id": bundle.id}
        if "openvino" in backends:
            from irt_desktop.retrieval.openvino_cache import compile_in_child

            precision = "bf16" if cpu_bf16_native() else "f32"
            t = time.monotonic()
            compiled = compile_in_child(Path(bundle.path), bundle.id, precision)
            row.update(precision=precision, agreement=compiled.agreement, compile_s=time.monotonic() - t)
        perfkit.emit(**row)


def _open(backend: str, bundle_dir: str):
    from irt_desktop.retrieval.bundle import load_bundle
    from irt_desktop.retrieval.serving import open_bundle

    bundle = load_bundle(Path(bundle_dir))
    served = open_bundle(bundle, backend=backend, device="cpu", compile_if_missing=False)
    if served.backend != backend:
        raise SystemExit(f"{backend} did not serve: {served.fallback}")
    return served.embedder


def worker_model(backend: str, bundles: dict[int, str], batches: list[int], seconds: float) -> None:
    import numpy as np

    for px, bundle_dir in bundles.items():
        embedder = _open(backend, bundle_dir)
        rng = np.random.default_rng(0)
        for batch in batches:
            x = rng.standard_normal((batch, 3, px, px), dtype=np.float32)
            embedder.embed_array(x)  # warm-up: kernel selection, the latency model's compilation
            embedder.embed_array(x)
            done, calls, t = 0, 0, time.perf_counter()
            while calls < 3 or time.perf_counter() - t < seconds:
                embedder.embed_array(x)
                done += batch
                calls += 1
            perfkit.emit(
                backend=backend,
                px=px,
                batch=batch,
                img_s=done / (time.perf_counter() - t),
                precision=embedder.precision,
                torch_loaded="torch" in sys.modules,
            )


def worker_gemm(kind: str, seconds: float) -> None:
    rate = perfkit.gemm_torch(seconds) if kind == "gemm-torch" else perfkit.gemm_openvino(seconds)
    perfkit.emit(kind=kind, flops=rate)


# -- the parent ----------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="torch,openvino")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per cell and process")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--no-gemm", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "irt-bench-descriptor")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--bundles", help=argparse.SUPPRESS)
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    os.environ["IRT_CACHE_DIR"] = str(args.work / "cache")

    if args.worker == "prepare":
        worker_prepare(args.work, sizes, backends)
        return 0
    if args.worker in ("torch", "openvino"):
        bundles = {int(k): v for k, v in json.loads(args.bundles).items()}
        worker_model(args.worker, bundles, batches, args.seconds)
        return 0
    if args.worker in GEMM_KINDS.values():
        worker_gemm(args.worker, args.seconds)
        return 0

    def say(text: str = "") -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    say(f"{perfkit.cpu_line()}; load {perfkit.load()}")
    t = time.monotonic()
    prepared = perfkit.run_worker(
        HERE,
        [
            "--worker",
            "prepare",
            "--work",
            str(args.work),
            "--sizes",
            args.sizes,
            "--backends",
            ",".join(backends),
        ],
    )
    for p in prepared:
        extra = f", OpenVINO {p['precision']} (agreement {p['agreement']:.6f})" if "precision" in p else ""
        say(f"DeiT-S {p['px']} px: {p['id']}{extra}")
    say(f"prepared in {time.monotonic() - t:.1f} s")
    bundles = json.dumps({p["px"]: p["bundle"] for p in prepared})
    kinds = list(backends) + ([] if args.no_gemm else [GEMM_KINDS[b] for b in backends if b in GEMM_KINDS])

    def one(kind: str) -> list[dict]:
        common = ["--worker", kind, "--work", str(args.work), "--seconds", str(args.seconds)]
        if kind in backends:
            common += ["--bundles", bundles, "--batches", args.batches]
        return perfkit.run_worker(HERE, common)

    say(f"{args.rounds} rounds of {', '.join(kinds)}, alternated:")
    rows = perfkit.run_rounds(kinds, args.rounds, one, log=say)
    report(rows, backends, sizes, batches, args.rounds, say)
    if args.json:
        out = [
            {"backend": b, "px": px, "batch": n, "img_s": round(cell(rows, b, px, n), 2)}
            for b in backends
            for px in sizes
            for n in batches
        ]
        print("[\n" + ",\n".join(json.dumps(row) for row in out) + "\n]")
    return 0


def by_round(rows: list[dict], backend: str, px: int, batch: int) -> dict[int, float]:
    """round -> img/s of one cell."""
    return {
        r["round"]: r["img_s"]
        for r in rows
        if r.get("backend") == backend and r["px"] == px and r["batch"] == batch
    }


def cell(rows: list[dict], backend: str, px: int, batch: int) -> float:
    return perfkit.median(list(by_round(rows, backend, px, batch).values()))


def report(rows, backends, sizes, batches, rounds, say) -> None:
    gemm = {k: perfkit.median([r["flops"] for r in rows if r.get("kind") == k]) for k in GEMM_KINDS.values()}
    gemm = {k: v for k, v in gemm.items() if v == v}
    peak = max(gemm.values(), default=float("nan"))
    say("")
    say(f"medians of {rounds} rounds (img/s; range min-max in brackets)")
    header = f"{'px':>4} {'batch':>5} " + " ".join(f"{b:>22}" for b in backends)
    if len(backends) == 2:
        header += f" {backends[1] + '/' + backends[0]:>16}"
    say(header)
    for px in sizes:
        for n in batches:
            line = f"{px:>4} {n:>5} "
            per = [by_round(rows, b, px, n) for b in backends]
            for vals in per:
                v = list(vals.values())
                line += f" {perfkit.median(v):7.1f} [{min(v):5.1f}-{max(v):6.1f}]"
            if len(backends) == 2:
                ratios = [per[1][r] / per[0][r] for r in per[0] if r in per[1] and per[0][r] > 0]
                line += f" {perfkit.median(ratios):8.2f}x (same-round)"
            say(line)
    precisions = {(r["backend"], r["precision"]) for r in rows if "precision" in r}
    say("precision: " + ", ".join(f"{b} {p}" for b, p in sorted(precisions)))
    if any(r.get("backend") == "openvino" and r.get("torch_loaded") for r in rows):
        say("note: torch was imported in an OpenVINO worker")
    if not gemm:
        return
    say("")
    for kind, rate in gemm.items():
        vals = [r["flops"] / 1e9 for r in rows if r.get("kind") == kind]
        say(
            f"bf16 GEMM {perfkit.GEMM_N}^3 ({kind}): {rate / 1e9:7.1f} GFLOP/s median "
            f"[{min(vals):.1f}-{max(vals):.1f}]"
        )
    say(
        f"fraction of the better GEMM ({peak / 1e9:.1f} GFLOP/s) that DeiT-S reaches "
        "(img/s x GFLOP/img / GEMM):"
    )
    for px in sizes:
        flops = perfkit.deit_flops(px)
        for n in batches:
            parts = [f"{b} {cell(rows, b, px, n) * flops / peak:6.1%}" for b in backends]
            say(f"  {px:>4} px ({flops / 1e9:.2f} GFLOP/img) batch {n:>3}: " + "  ".join(parts))


if __name__ == "__main__":
    raise SystemExit(main())
