"""A million photos: the library as a whole at 10^5 files on disk and 10^6 photos in the catalog.

    PYTHONPATH=. .venv/bin/python tests/perf/bench_scale.py --cache /tmp/irt-scale --sizes 100000 \\
        [--runs 5] [--figures open,rescan,status,failures,search,build,duplicates,memory,gui]

The libraries are built once and cached under --cache by tests/perf/scale_build.py (real small JPEGs
in a year / event tree, scanned, embedded through export-manifest -> vectors -> import-vectors, the
broken 10^4 failed by a real indexing run). Every figure runs in a fresh interpreter (its peak RSS is
its own; `python tests/perf/bench_scale.py --worker KIND --library DIR` runs one), `--runs` times,
alternated with its baseline where it has one; medians are printed, each with the command that
measures it. The GUI figures need a display: DISPLAY=:75 (Xvfb) and --platform xcb. The rescan is
timed as `irt-desktop index` runs it (the survey in-process) and as the window runs it (the survey in a
child process, library/survey_process.py), each against the bare walk of the same round.

Goals (issue 16): rescan of 10^5 unchanged files <= 3x a bare os.scandir+stat walk of the same tree;
status < 0.5 s at 10^6; search p50 < 10 ms at 10^6 with recall@10 >= 0.95; duplicates over 10^6
<= 10 min; GUI RSS with a 10^6 library <= 2.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1]), str(HERE.parents[2])]

import perfkit  # noqa: E402

QUERIES = 300
# Near copies: the generated bursts score ~0.99, photos of one event ~0.7 (scale_build.Descriptors).
DUPLICATE_THRESHOLD = 0.95
ALL_FIGURES = ("open", "rescan", "status", "failures", "search", "build", "duplicates", "memory", "gui")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _open(library: Path, read_only: bool = False):
    from irt_desktop.library import Library

    return Library.open(library, read_only=read_only, device="cpu")


# -- workers: one figure each, in a fresh process ------------------------------------------------------


def w_open(library: Path) -> None:
    """Library open (a writer, as the GUI opens it), then its FAISS index loaded, then a status."""
    t = time.perf_counter()
    lib = _open(library)
    t_open = time.perf_counter() - t
    before = current_rss_mb()
    t = time.perf_counter()
    vi = lib.vector_cache.index_for(lib.model_id)
    t_index = time.perf_counter() - t
    index_rss = current_rss_mb() - before
    t = time.perf_counter()
    lib.status()
    t_status = time.perf_counter() - t
    lib.close()
    perfkit.emit(
        open_s=t_open,
        index_load_s=t_index,
        first_status_s=t_status,
        index_kind=vi.info.kind,
        index_rss_mb=index_rss,
        rebuilt=lib.vector_cache.last_rebuild_reason,
        peak_rss_mb=rss_mb(),
    )


def w_rescan(library: Path, survey_in_child: bool = False) -> None:
    """A rescan of unchanged files, as `irt-desktop index` runs it (the survey in this process).
    `survey_in_child`: as the window runs it, the survey in a child process (library/survey_process.py),
    whose peak memory is reported beside this process's."""
    from irt_desktop.library import survey_process

    surveys = []
    real = survey_process.survey_in_child

    def recorded(*args, **kwargs):
        surveys.append(real(*args, **kwargs))
        return surveys[-1]

    survey_process.survey_in_child = recorded
    with _open_for_rescan(library, survey_in_child) as lib:
        t = time.perf_counter()
        report = lib.index()
        seconds = time.perf_counter() - t
        child = surveys[0] if surveys else None
        perfkit.emit(
            seconds=seconds,
            unchanged=report.scan.unchanged,
            embedded=report.embedded,
            peak_rss_mb=rss_mb(),
            survey="child" if child is not None else "here",
            survey_peak_rss_mb=child.peak_rss_mb if child is not None else None,
        )


def _open_for_rescan(library: Path, survey_in_child: bool):
    from irt_desktop.library import Library

    return Library.open(library, device="cpu", survey_in_child=survey_in_child)


