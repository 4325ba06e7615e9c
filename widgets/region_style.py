"""Colours and geometry shared by the region views (2-D map and 3-D surface).

Regions are coloured by a hash of their pattern id into a 256-colour pastel LUT, so a
pattern keeps its colour across frames and views; class colours match the CET-D1 output map.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from widgets.isolines import clip_line

__all__ = ["POS_COLOR", "NEG_COLOR", "KEY_NAMES", "KEY_SYMBOLS", "RegionKey", "key_html",
           "boundary_mask", "clip_lines", "data_brushes", "draw_isocurves", "hash_index",
           "hover_anchor", "node_rect", "region_colors", "region_palette"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)   # 2⁶⁴/φ: no single-bit id flip keeps the top byte
POS_COLOR, NEG_COLOR = (215, 48, 39), (49, 104, 198)   # class colours (match CET-D1)

#: What each kind of mark on a region map means (the key's words; a view may rename them).
KEY_NAMES = {
    "boundary": "f(x) = 0: decision boundary",
    "isolines": "f(x) = ±½ max|f|",
    "lines": "neuron lines wⱼ·x + bⱼ = 0",
    "ticks": "tick: side where wⱼ·x + bⱼ > 0",
    "pos": "data, target +1",
    "neg": "data, target −1",
    "targets": "data (colour: target)",
    "output": "shading: f(x), blue < 0 < red",
    "faded": "washed out: not used",
}
#: How each kind of mark looks, as rich text (matches the items :class:`RegionMap` draws).
KEY_SYMBOLS = {
    "boundary": '<span style="color:#141414">▬▬</span>',
    "isolines": '<span style="color:#464646">╌╌</span>',
    "lines": '<span style="color:#232323">──</span>',
    "ticks": '<span style="color:#1e1e1e">┴○</span>',
    "pos": f'<span style="color:rgb{POS_COLOR}">●</span>',
    "neg": f'<span style="color:rgb{NEG_COLOR}">●</span>',
    "targets": '<span style="color:#440154">●</span><span style="color:#21918c">●</span>'
               '<span style="color:#fde725">●</span>',
    "output": '<span style="color:rgb(49,104,198)">█</span><span style="color:#eeeeee">█</span>'
              f'<span style="color:rgb{POS_COLOR}">█</span>',
    "faded": '<span style="color:#d8d8d8">██</span>',
}


def key_html(entries) -> str:
    """A one-paragraph key: ``symbol name`` for each ``(kind, name)`` (kinds of
    :data:`KEY_SYMBOLS`), separated by wide gaps; '' for no entries."""
    items = [f'<span style="white-space:nowrap">{KEY_SYMBOLS[kind]}&nbsp;{name}</span>'
             for kind, name in entries]
    return "&nbsp;&nbsp;&nbsp; ".join(items)


def region_palette(n: int = 256) -> np.ndarray:
    """``n`` distinct pastel colours (uint8 ``(n, 3)``): golden-ratio hues, varied S and V."""
    k = np.arange(n)
    h = (k * 0.6180339887) % 1.0
    s = 0.14 + 0.20 * ((k * 0.7548776662) % 1.0)
    v = 0.93 + 0.07 * ((k * 0.5698402910) % 1.0)
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)])
    rgb = table[i, :, k]                                  # (n, 3)
    return np.round(255 * rgb).astype(np.uint8)


def hash_index(ids, out: np.ndarray | None = None) -> np.ndarray:
    """LUT index (uint8) of integer ids: the top byte of the Fibonacci hash ``id·2⁶⁴/φ``.

    Stable per id, and ids that differ in one bit (neighbouring cells of one layer's lines,
    for bit-packed patterns) always get different indices. int64/uint64 ids are not copied;
    ``out`` (uint8, same shape) is reused between frames when given.
    """
    ids = np.asarray(ids)
    u = ids.view(np.uint64) if ids.dtype in (np.int64, np.uint64) else ids.astype(np.uint64)
    h = np.multiply(u, _GOLDEN)
    np.right_shift(h, np.uint64(56), out=h)
    if out is None:
        return h.astype(np.uint8)
    np.copyto(out, h, casting="unsafe")
    return out


def boundary_mask(ids: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels where the id differs from a 4-neighbour (``width`` 2 marks both sides)."""
    mask = np.zeros(ids.shape, dtype=bool)
    dx = ids[:, 1:] != ids[:, :-1]
    dy = ids[1:, :] != ids[:-1, :]
    mask[:, 1:] |= dx
    mask[1:, :] |= dy
    if width > 1:
        mask[:, :-1] |= dx
        mask[:-1, :] |= dy
    return mask


def clip_lines(W, b, xlim, ylim):
    """The lines ``{x : W[j]·x + b[j] = 0}`` clipped to a rectangle.

    Returns
    -------
    seg : ndarray, shape (k, 2, 2)
        Endpoints of the lines that cross the rectangle.
    keep : ndarray of int, shape (k,)
        Their rows in ``W`` (zero or non-finite rows and lines missing the box are dropped).
    """
    W = np.asarray(W, dtype=float).reshape(-1, 2)
    b = np.asarray(b, dtype=float).reshape(-1)
    clipped = [(j, clip_line(W[j], -b[j], xlim, ylim)) for j in range(len(W))]
    keep = np.array([j for j, seg in clipped if seg is not None], dtype=int)
    seg = [seg for _, seg in clipped if seg is not None]
    return (np.stack(seg) if seg else np.zeros((0, 2, 2))), keep


