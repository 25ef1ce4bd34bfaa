"""Compact ``repr`` of result objects: the class, its verdict, its scalars, the shapes of its arrays.

The default dataclass ``repr`` prints every array in full, so a result of a 100-state model fills a
screen.  :func:`compact_repr` writes one line instead::

    GradientCheck(holds=True, gradient=<array (2, 2)>, ..., max_error=3.1e-10, tol=1e-06)

The verdict (``holds``, ``status``, ``converges`` or ``differentiable``) comes first; arrays, sparse
and sympy matrices are shown by shape (and dtype when it is not float64), nested results by class
and verdict, long mappings by size; fields declared with ``repr=False`` and fields that are None
are left out.  ``eval(repr(x))`` is not meant to work: the full numbers are the attributes.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["compact_repr"]

#: Longest text of one field; longer texts (an explanation, a statement) are cut with "…".
MAX_FIELD_CHARS = 60
#: Significant digits of a float field: enough to tell two tolerances or errors apart at a glance.
FLOAT_DIGITS = 4
#: Attributes that carry a verdict, shown first when present.
VERDICTS = ("holds", "status", "converges", "differentiable")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_FIELD_CHARS else text[: MAX_FIELD_CHARS - 1] + "…"


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return tuple(int(n) for n in shape) if isinstance(shape, tuple) else None


def _short(value: Any, text: Callable[[Any], str]) -> str:
    """One field's value in a few characters."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (numbers.Integral, np.integer)):
        return _cut(text(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{FLOAT_DIGITS}g}"
    if isinstance(value, str):
        return repr(_cut(value))
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _short(value.item(), text)
        kind = "" if value.dtype == np.float64 else f" {value.dtype}"      # float64 goes without saying
        return f"<array {_shape(value)}{kind}>"
    if (shape := _shape(value)) is not None:       # sparse arrays, sympy matrices, tensors
        return f"<{type(value).__name__} {shape}>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        verdict = [f"{k}={_short(getattr(value, k), text)}" for k in VERDICTS if hasattr(value, k)][:1]
        return f"<{' '.join([type(value).__name__, *verdict])}>"
    if isinstance(value, Mapping):
        inner = "{" + ", ".join(f"{_short(k, text)}: {_short(v, text)}" for k, v in value.items()) + "}"
        if len(inner) <= MAX_FIELD_CHARS:
            return inner
        return f"<{type(value).__name__}, {len(value)} entr{'y' if len(value) == 1 else 'ies'}>"
    if isinstance(value, (tuple, list)):
        inner = "(" + ", ".join(_short(v, text) for v in value) + ("," if len(value) == 1 else "") + ")"
        return inner if len(inner) <= MAX_FIELD_CHARS else f"<{type(value).__name__}, {len(value)} items>"
    try:
        return _cut(text(value))
    except ValueError:                              # an integer too long for str
        return f"<{type(value).__name__}>"


def compact_repr(obj: Any, text: Callable[[Any], str] = str, fields: Sequence[str] | None = None) -> str:
    """``ClassName(verdict, field=value, ...)`` on one line, arrays by shape (module docstring).

    Parameters
    ----------
    obj : dataclass instance
        The result to describe.
    text : callable, optional
        How to write a value that is neither a number, an array nor a container (default
        ``str``; the symbolic results pass one that abbreviates numbers of thousands of digits).
    fields : sequence of str, optional
        The fields to show, in order, after the verdict (default: every field with ``repr=True``);
        for results of many fields, the key ones.

    Returns
    -------
    str

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Result:
    ...     x: np.ndarray
    ...     err: float
    ...     holds: bool
    >>> compact_repr(Result(np.zeros((100, 4)), 1.25e-9, True))
    'Result(holds=True, x=<array (100, 4)>, err=1.25e-09)'
    """
    names = [f.name for f in dataclasses.fields(obj) if f.repr]
    verdict = [k for k in VERDICTS if hasattr(type(obj), k) or k in names][:1]
    parts = [f"{k}={_short(getattr(obj, k), text)}" for k in verdict]
    parts += [f"{k}={_short(getattr(obj, k), text)}" for k in (names if fields is None else fields)
              if k not in verdict and getattr(obj, k) is not None]
    return f"{type(obj).__name__}({', '.join(parts)})"
