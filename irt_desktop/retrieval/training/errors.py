"""Errors of training that a process without torch may receive (a run in a child process raises them in
the GUI's, where OpenVINO serves): defined apart from the torch code that raises them."""

from __future__ import annotations


class CheckpointError(Exception):
    """A checkpoint that exists but cannot be resumed from; the message says why."""
