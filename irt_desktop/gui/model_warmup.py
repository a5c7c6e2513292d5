"""The serving model loaded right after the library opens, so the first search does not wait for it.

The window never waits: loading runs in the library lane like any library call, ahead of the first
search, which the lane then answers with the model ready (OpenVINO: the compiled model read and its
latency model compiled and run once; torch: the module loaded and run once). A search asked for while
the model is still being prepared says so ("Preparing the model…") instead of "Searching…".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from irt_desktop.gui.library_client import LibraryClient

log = logging.getLogger(__name__)

PREPARING = "Preparing the model…"


def prepare_model(library: Any) -> str | None:
    """Worker side: load the serving model, embed one blank image with it, load its vector index."""
    model_id = getattr(library, "model_id", None)
    if model_id is None:
        return None  # nothing serves yet: the first indexing pass adopts a model
    from PIL import Image

    size = int(library.embedder(model_id).spec.input_size)
    library.embed_images([Image.new("RGB", (size, size))], model_id)
    cache = getattr(library, "vector_cache", None)
    if cache is not None:
        cache.index_for(model_id)
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
