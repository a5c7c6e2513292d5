"""The serving model loaded right after the library opens, so the first search does not wait for it.

The window never waits: loading runs in the library lane like any library call, ahead of the first
search, which the lane then answers with the model ready (OpenVINO: the compiled model read and its
latency model compiled and run once; torch: the module loaded and run once). A search asked for while
the model is still being prepared says so ("Preparing the model…") instead of "Searching…".
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from irt_desktop.gui.library_client import LibraryClient

log = logging.getLogger(__name__)

PREPARING = "Preparing the model…"


def prepare_model(library: Any) -> str | None:
    """Worker side: load the serving model and embed one blank image with it, while another thread
    loads its vector index; back when both are ready."""
    model_id = getattr(library, "model_id", None)
    if model_id is None:
        return None  # nothing serves yet: the first indexing pass adopts a model
    from PIL import Image

    cache = getattr(library, "vector_cache", None)
    # Side by side, on the two cores: at 10^6 photos the index file is 734 MB to read, check and parse
    # (~1 s) and the compiled model ~1 s to read and warm up, both mostly outside the GIL; one after the
    # other they were the 2 s before the first result.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-load") as pool:
        index = pool.submit(cache.index_for, model_id) if cache is not None else None
        size = int(library.embedder(model_id).spec.input_size)
        library.embed_images([Image.new("RGB", (size, size))], model_id)
        if index is not None:
            index.result()
    return model_id


def prepare_after_open(client: LibraryClient) -> None:
    """Queue prepare_model in the client's library lane; `is_preparing(client)` until it has run."""
    client.preparing_model = True  # type: ignore[attr-defined]

    def done(_: object) -> None:
        client.preparing_model = False  # type: ignore[attr-defined]

    def failed(exc: BaseException) -> None:
        done(None)
        log.info("the model was not prepared ahead of the first search: %s", exc)

    client.submit(prepare_model, done, failed, name="prepare the model")


def is_preparing(client: object) -> bool:
    return bool(getattr(client, "preparing_model", False))
