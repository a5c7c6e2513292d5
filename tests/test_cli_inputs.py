"""Nonsense arguments and wrong --library folders: one line, the right exit status, nothing created.

Exit status (README, "Exit status"): 2 for bad input, a mistyped --library included (there is no library
there: the fix is in the command line); 1 for a library that cannot do it now.
"""

from __future__ import annotations

import pytest
from imagegen import save_photo

from irt_desktop.cli import main
from irt_desktop.library import Library

MISSING = "{tmp}/no-such-library"
A_FILE = "{tmp}/a-file.txt"
LIB = "{tmp}/lib"
QUERY = "{tmp}/query.jpg"

CASES = [
    # (argv, exit status, the start of the one line after "irt-desktop: ")
    ([LIB, "search", QUERY, "-k", "-1"], 2, "-k must be a positive number of results, not -1"),
    ([LIB, "search", QUERY, "-k", "0"], 2, "-k must be a positive number of results, not 0"),
    ([LIB, "search", QUERY, "--min-score", "nan"], 2, "--min-score must be a score from -1 to 1, not nan"),
    ([LIB, "search", QUERY, "--min-score", "1.5"], 2, "--min-score must be a score from -1 to 1, not 1.5"),
    ([LIB, "search", QUERY, "--min-score", "-2"], 2, "--min-score must be a score from -1 to 1, not -2.0"),
    ([LIB, "search", QUERY, "--root", "999"], 2, "no folder with id 999 in this library"),
    ([LIB, "index", "--batch-size", "0"], 2, "--batch-size must be a positive number of images, not 0"),
    ([LIB, "index", "--batch-size", "-3"], 2, "--batch-size must be a positive number of images, not -3"),
    ([LIB, "index", "--wait", "-1"], 2, "--wait takes a number of seconds (0 or more), not -1.0"),
    ([LIB, "index", "--wait", "nan"], 2, "--wait takes a number of seconds (0 or more), not nan"),
    ([LIB, "duplicates", "--threshold", "0"], 2, "--threshold must be a score above 0 and at most 1"),
    ([LIB, "duplicates", "--threshold", "nan"], 2, "--threshold must be a score above 0 and at most 1"),
    ([LIB, "duplicates", "--threshold", "1.5"], 2, "--threshold must be a score above 0 and at most 1"),
    ([MISSING, "status"], 2, "no library at {tmp}/no-such-library"),
    ([MISSING, "search", QUERY], 2, "no library at {tmp}/no-such-library"),
    ([MISSING, "duplicates"], 2, "no library at {tmp}/no-such-library"),
    ([MISSING, "models", "list"], 2, "no library at {tmp}/no-such-library"),
    ([A_FILE, "status"], 2, "{tmp}/a-file.txt is a file, not a library folder"),
    ([A_FILE, "search", QUERY], 2, "{tmp}/a-file.txt is a file, not a library folder"),
    ([A_FILE, "duplicates"], 2, "{tmp}/a-file.txt is a file, not a library folder"),
    ([A_FILE, "models", "list"], 2, "{tmp}/a-file.txt is a file, not a library folder"),
    ([A_FILE, "index", "{tmp}"], 2, "{tmp}/a-file.txt is a file, not a library folder"),
    ([A_FILE, "repair"], 2, "{tmp}/a-file.txt is a file, not a library folder"),
    ([MISSING, "repair"], 2, "no library at {tmp}/no-such-library: nothing to repair"),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inputs")
    photos = tmp / "photos"
    save_photo(photos / "one.jpg", 1, (64, 48))
    save_photo(tmp / "query.jpg", 2, (64, 48))
    (tmp / "a-file.txt").write_text("not a library\n")
    with Library.open(tmp / "lib") as lib:  # a library with one folder (id 1), no model needed
        lib.add_root(photos)
    return tmp


@pytest.mark.parametrize(("argv", "code", "line"), CASES, ids=[" ".join(c[0][1:]) for c in CASES])
def test_each_nonsense_input_is_one_line_and_its_exit_status(setup, capsys, argv, code, line):
    tmp = str(setup)
    argv = [a.format(tmp=tmp) for a in argv]
    rc = main(["--library", *argv])
    err = capsys.readouterr().err
    assert rc == code, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("irt-desktop: " + line.format(tmp=tmp)), err
    assert not (setup / "no-such-library").exists()  # a read never creates a library
    assert (setup / "a-file.txt").read_text() == "not a library\n"


def test_the_default_library_not_existing_yet_still_lists_starting_points(tmp_path, monkeypatch, capsys):
    """`models list` before anything is installed (first run) shows what can be installed."""
    monkeypatch.setenv("IRT_LIBRARY", str(tmp_path / "default-lib"))
    rc = main(["models", "list"])
    out = capsys.readouterr().out
    assert rc == 0 and "Installed models: none" in out and "Starting points" in out
    assert not (tmp_path / "default-lib").exists()
