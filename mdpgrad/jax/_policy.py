"""A JAX network as an :class:`mdpgrad.Policy`: π_θ(a|s) = softmax(apply_fn(unflatten(θ), X[s]))[a].

What it computes: ``probabilities``, ``prob_vjp`` and ``log_prob_vjp`` of the Policy protocol with
``jax.vjp`` (one reverse pass of the network over all states per weight table, ``jax.vmap`` over a
batch of tables or of θ), jitted once per policy.  Complex θ = a + ib (mdpgrad's complex steps) is
evaluated to first order, f(a) + i·jvp(f, a; b) (see ``mdpgrad._adapters``).

Identities checked by the tests: ``log_prob_vjp(θ, w) = prob_vjp(θ, w/π)``; ``mg.policy_gradient``
equals ``jax.grad`` of a differentiable dense solve of (I − γP^π) v = r^π to 1e-10; the same network
written in PyTorch gives the same gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpy.typing import ArrayLike

from .._adapters import mlp_weights, split_complex_step, validate_features
from .._errors import ValidationError

__all__ = ["ACTIVATIONS", "JaxPolicy", "check_x64", "mlp"]

#: Activations :func:`mlp` accepts, by name.
ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "tanh": jnp.tanh, "relu": jax.nn.relu, "elu": jax.nn.elu, "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid}


def check_x64(caller: str) -> None:
    """Refuse to run in JAX's default 32-bit mode (float64 arrays would silently become float32)."""
    if not jax.config.read("jax_enable_x64"):
        raise ValidationError(f"{caller} computes in float64 but JAX runs in 32-bit mode; call "
                              "jax.config.update('jax_enable_x64', True) before building arrays",
                              argument="jax_enable_x64", value=False)


def mlp(sizes: Sequence[int], *, activation: str = "tanh", seed: int = 0,
        scale: float = 1.0) -> tuple[Callable[[Any, Any], Any], list[dict[str, Any]]]:
    """A plain MLP ``apply_fn(params, x)`` and its float64 params (a list of {"w", "b"} layers).

    Weights from ``mdpgrad._adapters.mlp_weights`` (N(0, scale²/fan_in), biases N(0, 0.1²), the
    same numbers as ``mdpgrad.torch.mlp`` for the same seed); ``activation`` (a key of ACTIVATIONS)
    between layers, none after the last.

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
    """
    check_x64("mdpgrad.jax.mlp")
    if activation not in ACTIVATIONS:
        raise ValidationError(f"activation is {activation!r}; expected one of {sorted(ACTIVATIONS)}",
                              argument="activation", value=activation)
    params = [{"w": jnp.asarray(w), "b": jnp.asarray(b)} for w, b in mlp_weights(sizes, seed, scale)]
    act = ACTIVATIONS[activation]

    def apply_fn(p: Any, x: Any) -> Any:
        for i, layer in enumerate(p):
            x = x @ layer["w"] + layer["b"]
            if i < len(p) - 1:
                x = act(x)
        return x

    return apply_fn, params


