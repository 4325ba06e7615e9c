"""The gradient-flow lab draws the §1.4 band of its highlighted initialisation without the
``(T, N)`` bound arrays (#16: they are computed only when read; SCIENCE.md §1.4)."""
import numpy as np

from engine.gradient_flow.deferred import Deferred, stored
from tests.app.conftest import run_and_wait, set_config


def test_band_drawn_from_one_column_and_arrays_left_unread(lab_window, qtbot):
    win = lab_window("gradient-flow")
    set_config(win, dim=3, n_init=30, t_max=4.0, dt=0.02, frames=25, data="population",
               depth=1, method="gf", integrator="rk4")
    run_and_wait(win, qtbot)
    p = win.slot.presenter
    r = p.result
    assert isinstance(stored(r, "bound_lower"), Deferred)     # the GUI read no (T, N) array
    from app.labs.gradient_flow import HIGHLIGHT
    x, upper = p.magnitude.item("bound_note").getData()
    np.testing.assert_array_equal(x, r.t)
    np.testing.assert_array_equal(upper, r.bound_upper[:, HIGHLIGHT])
    set_config(win, method="gd", lr=0.5)                        # GD: no band, nothing read
    run_and_wait(win, qtbot)
    assert "bounds" not in p.magnitude.keys()
    assert isinstance(stored(p.result, "bound_upper"), Deferred)
