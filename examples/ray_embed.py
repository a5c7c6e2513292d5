"""Embed an irt-desktop manifest on Ray Data, for `irt-desktop import-vectors`.

An archive too large to embed on one desktop:

    irt-desktop index --scan-only /nas/photos            # catalogue, embed nothing
    irt-desktop export-manifest manifest.parquet          # the files still to embed, with content hashes
    python examples/ray_embed.py manifest.parquet vectors/ \\
        --bundle ~/.local/share/irt-desktop/models/<model-id>   # on the cluster (same paths mounted)
    irt-desktop import-vectors vectors/                   # checked: model id, each file's content hash

It runs the SAME descriptor as the library: the bundle whose id the manifest names (refused otherwise),
decoded and preprocessed by irt_desktop.library.decode (decode_file, Tensorizer) and embedded by the
serving embedder (irt_desktop.retrieval.serving.open_bundle), in `map_batches` with one model actor
per worker (`--workers`, each `--cpus-per-worker` CPUs, or `--gpus-per-worker` on a GPU cluster).
Keep --backend and --fp32 the same as the library's (`irt-desktop --backend ... index [--fp32]`) so
the vectors are bit-for-bit what indexing would have stored, up to the hardware's own rounding.

Ray is told not to report usage statistics (RAY_USAGE_STATS_ENABLED=0, set before Ray is imported).
`--address auto` joins a running cluster; without it a local Ray is started with `--cpus` CPUs.
Needs the `cluster` extra: pip install 'irt-desktop[cluster]'.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported: no usage statistics, no prompt


class EmbedActor:
    """One per Ray worker: loads the bundle once, then embeds batch after batch."""

    def __init__(
        self, bundle: str, model_id: str | None, backend: str | None, low_precision: bool, batch: int
    ) -> None:
        from irt_desktop.library.bulk_embed import ManifestEmbedder

        self.embedder = ManifestEmbedder(
            bundle, model_id=model_id, backend=backend, low_precision=low_precision, batch_size=batch
        )

    def __call__(self, batch: dict) -> object:
        return self.embedder.embed([str(p) for p in batch["path"]])


def embed_manifest(
    manifest: Path,
    out: Path,
    bundle: Path,
    *,
    workers: int = 2,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    batch_size: int = 64,
    backend: str | None = None,
    low_precision: bool = True,
) -> int:
    """Run the job on the Ray already initialised; the number of rows written."""
    import ray

    from irt_desktop.library.bulk_embed import manifest_model

    model_id = manifest_model(manifest)
    # Several blocks per actor, so every actor has work (a manifest is one or a few row groups).
    ds = ray.data.read_parquet(str(manifest)).select_columns(["path"]).repartition(4 * workers)
    vectors = ds.map_batches(
        EmbedActor,
        fn_constructor_kwargs={
            "bundle": str(bundle),
            "model_id": model_id,
            "backend": backend,
            "low_precision": low_precision,
            "batch": min(batch_size, 64),
        },
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=workers,
        num_cpus=cpus_per_worker,
        num_gpus=gpus_per_worker,
    )
    vectors.write_parquet(str(out))
    return ray.data.read_parquet(str(out)).count()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path, help="from `irt-desktop export-manifest`")
    ap.add_argument("out", type=Path, help="folder for the vectors' Parquet files (import-vectors reads it)")
    ap.add_argument("--bundle", type=Path, required=True, help="the model's bundle folder")
    ap.add_argument("--address", default=None, help="a running Ray cluster (auto: the one here)")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of a local Ray (default 2)")
    ap.add_argument("--workers", type=int, default=2, help="model actors (default 2)")
    ap.add_argument("--cpus-per-worker", type=float, default=1.0)
    ap.add_argument("--gpus-per-worker", type=float, default=0.0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--backend", choices=("auto", "torch", "openvino"), default=None)
    ap.add_argument("--fp32", action="store_true", help="no bf16/fp16 (as `irt-desktop index --fp32`)")
    args = ap.parse_args(argv)

    import ray

    if args.address:
        ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    try:
        n = embed_manifest(
            args.manifest,
            args.out,
            args.bundle,
            workers=args.workers,
            cpus_per_worker=args.cpus_per_worker,
            gpus_per_worker=args.gpus_per_worker,
            batch_size=args.batch_size,
            backend=args.backend,
            low_precision=not args.fp32,
        )
    finally:
        ray.shutdown()
    print(f"{args.out}: {n} rows; next: irt-desktop import-vectors {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
