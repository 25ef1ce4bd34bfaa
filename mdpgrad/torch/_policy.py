"""A PyTorch network as an :class:`mdpgrad.Policy`: π_θ(a|s) = softmax(f_θ(X[s]))[a].

What it computes: ``probabilities``, ``prob_vjp`` and ``log_prob_vjp`` of the Policy protocol by
``torch.func``: a vector-Jacobian product is ONE backward pass of the network over all S states
(or S·A pairs) with the weight table w as the cotangent of π (or log π), so
``mg.policy_gradient`` = one backward pass with weights η·q = η·π·adv + η·π·v (the second part
vanishes through the softmax).  A batch of weight tables at one θ (the estimators' per-episode
tables) is one ``torch.func.vmap`` of that backward pass.

Identities checked by the tests: ``log_prob_vjp(θ, w) = prob_vjp(θ, w/π)``; ``mg.policy_gradient``
equals autograd through a differentiable dense solve of (I − γP^π) v = r^π; a one-hot linear network
(no bias) reproduces mdpgrad.TabularSoftmax exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torch.func import functional_call, grad, jvp, vjp, vmap

from .._adapters import mlp_weights, split_complex_step, validate_features
from .._errors import ValidationError

__all__ = ["ACTIVATIONS", "TorchPolicy", "mlp"]

F64 = torch.float64
TensorFn = Callable[[torch.Tensor], torch.Tensor]

#: Activations :func:`mlp` accepts, by name.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "elu": nn.ELU, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus, "tanh": nn.Tanh}


def mlp(sizes: Sequence[int], *, activation: str = "tanh", seed: int = 0,
        scale: float = 1.0) -> nn.Sequential:
    """A float64 ``nn.Sequential`` of Linear layers with ``activation`` between them.

    Weights from ``mdpgrad._adapters.mlp_weights`` (N(0, scale²/fan_in), biases N(0, 0.1²)): the
    same network as ``mdpgrad.jax.mlp`` for the same seed.  No global random state is touched.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first (at least two).
    activation : str, optional
        A key of ``ACTIVATIONS``, applied between layers (none after the last).
    seed : int, optional
        Seed of the weights.
    scale : float, optional
        Weight scale: N(0, scale²/fan_in).

    Examples
    --------
    >>> from mdpgrad.torch import mlp
    >>> net = mlp([3, 4, 2], seed=1)
    >>> [tuple(p.shape) for p in net.parameters()]
    [(4, 3), (4,), (2, 4), (2,)]
    """
    if activation not in ACTIVATIONS:
        raise ValidationError(f"activation is {activation!r}; expected one of {sorted(ACTIVATIONS)}",
                              argument="activation", value=activation)
    layers: list[nn.Module] = []
    weights = mlp_weights(sizes, seed, scale)
    for i, (w, b) in enumerate(weights):
        lin = nn.Linear(w.shape[0], w.shape[1], dtype=F64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(w.T))
            lin.bias.copy_(torch.tensor(b))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class TorchPolicy:
    """An ``nn.Module`` mapping feature vectors to logits, as an :class:`mdpgrad.Policy`.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a batch of feature vectors (m, k) to logits (m, A) (state features) or to one logit per
        row, shape (m,) or (m, 1) (per-pair features).  A float64 deep copy in eval mode is
        evaluated; ``module`` itself is never changed.
    features : array_like, shape (S, k) or (S, A, k), optional
        The network's input for each state (or each pair); default the one-hot I_S.
    n_states : int, optional
        S, needed when ``features`` is None.

    Attributes
    ----------
    module : torch.nn.Module
        The float64 copy that is evaluated.
    features : ndarray, shape (S, k) or (S, A, k)
    names : tuple of str
        The trainable parameters that make up θ, in order.

    Notes
    -----
    θ, shape (d,), is the concatenation of the trainable parameters (``requires_grad``) in
    ``named_parameters()`` order, each flattened row-major; frozen parameters and buffers are
    constants of the policy.

    Examples
    --------
    A linear network on one-hot states is the tabular softmax policy with θ = the weight matrix.

    >>> import numpy as np
    >>> import torch
    >>> from mdpgrad.torch import TorchPolicy
    >>> net = torch.nn.Linear(2, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[0.0, 1.0], [0.0, 2.0]]))
    >>> pol = TorchPolicy(net, n_states=2)
    >>> pol.param_shape, pol.theta0.tolist()
    ((4,), [0.0, 1.0, 0.0, 2.0])
    >>> np.round(pol.probabilities(pol.theta0), 4).tolist()
    [[0.5, 0.5], [0.2689, 0.7311]]
    """

    def __init__(self, module: nn.Module, features: ArrayLike | None = None, *,
                 n_states: int | None = None) -> None:
        if not isinstance(module, nn.Module):
            raise ValidationError(f"module is a {type(module).__name__}; expected a torch.nn.Module",
                                  argument="module", value=type(module).__name__)
        X, per_pair = validate_features(features, n_states)
        self.features = X
        self.per_pair = per_pair
        self.module = copy.deepcopy(module).to(F64).eval()
        named = [(n, p) for n, p in self.module.named_parameters() if p.requires_grad]
        if not named:
            raise ValidationError("module has no trainable parameter", argument="module")
        self.names = tuple(n for n, _ in named)
        self._shapes = [tuple(p.shape) for _, p in named]
        self._sizes = [int(p.numel()) for _, p in named]
        self._x = torch.tensor(X.reshape(-1, X.shape[-1]), dtype=F64)
        with torch.no_grad():
            theta0 = torch.cat([p.detach().reshape(-1) for _, p in named])
            out = functional_call(self.module, self.unflatten(theta0), (self._x,))
        S = X.shape[0]
        if per_pair:
            A = X.shape[1]
            ok = out.numel() == S * A and out.shape[0] == S * A
        else:
            A = int(out.shape[-1]) if out.ndim == 2 else 0
            ok = out.ndim == 2 and out.shape[0] == S and A >= 1
        if not ok:
            expected = f"({S * A},) or ({S * A}, 1)" if per_pair else f"({S}, A)"
            raise ValidationError(f"module maps the features to shape {tuple(out.shape)}; expected logits of "
                                  f"shape {expected}", argument="module", value=tuple(out.shape))
        self._S, self._A = int(S), int(A)
        self._theta0 = theta0.numpy().copy()
        self._theta0.flags.writeable = False

    # ------------------------------------------------------------------ the Policy protocol
    @property
    def n_states(self) -> int:
        """Number of states S."""
        return self._S

    @property
    def n_actions(self) -> int:
        """Number of actions A."""
        return self._A

    @property
    def param_shape(self) -> tuple[int]:
        """(d,), d the number of trainable scalars."""
        return (int(sum(self._sizes)),)

    @property
    def theta0(self) -> np.ndarray:
        """The module's parameters as one flat float64 vector, shape (d,) (read-only)."""
        return self._theta0

    def unflatten(self, theta: Any) -> dict[str, torch.Tensor]:
        """θ (or a gradient), shape (d,), as ``{name: tensor}`` in the module's parameter shapes."""
        t = theta if isinstance(theta, torch.Tensor) else torch.tensor(np.asarray(theta, dtype=float))
        if tuple(t.shape) != self.param_shape:
            raise ValidationError(f"theta has shape {tuple(t.shape)}; expected {self.param_shape}",
                                  argument="theta", value=tuple(t.shape))
        parts = torch.split(t, self._sizes)
        return {n: p.reshape(s) for n, p, s in zip(self.names, parts, self._shapes, strict=True)}

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        """The logits table f_θ(X), shape (S, A), as a differentiable function of θ (a (d,) tensor)."""
        out = functional_call(self.module, self.unflatten(theta), (self._x,))
        return out.reshape(self._S, self._A)

    def _pi(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(theta), dim=-1)

    def _log_pi(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.logits(theta), dim=-1)

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """π_θ, shape (..., S, A); leading axes of θ batch (a loop); complex θ as a complex step."""
        a, b = self._point_batch(theta)
        out = []
        for i in range(a.shape[0]):
            ai = torch.tensor(a[i])
            if b is None:
                with torch.no_grad():
                    out.append(self._pi(ai).numpy())
            else:
                p, dp = jvp(self._pi, (ai,), (torch.tensor(b[i]),))
                out.append(p.detach().numpy() + 1j * dp.detach().numpy())
        lead = np.shape(theta)[:-1]
        return np.stack(out).reshape(lead + (self._S, self._A))

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Σ_{s,a} w[s,a] ∇_θ π_θ(a|s), shape (..., d): one backward pass per weight table."""
        return self._vjp(self._pi, theta, w)

    def log_prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Σ_{s,a} w[s,a] ∇_θ log π_θ(a|s), shape (..., d)."""
        return self._vjp(self._log_pi, theta, w)

    # ------------------------------------------------------------------ internals
    def _point_batch(self, theta: Any) -> tuple[np.ndarray, np.ndarray | None]:
        d = self.param_shape[0]
        th = np.asarray(theta)
        if th.ndim < 1 or th.shape[-1] != d:
            raise ValidationError(f"theta has shape {th.shape}; expected (..., {d})", argument="theta",
                                  value=th.shape)
        a, b = split_complex_step(th)
        return a.reshape(-1, d), (None if b is None else b.reshape(-1, d))

    def _vjp(self, f: TensorFn, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        d = self.param_shape[0]
        th = np.asarray(theta)
        wa = np.asarray(w)
        if wa.shape[-2:] != (self._S, self._A):
            raise ValidationError(f"w has shape {wa.shape}; expected (..., {self._S}, {self._A})",
                                  argument="w", value=wa.shape)
        lead = np.broadcast_shapes(th.shape[:-1], wa.shape[:-2])
        c, e = split_complex_step(wa)
        if th.ndim == 1 and not np.iscomplexobj(th) and e is None:
            # one θ, a batch of real tables: one vmapped backward pass
            _, pullback = vjp(f, torch.tensor(th.astype(np.float64)))
            cw = torch.tensor(c.reshape(-1, self._S, self._A))
            with torch.no_grad():
                out = vmap(lambda x: pullback(x)[0])(cw)
            return out.numpy().reshape(lead + (d,))
        a, b = split_complex_step(np.broadcast_to(th, lead + (d,)))
        c = np.broadcast_to(c, lead + (self._S, self._A)).reshape(-1, self._S, self._A)
        e = None if e is None else np.broadcast_to(e, lead + (self._S, self._A)).reshape(-1, self._S, self._A)
        a = a.reshape(-1, d)
        b = None if b is None else b.reshape(-1, d)
        res = []
        for i in range(a.shape[0]):
            ai, ci = torch.tensor(a[i]), torch.tensor(c[i])
            _, pullback = vjp(f, ai)
            re = pullback(ci)[0].detach().numpy()
            if b is None and e is None:
                res.append(re)
                continue
            im = np.zeros(d)
            if b is not None:   # d/dε Σ c·∇f(a + εb): the Hessian-vector product of Σ c·f
                bi = torch.tensor(b[i])
                inner = grad(lambda x, ci=ci: (ci * f(x)).sum())
                im = im + grad(lambda x, bi=bi, inner=inner: torch.dot(inner(x), bi))(ai).detach().numpy()
            if e is not None:
                im = im + pullback(torch.tensor(e[i]))[0].detach().numpy()
            res.append(re + 1j * im)
        return np.stack(res).reshape(lead + (d,))
