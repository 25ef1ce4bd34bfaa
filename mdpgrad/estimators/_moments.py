"""Exact second moments of one episode's gradient estimate, by linear algebra on the pair chain.

What it computes
----------------
Every estimator of the REINFORCE family is a score-weighted sum
ĝ = Σ_{x} N_x ∇log π(x) over state-action pairs x = (s, a), where N is the
episode's weight table (what :func:`score_vjp` builds).  So E[ĝ] = Ψᵀ E[N] and
E[ĝĝᵀ] = Ψᵀ E[N Nᵀ] Ψ with Ψ the (S·A, d) score matrix: it is enough to know
the first two moments of N, which this module computes exactly.  Two shapes of
weight table cover the library's estimators:

* **to go**: N = Σ_t wᵗ φ(x_t) e_{x_t} (Y_t − b(s_t)),  Y_t = Σ_{k≥t} κ^{k−t} ρ_k
  (REINFORCE with w = d or without γᵗ with w = 1, κ = d; a state baseline b;
  GAE(λ) with κ = dλ and ρ_k = δ_k; PPO-clip where its clip cannot bind, with
  φ the probability ratio);
* **whole**: N = Σ_t wᵗ e_{x_t} (G₀ − b(s_t)),  G₀ = Σ_k d^k ρ_k (Williams's
  whole-return REINFORCE);
* and N = Σ_t wᵗ h(x_t) e_{x_t} for a fixed table h (PPO with a table of
  advantages), the "to go" shape with ρ = 0 and b = −h.

Here d is the discount of the returns (γ under "terminal" and "horizon", 1 under
"geometric", whose stop carries the discount) and ρ_k is the reward of step k
(or GAE's δ_k, which also depends on the next state and on how the episode
ends).

Derivation
----------
The pairs form a sub-stochastic chain K(x, x') = c·P(s'|x)·keep(s')·π(a'|s')
(c = γ under "geometric", else 1; keep = 0 on terminal states; under "horizon"
the pairs are augmented with the time τ < H, so that K is the shift to the next
layer and the last layer only stops).  Write R_δ = (I − δK)⁻¹ = Σ_L δ^L K^L,
μ₀(x) = ρ₀(s)keep(s)π(a|s), K_ρ(x, x') = K(x, x')ρ(x, s') and K_{ρ²} likewise,
ρ̄(x) and ρ̄₂(x) the expected ρ and ρ² of the step taken from x (stops
included).  The return-like sums from x obey Y = ρ + κY' (Y' = 0 after a stop),
hence (Sobel 1982, Theorem 1, for κ = γ)

    m₁ = E[Y | x] = R_κ ρ̄,    m₂ = E[Y² | x] = R_{κ²} (ρ̄₂ + 2κ K_ρ m₁).

*To go.*  Split Σ_{t,t'} into t = t', t < t' and its transpose.  With
ν = μ₀ᵀR_{w²} (the w²-discounted pair occupancy), and for t < t' the decomposition
Y_t = Σ_{t≤k<t'} κ^{k−t}ρ_k + κ^{t'−t}Y_{t'} (the future after t' is independent
of the past given x_{t'}), every term is a product of resolvents whose per-step
discount is the product of the factors still "open" (w before t', κ before k):

    E[NNᵀ] = D + O + Oᵀ,  D = diag(ν (m₂ − 2b m₁ + b²)),
    O = diag(ν) [R_{wκ} (wK_ρ) R_w diag(m₁ − b) + (R_{wκ} − I) diag(m₂ − b m₁)]
        − diag(ν b) (R_w − I) diag(m₁ − b),

and E[N] = (μ₀ᵀR_w) ⊙ (m₁ − b); a left multiplier φ gives diag(φ) E[NNᵀ] diag(φ).

*Whole.*  N = G₀Z − B with Z = Σ_t wᵗ e_{x_t}, B = Σ_t wᵗ b e_{x_t}.  For two
events t ≤ t' split G₀ = U + V + W into the rewards before t, between t and t',
and from t' on.  Given x_t and x_{t'} the three are independent, so each
monomial U^a V^b W^c (a + b + c ≤ 2) factors into a forward vector
A_{a;q}(x) = Σ_t w^{2t} d^{qt} E[U_t^a 1[x_t = x]] (q = b + c), a middle transfer
T_{b,c} (per-step discount w·d^c, the b-th moment of V/d^t) and the end moment
E[(W/d^{t'})^c | x_{t'}] = m_c with κ = d:

    A_{0;q} = (I − w²d^q Kᵀ)⁻¹ μ₀,
    A_{a;q} = (I − w²d^q Kᵀ)⁻¹ w²d^q Σ_{j=1..a} C(a, j) K_{ρʲ}ᵀ A_{a−j; q+j},
    T_{0,c} = R_{wd^c} − I,   T_{1,c} = R_{wd^{c+1}} (wd^c K_ρ) R_{wd^c},
    T_{2,c} = R_{wd^{c+2}} (wd^c K_{ρ²}) R_{wd^c}
              + 2 R_{wd^{c+2}} (wd^{c+1} K_ρ) R_{wd^{c+1}} (wd^c K_ρ) R_{wd^c}.

The tests check both shapes three ways: against every episode enumerated with
its probability on acyclic models (and under a horizon), against the sample
covariance of many sampled episodes, and E[N] against each estimator's own
exact expectation.

Size: K is dense of side n = S·A (times H under "horizon"); the cost is a few
LU factorisations and products of n × n matrices, O(n³).  Above
``MAX_PAIRS`` the request is refused with the memory it would need.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from math import comb

import numpy as np
import scipy.linalg as sla
from numpy.typing import ArrayLike

from .._display import compact_repr
from .._errors import ValidationError
from .._model import MDP
from .._policies import Policy, validate_theta
from .._progress import Progress, reporter
from .._validation import as_real_array, check_instance, check_integer, check_memory, check_real, format_count
from ..gradients._theorem import model_and_policy
from ..sampling._sampler import ProtocolOption
from ..variance import finite_or_refuse, score_matrix
from ._contract import Estimator, ExactModel, exact_model

__all__ = ["MAX_PAIRS", "BaselineVariances", "EstimatorMoments", "PairChain", "StepValues",
           "baseline_variances", "estimator_moments", "pair_chain", "reward_values", "step_discount_of",
           "to_go_moments", "whole_moments"]

#: Largest condition number κ₁(I − δK) accepted for a resolvent: the moments are then accurate to about
#: κ·u ≈ 1e9 · 1.1e-16 ≈ 1e-7 relative (measured on the corridor at γ = 1, where κ ≈ E[T]: relative error
#: 6e-11 at E[T] = 4·10⁵, 4e-7 at 10⁹, 1e-2 at 4·10¹³), so every digit a test compares to 1e-6 is sound.
MAX_RESOLVENT_CONDITION = 1e9

#: A covariance whose smallest eigenvalue is below −PSD_RTOL·(largest) is not positive semidefinite
#: beyond rounding (a d × d product of resolvents rounds at ≈ d·κ·u ≤ 1e-6 of its scale): refused.
PSD_RTOL = 1e-6

#: Largest pair chain (S·A, times H under "horizon") handled densely: about a dozen n × n float64
#: matrices are alive at once, 12·8·n² bytes = 2.4 GB at n = 5000.
MAX_PAIRS = 5000


@dataclass(frozen=True)
class StepValues:
    """What a step from pair x pays, by how the episode goes on.

    ``cont[x, s']`` when it continues to the non-terminal state s';
    ``terminal[x]`` when s' is terminal; ``cut[x, s']`` when the horizon ends
    it after this action in a non-terminal s'; ``coin[x]`` when the geometric
    stop ends it.  Each (S·A,) or (S·A, S).
    """

    cont: np.ndarray
    terminal: np.ndarray
    cut: np.ndarray
    coin: np.ndarray


@dataclass(frozen=True)
class PairChain:
    """The pair chain of one protocol, with the per-step values of an estimator.

    n pairs (x = s·A + a, or τ·S·A + x under "horizon").  ``K`` (n, n)
    continuing transitions; ``K_rho``, ``K_rho2`` the same weighted by ρ and
    ρ²; ``rho1``, ``rho2`` the expected ρ and ρ² of the step from x, stops
    included; ``mu0`` the first pair; ``layers`` H (1 without a horizon).
    """

    K: np.ndarray
    K_rho: np.ndarray
    K_rho2: np.ndarray
    rho1: np.ndarray
    rho2: np.ndarray
    mu0: np.ndarray
    layers: int

    @property
    def n(self) -> int:
        return int(self.K.shape[0])


def pair_chain(m: ExactModel, values: StepValues) -> PairChain:
    """The (possibly time-augmented) pair chain of π under ``m.protocol`` with step values ``values``."""
    mdp = m.mdp
    S, A = mdp.n_states, mdp.n_actions
    n0 = S * A
    H = m.H if m.protocol == "horizon" else 1
    n = n0 * H
    if n > MAX_PAIRS:
        size = (f"{format_count(n)} (time step, state, action) triples ({H} time steps × {format_count(n0)} "
                "state-action pairs)" if H > 1 else f"{format_count(n)} state-action pairs")
        raise ValidationError(
            f"the exact second moment needs the chain of {size} as dense matrices (about "
            f"{12 * 8 * n * n / 2**30:.1f} GiB); at most {MAX_PAIRS} are handled: estimate the covariance "
            "by sampling instead", argument="mdp", value=n)
    check_memory(12 * 8 * n * n, "the exact second moment of an estimator", "mdp")
    P = np.asarray(mdp.P_dense(), dtype=float).reshape(n0, S)
    keep = m.keep
    c = m.gamma if m.protocol == "geometric" else 1.0
    go = c * P * keep[None, :]                       # continue to s'
    end_t = c * P * (1.0 - keep)[None, :]            # reach a terminal s'
    coin = (1.0 - c) * np.ones(n0)                   # geometric stop

    def expand(W: np.ndarray) -> np.ndarray:        # (n0, S) over next states -> (n0, n0) over next pairs
        return (W[:, :, None] * m.pi[None, :, :]).reshape(n0, n0)

    K0 = expand(go)
    Kr0 = expand(go * values.cont)
    Kr20 = expand(go * values.cont ** 2)
    ends = end_t.sum(axis=1)
    last1 = ends * values.terminal + coin * values.coin
    last2 = ends * values.terminal ** 2 + coin * values.coin ** 2
    rho1_in = (go * values.cont).sum(axis=1) + last1
    rho2_in = (go * values.cont ** 2).sum(axis=1) + last2
    rho1_cut = (go * values.cut).sum(axis=1) + last1
    rho2_cut = (go * values.cut ** 2).sum(axis=1) + last2
    mu0_0 = ((mdp.rho0 * keep)[:, None] * m.pi).reshape(n0)
    if H == 1:
        return PairChain(K0, Kr0, Kr20, rho1_in, rho2_in, mu0_0, 1)
    K = np.zeros((n, n))
    K_rho = np.zeros((n, n))
    K_rho2 = np.zeros((n, n))
    for tau in range(H - 1):
        rows, cols = slice(tau * n0, (tau + 1) * n0), slice((tau + 1) * n0, (tau + 2) * n0)
        K[rows, cols], K_rho[rows, cols], K_rho2[rows, cols] = K0, Kr0, Kr20
    rho1 = np.concatenate([rho1_in] * (H - 1) + [rho1_cut])
    rho2 = np.concatenate([rho2_in] * (H - 1) + [rho2_cut])
    mu0 = np.concatenate([mu0_0, np.zeros(n - n0)])
    return PairChain(K, K_rho, K_rho2, rho1, rho2, mu0, H)


class _Resolvents:
    """R_δ = (I − δK)⁻¹ applied to matrices and vectors, one LU factorisation per δ.

    Each factorisation estimates its 1-norm condition number κ₁(I − δK) (LAPACK ``gecon``, O(n²)
    on the LU factors; Higham 2002, §15.3) and refuses one above ``MAX_RESOLVENT_CONDITION``:
    the solves then lose more than κ·u ≈ 2e-7 of relative accuracy and the moments, which subtract
    products of them, can lose everything (γ = 1 with E[T] ≈ 10¹⁶ gives a negative variance).
    """

    def __init__(self, K: np.ndarray) -> None:
        self.K = K
        self._lu: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self._inverse: dict[float, np.ndarray] = {}

    def _factor(self, delta: float) -> tuple[np.ndarray, np.ndarray]:
        if delta not in self._lu:
            M = np.eye(self.K.shape[0]) - delta * self.K
            anorm = float(np.max(np.abs(M).sum(axis=0), initial=0.0))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sla.LinAlgWarning)     # a singular pivot: refused below
                lu = sla.lu_factor(M, check_finite=False)
            rcond = 0.0
            if np.all(np.isfinite(lu[0])) and np.all(np.diag(lu[0]) != 0.0):
                rcond = float(sla.lapack.dgecon(lu[0], anorm, norm="1")[0])
            if not rcond * MAX_RESOLVENT_CONDITION >= 1.0:
                cond = "inf" if rcond == 0.0 else f"{1.0 / rcond:.2g}"
                raise ValidationError(
                    f"I - {delta:g}·K over the state-action pairs has condition number {cond} > "
                    f"{MAX_RESOLVENT_CONDITION:.0e}: episodes this long (expected length of the order of "
                    "the condition number) leave the exact moments without a correct digit in float64",
                    argument="theta", value=cond)
            self._lu[delta] = lu
        return self._lu[delta]

    def left(self, delta: float, X: np.ndarray) -> np.ndarray:
        """R_δ X."""
        return X.copy() if delta == 0.0 else sla.lu_solve(self._factor(delta), X, check_finite=False)

    def left_t(self, delta: float, X: np.ndarray) -> np.ndarray:
        """R_δᵀ X."""
        return X.copy() if delta == 0.0 else sla.lu_solve(self._factor(delta), X, trans=1,
                                                          check_finite=False)

    def matrix(self, delta: float) -> np.ndarray:
        """R_δ itself (computed once per δ; callers do not modify it)."""
        if delta not in self._inverse:
            self._inverse[delta] = self.left(delta, np.eye(self.K.shape[0]))
        return self._inverse[delta]


def _return_moments(R: _Resolvents, chain: PairChain, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    """m₁ = E[Y | x] = R_κ ρ̄ and m₂ = E[Y² | x] = R_{κ²}(ρ̄₂ + 2κ K_ρ m₁) for Y = ρ + κY' (module notes)."""
    m1 = R.left(kappa, chain.rho1)
    return m1, R.left(kappa * kappa, chain.rho2 + 2.0 * kappa * (chain.K_rho @ m1))


