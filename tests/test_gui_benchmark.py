"""The benchmark pane on tiny datasets in the real layouts: choices remembered, the run on a worker,
ours beside the paper's in the table, the Recall@K chart, missing datasets named, the report exported."""

from __future__ import annotations

import json

from benchmark_layouts import use_layout_counts, write_cub, write_revisited, write_sop
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from test_gui_helpers import WAIT_MS, build_window, wait_ready


def tick(pane, names: set[str]) -> None:
    for i in range(pane.datasets.topLevelItemCount()):
        item = pane.datasets.topLevelItem(i)
        name = item.data(0, Qt.ItemDataRole.UserRole + 1)
        item.setCheckState(0, Qt.CheckState.Checked if name in names else Qt.CheckState.Unchecked)


def test_benchmark_pane_runs_tiny_datasets(
    qtbot, themed_app, library_dir, gui_settings, tiny_bundle, tmp_path, monkeypatch
):
    use_layout_counts(monkeypatch)  # the readers check counts: these tiny layouts' own, not the paper's
    data = tmp_path / "data"
    write_cub(data / "cub")
    write_sop(tmp_path / "elsewhere" / "my_sop")  # a dataset outside the data folder, under another name
    write_revisited(data, "roxford5k")
    client, window = build_window(library_dir, gui_settings)
    qtbot.addWidget(window)
    window.show()
    client.start()
    wait_ready(qtbot, window)

    pane = window.benchmark_pane
    assert window.tabs.currentWidget() is pane
    qtbot.waitUntil(lambda: pane.model_combo.count() > 1, timeout=WAIT_MS)
    pane.root_edit.setText(str(data))
    pane.overrides["sop"] = str(tmp_path / "elsewhere" / "my_sop")
    pane.refresh_datasets()
    tick(pane, {"cub", "sop", "roxford", "inshop"})
    qtbot.waitUntil(lambda: "not found" in pane.datasets.topLevelItem(2).text(1), timeout=WAIT_MS)
    assert "not found" not in pane.datasets.topLevelItem(1).text(1)  # cub
    pane.model_combo.setCurrentIndex(pane.model_combo.findData(tiny_bundle.id))
    assert pane.model_combo.currentData() == tiny_bundle.id

    pane.run_button.click()
    assert not pane.run_button.isEnabled()
    qtbot.waitUntil(
        lambda: pane.result is not None or "stopped" in pane.progress_label.text(), timeout=WAIT_MS * 2
    )
    assert pane.result is not None, pane.progress_label.text()
    datasets = {pane.results.table.item(r, 0).text() for r in range(pane.results.table.rowCount())}
    assert {"cub", "sop", "roxford"} <= datasets
    table = pane.results.table
    metrics = {(table.item(r, 0).text(), table.item(r, 3).text()) for r in range(table.rowCount())}
    assert ("cub", "R@1") in metrics and ("sop", "R@1000") in metrics
    # The chart has one "ours" line per category dataset (landmark mAP stays in the table).
    names = [s.name for s in pane.results.chart.series]
    assert any(n.startswith("cub") and "ours" in n for n in names)
    assert not any(n.startswith("roxford") for n in names)
    assert "inshop" in pane.results.notes.text()  # ticked but missing: named, with what to download
    assert pane.results.export_button.isEnabled()

    report = tmp_path / "report.md"
    pane.export(report)
    assert "| cub |" in report.read_text()
    as_json = tmp_path / "results.json"
    pane.export(as_json)
    assert json.loads(as_json.read_text())["rows"]

    # Choices are remembered for next time.
    state = gui_settings.benchmark_state()
    assert (
        state["data_root"] == str(data) and "sop" in state["overrides"] and state["model"] == tiny_bundle.id
    )
    window.close()


def test_benchmark_pane_smoke_suite_and_stop(qtbot, themed_app, library_dir, gui_settings):
    client, window = build_window(library_dir, gui_settings)
    qtbot.addWidget(window)
    window.show()
    client.start()
    pane = window.benchmark_pane
    pane.suite_combo.setCurrentIndex(pane.suite_combo.findData("smoke-quick"))
    assert not pane.datasets.isEnabled()
    pane.run_button.click()
    qtbot.waitUntil(
        lambda: pane.result is not None or "stopped" in pane.progress_label.text(), timeout=WAIT_MS * 2
    )
    assert pane.result is not None, pane.progress_label.text()
    variants = {pane.results.table.item(r, 1).text() for r in range(pane.results.table.rowCount())}
    assert {"random init", "IRT_L", "IRT_R"} <= variants  # the untrained network is not the paper's IRT_O
    assert "finished" in pane.progress_label.text()
    if pane.result.passed is not None:  # the quick scale is too short for a verdict
        assert ("PASS" if pane.result.passed else "FAIL") in pane.progress_label.text()

    # Stop: a full-scale run is cancelled and the pane is ready again.
    pane.suite_combo.setCurrentIndex(pane.suite_combo.findData("smoke-full"))
    pane.run_button.click()
    qtbot.waitUntil(lambda: "smoke" in pane.progress_label.text(), timeout=WAIT_MS)
    pane.stop_button.click()
    qtbot.waitUntil(lambda: pane.run_button.isEnabled(), timeout=WAIT_MS * 2)
    assert not pane.running
    window.close()


def test_benchmark_pane_with_an_inline_runner_names_what_is_missing(
    qtbot, themed_app, library_dir, gui_settings, tmp_path
):
    """The pane's jobs go through the runner it is given: inline, the dataset list is up to date as soon
    as the folder is set, each missing dataset naming the file it expected."""
    from types import SimpleNamespace

    from irt_desktop.gui.benchmark_pane import BenchmarkPane
    from irt_desktop.gui.tasks import TaskRunner, run_inline

    data = tmp_path / "data"
    write_cub(data / "cub")
    host = QWidget()  # the owner, as the main window is in the app (see test_gui_finetune)
    qtbot.addWidget(host)
    pane = BenchmarkPane(
        SimpleNamespace(library_dir=library_dir), gui_settings, host, runner=TaskRunner(executor=run_inline)
    )
    assert pane.model_combo.count() > 1  # the installed tiny model, listed at once
    pane.root_edit.setText(str(data))
    pane.refresh_datasets()
    items = [pane.datasets.topLevelItem(i) for i in range(pane.datasets.topLevelItemCount())]
    texts = {item.data(0, Qt.ItemDataRole.UserRole + 1): item.text(1) for item in items}
    assert texts["cub"] == str(data / "cub")
    assert texts["sop"] == f"not found: expected {data / 'sop' / 'Ebay_train.txt'}"
    pane.shutdown()
