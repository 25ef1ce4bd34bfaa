"""Argument checks shared by every public function.

Each check either returns the value in its canonical type or raises
:class:`~mdpgrad.ValidationError` naming the argument, the first offending
index (in C order) and the value, e.g. ``theta[1, 0] is nan; expected a finite
number``.  Nothing is repaired: complex input is refused rather than
truncated to its real part, a string is never parsed, and a tolerance of nan
or inf is an error rather than a switched-off check.

The checks are small and composable; a public function validates its
arguments once, at its boundary, and internal code trusts them.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np

from ._errors import ValidationError

__all__ = [
    "as_real_array",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_instance",
    "check_memory",
    "check_finite",
    "check_integer",
    "check_nonnegative",
    "check_real",
    "check_rng",
    "check_tolerance",
    "first_index",
    "format_count",
    "format_index",
    "format_number",
    "is_exact",
    "is_integer",
    "memory_limit",
    "set_memory_limit",
]

_S = TypeVar("_S", bound=str)


def format_number(x: Any) -> str:
    """A number as people write it: 0.97, nan, -0.25 (no numpy type wrappers)."""
    if isinstance(x, (numbers.Integral, Fraction)) and not isinstance(x, bool):
        return str(x)
    if isinstance(x, (complex, np.complexfloating)):
        return repr(complex(x))
    try:
        return f"{float(x):.12g}"
    except (TypeError, ValueError, OverflowError):
        return repr(x)


def format_count(n: int) -> str:
    """An integer as people read it; ``about 10^k`` beyond 10^15 (sizes can be astronomically large)."""
    if n >= 10**15:
        return f"about 10^{int(int(n).bit_length() * 0.30103)}"
    return str(int(n))


def format_index(name: str, idx: tuple[int, ...], trailing_colon: bool = False) -> str:
    """``name[i, j]``, or ``name[i, j, :]`` for a row."""
    inner = ", ".join(str(int(i)) for i in idx)
    if trailing_colon:
        inner = inner + ", :" if inner else ":"
    return f"{name}[{inner}]"


def first_index(mask: np.ndarray) -> tuple[int, ...] | None:
    """The first index (C order) where ``mask`` is true, or None."""
    flat = np.flatnonzero(np.asarray(mask))
    if flat.size == 0:
        return None
    return tuple(int(i) for i in np.unravel_index(int(flat[0]), np.shape(mask)))


def is_integer(x: Any) -> bool:
    """An integer that is not a bool (Python or numpy)."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def is_exact(x: Any) -> bool:
    """An exact rational: int, Fraction or a sympy Rational (not a bool)."""
    if isinstance(x, bool):
        return False
    return isinstance(x, (numbers.Integral, Fraction)) or (
        type(x).__module__.startswith("sympy") and bool(getattr(x, "is_Rational", False)))


def check_integer(value: Any, name: str, *, min_value: int | None = None,
                  max_value: int | None = None) -> int:
    """An integer (not a bool) in [min_value, max_value]."""
    ok = is_integer(value)
    if ok and min_value is not None and value < min_value:
        ok = False
    if ok and max_value is not None and value > max_value:
        ok = False
    if not ok:
        lo = "" if min_value is None else f" >= {min_value}"
        hi = "" if max_value is None else f"{' and' if lo else ''} <= {max_value}"
        raise ValidationError(f"{name} is {value!r}; expected an integer{lo}{hi}",
                              argument=name, value=value)
    return int(value)


