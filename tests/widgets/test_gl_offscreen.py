"""widgets.gl in ``offscreen`` mode (issue #16): the vispy scene is drawn into a framebuffer
object and shown by a raster widget, so no QOpenGLWidget ever joins the window; Qt input on
that widget drives the canvas (camera, vispy mouse events); only a scene change renders."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QSurface
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from widgets.gl import VispyHost, gl_mode, opengl_available
from widgets.gl_offscreen import OffscreenCanvasView


def _shown_host(qtbot, camera="turntable"):
    """A window: a plain page, then a page with an off-screen vispy host, shown."""
    if not opengl_available():
        pytest.skip("no OpenGL on this display")
    stack = QStackedWidget()
    qtbot.addWidget(stack)
    stack.addWidget(QLabel("a lab without 3-D views"))
    page = QWidget()
    layout = QVBoxLayout(page)
    host = VispyHost(page, layout, True, "needs GL", bgcolor="white", mode="offscreen")
    host.view.camera = camera
    stack.addWidget(page)
    stack.resize(240, 180)
    stack.show()
    stack.setCurrentIndex(1)
    qtbot.waitExposed(stack)
    qtbot.waitUntil(lambda: host.widget.renders > 0)
    return stack, host


def test_the_mode_switch_reads_flowscope_gl(monkeypatch):
    monkeypatch.delenv("FLOWSCOPE_GL", raising=False)
    assert gl_mode() == "offscreen"
    monkeypatch.setenv("FLOWSCOPE_GL", " Window ")
    assert gl_mode() == "window"
    monkeypatch.setenv("FLOWSCOPE_GL", "egl")
    with pytest.raises(ValueError, match="FLOWSCOPE_GL must be one of offscreen, window"):
        gl_mode()


def test_the_window_keeps_raster_painting_and_shows_the_scene(qtbot):
    stack, host = _shown_host(qtbot)
    assert isinstance(host.widget, OffscreenCanvasView)
    assert not stack.findChildren(QOpenGLWidget) and host.canvas.native.parent() is None
    assert stack.windowHandle().surfaceType() == QSurface.SurfaceType.RasterSurface
    shown = host.widget.grab().toImage()
    assert (shown.width(), shown.height()) == (host.widget.width(), host.widget.height())
    assert shown.pixelColor(10, 10).name() == "#ffffff"                 # the white background
    assert tuple(host.canvas.size) == (host.widget.width(), host.widget.height())


def test_only_a_change_renders_and_changes_are_coalesced(qtbot):
    from vispy import scene
    _stack, host = _shown_host(qtbot)
    marker = scene.visuals.Markers(parent=host.view.scene)
    qtbot.wait(50)
    before = host.widget.renders
    host.widget.repaint()                                             # nothing changed
    assert host.widget.renders == before
    for k in range(5):                                                # five changes, one draw
        marker.set_data(np.array([[0.1 * k, 0.0, 0.0]], np.float32), face_color="red")
    qtbot.waitUntil(lambda: host.widget.renders == before + 1)
    qtbot.wait(50)
    assert host.widget.renders == before + 1


def test_wheel_and_drag_on_the_raster_widget_move_the_camera(qtbot):
    _stack, host = _shown_host(qtbot)
    cam, widget = host.view.camera, host.widget
    scale, azimuth = cam.scale_factor, cam.azimuth
    pressed = []
    host.canvas.events.mouse_press.connect(lambda ev: pressed.append(tuple(ev.pos[:2])))
    centre = widget.rect().center()
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=centre)
    for dx in (10, 20, 40):
        qtbot.mouseMove(widget, centre + QPoint(dx, 0))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=centre + QPoint(40, 0))
    assert pressed == [(centre.x(), centre.y())]                      # widget pixels
    assert cam.azimuth != pytest.approx(azimuth)                      # orbited
    renders = widget.renders
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication
    wheel = QWheelEvent(QPointF(centre), QPointF(widget.mapToGlobal(centre)), QPoint(0, 0),
                        QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, wheel)
    assert cam.scale_factor < scale                                   # zoomed in
    qtbot.waitUntil(lambda: widget.renders > renders)                 # and drawn again


def test_resizing_resizes_the_canvas_and_closing_releases_it(qtbot):
    stack, host = _shown_host(qtbot)
    stack.resize(320, 260)
    qtbot.waitUntil(lambda: tuple(host.canvas.size) == (host.widget.width(),
                                                         host.widget.height()))
    image = host.render()
    assert image.shape == (host.canvas.physical_size[1], host.canvas.physical_size[0], 4)
    stack.widget(1).close()
    assert host.canvas._closed
    host.widget.repaint()                                             # released: no draw


def test_two_views_in_one_window_each_draw_their_own_scene(qtbot):
    """Each view draws with its own context and vispy's current canvas set to it."""
    from vispy import scene
    if not opengl_available():
        pytest.skip("no OpenGL on this display")
    page = QWidget()
    qtbot.addWidget(page)
    layout = QVBoxLayout(page)
    hosts = [VispyHost(page, layout, True, "needs GL", bgcolor=c, mode="offscreen")
             for c in ("white", "blue")]
    dot = scene.visuals.Markers(parent=hosts[0].view.scene)
    dot.set_data(np.zeros((1, 2), np.float32), face_color="red", size=30, edge_width=0)
    hosts[0].view.camera = scene.PanZoomCamera(rect=(-1, -1, 2, 2))
    page.resize(200, 300)
    page.show()
    qtbot.waitExposed(page)
    first, second = (h.render() for h in hosts)
    h, w = first.shape[:2]
    assert tuple(first[2, 2, :3]) == (255, 255, 255)
    assert tuple(first[h // 2, w // 2, :3]) == (255, 0, 0)              # the dot, centred
    assert tuple(second[2, 2, :3]) == (0, 0, 255) and (second[..., 2] == 255).all()


def test_a_particle_frame_change_shows_the_new_frame_not_a_stale_one(qtbot, monkeypatch):
    """What the window shows (a grab) is the scene of the frame set last, rendered once."""
    from widgets.particle_canvas import ParticleCanvas
    if not opengl_available():
        pytest.skip("no OpenGL on this display")
    monkeypatch.setenv("FLOWSCOPE_GL", "offscreen")
    view = ParticleCanvas(dim=2)
    qtbot.addWidget(view)
    view.resize(160, 140)
    view.show()
    qtbot.waitExposed(view)
    x = np.zeros((2, 30, 2), np.float32)
    x[0, :, 0], x[1, :, 0] = -0.5, 0.5                      # all left, then all right
    view.set_range((-1, 1), (-1, 1))
    view.set_particles(x)
    shown = []
    for i in (0, 1):
        view.set_frame(i)
        renders = view.host.widget.renders
        image = view.host.widget.grab().toImage()
        assert view.host.widget.renders == renders + 1        # drawn for this frame
        w = image.width()
        bright = [x_ for x_ in range(w) if image.pixelColor(x_, image.height() // 2).value() > 128]
        shown.append(np.mean(bright) / w)
    assert shown[0] < 0.4 < 0.6 < shown[1]                  # the cloud moved left → right


def test_a_real_qt_drag_in_draw_mode_draws_a_stroke(qtbot, monkeypatch):
    """The particle view's draw mode works through the raster widget (Qt mouse events)."""
    from widgets.particle_canvas import ParticleCanvas
    if not opengl_available():
        pytest.skip("no OpenGL on this display")
    monkeypatch.setenv("FLOWSCOPE_GL", "offscreen")
    view = ParticleCanvas(dim=2)
    qtbot.addWidget(view)
    view.resize(200, 200)
    view.show()
    qtbot.waitExposed(view)
    view.set_range((-1, 1), (-1, 1))
    view.set_draw_mode(True)
    assert view.host.widget.cursor().shape() == Qt.CursorShape.CrossCursor
    strokes, rect = [], tuple(view.view.camera.rect.pos) + tuple(view.view.camera.rect.size)
    view.sigPointsDrawn.connect(strokes.append)
    widget = view.host.widget
    start = widget.rect().center()
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for dx in (5, 15, 30):
        qtbot.mouseMove(widget, start + QPoint(dx, 0))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=start + QPoint(30, 0))
    assert len(strokes) == 1 and strokes[0].shape[1] == 2 and len(strokes[0]) >= 2
    assert strokes[0][-1, 0] > strokes[0][0, 0] and abs(strokes[0][0, 0]) < 0.1
    cam = view.view.camera.rect
    assert tuple(cam.pos) + tuple(cam.size) == pytest.approx(rect)  # no pan while drawing
