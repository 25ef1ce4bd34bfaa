"""The PPO clipped-surrogate gradient and group-normalised (GRPO-style) advantages.

PPO (Schulman et al. 2017): episodes from π at θ_old, gradient of the clipped
surrogate at θ.  GRPO (Shao et al. 2024, §4.1): episode returns normalised by
the mean and standard deviation of their group of episodes sharing a start.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from .._errors import ValidationError
from .._model import MDP
from .._policies import Policy, validate_theta
from .._validation import as_real_array, check_integer, check_real, first_index
from ..sampling._sampler import ProtocolOption, Trajectories
from ..surrogates import clip_active_at as clip_active
from ._contract import (
    Estimator,
    ExactModel,
    checked_estimator,
    exact_model,
    returns,
    score_vjp,
    step_weights,
    table_score,
    validate_state_table,
    validate_trajectories,
)
from ._enumeration import MAX_COMBO_TABLE, MAX_COMBOS, enumerate_paths, return_atoms
from ._moments import StepValues, pair_chain, reward_values, step_discount_of, to_go_moments

__all__ = ["grpo_estimator", "ppo_estimator"]

# --------------------------------------------------------------------------- PPO

def ppo_estimator(theta_old: ArrayLike, clip: float, *, advantages: ArrayLike | None = None,
                  values: ArrayLike | None = None) -> Estimator:
    """Gradient of PPO's clipped surrogate at θ ≠ θ_old, episodes sampled from π_θ_old.

    Per episode Σₜ γᵗ ∇_θ min(ρₜÂₜ, clip(ρₜ, 1 − ε, 1 + ε)Âₜ) with ρₜ = π_θ(aₜ|sₜ)/π_old(aₜ|sₜ)
    (Schulman et al. 2017, eq. 7), i.e. γᵗ ρₜ Âₜ ∇log π_θ(aₜ|sₜ) where the clip
    does not bind and 0 where it does ((Â > 0, ρ > 1 + ε) or (Â < 0, ρ < 1 − ε)).

    Âₜ is ``advantages[sₜ, aₜ]`` when a table of shape (S, A) is given (e.g.
    the exact advantage of θ_old), else the sampled Gₜ − b(sₜ) with
    b = ``values`` (a constant or shape (S,); default 0).

    Exact expectation: with a table, Σ_s η_old(s) Σ_a π_θ(a|s) 1[active] Â(s, a) ∇log π_θ
    by one linear solve (finite sums under "horizon").  With sampled Â, where
    the clip can bind the expectation needs E[max(Â, 0) | s, a] or
    E[min(Â, 0) | s, a]: computed from the exact law of the truncated return
    under "horizon" (at most MAX_ATOMS atoms per law); under "terminal" and
    "geometric" it is only available when the clip cannot bind anywhere π_old
    goes (ValidationError otherwise).

    Parameters
    ----------
    theta_old : array_like
        The parameters θ_old that sample the episodes.
    clip : float
        The clipping range ε > 0.
    advantages : array_like, shape (S, A), optional
        A table of advantages Â(s, a) (e.g. the exact advantage of θ_old).
    values : float or array_like, shape (S,), optional
        Without ``advantages``: the baseline b of the sampled Âₜ = Gₜ − b(sₜ) (default 0).

    Examples
    --------
    A bandit with rewards (0, 1), π_old = (½, ½), exact advantages (−½, ½); at
    π_θ = (0.2, 0.8) both ratios (0.4, 1.6) sit where the clip binds:

    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.estimators import ppo_estimator
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> est = ppo_estimator(np.zeros((2, 2)), 0.2, advantages=[[-0.5, 0.5], [0.0, 0.0]])
    >>> theta = np.array([[0.0, np.log(4.0)], [0.0, 0.0]])
    >>> float(np.abs(est.expectation(mdp, TabularSoftmax(2, 2), theta)).max())
    0.0
    """
    th_old = as_real_array(theta_old, "theta_old")
    eps = check_real(clip, "clip", min_value=0.0)
    baseline = 0.0 if values is None else values

    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = validate_trajectories(traj, policy)
        S, A = policy.n_states, policy.n_actions
        st = np.maximum(traj.states[:, :-1].T, 0)
        ac = np.maximum(traj.actions.T, 0)
        pi_new = policy.probabilities(np.asarray(theta, dtype=float))
        pi_old = policy.probabilities(validate_theta(th_old, policy, "theta_old", batch=False))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(pi_old[st, ac] > 0, pi_new[st, ac] / pi_old[st, ac], 0.0)
        if advantages is not None:
            adv = as_real_array(advantages, "advantages", shape=(S, A))[st, ac]
        else:
            adv = returns(traj) - validate_state_table(baseline, "values", S)[st]
        live = np.arange(traj.actions.shape[1])[:, None] < traj.lengths[None, :]
        coef = np.where(live & clip_active(ratio, adv, eps), step_weights(traj) * ratio * adv, 0.0)
        return score_vjp(traj, policy, theta, coef)

    def expectation(mdp: MDP, policy: Policy, theta: ArrayLike, protocol: ProtocolOption = "auto",
                    horizon: int | None = None) -> np.ndarray:
        old = validate_theta(th_old, policy, "theta_old", batch=False)
        m = exact_model(mdp, policy, old, protocol, horizon)
        S, A = mdp.n_states, mdp.n_actions
        pi_new = policy.probabilities(np.asarray(theta, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(m.pi > 0, pi_new / np.where(m.pi > 0, m.pi, 1.0), 0.0)
        inside = (ratio >= 1.0 - eps) & (ratio <= 1.0 + eps)
        if advantages is not None:
            Ahat = as_real_array(advantages, "advantages", shape=(S, A))
            h = np.where(clip_active(ratio, Ahat, eps), Ahat, 0.0)
            if m.protocol == "horizon":
                W = m.horizon_sum(m.gamma, lambda k: ratio * h)
            else:
                W = m.visits(True)[:, None] * m.pi * ratio * h
            return table_score(policy, theta, W)
        b = validate_state_table(baseline, "values", S)
        if m.protocol == "horizon":
            laws = return_atoms(m)

            def h_at(k: int) -> np.ndarray:
                out = np.zeros((S, A))
                for (s, a), (vals, probs) in laws[k].items():
                    x = vals - b[s]
                    if ratio[s, a] > 1.0 + eps:
                        x = np.minimum(x, 0.0)
                    elif ratio[s, a] < 1.0 - eps:
                        x = np.maximum(x, 0.0)
                    out[s, a] = probs @ x
                return ratio * out

            return table_score(policy, theta, m.horizon_sum(m.gamma, h_at))
        eta = m.visits(True)
        binds = first_index((eta[:, None] * m.pi > 0) & ~inside)
        if binds is not None:
            s, a = binds
            raise ValidationError(
                f"the clip binds at (s, a) = ({s}, {a}) (ratio {ratio[s, a]:.6g}); the exact expectation "
                "with sampled advantages needs protocol 'horizon', or pass an advantages table",
                argument="protocol", index=(s, a), value=float(ratio[s, a]))
        return table_score(policy, theta, eta[:, None] * m.pi * ratio * (m.evaluation.q - b[:, None]))

    def second_moment(m: ExactModel, policy: Policy, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        old = validate_theta(th_old, policy, "theta_old", batch=False)
        m_old = exact_model(m.mdp, policy, old, m.protocol, m.horizon)     # episodes come from π_old
        S, A = m.mdp.n_states, m.mdp.n_actions
        pi_new = policy.probabilities(np.asarray(theta, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(m_old.pi > 0, pi_new / np.where(m_old.pi > 0, m_old.pi, 1.0), 0.0)
        d = step_discount_of(m_old)
        zeros = np.zeros(S * A)
        if advantages is not None:      # a fixed table: N = Σₜ wᵗ h(xₜ) e_{xₜ}, the to-go shape with ρ = 0
            Ahat = as_real_array(advantages, "advantages", shape=(S, A))
            h = np.where(clip_active(ratio, Ahat, eps), ratio * Ahat, 0.0).reshape(-1)
            silent = StepValues(cont=np.zeros((S * A, S)), terminal=zeros, cut=np.zeros((S * A, S)),
                                coin=zeros)
            return to_go_moments(pair_chain(m_old, silent), w=d, kappa=0.0, b=-h)
        inside = (ratio >= 1.0 - eps) & (ratio <= 1.0 + eps)
        binds = first_index((m_old.visits(True)[:, None] * m_old.pi > 0) & ~inside)
        if binds is not None:
            s_b, a_b = binds
            raise ValidationError(
                f"the clip can bind at (s, a) = ({s_b}, {a_b}) (ratio {ratio[s_b, a_b]:.6g}), where the "
                "estimate depends on the sign of the sampled advantage: no closed-form second moment; pass "
                "an advantages table, or estimate the covariance by sampling",
                argument="estimator", index=(s_b, a_b), value=float(ratio[s_b, a_b]))
        b = np.repeat(validate_state_table(baseline, "values", S), A)
        return to_go_moments(pair_chain(m_old, reward_values(m_old)), w=d, kappa=d, b=b,
                             phi=ratio.reshape(-1))

    return checked_estimator(f"ppo(clip={eps:g})", estimate, expectation, behaviour_theta=th_old,
                             second_moment=second_moment)


# --------------------------------------------------------------------------- GRPO

def _group_advantages(R: np.ndarray, group_size: int, eps: float) -> np.ndarray:
    """(R − mean_group R) / (std_group R + ε), population std, shape (n,)."""
    g = R.reshape(-1, group_size)
    sd = g.std(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, (g - g.mean(axis=1, keepdims=True)) / (sd + eps), 0.0).ravel()


def grpo_estimator(group_size: int, *, eps: float = 1e-8) -> Estimator:
    """Group-normalised advantages (GRPO-style): Âᵢ Σₜ ∇log π(aₜ|sₜ) for episode i.

    Episodes come in consecutive groups of ``group_size`` sharing one start
    state; Âᵢ = (Rᵢ − mean(R))/(std(R) + ε) over the group (population std),
    Rᵢ = Σₜ γᵗ rₜ (geometric: Σₜ rₜ) (Shao et al. 2024, §4.1.2, outcome
    supervision); Âᵢ = 0 when all returns of the group are equal.  The
    normalisation makes it biased for ∇J in general.

    Exact expectation (s₀ ∼ ρ₀ per group): every episode τ is enumerated with
    its probability, return and visit counts (needs "horizon", or "terminal"
    with episodes ending within MAX_ENUM_STEPS; at most MAX_PATHS episodes);
    then E[Â | R₁ = x] is averaged over all multisets of the other
    group_size − 1 returns (at most MAX_COMBOS).  Beyond these limits
    ValidationError.

    Parameters
    ----------
    group_size : int
        Episodes per group (at least 2), sharing one start state.
    eps : float, optional
        ε added to the group's standard deviation.

    Examples
    --------
    Pairs on a bandit with rewards (0, 1) at π = (½, ½): Â = ±1/(1 + 2ε) when
    the two returns differ, so the expectation is ∇J/(1 + 2ε) ≈ (−¼, ¼).

    >>> import numpy as np
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> from mdpgrad.estimators import grpo_estimator
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> e = grpo_estimator(2).expectation(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)))
    >>> np.round(e, 6).tolist()
    [[-0.25, 0.25], [0.0, 0.0]]
    """
    G = check_integer(group_size, "group_size", min_value=2)
    eps = check_real(eps, "eps", min_value=0.0)

    def estimate(traj: Trajectories, policy: Policy, theta: np.ndarray) -> np.ndarray:
        traj = validate_trajectories(traj, policy)
        n = traj.n_episodes
        if n % G:
            raise ValidationError(f"traj has {n} episodes; expected a multiple of group_size={G}",
                                  argument="traj", value=n)
        s0 = traj.states[:, 0].reshape(-1, G)
        bad = np.flatnonzero((s0 != s0[:, :1]).any(axis=1))
        if bad.size:
            raise ValidationError(f"group {int(bad[0])} does not share one start state: "
                                  f"{s0[bad[0]].tolist()}",
                                  argument="traj", index=(int(bad[0]),), value=s0[bad[0]].tolist())
        R = returns(traj)[0] if traj.actions.shape[1] else np.zeros(n)
        adv = _group_advantages(R, G, eps)
        return score_vjp(traj, policy, theta, np.broadcast_to(adv[None, :], traj.actions.T.shape))

    def expectation(mdp: MDP, policy: Policy, theta: ArrayLike, protocol: ProtocolOption = "auto",
                    horizon: int | None = None) -> np.ndarray:
        m = exact_model(mdp, policy, theta, protocol, horizon)
        paths = enumerate_paths(m)
        W = np.zeros(mdp.n_states * mdp.n_actions)
        for s0 in np.unique(paths.start):
            sel = paths.start == s0
            x, inv = np.unique(paths.ret[sel], return_inverse=True)
            q = np.bincount(inv, weights=paths.prob[sel], minlength=x.size)
            nc = int(np.round(np.exp(gammaln(x.size + G - 1) - gammaln(G) - gammaln(x.size))))
            if nc > MAX_COMBOS or nc * x.size > MAX_COMBO_TABLE:
                raise ValidationError(f"the return of start state {int(s0)} has {x.size} values: "
                                      f"{nc} groups of "
                                      f"partners to enumerate, more than MAX_COMBOS={MAX_COMBOS}",
                                      argument="group_size", value=nc)
            C = np.array(list(itertools.combinations_with_replacement(range(x.size), G - 1)), dtype=np.intp)
            C = C.reshape(-1, G - 1)
            mult = np.zeros((C.shape[0], x.size))
            np.add.at(mult, (np.repeat(np.arange(C.shape[0]), G - 1), C.ravel()), 1.0)
            with np.errstate(divide="ignore"):
                logp = (gammaln(G) - gammaln(mult + 1).sum(axis=1)
                        + (mult * np.log(q)).sum(axis=1, where=mult > 0))
            pc = np.exp(logp)
            so, so2 = x[C].sum(axis=1), (x[C] ** 2).sum(axis=1)
            mean = (x[:, None] + so[None, :]) / G
            var = ((x[:, None] - mean) ** 2 + so2[None, :] - 2 * mean * so[None, :]
                   + (G - 1) * mean ** 2) / G
            sd = np.sqrt(np.maximum(var, 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                A_hat = np.where(sd > 0, (x[:, None] - mean) / (sd + eps), 0.0)
            g = A_hat @ pc                                      # E[Â | R₁ = x], shape (n_atoms,)
            W += mdp.rho0[s0] * ((paths.prob[sel] * g[inv]) @ paths.counts[sel])
        return table_score(policy, theta, W.reshape(mdp.n_states, mdp.n_actions))

    return checked_estimator(f"grpo(group_size={G})", estimate, expectation, group_size=G)
