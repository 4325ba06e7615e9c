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


class RankingView(QtWidgets.QWidget):
    """A :class:`RankingTable` beside a bar chart of one score column (e.g. PSNR), same order.

    ``table`` exposes the table (``sigPicked`` etc.); :meth:`set_rows` fills both.
    """

    def __init__(self, headers: Sequence[str], score_column: int = 1,
                 score_label: str = "", parent=None):
        super().__init__(parent)
        import pyqtgraph as pg
        self.table = RankingTable(headers)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.score_column = int(score_column)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        item = self.plot.getPlotItem()
        item.setLabel("left", score_label or headers[score_column])
        item.getAxis("left").enableAutoSIPrefix(False)
        item.showGrid(y=True, alpha=0.25)
        self._bars = None
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.table, 3)
        lay.addWidget(self.plot, 2)

    def set_rows(self, rows: Sequence[Sequence], order: Sequence[int],
                 colors: Sequence[tuple] = ()) -> None:
        """Fill the table and draw one bar per row (best first, left to right)."""
        import pyqtgraph as pg
        self.table.set_rows(rows, order)
        item = self.plot.getPlotItem()
        if self._bars is not None:
            item.removeItem(self._bars)
        scores = [float(rows[i][self.score_column]) for i in order]
        brushes = [pg.mkBrush(*(colors[i] if i < len(colors) else (120, 120, 200)))
                   for i in order]
        finite = [s if s == s and abs(s) != float("inf") else 0.0 for s in scores]
        self._bars = pg.BarGraphItem(x=list(range(len(order))), height=finite, width=0.7,
                                     brushes=brushes)
        item.addItem(self._bars)
        item.getAxis("bottom").setTicks([[(k, str(rows[i][0])) for k, i in enumerate(order)]])
        if finite:                      # bars from 0: their heights compare honestly
            item.setYRange(0.0, max(max(finite), 0.0) * 1.05 or 1.0, padding=0.0)
            item.setXRange(-0.6, len(order) - 0.4)
