"""Serving descriptors with OpenVINO on the CPU: a compiled model read from the cache, no torch.

The compiled model holds the backbone and the token pooling; the PCA (when the bundle has one) and the L2
normalisation follow in numpy float32, as in the torch path, so the output is the descriptor and the
indexing and search path never imports torch, timm or torchvision.
Conversion (which needs torch) is `openvino_convert`, run in a child process (`openvino_cache`).

Two compiled models serve two kinds of request, each compiled when first needed: a throughput one
for indexing batches (one stream per core, one request per stream, the batch split across them) and a
latency one for a single query (one stream over every core). A query during indexing runs beside the
batch rather than waiting for it. Torch must not compute in the same process (two thread pools on
two cores slowed eager torch 60x here): training and conversion run in child processes.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from irt_desktop.retrieval.spec import ModelSpec

# Off before anything of OpenVINO's model tools is imported: with no consent file its telemetry would
# otherwise send events; the tools fall back to their own stub when the package cannot be imported.
sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]

BACKEND = "openvino"


def openvino_version() -> str | None:
    """The installed OpenVINO runtime's version, or None when there is no wheel for this platform."""
    try:
        import openvino
    except ImportError:
        return None
    return str(openvino.get_version()).split("-")[0]


def cpu_precisions() -> set[str]:
    """What OpenVINO's CPU plugin runs natively here ('BF16', 'FP32', ...)."""
    import openvino as ov

    return set(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


class OpenVINOEmbedder:
    """A compiled descriptor model: float32 NCHW arrays in, L2-normalised descriptors out.

    Safe to call from several threads: a batch (the indexing worker) and a single query (a search) run
    side by side on requests of their own; two batches, or two queries, take turns."""

    backend = BACKEND
    device = "cpu"

    def __init__(
        self,
        xml: Path,
        spec: ModelSpec,
        dim: int,
        model_id: str,
        precision: str = "f32",
        batch_size: int = 32,
        threads: int | None = None,
        pca: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """`pca`: (weight out x in, bias out) applied to the pooled features in float32."""
        import openvino as ov

        self.spec = spec
        self.dim = int(dim)
        self.model_id = model_id
        self.batch_size = batch_size
        self.precision = "bf16" if precision == "bf16" else "fp32"
        self._core = ov.Core()
        self._model = self._core.read_model(str(xml))
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self._config = config
        # Each model is compiled when first needed (~0.2 s each here): a search after launch needs only
        # the latency one, indexing only the throughput one.
        self._throughput: Any = None
        self._streams = 1
        self._requests: list[Any] = []
        self._batch_lock = threading.Lock()
        self._latency: Any = None
        self._latency_request: Any = None
        self._query_lock = threading.Lock()
        self._pca = None if pca is None else (np.asarray(pca[0], np.float32), np.asarray(pca[1], np.float32))

    def _compile(self, hint: str) -> Any:
        return self._core.compile_model(self._model, "CPU", {**self._config, "PERFORMANCE_HINT": hint})

    def embed_array(self, x: np.ndarray) -> np.ndarray:
        """Descriptors (n x dim, float32) of a preprocessed batch (n x 3 x H x W, float32)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = len(x)
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        if n == 1:
            with self._query_lock:
                features = self._run_latency(x)
        else:
            with self._batch_lock:
                features = self._run_streams(x)
        return self._tail(features)

    def _tail(self, features: np.ndarray) -> np.ndarray:
        """PCA and L2 in float32 (PCAProjection and F.normalize in the torch path)."""
        z = features.astype(np.float32, copy=False)
        if self._pca is not None:
            weight, bias = self._pca
            z = z @ weight.T + bias
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        return (z / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)

    def warm_up(self) -> None:
        """Compile the latency model and run it once, so the first real query pays for neither."""
        size = self.spec.input_size
        self.embed_array(np.zeros((1, 3, size, size), np.float32))

    def _run_latency(self, x: np.ndarray) -> np.ndarray:
        if self._latency_request is None:
            self._latency = self._compile("LATENCY")
            self._latency_request = self._latency.create_infer_request()
        return _output(self._latency_request.infer({0: x}))

    def _run_streams(self, x: np.ndarray) -> np.ndarray:
        """Split the batch across the streams so every core works; results keep the input order."""
        if self._throughput is None:
            self._throughput = self._compile("THROUGHPUT")
            self._streams = max(1, int(self._throughput.get_property("NUM_STREAMS")))
            # One request per stream, made once. No Python callbacks: a callback needs the GIL on an
            # OpenVINO stream thread, and wait() can return before that thread has taken it; the caller,
            # holding the GIL, could then free the compiled model while the stream thread waits for it
            # (a deadlock seen in conversion children).
            self._requests = [self._throughput.create_infer_request() for _ in range(self._streams)]
        chunks = np.array_split(x, min(self._streams, len(x)))
        if len(chunks) == 1:
            return _output(self._requests[0].infer({0: chunks[0]}))
        requests = self._requests[: len(chunks)]
        for request, chunk in zip(requests, chunks, strict=True):
            request.start_async({0: np.ascontiguousarray(chunk)})
        out = []
        for request in requests:
            request.wait()
            out.append(np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True))
        return np.concatenate(out)


def _output(result: Any) -> np.ndarray:
    return np.array(next(iter(result.values())), dtype=np.float32, copy=True)
