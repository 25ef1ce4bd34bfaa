"""Hypothesis strategies of small JAX MLP policies (needs hypothesis, a test extra).

:func:`mlp_policies` draws hidden widths, an activation and a weight seed and builds a
:class:`~mdpgrad.jax.JaxPolicy` of :func:`mdpgrad.jax.mlp` on one-hot (or given) features, so a
``@given`` test can run a user's loss over models × networks.  Shrinking reaches a network without
hidden layer (a linear softmax policy) and seed 0.  The same draw gives the same network as
:func:`mdpgrad.torch.strategies.mlp_policies`.

Identity checked by the tests: over drawn MDPs × networks, ``mg.policy_gradient`` equals autograd
through a dense solve.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from .._adapters import ACTIVATION_NAMES, Architecture, architectures
from .._errors import ValidationError
from ._policy import JaxPolicy, mlp

__all__ = ["mlp_policies"]

#: Every activation name, the default of ``activations``.
ALL_ACTIVATIONS = st.sampled_from(ACTIVATION_NAMES)


def mlp_policies(n_states: int, n_actions: int, *, features: np.ndarray | None = None, min_depth: int = 0,
                 max_depth: int = 2, min_width: int = 1, max_width: int = 8,
                 activations: SearchStrategy[str] = ALL_ACTIVATIONS, jit: bool = False
                 ) -> SearchStrategy[JaxPolicy]:
    """JaxPolicy objects of MLPs: ``min_depth``…``max_depth`` hidden layers of ``min_width``…``max_width``.

    Parameters
    ----------
    n_states, n_actions : int
    features : ndarray, shape (S, k), optional
        The network's input per state; default one-hot.
    min_depth, max_depth, min_width, max_width : int
        Bounds on the number and the widths of hidden layers.
    activations : SearchStrategy of str
        Names among ``("elu", "relu", "sigmoid", "softplus", "tanh")``.
    jit : bool
        Passed to :class:`~mdpgrad.jax.JaxPolicy`; default False: one compilation per drawn network
        costs more than it saves on the few calls a property test makes.

    Examples
    --------
    >>> import jax
    >>> jax.config.update("jax_enable_x64", True)
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=3, database=None, deadline=None)
    ... @given(mlp_policies(2, 3, max_depth=1, max_width=3))
    ... def rows_sum_to_one(pol):
    ...     assert np.allclose(pol.probabilities(pol.theta0).sum(-1), 1.0)
    >>> rows_sum_to_one()
    """
    try:
        X = np.eye(n_states) if features is None else np.asarray(features, dtype=float)
        JaxPolicy(*mlp([X.shape[-1], n_actions], seed=0), X, n_states=n_states, jit=False)
    except (ValidationError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"n_states={n_states!r}, n_actions={n_actions!r}, features: {exc}") from None
    arch = architectures(min_depth=min_depth, max_depth=max_depth, min_width=min_width, max_width=max_width,
                         activations=activations)

    def build(a: Architecture) -> Any:
        apply_fn, params = mlp([X.shape[-1], *a.hidden, n_actions], activation=a.activation, seed=a.seed)
        return JaxPolicy(apply_fn, params, X, jit=jit)

    return arch.map(build)
