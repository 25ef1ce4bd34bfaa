"""Exact J(θ) of a JAX network's policy under ``jax.grad``.

What it computes: J = ρ₀ · v^π with π = softmax(apply_fn(params, X)), as a ``jax.custom_vjp``
function of the logits table L, shape (S, A), whose backward is the policy gradient theorem for
the softmax of the logits (Sutton et al. 2000; Agarwal et al. 2021, Lemma C.1)::

    ∂J/∂L(s, a) = η(s) π(a|s) adv(s, a),

so ``jax.grad`` of :func:`objective` is one reverse pass of the network with that cotangent.  The
exact evaluation runs on the host (numpy, mdpgrad's solvers) through ``jax.pure_callback``: the
function can be jitted and vmapped (sequentially, one solve per element), and differentiated once.
Identity checked by the tests: ``jax.grad`` equals ``jax.grad`` of a differentiable dense solve
(``jnp.linalg.solve`` of (I − γP̃^π) v = r^π, J = ρ₀ · v) to 1e-10, also under ``jax.jit``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from .._adapters import validate_features
from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP, validate_mdp
from .._policies import TabularSoftmax
from ..gradients._theorem import policy_gradient
from ._policy import check_x64

__all__ = ["exact_objective_of_logits", "objective"]


def exact_objective_of_logits(mdp: MDP) -> Callable[[Any], Any]:
    """L ↦ J(softmax(L)) for an (S, A) logits array, with the theorem as its custom vjp (the softmax over
    the available actions of a model with action sets)."""
    mdp = validate_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    table = TabularSoftmax(S, A, actions=mdp.actions if mdp.has_action_sets else None)   # available actions

    def host(L: Any) -> tuple[np.ndarray, np.ndarray]:
        L = np.asarray(L, dtype=np.float64)
        ev = evaluate(mdp, table.probabilities(L))
        return np.asarray(ev.J, dtype=np.float64), policy_gradient(mdp, table, L, evaluation=ev)

    shapes = (jax.ShapeDtypeStruct((), jnp.float64), jax.ShapeDtypeStruct((S, A), jnp.float64))

    def both(L: Any) -> Any:
        return jax.pure_callback(host, shapes, L, vmap_method="sequential")

    @jax.custom_vjp
    def J(L: Any) -> Any:
        return both(L)[0]

    def fwd(L: Any) -> tuple[Any, Any]:
        value, g = both(L)
        return value, g

    def bwd(g: Any, ct: Any) -> tuple[Any]:
        return (ct * g,)

    J.defvjp(fwd, bwd)
    return J


def objective(mdp: MDP, apply_fn: Callable[[Any, Any], Any], params: Any,
              features: ArrayLike | None = None) -> Any:
    """J of the policy softmax(apply_fn(params, features)), differentiable in ``params`` by the theorem.

    Parameters
    ----------
    mdp : MDP
    apply_fn : callable
        ``apply_fn(params, X)`` → logits (S, A), or one logit per row of per-pair features
        flattened to (S·A, k).
    params : pytree of float64 arrays
    features : array_like, shape (S, k) or (S, A, k), optional
        Default the one-hot states I_S.

    Returns
    -------
    jax.Array, shape ()

    Examples
    --------
    >>> import jax, mdpgrad as mg
    >>> from mdpgrad.jax import objective
    >>> jax.config.update("jax_enable_x64", True)
    >>> mdp = mg.MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> apply_fn = lambda p, x: x @ p
    >>> g = jax.grad(lambda p: objective(mdp, apply_fn, p))(jax.numpy.zeros((2, 2)))
    >>> [[round(float(x), 6) for x in row] for row in g]
    [[-0.082645, 0.082645], [0.0, 0.0]]
    """
    check_x64("mdpgrad.jax.objective")
    mdp = validate_mdp(mdp)
    X, per_pair = validate_features(features, mdp.n_states)
    S, A = mdp.n_states, mdp.n_actions
    if per_pair and X.shape[1] != A:
        raise ValidationError(f"features has shape {X.shape}; expected ({S}, {A}, k) per-pair features",
                              argument="features", value=X.shape)
    logits = jnp.asarray(apply_fn(params, jnp.asarray(X.reshape(-1, X.shape[-1]))))
    if logits.size != S * A:
        raise ValidationError(f"apply_fn returned shape {tuple(logits.shape)}; expected {S * A} logits "
                              f"(S={S}, A={A})", argument="apply_fn", value=tuple(logits.shape))
    if logits.dtype != jnp.float64:
        raise ValidationError(f"apply_fn returned {logits.dtype} logits; the exact objective needs float64 "
                              "params", argument="params", value=str(logits.dtype))
    return exact_objective_of_logits(mdp)(jnp.reshape(logits, (S, A)))
