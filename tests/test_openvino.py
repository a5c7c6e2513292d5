"""The OpenVINO backend: agreement with torch fp32, a torch-free serving process, and every fallback.

Each check runs in a subprocess (tests/openvino_worker.py or a short script): the pytest process keeps
the torch backend and never loads OpenVINO beside it. One set of trained tiny bundles and one cache of
converted models serve the whole module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("openvino_worker.py")
ROOT = Path(__file__).resolve().parents[1]


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "IRT_CACHE_DIR": str(cache), "PYTHONPATH": f"{ROOT}{os.pathsep}{WORKER.parent}"}
    env.pop("IRT_BACKEND", None)
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], timeout: int = 300) -> dict:
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("openvino")
    subprocess.run(
        [sys.executable, str(WORKER), "prepare", str(out)],
        env=_env(out / "cache"),
        check=True,
        timeout=300,
        capture_output=True,
    )
    return out


def _bundle_path(work: Path, name: str) -> str:
    return json.loads((work / "bundles.json").read_text())[name]


@pytest.mark.parametrize("name", ["deit-s", "deit-s-distilled", "deit-s-pca"])
def test_openvino_descriptors_agree_with_torch_fp32(work, name):
    got = _run([sys.executable, str(WORKER), "agree", str(work), name], _env(work / "cache"))
    assert got["backend"] == "openvino", got["fallback"]
    assert got["precision"] in ("bf16", "fp32")  # f32 when bf16 moved descriptors too far
    # The trained model tells images apart, so agreement is not the trivial all-alike case.
    assert got["max_offdiag"] < 0.99
    assert got["min_cosine"] >= 0.9999


def test_indexing_and_search_with_openvino_load_no_torch_and_no_network(work):
    got = _run([sys.executable, str(WORKER), "serve", str(work), "deit-s"], _env(work / "cache"))
    assert got["backend"] == "openvino"
    assert got["embedded"] == 12 and got["top"] == "q03.jpg"
    assert got["heavy"] == []
    assert got["telemetry_blocked"]
    assert got["network_attempts"] == []


def _script(work: Path, body: str, **env: str) -> dict:
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from irt_desktop.retrieval.bundle import load_bundle
        bundle = load_bundle(Path({_bundle_path(work, "deit-s")!r}))
        """
    ) + textwrap.dedent(body)
    return _run([sys.executable, "-c", code], _env(Path(env.pop("cache", work / "cache")), **env))


def test_without_the_wheel_torch_serves_and_says_why(work):
    got = _script(
        work,
        """
        sys.modules["openvino"] = None  # as on a platform without OpenVINO wheels
        from irt_desktop.retrieval.serving import open_bundle
        s = open_bundle(bundle, backend="auto")
        print(json.dumps({"backend": s.backend, "reason": s.reason}))
        """,
    )
    assert got == {"backend": "torch", "reason": "OpenVINO is not installed (no wheel for this platform)"}


def test_a_conversion_error_falls_back_to_torch_with_the_reason(work, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    got = _script(
        work,
        """
        from irt_desktop.retrieval.serving import open_bundle
        s = open_bundle(bundle, backend="openvino")
        print(json.dumps({"backend": s.backend, "fallback": s.fallback}))
        """,
        cache=str(blocker),
    )
    assert got["backend"] == "torch"
    assert got["fallback"].startswith("OpenVINO did not serve: ")


def test_low_agreement_refuses_the_converted_model(work, tmp_path):
    got = _script(
        work,
        """
        from irt_desktop.retrieval import openvino_cache, openvino_convert
        from irt_desktop.retrieval.serving import open_bundle
        openvino_convert.MIN_AGREEMENT = openvino_cache.MIN_AGREEMENT = 1.01  # nothing can reach it

        def in_process(bundle_dir, bundle_id, precision):
            out = openvino_cache.cache_dir(bundle_id, precision)
            openvino_convert.convert_bundle(bundle_dir, out, precision)

        openvino_cache.compile_in_child = in_process
        s = open_bundle(bundle, backend="openvino")
        print(json.dumps({"backend": s.backend, "fallback": s.fallback}))
        """,
        cache=str(tmp_path / "cache"),
    )
    assert got["backend"] == "torch"
    assert "agree with torch fp32 only" in got["fallback"] and "to cosine" in got["fallback"]


def test_the_cache_follows_the_bundle_and_the_openvino_version(work):
    _run([sys.executable, str(WORKER), "agree", str(work), "deit-s"], _env(work / "cache"))
    got = _script(
        work,
        """
        import json as j
        from irt_desktop.retrieval import openvino_cache
        from irt_desktop.retrieval.serving import cpu_bf16_native
        precision = "bf16" if cpu_bf16_native() else "f32"
        found = openvino_cache.find_compiled(bundle.id, precision)
        other_bundle = openvino_cache.find_compiled("other-000000000000", precision)
        meta = found.xml.parent / "meta.json"
        data = j.loads(meta.read_text())
        openvino_cache.openvino_version = lambda: "2099.1.0"
        newer_runtime = openvino_cache.find_compiled(bundle.id, precision)
        print(json.dumps({"found": found is not None, "other": other_bundle is None,
                          "newer": newer_runtime is None, "meta_version": data["openvino"]}))
        """,
    )
    assert got == {"found": True, "other": True, "newer": True, "meta_version": got["meta_version"]}
    assert got["meta_version"]
