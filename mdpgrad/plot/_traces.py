"""Traces over iterations and an estimator's samples against its exact expectation.

:func:`trace` draws a quantity over steps (J, the cosine between a step and
∇J, a weight); a NaN entry is a step where the quantity is undefined (the
cosine after a step whose direction vanished), left as a gap in the line by
matplotlib and announced by a small note on the axes ("undefined at k steps
(gap)").  :func:`estimator_histogram` and :func:`estimator_scatter` draw the
per-batch (or per-episode) samples of a gradient estimator, one coordinate
as a histogram or two as a scatter, with three references: the sample mean,
the exact expectation of the estimator and, when given, the exact ∇J.

The tests (``tests/test_plot_traces.py``) check that the drawn line's data
are the values and steps, that the gaps are the NaN indices, that the
histogram's bars count the samples, that the scatter shows the first
``max_points`` samples, that the marker positions are the mean, expectation
and gradient, and that bad input raises :class:`mdpgrad.ValidationError`
naming the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from .._errors import ValidationError
from .._validation import as_real_array, check_bool, check_integer
from ._axes import BELOW_AXES, TEXT_SIZE, axes_or_new, check_drawable, legend_below
from ._style import styled

__all__ = ["SamplePicture", "TracePicture", "estimator_histogram", "estimator_scatter", "trace"]

#: Colours and styles of the three references (the same in both sample pictures).
_MEAN: dict[str, Any] = {"color": "tab:blue", "linestyle": "--"}
_EXPECTATION: dict[str, Any] = {"color": "black", "linestyle": "-"}
_GRADIENT: dict[str, Any] = {"color": "tab:red", "linestyle": ":"}


@dataclass(frozen=True)
class TracePicture:
    """What :func:`trace` drew: ``gaps`` lists the steps where the quantity is undefined (NaN)."""

    ax: Axes
    line: Line2D
    steps: np.ndarray
    values: np.ndarray
    gaps: np.ndarray
    note: Any


@dataclass(frozen=True)
class SamplePicture:
    """What an estimator picture drew: the samples shown and the reference markers."""

    ax: Axes
    samples: np.ndarray
    mean: np.ndarray
    artists: dict[str, Any]


def _label(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{name} is {value!r}; expected a string or None", argument=name, value=value)
    return value


@styled
def trace(values: ArrayLike, *, steps: ArrayLike | None = None, ax: Axes | None = None,
          label: str | None = None, xlabel: str = "step", ylabel: str = "", note_gaps: bool = True,
          **line_kwargs: Any) -> TracePicture:
    """A quantity over iterations; NaN entries (undefined steps) are gaps, and a note says how many.

    ``values`` is 1-D and real; NaN marks an undefined step (±inf is refused).
    ``steps`` defaults to 0 … n−1 and must be finite and of the same length.
    With ``note_gaps`` and at least one NaN, a note under the axes (below the
    x-axis label, on the left) reads "undefined at k steps (gap)".  ``label`` is the line's
    legend entry (a legend is drawn when it is given).

    Parameters
    ----------
    values : array_like, shape (n,)
        The quantity at each step (NaN where undefined).
    steps : array_like, shape (n,), optional
        The x coordinates; default 0 … n−1.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; default a new figure of its own.
    label : str, optional
        The line's legend entry.
    xlabel, ylabel : str, optional
        The axis labels.
    note_gaps : bool, optional
        Write how many steps are undefined.
    **line_kwargs
        Passed to matplotlib's ``Axes.plot``.
    """
    y = as_real_array(values, "values", finite=False)
    if y.ndim != 1 or y.size == 0:
        raise ValidationError(f"values has shape {y.shape}; expected a non-empty 1-D array",
                              argument="values", value=y.shape)
    bad = np.flatnonzero(np.isinf(y))
    if bad.size:
        i = int(bad[0])
        raise ValidationError(f"values[{i}] is {y[i]}; expected a finite number or nan (undefined)",
                              argument="values", index=(i,), value=float(y[i]))
    if steps is None:
        x = np.arange(y.size, dtype=float)
    else:
        x = as_real_array(steps, "steps", shape=y.shape)
    check_drawable(y, "values")
    check_drawable(x, "steps")
    note_gaps = check_bool(note_gaps, "note_gaps")
    label = _label(label, "label")
    ax = axes_or_new(ax)
    (line,) = ax.plot(x, y, label=label, **line_kwargs)
    gaps = np.flatnonzero(np.isnan(y))
    note = None
    if note_gaps and gaps.size:
        k = int(gaps.size)
        # under the x-axis label (where a legend below the axes would go): the line may pass anywhere inside
        note = ax.annotate(f"undefined at {k} step{'s' if k != 1 else ''} (gap)", xy=(0.0, 0.0),
                           xycoords="axes fraction", xytext=(0.0, -BELOW_AXES), textcoords="offset points",
                           fontsize=TEXT_SIZE, color=line.get_color(), ha="left", va="top")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if label is not None:
        ax.legend()
    return TracePicture(ax=ax, line=line, steps=x, values=y, gaps=gaps, note=note)


def _samples(samples: ArrayLike, expectation: ArrayLike,
             gradient: ArrayLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Samples as (n, d) (estimates of any parameter shape are flattened), references as (d,)."""
    s = as_real_array(samples, "samples")
    if s.ndim < 2 or s.shape[0] == 0:
        raise ValidationError(f"samples has shape {s.shape}; expected (n, d) with n >= 1 (one estimate "
                              "per row)", argument="samples", value=s.shape)
    s = s.reshape(s.shape[0], -1)
    d = s.shape[1]
    check_drawable(s, "samples")
    e = as_real_array(expectation, "expectation").reshape(-1)
    check_drawable(e, "expectation")
    if e.size != d:
        raise ValidationError(f"expectation has {e.size} entries; expected {d}, one per coordinate of the "
                              "samples", argument="expectation", value=e.size)
    g = None
    if gradient is not None:
        g = as_real_array(gradient, "gradient").reshape(-1)
        check_drawable(g, "gradient")
        if g.size != d:
            raise ValidationError(f"gradient has {g.size} entries; expected {d}, one per coordinate of the "
                                  "samples", argument="gradient", value=g.size)
    return s, e, g


