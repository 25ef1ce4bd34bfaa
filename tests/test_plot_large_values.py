"""mdpgrad.plot with finite values near ±1e308, and a policy on a 1000 × 1000 grid.

matplotlib computes axis ranges and tick steps as differences of the data, which
overflow beyond ~1.8e308.  Each picture either draws such values rescaled by a
power of ten (heatmaps and contours: the colour bar's label says "÷ 1e…") or
refuses them with a ValidationError naming the argument (lines, points,
histograms); values up to DRAWABLE_LIMIT = 1e300 in size are drawn as they are.
Every picture is rendered to a PNG, since some failures only happen at drawing.
"""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

import mdpgrad as mg
import mdpgrad.plot as mplot
from mdpgrad.plot._axes import DRAWABLE_LIMIT

HUGE = 1.7e308                       # finite, 93 % of the largest double
JUST_OUTSIDE = 1.0000001 * DRAWABLE_LIMIT


def render(ax):
    ax.figure.savefig(io.BytesIO(), format="png")


def new_ax():
    return Figure().add_subplot()


def gridworld():
    return mg.get_example("gridworld")


def alternating(n, size):
    return np.where(np.arange(n) % 2 == 0, size, -size)


# -- pictures that rescale ----------------------------------------------------------------------

@pytest.mark.parametrize("size", [HUGE, -HUGE, JUST_OUTSIDE])
def test_grid_values_draws_huge_values_divided_by_a_power_of_ten(size):
    mdp = gridworld()
    values = alternating(mdp.n_states, size)
    values[1] = 0.5 * size
    pic = mplot.grid_values(mdp, values, ax=new_ax(), fmt="{:.2f}")
    render(pic.ax)
    k = int(np.floor(np.log10(abs(size))))
    assert pic.scale_exponent == k
    assert np.array_equal(pic.image.get_array(), values.reshape(pic.values.shape) / 10.0 ** k)
    assert pic.colorbar.ax.get_ylabel() == f"v(s) (÷ 1e{k})"
    assert pic.texts[1].get_text() == f"{0.5 * size / 10.0 ** k:.2f}"      # the numbers are the drawn ones


def test_grid_values_at_the_limit_is_drawn_as_it_is():
    mdp = gridworld()
    pic = mplot.grid_values(mdp, alternating(mdp.n_states, DRAWABLE_LIMIT), ax=new_ax())
    render(pic.ax)
    assert pic.scale_exponent == 0 and pic.colorbar.ax.get_ylabel() == "v(s)"


@pytest.mark.parametrize("antisymmetric", [False, True])
def test_matrix_draws_huge_entries_divided_by_a_power_of_ten(antisymmetric):
    M = np.array([[HUGE, -HUGE], [0.5, HUGE]])
    pic = mplot.matrix(M, antisymmetric=antisymmetric, ax=new_ax())
    render(pic.ax)
    shown = np.array([[0.0, -(HUGE + 0.5) / 2], [(HUGE + 0.5) / 2, 0.0]]) if antisymmetric else M
    assert np.all(np.isfinite(pic.shown)) and np.allclose(pic.shown, shown, rtol=1e-15, atol=0)
    k = 307 if antisymmetric else 308                          # (1.7e308 + 0.5)/2 = 8.5e307
    assert pic.scale_exponent == k
    assert np.allclose(pic.image.get_array(), shown / 10.0 ** k, rtol=1e-15, atol=0)
    assert pic.colorbar.ax.get_ylabel().endswith(f"(÷ 1e{k})")


def test_matrix_at_and_just_above_the_limit():
    at = mplot.matrix(np.array([[DRAWABLE_LIMIT, -DRAWABLE_LIMIT]]), ax=new_ax())
    above = mplot.matrix(np.array([[JUST_OUTSIDE, -1.0]]), ax=new_ax())
    render(at.ax)
    render(above.ax)
    assert at.scale_exponent == 0 and above.scale_exponent == 300


@pytest.mark.parametrize("size", [HUGE, -HUGE])
def test_slice_contour_draws_huge_values_divided_by_a_power_of_ten(size):
    pic = mplot.slice_contour(lambda th: size * float(np.tanh(th[0])), np.zeros(2), [1.0, 0.0], [0.0, 1.0],
                              extent=(-1, 1, -1, 1), n=5, ax=new_ax())
    render(pic.ax)
    assert pic.scale_exponent == 308 and pic.colorbar.ax.get_ylabel() == "J(θ) (÷ 1e308)"
    assert np.abs(pic.Z).max() > 1e308                          # the record keeps f's own values
    levels = np.asarray(pic.contour.levels)
    assert np.all(np.isfinite(levels)) and np.abs(levels).max() < 10


