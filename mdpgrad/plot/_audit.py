"""Is a finished figure slide-ready?  Resolution, text sizes, subscripts, and text that overlaps.

:func:`figure_problems` draws a figure once (on an Agg canvas, the figure's
own canvas restored afterwards) and measures what a reader would see:

* the resolution ``fig.dpi``, at which ``savefig`` and a notebook render it,
  against :data:`MIN_DPI`;
* every visible text (titles, axis labels, tick labels in view, offset texts,
  legend entries, annotations, figure texts) against :data:`MIN_TEXT_SIZE`
  points;
* a subscript typed as plain text outside ``$...$`` (``α_c``, ``P_π``,
  ``‖v‖²_D`` drawn with a literal underscore, where mathtext ``$\\alpha_c$``
  draws a subscript; names such as ``my_reinforce`` are not subscripts);
* the window extents (``Text.get_window_extent`` with the renderer, in
  pixels) of every pair of texts and legends: two boxes that intersect by
  more than :data:`OVERLAP_PIXELS` in both directions are reported (a tick
  label under an axis label, a legend over a title);
* legends and annotations of an axes against its data: a vertex of a line
  (its segments sampled every 2 pixels) or a scatter point strictly inside
  the box is reported.  Filled areas (images, contours, streamlines) are not
  counted as data here: a legend over a heatmap hides colour, not a curve.

The numbers are a picture's text as rendered, so the check
works on any figure, the lessons' included (``notebooks/run.py`` runs it on
every figure a lesson shows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from .._errors import ValidationError
from .._validation import check_real
from ._style import MIN_DPI, MIN_TEXT_SIZE

__all__ = ["OVERLAP_PIXELS", "figure_problems"]

#: Two text boxes may share this many pixels in each direction without counting as overlapping: a
#: text's window extent includes the whole line height (ascender to descender), so neighbours that
#: touch share a pixel row or column from rounding.  1.5 px is about 0.7 pt at 150 dpi.
OVERLAP_PIXELS = 1.5
#: Spacing, in pixels, at which a line's segments are sampled for the data-overlap check.
_SAMPLE_PIXELS = 2.0
#: Most sample points per line (a long, dense line is subsampled rather than expanded without bound).
_MAX_SAMPLES = 20_000
_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$")
#: A subscript typed as plain text: one letter (not part of a longer name, so my_reinforce and
#: mg.policy_gradient are names, not subscripts) or a superscript ² followed by "_" and a letter or digit,
#: as in α_c, P_π, d_π, ‖v‖²_D.
_SUBSCRIPT = re.compile(r"(?<![^\W\d_])[^\W\d_]_\w|²_\w")


@dataclass(frozen=True)
class _Item:
    what: str
    box: Bbox
    artist: Any
    owner: Axes | None
    over_data: bool        # measured against the data of ``owner``


def _describe(ax: Axes | None, index: int) -> str:
    if ax is None:
        return "the figure"
    title = ax.get_title() or ax.get_ylabel() or ax.get_xlabel()
    return f"axes {index}" + (f" ({title!r})" if title else "")


def _visible(t: Text) -> bool:
    return bool(t.get_visible() and t.get_text().strip())


def _ticklabels(ax: Axes) -> list[Text]:
    """The tick labels drawn: ticks whose location is inside the view interval."""
    labels: list[Text] = []
    for axis in ax._axis_map.values():                     # noqa: SLF001 - x, y (and z) axes
        if not axis.get_visible():
            continue
        lo, hi = sorted(float(x) for x in axis.get_view_interval())
        eps = 1e-9 * max(hi - lo, abs(lo), abs(hi), 1e-300)
        for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
            loc = tick.get_loc()
            if loc is None or not lo - eps <= float(loc) <= hi + eps:
                continue
            labels += [lab for lab in (tick.label1, tick.label2) if _visible(lab)]
    return labels


def _texts(fig: Figure, renderer: Any) -> tuple[list[_Item], list[Text], dict[int, str]]:
    """Every visible text box and legend box (one item per legend); every text and its name."""
    items: list[_Item] = []
    texts: list[Text] = []
    names: dict[int, str] = {}
    for index, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        name = _describe(ax, index)
        own: list[tuple[str, Text, bool]] = []
        own += [(f"{name} tick label {t.get_text()!r}", t, False) for t in _ticklabels(ax)]
        for axis_name, axis in ax._axis_map.items():       # noqa: SLF001
            if axis.get_visible():
                own.append((f"{name} {axis_name}-axis label {axis.label.get_text()!r}", axis.label, False))
                own.append((f"{name} {axis_name}-axis offset {axis.get_offset_text().get_text()!r}",
                            axis.get_offset_text(), False))
        for child in ax.get_children():
            if isinstance(child, Text):                    # the titles, then ax.text and annotations
                is_text = child in ax.texts
                own.append((f"{name} {'text' if is_text else 'title'} {child.get_text()!r}", child, is_text))
        for what, t, over_data in own:
            if _visible(t):
                texts.append(t)
                box = Text.get_window_extent(t, renderer)  # the text itself, not an annotation's arrow
                items.append(_Item(what, box, t, ax, over_data))
                names[id(t)] = what
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            items.append(_Item(f"{name} legend", legend.get_window_extent(renderer), legend, ax, True))
            entries = [t for t in [*legend.get_texts(), legend.get_title()] if _visible(t)]
            texts += entries
            names.update({id(t): f"{name} legend text {t.get_text()!r}" for t in entries})
    for t in fig.texts:
        if _visible(t):
            texts.append(t)
            names[id(t)] = f"figure text {t.get_text()!r}"
            items.append(_Item(f"figure text {t.get_text()!r}", Text.get_window_extent(t, renderer), t,
                               None, False))
    for legend in fig.legends:
        if legend.get_visible():
            items.append(_Item("figure legend", legend.get_window_extent(renderer), legend, None, False))
            entries = [t for t in legend.get_texts() if _visible(t)]
            texts += entries
            names.update({id(t): f"figure legend text {t.get_text()!r}" for t in entries})
    suptitle = getattr(fig, "_suptitle", None)
    if isinstance(suptitle, Text) and _visible(suptitle):
        texts.append(suptitle)
        names[id(suptitle)] = f"figure title {suptitle.get_text()!r}"
        items.append(_Item(f"figure title {suptitle.get_text()!r}",
                           Text.get_window_extent(suptitle, renderer), suptitle, None, False))
    return items, texts, names


def _data_points(ax: Axes) -> np.ndarray:
    """(n, 2) display coordinates of the axes' lines (sampled every 2 px) and scatter points."""
    chunks: list[np.ndarray] = [np.empty((0, 2))]
    for line in ax.lines:
        if not isinstance(line, Line2D) or not line.get_visible():
            continue
        xy = np.asarray(line.get_xydata(), dtype=float)
        if xy.size == 0:
            continue
        pts = line.get_transform().transform(xy)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) > 1 and line.get_linestyle() not in ("None", "none", "", " "):
            seg = np.diff(pts, axis=0)
            steps = np.clip(np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / _SAMPLE_PIXELS), 1, None).astype(int)
            if steps.sum() > _MAX_SAMPLES:
                steps = np.maximum(1, steps * _MAX_SAMPLES // int(steps.sum()))
            pieces = [pts[i] + np.linspace(0.0, 1.0, n, endpoint=False)[:, None] * seg[i]
                      for i, n in enumerate(steps)]
            pts = np.concatenate([*pieces, pts[-1:]])
        chunks.append(pts)
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2)
        if isinstance(coll, PathCollection) and coll.get_visible() and len(offsets):
            chunks.append(coll.get_offset_transform().transform(offsets))
    points = np.concatenate(chunks)
    inside = ax.bbox
    keep = ((points[:, 0] >= inside.x0) & (points[:, 0] <= inside.x1)
            & (points[:, 1] >= inside.y0) & (points[:, 1] <= inside.y1))
    return points[keep]


