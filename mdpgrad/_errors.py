"""Exceptions raised by mdpgrad.

Every malformed model, policy or argument raises :class:`ValidationError`, a
:class:`ValueError` subclass whose message names the argument, the offending
index and the value, e.g. ``P[3, 1, :] sums to 0.97; expected 1 within
atol=1e-10``.  Nothing is ever silently repaired.
"""

from __future__ import annotations

__all__ = ["MultichainPolicyError", "NonTerminatingPolicyError", "ValidationError"]


class ValidationError(ValueError):
    """A malformed model, policy or argument.

    Attributes
    ----------
    argument : str
        Name of the offending argument (``"P"``, ``"gamma"``, ``"pi"``, ...).
    index : tuple of int or None
        Index of the offending entry, when there is one.
    value : object
        The offending value (an entry, a row sum, a shape).
    """

    def __init__(self, message: str, *, argument: str, index: tuple | None = None,
                 value: object = None) -> None:
        super().__init__(message)
        self.argument = argument
        self.index = index
        self.value = value

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Pickle support (multiprocessing sends errors between processes): message and attributes."""
        return (_rebuild, (type(self), str(self), self.argument, self.index, self.value))


class NonTerminatingPolicyError(ValidationError):
    """γ = 1 and the policy does not reach a terminal state with probability 1.

    With γ = 1 the values v = (I − P̃^π)⁻¹ r^π exist only when I − P^π restricted
    to the non-terminal states is invertible, i.e. when every non-terminal state
    can reach a terminal one under π.
    """


class MultichainPolicyError(ValidationError):
    """The chain P^π has more than one recurrent class (closed communicating class).

    The stationary distribution, the gain ρ and the bias h of the average-reward
    criterion are then not unique (Puterman 1994, §8.3: a multichain policy has a
    gain that depends on the start state).  ``value`` holds the recurrent
    classes, each a tuple of states in increasing order.
    """


def _rebuild(cls: type[ValidationError], message: str, argument: str, index: tuple | None,
             value: object) -> ValidationError:
    """An unpickled ValidationError (or subclass): the keyword-only fields are passed by name."""
    return cls(message, argument=argument, index=index, value=value)


# Both are documented at the top level; tracebacks name them as ``mdpgrad.ValidationError``.
for _cls in (ValidationError, NonTerminatingPolicyError, MultichainPolicyError):
    _cls.__module__ = "mdpgrad"
