"""The Duplicates tab remembers the thresholds the user set, both of them, across a restart (a new view
over new settings on the same file), and "Use calibrated" and "Recalibrate" forget both. Over the
stand-in library of test_gui_duplicates (calibrated near 0.9731, look-alike 0.9312), jobs inline."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QAbstractSlider
from test_gui_duplicates import StandIn

from irt_desktop.gui.library_client import READY, LibraryClient
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import TaskRunner, run_inline

CALIBRATED = (0.9731, 0.9312)


@pytest.fixture
def restart(qtbot, qapp, tmp_path, monkeypatch):
    """Starts the tab as the app does: settings read from the same ini file each time."""
    from irt_desktop.gui.duplicates_view import DuplicatesView
    from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    (tmp_path / "photos").mkdir()
    library = StandIn(tmp_path / "photos")
    clients, stores = [], []

    def start():
        for old in stores:
            old.sync()  # written out, as when the app quits
        settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        runner = TaskRunner(executor=run_inline)
        client = LibraryClient(tmp_path / "library", settings, opener=lambda d, s: library, runner=runner)
        client.start()
        assert client.state == READY
        for old in clients:
            old.close()  # quitting the app before it starts again
        clients[:], stores[:] = [client], [settings]
        view = DuplicatesView(
            client, settings, ThumbnailLoader(ThumbnailCache(tmp_path / "thumbs")), runner=runner
        )
        qtbot.addWidget(view)
        return settings, view

    start.library = library
    yield start
    for client in clients:
        client.close()


def asked(library) -> tuple:
    """The (near, look-alike) thresholds the last Find asked the library for (None: the calibrated)."""
    near, _keep, look, _recalibrate = library.calls[-1]
    return near, look


def test_the_lookalike_threshold_set_by_the_user_survives_a_restart(restart):
    library = restart.library
    settings, view = restart()
    view.find_button.click()
    assert asked(library) == (None, None)
    assert (view.threshold, view.lookalike_threshold) == pytest.approx(CALIBRATED)
    assert settings.lookalike_threshold is None and not settings.duplicate_thresholds_chosen

    # Page Down on the look-alike slider, as the keyboard does it (the slider's own action).
    view.look_slider.triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)
    assert view.lookalike_threshold == pytest.approx(0.9262) and view.reset_button.isEnabled()
    view.find_button.click()
    assert asked(library) == pytest.approx((0.9731, 0.9262))

    settings, view = restart()
    assert (view.threshold, view.lookalike_threshold) == pytest.approx((0.9731, 0.9262))
    assert view.reset_button.isEnabled() and "last time" in view.calibration_label.text()
    view.find_button.click()
    # The user's pair is asked for and kept, not replaced by the calibrated look-alike threshold.
    assert asked(library) == pytest.approx((0.9731, 0.9262))
    assert view.lookalike_threshold == pytest.approx(0.9262) and "you chose" in view.calibration_label.text()

    # "Use calibrated" forgets both: the next start asks for the calibrated ones again.
    view.reset_button.click()
    assert asked(library) == (None, None)
    assert (view.threshold, view.lookalike_threshold) == pytest.approx(CALIBRATED)
    settings, view = restart()
    assert settings.lookalike_threshold is None and not settings.duplicate_thresholds_chosen
    assert not view.reset_button.isEnabled()
    view.find_button.click()
    assert asked(library) == (None, None)


def test_both_thresholds_are_kept_to_the_sliders_step_and_recalibrate_forgets_them(restart):
    library = restart.library
    settings, view = restart()
    view.find_button.click()
    view.set_threshold(0.9643, lookalike=0.9127)
    settings, view = restart()
    # Four decimals: a small model's thresholds sit at 0.99x, where the third decimal is too coarse.
    assert (view.threshold, view.lookalike_threshold) == pytest.approx((0.9643, 0.9127), abs=1e-9)
    view.recalibrate_button.click()
    near, _keep, look, recalibrate = library.calls[-1]
    assert (near, look, recalibrate) == (None, None, True)
    assert settings.lookalike_threshold is None and not settings.duplicate_thresholds_chosen
    settings, view = restart()
    view.find_button.click()
    assert asked(library) == (None, None)