def node_rect(x0, x1, y0, y1, shape, stride=1) -> QtCore.QRectF:
    """Rect of an image of ``shape[::-1]`` (every ``stride``-th node) centred on the nodes."""
    dx = stride * (x1 - x0) / max(shape[1] - 1, 1)
    dy = stride * (y1 - y0) / max(shape[0] - 1, 1)
    nx, ny = -(-shape[1] // stride), -(-shape[0] // stride)
    return QtCore.QRectF(x0 - dx / 2, y0 - dy / 2, nx * dx, ny * dy)


def region_colors(ids, keys=None, lut: np.ndarray | None = None) -> np.ndarray:
    """RGB (uint8, ``ids.shape + (3,)``) of each pixel's region, as :class:`RegionMap` draws it.

    Parameters
    ----------
    ids : array_like of int
        Pattern ids; equal ids = same region.
    keys : array_like of int, shape (K,), optional
        Stable key of each id (``ids`` in ``0..K−1``); colours then follow the keys.
    lut : ndarray, shape (256, 3), optional
        Palette (default :func:`region_palette`).
    """
    lut = region_palette(256) if lut is None else lut
    ids = np.asarray(ids)
    index = hash_index(np.asarray(keys))[ids] if keys is not None else hash_index(ids)
    return lut[index]


def hover_anchor(x: float, y: float, width: float, height: float, size=(0.0, 0.0)):
    """Top-left corner of a hover readout of ``size`` beside the cursor at ``(x, y)``.

    The readout goes below-right of the cursor, flipped towards the centre of the
    ``width × height`` view, then shifted so that it stays inside the view when it fits.

    Returns
    -------
    (float, float)
        Top-left corner of the readout, in the view's pixel coordinates.
    """
    tw, th = size
    left = x - 12 - tw if x > width / 2 else x + 14
    top = y - 10 - th if y > height / 2 else y + 14
    return (min(max(left, 0.0), max(width - tw, 0.0)), min(max(top, 0.0), max(height - th, 0.0)))


class RegionKey:
    """The key under a region map: one entry per kind of mark drawn, in words.

    Parameters
    ----------
    label : QLabel
        Shows the key (rich text); hidden while nothing is drawn.
    marks : callable
        ``marks() -> list[str]``: the kinds of marks drawn now, in key order (keys of
        :data:`KEY_NAMES`).

    Attributes
    ----------
    names : dict
        The words of each kind of mark (:data:`KEY_NAMES`, as renamed).
    """

    def __init__(self, label, marks):
        self.label, self.marks, self.names = label, marks, dict(KEY_NAMES)

    def rename(self, **names: str) -> None:
        """Rename key entries (keys of :data:`KEY_NAMES`)."""
        unknown = set(names) - set(KEY_NAMES)
        if unknown:
            raise ValueError(f"unknown key entries {sorted(unknown)}; known: "
                             f"{', '.join(KEY_NAMES)}")
        self.names.update(names)
        self.refresh()

    def refresh(self) -> None:
        """Show the entries of the marks drawn now (hide the label when there are none)."""
        text = key_html([(kind, self.names[kind]) for kind in self.marks()])
        if text != self.label.text():
            self.label.setText(text)
        self.label.setVisible(bool(text))


def data_brushes(y: np.ndarray, kind: str):
    """Brushes of data points with labels or targets ``y`` and the key entries they make.

    Parameters
    ----------
    y : ndarray, shape (n,)
        ``"class"``: ±1 or 0/1 labels (positive red, negative blue); ``"regression"``:
        targets (viridis over their range).
    kind : {"class", "regression"}

    Returns
    -------
    brush : sequence of QBrush
    kinds : tuple of str
        ``("pos", "neg")`` (those present) or ``("targets",)``; empty without points.
    """
    if kind == "class":
        pos = y > (0.5 if y.size and y.min() >= 0 else 0.0)
        brush = np.where(pos, pg.mkBrush(POS_COLOR), pg.mkBrush(NEG_COLOR))
        return brush, tuple(k for k, has in (("pos", pos.any()), ("neg", (~pos).any())) if has)
    lo, hi = (float(y.min()), float(y.max())) if y.size else (0.0, 1.0)
    t = (y - lo) / (hi - lo) if hi > lo else np.full(len(y), 0.5)
    brush = [pg.mkBrush(c) for c in pg.colormap.get("viridis").map(t, mode="qcolor")]
    return brush, (("targets",) if len(y) else ())


def draw_isocurves(plot_item, isocurves: list, v: np.ndarray, levels, rect, max_samples: int):
    """Trace ``levels`` of ``v`` with one IsocurveItem each on a strided copy of ``v``.

    Items in ``isocurves`` are reused, new ones are added to ``plot_item`` (and the list);
    the level 0 is bold, the others dashed, unused items are cleared. ``rect`` is the grid's
    ``(x0, x1, y0, y1, shape)`` or None (pixel coordinates).
    """
    s = max(1, int(np.ceil(max(v.shape) / max_samples)))
    sub = np.ascontiguousarray(v[::s, ::s])
    while len(isocurves) < len(levels):
        iso = pg.IsocurveItem(axisOrder="row-major")
        iso.setZValue(3)
        plot_item.addItem(iso)
        isocurves.append(iso)
    r = node_rect(*(rect or (0, v.shape[1] - 1, 0, v.shape[0] - 1, v.shape))[:4],
                  v.shape, s)                        # sample i sits at pixel i + ½
    tr = QtGui.QTransform.fromTranslate(r.left(), r.top())
    tr.scale(r.width() / sub.shape[1], r.height() / sub.shape[0])
    for k, iso in enumerate(isocurves):
        if k < len(levels):
            zero = levels[k] == 0
            iso.setPen(pg.mkPen((20, 20, 20), width=2.5) if zero else
                       pg.mkPen((70, 70, 70, 200), width=1, style=QtCore.Qt.PenStyle.DashLine))
            iso.setData(sub, levels[k])
            iso.setTransform(tr)
        else:
            iso.setData(None)
