"""mdpgrad.jax: JAX networks as exact policies, exact J under jax.grad, the user's loss as an estimator.

Needs the ``jax`` extra (``pip install 'mdpgrad[jax]'``) and 64-bit JAX
(``jax.config.update("jax_enable_x64", True)`` before building arrays): mdpgrad computes in
float64, and the adapters refuse to run in 32-bit mode rather than change a global setting.

* :class:`JaxPolicy`: ``apply_fn(params, x) -> logits`` with a parameter pytree, as an
  :class:`mdpgrad.Policy`.  θ is ``jax.flatten_util.ravel_pytree(params)``'s flat vector, cast to
  float64 (a float32 leaf converts exactly); ``policy.theta0`` is the given params,
  ``policy.unflatten(theta)`` the pytree (also how a gradient is read in the params' structure).
  Every exact function of mdpgrad takes it (``mg.policy_gradient`` is one ``jax.vjp`` of the
  network with the theorem's weights η·q).
* :func:`objective`: J as a ``jax.custom_vjp`` function of the params whose backward is the policy
  gradient theorem.  It runs the exact solve on the host through ``jax.pure_callback``, so
  ``jax.jit``, ``jax.grad`` and ``jax.vmap`` (one solve per batch element) work; second
  derivatives (``jax.hessian``) raise: use ``mg.policy_hessian`` with a :class:`JaxPolicy`.
* :func:`loss_estimator`: a user's loss ``loss_fn(params, batch)`` as a sampled estimator for
  :func:`mdpgrad.check_estimator`; per-episode gradients of −loss by ``jax.vmap(jax.grad(...))``
  (a loop when the loss cannot be traced by vmap).
* :mod:`mdpgrad.jax.strategies`: Hypothesis strategies of small MLP policies (needs hypothesis).
"""

from __future__ import annotations

try:
    import jax as _jax  # noqa: F401  (the real jax: absolute import)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("mdpgrad.jax needs JAX: pip install 'mdpgrad[jax]'") from exc

from ._loss import Episodes, LossEstimator, loss_estimator
from ._objective import objective
from ._policy import JaxPolicy, mlp

__all__ = ["Episodes", "JaxPolicy", "LossEstimator", "loss_estimator", "mlp", "objective"]