@styled
def estimator_histogram(samples: ArrayLike, expectation: ArrayLike, gradient: ArrayLike | None = None, *,
                        coordinate: int = 0, bins: int | str = "auto", ax: Axes | None = None,
                        xlabel: str | None = None) -> SamplePicture:
    """Histogram of one coordinate of the samples, with the sample mean, exact expectation and ∇J.

    ``samples`` has one estimate per row, shape (n, d) (or ``(n, *param_shape)``,
    flattened); ``coordinate`` is a flat index.  Vertical lines: the exact
    expectation (solid black, drawn first), the sample mean (dashed blue, on top) and ∇J (dotted
    red, when given).  The record's ``samples`` are the n values of the
    coordinate and ``mean`` their mean (a 1-entry array).

    Parameters
    ----------
    samples : array_like, shape (n, d) or ``(n, *param_shape)``
        One estimate per row.
    expectation : array_like
        The estimator's exact expectation, one entry per coordinate.
    gradient : array_like, optional
        ∇J, one entry per coordinate.
    coordinate : int, optional
        The flat index of the coordinate drawn.
    bins : int or str, optional
        Passed to matplotlib's ``Axes.hist``.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; default a new figure of its own.
    xlabel : str, optional
        The x-axis label.
    """
    s, e, g = _samples(samples, expectation, gradient)
    i = check_integer(coordinate, "coordinate", min_value=0, max_value=s.shape[1] - 1)
    if not (isinstance(bins, str) or (isinstance(bins, (int, np.integer)) and not isinstance(bins, bool))):
        raise ValidationError(f"bins is {bins!r}; expected an integer >= 1 or a numpy bin rule such as "
                              "'auto'", argument="bins", value=bins)
    if not isinstance(bins, str):
        bins = check_integer(bins, "bins", min_value=1, max_value=10_000)
    elif bins not in ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt"):
        raise ValidationError(f"bins is {bins!r}; expected an integer or one of numpy's bin rules",
                              argument="bins", value=bins)
    xlabel = _label(xlabel, "xlabel")
    ax = axes_or_new(ax)
    x = s[:, i]
    mean = np.array([x.mean()])
    counts, edges, patches = ax.hist(x, bins=bins, color="0.75", edgecolor="0.45", linewidth=0.5,
                                     label=f"{x.size} samples")
    artists: dict[str, Any] = {"hist": patches, "counts": counts, "edges": edges}
    # the expectation first and wider, so that the dashed mean on top of it stays visible when they agree
    artists["expectation"] = ax.axvline(e[i], linewidth=2.6, label="exact expectation", **_EXPECTATION)
    artists["mean"] = ax.axvline(mean[0], linewidth=1.8, label="sample mean", **_MEAN)
    if g is not None:
        artists["gradient"] = ax.axvline(g[i], linewidth=2.0, label="∇J", **_GRADIENT)
    ax.set_xlabel(xlabel if xlabel is not None else f"ĝ[{i}]")
    ax.set_ylabel("count")
    artists["legend"] = ax.legend(fontsize=TEXT_SIZE)
    return SamplePicture(ax=ax, samples=x, mean=mean, artists=artists)


