"""mdpgrad.plot matrices: the heatmap holds M or (M − Mᵀ)/2, the witness is boxed, the points are λ(M)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import mdpgrad as mg
import mdpgrad.plot as mplot

M3 = np.array([[-1.0, 0.9, 0.0],
               [0.0, -1.0, 0.2],
               [0.3, 0.0, -2.0]])
# (M3 − M3ᵀ)/2 by hand
ANTI3 = np.array([[0.0, 0.45, -0.15],
                  [-0.45, 0.0, 0.1],
                  [0.15, -0.1, 0.0]])


def new_ax():
    return Figure().add_subplot()


def box_cells(pic):
    """(row, col) of each witness box, read off the rectangles' lower-left corners."""
    return sorted((round(r.get_y() + 0.5), round(r.get_x() + 0.5)) for r in pic.witness_marks)


# -- matrix ----------------------------------------------------------------------------------------

def test_the_heatmap_is_M_with_symmetric_diverging_colours():
    ax = new_ax()
    pic = mplot.matrix(M3, ax=ax, title="J")
    assert pic.ax is ax
    np.testing.assert_array_equal(np.asarray(pic.image.get_array()), M3)
    np.testing.assert_array_equal(pic.shown, M3)
    assert pic.image.get_clim() == (-2.0, 2.0)                           # max|M| = 2, white at 0
    assert pic.image.get_cmap().name == "RdBu_r"
    assert pic.colorbar.ax.get_ylabel() == "M[i, j]"
    assert list(ax.get_xticks()) == [0, 1, 2] and list(ax.get_yticks()) == [0, 1, 2]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "J"
    assert pic.witness is None and pic.witness_marks == []


