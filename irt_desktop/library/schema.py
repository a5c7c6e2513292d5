"""The catalog's schema as an ordered list of migrations; PRAGMA user_version records how far a file is.

Migrations only ever get appended. Each one runs in its own transaction, so a crash mid-upgrade leaves
the file at the previous version, and the next open simply tries again.
"""

from __future__ import annotations

import sqlite3

from irt_desktop.library.errors import SchemaTooNew

MIGRATIONS: list[list[str]] = [
    # 1: the first catalog.
    [
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT
        )""",
        """CREATE TABLE models (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            dim INTEGER NOT NULL,
            path TEXT,
            added_at REAL NOT NULL
        )""",
        """CREATE TABLE roots (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            recursive INTEGER NOT NULL DEFAULT 1,
            follow_symlinks INTEGER NOT NULL DEFAULT 0,
            network INTEGER NOT NULL DEFAULT 0,
            online INTEGER NOT NULL DEFAULT 1,
            added_at REAL NOT NULL,
            scanned_at REAL
        )""",
        """CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            quick_hash TEXT,
            width INTEGER,
            height INTEGER,
            exif_taken REAL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'ok', 'failed', 'deleted')),
            reason TEXT,
            added_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            deleted_at REAL
        )""",
        "CREATE INDEX images_root_status ON images(root_id, status)",
        "CREATE INDEX images_size ON images(size)",
        # Clustered by model so one model's vectors load in one sequential pass; `seq` changes on every
        # write, which is what lets a saved FAISS file prove it matches the catalog.
        """CREATE TABLE vectors (
            model_id TEXT NOT NULL REFERENCES models(id),
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model_id, image_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX vectors_image ON vectors(image_id)",
    ],
    # 2: full-content hashes, filled lazily to confirm exact duplicates; quick-hash lookups for them.
    [
        "ALTER TABLE images ADD COLUMN full_hash TEXT",
        "CREATE INDEX images_quick_hash ON images(quick_hash, size)",
    ],
    # 3: the file systems each root was on when last seen (the root itself and the mount points under
    # it), so a scan tells an unmounted or replaced one from deleted photos; and the names scans had to
    # skip (not UTF-8, too long, unreadable folders, symlinks not followed, files that are not regular).
    [
        """CREATE TABLE root_mounts (
            root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            device INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            mount INTEGER NOT NULL,
            seen_at REAL NOT NULL,
            away_since REAL,
            PRIMARY KEY (root_id, path)
        )""",
        """CREATE TABLE skipped_files (
            path TEXT PRIMARY KEY,
            root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            seen_at REAL NOT NULL
        )""",
        "CREATE INDEX skipped_files_root ON skipped_files(root_id)",
    ],
    # 4: failures carry a kind (transient ones are retried with backoff); a file being decoded is marked
    # first, so one that kills the process is known on the next run (`unfinished` counts such attempts).
    [
        "ALTER TABLE images ADD COLUMN failure_kind TEXT",
        "ALTER TABLE images ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE images ADD COLUMN retry_at REAL",
        "ALTER TABLE images ADD COLUMN unfinished INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX images_unfinished ON images(id) WHERE unfinished > 0",
        """CREATE TABLE decoding (
            image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
            pid INTEGER NOT NULL,
            alone INTEGER NOT NULL DEFAULT 0,
            started_at REAL NOT NULL
        )""",
        # Failures recorded before kinds existed: read errors may pass, so they are tried at the next scan.
        """UPDATE images SET attempts = 1,
            failure_kind = CASE WHEN reason IN ('permission denied', 'file not found')
                OR reason LIKE 'cannot read%' OR reason LIKE 'cannot open%'
                THEN 'transient' ELSE 'permanent' END,
            retry_at = CASE WHEN reason IN ('permission denied', 'file not found')
                OR reason LIKE 'cannot read%' OR reason LIKE 'cannot open%' THEN 0 END
            WHERE status = 'failed'""",
    ],
    # 5: the trash journal: each trash action (the duplicates review's) and, per file, where it went
    # (the trash folder's copy and its .trashinfo record), so undo works after a restart and for the
    # last several actions, not only the last one while the app stays open.
    [
        """CREATE TABLE trash_actions (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            label TEXT NOT NULL,
            undone_at REAL
        )""",
        """CREATE TABLE trash_items (
            action_id INTEGER NOT NULL REFERENCES trash_actions(id) ON DELETE CASCADE,
            image_id INTEGER,
            original TEXT NOT NULL,
            trashed TEXT NOT NULL,
            info TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 0,
            restored_at REAL,
            PRIMARY KEY (action_id, original)
        )""",
    ],
    # 6: the state a saved FAISS file is checked against (every vector's id and write generation) and
    # the per-model counts, read from a narrow index instead of the table, whose pages also hold the
    # vector BLOBs: at 10^6 vectors that read went from seconds to a tenth of that, at every open and
    # save of the index.
    [
        "CREATE INDEX IF NOT EXISTS vectors_state ON vectors(model_id, image_id, seq)",
    ],
    # 7: the capture date as a filtered search reads it (catalog/search_filters.py's _TAKEN, the same
    # expression, or SQLite does not use it): one month of 10^6 photos was a scan of every row.
    [
        "CREATE INDEX IF NOT EXISTS images_taken ON images(coalesce(exif_taken, mtime_ns / 1e9))",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the catalog up to `target`; returns the version it was at. `conn` must be in autocommit mode."""
    start = schema_version(conn)
    if start > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the catalog is at schema version {start}, newer than this irt-desktop understands "
            f"({SCHEMA_VERSION}); update irt-desktop or use another --library folder"
        )
    for version in range(start + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            if schema_version(conn) >= version:
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return start
