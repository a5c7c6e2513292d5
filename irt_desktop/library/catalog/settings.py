"""Catalog: key/value settings (which model serves, which is being embedded, exclude patterns) and the
registered models."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from irt_desktop.library.catalog.base import CatalogBase, Tx
from irt_desktop.library.errors import LibraryUnavailable
from irt_desktop.library.excludes import parse_stored

SERVING = "model.serving"  # answers searches; its vector set is complete
TARGET = "model.target"  # being embedded after activate_model(); absent when no switch is running
EXCLUDE = "scan.exclude"  # JSON list of the user's exclude patterns (irt_desktop.library.excludes)


class SettingsMixin(CatalogBase):
    def setting(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM settings WHERE key = ?", (key,))
        return default if value is None else str(value)

    def set_setting(self, key: str, value: str | None) -> None:
        """Store (None: remove) one setting in its own transaction."""
        with self.transaction() as tx:
            _put_setting(tx, key, value)

    # -- the serving and target model ----------------------------------------------------------------

    def serving_model(self) -> str | None:
        return self.setting(SERVING)

    def target_model(self) -> str | None:
        return self.setting(TARGET)

    def set_serving_model(self, tx: Tx, model_id: str) -> None:
        """`model_id` answers searches from this commit on; a switch to it (if any) is over."""
        _put_setting(tx, SERVING, model_id)
        _put_setting(tx, TARGET, None)

    def set_target_model(self, tx: Tx, model_id: str) -> None:
        """`model_id` is embedded next while the serving model keeps answering searches."""
        _put_setting(tx, TARGET, model_id)

    # -- exclude patterns ----------------------------------------------------------------------------

    def stored_exclude_patterns(self) -> list[str] | None:
        """The patterns last stored; None if they never were (not the same as stored as empty)."""
        raw = self.setting(EXCLUDE)
        return None if raw is None else parse_stored(raw)

    def store_exclude_patterns(self, patterns: list[str]) -> None:
        self.set_setting(EXCLUDE, json.dumps(list(patterns)))

    # -- models --------------------------------------------------------------------------------------

    def register_model(self, model_id: str, name: str, dim: int, path: Path | None) -> None:
        """Known from now on (a model registered again only updates where its bundle is). Nothing is
        written when the catalog says so already, so a reader's search does not need to write."""
        where = None if path is None else str(path)
        known = self.conn.execute("SELECT path FROM models WHERE id = ?", (model_id,)).fetchone()
        if known is not None and known[0] == where:
            return
        # Only where its bundle is now (the library folder moved, or is seen through another mount):
        # a reader that cannot write now leaves it for the next writer.
        skip = (LibraryUnavailable,) if known is not None else ()
        with contextlib.suppress(*skip), self.transaction() as tx:
            tx.execute(
                "INSERT INTO models(id, name, dim, path, added_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET path = excluded.path",
                (model_id, name, dim, where, time.time()),
            )

    def model_dim(self, model_id: str) -> int | None:
        value = self.scalar("SELECT dim FROM models WHERE id = ?", (model_id,))
        return None if value is None else int(value)


def _put_setting(tx: Tx, key: str, value: str | None) -> None:
    if value is None:
        tx.execute("DELETE FROM settings WHERE key = ?", (key,))
    else:
        tx.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, value))
