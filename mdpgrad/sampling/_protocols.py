"""How a sampled episode stops: the three stopping protocols, "auto", and the truncation bound.

``"terminal"`` runs until a terminal state is reached, ``"horizon"`` stops
after H actions (or earlier at a terminal state) and ``"geometric"`` stops with
probability 1 − γ after every step (and at a terminal state); the docstring of
``mdpgrad.sampling._sampler`` says what each gives.  "auto"
(:func:`resolve_protocol`) is "terminal" when the MDP has terminal states,
else "geometric".  Under ``"horizon"`` the truncated discounted return misses
at most :func:`truncation_bound` = γᴴ·max|r|/(1 − γ) of J.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from .._errors import ValidationError
from .._model import MDP, validate_mdp
from .._validation import check_choice, check_integer

__all__ = ["PROTOCOLS", "ProtocolOption", "StoppingProtocol", "resolve_protocol", "truncation_bound"]


#: How an episode stops: at a terminal state, after H actions, or at a geometric time.
StoppingProtocol = Literal["terminal", "horizon", "geometric"]
#: A stopping protocol, or "auto" (:func:`resolve_protocol` picks one from the MDP).
ProtocolOption = Literal["auto", "terminal", "horizon", "geometric"]

#: The stopping protocols understood by :func:`sample` (plus ``"auto"``).
PROTOCOLS: tuple[StoppingProtocol, ...] = ("terminal", "horizon", "geometric")


def truncation_bound(mdp: MDP, horizon: int) -> float:
    """γᴴ · max|r| / (1 − γ): the most a horizon-H truncation can change J (max over available actions).

    Parameters
    ----------
    mdp : MDP
    horizon : int
        H, the number of actions after which an episode is cut.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import MDP
    >>> from mdpgrad.sampling import truncation_bound
    >>> P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> truncation_bound(MDP(P, [[1.0], [0.5]], gamma=0.5), 3)
    0.25
    """
    mdp = validate_mdp(mdp)
    horizon = check_integer(horizon, "horizon", min_value=1)
    rmax = float(np.max(np.abs(mdp.r[mdp.actions])))
    if rmax == 0.0:
        return 0.0
    if mdp.gamma == 1.0:
        return math.inf
    return mdp.gamma ** float(min(horizon, 2**62)) * rmax / (1.0 - mdp.gamma)


def resolve_protocol(mdp: MDP, protocol: ProtocolOption, horizon: int | None) -> StoppingProtocol:
    """Validate ``protocol`` and ``horizon``; "auto" becomes "terminal" or "geometric".

    "auto" is "terminal" when the MDP has terminal states, else "geometric".

    Raises
    ------
    ValidationError
        An unknown protocol; "horizon" without an integer H ≥ 1, or H given to
        another protocol; "terminal" on an MDP without terminal states.
    """
    check_choice(protocol, "protocol", ("auto", *PROTOCOLS))
    resolved: StoppingProtocol
    if protocol == "auto":
        resolved = "terminal" if mdp.terminal.any() else "geometric"
    else:
        resolved = protocol
    if resolved == "horizon":
        check_integer(horizon, "horizon", min_value=1)
    elif horizon is not None:
        raise ValidationError(f"horizon is {horizon!r} but protocol is {resolved!r}; "
                              "horizon is only used by protocol 'horizon'", argument="horizon", value=horizon)
    if resolved == "terminal" and not mdp.terminal.any():
        raise ValidationError("protocol 'terminal' needs terminal states; use 'horizon' or 'geometric'",
                              argument="protocol", value=resolved)
    return resolved