def _fold(chain: PairChain, mean: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the time layers of an augmented chain: N_x = Σ_τ N_(τ, x)."""
    H = chain.layers
    if H == 1:
        return mean, second
    n0 = chain.n // H
    return (mean.reshape(H, n0).sum(axis=0),
            second.reshape(H, n0, H, n0).sum(axis=(0, 2)))


def to_go_moments(chain: PairChain, *, w: float, kappa: float, b: np.ndarray,
                  phi: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """E[N] and E[N Nᵀ] for N = Σ_t wᵗ φ(x_t) e_{x_t}(Y_t − b(x_t)), Y_t = Σ_{k≥t} κ^{k−t}ρ_k.

    ``b`` and ``phi`` are per pair of the base chain (S·A,), repeated over the
    time layers here.  Returns the folded (S·A,) and (S·A, S·A) moments.
    """
    R = _Resolvents(chain.K)
    H = chain.layers
    bb = np.tile(b, H)
    m1, m2 = _return_moments(R, chain, kappa)
    nu = R.left_t(w * w, chain.mu0)
    nu1 = R.left_t(w, chain.mu0)
    future = m1 - bb
    Rw = R.matrix(w)
    O = (R.left(w * kappa, w * chain.K_rho) @ (Rw * future[None, :])
         + (R.matrix(w * kappa) - np.eye(chain.n)) * (m2 - bb * m1)[None, :])
    O = nu[:, None] * O - (nu * bb)[:, None] * ((Rw - np.eye(chain.n)) * future[None, :])
    second = O + O.T
    second[np.diag_indices_from(second)] += nu * (m2 - 2.0 * bb * m1 + bb * bb)
    mean, second = _fold(chain, nu1 * future, second)
    if phi is not None:
        mean = phi * mean
        second = phi[:, None] * second * phi[None, :]
    return mean, second


def whole_moments(chain: PairChain, *, w: float, d: float, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[N] and E[N Nᵀ] for N = Σ_t wᵗ e_{x_t}(G₀ − b(x_t)), G₀ = Σ_k d^k ρ_k (see the module notes)."""
    R = _Resolvents(chain.K)
    n = chain.n
    bb = np.tile(b, chain.layers)
    I = np.eye(n)
    K_pow = {1: chain.K_rho, 2: chain.K_rho2}
    E = dict(enumerate((np.ones(n), *_return_moments(R, chain, d))))

    cache: dict[tuple[int, int, float], np.ndarray] = {}

    def forward(a: int, q: int, omega: float) -> np.ndarray:
        """Σ_t ωᵗ d^{qt} E[U_t^a 1[x_t = x]] (ω = w² for pairs of events, w for one)."""
        key = (a, q, omega)
        if key not in cache:
            step = omega * d ** q
            if a == 0:
                rhs = chain.mu0
            else:
                rhs = step * sum(comb(a, j) * (K_pow[j].T @ forward(a - j, q + j, omega))
                                 for j in range(1, a + 1))
            cache[key] = R.left_t(step, rhs)
        return cache[key]

    @functools.cache
    def middle(bm: int, c: int) -> np.ndarray:
        """T_{b,c}: Σ_{L≥1} over the steps between two events, per-step w·d^c, b-th moment of V/dᵗ."""
        s = w * d ** c
        if bm == 0:
            return R.matrix(s) - I
        if bm == 1:
            return R.left(s * d, s * chain.K_rho) @ R.matrix(s)
        first = R.left(s * d * d, s * chain.K_rho2) @ R.matrix(s)
        second = R.left(s * d * d, s * d * chain.K_rho) @ R.left(s * d, s * chain.K_rho) @ R.matrix(s)
        return first + 2.0 * second

    def ordered(total: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Σ_{t<t'} over monomials of G₀ of degree ``total``: left value at t, right value at t'."""
        out = np.zeros((n, n))
        for a in range(total + 1):
            for bm in range(total - a + 1):
                c = total - a - bm
                coef = comb(total, a) * comb(total - a, bm)
                A = forward(a, bm + c, w * w)
                out += coef * ((A * left)[:, None] * middle(bm, c) * (E[c] * right)[None, :])
        return out

    def same_time(total: int) -> np.ndarray:
        """Σ_t w^{2t} E[G₀^total 1[x_t = x]] (U and W only)."""
        return sum(comb(total, a) * forward(a, total - a, w * w) * E[total - a] for a in range(total + 1))

    ones = np.ones(n)
    g2zz = ordered(2, ones, ones)
    g2zz = g2zz + g2zz.T
    g2zz[np.diag_indices(n)] += same_time(2)
    gzb = ordered(1, ones, bb) + ordered(1, bb, ones).T
    gzb[np.diag_indices(n)] += bb * same_time(1)
    nu = forward(0, 0, w * w)
    bbt = (nu * bb)[:, None] * ((R.matrix(w) - I) * bb[None, :])
    bbt = bbt + bbt.T
    bbt[np.diag_indices(n)] += nu * bb * bb
    second = g2zz - gzb - gzb.T + bbt
    mean = forward(1, 0, w) + forward(0, 1, w) * E[1] - forward(0, 0, w) * bb
    return _fold(chain, mean, second)


# --------------------------------------------------------------------------- the public side

@dataclass(frozen=True, eq=False)
class EstimatorMoments:
    """The exact first and second moments of one episode's estimate ĝ.

    Attributes
    ----------
    mean : ndarray, shape param_shape
        E[ĝ] (equal to the estimator's ``expectation``).
    second_moment : ndarray, shape (d, d)
        E[ĝ ĝᵀ], d = prod(param_shape), parameters flattened in C order.
    covariance : ndarray, shape (d, d)
        Cov[ĝ] = E[ĝ ĝᵀ] − E[ĝ] E[ĝ]ᵀ.
    protocol : {"terminal", "horizon", "geometric"}
    horizon : int or None
    """

    mean: np.ndarray
    second_moment: np.ndarray
    covariance: np.ndarray
    protocol: str
    horizon: int | None

    __repr__ = compact_repr

    @property
    def total_variance(self) -> float:
        """tr Cov[ĝ], the expected squared distance of one estimate from its mean."""
        return float(np.trace(self.covariance))

    @property
    def snr(self) -> float:
        """Signal-to-noise ratio ‖E ĝ‖ / √tr Cov[ĝ] of one episode (∞ for a noiseless non-zero mean)."""
        signal = float(np.linalg.norm(self.mean))
        noise = float(np.sqrt(max(self.total_variance, 0.0)))
        if noise == 0.0:
            return np.inf if signal > 0.0 else 0.0
        return signal / noise

    def __str__(self) -> str:
        return (f"EstimatorMoments: exact, {self.mean.size} parameter(s), protocol={self.protocol}"
                + (f", horizon={self.horizon}" if self.horizon is not None else "")
                + f" — |E g| = {np.linalg.norm(self.mean):.4g}, tr Cov = {self.total_variance:.4g}, "
                  f"snr = {self.snr:.3g}")

    def standard_error(self, n_episodes: int) -> np.ndarray:
        """The exact standard error of the mean of n episodes, per parameter, shape param_shape."""
        n = check_integer(n_episodes, "n_episodes", min_value=1)
        var = np.clip(np.diag(self.covariance), 0.0, None)
        return np.sqrt(var / n).reshape(self.mean.shape)


def estimator_moments(mdp: MDP, policy: Policy, theta: ArrayLike, estimator: Estimator, *,
                      protocol: ProtocolOption = "auto", horizon: int | None = None,
                      progress: Progress = None) -> EstimatorMoments:
    """The exact mean and covariance of one episode's estimate, without sampling.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : array_like, shape policy.param_shape
    estimator : Estimator
        One of the library's estimators whose weight table has a closed-form
        second moment: REINFORCE with or without γᵗ, whole-return REINFORCE, a
        state baseline (any fixed table, e.g. the exact v), GAE(λ) with a fixed
        value table, and PPO-clip with an advantage table (or with sampled
        advantages where the clip cannot bind).
    protocol, horizon
        As for :func:`mdpgrad.sample`.
    progress : None, bool or callable
        Progress in 3 stages (the exact model, the estimator's moments, the covariance): True for a
        bar (tqdm) or log messages, a callable (done, total, message), or None (default: DEBUG
        messages on the ``"mdpgrad"`` logger).

    Returns
    -------
    EstimatorMoments

    Raises
    ------
    ValidationError
        For an estimator without a closed form (argument ``"estimator"``: a
        hand-written estimator, GRPO's group-normalised advantages, PPO-clip
        where the clip binds with sampled advantages), and for a model whose
        pair chain is larger than ``MAX_PAIRS`` (argument ``"mdp"``, with
        the memory it would need) or whose moments overflow float64 (rewards
        of 1e155 and more; argument ``"mdp"``); for a resolvent whose
        condition number exceeds ``MAX_RESOLVENT_CONDITION`` (γ = 1 with
        very long episodes) or a covariance that comes out negative beyond
        rounding (``PSD_RTOL``; argument ``"theta"``).  Every moment
        returned is finite and its covariance positive semidefinite to
        within PSD_RTOL of the largest second moment.
    NonTerminatingPolicyError
        Under ``"terminal"`` when π never terminates from a reachable state
        (the check of :func:`mdpgrad.evaluate`).

    Examples
    --------
    One decision between rewards 0 and 1 under π = (½, ½): with probability ½
    the action is 1 and ĝ[0] = 1·(e₁ − π) = (−½, ½), otherwise ĝ = 0.  So
    E ĝ[0] = (−¼, ¼) and Var ĝ[0, 0] = ½·¼ − (¼)² = 1/16:

    >>> import numpy as np
    >>> from mdpgrad.estimators import estimator_moments, reinforce_estimator
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> mom = estimator_moments(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)), reinforce_estimator())
    >>> mom.mean[0].tolist(), mom.covariance[:2, :2].tolist()
    ([-0.25, 0.25], [[0.0625, -0.0625], [-0.0625, 0.0625]])
    """
    mdp, policy = model_and_policy(mdp, policy)
    th = validate_theta(theta, policy, batch=False)
    check_instance(estimator, Estimator, "estimator", "an mdpgrad Estimator")
    if estimator.second_moment is None:
        raise ValidationError(
            f"estimator {estimator.name!r} has no closed-form second moment (hand-written estimators, "
            "GRPO's group-normalised advantages); estimate its covariance by sampling",
            argument="estimator", value=estimator.name)
    rep = reporter(progress, 3, f"exact moments of {estimator.name!r}")
    m = exact_model(mdp, policy, th, protocol, horizon)
    check_terminates(m)
    rep.update(1, f"exact model ({m.protocol})")
    with np.errstate(over="ignore", invalid="ignore"):     # an overflow is refused below, with its cause
        EN, ENN = estimator.second_moment(m, policy, th)
        rep.update(2, "E[N] and E[N Nᵀ] over state-action pairs")
        Psi = score_matrix(policy, th, m.pi > 0)           # N is 0 on pairs π never takes: no score there
        mean = Psi.T @ EN
        second = Psi.T @ ENN @ Psi
        second = 0.5 * (second + second.T)
        cov = second - np.outer(mean, mean)
    finite_or_refuse(mdp, cov, mean)
    check_psd(cov, second)
    rep.finish()
    return EstimatorMoments(mean=mean.reshape(policy.param_shape), second_moment=second, covariance=cov,
                            protocol=m.protocol, horizon=m.horizon)


def check_terminates(m: ExactModel) -> None:
    """Under "terminal", π must reach a terminal state: the check (and error) of :func:`mdpgrad.evaluate`.

    Raises
    ------
    NonTerminatingPolicyError
        When some reachable state never terminates under π (γ = 1); the moments would be infinite.
    """
    if m.protocol == "terminal":
        m.evaluation                                   # noqa: B018 - evaluating π runs the termination check


def check_psd(cov: np.ndarray, second: np.ndarray) -> None:
    """Refuse a covariance with an eigenvalue below −PSD_RTOL·λ_max(E[ĝĝᵀ]) (rounding scale)."""
    if cov.size == 0:
        return
    scale = float(np.max(np.linalg.eigvalsh(second), initial=0.0))
    low = float(np.linalg.eigvalsh(cov)[0])
    if low < -PSD_RTOL * scale:
        raise ValidationError(
            f"the computed covariance has eigenvalue {low:.3g} < 0 (largest second moment {scale:.3g}): "
            "the linear algebra lost its accuracy (episodes too long or probabilities too close to 0)",
            argument="theta", value=low)


def step_discount_of(m: ExactModel) -> float:
    """d: γ for the returns and the γᵗ weights, 1 under "geometric" (its stop carries the discount)."""
    return 1.0 if m.protocol == "geometric" else m.gamma


def reward_values(m: ExactModel) -> StepValues:
    """Step values of plain rewards: r(x) however the episode goes on."""
    S = m.mdp.n_states
    r = m.mdp.r.reshape(-1)
    wide = np.repeat(r[:, None], S, axis=1)
    return StepValues(cont=wide, terminal=r, cut=wide, coin=r)


# --------------------------------------------------------------------------- baselines

@dataclass(frozen=True, eq=False)
class BaselineVariances:
    """tr Cov[ĝ] of REINFORCE Σₜ dᵗ (Gₜ − b(sₜ)) ∇log π for the baselines that matter, exactly.

    tr Cov is a quadratic function of the table b (the mean does not depend on b), stored as
    tr Cov(b) = ``offset`` + ``linear``·b + bᵀ ``quadratic`` b, from which the optimal baselines follow.

    Attributes
    ----------
    none : float
        No baseline.
    value : float
        b = v^π, the exact state values (:func:`value_baseline`) of the *infinite-horizon* objective,
        whatever the protocol: under ``"horizon"`` they are not the values of the truncated returns
        and can be worse than no baseline (two-state model, H = 5: 35.2 against 14.3); ``state``
        is the best table for that protocol.
    constant : float
        The best constant baseline, ``constant_baseline``.
    constant_baseline : float
    state : float
        The best state baseline, ``state_baseline`` (minimum-norm where a state is never visited).
    state_baseline : ndarray, shape (S,)
    offset, linear, quadratic
        The quadratic form (shapes (), (S,), (S, S)).
    """

    none: float
    value: float
    constant: float
    constant_baseline: float
    state: float
    state_baseline: np.ndarray
    offset: float
    linear: np.ndarray
    quadratic: np.ndarray

    __repr__ = compact_repr

    def __str__(self) -> str:
        return (f"BaselineVariances: tr Cov with no baseline {self.none:.4g}, v {self.value:.4g}, "
                f"best constant {self.constant:.4g} (b = {self.constant_baseline:.4g}), "
                f"best state table {self.state:.4g}")

    def variance(self, b: ArrayLike) -> float:
        """tr Cov[ĝ] with the baseline ``b`` (a number or a table of shape (S,))."""
        S = self.linear.shape[0]
        arr = (np.full(S, check_real(b, "b")) if np.ndim(b) == 0 else as_real_array(b, "b", shape=(S,)))
        return float(self.offset + self.linear @ arr + arr @ self.quadratic @ arr)


@np.errstate(over="ignore", invalid="ignore")                 # an overflow is refused, with its cause
def baseline_variances(mdp: MDP, policy: Policy, theta: ArrayLike, *, protocol: ProtocolOption = "auto",
                       horizon: int | None = None) -> BaselineVariances:
    """Exact tr Cov[ĝ] of REINFORCE with no baseline, with v, and with the best constant and state baselines.

    The estimate is Σₜ dᵗ (Gₜ − b(sₜ)) ∇log π(aₜ|sₜ) (:func:`baseline_estimator`).  Its mean does
    not depend on b (Σ_a π ∇log π = 0), and its second moment, traced with the Gram matrix ΨΨᵀ of
    the scores, is a quadratic form in b read off the to-go formula (module notes): the terms of
    D and O that hold b once or twice.  The best baselines minimise it: b* = −½ K⁺ l over states,
    c* = −(1ᵀl) / (2·1ᵀK1) for a constant — the exact versions of the variance-optimal baselines
    of Weaver & Tao (2001) and Greensmith, Bartlett & Baxter (2004, §4), for the whole
    episode's estimate and the total variance tr Cov.

    Parameters
    ----------
    mdp : MDP
    policy : Policy
    theta : array_like
        The parameters, shape ``policy.param_shape``.
    protocol, horizon
        How episodes end, as in :func:`estimator_moments`.

    Raises
    ------
    ValidationError
        As :func:`estimator_moments`.

    Examples
    --------
    The one-decision bandit with rewards (0, 1) under π = (½, ½): the best constant baseline is
    the mean reward ½, and it removes all the variance, since both actions then give the same
    estimate (G − ½)(e_a − π) = (−¼, ¼):

    >>> import numpy as np
    >>> from mdpgrad.estimators import baseline_variances
    >>> from mdpgrad import MDP, TabularSoftmax
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> bv = baseline_variances(mdp, TabularSoftmax(2, 2), np.zeros((2, 2)))
    >>> round(bv.none, 12), round(bv.constant_baseline, 12), round(bv.constant, 12)
    (0.125, 0.5, 0.0)
    """
    mdp, policy = model_and_policy(mdp, policy)
    th = validate_theta(theta, policy, batch=False)
    m = exact_model(mdp, policy, th, protocol, horizon)
    check_terminates(m)
    S, A = mdp.n_states, mdp.n_actions
    chain = pair_chain(m, reward_values(m))
    H = chain.layers
    d = step_discount_of(m)
    w = kappa = d
    Psi = score_matrix(policy, th, m.pi > 0)
    G = np.tile(Psi @ Psi.T, (H, H))
    R = _Resolvents(chain.K)
    I = np.eye(chain.n)
    m1, m2 = _return_moments(R, chain, kappa)
    nu = R.left_t(w * w, chain.mu0)
    mean = Psi.T @ _fold(chain, R.left_t(w, chain.mu0) * m1, np.zeros((chain.n, chain.n)))[0]
    X = R.left(w * kappa, w * chain.K_rho) @ R.matrix(w)
    Y = R.matrix(w * kappa) - I
    Z = R.matrix(w) - I
    gnu = np.diag(G) * nu
    alpha = ((nu[:, None] * X) * G).sum(axis=0)
    beta = ((nu[:, None] * Y) * G).sum(axis=0)
    M = nu[:, None] * Z * G
    offset = float(gnu @ m2 + 2.0 * alpha @ m1 + 2.0 * beta @ m2 - mean @ mean)
    L = -2.0 * gnu * m1 - 2.0 * alpha - 2.0 * beta * m1 - 2.0 * (M @ m1)
    Qb = np.diag(gnu) + M + M.T
    E = np.tile(np.repeat(np.eye(S), A, axis=0), (H, 1))            # pair (τ, s, a) -> state s
    lin = E.T @ L
    quad = E.T @ Qb @ E
    quad = 0.5 * (quad + quad.T)

    def f(b: np.ndarray) -> float:
        return float(offset + lin @ b + b @ quad @ b)

    ones = np.ones(S)
    denom = float(ones @ quad @ ones)
    c_star = -float(ones @ lin) / (2.0 * denom) if denom > 0 else 0.0
    finite_or_refuse(mdp, np.array([offset]), lin, quad)
    b_star = -0.5 * (np.linalg.pinv(quad, rcond=1e-12, hermitian=True) @ lin)
    return BaselineVariances(none=f(np.zeros(S)), value=f(m.evaluation.v), constant=f(c_star * ones),
                             constant_baseline=c_star, state=f(b_star), state_baseline=b_star, offset=offset,
                             linear=lin, quadratic=quad)
