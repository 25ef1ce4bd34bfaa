"""mdpgrad.symbolic: the numeric API on exact sympy objects, with proofs.

The same names and argument order as the numeric toolkit (``MDP``,
``evaluate``, ``objective``, ``policy_gradient``, ``td_update``, ...), on
models whose P, r, γ, ρ₀ are sympy Rationals or symbols and policies over
symbol vectors θ.  Results are immutable sympy matrices in frozen dataclasses;
``sympy.latex`` of any of them (or their ``latex()`` method) gives classroom
output.

How it is fast: with z = exp θ a positive symbol, every quantity is a rational
function of the symbols, computed in sympy's fraction field ℚ(symbols), where
a reduced quotient is zero exactly when its numerator polynomial is zero.  An
identity is "proved" when the difference of its two sides is the zero element;
otherwise an exact random point where it is non-zero is the counterexample
(Schwartz–Zippel).

What lives here: the exact ``MDP`` with its validation, ``rationalize`` (a float model's exact
twin) and ``general_mdp`` (every entry a symbol); the parameterisations ``TabularSoftmax``,
``LogLinear`` and ``Direct`` over symbol vectors; ``evaluate``, ``visit_counts``,
``stationary_distribution``, ``objective``, ``policy_gradient``,
``expected_update_without_discount`` and ``update_jacobian``; the TD fields, Jacobians,
``symmetry_verdict`` and ``detailed_balance_conditions``; the average-reward criterion
(``average_reward``: exact gain, bias, q̃, d_π; ``prove_average_policy_gradient``: the
continuing-case theorem ∇ρ = Σ_s d_π Σ_a ∇π q̃); the ``prove_*`` functions and
``prove_equal``; ``estimator_moments``, the exact mean and covariance of one episode's
REINFORCE estimate (with or without γᵗ, whole return, a state baseline), by first-step
analysis on the states, independent of the numeric route; ``solve``, exact optimal control by policy
iteration in rationals (every tie decided exactly; sparse models with action sets fit).
Proofs of correct identities are exact up to ``max_symbols`` model symbols (16 by default); above
that (or past an ``exact_budget`` of seconds) the policy-gradient identities are checked by a
Schwartz–Zippel identity test at random exact points, whose result has the status
``"probable"`` and states its error probability (≤ 2⁻¹⁰⁰); wrong identities get an
exact counterexample at any size.

Example: the policy gradient theorem for every 2-state, 2-action MDP.

>>> import sympy
>>> from mdpgrad import symbolic as sy
>>> mdp = sy.general_mdp(2, 2)              # every P entry, r, ρ₀ and γ a symbol
>>> print(sy.prove_policy_gradient_theorem(mdp, sy.TabularSoftmax(2, 2)))  # doctest: +NORMALIZE_WHITESPACE
ProofResult: proved exactly — ∇J = Σ_s,a η(s) π(a|s) adv(s,a) ∇log π(a|s)
(4 identities, for all values of the symbols)

A deliberately wrong formula (the 1/(1−γ) factor dropped: d instead of η) gets
an exact counterexample point, θ given as logs of rationals:

>>> wrong = sy.prove_policy_gradient_theorem(mdp, sy.TabularSoftmax(2, 2), visits="normalised")
>>> wrong.status, wrong.label, wrong.point[sympy.Symbol("gamma")], wrong.value != 0
('counterexample', '∂/∂theta00', 7/30, True)

The footnote: the TD Jacobian's asymmetric pair, as expressions.

>>> w0, w1 = sympy.symbols("w0 w1")
>>> v = sy.symmetry_verdict(sy.td_jacobian(mdp, [[w0, 1 - w0], [w1, 1 - w1]]), n_actions=2)
>>> v.witness_pairs, v.entry, v.mirror
(((0, 0), (1, 1)), gamma*(1 - p000)*(1 - w1), gamma*p110*w0)
"""

from ._average import AverageReward, average_reward, prove_average_policy_gradient
from ._control import Solution, solve
from ._evaluation import Evaluation, evaluate, stationary_distribution, visit_counts
from ._gradients import expected_update_without_discount, objective, policy_gradient, update_jacobian
from ._model import MDP, general_mdp
from ._moments import EstimatorMoments, estimator_moments
from ._policies import Direct, LogLinear, RationalPolicy, TabularSoftmax
from ._proof_result import ProofResult, prove_equal
from ._proof_theorems import (
    prove_baseline_identity,
    prove_performance_difference,
    prove_policy_gradient_theorem,
    prove_recursion_form,
)
from ._rationalize import rationalize
from ._td import (
    SymmetryVerdict,
    detailed_balance_conditions,
    q_symbols,
    symmetry_verdict,
    td_jacobian,
    td_jacobian_v,
    td_update,
    td_update_v,
)

__all__ = [
    "AverageReward",
    "Direct",
    "EstimatorMoments",
    "Evaluation",
    "LogLinear",
    "MDP",
    "ProofResult",
    "RationalPolicy",
    "Solution",
    "SymmetryVerdict",
    "TabularSoftmax",
    "average_reward",
    "detailed_balance_conditions",
    "estimator_moments",
    "evaluate",
    "expected_update_without_discount",
    "general_mdp",
    "objective",
    "policy_gradient",
    "prove_average_policy_gradient",
    "prove_baseline_identity",
    "prove_equal",
    "prove_performance_difference",
    "prove_policy_gradient_theorem",
    "prove_recursion_form",
    "q_symbols",
    "rationalize",
    "solve",
    "stationary_distribution",
    "symmetry_verdict",
    "td_jacobian",
    "td_jacobian_v",
    "td_update",
    "td_update_v",
    "update_jacobian",
    "visit_counts",
]
