"""The ``mdpgrad check`` report: a list of sections computed from one context.

Each section is a pure function ``section(ctx) -> Section`` living in a
module of this package; :data:`SECTIONS` fixes their order.  A section carries
human-readable rows and a JSON-ready ``data`` dict, so the text and ``--json``
outputs always show the same numbers.  A section that does not apply is
still printed, with the reason it was skipped.
"""

from __future__ import annotations

from .base import CheckContext, Section, build_context, render_json, render_text, skipped_section, verdict
from .estimators import estimator_section
from .gradient import gradient_section
from .model import evaluation_section, model_section
from .symbolic import symbolic_section
from .td import td_section
from .variance import return_variance_section

#: Report sections, in printing order.
SECTIONS = [
    model_section,
    evaluation_section,
    gradient_section,
    td_section,
    symbolic_section,
    return_variance_section,
    estimator_section,
]

__all__ = ["SECTIONS", "CheckContext", "Section", "build_context", "build_report",
           "render_json", "render_text", "skipped_section", "verdict"]


def build_report(ctx: CheckContext) -> list[Section]:
    """Run every section of :data:`SECTIONS` on ``ctx`` (a section that does not apply says why)."""
    return [s for s in (f(ctx) for f in SECTIONS) if s is not None]