def _overlap(a: Bbox, b: Bbox) -> tuple[float, float]:
    return min(a.x1, b.x1) - max(a.x0, b.x0), min(a.y1, b.y1) - max(a.y0, b.y0)


def figure_problems(fig: Figure, *, min_dpi: float = MIN_DPI, min_text_size: float = MIN_TEXT_SIZE,
                    overlap_pixels: float = OVERLAP_PIXELS) -> list[str]:
    """What keeps ``fig`` from a slide: low resolution, small text, plain subscripts, overlapping text.

    Parameters
    ----------
    fig : matplotlib Figure
        Drawn once here, on an Agg canvas (its own canvas is put back).
    min_dpi : float
        Lowest acceptable ``fig.dpi`` (default 150).
    min_text_size : float
        Smallest acceptable text, in points (default 9).
    overlap_pixels : float
        Two boxes overlap when they share more than this many pixels in both
        directions (default 1.5).

    Returns
    -------
    list of str
        One sentence per problem, naming the texts (empty for a slide-ready
        figure).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from mdpgrad.plot import figure_problems
    >>> fig = Figure(dpi=80)
    >>> ax = fig.add_subplot()
    >>> _ = ax.plot([0, 1], [0, 1]); _ = ax.set_ylabel("α_c", fontsize=7)
    >>> for problem in figure_problems(fig):
    ...     print(problem)
    the figure is 80 dpi, below 150 dpi
    axes 0 ('α_c') y-axis label 'α_c' is 7 pt, below 9 pt
    axes 0 ('α_c') y-axis label 'α_c' types a subscript with '_' (mathtext draws one: $x_c$)
    """
    if not isinstance(fig, Figure):
        raise ValidationError(f"fig is a {type(fig).__name__}; expected a matplotlib Figure",
                              argument="fig", value=type(fig).__name__)
    min_dpi = check_real(min_dpi, "min_dpi", min_value=0.0)
    min_text_size = check_real(min_text_size, "min_text_size", min_value=0.0)
    overlap_pixels = check_real(overlap_pixels, "overlap_pixels", min_value=0.0)
    problems: list[str] = []
    if fig.dpi < min_dpi:
        problems.append(f"the figure is {fig.dpi:g} dpi, below {min_dpi:g} dpi")
    own_canvas = fig.canvas
    try:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        items, texts, names = _texts(fig, renderer)
        for t in texts:
            what = names[id(t)]
            size = float(t.get_fontsize())           # in points (a name such as "small" is resolved)
            if size < min_text_size:
                problems.append(f"{what} is {size:g} pt, below {min_text_size:g} pt")
            if _SUBSCRIPT.search(_MATH.sub("", t.get_text())):
                problems.append(f"{what} types a subscript with '_' (mathtext draws one: $x_c$)")
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                dx, dy = _overlap(a.box, b.box)
                if dx > overlap_pixels and dy > overlap_pixels:
                    problems.append(f"{a.what} and {b.what} overlap ({dx:.0f} × {dy:.0f} px)")
        points = {id(ax): _data_points(ax) for ax in fig.axes}
        for item in items:
            if not item.over_data or item.owner is None:
                continue
            box = item.box.padded(-overlap_pixels)
            pts = points[id(item.owner)]
            hit = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1))
            if hit.any():
                problems.append(f"{item.what} covers the data ({int(hit.sum())} points of lines or markers "
                                "under it)")
    finally:
        fig.set_canvas(own_canvas)
    return problems
