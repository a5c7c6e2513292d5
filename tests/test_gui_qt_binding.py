"""The Qt binding itself: faults in it that the application depends on not having."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel


def test_index_data_that_returns_none_keeps_nones_reference_count(qapp):
    # PySide6 6.12.0 on Python 3.11 took a reference from None on each such call and never gave it back:
    # after some tens of thousands (a few seconds of scrolling a results grid) the process aborted.
    model = QStandardItemModel()
    model.appendRow(QStandardItem("a"))
    index = model.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(2000):
        assert index.data(Qt.ItemDataRole.UserRole) is None
    assert sys.getrefcount(None) >= before - 10