class JaxPolicy:
    """``apply_fn(params, x)`` mapping feature vectors to logits, as an :class:`mdpgrad.Policy`.

    Parameters
    ----------
    apply_fn : callable
        ``apply_fn(params, X)`` for X of shape (m, k) returns logits (m, A) (state features) or one
        logit per row, (m,) or (m, 1) (per-pair features flattened to (S·A, k)).
    params : pytree
        The parameters at which ``theta0`` is taken (any pytree of arrays).
    features : array_like, shape (S, k) or (S, A, k), optional
        Default the one-hot I_S.
    n_states : int, optional
        S, needed when ``features`` is None.
    n_actions : int, optional
        A, checked against the network's output when given.
    jit : bool
        Compile the policy's functions with ``jax.jit`` (once per policy and argument shape, about
        0.5 s each; default).  False runs them op by op, which compiles each operation once per
        shape for the whole process instead.

    Examples
    --------
    >>> import jax
    >>> from mdpgrad.jax import JaxPolicy, mlp
    >>> jax.config.update("jax_enable_x64", True)
    >>> apply_fn, params = mlp([2, 2], seed=0)
    >>> pol = JaxPolicy(apply_fn, params, n_states=2)
    >>> pol.param_shape, pol.probabilities(pol.theta0).shape
    ((6,), (2, 2))
    """

    def __init__(self, apply_fn: Callable[[Any, Any], Any], params: Any,
                 features: ArrayLike | None = None, *,
                 n_states: int | None = None, n_actions: int | None = None, jit: bool = True) -> None:
        check_x64("mdpgrad.jax.JaxPolicy")
        if not callable(apply_fn):
            raise ValidationError(f"apply_fn is {apply_fn!r}; expected a function (params, x) -> logits",
                                  argument="apply_fn", value=apply_fn)
        X, per_pair = validate_features(features, n_states)
        self.features = X
        self.per_pair = per_pair
        as64 = jax.tree_util.tree_map(lambda p: jnp.asarray(p, dtype=jnp.float64), params)
        flat, unravel = ravel_pytree(as64)
        self._unravel = unravel
        self.apply_fn = apply_fn
        x = jnp.asarray(X.reshape(-1, X.shape[-1]))
        out = jnp.asarray(apply_fn(unravel(flat), x))
        S = X.shape[0]
        if per_pair:
            A = X.shape[1]
            ok = out.size == S * A and out.shape[0] == S * A
        else:
            A = int(out.shape[-1]) if out.ndim == 2 else 0
            ok = out.ndim == 2 and out.shape[0] == S and A >= 1
        if not ok or (n_actions is not None and A != n_actions):
            expected = f"({S * A},) or ({S * A}, 1)" if per_pair else f"({S}, {n_actions or 'A'})"
            raise ValidationError(f"apply_fn maps the features to shape {tuple(out.shape)}; expected "
                                  "logits of "
                                  f"shape {expected}", argument="apply_fn", value=tuple(out.shape))
        self._S, self._A = int(S), int(A)
        self._theta0 = np.array(flat, dtype=np.float64)
        self._theta0.flags.writeable = False

        def logits(th: Any) -> Any:
            return jnp.reshape(apply_fn(unravel(th), x), (S, A))

        self.logits = logits

        def _jit(f: Callable[..., Any]) -> Callable[..., Any]:
            return jax.jit(f) if jit else f

        pi = _jit(lambda th: jax.nn.softmax(logits(th), axis=-1))
        log_pi = _jit(lambda th: jax.nn.log_softmax(logits(th), axis=-1))
        self._fns = {"pi": pi, "log_pi": log_pi}
        self._probs = _jit(jax.vmap(pi))
        self._probs_step = _jit(jax.vmap(lambda a, b: jax.jvp(pi, (a,), (b,))))
        self._vjp1 = {k: _jit(lambda th, W, f=f: jax.vmap(jax.vjp(f, th)[1])(W)[0])
                      for k, f in self._fns.items()}
        self._vjpn = {k: _jit(jax.vmap(lambda th, w, f=f: jax.vjp(f, th)[1](w)[0]))
                      for k, f in self._fns.items()}
        self._step = {k: _jit(jax.vmap(lambda a, b, c, e, f=f: (
            jax.jvp(jax.grad(lambda y: jnp.sum(c * f(y))), (a,), (b,))[1] + jax.vjp(f, a)[1](e)[0])))
            for k, f in self._fns.items()}

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
        """(d,), d the number of scalars in the params."""
        return (int(self._theta0.size),)

    @property
    def theta0(self) -> np.ndarray:
        """The given params as one flat float64 vector, shape (d,) (read-only)."""
        return self._theta0

    def unflatten(self, theta: Any) -> Any:
        """θ (or a gradient), shape (d,), as a params pytree."""
        t = jnp.asarray(theta, dtype=jnp.float64)
        if tuple(t.shape) != self.param_shape:
            raise ValidationError(f"theta has shape {tuple(t.shape)}; expected {self.param_shape}",
                                  argument="theta", value=tuple(t.shape))
        return self._unravel(t)

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """π_θ, shape (..., S, A); leading axes of θ batch (vmapped); complex θ as a complex step."""
        d = self.param_shape[0]
        th = np.asarray(theta)
        if th.ndim < 1 or th.shape[-1] != d:
            raise ValidationError(f"theta has shape {th.shape}; expected (..., {d})", argument="theta",
                                  value=th.shape)
        a, b = split_complex_step(th)
        lead = th.shape[:-1]
        if b is None:
            return np.asarray(self._probs(a.reshape(-1, d))).reshape(lead + (self._S, self._A))
        p, dp = self._probs_step(a.reshape(-1, d), b.reshape(-1, d))
        return (np.asarray(p) + 1j * np.asarray(dp)).reshape(lead + (self._S, self._A))

    def prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Σ_{s,a} w[s,a] ∇_θ π_θ(a|s), shape (..., d)."""
        return self._vjp("pi", theta, w)

    def log_prob_vjp(self, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Σ_{s,a} w[s,a] ∇_θ log π_θ(a|s), shape (..., d)."""
        return self._vjp("log_pi", theta, w)

    def _vjp(self, key: str, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
        d, S, A = self.param_shape[0], self._S, self._A
        th, wa = np.asarray(theta), np.asarray(w)
        if th.ndim < 1 or th.shape[-1] != d:
            raise ValidationError(f"theta has shape {th.shape}; expected (..., {d})", argument="theta",
                                  value=th.shape)
        if wa.shape[-2:] != (S, A):
            raise ValidationError(f"w has shape {wa.shape}; expected (..., {S}, {A})", argument="w",
                                  value=wa.shape)
        lead = np.broadcast_shapes(th.shape[:-1], wa.shape[:-2])
        a, b = split_complex_step(th)
        c, e = split_complex_step(wa)
        if b is None and e is None and th.ndim == 1:
            out = self._vjp1[key](a, c.reshape(-1, S, A))
            return np.asarray(out).reshape(lead + (d,))
        a = np.broadcast_to(a, lead + (d,)).reshape(-1, d)
        c = np.broadcast_to(c, lead + (S, A)).reshape(-1, S, A)
        re = np.asarray(self._vjpn[key](a, c))
        if b is None and e is None:
            return re.reshape(lead + (d,))
        b = np.zeros_like(a) if b is None else np.broadcast_to(b, lead + (d,)).reshape(-1, d)
        e = np.zeros_like(c) if e is None else np.broadcast_to(e, lead + (S, A)).reshape(-1, S, A)
        im = np.asarray(self._step[key](a, b, c, e))
        return (re + 1j * im).reshape(lead + (d,))
