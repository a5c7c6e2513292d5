"""Shared fixtures: tiny real model bundles and photo-like generated images."""

from __future__ import annotations

import os

# Qt aborts without a display unless told to render offscreen; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach the model hub; failing fast is the behaviour under test where it matters.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# The suite runs the torch backend in its own process; OpenVINO tests start subprocesses that choose it
# (never both runtimes' thread pools in the pytest process). Compiled models go to a cache of the run's.
os.environ["IRT_BACKEND"] = "torch"

import pytest
from imagegen import TINY_SPEC

# Fixtures shared by the library and GUI test modules, registered once here: a pytest_plugins line in a
# test module registers them for the whole session anyway, in an order that depends on collection.
pytest_plugins = ["test_gui_helpers", "test_library_support"]


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A random-init 2-layer ViT at 32 px, saved and loaded as a real bundle."""
    from irt_desktop.retrieval.weights import random_init_bundle

    return random_init_bundle(TINY_SPEC, "tiny", tmp_path_factory.mktemp("models"), seed=0)


@pytest.fixture(scope="session")
def tiny_embedder(tiny_bundle):
    from irt_desktop.retrieval.embedder import Embedder

    return Embedder.from_bundle(tiny_bundle, device="cpu", low_precision=False)
