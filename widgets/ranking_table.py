"""A read-only table that ranks results (best first) and reports the row the user picks."""
from __future__ import annotations

from typing import Sequence

from PySide6 import QtCore, QtWidgets


class RankingTable(QtWidgets.QTableWidget):
    """Rows of ``(label, values...)`` with a rank column; double-click or Enter picks a row.

    Signals
    -------
    sigPicked(int)
        Index of the picked row in the order given to :meth:`set_rows`.
    """

    sigPicked = QtCore.Signal(int)

    def __init__(self, headers: Sequence[str], parent=None):
        super().__init__(0, len(headers) + 1, parent)
        self.setHorizontalHeaderLabels(["#", *headers])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self._order: list[int] = []
        self.cellDoubleClicked.connect(lambda row, _col: self._pick(row))

    def set_rows(self, rows: Sequence[Sequence], order: Sequence[int]) -> None:
        """Show ``rows`` (each ``[label, *cells]``, cells already formatted or numbers) in the
        ranked ``order`` (indices into ``rows``, best first)."""
        self._order = list(order)
        self.setRowCount(len(self._order))
        for rank, index in enumerate(self._order):
            cells = [str(rank + 1), *(_fmt(c) for c in rows[index])]
            for col, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                align = QtCore.Qt.AlignLeft if col == 1 else QtCore.Qt.AlignRight
                item.setTextAlignment(align | QtCore.Qt.AlignVCenter)
                self.setItem(rank, col, item)

    def picked_index(self, row: int) -> int:
        """Index (in the order given to :meth:`set_rows`) shown on table row ``row``."""
        return self._order[row]

    def _pick(self, row: int) -> None:
        if 0 <= row < len(self._order):
            self.sigPicked.emit(self._order[row])

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() in (QtCore.Qt.Key_Return, QtCore.Qt.Key_Enter):
            self._pick(self.currentRow())
            return
        super().keyPressEvent(event)


def _fmt(value) -> str:
    if isinstance(value, float):
        return "—" if value != value else f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)
