"""A one-line label that elides its text ("…") to the width it gets, full text in a tooltip.

Made for status bars: a long message never widens the window nor runs under the widgets
beside it. :meth:`ElidedLabel.text` returns the full text; :meth:`ElidedLabel.shown_text` the
possibly shortened text that is painted. Run ``python -m widgets.elided_label`` for a demo.
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["ElidedLabel"]


class ElidedLabel(QtWidgets.QLabel):
    """A ``QLabel`` (plain text, one line) whose text is elided on the right to fit.

    Parameters
    ----------
    text : str
        Initial text.
    parent : QWidget, optional
    """

    def __init__(self, text: str = "", parent: QtWidgets.QWidget | None = None):
        super().__init__(text, parent)
        self.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Preferred)
        self._sync_tooltip()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        """Set the full text (painted elided when it does not fit)."""
        super().setText(text)
        self._sync_tooltip()

    def shown_text(self) -> str:
        """The text as painted: the full text, or its elided form when it does not fit."""
        width = self.contentsRect().width() - 2 * self.margin()
        return self.fontMetrics().elidedText(self.text(), QtCore.Qt.TextElideMode.ElideRight,
                                             max(0, width))

    def is_elided(self) -> bool:
        """Whether the painted text is shortened."""
        return self.shown_text() != self.text()

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 (Qt name)
        """As narrow as "…": the label never forces its parent wider."""
        hint = super().minimumSizeHint()
        return QtCore.QSize(self.fontMetrics().horizontalAdvance("…") + 2 * self.margin(),
                            hint.height())

    def _sync_tooltip(self) -> None:
        """Tooltip = the full text while it is elided, else none."""
        self.setToolTip(self.text() if self.is_elided() else "")

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._sync_tooltip()

    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt name)
        """Paint :meth:`shown_text` with the label's alignment and palette."""
        painter = QtGui.QPainter(self)
        rect = self.contentsRect().adjusted(self.margin(), self.margin(), -self.margin(),
                                            -self.margin())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment()), self.shown_text())
        painter.end()


if __name__ == "__main__":  # pragma: no cover - manual demo
    import sys

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    label = ElidedLabel("A long status message that is elided when the window is narrow; "
                        "hover it to read the whole text in the tooltip.")
    label.setWindowTitle("ElidedLabel demo")
    label.resize(300, 30)
    label.show()
    app.exec()
