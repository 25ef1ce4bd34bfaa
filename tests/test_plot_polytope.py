"""mdpgrad.plot.value_polytope and trajectory: the picture is the exact value polytope.

The vertices must be mg.evaluate of the deterministic policies (and, on the
example of Dadashi et al. 2019, Fig. 2(d), the values printed here by hand to
4 decimals); the values of sampled random policies must all fall inside the
filled region and come close to every drawn segment; the values of policies
mixing two actions in one state must lie on the drawn segment (line theorem).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _models import random_mdp
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.path import Path

import mdpgrad as mg
import mdpgrad.plot as mplot


def dadashi() -> mg.MDP:
    P = [[[0.7, 0.3], [0.99, 0.01]], [[0.2, 0.8], [0.99, 0.01]]]
    r = [[-0.45, -0.1], [0.5, 0.5]]
    return mg.MDP(P, r, gamma=0.9)


def new_ax():
    return Figure().add_subplot()


def deterministic_value(mdp: mg.MDP, a: tuple[int, int]) -> np.ndarray:
    pi = np.zeros((2, mdp.n_actions))
    pi[0, a[0]] = pi[1, a[1]] = 1.0
    return mg.evaluate(mdp, pi).v


def sampled_values(mdp: mg.MDP, seed: int, n: int = 3000) -> np.ndarray:
    """Values of random policies: rows Dirichlet(1) (the whole simplex) and Dirichlet(0.1) (near edges)."""
    rng = np.random.default_rng(seed)
    A = mdp.n_actions
    pis = np.concatenate([rng.dirichlet(np.ones(A), size=(n, 2)),
                          rng.dirichlet(np.full(A, 0.1), size=(n, 2))])
    return mg.evaluate(mdp, pis).v


MODELS = [("dadashi", dadashi)] + [
    (f"random-{A}actions-seed{seed}", lambda seed=seed, A=A: random_mdp(seed, n_states=2, n_actions=A,
                                                                         gamma=0.9))
    for A in (2, 3) for seed in (0, 1, 2)]


# -- what is drawn is what is computed -------------------------------------------------------------

def test_dadashi_vertices_are_the_published_values():
    pic = mplot.value_polytope(dadashi(), ax=new_ax())
    # Dadashi et al. (2019), Fig. 2(d) example, values worked out by hand (I − γP^π)⁻¹ r^π, 4 decimals:
    # |error| <= 5e-5, half a unit in the last printed place
    expected = {(0, 0): (0.1636, 1.8909), (0, 1): (-2.4659, -1.7125), (1, 0): (-0.8131, 1.2630),
                (1, 1): (-0.946, -0.346)}
    assert set(pic.vertices) == set(expected)
    for a, v in expected.items():
        np.testing.assert_allclose(pic.vertices[a], v, rtol=0, atol=5e-5)


@pytest.mark.parametrize("name,build", MODELS, ids=[m[0] for m in MODELS])
def test_vertices_are_the_deterministic_policies_values(name, build):
    mdp = build()
    pic = mplot.value_polytope(mdp, ax=new_ax())
    A = mdp.n_actions
    assert set(pic.vertices) == set(itertools.product(range(A), repeat=2))
    for a, v in pic.vertices.items():
        # the same solve of a 2 x 2 system: equal up to rounding
        np.testing.assert_allclose(v, deterministic_value(mdp, a), rtol=0, atol=1e-12)
    # the markers are drawn at those points
    dots = [c for c in pic.artists if c.get_label() == "deterministic policies"][0]
    drawn = {tuple(np.round(p, 9)) for p in dots.get_offsets()}
    assert drawn == {tuple(np.round(deterministic_value(mdp, a), 9)) for a in pic.vertices}


@pytest.mark.parametrize("A", [2, 3, 4])
def test_segments_join_policies_differing_in_exactly_one_state(A):
    mdp = random_mdp(5, n_states=2, n_actions=A, gamma=0.8)
    pic = mplot.value_polytope(mdp, ax=new_ax())
    expected = {(p, q) for p in itertools.product(range(A), repeat=2)
                for q in itertools.product(range(A), repeat=2)
                if p < q and sum(x != y for x, y in zip(p, q, strict=True)) == 1}
    assert set(pic.segments) == expected and len(pic.segments) == len(expected) == 2 * A * A * (A - 1) // 2
    lines = [c for c in pic.artists if isinstance(c, LineCollection)][0]
    drawn = lines.get_segments()
    assert len(drawn) == len(pic.segments)
    for seg, (p, q) in zip(drawn, pic.segments, strict=True):
        np.testing.assert_allclose(seg, [deterministic_value(mdp, p), deterministic_value(mdp, q)],
                                   rtol=0, atol=1e-12)


def test_two_action_fill_is_the_image_of_the_square_boundary():
    mdp = dadashi()
    pic = mplot.value_polytope(mdp, ax=new_ax())
    assert isinstance(pic.fill, PolyCollection) and pic.fill in pic.ax.collections
    (path,) = pic.fill.get_paths()
    order = [(0, 0), (0, 1), (1, 1), (1, 0)]
    assert pic.polygons == [tuple(order)]
    np.testing.assert_allclose(path.vertices[:4], [deterministic_value(mdp, a) for a in order],
                               rtol=0, atol=1e-12)


# -- the picture against sampled policies ----------------------------------------------------------

def inside_fill(pic, pts: np.ndarray, tol: float) -> np.ndarray:
    """Points inside any filled polygon, up to ``tol`` (either orientation of the path)."""
    hit = np.zeros(len(pts), dtype=bool)
    for p in pic.fill.get_paths():
        poly = Path(p.vertices[:4], closed=False)
        hit |= poly.contains_points(pts, radius=tol) | poly.contains_points(pts, radius=-tol)
    return hit


def distance_to_segment(pts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    t = np.clip(((pts - a) @ d) / max(float(d @ d), 1e-300), 0.0, 1.0)
    return np.linalg.norm(pts - (a + t[:, None] * d), axis=1)


@pytest.mark.parametrize("name,build", MODELS, ids=[m[0] for m in MODELS])
def test_sampled_policies_fall_inside_the_fill_and_reach_every_segment(name, build):
    mdp = build()
    pic = mplot.value_polytope(mdp, ax=new_ax())
    pts = sampled_values(mdp, seed=7)
    verts = np.array(list(pic.vertices.values()))
    diameter = float(np.linalg.norm(np.ptp(verts, axis=0)))
    # inside: only rounding separates a value on an edge from the edge (1e-9 of the picture's size)
    inside = inside_fill(pic, pts, 1e-9 * diameter)
    assert inside.all(), pts[~inside][:5]
    # and the region is not too large: every point of every segment has a sampled value within 3% of
    # the picture's size (6000 policies, half of them with near-deterministic rows)
    for p, q in pic.segments:
        along = pic.vertices[p] + np.linspace(0, 1, 21)[:, None] * (pic.vertices[q] - pic.vertices[p])
        gap = np.min(np.linalg.norm(along[:, None, :] - pts[None, :, :], axis=2), axis=1)
        assert gap.max() < 0.03 * diameter, (p, q, gap.max() / diameter)


def test_the_region_test_can_fail():
    # the same check on a wrong picture (the crossed order (0,0),(0,1),(1,0),(1,1)) finds points outside
    mdp = dadashi()
    pts = sampled_values(mdp, seed=7)
    v = {a: deterministic_value(mdp, a) for a in itertools.product(range(2), repeat=2)}
    wrong = Path(np.array([v[(0, 0)], v[(0, 1)], v[(1, 0)], v[(1, 1)]]))
    assert not (wrong.contains_points(pts, radius=1e-9) | wrong.contains_points(pts, radius=-1e-9)).all()


@pytest.mark.parametrize("name,build", MODELS, ids=[m[0] for m in MODELS])
def test_mixing_two_actions_in_one_state_stays_on_the_drawn_segment(name, build):
    # the line theorem (Dadashi et al. 2019, Thm 1): the drawn segments are exact, not chords
    mdp = build()
    pic = mplot.value_polytope(mdp, ax=new_ax())
    A = mdp.n_actions
    w = np.linspace(0.0, 1.0, 11)
    for p, q in pic.segments:
        s = 0 if p[0] != q[0] else 1
        pis = np.zeros((len(w), 2, A))
        pis[:, 1 - s, p[1 - s]] = 1.0
        pis[:, s, p[s]] += 1 - w
        pis[:, s, q[s]] += w
        vals = mg.evaluate(mdp, pis).v
        dist = distance_to_segment(vals, pic.vertices[p], pic.vertices[q])
        assert dist.max() < 1e-10, (p, q, dist.max())


# -- options and boundary cases ----------------------------------------------------------------------

def test_labels_title_and_options():
    ax = new_ax()
    pic = mplot.value_polytope(dadashi(), ax=ax, title="Fig. 2(d)")
    assert pic.ax is ax
    assert ax.get_xlabel() == "v(s₀)" and ax.get_ylabel() == "v(s₁)" and ax.get_title() == "Fig. 2(d)"
    assert sorted(t.get_text() for t in ax.texts) == ["(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"]
    # every vertex is inside the view
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    for v in pic.vertices.values():
        assert x0 < v[0] < x1 and y0 < v[1] < y1

    bare = mplot.value_polytope(dadashi(), ax=new_ax(), fill=False, label_vertices=False)
    assert bare.fill is None and bare.polygons == []
    assert not any(isinstance(c, PolyCollection) for c in bare.ax.collections)
    assert len(bare.ax.texts) == 0


def test_more_actions_fill_is_the_union_of_two_action_polygons():
    mdp = random_mdp(3, n_states=2, n_actions=3, gamma=0.9)
    pic = mplot.value_polytope(mdp, ax=new_ax())
    pairs = [(0, 1), (0, 2), (1, 2)]
    assert len(pic.polygons) == len(pic.fill.get_paths()) == 9
    assert {poly for poly in pic.polygons} == {((a, c), (a, d), (b, d), (b, c))
                                               for a, b in pairs for c, d in pairs}


def test_new_figure_when_no_axes_and_one_action():
    mdp = mg.MDP([[[0.5, 0.5]], [[0.1, 0.9]]], [[1.0], [0.0]], gamma=0.5)
    pic = mplot.value_polytope(mdp)
    assert pic.ax.figure is not None and list(pic.vertices) == [(0, 0)] and pic.segments == []
    np.testing.assert_allclose(pic.vertices[(0, 0)], deterministic_value(mdp, (0, 0)), atol=1e-12)


def test_terminal_state_gives_a_flat_polytope():
    P = [[[0.9, 0.1], [0.2, 0.8]], [[0.0, 1.0], [0.0, 1.0]]]
    mdp = mg.MDP(P, [[-1.0, -2.0], [0.0, 0.0]], gamma=1.0, rho0=[1.0, 0.0], terminal=[False, True])
    pic = mplot.value_polytope(mdp, ax=new_ax())
    ys = np.array([v[1] for v in pic.vertices.values()])
    assert np.all(ys == 0.0)
    np.testing.assert_allclose(pic.vertices[(0, 0)][0], -10.0, rtol=1e-12)   # −1 per step, 10 steps
    np.testing.assert_allclose(pic.vertices[(1, 0)][0], -2.5, rtol=1e-12)    # −2 per step, 1.25 steps


def test_bad_input_names_the_argument():
    ax = new_ax()
    three = random_mdp(0, n_states=3, n_actions=2)
    cases = [
        (lambda: mplot.value_polytope(three, ax=ax), "mdp"),
        (lambda: mplot.value_polytope("dadashi", ax=ax), "mdp"),
        (lambda: mplot.value_polytope(dadashi(), ax=ax, fill="yes"), "fill"),
        (lambda: mplot.value_polytope(dadashi(), ax=ax, label_vertices=1), "label_vertices"),
        (lambda: mplot.value_polytope(dadashi(), ax=ax, title=3), "title"),
        (lambda: mplot.value_polytope(dadashi(), ax="axes"), "ax"),
        (lambda: mplot.trajectory([1.0, 2.0], ax=ax), "points"),
        (lambda: mplot.trajectory(np.zeros((3, 3)), ax=ax), "points"),
        (lambda: mplot.trajectory(np.zeros((0, 2)), ax=ax), "points"),
        (lambda: mplot.trajectory([[0.0, np.nan]], ax=ax), "points"),
        (lambda: mplot.trajectory([["a", "b"]], ax=ax), "points"),
        (lambda: mplot.trajectory([[0, 0]], ax=ax, markevery=0), "markevery"),
        (lambda: mplot.trajectory([[0, 0]], ax=ax, color="not-a-colour"), "color"),
        (lambda: mplot.trajectory([[0, 0]], ax=ax, label=5), "label"),
        (lambda: mplot.trajectory([[0, 0]], ax=ax, marker=None), "marker"),
        (lambda: mplot.trajectory([[0, 0]], ax=ax, marker="zz"), "marker"),
        (lambda: mplot.trajectory([[0, 0]], ax=object()), "ax"),
    ]
    for call, argument in cases:
        with pytest.raises(mg.ValidationError) as info:
            call()
        assert info.value.argument == argument, (argument, str(info.value))
    with pytest.raises(mg.ValidationError, match="3 states"):
        mplot.value_polytope(three, ax=ax)


def test_fill_with_too_many_actions_is_refused_before_drawing():
    mdp = random_mdp(0, n_states=2, n_actions=21, gamma=0.5)      # C(21, 2)^2 = 44100 polygons
    ax = new_ax()
    with pytest.raises(mg.ValidationError) as info:
        mplot.value_polytope(mdp, ax=ax)
    assert info.value.argument == "fill" and "fill=False" in str(info.value)
    assert len(ax.collections) == 0
    pic = mplot.value_polytope(mdp, ax=ax, fill=False, label_vertices=False)
    assert len(pic.vertices) == 21 * 21 and len(pic.segments) == 21 * 21 * 20


# -- trajectory ------------------------------------------------------------------------------------

def test_trajectory_draws_the_points_and_marks_both_ends():
    ax = new_ax()
    pts = np.array([[0.0, 1.0], [0.5, 1.5], [2.0, 0.0], [3.0, -1.0]])
    line = mplot.trajectory(pts, ax=ax, label="gradient ascent", color="tab:red", markevery=2)
    np.testing.assert_array_equal(line.get_xydata(), pts)
    assert line.get_label() == "gradient ascent" and line.get_markevery() == 2
    start, end = ax.lines[-2], ax.lines[-1]
    np.testing.assert_array_equal(start.get_xydata(), pts[:1])
    np.testing.assert_array_equal(end.get_xydata(), pts[-1:])
    assert start.get_marker() == "o" and start.get_markerfacecolor() == "white"
    assert end.get_marker() == "*"
    assert start.get_markeredgecolor() == end.get_color() == line.get_color() == "tab:red"
    # one legend entry per path
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["gradient ascent"] and handles == [line]


def test_trajectory_over_a_polytope_takes_the_cycle_colour_and_one_point():
    pic = mplot.value_polytope(dadashi(), ax=new_ax())
    first = mplot.trajectory([[0.0, 0.0], [0.1, 1.8]], ax=pic.ax)
    second = mplot.trajectory([[0.1, 1.8]], ax=pic.ax, marker="")
    assert first.get_color() != second.get_color()
    assert pic.ax.lines[-1].get_color() == second.get_color()
    assert first.get_label().startswith("_")          # no label: no legend entry
    assert mplot.trajectory([[1, 2], [3, 4]]).axes is not None
