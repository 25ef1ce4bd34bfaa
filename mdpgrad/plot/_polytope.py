"""The value polytope of a two-state MDP, drawn exactly (Dadashi et al. 2019).

For a two-state MDP every policy π has a value vector v^π = (v(s₀), v(s₁)), a
point of the plane; the set of all of them is the value polytope.  Dadashi et
al. (2019, ICML, "The Value Function Polytope in Reinforcement Learning")
describe it exactly, which is what :func:`value_polytope` draws, with no
sampled policy anywhere:

* the *line theorem* (their Theorem 1): policies that agree everywhere except
  in one state have values on a straight segment, whose two ends are reached
  by deterministic choices in that state.  So the values of the deterministic
  policies (computed with :func:`mdpgrad.evaluate`) are the vertices, and the
  segments between two deterministic policies that differ in exactly one
  state are exact straight lines;
* the *boundary result* (their Theorem 2 and its corollary): the boundary of
  the polytope lies in the union of the values of the semi-deterministic
  policies (deterministic in at least one state).  With two actions per state
  those are the edges of the policy square, whose image is the closed path of
  four segments (0, 0) → (0, 1) → (1, 1) → (1, 0) → (0, 0); the filled
  polygon is the region it encloses.

:func:`trajectory` draws a path of iterates (values of successive policies)
over the picture, its start and end marked.

The tests (``tests/test_plot_polytope.py``) check that the vertices are
``mg.evaluate`` of each deterministic policy, that the values of many sampled
random policies (on the Dadashi et al. example and on random two-state MDPs,
with two and three actions) fall inside the filled region and come close to
every drawn segment, and that bad input is refused naming the argument.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import is_color_like
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from numpy.typing import ArrayLike

from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP, validate_mdp
from .._validation import as_real_array, check_bool, check_instance, check_integer
from ._axes import TEXT_SIZE, axes_or_new, check_drawable
from ._style import styled

__all__ = ["PolytopePicture", "trajectory", "value_polytope"]

#: Most 2-action sub-polytopes filled (C(A, 2)² of them for A actions: A = 20 gives 36100); with more
#: actions ``fill=True`` is refused rather than building a huge picture (draw with ``fill=False``).
MAX_FILL_POLYGONS = 40_000

#: Colours of the picture: the region, its edges and vertices.
FILL_COLOR = "#cfe0f3"
EDGE_COLOR = "#2b4a6f"


@dataclass(frozen=True)
class PolytopePicture:
    """What :func:`value_polytope` drew; ``vertices`` maps each deterministic policy to its (v(0), v(1)).

    Attributes
    ----------
    ax : Axes
    vertices : dict
        ``(a0, a1) -> array([v(s₀), v(s₁)])`` for every deterministic policy
        (action ``a0`` in state 0, ``a1`` in state 1).
    segments : list of pairs of action tuples
        The drawn segments, each between two deterministic policies that
        differ in exactly one state (the first tuple is the smaller one).
    fill : PolyCollection or None
        The filled region (None when ``fill=False``); ``fill.get_paths()``
        are the polygons in data coordinates.
    artists : list
        Everything drawn: the fill (if any), the segments (a LineCollection),
        the vertex markers and the vertex labels.
    polygons : list of tuples of action tuples
        The corners of each filled polygon, in drawing order, e.g.
        ``((0, 0), (0, 1), (1, 1), (1, 0))`` for two actions.
    """

    ax: Axes
    vertices: dict[tuple[int, ...], np.ndarray]
    segments: list[tuple[tuple[int, ...], tuple[int, ...]]]
    fill: Any
    artists: list[Any]
    polygons: list[tuple[tuple[int, ...], ...]] = field(default_factory=list)


def _polygons(n_actions: int) -> list[tuple[tuple[int, ...], ...]]:
    """The corners of the 2-action sub-polytopes: actions {a < b} in state 0, {c < d} in state 1."""
    pairs = list(itertools.combinations(range(n_actions), 2))
    return [((a, c), (a, d), (b, d), (b, c)) for (a, b) in pairs for (c, d) in pairs]


@styled
def value_polytope(mdp: MDP, *, ax: Axes | None = None, fill: bool = True, label_vertices: bool = True,
                   title: str | None = None) -> PolytopePicture:
    """The set {v^π} of a 2-state MDP, bounded by its semi-deterministic policies' segments.

    Draws, with x = v(s₀) and y = v(s₁):

    * the value of every deterministic policy (a dot, labelled ``"(a0, a1)"``
      when ``label_vertices``), computed with :func:`mdpgrad.evaluate`;
    * every segment between two deterministic policies that differ in
      exactly one state.  By the line theorem of Dadashi et al. (2019,
      Theorem 1) it is exactly the set of values of the policies that mix
      those two actions in that state; with more than two actions in the free
      state, the values of *all* mixtures there lie on the same line, between
      its two extreme deterministic values, so these segments overlap on it;
    * the filled region (``fill=True``).  With two actions per state it is the
      polygon (0, 0) → (0, 1) → (1, 1) → (1, 0): the image of the edges of
      the policy square, which contains the boundary of the polytope
      (Dadashi et al. 2019, Theorem 2), so the polygon is the polytope.  The
      path may cross itself (it does on the example of their Fig. 2(d)): the
      polytope is then two triangles meeting at one point, both filled.  With
      more than two actions the fill is the union of the polygons of all the
      2-action sub-polytopes (actions {a, b} allowed in state 0, {c, d} in
      state 1).  That union is the whole polytope, not an approximation: by
      the line theorem, the mixture in state 0 can be replaced by a mixture of
      the two actions at the ends of its segment without changing v, then
      likewise in state 1, so every value is reached by a policy using at most
      two actions per state.  The polygons are filled opaque in one colour,
      so their overlaps do not show.  (The union of polygons is preferred to
      the convex hull of the vertices, which would be wrong: the polytope
      need not be convex.)

    Parameters
    ----------
    mdp : MDP
        Exactly 2 states, any number of actions (a terminal state is allowed;
        its value is 0 and the polytope degenerates to a segment).
    ax : Axes, optional
        Where to draw (a new figure when omitted).
    fill : bool
        Fill the region of all values (default True).  Refused for more than
        ``MAX_FILL_POLYGONS`` sub-polytopes (above 20 actions).
    label_vertices : bool
        Write ``"(a0, a1)"`` next to each deterministic policy's value.
    title : str, optional

    Returns
    -------
    PolytopePicture

    Raises
    ------
    ValidationError
        If ``mdp`` is not an MDP with exactly 2 states, if ``fill`` would need
        more than ``MAX_FILL_POLYGONS`` polygons, or another argument is
        malformed.
    NonTerminatingPolicyError
        If γ = 1 and some deterministic policy never terminates (its value
        does not exist).

    Examples
    --------
    >>> from mdpgrad.plot import value_polytope
    >>> import mdpgrad as mg
    >>> from matplotlib.figure import Figure
    >>> mdp = mg.MDP([[[0.7, 0.3], [0.99, 0.01]], [[0.2, 0.8], [0.99, 0.01]]],
    ...              [[-0.45, -0.1], [0.5, 0.5]], gamma=0.9)
    >>> pic = value_polytope(mdp, ax=Figure().add_subplot())
    >>> pic.vertices[(0, 0)].round(4).tolist(), len(pic.segments)
    ([0.1636, 1.8909], 4)
    """
    mdp = validate_mdp(mdp)
    if mdp.n_states != 2:
        raise ValidationError(f"mdp has {mdp.n_states} states; the value polytope is drawn for exactly 2",
                              argument="mdp", value=mdp.n_states)
    fill = check_bool(fill, "fill")
    label_vertices = check_bool(label_vertices, "label_vertices")
    if title is not None:
        check_instance(title, str, "title", "a string or None")
    n_actions = mdp.n_actions
    polygons = _polygons(n_actions) if fill else []
    if len(polygons) > MAX_FILL_POLYGONS:
        raise ValidationError(f"fill=True with {n_actions} actions needs {len(polygons)} polygons, more than "
                              f"{MAX_FILL_POLYGONS}; draw the segments only with fill=False",
                              argument="fill", value=fill)
    ax = axes_or_new(ax)
    eye = np.eye(n_actions)

    vertices: dict[tuple[int, ...], np.ndarray] = {}
    for a in itertools.product(range(n_actions), repeat=2):
        pi = eye[list(a)]                         # row s is the one-hot of a[s]
        vertices[a] = np.array(evaluate(mdp, pi).v, dtype=float)
        check_drawable(vertices[a], "mdp", f"the value v of the deterministic policy {a}: v")

    segments: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for a0, b0 in itertools.combinations(range(n_actions), 2):     # differ in state 0
        for c in range(n_actions):
            segments.append(((a0, c), (b0, c)))
    for c in range(n_actions):                                     # differ in state 1
        for a1, b1 in itertools.combinations(range(n_actions), 2):
            segments.append(((c, a1), (c, b1)))
    segments.sort()

    artists: list[Any] = []
    region: PolyCollection | None = None
    if fill:
        region = PolyCollection([np.array([vertices[p] for p in poly]) for poly in polygons],
                                facecolors=FILL_COLOR, edgecolors="none", zorder=1,
                                label="values of all policies")
        ax.add_collection(region)
        artists.append(region)
    lines = LineCollection([np.array([vertices[p], vertices[q]]) for p, q in segments],
                           colors=EDGE_COLOR, linewidths=1.5, zorder=2,
                           label="semi-deterministic policies")
    ax.add_collection(lines)
    artists.append(lines)
    pts = np.array(list(vertices.values()))
    dots = ax.scatter(pts[:, 0], pts[:, 1], s=28, color=EDGE_COLOR, zorder=3,
                      label="deterministic policies")
    artists.append(dots)

    if label_vertices:
        # each label goes opposite to the segments leaving its vertex (so it covers none of them), or away
        # from the middle of the picture when those cancel out; directions in units of the data span
        centre = pts.mean(axis=0)
        span = np.ptp(pts, axis=0)
        span = np.where(span > 0, span, 1.0)
        neighbours: dict[tuple[int, ...], list[tuple[int, ...]]] = {a: [] for a in vertices}
        for p, q in segments:
            neighbours[p].append(q)
            neighbours[q].append(p)
        for a, v in vertices.items():
            d = np.zeros(2)
            for b in neighbours[a]:
                u = (vertices[b] - v) / span
                n = float(np.hypot(*u))
                d -= u / n if n > 0 else 0.0
            if float(np.hypot(*d)) < 1e-6:
                d = (v - centre) / span
            norm = float(np.hypot(*d))
            d = d / norm if norm > 0 else np.array([0.0, 1.0])
            artists.append(ax.annotate(f"({a[0]}, {a[1]})", xy=(v[0], v[1]),
                                       xytext=(9 * d[0], 9 * d[1]), textcoords="offset points",
                                       ha="left" if d[0] > 0.3 else "right" if d[0] < -0.3 else "center",
                                       va="bottom" if d[1] > 0.3 else "top" if d[1] < -0.3 else "center",
                                       fontsize=TEXT_SIZE, color=EDGE_COLOR, zorder=4))

    ax.update_datalim(pts)
    ax.margins(0.2 if label_vertices else 0.12)      # room for the labels of the outermost vertices
    ax.autoscale_view()
    ax.set_xlabel("v(s₀)")
    ax.set_ylabel("v(s₁)")
    if title is not None:
        ax.set_title(title)
    return PolytopePicture(ax=ax, vertices=vertices, segments=segments, fill=region, artists=artists,
                           polygons=polygons)


@styled
def trajectory(points: ArrayLike, *, ax: Axes | None = None, label: str | None = None,
               color: str | None = None, marker: str = "o", markevery: int | None = None) -> Line2D:
    """A path of iterates (n, 2) over any picture, its start and end marked.

    The path is one line with small markers (every ``markevery``-th point when
    given); its first point gets an open circle and its last a filled star, in
    the line's colour.  Only the line carries ``label`` (so a legend shows one
    entry per path).

    Parameters
    ----------
    points : array_like, shape (n, 2)
        The iterates, n >= 1, real and finite (e.g. the values v^π of
        successive policies, or successive θ).
    ax : Axes, optional
    label : str, optional
        Legend entry of the path.
    color : matplotlib colour, optional
        The next colour of the axes' cycle when omitted.
    marker : str
        Marker of the intermediate points (default ``"o"``; ``""`` for none).
    markevery : int, optional
        Draw a marker on every ``markevery``-th point only (>= 1).

    Returns
    -------
    Line2D
        The path; its data are the points.

    Examples
    --------
    >>> from mdpgrad.plot import trajectory
    >>> from matplotlib.figure import Figure
    >>> line = trajectory([[0, 0], [1, 0.5], [2, 2]], ax=Figure().add_subplot(), label="iterates")
    >>> line.get_xydata().tolist()
    [[0.0, 0.0], [1.0, 0.5], [2.0, 2.0]]
    """
    pts = as_real_array(points, "points")
    check_drawable(pts, "points")
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 1:
        raise ValidationError(f"points has shape {pts.shape}; expected (n, 2) with n >= 1",
                              argument="points", value=pts.shape)
    if label is not None:
        check_instance(label, str, "label", "a string or None")
    if color is not None and not (isinstance(color, str) and is_color_like(color)):
        raise ValidationError(f"color is {color!r}; expected a matplotlib colour name or None",
                              argument="color", value=color)
    check_instance(marker, str, "marker", "a marker string such as 'o' or ''")
    try:
        MarkerStyle(marker)
    except ValueError:
        raise ValidationError(f"marker is {marker!r}; expected a matplotlib marker such as 'o', '.' or ''",
                              argument="marker", value=marker) from None
    if markevery is not None:
        markevery = check_integer(markevery, "markevery", min_value=1)
    ax = axes_or_new(ax)
    kwargs: dict[str, Any] = {"marker": marker, "markersize": 3.5, "linewidth": 1.4, "zorder": 5}
    if color is not None:
        kwargs["color"] = color
    if markevery is not None:
        kwargs["markevery"] = markevery
    (line,) = ax.plot(pts[:, 0], pts[:, 1], label=label if label is not None else "_nolegend_", **kwargs)
    c = line.get_color()
    ax.plot(pts[:1, 0], pts[:1, 1], linestyle="none", marker="o", markersize=9, markerfacecolor="white",
            markeredgecolor=c, markeredgewidth=1.6, zorder=6, label="_nolegend_")
    ax.plot(pts[-1:, 0], pts[-1:, 1], linestyle="none", marker="*", markersize=13, color=c,
            markeredgecolor="black", markeredgewidth=0.5, zorder=7, label="_nolegend_")
    return line