@pytest.mark.parametrize("kind", ["quiver", "stream"])
def test_slice_field_draws_huge_vectors(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # no overflow inside matplotlib
        pic = mplot.slice_field(lambda th: np.array([HUGE, -HUGE * np.tanh(th[0])]), np.zeros(2), [1.0, 0.0],
                                [0.0, 1.0], extent=(-1, 1, -1, 1), n=5, kind=kind, ax=new_ax())
        render(pic.ax)
    assert np.all(pic.U == HUGE) and pic.scale_exponent == 308
    drawn = pic.artist.U if kind == "quiver" else None
    if drawn is not None:
        assert np.allclose(drawn, HUGE / 1e308, rtol=1e-15, atol=0)


def test_slice_field_at_the_limit_is_drawn_as_it_is():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pic = mplot.slice_field(lambda th: np.array([1e100, -1e100 * np.tanh(th[0])]), np.zeros(2),
                                [1.0, 0.0], [0.0, 1.0], extent=(-1, 1, -1, 1), n=5, ax=new_ax())
        render(pic.ax)
    assert pic.scale_exponent == 0


# -- pictures that refuse ----------------------------------------------------------------------

REFUSALS = {
    "trace": ("values", lambda x: mplot.trace([x, 1.0, 2.0], ax=new_ax())),
    "trace steps": ("steps", lambda x: mplot.trace([0.0, 1.0], steps=[0.0, x], ax=new_ax())),
    "trajectory": ("points", lambda x: mplot.trajectory([[0.0, 0.0], [x, 1.0]], ax=new_ax())),
    "histogram": ("samples", lambda x: mplot.estimator_histogram([[x], [0.0]], [0.0], ax=new_ax())),
    "histogram expectation": ("expectation", lambda x: mplot.estimator_histogram([[1.0], [0.0]], [x],
                                                                                 ax=new_ax())),
    "scatter gradient": ("gradient", lambda x: mplot.estimator_scatter([[0.0, 1.0], [1.0, 0.0]], [0.0, 0.0],
                                                                       [x, 0.0], ax=new_ax())),
    "eigenvalues": ("M", lambda x: mplot.eigenvalues([[x, 0.0], [0.0, -1.0]], ax=new_ax())),
    # r = x·(1 − γ) everywhere: every value is x (up to rounding)
    "polytope": ("mdp", lambda x: mplot.value_polytope(
        mg.MDP(np.full((2, 2, 2), 0.5), np.full((2, 2), x * 0.5), gamma=0.5), ax=new_ax())),
}


@pytest.mark.parametrize("name", list(REFUSALS))
@pytest.mark.parametrize("size", [HUGE, -HUGE, JUST_OUTSIDE])
def test_line_and_point_pictures_refuse_values_beyond_the_limit(name, size):
    argument, draw = REFUSALS[name]
    with pytest.raises(mg.ValidationError) as err:
        draw(size)
    assert err.value.argument == argument
    assert "1e+300" in str(err.value)


@pytest.mark.parametrize("name", list(REFUSALS))
def test_line_and_point_pictures_draw_values_at_the_limit(name):
    _, draw = REFUSALS[name]
    size = -0.999 * DRAWABLE_LIMIT if name == "polytope" else -DRAWABLE_LIMIT    # v = 2r, rounded
    pic = draw(size)
    render(pic.axes if hasattr(pic, "axes") and not hasattr(pic, "ax") else pic.ax)


@pytest.mark.parametrize("step_size", [1e-9, 1.0 / HUGE, 5e-324])
def test_eigenvalues_draw_the_arc_of_a_huge_stability_circle_quickly(step_size):
    # radius 1/α up to inf: only the arc in view is drawn, a curve within 1e-6 of the line Re λ = 0
    start = time.perf_counter()
    pic = mplot.eigenvalues([[-1.0, 0.0], [0.0, -2.0]], step_size=step_size, ax=new_ax())
    render(pic.ax)
    assert time.perf_counter() - start < 10.0       # the patch took seconds at 1e9, forever at 1e308
    x, y = pic.boundaries[1].get_data()
    assert np.all(np.isfinite(x)) and np.all(x <= 0) and np.all(x >= -1e-6)
    assert y.min() < -0.2 and y.max() > 0.2                    # across the whole view


def test_eigenvalues_draw_the_whole_circle_up_to_a_million_view_spans():
    span = 2.0                                                 # eigenvalues −2 and 0: the view spans 2
    pic = mplot.eigenvalues([[-2.0, 0.0], [0.0, 0.0]], step_size=1 / (1e6 * span), ax=new_ax())
    assert pic.boundaries[1].radius == 1e6 * span
    arc = mplot.eigenvalues([[-2.0, 0.0], [0.0, 0.0]], step_size=0.999 / (1e6 * span), ax=new_ax())
    assert not hasattr(arc.boundaries[1], "radius")


def test_slice_loop_refuses_an_integral_that_overflows():
    with pytest.raises(mg.ValidationError):
        mplot.slice_loop(lambda th: np.array([HUGE * th[1], -HUGE * th[0]]), np.zeros(2), [1.0, 0.0],
                         [0.0, 1.0], radius=0.5, ax=new_ax())


# -- a policy on a large grid -------------------------------------------------------------------

#: A 1000 × 1000 grid took 683 s and 6.7 GB with one arrow per state-action; capped, it takes a few
#: seconds here (building the model included).  60 s leaves room for a slow, shared machine.
LARGE_GRID_SECONDS = 60.0


def test_grid_values_caps_the_arrows_on_a_large_grid_and_says_so():
    mdp = mg.examples.slippery_gridworld(1000, 1000)
    S = mdp.n_states
    policy = np.full((S, 4), 0.25)
    start = time.perf_counter()
    pic = mplot.grid_values(mdp, np.arange(S, dtype=float), policy=policy, ax=new_ax())
    render(pic.ax)
    elapsed = time.perf_counter() - start
    assert elapsed < LARGE_GRID_SECONDS
    assert pic.arrow_stride == 20                              # 50 × 50 cells of the 1000 × 1000
    n_cells = len(pic.arrows.X) // 4
    assert n_cells == 50 * 50 <= mplot._grid.MAX_ARROW_CELLS
    assert set(pic.arrows.X.tolist()) == set(range(0, 1000, 20))
    assert pic.note.get_text() == ("arrows in one cell of each 20 × 20 block only\n"
                                   f"(2500 of {S - 1} non-terminal cells)\n"
                                   "no numbers in the cells (more than 400)")
    assert pic.texts == []                                     # no numbers written on a million cells


def test_grid_values_draws_every_arrow_up_to_the_cap():
    # 50 × 50 = 2500 cells, the cap: every non-terminal cell gets its arrows, no note
    mdp = mg.examples.slippery_gridworld(50, 50)
    pic = mplot.grid_values(mdp, np.zeros(mdp.n_states), policy=np.full((mdp.n_states, 4), 0.25),
                            ax=new_ax(), annotate=False)
    assert pic.arrow_stride == 1 and pic.note is None
    assert len(pic.arrows.X) == 4 * (mdp.n_states - 1)
    # one cell more per row: stride 2
    wider = mg.examples.slippery_gridworld(50, 51)
    pic = mplot.grid_values(wider, np.zeros(wider.n_states), policy=np.full((wider.n_states, 4), 0.25),
                            ax=new_ax(), annotate=False)
    assert pic.arrow_stride == 2 and pic.note is not None


def test_grid_values_refuses_a_policy_beyond_the_memory_limit():
    mdp = mg.examples.slippery_gridworld(100, 100)
    previous = mg.set_memory_limit(1000)
    try:
        with pytest.raises(mg.ValidationError) as err:
            mplot.grid_values(mdp, np.zeros(mdp.n_states), policy=np.full((mdp.n_states, 4), 0.25),
                              ax=new_ax())
    finally:
        mg.set_memory_limit(previous)
    assert err.value.argument == "policy"


def test_many_terminal_cells_are_greyed_by_one_overlay():
    mdp = mg.examples.slippery_gridworld(30, 30, sparse=False)
    terminal = np.zeros(mdp.n_states, dtype=bool)
    terminal[::2] = True                                        # 450 terminal cells, above the 400 marked
    P = np.array(mdp.P)
    P[terminal] = 0.0
    for s in np.flatnonzero(terminal):
        P[s, :, s] = 1.0
    r = np.where(terminal[:, None], 0.0, mdp.r)
    many = mg.MDP(P, r, mdp.gamma, rho0=np.where(terminal, 0.0, 1.0) / (~terminal).sum(), terminal=terminal,
                  grid_shape=(30, 30))
    pic = mplot.grid_values(many, np.zeros(many.n_states), ax=new_ax())
    render(pic.ax)
    assert len(pic.terminal_marks) == 1
    overlay = pic.terminal_marks[0].get_array()
    assert np.array_equal(~overlay.mask.ravel(), terminal)
