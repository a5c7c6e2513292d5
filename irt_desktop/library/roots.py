"""Watched folders: the one place that adds (without overlaps), removes and describes them.

Threads: any thread. `remove()` changes FAISS and the catalog together, under the vector cache's
mutation (index lock, then the write transaction).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from irt_desktop.library.catalog import Catalog
from irt_desktop.library.errors import LibraryError
from irt_desktop.library.folders import RootRow, canonical, is_under
from irt_desktop.library.records import ImageStatus, Root, RootStatus
from irt_desktop.library.vector_cache import VectorCache


class Roots:
    def __init__(self, catalog: Catalog, vectors: VectorCache) -> None:
        self._catalog = catalog
        self._vectors = vectors

    def rows(self) -> list[RootRow]:
        return self._catalog.root_rows()

    def add(self, path: Path | str, *, recursive: bool, network: bool, follow_symlinks: bool = False) -> int:
        """The id of the root that covers `path` after adding it.

        Overlaps are folded rather than refused: a folder already covered (the same folder, or one inside
        a recursive root) returns the covering root; a recursive folder that contains existing roots
        absorbs them, keeping their images (and so their vectors) under the new root.
        """
        target = canonical(path)
        if not os.path.isdir(target):
            raise LibraryError(f"{path} is not a folder (or is not reachable now)")
        catalog = self._catalog
        with catalog.transaction() as tx:
            for root in catalog.root_rows():
                if root.path == target or (root.recursive and is_under(target, root.path)):
                    if root.path == target and recursive and not root.recursive:
                        catalog.make_root_recursive(tx, root.id)
                    if root.path == target and follow_symlinks and not root.follow_symlinks:
                        catalog.set_root_follow_symlinks(tx, root.id, True)
                    return root.id
            root_id = catalog.insert_root(
                tx, target, recursive=recursive, follow_symlinks=follow_symlinks, network=network
            )
            if recursive:
                for root in catalog.root_rows():
                    if root.id != root_id and is_under(root.path, target):
                        catalog.merge_root_into(tx, root.id, root_id)
        return root_id

    def remove(self, root_id: int) -> None:
        """Forget a folder and everything indexed under it (the files themselves are not touched)."""
        with self._vectors.mutation() as tx:
            ids = self._catalog.delete_root(tx, root_id)
            if ids is None:
                raise LibraryError(f"there is no folder with id {root_id}")
            self._vectors.remove(np.asarray(ids, np.int64))

    def records(self, pending_model: str | None) -> list[Root]:
        """Every root with its counts and status; pending = images `pending_model` has not embedded."""
        counts = self._catalog.root_status_counts()
        if pending_model is not None:
            pending = self._catalog.root_pending_counts(pending_model)
        else:
            pending = {
                rid: c.get(ImageStatus.PENDING, 0) + c.get(ImageStatus.OK, 0) for rid, c in counts.items()
            }
        skipped = self._catalog.skipped_counts()
        out = []
        for row in self._catalog.root_rows():
            c = counts.get(row.id, {})
            n_failed = c.get(ImageStatus.FAILED, 0)
            n_pending = pending.get(row.id, 0)
            if not row.online:
                status = RootStatus.OFFLINE
            elif row.scanned_at is None or n_pending:
                status = RootStatus.PENDING
            elif n_failed:
                status = RootStatus.ERRORS
            else:
                status = RootStatus.INDEXED
            out.append(
                Root(
                    id=row.id,
                    path=Path(row.path),
                    recursive=row.recursive,
                    network=row.network,
                    follow_symlinks=row.follow_symlinks,
                    status=status,
                    n_images=sum(c.values()),
                    n_failed=n_failed,
                    n_pending=n_pending,
                    n_skipped=skipped.get(row.id, 0),
                )
            )
        return out
