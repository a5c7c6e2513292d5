"""The library's shape, checked on its source: SQL has one home, and the package imports lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import irt_desktop.library

LIBRARY = Path(irt_desktop.library.__file__).parent
# The catalog package and the schema's migrations: the only modules that may talk to SQLite.
SQL_HOMES = {"catalog", "schema.py"}
SQL_CALLS = {"execute", "executemany", "executescript"}
SQL_MODULES = {"sqlite3", "sqlite_utils"}


def _is_sql_home(path: Path) -> bool:
    return path.relative_to(LIBRARY).parts[0] in SQL_HOMES


def _sql_uses(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
        ):
            found.append(f"line {node.lineno}: .{node.func.attr}()")
        elif isinstance(node, ast.Attribute) and node.attr == "conn":
            found.append(f"line {node.lineno}: .conn")
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if _sql_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and _sql_module(node.module):
            found.append(f"line {node.lineno}: from {node.module} import ...")
    return found


def _sql_module(name: str) -> bool:
    return name.split(".")[0] in SQL_MODULES


def test_sql_lives_only_in_the_catalog_and_the_schema():
    sources = sorted(LIBRARY.rglob("*.py"))
    assert any(p.parent.name == "catalog" for p in sources) and (LIBRARY / "schema.py") in sources
    offences = {}
    for path in sources:
        if _is_sql_home(path):
            continue
        found = _sql_uses(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if found:
            offences[str(path.relative_to(LIBRARY))] = found
    assert not offences, f"SQL outside library/catalog/ and schema.py: {offences}"


def test_the_check_itself_sees_sql():
    sample = (
        "import sqlite3\nfrom sqlite_utils import Database\nx.conn.execute('SELECT 1')\ny.executemany(q, r)\n"
    )
    assert len(_sql_uses(ast.parse(sample))) == 5  # two imports, .conn, .execute, .executemany


def test_records_and_errors_import_without_torch_or_faiss():
    code = (
        "import sys\n"
        "import irt_desktop.library\n"
        "from irt_desktop.library import records, errors\n"
        "from irt_desktop.library import LibraryError, NoModelError, ImageInfo, ImageStatus\n"
        "assert errors.NoModelError is NoModelError and records.ImageStatus.OK == 'ok'\n"
        "heavy = sorted(m for m in ('torch', 'faiss') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "from irt_desktop.library import Library\n"  # the facade brings FAISS; torch waits for a model
        "assert 'faiss' in sys.modules  # torch only once a torch-backed model is loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_unknown_names_are_attribute_errors():
    import pytest

    with pytest.raises(AttributeError):
        _ = irt_desktop.library.NoSuchThing
    assert {"Library", "LibraryError", "ImageStatus"} <= set(dir(irt_desktop.library))
