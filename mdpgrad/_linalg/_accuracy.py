"""Forward-error estimates, and the refusal of results that are noise.

A result whose estimated forward error leaves fewer than
:data:`ACCURACY_MIN_DIGITS` significant digits is refused
(:class:`InaccurateResultError`), returned with an
:class:`InaccurateResultWarning`, or returned silently, as the call's
``accuracy`` says (:func:`check_accuracy`).  The estimates are built from
:func:`rounding_unit` (the rounding error bound of an inner product) and
:func:`inverse_norm_inf` (‖M⁻¹‖∞ estimated from a few solves; Hager 1984,
Higham 1988).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Literal, get_args

import numpy as np

from .._errors import ValidationError
from .._validation import check_choice

__all__ = ["ACCURACY_MIN_DIGITS", "DOUBLE_DIGITS", "Accuracy", "InaccurateResultError",
           "InaccurateResultWarning", "check_accuracy", "digits_left", "inverse_norm_inf", "rounding_unit",
           "validate_accuracy"]

#: What a call does with a result whose estimated forward error leaves fewer than
#: ``ACCURACY_MIN_DIGITS`` significant digits: "refuse" raises
#: :class:`InaccurateResultError` (the default everywhere), "warn" returns it with an
#: :class:`InaccurateResultWarning`, "ignore" returns it silently.
Accuracy = Literal["refuse", "warn", "ignore"]

#: Significant decimal digits of a double, −log₁₀ ε.
DOUBLE_DIGITS = float(-np.log10(np.finfo(float).eps))

#: A result is refused when its estimated error leaves fewer than this many significant
#: digits relative to its scale.  Six digits: well above the 1–3 digits that an error
#: *estimate* may be off by (condition estimators are within a factor 3 or so, and the
#: bounds used here are worst-case in the rounding constants; Higham 2002, §15.3), so a
#: result that passes has at least 3 correct digits even when the estimate is
#: optimistic, and well below the ≈ 15.6 digits of a double, so that an ordinary model
#: (κ of M up to 10⁶, offsets up to 10⁴ times the spread of the rewards) is never refused.
ACCURACY_MIN_DIGITS = 6.0


class InaccurateResultError(ValidationError):
    """A numeric result whose estimated forward error leaves too few significant digits.

    Raised when fewer than ``ACCURACY_MIN_DIGITS`` digits would remain; the
    message gives the estimated relative error, the digits left and what to do.
    ``argument`` names the call's input most responsible (``"mdp"`` for an
    ill-conditioned model), ``value`` is the estimated relative error.
    """


class InaccurateResultWarning(UserWarning):
    """``accuracy="warn"``: the result returned has fewer than ACCURACY_MIN_DIGITS digits."""


InaccurateResultError.__module__ = InaccurateResultWarning.__module__ = "mdpgrad"


def validate_accuracy(value: object) -> Accuracy:
    """``value`` as one of "refuse", "warn", "ignore"; else a ValidationError naming ``accuracy``."""
    return check_choice(value, "accuracy", get_args(Accuracy))


def rounding_unit(terms: int, eps: float | None = None) -> float:
    """(terms + 2)·ε: the rounding error bound, relative to the sum of |terms|, of an inner product
    of ``terms`` products followed by one addition (Higham 2002, §3.1, γ_n ≈ nε).

    ``eps``: the machine epsilon of the arithmetic (default float64's; np.longdouble's for a
    residual formed in extended precision)."""
    return (float(terms) + 2.0) * (float(np.finfo(float).eps) if eps is None else float(eps))


def digits_left(error: float, scale: float) -> float:
    """−log₁₀(error / scale) clipped to [0, DOUBLE_DIGITS]; DOUBLE_DIGITS for an error of 0."""
    if not error > 0.0 or scale == np.inf:
        return DOUBLE_DIGITS if error == 0.0 or (scale == np.inf and np.isfinite(error)) else 0.0
    if not scale > 0.0 or not np.isfinite(error):
        return 0.0
    return float(np.clip(-np.log10(error / scale), 0.0, DOUBLE_DIGITS))


def check_accuracy(what: str, error: np.ndarray | float, scale: np.ndarray | float, accuracy: Accuracy,
                   advice: str, argument: str = "mdp") -> None:
    """Refuse (or warn about) a result with fewer than ``ACCURACY_MIN_DIGITS`` digits left.

    ``error`` and ``scale`` are per result of a batch (same shape; scalars for one
    result); the first result of the batch that fails is named.
    """
    if accuracy == "ignore":
        return
    err = np.atleast_1d(np.asarray(error, dtype=float))
    sc = np.broadcast_to(np.atleast_1d(np.asarray(scale, dtype=float)), err.shape)
    bad = ~(err <= 10.0 ** -ACCURACY_MIN_DIGITS * sc)
    if not bad.any():
        return
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    e, s = float(err[idx]), float(sc[idx])
    digits = digits_left(e, s)
    where = f" (batch index {', '.join(map(str, idx))})" if np.ndim(error) else ""
    rel = e / s if s > 0 else np.inf
    msg = (f"{what}{where} is not reliable: its estimated relative error is {rel:.2g}, so about "
           f"{digits:.1f} significant digits are left (fewer than {ACCURACY_MIN_DIGITS:g}); {advice}; "
           "accuracy='warn' or accuracy='ignore' returns it anyway")
    if accuracy == "warn":
        warnings.warn(msg, InaccurateResultWarning, stacklevel=3)
        return
    raise InaccurateResultError(msg, argument=argument, index=idx if np.ndim(error) else None, value=rel)


def inverse_norm_inf(solve: Callable[[np.ndarray], np.ndarray],
                     solve_transposed: Callable[[np.ndarray], np.ndarray],
                     shape: tuple[int, ...]) -> np.ndarray:
    """‖M⁻¹‖∞ = ‖M⁻ᵀ‖₁ for every matrix of a stack of shape (..., S, S), estimated from solves.

    Hager's method in Higham's form (Hager 1984; Higham 1988; Higham 2002,
    Algorithm 15.4) applied to B = M⁻ᵀ (B x = ``solve_transposed(x)``,
    Bᵀ x = ``solve(x)``), vectorised over the stack with at most 4 rounds, and
    Higham's extra vector bᵢ = (−1)ⁱ⁺¹(1 + (i−1)/(S−1)) guarding against the
    rare cases where the iteration stops at a local maximum.  The estimate is a
    lower bound and in practice within a factor 3 (usually exact).  For S ≤ 4
    the norm is computed exactly from the inverse.

    Returns
    -------
    ndarray, shape (...)
    """
    batch, S = tuple(shape[:-2]), int(shape[-1])
    if S == 0:
        return np.zeros(batch)
    with np.errstate(all="ignore"):
        if S <= 4:
            rows = [np.abs(solve_transposed(np.broadcast_to(np.eye(S)[j], (*batch, S)).copy())).sum(axis=-1)
                    for j in range(S)]                  # M⁻ᵀe_j is row j of M⁻¹
            return np.max(np.stack(rows, axis=-1), axis=-1)
        x = np.full((*batch, S), 1.0 / S)
        best = np.zeros(batch)
        for _ in range(4):
            y = solve_transposed(x)
            best = np.maximum(best, np.abs(y).sum(axis=-1))
            z = solve(np.where(y >= 0, 1.0, -1.0))
            j = np.argmax(np.abs(z), axis=-1)
            x = (np.arange(S) == j[..., None]).astype(float)
        alt = np.where(np.arange(S) % 2 == 0, 1.0, -1.0) * (1.0 + np.arange(S) / (S - 1))
        extra = np.abs(solve_transposed(np.broadcast_to(alt, (*batch, S)).copy())).sum(axis=-1)
        extra *= 2.0 / (3 * S)
    est = np.maximum(best, extra)
    return np.where(np.isfinite(est), est, np.inf)
