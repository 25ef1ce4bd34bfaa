"""mdpgrad.plot: exact pictures of values, gradients, fields and estimators (matplotlib).

Needs matplotlib (``pip install 'mdpgrad[plot]'``); the rest of mdpgrad does
not.  Every function draws on the object-oriented API only: it takes an
optional ``ax=`` (a new figure of its own when omitted, never pyplot's current
one), labels its axes and colour bars, and returns a small record of what it
drew (the axes, the artists and the numbers behind them), so that a test or a
lesson can check that the picture shows the computed data.

=========================  ===================================================
gridworlds                 :func:`grid_values` (any per-state quantity as a
                           heatmap, the policy as arrows), :func:`action_directions`
two-parameter slices       :func:`slice_contour` (J over θ₀ + x·u + y·v),
                           :func:`slice_field` (any vector field, streamlines or
                           arrows), :func:`slice_loop` (a loop and its
                           circulation with the error bound), :func:`landscape`
                           (J and ∇J together)
the value polytope         :func:`value_polytope` (2 states, exact boundary),
                           :func:`trajectory` (a path of iterates over any picture)
matrices                   :func:`matrix` (a Jacobian or its antisymmetric part,
                           witness marked), :func:`eigenvalues` (complex plane and
                           stability boundary)
traces and samples         :func:`trace` (a quantity over iterations, gaps where it
                           is undefined), :func:`estimator_histogram`,
                           :func:`estimator_scatter` (samples against the exact
                           expectation and ∇J)
style                      :data:`STYLE` (the rcParams of every picture: 150 dpi,
                           text of at least 9 pt, mathtext), :func:`style`
                           (a ``with`` block using them), :func:`figure_problems`
                           (is a finished figure slide-ready: resolution, text
                           sizes, subscripts, overlapping text)
=========================  ===================================================

Every function draws inside :func:`style`, so its text and new figures follow
:data:`STYLE` whatever the caller's rcParams, and leaves those rcParams as they
were.
"""

from __future__ import annotations

try:
    import matplotlib  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "mdpgrad.plot needs matplotlib, which the core install leaves out; install it with "
        "pip install 'mdpgrad[plot]' (or 'mdpgrad[notebooks]' for the lessons too)") from exc

from ._audit import figure_problems
from ._grid import GridPicture, action_directions, grid_values
from ._landscape import (
    ContourPicture,
    FieldPicture,
    LandscapePicture,
    LoopPicture,
    landscape,
    slice_contour,
    slice_field,
    slice_loop,
)
from ._matrices import EigenvaluePicture, MatrixPicture, eigenvalues, matrix
from ._polytope import PolytopePicture, trajectory, value_polytope
from ._style import MIN_DPI, MIN_TEXT_SIZE, STYLE, style
from ._traces import SamplePicture, TracePicture, estimator_histogram, estimator_scatter, trace

__all__ = [
    "ContourPicture",
    "EigenvaluePicture",
    "FieldPicture",
    "GridPicture",
    "LandscapePicture",
    "LoopPicture",
    "MIN_DPI",
    "MIN_TEXT_SIZE",
    "MatrixPicture",
    "PolytopePicture",
    "STYLE",
    "SamplePicture",
    "TracePicture",
    "action_directions",
    "eigenvalues",
    "estimator_histogram",
    "estimator_scatter",
    "figure_problems",
    "grid_values",
    "landscape",
    "matrix",
    "slice_contour",
    "slice_field",
    "slice_loop",
    "style",
    "trace",
    "trajectory",
    "value_polytope",
]
