"""Colours and geometry shared by the region views (2-D map and 3-D surface).

Regions are coloured by a hash of their pattern id into a 256-colour pastel LUT, so a
pattern keeps its colour across frames and views; class colours match the CET-D1 output map.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

from widgets.isolines import clip_line

__all__ = ["POS_COLOR", "NEG_COLOR", "KEY_NAMES", "KEY_SYMBOLS", "RegionKeyMixin", "key_html", "boundary_mask", "clip_lines", "hash_index",
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


class RegionKeyMixin:
    """The key of a :class:`widgets.region_map.RegionMap`: one entry per kind of mark drawn.

    Uses the map's items (``isocurves``, ``lines_item``, ``line_marks``, ``data_item``,
    ``output_image``, ``fade_image``), its ``key`` label, ``_key_names`` and ``_data_kinds``.
    """

    def set_key_names(self, **names: str) -> None:
        """Rename key entries (keys of :data:`widgets.region_style.KEY_NAMES`), e.g. when the
        lines are not neurons (gate space: the data points' lines)."""
        unknown = set(names) - set(KEY_NAMES)
        if unknown:
            raise ValueError(f"unknown key entries {sorted(unknown)}; known: "
                             f"{', '.join(KEY_NAMES)}")
        self._key_names.update(names)
        self._refresh_key()

    def key_entries(self) -> list[str]:
        """Kinds of marks drawn now, in key order: ``boundary`` (f = 0, thick black),
        ``isolines`` (dashed), ``lines`` (neuron lines), ``ticks`` (white dots on stems),
        ``pos``/``neg``/``targets`` (data), ``output`` (heat map), ``faded``."""
        out = []
        if self._output is not None:
            levels = [iso.level for iso in self.isocurves if iso.isVisible()]
            out += ["boundary"] * any(lv == 0 for lv in levels)
            out += ["isolines"] * any(lv != 0 for lv in levels)
        if self._lines is not None and self.lines_item.isVisible() and \
                self.lines_item.xData is not None and len(self.lines_item.xData):
            out.append("lines")
            out += ["ticks"] * (len(self.line_marks.data) > 0)
        if self.data_item.isVisible():
            out += list(self._data_kinds)
        out += ["output"] * self.output_image.isVisible()
        out += ["faded"] * (self._faded and self.fade_image.isVisible())
        return out

    def _refresh_key(self) -> None:
        text = key_html([(kind, self._key_names[kind]) for kind in self.key_entries()])
        if text != self.key.text():
            self.key.setText(text)
        self.key.setVisible(bool(text))
