"""The exact model behind a float MDP: ``rationalize`` replaces each number by its closest short fraction.

Identity checked by the tests: ``rationalize(m).to_numeric()`` reproduces the numbers of ``m`` (dense or
sparse, with its action sets), and a float with no short fraction is refused.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy
from sympy import MutableSparseNDimArray

from .._errors import ValidationError
from .._model import MDP as NumericMDP
from .._validation import check_integer
from ._model import MDP, check_symbolic_size

__all__ = ["MAX_DENOMINATOR", "RATIONALIZE_TOL", "rationalize"]

#: Largest denominator tried by :func:`rationalize`.  Hand-written models use
#: small denominators (tenths, thirds); 10⁶ recovers them from their floats
#: while a float with no short fraction is caught by ``RATIONALIZE_TOL``.
MAX_DENOMINATOR = 10**6
#: A float and its rational stand-in must agree to this relative accuracy: a
#: short fraction read into float64 is within one ulp (1.1e-16) and a sum of a
#: few within a few ulps, while the best fraction with q ≤ 10⁶ of an arbitrary
#: real misses it by ≈ 1/q² ≈ 1e-12 (π: 6e-13), so 1e-15 separates the two.
RATIONALIZE_TOL = 1e-15


def _to_rational(x: float, name: str, idx: tuple[int, ...], max_denominator: int) -> sympy.Rational:
    fr = Fraction(x).limit_denominator(max_denominator)
    if fr == 0 and x != 0:  # an absolute miss of 1e-300 passes the tolerance, but the support changes
        raise ValidationError(f"{name}{list(idx)} = {x!r} is not zero, but its nearest fraction with "
                              f"denominator <= {max_denominator} is 0: rationalize does not change which "
                              "entries are zero (pass a larger max_denominator, or build the exact model)",
                              argument=name, index=idx, value=x)
    if abs(float(fr) - x) > RATIONALIZE_TOL * max(1.0, abs(x)):
        raise ValidationError(f"{name}{list(idx)} = {x!r} has no fraction with denominator <= "
                              f"{max_denominator} within {RATIONALIZE_TOL:g}", argument=name, index=idx,
                              value=x)
    return sympy.Rational(fr.numerator, fr.denominator)


def rationalize(mdp: NumericMDP, *, max_denominator: int = MAX_DENOMINATOR) -> MDP:
    """The exact model behind a float MDP: each number replaced by its closest short fraction.

    Each float x becomes the fraction p/q with q ≤ ``max_denominator`` nearest to
    x (continued fractions; Khinchin 1964), accepted only if ``|p/q − x| ≤ 1e-15·max(1, |x|)``;
    the exact row sums are then checked again.  The support is never changed: a non-zero x
    whose nearest short fraction is 0 (1e-300, within the tolerance of 0 in absolute terms) is
    refused, as is any x without a short fraction (0 stays 0).  A sparse model gives a sparse exact P
    (its stored entries counted against ``MAX_SYMBOLIC_ENTRIES``); a dense one a dense P, so call
    this on small dense models only.  Action sets are kept.

    Parameters
    ----------
    mdp : mdpgrad.MDP
        The float model, dense or sparse, with or without action sets.
    max_denominator : int, optional
        Largest denominator q tried for each number (default ``MAX_DENOMINATOR`` = 10⁶).

    Returns
    -------
    mdpgrad.symbolic.MDP
        The exact model: P, r, γ and ρ₀ as sympy Rationals, the same terminal states and action sets.

    Raises
    ------
    ValidationError
        If a number has no short fraction, a non-zero number's is 0, or the fractions of a row do
        not sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.symbolic import rationalize
    >>> P = np.array([[[0.9, 0.1], [1/3, 2/3]], [[0.5, 0.5], [0.0, 1.0]]])
    >>> m = rationalize(MDP(P, np.eye(2), gamma=0.9))
    >>> m.P[0, 1, 0], m.gamma
    (1/3, 9/10)
    """
    if not isinstance(mdp, NumericMDP):
        raise ValidationError(f"mdp is a {type(mdp).__name__}; expected an mdpgrad.MDP", argument="mdp",
                              value=type(mdp).__name__)
    max_denominator = check_integer(max_denominator, "max_denominator", min_value=1)
    S, A = mdp.n_states, mdp.n_actions
    P: Any
    if mdp.is_sparse:
        csr: Any = mdp.P_flat
        check_symbolic_size(int(csr.nnz), f"the exact transition table of a {S}-state model", "mdp")
        entries = {}
        for x in range(S * A):
            for k in range(int(csr.indptr[x]), int(csr.indptr[x + 1])):
                t = int(csr.indices[k])
                entries[x * S + t] = _to_rational(float(csr.data[k]), "P", (x // A, x % A, t),
                                                  max_denominator)
        P = MutableSparseNDimArray(entries, (S, A, S))      # made immutable once, by MDP
    else:
        check_symbolic_size(S * A * S, f"the exact transition table of a {S}-state model", "mdp")
        Pd = mdp.P_dense()
        P = [[[_to_rational(float(Pd[s, a, t]), "P", (s, a, t), max_denominator) for t in range(S)]
              for a in range(A)] for s in range(S)]
    r = [[_to_rational(float(mdp.r[s, a]), "r", (s, a), max_denominator) for a in range(A)] for s in range(S)]
    g = _to_rational(float(mdp.gamma), "gamma", (), max_denominator)
    rho = [_to_rational(float(mdp.rho0[s]), "rho0", (s,), max_denominator) for s in range(S)]
    term = list(map(bool, mdp.terminal)) if mdp.terminal.any() else None
    return MDP(P, r, g, rho, term, actions=mdp.actions if mdp.has_action_sets else None)
