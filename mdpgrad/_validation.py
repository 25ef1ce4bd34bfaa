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

import contextlib
import numbers
import os
import re
import threading
from collections.abc import Iterable, Iterator
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
    "check_plain_array",
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
    "memory_limit_scope",
    "memory_limit_source",
    "set_memory_limit",
]

_S = TypeVar("_S", bound=str)


def format_number(x: Any) -> str:
    """A number as people write it: 0.97, nan, -0.25 (no numpy type wrappers)."""
    if isinstance(x, (numbers.Integral, Fraction)) and not isinstance(x, bool):
        try:
            return str(x)
        except ValueError:  # more digits than sys.get_int_max_str_digits() (4300) allows
            if isinstance(x, Fraction):
                return f"{_format_huge(x.numerator)}/{_format_huge(x.denominator)}"
            return _format_huge(int(x))
    if isinstance(x, (complex, np.complexfloating)):
        return repr(complex(x))
    try:
        return f"{float(x):.12g}"
    except (TypeError, ValueError, OverflowError):
        return repr(x)


def _format_huge(n: int) -> str:
    """A huge integer as 13 leading digits and its exponent: ``-1.234567890123e+5000 (5001 digits)``."""
    m = abs(n)
    digits = int(m.bit_length() * 0.30102999566398120) + 1  # an over-estimate by at most 1
    if m < 10 ** (digits - 1):
        digits -= 1
    if digits <= 13:
        return str(n)
    lead = str(m // 10 ** (digits - 13))
    return f"{'-' if n < 0 else ''}{lead[0]}.{lead[1:]}e+{digits - 1} ({digits} digits)"


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


def check_plain_array(x: Any, name: str) -> None:
    """Refuse a masked array: converting it to a plain array would silently drop its mask.

    ``np.matrix`` is accepted and converted (by the caller's ``np.asarray``) to a plain 2-D ndarray,
    so that no computation downstream uses matrix semantics (``*`` as a matrix product, reductions
    that stay 2-D).
    """
    if isinstance(x, np.ma.MaskedArray):
        raise ValidationError(f"{name} is a numpy masked array; expected a plain array (the mask would "
                              "be silently dropped: fill or compress it first, e.g. x.filled(value))",
                              argument=name, value=type(x).__name__)


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
    check_plain_array(x, name)
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

#: Cap, in bytes, on any one array (or file content) mdpgrad is asked to allocate when the process
#: may use more: 4 GiB, a sixth of a 24 GiB machine, so that the largest object and its few
#: temporaries fit.  The automatic limit is the smallest of this and what the process may really
#: allocate (see :func:`memory_limit`).
DEFAULT_MEMORY_LIMIT = 4 * 2**30

#: Where the automatic limit looks for the process's real limits (arguments of the readers, so that
#: tests can point them at fake files).
PROC_MEMINFO = "/proc/meminfo"
PROC_STATUS = "/proc/self/status"
PROC_CGROUP = "/proc/self/cgroup"
CGROUP_ROOT = "/sys/fs/cgroup"

#: cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit value; anything at or above
#: 2⁶² bytes (4 EiB) is treated as unlimited.
_UNLIMITED = 2**62

_explicit_limit: list[int | None] = [None]          # set_memory_limit (process-wide)
_scoped = threading.local()                           # memory_limit_scope (per thread): .stack


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read(1 << 16)
    except OSError:
        return None


def meminfo_available(path: str | None = None) -> int | None:
    """``MemAvailable`` of ``path`` (default ``/proc/meminfo``) in bytes; None without that file or line."""
    text = _read_text(PROC_MEMINFO if path is None else path)
    m = re.search(r"^MemAvailable:\s*(\d+)\s*kB", text or "", re.MULTILINE)
    return int(m.group(1)) * 1024 if m else None


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` size such as VmSize or VmData in bytes (0 when unreadable)."""
    m = re.search(rf"^{field}:\s*(\d+)\s*kB", _read_text(PROC_STATUS) or "", re.MULTILINE)
    return int(m.group(1)) * 1024 if m else 0


def cgroup_memory_headroom(directory: str | None = None, *, proc_cgroup: str | None = None,
                           root: str | None = None) -> int | None:
    """Bytes the process's memory cgroup still allows: its limit minus its current usage.

    cgroup v2 files ``memory.max`` and ``memory.current``, else v1 ``memory.limit_in_bytes`` and
    ``memory.usage_in_bytes``, read in ``directory`` (default: the process's own cgroup, found
    in ``/proc/self/cgroup`` under ``root``).  None when there is no limit ("max", or v1's
    "unlimited" 2⁶³ − 4096) or no readable file.
    """
    dirs = [directory] if directory is not None else _own_cgroup_dirs(
        PROC_CGROUP if proc_cgroup is None else proc_cgroup, CGROUP_ROOT if root is None else root)
    for d in dirs:
        for limit_name, usage_name in (("memory.max", "memory.current"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes")):
            raw = _read_text(os.path.join(d, limit_name))
            if raw is None:
                continue
            raw = raw.strip()
            if raw == "max" or not raw.isdigit() or int(raw) >= _UNLIMITED:
                return None
            used = (_read_text(os.path.join(d, usage_name)) or "0").strip()
            return max(int(raw) - (int(used) if used.isdigit() else 0), 0)
    return None


def _own_cgroup_dirs(proc_cgroup: str, root: str) -> list[str]:
    out = []
    for line in (_read_text(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, rel = parts
        if hid == "0" and controllers == "":                       # v2 unified hierarchy
            out.append(os.path.join(root, rel.lstrip("/")))
        elif "memory" in controllers.split(","):                   # v1 memory controller
            out.append(os.path.join(root, "memory", rel.lstrip("/")))
    return out


def rlimit_headroom() -> tuple[int, str] | None:
    """The smaller of RLIMIT_AS − VmSize and RLIMIT_DATA − VmData in bytes, and which; None if unlimited."""
    try:
        import resource
    except ImportError:                                            # not a Unix system
        return None
    best: tuple[int, str] | None = None
    for rname, field in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        soft = resource.getrlimit(getattr(resource, rname))[0]
        if soft == resource.RLIM_INFINITY or soft < 0:
            continue
        room = max(soft - _status_bytes(field), 0)
        if best is None or room < best[0]:
            best = (room, f"the process's {rname} headroom, {rname} {_bytes(soft)} minus "
                          f"{_bytes(_status_bytes(field))} in use")
    return best


def automatic_memory_limit() -> tuple[int, str]:
    """The default cap and where it comes from: the smallest of 4 GiB, the RLIMIT_AS / RLIMIT_DATA
    headroom, the memory cgroup's headroom and /proc/meminfo's MemAvailable."""
    bounds: list[tuple[int, str]] = [(DEFAULT_MEMORY_LIMIT, "mdpgrad's default of 4 GiB")]
    rl = rlimit_headroom()
    if rl is not None:
        bounds.append(rl)
    cg = cgroup_memory_headroom()
    if cg is not None:
        bounds.append((cg, "the memory cgroup's headroom, memory.max minus memory.current"))
    avail = meminfo_available()
    if avail is not None:
        bounds.append((avail, "the memory available on this machine, MemAvailable in /proc/meminfo"))
    n, source = min(bounds, key=lambda b: b[0])
    return max(n, 1), source


def _limit_from_environment() -> int | None:
    raw = os.environ.get("MDPGRAD_MEMORY_LIMIT")
    if raw is None:
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValidationError(f"the environment variable MDPGRAD_MEMORY_LIMIT is {raw!r}; expected a whole "
                              "number of bytes >= 1 written with digits only (e.g. 8000000000)",
                              argument="MDPGRAD_MEMORY_LIMIT", value=raw)
    return int(text)


def memory_limit_source() -> tuple[int, str]:
    """The cap in force in this thread and what set it (scope, set_memory_limit, environment, automatic)."""
    stack = getattr(_scoped, "stack", None)
    if stack:
        return stack[-1], "mdpgrad.memory_limit_scope"
    if _explicit_limit[0] is not None:
        return _explicit_limit[0], "mdpgrad.set_memory_limit"
    env = _limit_from_environment()
    if env is not None:
        return env, "MDPGRAD_MEMORY_LIMIT"
    return automatic_memory_limit()


def memory_limit() -> int:
    """The current cap in bytes on one allocation requested of mdpgrad (see :func:`set_memory_limit`)."""
    return memory_limit_source()[0]


def set_memory_limit(n_bytes: int | None) -> int | None:
    """Set the process-wide cap in bytes on one allocation; return the previous setting.

    Requests whose estimated size exceeds the cap (a dense S·A × S·A Jacobian, an n × n Fisher
    matrix, sampling buffers, the arrays a file claims to hold) are refused with a
    :class:`~mdpgrad.ValidationError` that states the estimate, the cap and where the cap comes
    from, before anything is allocated.

    The cap in force is, in order of precedence: the innermost :func:`memory_limit_scope` of the
    calling thread; the value set here; the environment variable ``MDPGRAD_MEMORY_LIMIT`` (a whole
    number of bytes, read when a cap is needed); otherwise the automatic limit, the smallest of
    4 GiB, the process's RLIMIT_AS and RLIMIT_DATA headroom (limit minus current use), its memory
    cgroup's headroom and the machine's MemAvailable.  An explicit cap (here, in a scope or in the
    environment) is taken as given, even above those process limits: it is how a caller who knows
    better (memory that the kernel overcommits, a cache that will be freed) raises the cap, and
    an allocation beyond the real limit then fails with numpy's MemoryError.

    ``None`` returns to the environment variable or the automatic limit.  The return value is the
    previous explicit setting (None when there was none), so ``old = set_memory_limit(n); ...;
    set_memory_limit(old)`` restores it.

    Parameters
    ----------
    n_bytes : int or None
        The cap in bytes (at least 1); None returns to the environment variable or the automatic limit.
    """
    old = _explicit_limit[0]
    _explicit_limit[0] = None if n_bytes is None else check_integer(n_bytes, "n_bytes", min_value=1)
    return old


@contextlib.contextmanager
def memory_limit_scope(n_bytes: int) -> Iterator[int]:
    """Within the ``with`` block, and in the calling thread only, cap one allocation at ``n_bytes``.

    Other threads keep their own cap; scopes nest (the innermost applies) and take precedence over
    :func:`set_memory_limit`.

    Parameters
    ----------
    n_bytes : int
        The cap in bytes, at least 1.

    Yields
    ------
    int
        ``n_bytes``, the cap in force inside the block.

    Examples
    --------
    >>> import mdpgrad as mg
    >>> with mg.memory_limit_scope(10**6):  # doctest: +ELLIPSIS
    ...     mg.uniform_policy(10**6, 4)
    Traceback (most recent call last):
    ...
    mdpgrad.ValidationError: a (1000000, 4) policy table would need about 32 MB, above ... of 1 MB set by ...
    """
    n = check_integer(n_bytes, "n_bytes", min_value=1)
    stack = getattr(_scoped, "stack", None)
    if stack is None:
        stack = _scoped.stack = []
    stack.append(n)
    try:
        yield n
    finally:
        stack.pop()


def check_memory(n_bytes: float, what: str, argument: str) -> None:
    """Refuse a request whose estimated size ``n_bytes`` exceeds :func:`memory_limit`.

    ``n_bytes`` may be a Python int of any size (sizes multiplied out exactly), so that a request
    for 10⁴⁰ states is refused with its size rather than overflowing a float.  The message names
    the bound that applied.
    """
    limit, source = memory_limit_source()
    if n_bytes > limit:
        raise ValidationError(f"{what} would need about {_bytes(n_bytes)}, above the memory limit of "
                              f"{_bytes(limit)} set by {source}; mdpgrad.set_memory_limit, "
                              "mdpgrad.memory_limit_scope or MDPGRAD_MEMORY_LIMIT raise it",
                              argument=argument,
                              value=min(int(n_bytes), 2**63 - 1))


def _bytes(n: float) -> str:
    if n >= 1e15:                                    # may be an int far beyond float range
        return f"{format_count(int(n))} bytes".removeprefix("about ")
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"
