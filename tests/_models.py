"""Seeded random MDPs and policies: the one generator every test file builds its models with.

``random_mdp`` returns an :class:`mdpgrad.MDP` that is valid by construction: each row of P is a
Dirichlet draw, the rewards are standard normal, and the options below shape P so that the
property a test needs holds for every seed.  Each option exists for a kind of test:

``n_states``, ``n_actions``, ``gamma``
    Sizes and discount.  Some tests depend on the size (a batch of 12 states, above
    ``BATCH_ELIMINATION_MAX``, goes through LAPACK; a 200-state sparse model runs the Krylov solver).
``concentration``
    The Dirichlet parameter of every row: 1 is uniform on the simplex; below 1 rows are skewed
    and closer to deterministic transitions (the gradient presets use 0.5).
``support``
    Expected fraction of next states kept in each row (an independent coin per entry); the others
    become structural zeros and the row is renormalised.  The largest entry of every row is always
    kept, so no row becomes empty at any size.  Structural zeros are what sparse storage, the
    samplers and the TD fields must handle.
``mix``
    Weight of the uniform distribution over the non-terminal states mixed into every row: each of
    them then reaches every other in one step, so in a continuing model every P^π is irreducible,
    with a unique stationary law (the TD tests need one).
``episodic``, ``p_end``
    Append one terminal state (index ``n_states``, so the model has ``n_states + 1`` states) that
    every non-terminal (s, a) reaches with probability exactly ``p_end``: every policy terminates,
    an episode lasts at most 1/p_end steps in expectation, and γ = 1 works.
``sparse``
    Store P as a ``csr_array`` of shape (S·A, S).  Storage only: the numbers are those of the dense
    model with the same seed, so dense = sparse tests compare one model in two layouts.
``random_rho0``
    A Dirichlet start distribution over all states (an episodic model's terminal state included:
    zero-length episodes); otherwise the MDP default, uniform over the non-terminal states.

Draw order, from ``np.random.default_rng(seed)`` or the Generator passed as ``seed``: row weights,
rewards, then the support coins (only if ``support < 1``), then ρ₀ (only if ``random_rho0``).
An option only adds draws after the others: with ``support`` and ``random_rho0`` off a seed gives
the model the earlier ``_models.random_mdp`` gave (the fixed-seed estimator tests keep their
draws), and ``support`` changes which entries are zero but not the weights or the rewards.

``random_pi`` draws a policy table (Dirichlet rows); ``random_policy`` a parameterisation, its θ
and its closed-form gradient; ``KINDS`` names the option sets the gradient tests sweep over, and
``horizon`` is the scale their tolerances grow with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from mdpgrad import MDP, Direct, LogLinear, TabularSoftmax
from mdpgrad.gradients import direct_gradient, loglinear_gradient, softmax_gradient

Seed = int | np.random.Generator


def random_mdp(seed: Seed, *, n_states: int = 4, n_actions: int = 2, gamma: float = 0.8,
               concentration: float = 1.0, support: float = 1.0, mix: float = 0.0,
               episodic: bool = False, p_end: float = 0.3, sparse: bool = False,
               random_rho0: bool = False) -> MDP:
    """A random MDP with ``n_states`` non-terminal states (plus one terminal state if ``episodic``).

    See the module docstring for what each option does and the order of the draws.
    """
    if not 0.0 < support <= 1.0:
        raise ValueError(f"support must be in (0, 1], got {support}")
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be in [0, 1], got {mix}")
    if episodic and not 0.0 < p_end <= 1.0:
        raise ValueError(f"p_end must be in (0, 1], got {p_end}")
    rng = np.random.default_rng(seed)
    S, A = n_states, n_actions
    P = rng.dirichlet(np.full(S, float(concentration)), size=(S, A))
    r = rng.normal(size=(S, A))
    if support < 1.0:
        keep = rng.random((S, A, S)) < support
        np.put_along_axis(keep, P.argmax(axis=2)[..., None], True, axis=2)
        P = P * keep
        P /= P.sum(axis=2, keepdims=True)
    if mix > 0.0:
        P = (1.0 - mix) * P + mix / S
    terminal = None
    if episodic:
        P = np.concatenate([(1 - p_end) * P, np.full((S, A, 1), p_end)], axis=2)
        P = np.concatenate([P, np.zeros((1, A, S + 1))], axis=0)
        P[S, :, S] = 1.0
        r = np.concatenate([r, np.zeros((1, A))])
        terminal = np.array([False] * S + [True])
    rho0 = rng.dirichlet(np.ones(P.shape[0])) if random_rho0 else None
    if sparse:
        P = sp.csr_array(P.reshape(-1, P.shape[2]))
    return MDP(P, r, gamma=gamma, rho0=rho0, terminal=terminal)


def random_pi(seed: Seed, n_states: int, n_actions: int, *, batch: tuple[int, ...] = ()) -> np.ndarray:
    """A policy table of shape ``batch + (n_states, n_actions)`` with uniform-Dirichlet rows.

    With ``n_actions = n_states`` the rows are random transition rows of an S-state chain.
    """
    return np.random.default_rng(seed).dirichlet(np.ones(n_actions), size=(*batch, n_states))


def random_policy(seed: int, mdp: MDP, which: str, n_features: int = 3) -> tuple[Any, np.ndarray, Any]:
    """(policy, θ, closed-form gradient θ ↦ ∇J) for ``which`` in softmax, loglinear, direct.

    Drawn from ``seed + 1``, so a policy and the model of the same seed use different draws.
    """
    rng = np.random.default_rng(seed + 1)
    S, A = mdp.n_states, mdp.n_actions
    if which == "softmax":
        return TabularSoftmax(S, A), rng.standard_normal((S, A)), lambda th: softmax_gradient(mdp, th)
    if which == "loglinear":
        phi = rng.standard_normal((S, A, n_features))
        return LogLinear(phi), rng.standard_normal(n_features), lambda th: loglinear_gradient(mdp, phi, th)
    if which == "direct":
        return Direct(S, A), random_pi(rng, S, A), lambda th: direct_gradient(mdp, th)
    raise ValueError(f"unknown parameterisation {which!r}")


_GRADIENT_BASE: dict[str, Any] = dict(concentration=0.5, random_rho0=True)

#: The model kinds the gradient tests sweep over: kind -> keyword options of ``random_mdp``
#: (dense and sparse storage, episodic with γ = 1, γ = 0 and γ near 1).
KINDS: dict[str, dict[str, Any]] = {
    "dense": dict(_GRADIENT_BASE, gamma=0.9),
    "sparse": dict(_GRADIENT_BASE, gamma=0.8, sparse=True, support=0.5),
    "episodic": dict(_GRADIENT_BASE, gamma=1.0, episodic=True, p_end=0.2),
    "episodic-sparse": dict(_GRADIENT_BASE, gamma=0.95, episodic=True, p_end=0.2, sparse=True, support=0.5),
    "gamma0": dict(_GRADIENT_BASE, gamma=0.0),
    "near1": dict(_GRADIENT_BASE, gamma=0.995),
}


def horizon(mdp: MDP) -> float:
    """The scale of the solves: 1/(1−γ), or for γ = 1 the bound 1/min Pr(end) on the expected length.

    For γ = 1 the smallest one-step probability of reaching a terminal state from a non-terminal
    (s, a) bounds the expected episode length from every start (1/p_end for ``random_mdp``).
    """
    if mdp.gamma < 1.0:
        return 1.0 / (1.0 - mdp.gamma)
    P = mdp.P_flat
    ends = np.asarray(P[:, np.flatnonzero(mdp.terminal)].sum(axis=1)).ravel()
    live = np.repeat(~mdp.terminal, mdp.n_actions)
    return float(1.0 / ends[live].min())
