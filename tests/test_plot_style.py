"""Slide-ready pictures: one style for every mdpgrad.plot function, and a check of finished figures.

Every plot function is drawn on the inputs the lessons give it and measured by
``mplot.figure_problems``: 150 dpi, text of at least 9 pt, no subscript typed
with "_", no two texts (tick labels, axis labels, titles, legends, notes)
overlapping, no legend or note over a line or marker.  The same check runs on
every figure every lesson shows (in the lesson's own kernel), and the
committed PNGs are read for their resolution.  ``figure_problems`` itself is
tested at each of its thresholds, just inside and just outside.
"""

from __future__ import annotations

import base64
import json
import struct

import matplotlib
import numpy as np
import pytest
from _lessons import EXTRAS, LESSONS, executed
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle

import mdpgrad as mg
import mdpgrad.plot as mplot
from mdpgrad.plot._audit import OVERLAP_PIXELS

#: rcParams a user might have set for small, low-resolution figures: a picture must not inherit them.
SMALL_RC = {"font.size": 6.0, "xtick.labelsize": 5.0, "ytick.labelsize": 5.0, "legend.fontsize": 5.0,
            "axes.labelsize": 5.0, "axes.titlesize": 6.0, "figure.dpi": 72.0}


def _dadashi():
    # Dadashi et al. (2019), Fig. 2(a): the two-state example of the value polytope
    return mg.MDP([[[0.7, 0.3], [0.99, 0.01]], [[0.2, 0.8], [0.99, 0.01]]], [[-0.45, -0.1], [0.5, 0.5]],
                  gamma=0.9)


def _pictures():
    """One picture of every drawing function, on lesson-sized inputs; each on a figure of its own."""
    grid = mg.get_example("gridworld")
    pi = mg.uniform_policy(grid.n_states, grid.n_actions)
    corridor = mg.get_example("two-state")
    policy = mg.TabularSoftmax(corridor.n_states, corridor.n_actions)
    theta0 = np.zeros((corridor.n_states, corridor.n_actions))
    u = np.zeros_like(theta0)
    u[0, 0] = 1.0
    v = np.zeros_like(theta0)
    v[1, 0] = 1.0
    rng = np.random.default_rng(0)
    samples = rng.normal([1.0, -0.5], [0.6, 0.4], size=(400, 2))
    M = np.array([[-1.0, 2.0, 0.0], [-0.5, -0.2, 0.3], [0.0, 0.4, -1.5]])
    polytope = mplot.value_polytope(_dadashi(), title="value polytope")
    # values of three policies inside the polytope, away from its labelled corners
    steps = np.array([polytope.vertices[a] for a in ((0, 0), (0, 1), (1, 0), (1, 1))]).mean(axis=0)
    steps = steps + np.array([[-0.05, -0.05], [0.0, 0.0], [0.05, 0.05]])
    return {
        "grid_values": mplot.grid_values(grid, mg.evaluate(grid, pi).v, policy=pi, title="Figure 3.2"),
        "grid_values without a policy": mplot.grid_values(grid, mg.evaluate(grid, pi).v),
        "landscape": mplot.landscape(corridor, policy, theta0, u, v, extent=(-3, 3, -3, 3), n=15),
        # as lesson 05 draws it: a loop over a field on the slice
        "slice_loop": mplot.slice_loop(lambda th: policy_gradient_of(corridor, policy, th), theta0, u, v,
                                       radius=1.0, ax=mplot.slice_field(
                                           lambda th: policy_gradient_of(corridor, policy, th), theta0, u,
                                           v, extent=(-2, 2, -2, 2), n=9, color="0.3").ax),
        "value_polytope": polytope,
        "trajectory": mplot.trajectory(steps, ax=mplot.value_polytope(_dadashi()).ax, label="iterates"),
        "matrix": mplot.matrix(M, antisymmetric=True, witness=(0, 1), title="(M − Mᵀ)/2"),
        "eigenvalues": mplot.eigenvalues(M, step_size=0.5, title="eigenvalues of M"),
        "trace": mplot.trace(np.r_[np.linspace(0.0, 1.0, 30), np.nan, np.linspace(1.0, 1.2, 10)],
                             label="J(θₖ)"),
        "estimator_histogram": mplot.estimator_histogram(samples, [1.0, -0.5], [1.1, -0.4]),
        "estimator_scatter": mplot.estimator_scatter(samples, [1.0, -0.5], [1.1, -0.4]),
    }


def policy_gradient_of(mdp, policy, theta):
    return mg.policy_gradient(mdp, policy, theta)


