"""Exact policy evaluation: P^π, r^π, v, q, advantage, η, d, μ and J in one call; η and η̃ alone.

Formulas (Sutton & Barto 2018, §3.5 and §4.1; Puterman 1994, §6.1)::

    P^π = Π P,  r^π = Π r                       (Π holds π(a|s) at (s, s·A + a))
    v   = (I − γP̃^π)⁻¹ r^π                      (Bellman equation, solved exactly)
    q   = r + γ P v,  advantage = q − v
    ηᵀ  = ρ̃₀ᵀ (I − γP̃^π)⁻¹                      η(s) = Σ_t γᵗ Pr(s_t = s, t < T)
    η̃ᵀ  = ρ̃₀ᵀ (I − P̃^π)⁻¹                       η̃(s) = Σ_t Pr(s_t = s, t < T), episodic MDPs
    d   = η / Σ η,  μ(s, a) = d(s) π(a|s),  J = ρ₀ · v = Σ_{s,a} η(s) π(a|s) r(s, a)

P̃^π and ρ̃₀ are P^π and ρ₀ with the terminal states masked
(:func:`mdpgrad._chains.masked_chain`); terminal states pay no reward, so
r^π needs no mask.  Without terminal states Σ η = 1/(1 − γ).  The matrix
I − γP̃^π is factorised once (``mdpgrad._linalg.factorize``) and the factors
serve v and η; :class:`Evaluation` keeps them for later solves.

Two routes give the same numbers (``routes``): the direct one, one
factorisation of M = I − γP̃^π, the fast path used for ordinary γ; and the
deflated one, for a continuing chain with π on the simplex when 1/(1 − γ) or
the reward offset is large (:data:`DEFLATE_RATIO`), which solves with
B = M + γ1uᵀ instead and keeps the advantage accurate to the spread of the
rewards, not their offset.

Every evaluation with a real table carries an :class:`ErrorEstimate`
(condition estimate × residual, propagated to q, the advantage, η and J), and
is refused (:class:`~mdpgrad.InaccurateResultError`) when it leaves fewer than
``ACCURACY_MIN_DIGITS`` significant digits, unless the
caller passes ``accuracy="warn"`` or ``"ignore"``.  The arrays of an
:class:`Evaluation` are read-only and its own (π is copied).

Identities checked by the tests: v = r^π + γP^π v; v(s) = Σ_a π(a|s) q(s, a);
J = ρ₀·v = Σ η π r; Σ η = 1/(1−γ) without terminal states; dense = sparse;
a batch of policies equals the policies evaluated one at a time; η̃ counts
the expected visits of a corridor.

What lives here
---------------
* ``results``: :class:`Evaluation` and :class:`ErrorEstimate`.
* ``accuracy``: the forward-error estimates, :func:`advantage_floor`, and the
  refusal of results with too few digits.
* ``routes``: the direct and the deflated solves.
* ``entry``: :func:`evaluate` and :func:`visit_counts`, which check their
  arguments and choose the route.
"""

from .accuracy import advantage_floor
from .entry import DEFLATE_RATIO, evaluate, visit_counts
from .results import ErrorEstimate, Evaluation

__all__ = ["DEFLATE_RATIO", "ErrorEstimate", "Evaluation", "advantage_floor", "evaluate", "visit_counts"]
