"""Watched folders: adding them without overlaps, and their status as the GUI shows it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from irt_desktop.library.catalog import Catalog
from irt_desktop.library.errors import LibraryError
from irt_desktop.library.records import Root


@dataclass(frozen=True)
class RootRow:
    id: int
    path: str
    recursive: bool
    follow_symlinks: bool
    network: bool
    online: bool
    scanned_at: float | None

    def covers(self, path: str) -> bool:
        """True if a file at `path` belongs to this root (recursion taken into account)."""
        if not is_under(path, self.path):
            return False
        return self.recursive or os.path.dirname(path) == self.path


def canonical(path: Path | str) -> str:
    """Absolute, symlink-free, case-normalised where the platform ignores case: one folder, one string."""
    return os.path.normcase(os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(path)))))


def is_under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def prefix_range(folder: str) -> tuple[str, str]:
    """[lo, hi) bounds that select the strings under `folder/` with an index range scan (no LIKE escaping)."""
    lo = folder.rstrip(os.sep) + os.sep
    return lo, lo[:-1] + chr(ord(os.sep) + 1)


def list_roots(catalog: Catalog) -> list[RootRow]:
    rows = catalog.conn.execute(
        "SELECT id, path, recursive, follow_symlinks, network, online, scanned_at FROM roots ORDER BY path"
    ).fetchall()
    return [RootRow(r[0], r[1], bool(r[2]), bool(r[3]), bool(r[4]), bool(r[5]), r[6]) for r in rows]


def add_root(
    catalog: Catalog, path: Path, *, recursive: bool, network: bool, follow_symlinks: bool = False
) -> int:
    """The id of the root that covers `path` after adding it.

    Overlaps are folded rather than refused: a folder already covered (the same folder, or one inside a
    recursive root) returns the covering root; a recursive folder that contains existing roots absorbs
    them, keeping their images (and so their vectors) under the new root.
    """
    target = canonical(path)
    if not os.path.isdir(target):
        raise LibraryError(f"{path} is not a folder (or is not reachable now)")
    with catalog.transaction():
        for root in list_roots(catalog):
            if root.path == target or (root.recursive and is_under(target, root.path)):
                if root.path == target and recursive and not root.recursive:
                    catalog.conn.execute("UPDATE roots SET recursive = 1 WHERE id = ?", (root.id,))
                return root.id
        now = time.time()
        cur = catalog.conn.execute(
            "INSERT INTO roots(path, recursive, follow_symlinks, network, online, added_at) "
            "VALUES (?, ?, ?, ?, 1, ?)",
            (target, int(recursive), int(follow_symlinks), int(network), now),
        )
        root_id = int(cur.lastrowid)
        if recursive:
            for root in list_roots(catalog):
                if root.id != root_id and is_under(root.path, target):
                    catalog.conn.execute(
                        "UPDATE images SET root_id = ? WHERE root_id = ?", (root_id, root.id)
                    )
                    catalog.conn.execute("DELETE FROM roots WHERE id = ?", (root.id,))
    return root_id


def root_records(catalog: Catalog, pending_model: str | None) -> list[Root]:
    counts: dict[int, dict[str, int]] = {}
    for root_id, status, n in catalog.conn.execute(
        "SELECT root_id, status, count(*) FROM images WHERE status != 'deleted' GROUP BY root_id, status"
    ):
        counts.setdefault(root_id, {})[status] = n
    pending: dict[int, int] = {}
    if pending_model is not None:
        pending = dict(
            catalog.conn.execute(
                "SELECT root_id, count(*) FROM images i WHERE status IN ('pending', 'ok') AND NOT EXISTS "
                "(SELECT 1 FROM vectors v WHERE v.model_id = ? AND v.image_id = i.id) GROUP BY root_id",
                (pending_model,),
            ).fetchall()
        )
    else:
        pending = {rid: c.get("pending", 0) + c.get("ok", 0) for rid, c in counts.items()}
    out = []
    for row in list_roots(catalog):
        c = counts.get(row.id, {})
        n_images = sum(c.values())
        n_failed = c.get("failed", 0)
        n_pending = pending.get(row.id, 0)
        if not row.online:
            status = "offline"
        elif row.scanned_at is None or n_pending:
            status = "pending"
        elif n_failed:
            status = "errors"
        else:
            status = "indexed"
        out.append(
            Root(
                id=row.id,
                path=Path(row.path),
                recursive=row.recursive,
                network=row.network,
                follow_symlinks=row.follow_symlinks,
                status=status,
                n_images=n_images,
                n_failed=n_failed,
                n_pending=n_pending,
            )
        )
    return out
