"""The widgets of the main window, laid out for screens from 1280 × 720 up.

The side dock scrolls its lab/preset choice and parameter panel; Run/Cancel, auto-run and the
progress bar stay below the scrolling part, so they are visible on short screens. A banner
above the views says "press Run (F5)" while the lab shown has no result.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QFrame, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QScrollArea, QStackedWidget,
                               QVBoxLayout, QWidget)

from widgets.elided_label import ElidedLabel
from widgets.playback_bar import PlaybackBar

RUN_HINT = "No result yet: press Run (F5)."
LOADING = "Loading the labs…"


def build(win, devices) -> None:
    """Create the widgets of ``win`` (a MainWindow): views, hint, playback, side panel with
    Run/Cancel/progress below its scrolling part, status bar with the device choice."""
    win.views = QStackedWidget()
    win.playback = PlaybackBar()
    win.run_hint = QLabel(RUN_HINT)
    win.run_hint.setObjectName("run_hint")
    win.run_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
    win.run_hint.setStyleSheet("background: #fff4c2; padding: 6px; font-weight: bold;")
    central = QWidget()
    box = QVBoxLayout(central)
    box.setContentsMargins(4, 4, 4, 4)
    box.addWidget(win.run_hint)
    box.addWidget(win.views, 1)
    box.addWidget(win.playback)
    win.setCentralWidget(central)
    _build_side_panel(win)
    _build_status_bar(win, devices)
    win.playback.install_shortcuts(win)

def _build_side_panel(win) -> None:
    win.lab_box = QComboBox()
    win.preset_box = QComboBox()
    win.preset_note = QLabel()
    win.preset_note.setWordWrap(True)
    win.panels = QStackedWidget()
    win.run_button = QPushButton("Run")
    win.cancel_button = QPushButton("Cancel")
    win.cancel_button.setEnabled(False)
    win.auto_run = QCheckBox("Re-run on every change")
    win.progress = QProgressBar()
    win.progress.setRange(0, 1000)
    win.progress.setTextVisible(True)
    side = QWidget()
    lay = QVBoxLayout(side)
    lay.addWidget(_scrolled_panel(win), 1)
    buttons = QHBoxLayout()       # Run/Cancel and progress stay below the scrolling part
    buttons.addWidget(win.run_button)
    buttons.addWidget(win.cancel_button)
    lay.addLayout(buttons)
    lay.addWidget(win.auto_run)
    lay.addWidget(win.progress)
    win.side_dock = QDockWidget("Parameters", win)
    win.side_dock.setObjectName("parameters")
    win.side_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
    win.side_dock.setWidget(side)
    win.side_dock.setMinimumWidth(300)
    win.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, win.side_dock)

def _scrolled_panel(win) -> QScrollArea:
    """Lab and preset choice and the parameter panel, scrolling on short screens."""
    inner = QWidget()
    lay = QVBoxLayout(inner)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(QLabel("Lab"))
    lay.addWidget(win.lab_box)
    lay.addWidget(QLabel("Preset"))
    lay.addWidget(win.preset_box)
    lay.addWidget(win.preset_note)
    lay.addWidget(win.panels, 1)
    win.side_scroll = QScrollArea()
    win.side_scroll.setWidgetResizable(True)
    win.side_scroll.setFrameShape(QFrame.Shape.NoFrame)
    win.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    win.side_scroll.setWidget(inner)
    return win.side_scroll

def _build_status_bar(win, devices) -> None:
    win.status_label = ElidedLabel("Ready")     # long summaries: "…", full text as tooltip
    win.device_box = QComboBox()
    win.device_box.setToolTip("Compute device for engine runs")
    set_devices(win, devices)
    bar = win.statusBar()
    bar.addWidget(win.status_label, 1)
    bar.addPermanentWidget(QLabel("Device:"))
    bar.addPermanentWidget(win.device_box)


def set_devices(win, devices) -> None:
    """Fill the device choice with ``(device, human name)`` pairs."""
    win.device_box.blockSignals(True)
    win.device_box.clear()
    for dev, name in devices:
        win.device_box.addItem(name, dev)
    win.device_box.blockSignals(False)


def show_loading(win, loading: bool) -> None:
    """While the labs load: "Loading the labs…" in the view area and the status bar, the
    side panel and the menu entries that need a lab disabled (nothing to run yet); the
    menus still open, and Quit, View and Help work."""
    if loading:
        win.loading_label = QLabel(LOADING)
        win.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        win.views.addWidget(win.loading_label)
        win.status_label.setText(LOADING)
    elif getattr(win, "loading_label", None) is not None:
        win.views.removeWidget(win.loading_label)
        win.loading_label.deleteLater()
        win.loading_label = None
    if loading:
        win.run_hint.hide()
    win.side_dock.widget().setEnabled(not loading)
    for action in lab_actions(win):
        action.setEnabled(not loading)


def lab_actions(win) -> list:
    """The menu entries that act on a lab: every File and Run entry but Quit."""
    found = []
    for top in win.menuBar().actions():
        menu = top.menu()
        if menu is not None and menu.title().replace("&", "") in ("File", "Run"):
            found += [a for a in menu.actions()
                      if not a.isSeparator() and a.text().replace("&", "") != "Quit"]
    return found


def add_lab(win, name: str, slot) -> None:
    """Put a newly built lab (``app.window_slots.LabSlot``) in ``win``: its view and panel,
    its signals wired to the window, presentation mode's fonts when that is on."""
    slot.presenter.setParent(win)     # deleted with the window: its signals' lambdas
                                      # hold the window (a cycle gc cannot see)
    win.views.addWidget(slot.presenter.view)
    win.panels.addWidget(slot.panel)
    fit_dock_width(win)
    slot.panel.sigConfigChanged.connect(win._config_changed)
    slot.panel.sigInvalid.connect(lambda text: win.show_message(text, name))
    slot.presenter.sigMessage.connect(lambda text: win.show_message(text, name))
    slot.presenter.sigConfigEdit.connect(lambda changes: win.edit_config(changes, name))
    present_new_lab(win, slot)


