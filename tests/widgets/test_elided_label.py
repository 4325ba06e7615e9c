"""Tests for widgets.elided_label.ElidedLabel."""
from PySide6 import QtWidgets

from widgets.elided_label import ElidedLabel

LONG = ("Convex relu program: p* = 0.187407, m* = 8 neurons, certified global optimum (max dual "
        "constraint = λ(1+8.2e-15), dual gap 6.9e-16). Non-convex: runs reaching p* — best gap")


def test_long_text_is_elided_with_the_full_text_in_the_tooltip(qtbot):
    label = ElidedLabel(LONG)
    qtbot.addWidget(label)
    label.resize(300, 24)
    label.show()
    qtbot.waitExposed(label)
    shown = label.shown_text()
    assert label.text() == LONG and label.is_elided()
    assert shown.endswith("…") and LONG.startswith(shown[:-1])
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert label.toolTip() == LONG
    label.setText("short")
    assert not label.is_elided() and label.shown_text() == "short" and label.toolTip() == ""
    label.grab()                                                     # paints


def test_label_never_forces_its_parent_wider(qtbot):
    bar = QtWidgets.QWidget()
    lay = QtWidgets.QHBoxLayout(bar)
    label = ElidedLabel(LONG)
    lay.addWidget(label, 1)
    lay.addWidget(QtWidgets.QLabel("Device:"))
    qtbot.addWidget(bar)
    assert bar.minimumSizeHint().width() < 200
    bar.resize(400, 30)
    bar.show()
    qtbot.waitExposed(bar)
    assert label.geometry().right() < lay.itemAt(1).widget().geometry().left()
    assert label.fontMetrics().horizontalAdvance(label.shown_text()) <= label.width()
