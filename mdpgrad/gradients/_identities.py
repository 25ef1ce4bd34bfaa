"""The identities around the policy gradient, as functions that compute both sides.

* **Naive swap**: differentiating a sampled return while holding the
  sampled trajectory fixed gives exactly 0, because once the actions are
  chosen the rewards do not depend on θ.  What the swap loses is the score
  term E[G ∇log p(τ)], which is the whole gradient (Williams 1992).
* **Baselines**: Σ_a π(a|s) ∇log π(a|s) b(s) = 0 for every b, so
  Σ_s η(s) Σ_a π (q − b(s)) ∇log π = ∇J for any state baseline (Sutton &
  Barto 2018, §13.4).
* **Performance difference lemma** (Kakade & Langford 2002, Lemma 6.1):
  J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv₀(s, a).
* **Occupancy mass** (Puterman 1994, §6.9): Σ_s η(s) = 1/(1 − γ) when nothing
  terminates.

Each function returns the quantities on both sides (or the vanishing term)
so the tests can assert the identity and users can see how exactly it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._derivatives import approx_jacobian
from .._display import compact_repr
from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP, validate_mdp
from .._policies import Policy
from .._validation import as_real_array, check_memory, first_index, format_index, format_number
from ._theorem import model_and_policy, parameter_point

__all__ = ["OccupancyMass", "PerformanceDifference", "baseline_gradient", "baseline_term",
           "naive_swap_gradient", "occupancy_mass", "performance_difference"]


def _index_array(x: ArrayLike, name: str) -> np.ndarray:
    """Integer indices: real, finite entries with no fractional part, as int64."""
    arr = as_real_array(x, name)
    idx = first_index((arr != np.round(arr)) | (np.abs(arr) > 2.0**53))
    if idx is not None:
        raise ValidationError(f"{format_index(name, idx)} is {format_number(arr[idx])}; expected an integer "
                              "index", argument=name, index=idx, value=float(arr[idx]))
    return arr.astype(np.int64)


def _trajectory_arrays(mdp: MDP, states: ArrayLike, actions: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = _index_array(states, "states")
    a = _index_array(actions, "actions")
    if s.ndim != 2 or a.ndim != 2 or s.shape[0] != a.shape[0] or s.shape[1] < a.shape[1]:
        raise ValidationError(f"states has shape {s.shape} and actions {a.shape}; expected (n, T+1) and "
                              f"(n, T)", argument="actions", value=(s.shape, a.shape))
    for name, arr, hi in (("states", s, mdp.n_states), ("actions", a, mdp.n_actions)):
        idx = first_index((arr < -1) | (arr >= hi))
        if idx is not None:
            raise ValidationError(f"{format_index(name, idx)} is {int(arr[idx])}; expected -1 (padding) or "
                                  f"an index below {hi}", argument=name, index=idx, value=int(arr[idx]))
    return s[:, : a.shape[1]], a


def naive_swap_gradient(mdp: MDP, policy: Policy, theta: ArrayLike, states: ArrayLike,
                        actions: ArrayLike) -> np.ndarray:
    """∇_θ of each sampled discounted return with its trajectory held fixed: exactly 0.

    G(τ) = Σ_t γᵗ r(s_t, a_t) is recomputed from the fixed (s_t, a_t) at the
    complex point θ + ih e_j for every parameter j, and the derivative read
    off as Im G / h.  Nothing in G depends on θ once the actions are fixed, so
    the imaginary part is 0.0 exactly: "∇E[G] = E[∇G]" discards the score term
    E[G ∇log p_θ(τ)], which carries all of ∇J (Williams 1992).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    states : ndarray of int, shape (n, T+1)
        Visited states, −1 after the episode ends (the layout of sampled trajectories).
    actions : ndarray of int, shape (n, T)
        Actions taken, −1 after the end.

    Returns
    -------
    ndarray, shape ``(n, *theta.shape)``
        All zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.gradients import naive_swap_gradient
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> g = naive_swap_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), [[0, 0, 1]], [[0, 1]])
    >>> bool(np.all(g == 0.0)), g.shape
    (True, (1, 2, 2))
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "naive_swap_gradient")
    s, a = _trajectory_arrays(mdp, states, actions)
    check_memory(8.0 * s.shape[0] * theta.size, f"the ({s.shape[0]} x {theta.size}) Jacobian of the returns",
                 "states")
    valid = (s >= 0) & (a >= 0)
    discount = mdp.gamma ** np.arange(a.shape[1])

    def sampled_return(th: np.ndarray) -> np.ndarray:
        # G(τ; θ) for the fixed pairs: θ would enter only through π, which G never reads
        rewards = np.where(valid, mdp.r[np.where(valid, s, 0), np.where(valid, a, 0)], 0.0)
        return (rewards * discount).sum(axis=1).astype(np.result_type(th.dtype, rewards.dtype))

    return approx_jacobian(sampled_return, theta)     # Im G(θ + ih e_j)/h, shape (n, *theta.shape)


def baseline_term(mdp: MDP, policy: Policy, theta: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Σ_s η(s) b(s) Σ_a π(a|s) ∇log π(a|s): zero for every state baseline b.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    b : float or ndarray, shape (S,)

    Returns
    -------
    ndarray, shape theta.shape
        Zero up to rounding (Σ_a ∇π(a|s) = ∇1 = 0).
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "baseline_term")
    b = _baseline(mdp, b)
    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    return policy.log_prob_vjp(theta, (ev.eta * b)[:, None] * ev.pi)


