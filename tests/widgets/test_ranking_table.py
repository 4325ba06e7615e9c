"""Ranking table + bar chart: order, picking, bars."""
import pytest
from PySide6 import QtCore

from widgets.ranking_table import RankingTable, RankingView

ROWS = [("fbp", 21.8, 0.55), ("dds", 31.4, 0.90), ("tv", 30.5, 0.93)]
ORDER = [1, 2, 0]


def test_rows_follow_the_ranked_order_and_picking_reports_the_original_index(qtbot):
    table = RankingTable(("Method", "PSNR", "SSIM"))
    qtbot.addWidget(table)
    table.set_rows(ROWS, ORDER)
    assert [table.item(r, 1).text() for r in range(3)] == ["dds", "tv", "fbp"]
    assert [table.item(r, 0).text() for r in range(3)] == ["1", "2", "3"]
    assert table.item(0, 2).text() == "31.40" and table.item(0, 3).text() == "0.9"
    with qtbot.waitSignal(table.sigPicked) as sig:
        table.cellDoubleClicked.emit(2, 1)
    assert sig.args == [0] and table.picked_index(1) == 2
    table.setCurrentCell(1, 1)
    with qtbot.waitSignal(table.sigPicked) as sig:
        qtbot.keyClick(table, QtCore.Qt.Key_Return)
    assert sig.args == [2]


def test_bar_chart_has_one_bar_per_row_in_rank_order(qtbot):
    view = RankingView(("Method", "PSNR", "SSIM"), score_column=1)
    qtbot.addWidget(view)
    view.set_rows(ROWS, ORDER)
    bars = view._bars.opts
    assert list(bars["height"]) == [31.4, 30.5, 21.8] and list(bars["x"]) == [0, 1, 2]
    view.set_rows(ROWS[:2], [1, 0])                     # a re-run replaces the bars
    assert list(view._bars.opts["height"]) == [31.4, 21.8]
    low, high = view.plot.getPlotItem().viewRange()[1]
    assert low == 0.0 and high == pytest.approx(31.4 * 1.05)          # bars from 0, full
