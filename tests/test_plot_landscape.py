"""mdpgrad.plot's slices: the drawn grids are the computed values, the loop carries the library's circulation.

Expected values come from independent computations: a hand-written quadratic
and rotation field with known values, mg.objective / mg.policy_gradient called
directly, and mg.fields.circulation on the same 2-D field (or Green's theorem
in closed form for a linear field).
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import mdpgrad as mg
import mdpgrad.plot as mplot


def _ax():
    return Figure().add_subplot()


def _quadratic(theta):
    return float(theta[0] ** 2 + 3.0 * theta[1] - theta[2])


C = np.array([0.5, -1.0, 2.0])
U = np.array([1.0, 0.0, 0.0])
V = np.array([0.0, 1.0, 0.0])


def test_contour_grid_is_f_at_each_point():
    pic = mplot.slice_contour(_quadratic, C, U, V, extent=(-1.0, 2.0, 0.0, 1.0), n=5, levels=7, ax=_ax())
    xs, ys = np.linspace(-1.0, 2.0, 5), np.linspace(0.0, 1.0, 5)
    assert pic.X.shape == pic.Y.shape == pic.Z.shape == (5, 5)
    np.testing.assert_array_equal(pic.X[0], xs)
    np.testing.assert_array_equal(pic.Y[:, 0], ys)
    for i in range(5):
        for j in range(5):
            x, y = xs[j], ys[i]
            assert pic.Z[i, j] == pytest.approx((0.5 + x) ** 2 + 3.0 * (-1.0 + y) - 2.0, abs=1e-12)
    assert pic.colorbar.ax.get_ylabel() == "J(θ)"
    assert pic.ax.get_xlabel() == "x (along u)" and pic.ax.get_ylabel() == "y (along v)"
    # the filled contours span the drawn values
    assert pic.contour.levels.min() <= pic.Z.min() and pic.contour.levels.max() >= pic.Z.max()


def test_contour_without_ax_makes_its_own_figure_and_takes_labels():
    pic = mplot.slice_contour(_quadratic, C, U, V, n=2, label="f", xlabel="a", ylabel="b")
    assert pic.ax.figure is not None and pic.Z.shape == (2, 2)
    assert (pic.colorbar.ax.get_ylabel(), pic.ax.get_xlabel(), pic.ax.get_ylabel()) == ("f", "a", "b")


def test_contour_of_j_on_a_tabular_policy_matches_objective():
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    theta0 = np.array([[0.3, -0.2], [1.0, 0.5]])
    u, v = np.array([[1.0, -1.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [1.0, -1.0]])
    pic = mplot.slice_contour(lambda t: mg.objective(mdp, pol, t), theta0, u, v, n=3, ax=_ax())
    assert pic.Z[2, 0] == pytest.approx(mg.objective(mdp, pol, theta0 - u + v), abs=1e-13)


@pytest.mark.parametrize("kwargs, argument", [
    ({"center": [[0.0, 1.0]]}, "u"),
    ({"u": [1.0, 0.0]}, "u"),
    ({"v": [0.0, 0.0, 0.0]}, "v"),
    ({"u": [1.0, np.nan, 0.0]}, "u"),
    ({"extent": (1.0, 0.0, 0.0, 1.0)}, "extent"),
    ({"extent": (0.0, 1.0, 0.0)}, "extent"),
    ({"extent": (0.0, 1.0, 0.0, np.inf)}, "extent"),
    ({"n": 1}, "n"),
    ({"n": 2.5}, "n"),
    ({"f": 3.0}, "f"),
    ({"f": lambda t: np.nan}, "f"),
    ({"f": lambda t: np.ones(2)}, "f"),
    ({"ax": "axes"}, "ax"),
])
def test_contour_refuses_bad_input(kwargs, argument):
    args = {"f": _quadratic, "center": C, "u": U, "v": V, "n": 3}
    args.update(kwargs)
    f, c, u, v = args.pop("f"), args.pop("center"), args.pop("u"), args.pop("v")
    with pytest.raises(mg.ValidationError) as err:
        mplot.slice_contour(f, c, u, v, **args)
    assert err.value.argument == argument


def test_contour_names_the_point_where_f_is_not_finite():
    with pytest.raises(mg.ValidationError, match=r"\(x, y\) = \(1, -1\)"):
        mplot.slice_contour(lambda t: np.inf if t[0] == 1.5 else 1.0, C, U, V, n=3, ax=_ax())


def _rotation(theta):
    return np.array([-theta[1], theta[0], 7.0])


def test_quiver_draws_the_directional_components():
    u, v = np.array([1.0, 1.0, 0.0]) / np.sqrt(2), np.array([0.0, 0.0, 1.0])
    pic = mplot.slice_field(_rotation, C, u, v, n=4, kind="quiver", ax=_ax(), label="rotation")
    for idx in np.ndindex(pic.X.shape):
        theta = C + pic.X[idx] * u + pic.Y[idx] * v
        F = np.array([-theta[1], theta[0], 7.0])
        assert pic.U[idx] == pytest.approx(F @ u, abs=1e-12)
        assert pic.V[idx] == pytest.approx(7.0, abs=1e-12)
    np.testing.assert_allclose(pic.artist.U, pic.U.ravel())
    np.testing.assert_allclose(pic.artist.V, pic.V.ravel())
    np.testing.assert_allclose(pic.artist.X, pic.X.ravel())
    assert [t.get_text() for t in pic.ax.get_legend().get_texts()] == ["rotation"]


def test_stream_uses_an_even_grid_and_a_proxy_legend_entry():
    pic = mplot.slice_field(_rotation, C, U, V, n=6, extent=(0.0, 1.0, -2.0, 2.0), ax=_ax(), label="F",
                            color="black")
    np.testing.assert_allclose(pic.X[0], np.linspace(0.0, 1.0, 6))
    np.testing.assert_allclose(pic.Y[:, 0], np.linspace(-2.0, 2.0, 6))
    assert len(pic.artist.lines.get_segments()) > 0
    np.testing.assert_allclose(pic.U, -(C[1] + pic.Y))
    np.testing.assert_allclose(pic.V, C[0] + pic.X)
    assert [t.get_text() for t in pic.ax.get_legend().get_texts()] == ["F"]


def test_stream_without_label_has_no_legend():
    pic = mplot.slice_field(_rotation, C, U, V, n=3, ax=_ax())
    assert pic.ax.get_legend() is None


@pytest.mark.parametrize("kwargs, argument", [
    ({"kind": "arrows"}, "kind"),
    ({"F": lambda t: np.ones(2)}, "F"),
    ({"F": lambda t: np.full(3, np.inf)}, "F"),
    ({"F": None}, "F"),
    ({"label": 3}, "label"),
    ({"n": 0}, "n"),
])
def test_field_refuses_bad_input(kwargs, argument):
    args = {"F": _rotation, "n": 3}
    args.update(kwargs)
    F = args.pop("F")
    with pytest.raises(mg.ValidationError) as err:
        mplot.slice_field(F, C, U, V, ax=_ax(), **args)
    assert err.value.argument == argument


def test_loop_of_a_rotation_is_twice_its_area():
    # F = (−θ₁, θ₀, 7): in the (θ₀, θ₁) plane the curl is 2, so ∮ = 2πρ² (Green's theorem)
    pic = mplot.slice_loop(_rotation, C, U, V, radius=0.5, at=(0.25, -0.5), ax=_ax())
    assert pic.circulation == pytest.approx(2 * np.pi * 0.25, rel=1e-12)
    assert 0 <= pic.error < 1e-10
    x, y = pic.line.get_data()
    np.testing.assert_allclose(np.hypot(x - 0.25, y + 0.5), 0.5)
    assert pic.text.get_text() == f"∮ F·dθ = {pic.circulation:.2e} ± {pic.error:.1e}"


def test_loop_of_a_gradient_vanishes_and_passes_f_error_through():
    pic = mplot.slice_loop(lambda t: 2 * t, C, U, V, radius=0.3, f_error=1e-6, ax=_ax())
    assert abs(pic.circulation) < 1e-12
    assert pic.error >= 4 * np.pi * 0.3 * 1e-6


def test_loop_equals_the_circulation_of_the_update_without_discount():
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    theta0 = np.zeros((2, 2))
    u, v = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])

    def F(t):
        return mg.expected_update_without_discount(mdp, pol, t)

    pic = mplot.slice_loop(F, theta0, u, v, radius=0.5, ax=_ax())
    # here u, v are unit vectors, so the slice circulation is that of F in the flat plane (0, 3)
    direct = mg.fields.circulation(F, theta0, (0, 3), radius=0.5)
    assert pic.circulation == pytest.approx(direct.value, rel=1e-9, abs=1e-15)
    assert abs(pic.circulation) > pic.error


@pytest.mark.parametrize("kwargs, argument", [
    ({"radius": 0.0}, "radius"),
    ({"radius": -1.0}, "radius"),
    ({"at": (0.0,)}, "at"),
    ({"at": (0.0, np.nan)}, "at"),
    ({"f_error": -1.0}, "f_error"),
])
def test_loop_refuses_bad_input(kwargs, argument):
    args = {"radius": 0.5}
    args.update(kwargs)
    with pytest.raises(mg.ValidationError) as err:
        mplot.slice_loop(_rotation, C, U, V, ax=_ax(), **args)
    assert err.value.argument == argument


def test_landscape_draws_j_and_the_exact_gradient():
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    theta0 = np.array([[0.3, -0.2], [1.0, 0.5]])
    pic = mplot.landscape(mdp, pol, theta0, n=5, kind="quiver", ax=_ax())
    X, Y = pic.contour.X, pic.contour.Y
    theta = theta0.copy()
    theta[0, 0] += X[1, 3]
    theta[0, 1] += Y[1, 3]
    assert pic.contour.Z[1, 3] == pytest.approx(mg.objective(mdp, pol, theta), abs=1e-13)
    fx, fy = pic.field.X[2, 1], pic.field.Y[2, 1]
    theta = theta0.copy()
    theta[0, 0] += fx
    theta[0, 1] += fy
    g = mg.policy_gradient(mdp, pol, theta)
    assert (pic.field.U[2, 1], pic.field.V[2, 1]) == pytest.approx((g[0, 0], g[0, 1]), abs=1e-13)
    assert pic.field.X.shape == (3, 3)


def test_landscape_takes_any_field():
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    pic = mplot.landscape(mdp, pol, np.zeros((2, 2)), field=lambda t: np.ones((2, 2)), n=3, ax=_ax())
    np.testing.assert_array_equal(pic.field.U, np.ones((2, 2)))


def test_landscape_refuses_bad_input():
    mdp, pol = mg.get_example("two-state"), mg.TabularSoftmax(2, 2)
    with pytest.raises(mg.ValidationError) as err:
        mplot.landscape(mdp, pol, np.zeros(3), ax=_ax())
    assert err.value.argument == "theta0"
    with pytest.raises(mg.ValidationError) as err:
        mplot.landscape(mdp, "softmax", np.zeros((2, 2)), ax=_ax())
    assert err.value.argument == "policy"