def check_real(value: Any, name: str, *, min_value: float | None = None, max_value: float | None = None,
               min_open: bool = False, max_open: bool = False) -> float:
    """A finite real number (not a bool, not complex, not a string) in the given interval."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    f = float("nan")
    if ok:
        try:
            f = float(value)
        except (OverflowError, ValueError):
            ok = False
    ok = ok and bool(np.isfinite(f))
    if ok and min_value is not None:
        ok = f > min_value if min_open else f >= min_value
    if ok and max_value is not None:
        ok = f < max_value if max_open else f <= max_value
    if not ok:
        if min_value is not None and max_value is not None:
            where = f" in {'(' if min_open else '['}{min_value:g}, {max_value:g}{')' if max_open else ']'}"
        elif min_value is not None:
            where = f" {'>' if min_open else '>='} {min_value:g}"
        elif max_value is not None:
            where = f" {'<' if max_open else '<='} {max_value:g}"
        else:
            where = ""
        raise ValidationError(f"{name} is {value!r}; expected a finite real number{where}",
                              argument=name, value=value)
    return f


def check_tolerance(value: Any, name: str) -> float:
    """A tolerance: a finite real number >= 0 (nan or inf would switch the check off)."""
    return check_real(value, name, min_value=0.0)


def check_bool(value: Any, name: str) -> bool:
    """A flag: True or False (numpy bools too); 0, 1, "yes" or None are refused, not interpreted."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValidationError(f"{name} is {value!r}; expected True or False", argument=name, value=value)
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable[_S]) -> _S:
    """One of the string options of a ``Literal`` parameter."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(c) for c in options)
        raise ValidationError(f"{name} is {value!r}; expected one of {listed}", argument=name, value=value)
    return options[options.index(value)]


def check_instance(x: Any, types: type | tuple[type, ...], name: str, expected: str, hint: str = "") -> Any:
    """``x`` when it is an instance of ``types``; else a ValidationError saying what was expected."""
    if not isinstance(x, types):
        raise ValidationError(f"{name} is a {type(x).__name__}; expected {expected}{hint}", argument=name,
                              value=type(x).__name__)
    return x


def check_callable(f: Any, name: str) -> Any:
    """A callable (a function of θ, an estimator); anything else is refused before it is called."""
    if not callable(f):
        raise ValidationError(f"{name} is {f!r} of type {type(f).__name__}; expected a callable",
                              argument=name, value=type(f).__name__)
    return f


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator``, or a non-negative integer seed for one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if is_integer(rng) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValidationError(f"{name} is {rng!r}; expected a numpy.random.Generator or an integer seed >= 0",
                          argument=name, value=rng)


def check_finite(arr: np.ndarray, name: str) -> None:
    """Every entry finite; else name the first nan or inf."""
    idx = first_index(~np.isfinite(arr))
    if idx is not None:
        raise ValidationError(f"{format_index(name, idx)} is {format_number(arr[idx])}; expected a finite "
                              "number", argument=name, index=idx, value=arr[idx].item())


def check_nonnegative(arr: np.ndarray, name: str, what: str = "a number") -> None:
    """Every entry >= 0; else name the first negative one (``what`` says what the entry is)."""
    idx = first_index(arr < 0)
    if idx is not None:
        raise ValidationError(f"{format_index(name, idx)} is {format_number(arr[idx])}; expected {what} >= 0",
                              argument=name, index=idx, value=arr[idx].item())


def as_real_array(x: Any, name: str, *, shape: tuple[int, ...] | None = None,
                  finite: bool = True) -> np.ndarray:
    """``x`` as a float64 array, refusing what is not a real number.

    Exact entries (ints, Fractions, sympy Rationals) are accepted and rounded
    once; strings, None, complex numbers (even with a zero imaginary part),
    booleans inside object arrays and ragged nesting are refused with the first
    offending index.  ``shape`` (when given) must match exactly; ``finite``
    refuses nan and inf.
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise ValidationError(f"{name} is {x!r}; expected an array of real numbers", argument=name, value=x)
    framework = type(x).__module__.split(".")[0]      # read off the type: the core never imports them
    if framework == "torch" and getattr(x, "requires_grad", False) or (
            framework == "jax" and type(x).__name__.endswith("Tracer")):
        what, adapter = (("a torch tensor that requires grad", "mdpgrad.torch") if framework == "torch"
                         else ("a JAX tracer (inside jax.grad, jit or vmap)", "mdpgrad.jax"))
        raise ValidationError(f"{name} is {what}; mdpgrad's numpy functions do not differentiate through it: "
                              f"use {adapter} (its Policy, objective and loss_estimator), or pass a plain "
                              "array", argument=name, value=type(x).__name__)
    try:
        raw = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{name} cannot be read as an array of real numbers ({exc})",
                              argument=name) from None
    if raw.dtype.kind == "c":
        raise ValidationError(f"{name} is complex ({raw.dtype}); expected real numbers (mdpgrad does not "
                              "drop imaginary parts)", argument=name, value=str(raw.dtype))
    if raw.dtype.kind not in "biuf":
        if raw.dtype != object:
            raise ValidationError(f"{name} has dtype {raw.dtype}; expected real numbers",
                                  argument=name, value=str(raw.dtype))
        for i, e in enumerate(raw.ravel()):
            if not (is_exact(e) or (isinstance(e, numbers.Real) and not isinstance(e, bool))):
                idx = tuple(int(j) for j in np.unravel_index(i, raw.shape))
                raise ValidationError(f"{format_index(name, idx)} is {e!r}; expected a real number",
                                      argument=name, index=idx, value=e)
    try:
        arr = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{name} cannot be read as an array of real numbers ({exc})",
                              argument=name) from None
    if shape is not None and arr.shape != tuple(shape):
        raise ValidationError(f"{name} has shape {arr.shape}; expected {tuple(shape)}",
                              argument=name, value=arr.shape)
    if finite:
        check_finite(arr, name)
    return arr