def present_new_lab(win, slot) -> None:
    """A lab built while presentation mode is on gets its larger fonts too."""
    action = getattr(win, "presentation_action", None)
    if action is None or not action.isChecked():
        return
    from app.presentation import presentation_scale, scale_plot_fonts
    screen = win.screen()
    scale = presentation_scale(screen.geometry().height()) if screen is not None else 1.5
    scale_plot_fonts(slot.presenter.svg_plots().values(), True, scale)
    slot.presenter.set_presentation(True)


def fit_dock_width(win, most: int = 400) -> None:
    """Make the side dock wide enough for the widest parameter panel (at most ``most`` px),
    so no editor or unit is cut off and no horizontal scroll bar appears."""
    widest = max((win.panels.widget(i).sizeHint().width() for i in range(win.panels.count())),
                 default=0)
    scroll_bar = win.side_scroll.verticalScrollBar().sizeHint().width()
    margins = win.side_dock.widget().layout().contentsMargins()
    need = widest + scroll_bar + margins.left() + margins.right() + 4
    win.side_dock.setMinimumWidth(max(300, min(most, need)))


def fill_presets(win, presets: dict, chosen) -> None:
    """List ``presets`` (key → preset) in ``win``'s preset box after "(custom)", select
    ``chosen`` (None: custom) and show its description, without emitting a choice."""
    box = win.preset_box
    box.blockSignals(True)
    box.clear()
    box.addItem("(custom)", None)
    for key, preset in presets.items():
        box.addItem(preset.get("title", key), key)
    box.setCurrentIndex(max(0, box.findData(chosen)))
    box.blockSignals(False)
    win.preset_note.setText(presets.get(chosen, {}).get("description", "") if chosen else "")
