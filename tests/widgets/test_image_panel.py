"""ImagePanel: image placement, levels, NaN handling, overlay."""
import numpy as np

from tests.widgets.helpers import image_array
from widgets.image_panel import ImagePanel


def test_image_rect_levels_and_nan(qtbot):
    panel = ImagePanel("t", "x", "y")
    qtbot.addWidget(panel)
    img = np.arange(12, dtype=float).reshape(3, 4)
    img[0, 0] = np.nan
    panel.set_image(img, rect=(0, 0, 8, 6))
    assert panel.image.image.shape == (3, 4)
    assert np.isfinite(panel.image.image).all()
    assert panel.image.levels[0] == 1.0 and panel.image.levels[1] == 11.0
    r = panel.image.mapRectToParent(panel.image.boundingRect())
    assert (r.width(), r.height()) == (8, 6)


def test_overlay_and_not_blank(qtbot):
    panel = ImagePanel()
    qtbot.addWidget(panel)
    panel.resize(300, 300)
    panel.show()
    panel.set_image(np.random.default_rng(0).random((16, 16)))
    panel.set_overlay(np.eye(16, dtype=bool))
    assert panel.overlay.image.shape == (16, 16, 4)
    assert image_array(panel.grab().toImage())[..., :3].std() > 5
    panel.set_image(None)
    panel.set_overlay(None)
