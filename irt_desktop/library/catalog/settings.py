"""Catalog: key/value settings (which model serves, which is being embedded, which served before it,
exclude patterns, measured embedding rates) and the registered models."""

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
PREVIOUS = "model.previous"  # served before the last completed switch; its vectors are kept to switch back
EMBED_RATE = "model.embed_rate"  # JSON {"model": id, "images_per_s": r, "at": unix time}: last measured
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

    def previous_model(self) -> str | None:
        """The model that served before the last switch (the one "switch back" returns to)."""
        return self.setting(PREVIOUS)

    def set_previous_model(self, tx: Tx, model_id: str | None) -> None:
        _put_setting(tx, PREVIOUS, model_id)

    # -- how fast this computer embeds ----------------------------------------------------------------

    def record_embed_rate(self, model_id: str, images_per_s: float) -> None:
        """Remember a measured indexing rate (what the cost of a model switch is estimated from)."""
        if not images_per_s > 0:
            return
        record = {"model": model_id, "images_per_s": float(images_per_s), "at": time.time()}
        self.set_setting(EMBED_RATE, json.dumps(record))

    def embed_rate(self) -> tuple[str, float] | None:
        """(model id, images/s) of the last measured indexing rate, if any was recorded."""
        raw = self.setting(EMBED_RATE)
        try:
            record = json.loads(raw) if raw else None
            if record and float(record["images_per_s"]) > 0:
                return str(record["model"]), float(record["images_per_s"])
        except (ValueError, KeyError, TypeError):
            pass
        return None

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

    def forget_model(self, model_id: str) -> None:
        """Drop a removed model's registration and its vectors (sliced deletes), and any setting that
        names it as the previous model. Never called for the serving or target model."""
        self.drop_model_vectors(model_id)
        with self.transaction() as tx:
            tx.execute("DELETE FROM models WHERE id = ?", (model_id,))
            if self.setting(PREVIOUS) == model_id:
                _put_setting(tx, PREVIOUS, None)

    def model_dim(self, model_id: str) -> int | None:
        value = self.scalar("SELECT dim FROM models WHERE id = ?", (model_id,))
        return None if value is None else int(value)


def _put_setting(tx: Tx, key: str, value: str | None) -> None:
    if value is None:
        tx.execute("DELETE FROM settings WHERE key = ?", (key,))
    else:
        tx.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, value))
