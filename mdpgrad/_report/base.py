"""Shared pieces of the report: the context every section reads, and rendering."""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from .._evaluation import Evaluation, evaluate
from .._model import MDP
from .._policies import TabularSoftmax
from .._validation import check_choice, check_integer

__all__ = ["LINE_WIDTH", "CheckContext", "PolicyName", "Section", "build_context", "render_json",
           "render_text", "skipped_section", "verdict"]

#: The text report wraps its lines at this many characters.
LINE_WIDTH = 100

#: The report's policies: θ = 0, or θ ~ N(0, 1) from the seed.
PolicyName = Literal["uniform", "random"]


@dataclass(frozen=True, eq=False)
class CheckContext:
    """What every report section may use.

    ``policy`` is a tabular softmax and ``theta`` its parameters, so that
    π = policy.probabilities(theta) and gradients are taken in θ; ``seed`` is
    the seed of the random θ and of the sampled sections (None: unseeded θ,
    sections sample with seed 0).
    """

    name: str
    mdp: MDP
    policy: TabularSoftmax
    theta: np.ndarray
    policy_name: str
    seed: int | None
    evaluation: Evaluation
    #: models with at most this many state-action pairs get symbolic sections
    symbolic_limit: int = 8
    extras: dict[str, Any] = field(default_factory=dict)


def build_context(name: str, mdp: MDP, policy_name: PolicyName = "uniform",
                  seed: int | None = None, extras: dict[str, Any] | None = None) -> CheckContext:
    """The context of one report: θ = 0 (uniform π) or θ ~ N(0, 1) drawn from ``default_rng(seed)``.

    ``seed`` (the command line's ``--seed``) is recorded in the context: the
    sampled sections draw their episodes from it too, so a report is
    reproducible from its seed.  ``extras`` carries what some examples bring
    besides the MDP (Baird's counterexample: its features and policies).
    On a model with action sets the softmax runs over the available actions
    (θ = 0 is then uniform over each state's available actions).
    """
    pol = TabularSoftmax(mdp.n_states, mdp.n_actions, actions=mdp.actions if mdp.has_action_sets else None)
    policy_name = check_choice(policy_name, "policy_name", get_args(PolicyName))
    if seed is not None:
        seed = check_integer(seed, "seed", min_value=0)
    if policy_name == "uniform":
        theta = np.zeros(pol.param_shape)
    else:
        theta = np.random.default_rng(seed).standard_normal(pol.param_shape)
    ev = evaluate(mdp, pol.probabilities(theta))
    return CheckContext(name=name, mdp=mdp, policy=pol, theta=theta, policy_name=policy_name,
                        seed=seed, evaluation=ev, extras=dict(extras or {}))


@dataclass(frozen=True)
class Section:
    """One titled block: ``rows`` of (label, text) for people, ``data`` for ``--json``.

    ``ok`` is False when one of the section's checks failed; ``undecided`` names
    the checks whose answer the numbers could not settle (not a failure, but the
    verdict line says so).
    """

    key: str
    title: str
    rows: list[tuple[str, str]]
    data: dict[str, Any]
    ok: bool = True
    undecided: tuple[str, ...] = ()


def skipped_section(key: str, title: str, reason: str) -> Section:
    """A section that did not run, saying why (``data``: skipped = True and the reason)."""
    return Section(key, title, [("skipped", reason)], dict(skipped=True, reason=reason), True)


def verdict(sections: list[Section]) -> str:
    """The report's overall verdict: "all checks pass", or "FAILED: " and the failed sections.

    Checks left undecided are named after it: "all checks pass; undecided: grad J".
    """
    failed = [s.title for s in sections if not s.ok]
    text = "all checks pass" if not failed else f"FAILED: {', '.join(failed)}"
    open_ = [u for s in sections for u in s.undecided]
    return text if not open_ else f"{text}; undecided: {', '.join(open_)}"


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return f if math.isfinite(f) else str(f)
    return x


def render_json(sections: list[Section]) -> str:
    """All sections as one JSON object keyed by section key, plus "verdict" (ok, failed, text)."""
    report: dict[str, Any] = {s.key: _jsonable(s.data) | {"ok": s.ok} for s in sections}
    report["verdict"] = dict(ok=all(s.ok for s in sections), failed=[s.key for s in sections if not s.ok],
                             undecided=[f"{s.key}: {u}" for s in sections for u in s.undecided],
                             text=verdict(sections))
    return json.dumps(report, indent=2)


def render_text(sections: list[Section]) -> str:
    """Sections as aligned ``label  value`` rows under underlined titles, wrapped at :data:`LINE_WIDTH`.

    The last line is the verdict.
    """
    out: list[str] = []
    for s in sections:
        out.append(s.title)
        out.append("-" * len(s.title))
        width = max((len(k) for k, _ in s.rows if len(k) <= LINE_WIDTH // 3), default=0)
        for k, v in s.rows:
            head = f"  {k.ljust(width)}  "
            if len(head) > 2 + width + 2:      # a long label gets a line of its own
                out.append(f"  {k}")
                head = " " * (width + 4)
            lines = textwrap.wrap(v, width=LINE_WIDTH, initial_indent=head, subsequent_indent=" " * len(head),
                                  break_on_hyphens=False) or [head.rstrip()]
            out.extend(lines)
        out.append("")
    out.append(f"verdict: {verdict(sections)}")
    return "\n".join(out) + "\n"
