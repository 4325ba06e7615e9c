"""3-D volume rendering of a reconstruction (vispy ``Volume`` in a QWidget).

Volumes follow the lab convention ``data[z, y, x]`` (float32) with spacing ``(sz, sy, sx)``
mm; voxel centres sit at ``index · spacing`` mm, as in :mod:`widgets.slice_viewer`, whose
cursor ``(i, j, k)`` = (x, y, z) indices :meth:`VolumeCanvas.set_planes` outlines in 3-D.
Volumes larger than the 3-D texture limit (``GL_MAX_3D_TEXTURE_SIZE``, queried once, capped
at ``max_texture`` = 256 per axis by default for software GL) are shown downsampled by an
integer stride, reported by :meth:`VolumeCanvas.downsampled` and a note in the canvas.

Needs OpenGL: without it (see :func:`widgets.gl.opengl_available`) the widget shows a
message, every ``set_*`` call is a no-op and :meth:`VolumeCanvas.render` raises
``RuntimeError``. Run ``python -m widgets.volume_canvas [--screenshot PATH]`` for a demo.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QVBoxLayout, QWidget

from widgets.gl import VispyHost, opengl_available

__all__ = ["METHODS", "VolumeCanvas", "demo_volume", "plane_outline"]

METHODS = ("mip", "translucent", "iso", "attenuated_mip", "minip", "average")
NO_GL_TEXT = "The 3-D volume view needs OpenGL, which this display does not provide."
GL_MAX_3D_TEXTURE_SIZE = 0x8073
#: Outline colours of the axial (z = k), coronal (y = j) and sagittal (x = i) planes,
#: matching the tri-planar viewer.
PLANE_COLORS = {"axial": (0.86, 0.24, 0.20, 1.0), "coronal": (0.16, 0.67, 0.24, 1.0),
                "sagittal": (0.20, 0.43, 0.90, 1.0)}
_PLANE_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}   # array axis (z, y, x) of each plane
_MAX_3D: int | None = None                                  # GL limit, queried once


def plane_outline(axis, index, shape, spacing):
    """Closed rectangle (5, 3) in scene mm ``(x, y, z)`` of one slice plane.

    Parameters
    ----------
    axis : int
        Array axis the plane is perpendicular to (0 = z, 1 = y, 2 = x).
    index : int
        Slice index along that axis; the plane lies at ``index · spacing[axis]`` mm.
    shape, spacing : tuple of 3
        Volume shape ``(nz, ny, nx)`` and spacing ``(sz, sy, sx)``.

    Returns
    -------
    ndarray, shape (5, 3), float32
        Corners in order, the first repeated; the in-plane extent spans the voxel edges.
    """
    lo = [-0.5 * s for s in spacing]
    hi = [(n - 0.5) * s for n, s in zip(shape, spacing)]
    u, v = [a for a in (0, 1, 2) if a != axis]
    corners = []
    for cu, cv in ((lo[u], lo[v]), (hi[u], lo[v]), (hi[u], hi[v]), (lo[u], hi[v]), (lo[u], lo[v])):
        p = [0.0, 0.0, 0.0]
        p[axis], p[u], p[v] = index * spacing[axis], cu, cv
        corners.append(p[::-1])                           # array (z, y, x) → scene (x, y, z)
    return np.asarray(corners, dtype=np.float32)


def _transparent_low(name):
    """Colormap ``name`` with alpha rising from 0 at its low end (for translucent rendering)."""
    from vispy.color import Colormap, get_colormap

    colors = np.asarray(get_colormap(name).map(np.linspace(0, 1, 64)[:, None]), dtype=float)
    colors[:, 3] = 0.6 * np.linspace(0.0, 1.0, 64) ** 3   # faint shells, opaque cores
    return Colormap(colors)


class VolumeCanvas(QWidget):
    """vispy volume view with selectable rendering method and slice-plane outlines.

    Parameters
    ----------
    parent : QWidget or None
    max_texture : int
        Largest number of voxels per axis sent to the GPU (further limited by
        ``GL_MAX_3D_TEXTURE_SIZE``); larger volumes are strided down.
    """

    def __init__(self, parent=None, max_texture=256):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.max_texture = int(max_texture)
        host = self.host = VispyHost(self, layout, opengl_available(), NO_GL_TEXT)
        self.available, self.canvas, self.view = host.available, host.canvas, host.view
        self.volume = None
        self._method, self._cmap, self._threshold = "mip", "grays", None
        self._shape, self._spacing, self._clim = None, (1.0, 1.0, 1.0), (0.0, 1.0)
        self._factor = 1
        if not self.available:
            return
        from vispy import scene

        self.view.camera = scene.TurntableCamera(fov=40, elevation=25, azimuth=35)
        self.planes = {}
        for name, color in PLANE_COLORS.items():
            line = scene.visuals.Line(pos=np.zeros((2, 3), np.float32), color=color, width=2,
                                      method="gl", parent=self.view.scene)
            line.set_gl_state("translucent", depth_test=False)
            line.order, line.visible = 10, False
            self.planes[name] = line
        self.note = scene.visuals.Text("", color="yellow", font_size=9, anchor_x="left",
                                       anchor_y="bottom", pos=(8, 20), parent=self.canvas.scene)

    def render(self):
        """Render the scene off-screen: (H, W, 4) uint8 RGBA (RuntimeError without OpenGL)."""
        return self.host.render()

    # ------------------------------------------------------------------ data
    def texture_limit(self):
        """Largest axis length uploaded: ``min(max_texture, GL_MAX_3D_TEXTURE_SIZE)``."""
        global _MAX_3D
        if _MAX_3D is None and self.available:
            try:
                from vispy.gloo import gl

                self.canvas.set_current()
                value = int(gl.glGetParameter(GL_MAX_3D_TEXTURE_SIZE))
                _MAX_3D = value if value > 0 else None
            except Exception:  # context not ready: assume the GL 3.0 minimum, ask again later
                pass
        return min(self.max_texture, _MAX_3D or 2048)

    def set_volume(self, data, spacing=(1.0, 1.0, 1.0), clim=None):
        """Show ``data[z, y, x]`` with voxel ``spacing`` (sz, sy, sx) mm and frame the camera.

        Parameters
        ----------
        data : array_like, shape (nz, ny, nx)
        spacing : tuple of 3 floats
        clim : (lo, hi) or None
            Contrast limits in data units (None: the data's finite min and max).
        """
        data = np.asarray(data, dtype=np.float32)
        if data.ndim != 3:
            raise ValueError(f"data must be 3-D (z, y, x), got shape {data.shape}")
        if not self.available:
            return
        from vispy import scene
        from vispy.visuals.transforms import STTransform

        self._shape = data.shape
        self._spacing = tuple(float(s) for s in spacing)
        self._factor = f = max(1, -(-max(data.shape) // self.texture_limit()))
        shown = np.nan_to_num(np.ascontiguousarray(data[::f, ::f, ::f]))
        if clim is None:
            lo, hi = (float(data[np.isfinite(data)].min()), float(data[np.isfinite(data)].max())) \
                if np.isfinite(data).any() else (0.0, 1.0)
            clim = (lo, hi if hi > lo else lo + 1.0)
        self._clim = (float(clim[0]), float(clim[1]))
        if self.volume is None:
            self.volume = scene.visuals.Volume(shown, clim=self._clim, method=self._method,
                                               parent=self.view.scene)
        else:
            self.volume.set_data(shown, clim=self._clim)
        sz, sy, sx = self._spacing
        self.volume.transform = STTransform(scale=(sx * f, sy * f, sz * f))
        self.note.text = (f"downsampled ×{f} for display ({shown.shape[2]}×{shown.shape[1]}"
                          f"×{shown.shape[0]} of {data.shape[2]}×{data.shape[1]}"
                          f"×{data.shape[0]})") if f > 1 else ""
        self._apply_look()
        ext = np.array(data.shape[::-1]) * np.array([sx, sy, sz])
        self.view.camera.center = tuple(float(c) for c in (ext / 2 - 0.5 * np.array([sx, sy, sz])))
        self.view.camera.scale_factor = 1.3 * float(ext.max())
        self.canvas.update()

    def downsampled(self):
        """Integer stride the displayed volume was reduced by (1: full resolution)."""
        return self._factor

    # ------------------------------------------------------------------ look
    def set_method(self, method):
        """Rendering method, one of :data:`METHODS`."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        self._method = method
        self._apply_look()

    def set_threshold(self, t):
        """Iso-surface level in data units (None: the middle of the contrast limits)."""
        self._threshold = None if t is None else float(t)
        self._apply_look()

    def set_clim(self, lo, hi):
        """Contrast limits in data units."""
        if not hi > lo:
            raise ValueError(f"need lo < hi, got ({lo}, {hi})")
        self._clim = (float(lo), float(hi))
        if self.volume is not None:
            self.volume.clim = self._clim
        self._apply_look()

    def set_colormap(self, name):
        """vispy colormap name (``grays``, ``viridis``, ``hot``, ...)."""
        from vispy.color import get_colormap

        try:
            get_colormap(name)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"unknown colormap {name!r}") from err
        self._cmap = name
        self._apply_look()

    def _apply_look(self):
        """Push method, colormap and threshold to the volume visual."""
        if self.volume is None:
            return
        vol = self.volume
        vol.method = self._method
        vol.cmap = _transparent_low(self._cmap) if self._method == "translucent" else self._cmap
        lo, hi = self._clim
        t = self._threshold if self._threshold is not None else (lo + hi) / 2
        vol.threshold = float(np.clip((t - lo) / (hi - lo), 0.0, 1.0))  # shader uses [0, 1]
        self.canvas.update()

    # ------------------------------------------------------------------ planes
    def set_azimuth(self, degrees):
        """Turn the camera about the vertical axis to ``degrees`` (rotation movies)."""
        if self.available:
            self.view.camera.azimuth = float(degrees) % 360.0

    def azimuth(self):
        """The camera's azimuth in degrees (None without OpenGL)."""
        return float(self.view.camera.azimuth) if self.available else None

    def set_planes(self, i, j, k):
        """Outline the sagittal (x = i), coronal (y = j) and axial (z = k) planes in mm.

        Indices are full-resolution voxel indices; None hides all three outlines.
        """
        if not self.available or self._shape is None:
            return
        if i is None:
            for line in self.planes.values():
                line.visible = False
        else:
            for name, index in (("sagittal", i), ("coronal", j), ("axial", k)):
                axis = _PLANE_AXIS[name]
                index = int(np.clip(index, 0, self._shape[axis] - 1))
                line = self.planes[name]
                line.set_data(pos=plane_outline(axis, index, self._shape, self._spacing))
                line.visible = True
        self.canvas.update()

    # ------------------------------------------------------------------ output