def test_the_antisymmetric_part_and_a_verdict_as_witness():
    verdict = mg.fields.symmetry_verdict(M3)
    assert verdict.witness == (0, 1)                                     # |0.9 − 0| is the largest gap
    pic = mplot.matrix(M3, antisymmetric=True, witness=verdict, ax=new_ax(), colorbar_label="asym")
    np.testing.assert_allclose(pic.shown, ANTI3, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(np.asarray(pic.image.get_array()), pic.shown)
    assert pic.image.get_clim() == (-0.45, 0.45)
    assert pic.colorbar.ax.get_ylabel() == "asym"
    assert pic.witness == (0, 1) and box_cells(pic) == [(0, 1), (1, 0)]
    again = mplot.matrix(M3, witness=verdict.witness, ax=new_ax())       # the attribute itself
    assert again.witness == (0, 1) and box_cells(again) == [(0, 1), (1, 0)]


def test_a_td_symmetry_result_is_accepted_as_witness():
    mdp = mg.get_example("two-state")
    pi = mg.uniform_policy(2, 2)
    result = mg.td_symmetry(mdp, pi)
    J = mg.td.td_jacobian(mdp, pi)
    pic = mplot.matrix(J, antisymmetric=True, witness=result, ax=new_ax())
    # the README's witness: x = (s=0, a=1) = 1, y = (s=1, a=1) = 3
    assert pic.witness == (1, 3) and box_cells(pic) == [(1, 3), (3, 1)]


def test_a_diagonal_witness_is_one_box_and_zero_is_drawn_on_a_unit_range():
    pic = mplot.matrix(np.zeros((2, 2)), witness=(1, 1), ax=new_ax())
    assert box_cells(pic) == [(1, 1)]
    assert pic.image.get_clim() == (-1.0, 1.0)
    assert mplot.matrix([[5.0]], witness=mg.fields.symmetry_verdict([[5.0]]), ax=new_ax()).witness is None


def test_labels_and_rectangular_matrices():
    ax = new_ax()
    mplot.matrix(M3, labels=["a", "b", "c"], ax=ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    pic = mplot.matrix(np.arange(6.0).reshape(2, 3) - 1.0)
    assert pic.shown.shape == (2, 3) and pic.image.get_clim() == (-4.0, 4.0)
    assert isinstance(pic.ax.figure, Figure)


@pytest.mark.parametrize("M, kwargs, argument", [
    (np.ones((2, 3)), dict(antisymmetric=True), "M"),
    (np.ones((2, 3)), dict(witness=(0, 1)), "M"),
    (np.ones(3), {}, "M"),
    (np.zeros((0, 0)), {}, "M"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), {}, "M"),
    (np.eye(2) * 1j, {}, "M"),
    ("M", {}, "M"),
    (np.eye(3), dict(witness=(0, 3)), "witness"),
    (np.eye(3), dict(witness=(0, 1, 2)), "witness"),
    (np.eye(3), dict(witness=(0.5, 1)), "witness"),
    (np.eye(3), dict(witness="0,1"), "witness"),
    (np.eye(3), dict(witness=3.0), "witness"),
    (np.eye(3), dict(labels=["a", "b"]), "labels"),
    (np.eye(3), dict(labels="abc"), "labels"),
    (np.eye(3), dict(labels=object()), "labels"),
    (np.eye(3), dict(labels=["a", "b", 3]), "labels"),
    (np.eye(3), dict(antisymmetric="yes"), "antisymmetric"),
    (np.eye(3), dict(title=3), "title"),
    (np.eye(3), dict(ax=object()), "ax"),
])
def test_matrix_bad_input_names_the_argument(M, kwargs, argument):
    kwargs.setdefault("ax", new_ax())
    with pytest.raises(mg.ValidationError) as err:
        mplot.matrix(M, **kwargs)
    assert err.value.argument == argument


# -- eigenvalues -----------------------------------------------------------------------------------

def test_the_points_are_the_eigenvalues():
    # upper triangular: eigenvalues −1 and 0.5 on the diagonal
    ax = new_ax()
    pic = mplot.eigenvalues([[-1.0, 2.0], [0.0, 0.5]], ax=ax, title="spectrum")
    assert sorted(pic.values.real.tolist()) == [-1.0, 0.5] and np.all(pic.values.imag == 0)
    assert sorted(map(tuple, np.asarray(pic.points.get_offsets()).tolist())) == [(-1.0, 0.0), (0.5, 0.0)]
    assert ax.get_xlabel() == "Re λ" and ax.get_ylabel() == "Im λ" and ax.get_title() == "spectrum"
    assert len(pic.boundaries) == 1
    line = pic.boundaries[0]
    assert list(line.get_xdata()) == [0, 0]                                 # Re λ = 0
    assert ax.get_legend() is not None
    x0, x1 = ax.get_xlim()
    assert x0 < -1.0 and x1 > 0.5                                           # every point in view


def test_a_rotation_has_imaginary_eigenvalues_and_the_step_size_circle():
    pic = mplot.eigenvalues(np.array([[0.0, -2.0], [2.0, 0.0]]), step_size=0.25, ax=new_ax(), label="λ(A)")
    np.testing.assert_allclose(sorted(pic.values.imag), [-2.0, 2.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(pic.values.real, 0.0, rtol=0, atol=1e-15)
    circle = pic.boundaries[1]
    assert circle.center == (-4.0, 0.0) and circle.radius == 4.0            # |1 + λ/4| = 1
    labels = [t.get_text() for t in pic.ax.get_legend().get_texts()]
    assert "λ(A)" in labels and any("α = 0.25" in t for t in labels)


def test_complex_matrices_are_accepted():
    pic = mplot.eigenvalues(np.diag([1j, -1.0 + 0j]), ax=new_ax())
    assert sorted(pic.values.tolist(), key=lambda z: z.real) == [-1.0, 1j]


@pytest.mark.parametrize("M, kwargs, argument", [
    (np.ones((2, 3)), {}, "M"),
    (np.zeros((0, 0)), {}, "M"),
    (np.array([[np.inf]]), {}, "M"),
    (np.array([[np.nan + 1j]]), {}, "M"),
    (np.eye(2), dict(step_size=0.0), "step_size"),
    (np.eye(2), dict(step_size=-0.1), "step_size"),
    (np.eye(2), dict(step_size=float("nan")), "step_size"),
    (np.eye(2), dict(label=1), "label"),
    (np.eye(2), dict(ax="ax"), "ax"),
])
def test_eigenvalues_bad_input_names_the_argument(M, kwargs, argument):
    kwargs.setdefault("ax", new_ax())
    with pytest.raises(mg.ValidationError) as err:
        mplot.eigenvalues(M, **kwargs)
    assert err.value.argument == argument