def w_rescan_child(library: Path) -> None:
    w_rescan(library, survey_in_child=True)


def w_walk(photos: Path) -> None:
    """The bare walk: os.scandir of every folder, stat of every file (what a scan cannot do without)."""
    t = time.perf_counter()
    n = 0
    stack = [str(photos)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    e.stat(follow_symlinks=False)
                    n += 1
    perfkit.emit(seconds=time.perf_counter() - t, files=n, peak_rss_mb=rss_mb())


def w_status(library: Path) -> None:
    """`irt-desktop status`'s library call, read-only beside nothing: first and repeated."""
    lib = _open(library, read_only=True)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        st = lib.status()
        times.append(time.perf_counter() - t)
    lib.close()
    perfkit.emit(
        first_s=times[0], median_s=float(np.median(times)), n_images=st.n_images, peak_rss_mb=rss_mb()
    )


def w_failures(library: Path) -> None:
    lib = _open(library, read_only=True)
    t = time.perf_counter()
    failures = lib.failures()
    seconds = time.perf_counter() - t
    lib.close()
    perfkit.emit(seconds=seconds, failures=len(failures), peak_rss_mb=rss_mb())


def w_search(library: Path) -> None:
    """Single-query latency of the serving index, recall@10 against exact search over the same vectors,
    and the library's whole 'more like this' (index + catalog rows)."""
    import faiss

    lib = _open(library, read_only=True)
    model = lib.model_id
    vi = lib.vector_cache.index_for(model)
    ids, vectors = lib.catalog.live_vectors(model, vi.info.dim)
    rng = np.random.default_rng(1)
    pick = rng.choice(len(ids), min(QUERIES, len(ids)), replace=False)
    queries = vectors[pick]
    lat = []
    found = []
    for q in queries:
        t = time.perf_counter()
        _, got = vi.search(q[None, :], 10)
        lat.append(time.perf_counter() - t)
        found.append(got[0])
    _, truth = faiss.knn(queries, vectors, 10, faiss.METRIC_INNER_PRODUCT)
    hits = [len(set(f.tolist()) & set(ids[t].tolist())) / 10 for f, t in zip(found, truth, strict=True)]
    recall = float(np.mean(hits))
    similar = []
    for i in pick[:50]:
        t = time.perf_counter()
        lib.search_similar(int(ids[i]), k=50)
        similar.append(time.perf_counter() - t)
    lib.close()
    perfkit.emit(
        p50_ms=1e3 * float(np.percentile(lat, 50)),
        p95_ms=1e3 * float(np.percentile(lat, 95)),
        recall_at_10=recall,
        similar_p50_ms=1e3 * float(np.percentile(similar, 50)),
        kind=vi.info.kind,
        nlist=vi.info.nlist,
        nprobe=vi.info.nprobe,
        peak_rss_mb=rss_mb(),
    )


def w_build(library: Path) -> None:
    """Index build from the catalog as a rebuild does it: the vectors read, IVF trained, calibrated."""
    from irt_desktop.library.vector_index import VectorIndex

    lib = _open(library, read_only=True)
    model = lib.model_id
    dim = lib.catalog.model_dim(model)
    t = time.perf_counter()
    ids, vectors = lib.catalog.live_vectors(model, dim)
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    vi = VectorIndex.build(model, dim, ids, vectors, exact_max=lib.vector_cache.exact_max)
    t_build = time.perf_counter() - t
    lib.close()
    perfkit.emit(
        read_s=t_read,
        build_s=t_build,
        kind=vi.info.kind,
        nlist=vi.info.nlist,
        nprobe=vi.info.nprobe,
        recall_at_10=vi.info.recall_at_10,
        peak_rss_mb=rss_mb(),
    )


def w_duplicates(library: Path) -> None:
    """The library's own duplicate path over every photo, at a fixed near-copy threshold (no photo is
    decoded: calibration and rotations look at a fixed sample or small libraries only). Uses
    bench_duplicates.time_duplicates (the duplicates issue's benchmark) where it exists."""
    lib = _open(library, read_only=True)
    try:
        from bench_duplicates import time_duplicates
    except ImportError:  # before the duplicates issue's benchmark function is merged
        time_duplicates = None
    if time_duplicates is not None:
        r = time_duplicates(lib, DUPLICATE_THRESHOLD)
        r.pop("_report", None)
    else:
        t = time.perf_counter()
        lib.vector_cache.index_for(lib.model_id)
        t_index = time.perf_counter() - t
        t = time.perf_counter()
        report = lib.reports.duplicates(DUPLICATE_THRESHOLD, embed=None, rotations=False)
        r = {
            "exact_groups": len(report.exact),
            "near_groups": len(report.near),
            "serving_index_s": t_index,
            "total_s": time.perf_counter() - t,
        }
    lib.close()
    perfkit.emit(**r, threshold=DUPLICATE_THRESHOLD, peak_rss_mb=rss_mb())


def w_memory(library: Path) -> None:
    from irt_desktop.paths import LibraryLayout

    layout = LibraryLayout(library)
    lib = _open(library, read_only=True)
    faiss_file = layout.index_file(lib.model_id)
    catalog = library / "catalog.sqlite"
    wal = library / "catalog.sqlite-wal"
    perfkit.emit(
        faiss_file_mb=faiss_file.stat().st_size / 2**20 if faiss_file.exists() else None,
        catalog_mb=catalog.stat().st_size / 2**20,
        wal_mb=wal.stat().st_size / 2**20 if wal.exists() else 0.0,
        n_vectors=lib.catalog.count_vectors(lib.model_id),
    )
    lib.close()


WORKERS = {
    "open": w_open,
    "rescan": w_rescan,
    "rescan_child": w_rescan_child,
    "walk": w_walk,
    "status": w_status,
    "failures": w_failures,
    "search": w_search,
    "build": w_build,
    "duplicates": w_duplicates,
    "memory": w_memory,
}


# -- the parent: rounds, medians, the table --------------------------------------------------------------


def command(kind: str, target: Path) -> str:
    flag = "--photos" if kind == "walk" else "--library"
    return f"PYTHONPATH=. python tests/perf/bench_scale.py --worker {kind} {flag} {shlex.quote(str(target))}"


def run_kind(kind: str, built: dict, env: dict[str, str]) -> list[dict]:
    target = built["photos"] if kind == "walk" else built["library"]
    flag = "--photos" if kind == "walk" else "--library"
    return perfkit.run_worker(HERE, ["--worker", kind, flag, target], env=env, timeout=3600)


def med(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if r.get(key) is not None]
    return perfkit.median(values)


def figures(built: dict, kinds: list[str], runs: int, env: dict[str, str], log) -> dict:
    n = built["n"]
    out: dict[str, dict] = {}
    if "rescan" in kinds:
        # Interleaved rounds: the rescan as `irt-desktop index` runs it, as the window runs it (the
        # survey in a child process), and the bare walk; ratios within a round.
        rows = perfkit.run_rounds(["rescan", "rescan_child", "walk"], runs, lambda k: run_kind(k, built, env))
        walks = {r["round"]: r["seconds"] for r in rows if r["kind"] == "walk" and r["seconds"]}
        out["rescan"] = {"walk_s": perfkit.median(list(walks.values()))}
        for kind, label in (("rescan", ""), ("rescan_child", "_survey_in_child")):
            scans = [r for r in rows if r["kind"] == kind]
            ratios = [s["seconds"] / walks[s["round"]] for s in scans if s["round"] in walks]
            out["rescan"].update(
                {
                    f"rescan{label}_s": med(scans, "seconds"),
                    f"ratio{label}_same_round": perfkit.median(ratios),
                    f"ratios{label}": [round(x, 2) for x in ratios],
                    f"peak_rss{label}_mb": med(scans, "peak_rss_mb"),
                }
            )
        scans = [r for r in rows if r["kind"] == "rescan"]
        children = [r for r in rows if r["kind"] == "rescan_child"]
        out["rescan"].update(
            {
                "survey_in_child_peak_rss_mb": med(children, "survey_peak_rss_mb"),
                "unchanged": scans[0]["unchanged"],
                "embedded": scans[0]["embedded"],
                "command": command("rescan", Path(built["library"]))
                + "  vs  "
                + command("walk", Path(built["photos"])),
            }
        )
    for kind in [k for k in kinds if k in WORKERS and k not in ("rescan", "rescan_child", "walk")]:
        once = kind in ("memory", "duplicates") or (kind == "build" and n > 200_000)
        rows = perfkit.run_rounds([kind], 1 if once else runs, lambda k: run_kind(k, built, env))
        keys = [k for k in rows[0] if isinstance(rows[0][k], int | float) and k not in ("round",)]
        fig = {k: med(rows, k) for k in keys}
        fig.update({k: v for k, v in rows[0].items() if isinstance(v, str) and k != "kind"})
        fig["runs"] = len(rows)
        fig["command"] = command(kind, Path(built["library"]))
        out[kind] = fig
    if "duplicates_bench" in kinds:
        out["duplicates_bench"] = duplicates_bench(n)
    if "gui" in kinds:
        import scale_gui

        out["gui"] = scale_gui.measure(built, runs, env, log)
    return out


def duplicates_bench(n: int) -> dict:
    """The duplicates issue's benchmark at this size, in its own process (its in-memory mode when it
    has one: main's earlier version has no --mode)."""
    import tempfile

    script = HERE.parent / "bench_duplicates.py"
    has_mode = "--mode" in script.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, str(script), "--sizes", str(n), "--out", f"{tmp}/d.json"]
        if has_mode:
            args += ["--mode", "vectors"]
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(perfkit.REPO), os.environ.get("PYTHONPATH", "")])
        )
        subprocess.run(args, check=True, env=env, capture_output=True, timeout=3600)
        got = json.loads(Path(f"{tmp}/d.json").read_text())
    r = got["results"][0] if "results" in got else got
    r["command"] = "PYTHONPATH=. python " + " ".join(shlex.quote(a) for a in args[1:4] + args[6:])
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/irt-scale"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--figures",
        default="open,rescan,status,failures,search,build,duplicates,memory,gui",
        help="comma list",
    )
    ap.add_argument("--platform", default="offscreen", help="Qt platform for the GUI figures (xcb on Xvfb)")
    ap.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    ap.add_argument(
        "--gui-backend", default="auto", choices=["auto", "torch", "openvino"], help="GUI figures' backend"
    )
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--library", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--photos", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        WORKERS[args.worker](args.photos if args.worker == "walk" else args.library)
        return 0
    # The library figures pin torch unless told (as they were first measured); the GUI figures run as a
    # user's launch does, with the backend the product picks (OpenVINO on a CPU with its wheel), unless
    # --gui-backend says otherwise.
    env = {"IRT_BACKEND": os.environ.get("IRT_BACKEND", "torch"), "QT_QPA_PLATFORM": args.platform}
    if args.gui_backend != "auto":
        env["IRT_GUI_BACKEND"] = args.gui_backend
    kinds = args.figures.split(",")
    results = {}
    for n in args.sizes:
        t = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(HERE.parent / "scale_build.py"), str(n), "--cache", str(args.cache)],
            env=dict(os.environ, **env),
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        built = json.loads(proc.stdout)
        print(
            f"== {n} photos (library built once, {time.monotonic() - t:.0f} s this time): {json.dumps(built)}"
        )
        results[n] = {"built": built, "figures": figures(built, kinds, args.runs, env, print)}
        for name, fig in results[n]["figures"].items():
            shown = {
                k: (round(v, 4) if isinstance(v, float) else v) for k, v in fig.items() if k != "command"
            }
            print(f"[{n}] {name}: {json.dumps(shown)}\n      $ {fig.get('command', '')}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