def _figure(picture) -> Figure:
    ax = picture.ax if hasattr(picture, "ax") else picture.axes
    return ax.figure


# -- every plot function ---------------------------------------------------------------------------

def test_every_picture_is_slide_ready():
    problems = {name: mplot.figure_problems(_figure(p)) for name, p in _pictures().items()}
    assert {name: found for name, found in problems.items() if found} == {}


def test_pictures_keep_the_style_whatever_the_callers_rcparams():
    # a user's small fonts and 72 dpi are not inherited by mdpgrad's own figures and text ...
    with matplotlib.rc_context(SMALL_RC):
        problems = {name: mplot.figure_problems(_figure(p)) for name, p in _pictures().items()}
        # ... and the user's rcParams are theirs again after each call
        assert matplotlib.rcParams["font.size"] == SMALL_RC["font.size"]
        assert matplotlib.rcParams["figure.dpi"] == SMALL_RC["figure.dpi"]
    assert {name: found for name, found in problems.items() if found} == {}


def test_the_global_rcparams_are_unchanged_by_drawing():
    before = dict(matplotlib.rcParams)
    _pictures()
    after = dict(matplotlib.rcParams)
    assert {k: (before[k], after[k]) for k in before if before[k] != after[k]} == {}


def test_style_is_a_context_that_restores_the_rcparams():
    with matplotlib.rc_context({"font.size": 7.0}):
        with mplot.style():
            assert matplotlib.rcParams["figure.dpi"] == mplot.MIN_DPI == 150
            assert matplotlib.rcParams["font.size"] >= mplot.MIN_TEXT_SIZE
            assert all(matplotlib.rcParams[k] == v for k, v in mplot.STYLE.items())
        assert matplotlib.rcParams["font.size"] == 7.0
    with pytest.raises(TypeError):
        mplot.STYLE["font.size"] = 5.0           # read-only: the one style is not edited by accident


def test_the_stability_circle_is_drawn_as_a_circle():
    # eigenvalues spread along the real axis, little imaginary part: without equal scales the view is
    # wide and flat, and the circle |1 + αλ| = 1 would be drawn as a flat ellipse
    M = np.diag([-3.0, -0.1, 0.4])
    for step_size in (0.5, 2.0):
        pic = mplot.eigenvalues(M, step_size=step_size, ax=Figure(figsize=(6, 3), dpi=150).add_subplot())
        circle = pic.boundaries[1]
        assert isinstance(circle, Circle)
        fig = pic.ax.figure
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        box = circle.get_window_extent(canvas.get_renderer())
        # the circle may extend beyond the axes (it is clipped there), its extent is that of the whole
        assert box.width == pytest.approx(box.height, abs=1.0)
        assert circle.center == (-1.0 / step_size, 0.0) and circle.radius == 1.0 / step_size
        assert mplot.figure_problems(fig) == []


def test_grid_numbers_are_at_least_the_smallest_text():
    grid = mg.get_example("gridworld")
    pi = mg.uniform_policy(grid.n_states, grid.n_actions)
    for policy in (None, pi):
        pic = mplot.grid_values(grid, mg.evaluate(grid, pi).v, policy=policy)
        assert len(pic.texts) == grid.n_states
        assert min(t.get_fontsize() for t in pic.texts) >= mplot.MIN_TEXT_SIZE


# -- figure_problems at its thresholds -------------------------------------------------------------

def _plain_figure(dpi: float = 150.0) -> Figure:
    fig = Figure(figsize=(4.0, 3.0), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0.0, 1.0], [0.0, 1.0])
    ax.set(xlabel="x", ylabel="y")
    return fig


def test_resolution_just_below_and_at_the_minimum():
    assert mplot.figure_problems(_plain_figure(150.0)) == []
    assert mplot.figure_problems(_plain_figure(149.0)) == ["the figure is 149 dpi, below 150 dpi"]


@pytest.mark.parametrize(("size", "flagged"), [(8.9, True), (9.0, False)])
def test_text_size_just_below_and_at_the_minimum(size, flagged):
    fig = _plain_figure()
    fig.axes[0].set_title("title", fontsize=size)
    problems = mplot.figure_problems(fig)
    assert bool(problems) == flagged
    if flagged:
        assert problems == [f"axes 0 ('title') title 'title' is {size:g} pt, below 9 pt"]