@styled
def estimator_scatter(samples: ArrayLike, expectation: ArrayLike, gradient: ArrayLike | None = None, *,
                      coordinates: tuple[int, int] = (0, 1), ax: Axes | None = None,
                      max_points: int = 5000) -> SamplePicture:
    """Scatter of two coordinates of the samples, with the sample mean, exact expectation and ∇J.

    At most ``max_points`` samples are drawn: the first ``max_points`` rows
    (deterministic, so the picture is reproducible); the sample mean is that of
    all n rows.  Markers: the exact expectation (black +), the mean (blue ×, on top),
    ∇J (red star, when given).  Axis labels "ĝ[i]", "ĝ[j]".

    Parameters
    ----------
    samples : array_like, shape (n, d) or ``(n, *param_shape)``
        One estimate per row.
    expectation : array_like
        The estimator's exact expectation, one entry per coordinate.
    gradient : array_like, optional
        ∇J, one entry per coordinate.
    coordinates : (int, int), optional
        The flat indices of the two coordinates drawn.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; default a new figure of its own.
    max_points : int, optional
        At most this many samples are drawn.
    """
    s, e, g = _samples(samples, expectation, gradient)
    if not isinstance(coordinates, (tuple, list)) or len(coordinates) != 2:
        raise ValidationError(f"coordinates is {coordinates!r}; expected a pair (i, j)",
                              argument="coordinates", value=coordinates)
    last = s.shape[1] - 1
    i, j = (check_integer(c, "coordinates", min_value=0, max_value=last) for c in coordinates)
    if i == j:
        raise ValidationError(f"coordinates is {tuple(coordinates)!r}; expected two different coordinates",
                              argument="coordinates", value=tuple(coordinates))
    max_points = check_integer(max_points, "max_points", min_value=1)
    ax = axes_or_new(ax)
    pair = s[:, [i, j]]
    shown = pair[:max_points]
    mean = pair.mean(axis=0)
    artists: dict[str, Any] = {}
    artists["samples"] = ax.scatter(shown[:, 0], shown[:, 1], s=6, color="0.55", alpha=0.5, linewidths=0,
                                    label=f"{shown.shape[0]} of {pair.shape[0]} samples")
    artists["expectation"] = ax.plot([e[i]], [e[j]], marker="+", markersize=18, markeredgewidth=2.6,
                                     linestyle="none", color=_EXPECTATION["color"],
                                     label="exact expectation")[0]
    artists["mean"] = ax.plot([mean[0]], [mean[1]], marker="x", markersize=10, markeredgewidth=2.0,
                              linestyle="none", color=_MEAN["color"], label="sample mean")[0]
    if g is not None:
        artists["gradient"] = ax.plot([g[i]], [g[j]], marker="*", markersize=13, linestyle="none",
                                      color=_GRADIENT["color"], markeredgecolor="black", markeredgewidth=0.6,
                                      label="∇J")[0]
    ax.set_xlabel(f"ĝ[{i}]")
    ax.set_ylabel(f"ĝ[{j}]")
    artists["legend"] = legend_below(ax, ncols=2)          # the cloud of samples fills the view
    return SamplePicture(ax=ax, samples=shown, mean=mean, artists=artists)
