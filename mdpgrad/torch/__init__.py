"""mdpgrad.torch: PyTorch networks as exact policies, exact J in autograd, the user's loss as an estimator.

Needs the ``torch`` extra (``pip install 'mdpgrad[torch]'``); the rest of mdpgrad never imports torch.

* :class:`TorchPolicy`: an ``nn.Module`` mapping a state's (or a state-action pair's) feature
  vector to logits, as an :class:`mdpgrad.Policy`.  θ is the flat float64 vector of the
  module's trainable parameters in ``named_parameters()`` order, each flattened row-major
  (``torch.nn.utils.parameters_to_vector``'s order); ``policy.theta0`` is the module's own
  parameters, ``policy.unflatten(theta)`` the dict of tensors for ``torch.func.functional_call``
  (also how a gradient is read in the module's structure).  Every exact function of mdpgrad
  takes it: ``mg.objective``, ``mg.policy_gradient`` (one backward pass of the network with the
  theorem's weights η·q, :mod:`mdpgrad.gradients`), Hessian- and Fisher-vector products,
  ``mg.is_gradient_field``, sampling, ``estimator_moments``.
* :func:`objective`: J of a module's policy as a 0-d tensor whose ``.backward()`` is the
  policy gradient theorem (a ``torch.autograd.Function``): gradients land in the module's
  ``.grad`` fields.
* :func:`loss_estimator`: a user's surrogate loss as a sampled estimator for
  :func:`mdpgrad.check_estimator` / :func:`mdpgrad.assert_unbiased`; per-episode gradients of
  −loss by ``torch.func.vmap(torch.func.grad(...))`` (a loop when the loss cannot be vmapped).
* :mod:`mdpgrad.torch.strategies`: Hypothesis strategies of small MLP policies (needs hypothesis).

dtype rule: mdpgrad computes in float64.  :class:`TorchPolicy` evaluates a float64 deep copy of the
module (a float32 parameter converts exactly; the user's module is not touched), in eval mode.
:func:`objective` and :func:`loss_estimator` differentiate the user's own module, so they refuse
logits that are not float64 (``module.double()`` converts it).
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401  (the real torch: absolute import)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("mdpgrad.torch needs PyTorch: pip install 'mdpgrad[torch]'") from exc

from ._loss import Episodes, LossEstimator, loss_estimator
from ._objective import objective
from ._policy import TorchPolicy, mlp

__all__ = ["Episodes", "LossEstimator", "TorchPolicy", "loss_estimator", "mlp", "objective"]