@pytest.mark.parametrize(("label", "flagged"), [
    ("critical step size α_c", True), ("D = d_π", True), ("½‖Φw − v‖²_D", True),
    (r"critical step size $\alpha_c$", False), (r"$D = d_\pi$", False), ("my_reinforce", False),
    ("mg.policy_gradient", False), ("v(s₀)", False),
])
def test_subscripts_typed_with_an_underscore_are_found(label, flagged):
    fig = _plain_figure()
    fig.axes[0].set_ylabel(label)
    problems = mplot.figure_problems(fig)
    assert bool(problems) == flagged, problems
    assert all("types a subscript with '_'" in p for p in problems)


@pytest.mark.parametrize(("shared", "flagged"), [(OVERLAP_PIXELS - 0.5, False), (OVERLAP_PIXELS + 0.5, True)])
def test_two_texts_overlapping_by_just_under_and_over_the_tolerance(shared, flagged):
    fig = _plain_figure()
    ax = fig.axes[0]
    first = ax.text(0.1, 0.8, "MMM", transform=ax.transAxes)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    box = first.get_window_extent(canvas.get_renderer())
    # the second text at the same height, starting `shared` pixels before the first one ends
    x = ax.transAxes.inverted().transform((box.x1 - shared, 0.0))[0]
    ax.text(x, 0.8, "MMM", transform=ax.transAxes)
    problems = [p for p in mplot.figure_problems(fig) if "overlap" in p]
    assert bool(problems) == flagged, problems


def test_a_note_over_a_tick_label_is_an_overlap():
    fig = _plain_figure()
    ax = fig.axes[0]
    ax.set_ylim(0.0, 1.0)
    ax.text(-0.03, 0.6, "a note", transform=ax.transAxes, ha="right", va="center")   # on the label 0.6
    problems = mplot.figure_problems(fig)
    assert any("tick label '0.6'" in p and "text 'a note'" in p and "overlap" in p for p in problems)


@pytest.mark.parametrize(("loc", "flagged"), [("upper left", True), ("lower right", False)])
def test_a_legend_over_a_line_is_reported(loc, flagged):
    fig = _plain_figure()
    ax = fig.axes[0]
    ax.plot([0.0, 0.3], [0.95, 0.95], label="a line along the top left")
    ax.set_ylim(0.0, 1.0)
    ax.legend(loc=loc)
    problems = [p for p in mplot.figure_problems(fig) if "covers the data" in p]
    assert bool(problems) == flagged, problems


def test_figure_problems_leaves_the_figure_canvas_alone():
    fig = _plain_figure()
    canvas = fig.canvas
    mplot.figure_problems(fig)
    assert fig.canvas is canvas


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"fig": "not a figure"}, "fig"), ({"min_dpi": -1.0}, "min_dpi"),
    ({"min_text_size": np.nan}, "min_text_size"), ({"overlap_pixels": -0.5}, "overlap_pixels"),
])
def test_bad_arguments_are_refused(kwargs, argument):
    arguments = {"fig": _plain_figure(), **kwargs}
    with pytest.raises(mg.ValidationError) as info:
        mplot.figure_problems(arguments.pop("fig"), **arguments)
    assert info.value.argument == argument


# -- the lessons ------------------------------------------------------------------------------------

#: 1 inch = 0.0254 m: a PNG stores its resolution in pixels per metre (the pHYs chunk).
METRES_PER_INCH = 0.0254


def _png_dpi(png: bytes) -> float:
    """The resolution a PNG declares (its pHYs chunk, pixels per metre), in dots per inch."""
    at = 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"pHYs":
            x, y, unit = struct.unpack(">IIB", png[at + 8:at + 17])
            assert unit == 1 and x == y, "a PNG in metres, square pixels"
            return x * METRES_PER_INCH
        at += 12 + length
    raise AssertionError("the PNG declares no resolution")


def _images(nb):
    return [base64.b64decode(out["data"]["image/png"]) for cell in nb["cells"] if cell["cell_type"] == "code"
            for out in cell["outputs"] if "image/png" in out.get("data", {})]


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_committed_lesson_images_are_at_least_150_dpi(path):
    images = _images(json.loads(path.read_text(encoding="utf-8")))
    assert images
    # pixels per metre are whole numbers: 150 dpi is stored as 5906 px/m, 149.99 dpi when read back
    assert min(_png_dpi(png) for png in images) >= mplot.MIN_DPI - 0.01


@pytest.mark.slow
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_figure_a_lesson_shows_is_slide_ready(path):
    if path.stem in EXTRAS:
        pytest.importorskip(EXTRAS[path.stem])
    nb, figures = executed(path)
    assert len(figures) == len(_images(nb)) > 0            # every figure shown was measured
    assert [f"[cell {f['cell']}] {p}" for f in figures for p in f["problems"]] == []
