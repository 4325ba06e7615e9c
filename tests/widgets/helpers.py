"""Shared helpers of the widget tests."""
import numpy as np
from PySide6.QtGui import QImage


def image_array(qimage):
    """QImage → (H, W, 4) uint8 array."""
    img = qimage.convertToFormat(QImage.Format.Format_RGBA8888)
    buf = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes())
    # Copy: the buffer belongs to the converted QImage, which is freed when this returns.
    return buf.reshape(img.height(), img.bytesPerLine())[:, :4 * img.width()].reshape(
        img.height(), img.width(), 4).copy()
