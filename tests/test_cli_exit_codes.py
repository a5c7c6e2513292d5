"""One exit-status table for every command, and every failure as one line (never a traceback)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from irt_desktop import commands
from irt_desktop.cli import main
from irt_desktop.commands import models as models_cmd


def _run(capsys, *argv):
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _fail_with(exc):
    def handler(args):
        raise exc

    return handler


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (commands.CommandError("bad -k"), 2, "irt-desktop: bad -k"),
        (commands.OperationFailed("library in use by pid 7"), 1, "irt-desktop: library in use by pid 7"),
        (
            OSError(errno.ENOSPC, "No space left on device", "/lib/catalog.sqlite"),
            1,
            "irt-desktop: the disk is full: /lib/catalog.sqlite",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/lib"),
            1,
            "irt-desktop: the folder is read-only: /lib",
        ),
        (KeyboardInterrupt(), 130, "irt-desktop: interrupted"),
        (RuntimeError("boom\nwith a second line"), 1, "irt-desktop: unexpected error: RuntimeError: boom"),
    ],
)
def test_each_failure_is_one_line_and_its_exit_status(tmp_path, capsys, monkeypatch, raised, code, line):
    (tmp_path / "lib" / "logs").mkdir(parents=True)
    monkeypatch.setattr(models_cmd, "run_list", _fail_with(raised))
    rc, _, err = _run(capsys, "--library", str(tmp_path / "lib"), "models", "list")
    assert rc == code
    assert err.count("\n") == 1 and err.startswith(line), err
    assert "Traceback" not in err


def test_an_unexpected_error_leaves_its_traceback_in_the_log(tmp_path, capsys, monkeypatch):
    logs = tmp_path / "lib" / "logs"
    logs.mkdir(parents=True)
    monkeypatch.setattr(models_cmd, "run_list", _fail_with(ZeroDivisionError("nope")))
    _, _, err = _run(capsys, "--library", str(tmp_path / "lib"), "models", "list")
    (log,) = logs.glob("error-*.log")
    assert str(log) in err
    assert "Traceback" in log.read_text() and "ZeroDivisionError" in log.read_text()


def test_sigterm_stops_a_command_like_ctrl_c(tmp_path, capsys, monkeypatch):
    def slow(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
        return 0

    monkeypatch.setattr(models_cmd, "run_list", slow)
    started = time.monotonic()
    rc, _, err = _run(capsys, "--library", str(tmp_path / "lib"), "models", "list")
    assert rc == 130 and err.strip() == "irt-desktop: interrupted"
    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGTERM) is not None  # the previous handler is back


@pytest.mark.parametrize(
    "argv",
    [
        ["--library", "", "status"],
        ["--library", "", "models", "list"],
        ["models", "import", "x.safetensors", "--input-size", "0"],
        ["models", "import", "x.safetensors", "--input-size", "-3"],
    ],
)
def test_nonsense_arguments_are_usage_errors(tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err


def test_a_closed_pipe_ends_with_one_line_not_a_traceback(tmp_path):
    (tmp_path / "lib" / "models").mkdir(parents=True)  # a library (`models list` refuses a mistyped one)
    proc = subprocess.Popen(
        [sys.executable, "-m", "irt_desktop", "--library", str(tmp_path / "lib"), "models", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `| head -0`: nobody reads
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=120)
    assert rc == 1, err
    assert err.strip() == "irt-desktop: output closed early (broken pipe)"
