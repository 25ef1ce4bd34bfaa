"""Shared pieces of the report: the context every section reads, and rendering."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from .._evaluation import Evaluation, evaluate
from .._model import MDP
from .._policies import TabularSoftmax
from .._validation import check_choice, check_integer

__all__ = ["CheckContext", "PolicyName", "Section", "build_context", "render_json", "render_text"]

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
                  seed: int | None = None) -> CheckContext:
    """The context of one report: θ = 0 (uniform π) or θ ~ N(0, 1) drawn from ``default_rng(seed)``.

    ``seed`` (the command line's ``--seed``) is recorded in the context: the
    sampled sections draw their episodes from it too, so a report is
    reproducible from its seed.
    """
    pol = TabularSoftmax(mdp.n_states, mdp.n_actions)
    policy_name = check_choice(policy_name, "policy_name", get_args(PolicyName))
    if seed is not None:
        seed = check_integer(seed, "seed", min_value=0)
    if policy_name == "uniform":
        theta = np.zeros(pol.param_shape)
    else:
        theta = np.random.default_rng(seed).standard_normal(pol.param_shape)
    ev = evaluate(mdp, pol.probabilities(theta))
    return CheckContext(name=name, mdp=mdp, policy=pol, theta=theta, policy_name=policy_name,
                        seed=seed, evaluation=ev)


@dataclass(frozen=True)
class Section:
    """One titled block: ``rows`` of (label, text) for people, ``data`` for ``--json``."""

    key: str
    title: str
    rows: list[tuple[str, str]]
    data: dict[str, Any]
    ok: bool = True


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
    """All sections as one JSON object keyed by section key."""
    return json.dumps({s.key: _jsonable(s.data) | {"ok": s.ok} for s in sections}, indent=2)


def render_text(sections: list[Section]) -> str:
    """Sections as aligned ``label  value`` rows under underlined titles."""
    out: list[str] = []
    for s in sections:
        out.append(s.title)
        out.append("-" * len(s.title))
        width = max((len(k) for k, _ in s.rows), default=0)
        for k, v in s.rows:
            out.append(f"  {k.ljust(width)}  {v}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