def demo_volume(shape=(64, 128, 128), spacing=(2.0, 1.0, 1.0)):
    """Nested ellipsoids (values 0.3, 0.6, 1.0) centred in a ``shape`` volume, float32."""
    z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)],
                          indexing="ij")
    extent = [n * s / 2 for n, s in zip(shape, spacing)]
    out = np.zeros(shape, np.float32)
    for scale, value, off in ((0.85, 0.3, 0.0), (0.5, 0.6, -0.2), (0.22, 1.0, 0.25)):
        a = [scale * e for e in extent]
        r = (z / a[0]) ** 2 + ((y - off * extent[1]) / (0.7 * a[1])) ** 2 + (x / a[2]) ** 2
        out[r <= 1] = value
    return out


def _demo(argv=None):  # pragma: no cover - manual demo
    """Show the demo; ``--screenshot PATH`` saves a PNG after 1.5 s, ``--method M`` picks one."""
    import sys

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    argv = sys.argv if argv is None else argv
    app = QApplication.instance() or QApplication(argv)
    spacing = (2.0, 1.0, 1.0)
    data = demo_volume(spacing=spacing)
    view = VolumeCanvas()
    view.setWindowTitle("VolumeCanvas demo")
    view.resize(900, 700)
    view.set_volume(data, spacing)
    view.set_method(argv[argv.index("--method") + 1] if "--method" in argv else "translucent")
    view.set_threshold(0.5)
    view.set_planes(40, 64, 32)
    view.show()
    if "--screenshot" in argv:
        path = argv[argv.index("--screenshot") + 1]
        QTimer.singleShot(1500, lambda: (view.grab().save(path), app.quit()))
    app.exec()


if __name__ == "__main__":  # pragma: no cover - manual demo
    _demo()