def _baseline(mdp: MDP, b: ArrayLike) -> np.ndarray:
    arr = as_real_array(b, "b")
    if arr.ndim == 0:
        arr = np.broadcast_to(arr, (mdp.n_states,))
    if arr.shape != (mdp.n_states,):
        raise ValidationError(f"b has shape {arr.shape}; expected a number or shape ({mdp.n_states},)",
                              argument="b", value=arr.shape)
    return arr


def baseline_gradient(mdp: MDP, policy: Policy, theta: ArrayLike, b: ArrayLike) -> np.ndarray:
    """The expected update with a state baseline, Σ_s η(s) Σ_a π(a|s)(q(s,a) − b(s)) ∇log π(a|s).

    Equal to ∇J for every b (Sutton & Barto 2018, §13.4, eq. 13.11): the
    baseline changes the variance of sampled updates, never their mean.  For
    the direct parameterisation, whose entries are free, the equality holds in
    the directions that keep every row summing to 1 (row-centred components).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : ndarray, shape policy.param_shape
    b : float or ndarray, shape (S,)

    Returns
    -------
    ndarray, shape theta.shape

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.gradients import baseline_gradient
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> g = baseline_gradient(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), [5.0, -3.0])
    >>> np.round(g * 121, 9).tolist()
    [[-10.0, 10.0], [0.0, 0.0]]
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "baseline_gradient")
    b = _baseline(mdp, b)
    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    return policy.log_prob_vjp(theta, ev.eta[:, None] * ev.pi * (ev.q - b[:, None]))


@dataclass(frozen=True)
class PerformanceDifference:
    """Both sides of J(θ) − J(θ₀) = Σ_s η_θ(s) Σ_a π_θ(a|s) adv₀(s, a).

    Attributes
    ----------
    J, J0 : float
    lhs : float
        J(θ) − J(θ₀).
    rhs : float
        Σ η_θ π_θ adv₀.
    gap : float
        ``|lhs − rhs|``.
    """

    J: float
    J0: float
    lhs: float
    rhs: float
    gap: float

    __repr__ = compact_repr


    def __str__(self) -> str:
        return (f"PerformanceDifference: J(θ) − J(θ₀) = {self.lhs:.10g}, Σ η_θ π_θ adv₀ = {self.rhs:.10g} "
                f"(|difference| {self.gap:.2g})")

def performance_difference(mdp: MDP, policy: Policy, theta: ArrayLike,
                           theta0: ArrayLike) -> PerformanceDifference:
    """The performance difference lemma, both sides (Kakade & Langford 2002, Lemma 6.1).

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta, theta0 : ndarray, shape policy.param_shape

    Returns
    -------
    PerformanceDifference

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.gradients import performance_difference
    >>> mdp = MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> pd = performance_difference(mdp, TabularSoftmax(2, 2), np.array([[0.0, 1.0], [0.0, 0.0]]),
    ...                             np.zeros((2, 2)))
    >>> pd.gap < 1e-15
    True
    """
    mdp, policy = model_and_policy(mdp, policy)
    theta = parameter_point(theta, policy, "performance_difference")
    theta0 = parameter_point(theta0, policy, "performance_difference", name="theta0")
    ev = evaluate(mdp, policy.probabilities(theta), validate=False)
    ev0 = evaluate(mdp, policy.probabilities(theta0), validate=False)
    rhs = float(np.sum(ev.eta[:, None] * ev.pi * ev0.advantage))
    lhs = float(ev.J - ev0.J)
    return PerformanceDifference(J=float(ev.J), J0=float(ev0.J), lhs=lhs, rhs=rhs, gap=abs(lhs - rhs))


@dataclass(frozen=True)
class OccupancyMass:
    """Σ_s η(s), and 1/(1 − γ) when no state is terminal (else None).

    Attributes
    ----------
    total : float
    expected : float or None
    gap : float or None
        ``|total − expected| / expected``.
    """

    total: float
    expected: float | None
    gap: float | None

    __repr__ = compact_repr

    def __str__(self) -> str:
        if self.expected is None:
            return f"OccupancyMass: Σ η = {self.total:.10g} (terminal states: no closed form to compare)"
        return (f"OccupancyMass: Σ η = {self.total:.10g} against 1/(1 − γ) = {self.expected:.10g} "
                f"(relative gap {self.gap:.2g})")


def occupancy_mass(mdp: MDP, pi: ArrayLike) -> OccupancyMass:
    """Σ_s η(s) against 1/(1 − γ) (no terminal states): ηᵀ1 = ρ₀ᵀ(I − γP^π)⁻¹1 = 1/(1 − γ).

    With terminal states Σ η is the expected discounted episode length and no
    closed form is claimed (``expected`` is None).  Reference: Puterman 1994, §6.9.

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
        One row-stochastic table (a batch is refused).

    Returns
    -------
    OccupancyMass

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.gradients import occupancy_mass
    >>> P = np.array([[[0.5, 0.5]], [[0.25, 0.75]]])
    >>> occ = occupancy_mass(MDP(P, [[1.0], [0.0]], gamma=0.75), np.ones((2, 1)))
    >>> occ.expected, occ.gap < 1e-15
    (4.0, True)
    """
    mdp = validate_mdp(mdp)
    pi = as_real_array(pi, "pi", shape=(mdp.n_states, mdp.n_actions))   # one table: Σ η is per policy
    ev = evaluate(mdp, pi)
    total = float(ev.eta.sum())
    if mdp.terminal.any() or mdp.gamma == 1.0:
        return OccupancyMass(total=total, expected=None, gap=None)
    expected = 1.0 / (1.0 - mdp.gamma)
    return OccupancyMass(total=total, expected=expected, gap=abs(total - expected) / expected)