# -- memory ----------------------------------------------------------------------------------------

#: Default cap, in bytes, on any one array (or file content) mdpgrad is asked to allocate: 4 GiB,
#: a sixth of a 24 GiB machine, so that the largest object and its few temporaries fit.  The
#: environment variable ``MDPGRAD_MEMORY_LIMIT`` (bytes) overrides it at import;
#: :func:`set_memory_limit` at run time.
DEFAULT_MEMORY_LIMIT = 4 * 2**30

_memory_limit = [DEFAULT_MEMORY_LIMIT]


def _limit_from_environment() -> None:
    raw = os.environ.get("MDPGRAD_MEMORY_LIMIT")
    if raw is None:
        return
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"MDPGRAD_MEMORY_LIMIT is {raw!r}; expected a number of bytes",
                              argument="MDPGRAD_MEMORY_LIMIT", value=raw) from None
    set_memory_limit(value)


def memory_limit() -> int:
    """The current cap in bytes on one allocation requested of mdpgrad."""
    return _memory_limit[0]


def set_memory_limit(n_bytes: int | None) -> int:
    """Set the cap in bytes on one allocation (None restores the default); return the old cap.

    Requests whose estimated size exceeds it (a dense S·A × S·A Jacobian, an n × n Fisher matrix,
    sampling buffers, the arrays a file claims to hold) are refused with a
    :class:`~mdpgrad.ValidationError` that states the estimate and the cap, before anything is
    allocated.
    """
    old = _memory_limit[0]
    _memory_limit[0] = DEFAULT_MEMORY_LIMIT if n_bytes is None else check_integer(
        n_bytes, "n_bytes", min_value=1)
    return old


def check_memory(n_bytes: float, what: str, argument: str) -> None:
    """Refuse a request whose estimated size ``n_bytes`` exceeds :func:`memory_limit`.

    ``n_bytes`` may be a Python int of any size (sizes multiplied out exactly), so that a request
    for 10⁴⁰ states is refused with its size rather than overflowing a float.
    """
    limit = memory_limit()
    if n_bytes > limit:
        raise ValidationError(f"{what} would need about {_bytes(n_bytes)}, above the memory limit of "
                              f"{_bytes(limit)} (mdpgrad.set_memory_limit or MDPGRAD_MEMORY_LIMIT "
                              "raise it)", argument=argument, value=min(int(n_bytes), 2**63 - 1))


def _bytes(n: float) -> str:
    if n >= 1e15:                                    # may be an int far beyond float range
        return f"{format_count(int(n))} bytes".removeprefix("about ")
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


_limit_from_environment()
