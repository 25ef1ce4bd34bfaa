"""mdpgrad.plot's traces and estimator pictures: the drawn data are the given data.

Expected values are the inputs themselves (the line's data, NaN positions,
histogram counts recomputed by numpy.histogram, the first max_points rows,
means recomputed here).
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import mdpgrad as mg
import mdpgrad.plot as mplot


def _ax():
    return Figure().add_subplot()


def test_trace_draws_values_over_default_steps():
    pic = mplot.trace([3.0, 1.0, 2.0], ax=_ax(), ylabel="J", label="J(θ)")
    x, y = pic.line.get_data()
    np.testing.assert_array_equal(x, [0, 1, 2])
    np.testing.assert_array_equal(y, [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(pic.steps, [0, 1, 2])
    assert pic.gaps.size == 0 and pic.note is None
    assert (pic.ax.get_xlabel(), pic.ax.get_ylabel()) == ("step", "J")
    assert [t.get_text() for t in pic.ax.get_legend().get_texts()] == ["J(θ)"]


def test_trace_gaps_are_the_nan_steps_with_a_note():
    values = [1.0, np.nan, 0.5, np.nan, np.nan, 0.2]
    pic = mplot.trace(values, steps=[10, 20, 30, 40, 50, 60], ax=_ax(), color="tab:green")
    np.testing.assert_array_equal(pic.gaps, [1, 3, 4])
    assert pic.note.get_text() == "undefined at 3 steps (gap)"
    x, y = pic.line.get_data()
    np.testing.assert_array_equal(x, [10, 20, 30, 40, 50, 60])
    assert np.isnan(y[1]) and y[5] == 0.2      # the NaN is kept (a gap), not dropped
    assert pic.line.get_color() == "tab:green"
    assert pic.ax.get_legend() is None


def test_trace_one_gap_is_singular_and_the_note_can_be_switched_off():
    assert mplot.trace([np.nan, 1.0], ax=_ax()).note.get_text() == "undefined at 1 step (gap)"
    pic = mplot.trace([np.nan, 1.0], ax=_ax(), note_gaps=False)
    assert pic.note is None and pic.gaps.tolist() == [0]


def test_trace_without_ax_makes_its_own_figure():
    assert mplot.trace([1.0]).ax.figure is not None


@pytest.mark.parametrize("kwargs, argument", [
    ({"values": []}, "values"),
    ({"values": [[1.0, 2.0]]}, "values"),
    ({"values": [1.0, np.inf]}, "values"),
    ({"values": ["a"]}, "values"),
    ({"steps": [0, 1]}, "steps"),
    ({"steps": [0, np.nan, 2]}, "steps"),
    ({"note_gaps": 1}, "note_gaps"),
    ({"label": 5}, "label"),
    ({"ax": 5}, "ax"),
])
def test_trace_refuses_bad_input(kwargs, argument):
    args = {"values": [1.0, 2.0, 3.0]}
    args.update(kwargs)
    with pytest.raises(mg.ValidationError) as err:
        mplot.trace(args.pop("values"), **args)
    assert err.value.argument == argument


RNG = np.random.default_rng(3)
SAMPLES = RNG.normal(size=(400, 3)) + [1.0, -2.0, 0.5]
EXPECTATION = np.array([1.0, -2.0, 0.5])
GRADIENT = np.array([1.2, -1.5, 0.0])


def test_histogram_counts_the_coordinate_and_marks_three_references():
    pic = mplot.estimator_histogram(SAMPLES, EXPECTATION, GRADIENT, coordinate=1, bins=12, ax=_ax())
    np.testing.assert_array_equal(pic.samples, SAMPLES[:, 1])
    assert pic.mean[0] == pytest.approx(SAMPLES[:, 1].sum() / 400, abs=1e-14)
    counts, edges = np.histogram(SAMPLES[:, 1], bins=12)
    np.testing.assert_array_equal(pic.artists["counts"], counts)
    np.testing.assert_allclose(pic.artists["edges"], edges)
    assert [p.get_height() for p in pic.artists["hist"]] == counts.tolist()
    assert pic.artists["mean"].get_xdata()[0] == pytest.approx(pic.mean[0])
    assert pic.artists["expectation"].get_xdata()[0] == -2.0
    assert pic.artists["gradient"].get_xdata()[0] == -1.5
    styles = {k: (pic.artists[k].get_color(), pic.artists[k].get_linestyle())
              for k in ("mean", "expectation", "gradient")}
    assert len(set(styles.values())) == 3
    labels = [t.get_text() for t in pic.artists["legend"].get_texts()]
    assert labels == ["400 samples", "sample mean", "exact expectation", "∇J"]
    assert pic.ax.get_xlabel() == "ĝ[1]" and pic.ax.get_ylabel() == "count"


def test_histogram_flattens_parameter_shapes_and_gradient_is_optional():
    samples = SAMPLES[:, :2].reshape(400, 1, 2)
    pic = mplot.estimator_histogram(samples, EXPECTATION[:2].reshape(1, 2), coordinate=1, ax=_ax(),
                                    xlabel="component")
    np.testing.assert_array_equal(pic.samples, SAMPLES[:, 1])
    assert "gradient" not in pic.artists and pic.ax.get_xlabel() == "component"


@pytest.mark.parametrize("kwargs, argument", [
    ({"samples": np.ones(5)}, "samples"),
    ({"samples": np.ones((0, 3))}, "samples"),
    ({"samples": np.full((4, 3), np.nan)}, "samples"),
    ({"expectation": np.ones(2)}, "expectation"),
    ({"gradient": np.ones(4)}, "gradient"),
    ({"coordinate": 3}, "coordinate"),
    ({"coordinate": -1}, "coordinate"),
    ({"bins": 0}, "bins"),
    ({"bins": "many"}, "bins"),
    ({"bins": True}, "bins"),
])
def test_histogram_refuses_bad_input(kwargs, argument):
    args = {"samples": SAMPLES, "expectation": EXPECTATION}
    args.update(kwargs)
    with pytest.raises(mg.ValidationError) as err:
        mplot.estimator_histogram(args.pop("samples"), args.pop("expectation"), ax=_ax(), **args)
    assert err.value.argument == argument


def test_scatter_shows_the_first_max_points_and_the_mean_of_all():
    pic = mplot.estimator_scatter(SAMPLES, EXPECTATION, GRADIENT, coordinates=(2, 0), max_points=50, ax=_ax())
    np.testing.assert_array_equal(pic.samples, SAMPLES[:50][:, [2, 0]])
    np.testing.assert_allclose(pic.artists["samples"].get_offsets(), SAMPLES[:50][:, [2, 0]])
    np.testing.assert_allclose(pic.mean, [SAMPLES[:, 2].mean(), SAMPLES[:, 0].mean()], atol=1e-14)
    assert pic.artists["mean"].get_data() == ([pytest.approx(pic.mean[0])], [pytest.approx(pic.mean[1])])
    assert pic.artists["expectation"].get_data() == ([0.5], [1.0])
    assert pic.artists["gradient"].get_data() == ([0.0], [1.2])
    assert (pic.ax.get_xlabel(), pic.ax.get_ylabel()) == ("ĝ[2]", "ĝ[0]")
    labels = [t.get_text() for t in pic.artists["legend"].get_texts()]
    assert labels == ["50 of 400 samples", "sample mean", "exact expectation", "∇J"]


def test_scatter_with_fewer_samples_than_max_points_shows_all():
    pic = mplot.estimator_scatter(SAMPLES[:7], EXPECTATION, ax=_ax())
    assert pic.samples.shape == (7, 2) and "gradient" not in pic.artists


@pytest.mark.parametrize("kwargs, argument", [
    ({"coordinates": (0, 0)}, "coordinates"),
    ({"coordinates": (0, 3)}, "coordinates"),
    ({"coordinates": 0}, "coordinates"),
    ({"max_points": 0}, "max_points"),
    ({"expectation": [1.0]}, "expectation"),
])
def test_scatter_refuses_bad_input(kwargs, argument):
    args = {"expectation": EXPECTATION}
    args.update(kwargs)
    with pytest.raises(mg.ValidationError) as err:
        mplot.estimator_scatter(SAMPLES, args.pop("expectation"), ax=_ax(), **args)
    assert err.value.argument == argument
