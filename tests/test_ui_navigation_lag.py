"""Navigation does not queue up behind slow frames (issue 14.10): with a frame that takes 200 ms
(software OpenGL on a big city), a burst of mouse moves delivered through Qt's event queue is drawn in
a few frames, and the last frame shows the camera after the last move; the view stops when the mouse
stops. Rendering each move as it comes (no coalescing) draws one frame per move and fails here."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.test_ui_attribute_table import wait_until

SLOW_FRAME_S = 0.2
MOVES = 24


@pytest.fixture
def view(qapp):
    from qdt.render import Scene
    from qdt.ui.view3d import View3D
    from tests.test_render_builders import full_scene

    view = View3D()
    view.resize(640, 480)
    view.show()
    QTest.qWaitForWindowExposed(view)
    scene = Scene(full_scene(), renderer=view.renderer)
    view.set_scene(scene)
    scene.frame_all()
    assert wait_until(lambda: view.frames >= 1 and not view._render_pending, 10)
    yield view
    view.close()
    scene.close()
    view.deleteLater()
    QApplication.processEvents()


def _orbit_burst(view, moves: int = MOVES):
    """Right-drag: press, then ``moves`` mouse moves posted to Qt's queue at once (each 4 px further),
    while every frame takes SLOW_FRAME_S. Returns (frames drawn, camera drawn last, camera after
    the last move, camera a moment after the mouse stopped)."""
    widget = view.vtk_widget
    real_render = view.render_window.Render
    scene = view.scene
    drawn = []

    def slow_render():
        time.sleep(SLOW_FRAME_S)
        real_render()
        drawn.append(scene.camera_state())

    after_move = []
    view.interactor.AddObserver("MouseMoveEvent", lambda *_: after_move.append(scene.camera_state()), -10.0)
    view.render_window.Render = slow_render
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    try:
        QTest.mousePress(widget, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, centre.toPoint())
        for i in range(moves):
            pos = centre + QPointF(4.0 * (i + 1), 2.0 * (i + 1))
            QApplication.postEvent(widget, QMouseEvent(QEvent.Type.MouseMove, pos, widget.mapToGlobal(pos),
                                                       Qt.MouseButton.NoButton, Qt.MouseButton.RightButton,
                                                       Qt.KeyboardModifier.NoModifier))
        assert wait_until(lambda: len(after_move) >= moves and not view._render_pending, 30)
        count = len(drawn)
        QTest.qWait(300)  # the mouse has stopped: nothing is left queued, the view stays where it is
        still = scene.camera_state()
        assert len(drawn) == count, "frames kept coming after the mouse stopped"
        QTest.mouseRelease(widget, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                           (centre + QPointF(4.0 * moves, 2.0 * moves)).toPoint())
    finally:
        view.render_window.Render = real_render
    return count, drawn[-1], after_move[moves - 1], still


def test_a_burst_of_moves_behind_slow_frames_is_drawn_in_a_few_frames_showing_the_last_move(view):
    start = view.scene.camera_state()
    frames, last_drawn, after_last_move, still = _orbit_burst(view)
    assert after_last_move != start  # the drag did turn the camera
    assert frames <= 3, f"{frames} frames for {MOVES} moves: the moves queued up behind slow frames"
    assert last_drawn == after_last_move == still


def test_the_burst_does_tell_a_view_that_draws_every_move(view):
    """The control: a view that renders each request at once (no coalescing) draws a frame per move
    of the same burst, so the test above fails for it."""
    view.scene.request_render = view._render_now
    frames, last_drawn, after_last_move, _ = _orbit_burst(view, moves=6)
    assert frames == 6 and last_drawn == after_last_move
