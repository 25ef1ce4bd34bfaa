"""MDP files (.npz, .json) and converters from Gymnasium and pymdptoolbox.

Files
-----
:func:`save` and :func:`load` pick the format from the suffix.  Both formats
hold the same fields and round-trip an :class:`~mdpgrad.model.MDP` exactly,
bit for bit, dense or sparse:

* ``.npz`` (``numpy.savez_compressed``): plain numeric arrays ``r`` (S, A),
  ``rho0`` (S,), ``terminal`` (S,) bool, ``gamma`` (0-d), and either ``P``
  (S, A, S) or the CSR components ``P_data``, ``P_indices``, ``P_indptr`` of the
  (S·A, S) matrix, plus the string tags ``format`` = ``"mdpgrad.mdp"`` and
  ``layout`` (``"dense"`` or ``"sparse"``) and the integer ``version`` = 1.  It
  is read with ``allow_pickle=False``: an object array is refused.
* ``.json``, schema version 1::

      {"format": "mdpgrad.mdp", "version": 1,
       "n_states": S, "n_actions": A, "gamma": γ, "layout": "dense" | "sparse",
       "P": [[[P(s'|s, a) for s'] for a] for s]            (dense)
          | {"data": [...], "indices": [...], "indptr": [...]}  (sparse: CSR of (S·A, S)),
       "r": [[r(s, a) for a] for s], "rho0": [ρ₀(s) for s], "terminal": [true/false for s]}

  Floats are written with Python's shortest round-trip representation
  (``repr``), which reads back as the same double (e.g. ``0.1``,
  ``0.3333333333333333``, ``1e-300``, ``5e-324``), so the round trip is exact.

Loading never executes code and never repairs anything: a wrong format tag,
a missing or unknown key, a wrong shape or type, or a non-numeric entry raises
:class:`~mdpgrad.errors.ValidationError` naming the field; the model itself is
then validated by :class:`~mdpgrad.model.MDP`.

Converters
----------
:func:`from_gymnasium` (and :func:`convert_gymnasium`, which also says which
termination rule it applied) reads Gymnasium's ``env.unwrapped.P``;
:func:`from_mdptoolbox` reads pymdptoolbox's (A, S, S) layout.  The tests check
the round trips, a table of malformed files, and both converters against
values computed independently from the source data.
"""

from __future__ import annotations

import json
import numbers
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import ValidationError
from .model import DEFAULT_ATOL, MDP

__all__ = [
    "FORMAT",
    "VERSION",
    "GymnasiumConversion",
    "convert_gymnasium",
    "from_gymnasium",
    "from_mdptoolbox",
    "load",
    "mdp_from_dict",
    "mdp_to_dict",
    "save",
]

FORMAT = "mdpgrad.mdp"
VERSION = 1

_COMMON_KEYS = {"format", "version", "layout", "gamma", "r", "rho0", "terminal"}
_NPZ_KEYS = {"dense": _COMMON_KEYS | {"P"},
             "sparse": _COMMON_KEYS | {"P_data", "P_indices", "P_indptr"}}


def _suffix(path: Any) -> str:
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in (".npz", ".json"):
        raise ValidationError(f"path {os.fspath(path)!r} has suffix {suffix!r}; expected .npz or .json",
                              argument="path", value=os.fspath(path))
    return suffix


# -- writing --------------------------------------------------------------------

def mdp_to_dict(mdp: MDP) -> dict[str, Any]:
    """The JSON document (schema version 1, see module notes) of an MDP, as plain Python objects.

    Examples
    --------
    >>> from mdpgrad.examples import two_state
    >>> d = mdp_to_dict(two_state())
    >>> d["format"], d["layout"], d["P"][1][1]
    ('mdpgrad.mdp', 'dense', [0.0, 1.0])
    """
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "n_states": mdp.n_states,
                           "n_actions": mdp.n_actions, "gamma": float(mdp.gamma)}
    if mdp.is_sparse:
        doc["layout"] = "sparse"
        doc["P"] = {"data": mdp.P.data.tolist(), "indices": mdp.P.indices.tolist(),
                    "indptr": mdp.P.indptr.tolist()}
    else:
        doc["layout"] = "dense"
        doc["P"] = mdp.P.tolist()
    doc["r"] = mdp.r.tolist()
    doc["rho0"] = mdp.rho0.tolist()
    doc["terminal"] = mdp.terminal.tolist()
    return doc


def save(mdp: MDP, path: str | os.PathLike[str]) -> None:
    """Write an MDP to ``path``; the suffix (.npz or .json) chooses the format.

    Parameters
    ----------
    mdp : MDP
    path : str or path-like
        Ends in ``.npz`` or ``.json``.

    Raises
    ------
    ValidationError
        For any other suffix (argument ``"path"``).
    """
    if not isinstance(mdp, MDP):
        raise ValidationError(f"mdp is a {type(mdp).__name__}; expected an MDP", argument="mdp",
                              value=type(mdp).__name__)
    if _suffix(path) == ".json":
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(mdp_to_dict(mdp), fh, allow_nan=False)
            fh.write("\n")
        return
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT), "version": np.array(VERSION, dtype=np.int64),
        "gamma": np.array(mdp.gamma, dtype=np.float64), "r": mdp.r, "rho0": mdp.rho0,
        "terminal": mdp.terminal}
    if mdp.is_sparse:
        arrays.update(layout=np.array("sparse"), P_data=mdp.P.data, P_indices=mdp.P.indices,
                      P_indptr=mdp.P.indptr)
    else:
        arrays.update(layout=np.array("dense"), P=mdp.P)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


# -- field checks shared by both readers ----------------------------------------------

_KINDS = {"float": "fiu", "int": "iu", "bool": "b"}


def _field(arr: np.ndarray, name: str, shape: tuple[int, ...] | None, kind: str) -> np.ndarray:
    """Check dtype kind and shape of one stored field; return a float/int64/bool copy."""
    if arr.dtype.kind not in _KINDS[kind]:
        raise ValidationError(f"field {name!r} has dtype {arr.dtype}; expected {kind} numbers",
                              argument=name, value=str(arr.dtype))
    if shape is not None and arr.shape != shape:
        raise ValidationError(f"field {name!r} has shape {arr.shape}; expected {shape}",
                              argument=name, value=arr.shape)
    return arr.astype({"float": np.float64, "int": np.int64, "bool": bool}[kind])


def _check_tags(fmt: Any, version: Any, layout: Any) -> str:
    if fmt != FORMAT:
        raise ValidationError(f"field 'format' is {fmt!r}; expected {FORMAT!r}", argument="format",
                              value=fmt)
    if isinstance(version, bool) or not isinstance(version, numbers.Integral) or version != VERSION:
        raise ValidationError(f"field 'version' is {version!r}; this reader knows version {VERSION}",
                              argument="version", value=version)
    if layout not in ("dense", "sparse"):
        raise ValidationError(f"field 'layout' is {layout!r}; expected 'dense' or 'sparse'",
                              argument="layout", value=layout)
    return str(layout)


def _csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, S: int, A: int,
         prefix: str) -> sp.csr_array:
    """Assemble the (S·A, S) CSR matrix after checking its structure."""
    n = data.shape[0]
    if indptr.shape != (S * A + 1,):
        raise ValidationError(f"field '{prefix}indptr' has shape {indptr.shape}; expected ({S * A + 1},)",
                              argument=f"{prefix}indptr", value=indptr.shape)
    if indices.shape != (n,):
        raise ValidationError(f"field '{prefix}indices' has shape {indices.shape}; expected ({n},) "
                              f"like '{prefix}data'", argument=f"{prefix}indices", value=indices.shape)
    if indptr[0] != 0 or indptr[-1] != n or (np.diff(indptr) < 0).any():
        raise ValidationError(f"field '{prefix}indptr' must start at 0, not decrease and end at {n}",
                              argument=f"{prefix}indptr", value=(int(indptr[0]), int(indptr[-1])))
    bad = (indices < 0) | (indices >= S)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValidationError(f"field '{prefix}indices'[{k}] is {int(indices[k])}; expected 0 <= index < {S}",
                              argument=f"{prefix}indices", index=(k,), value=int(indices[k]))
    return sp.csr_array((data, indices, indptr), shape=(S * A, S))


# -- reading .npz ------------------------------------------------------------------

def _npz_get(f: Any, key: str) -> np.ndarray:
    try:
        return f[key]
    except ValueError as exc:  # object arrays under allow_pickle=False
        raise ValidationError(f"field {key!r} cannot be read without unpickling ({exc}); refused",
                              argument=key) from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValidationError(f"field {key!r} is corrupt: {exc}", argument=key) from None


def _npz_str(f: Any, key: str) -> Any:
    arr = _npz_get(f, key)
    if arr.shape != () or arr.dtype.kind != "U":
        return f"<array of dtype {arr.dtype}, shape {arr.shape}>"
    return str(arr[()])


def _load_npz(path: Any) -> MDP:
    try:
        f = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValidationError(f"{os.fspath(path)!r} is not a readable .npz file without unpickling: {exc}",
                              argument="path", value=os.fspath(path)) from None
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValidationError(f"{os.fspath(path)!r} is not a valid .npz file: {exc}",
                              argument="path", value=os.fspath(path)) from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise ValidationError(f"{os.fspath(path)!r} holds a single array, not an .npz archive",
                              argument="path", value=os.fspath(path))
    with f:
        keys = set(f.files)
        for key in ("format", "version", "layout"):
            if key not in keys:
                raise ValidationError(f"missing field {key!r}", argument=key)
        version = _npz_get(f, "version")
        version_v = (int(version[()]) if version.shape == () and version.dtype.kind in "iu"
                     else f"<array of dtype {version.dtype}, shape {version.shape}>")
        layout = _check_tags(_npz_str(f, "format"), version_v, _npz_str(f, "layout"))
        expected = _NPZ_KEYS[layout]
        for key in sorted(expected - keys):
            raise ValidationError(f"missing field {key!r} (layout {layout!r})", argument=key)
        for key in sorted(keys - expected):
            raise ValidationError(f"unknown field {key!r} (layout {layout!r})", argument=key)
        r = _npz_get(f, "r")
        if r.ndim != 2:
            raise ValidationError(f"field 'r' has shape {r.shape}; expected (S, A)", argument="r",
                                  value=r.shape)
        S, A = r.shape
        r = _field(r, "r", (S, A), "float")
        gamma = _field(_npz_get(f, "gamma"), "gamma", (), "float")
        rho0 = _field(_npz_get(f, "rho0"), "rho0", (S,), "float")
        terminal = _field(_npz_get(f, "terminal"), "terminal", (S,), "bool")
        if layout == "dense":
            P: Any = _field(_npz_get(f, "P"), "P", (S, A, S), "float")
        else:
            data = _field(_npz_get(f, "P_data"), "P_data", None, "float")
            if data.ndim != 1:
                raise ValidationError(f"field 'P_data' has shape {data.shape}; expected (nnz,)",
                                      argument="P_data", value=data.shape)
            P = _csr(data, _field(_npz_get(f, "P_indices"), "P_indices", None, "int"),
                     _field(_npz_get(f, "P_indptr"), "P_indptr", None, "int"), S, A, "P_")
    return MDP(P, r, float(gamma), rho0=rho0, terminal=terminal)


# -- reading .json -----------------------------------------------------------------

_JSON_TYPES = {"float": (int, float), "int": (int,), "bool": (bool,)}


def _json_array(value: Any, name: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """A nested JSON list of the given shape whose leaves are numbers of the given kind."""
    try:
        arr = np.array(value, dtype=object)
    except ValueError:
        arr = None
    if arr is None or arr.shape != shape:
        got = "ragged nested lists" if arr is None else f"shape {arr.shape}"
        raise ValidationError(f"field {name!r} has {got}; expected nested lists of shape {shape}",
                              argument=name, value=None if arr is None else arr.shape)
    allowed = _JSON_TYPES[kind]
    flat = arr.ravel()
    ok = [isinstance(e, allowed) and (kind == "bool" or not isinstance(e, bool)) for e in flat]
    if not all(ok):
        i = ok.index(False)
        idx = tuple(int(j) for j in np.unravel_index(i, shape))
        raise ValidationError(f"field {name!r}{list(idx)} is {flat[i]!r}; expected a JSON {kind}",
                              argument=name, index=idx, value=flat[i])
    try:
        return np.array(flat.tolist(), dtype={"float": np.float64, "int": np.int64, "bool": bool}[kind]
                        ).reshape(shape)
    except OverflowError:
        raise ValidationError(f"field {name!r} holds an integer too large to store", argument=name) from None


def mdp_from_dict(doc: Any) -> MDP:
    """Build an MDP from a JSON document (schema version 1, see module notes), checking every field.

    Raises
    ------
    ValidationError
        Naming the first malformed field.

    Examples
    --------
    >>> from mdpgrad.examples import two_state
    >>> mdp_from_dict(mdp_to_dict(two_state())).P.tolist() == two_state().P.tolist()
    True
    """
    if not isinstance(doc, Mapping):
        raise ValidationError(f"the JSON document is a {type(doc).__name__}; expected an object",
                              argument="format", value=type(doc).__name__)
    base = {"format", "version", "layout", "n_states", "n_actions", "gamma", "P", "r", "rho0",
            "terminal"}
    for key in ("format", "version", "layout"):
        if key not in doc:
            raise ValidationError(f"missing field {key!r}", argument=key)
    _check_tags(doc["format"], doc["version"], doc["layout"])
    for key in sorted(base - set(doc)):
        raise ValidationError(f"missing field {key!r}", argument=key)
    for key in sorted(set(doc) - base, key=str):
        raise ValidationError(f"unknown field {key!r}", argument=str(key))
    S, A = doc["n_states"], doc["n_actions"]
    for name, n in (("n_states", S), ("n_actions", A)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValidationError(f"field {name!r} is {n!r}; expected an integer >= 1", argument=name,
                                  value=n)
    gamma = doc["gamma"]
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        raise ValidationError(f"field 'gamma' is {gamma!r}; expected a JSON number", argument="gamma",
                              value=gamma)
    r = _json_array(doc["r"], "r", (S, A), "float")
    rho0 = _json_array(doc["rho0"], "rho0", (S,), "float")
    terminal = _json_array(doc["terminal"], "terminal", (S,), "bool")
    if doc["layout"] == "dense":
        P: Any = _json_array(doc["P"], "P", (S, A, S), "float")
    else:
        Pd = doc["P"]
        if not isinstance(Pd, Mapping) or set(Pd) != {"data", "indices", "indptr"}:
            raise ValidationError("field 'P' of a sparse file must be an object with exactly the keys "
                                  "'data', 'indices', 'indptr'", argument="P")
        for key in ("data", "indices"):
            if not isinstance(Pd[key], list):
                raise ValidationError(f"field 'P.{key}' is not a list", argument=f"P.{key}")
        n = len(Pd["data"])
        P = _csr(_json_array(Pd["data"], "P.data", (n,), "float"),
                 _json_array(Pd["indices"], "P.indices", (len(Pd["indices"]),), "int"),
                 _json_array(Pd["indptr"], "P.indptr", (S * A + 1,), "int"), S, A, "P.")
    return MDP(P, r, float(gamma), rho0=rho0, terminal=terminal)


def load(path: str | os.PathLike[str]) -> MDP:
    """Read an MDP written by :func:`save`; the suffix (.npz or .json) chooses the format.

    Nothing in the file is executed: .npz files are read with
    ``allow_pickle=False`` and JSON is parsed as data.

    Raises
    ------
    ValidationError
        If the file is malformed; the message names the field.
    OSError
        If the file cannot be opened.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from mdpgrad.examples import two_state
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "m.json"
    ...     save(two_state(), p)
    ...     load(p).r.tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    if _suffix(path) == ".npz":
        return _load_npz(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValidationError(f"{os.fspath(path)!r} is not valid UTF-8 JSON: {exc}", argument="path",
                              value=os.fspath(path)) from None
    return mdp_from_dict(doc)


# -- converters ----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class GymnasiumConversion:
    """The result of :func:`convert_gymnasium`, with a record of what was done.

    Attributes
    ----------
    mdp : MDP
    terminal_states : tuple of int
        Original states entered only by ``terminated=True`` transitions; they
        became terminal (absorbing, zero reward) and their own outgoing
        transitions in the dict were dropped (an episode never leaves them).
    redirected_states : tuple of int
        Original states entered both with ``terminated=True`` and ``False``;
        the terminated transitions into them now lead to ``extra_terminal``.
    extra_terminal : int or None
        Index S of the absorbing terminal state appended for the redirected
        transitions, or None when no state needed it.
    """

    mdp: MDP
    terminal_states: tuple[int, ...]
    redirected_states: tuple[int, ...]
    extra_terminal: int | None

    @property
    def rules(self) -> str:
        """One line saying which termination rule(s) applied."""
        parts = []
        if self.terminal_states:
            parts.append(f"states {list(self.terminal_states)} entered only on termination made terminal")
        if self.redirected_states:
            parts.append(f"terminated transitions into states {list(self.redirected_states)} redirected "
                         f"to the appended terminal state {self.extra_terminal}")
        return "; ".join(parts) if parts else "no terminated transitions"


def _is_real(x: Any) -> bool:
    return isinstance(x, (numbers.Real, np.floating, np.integer)) and not isinstance(x, (bool, np.bool_))


def _gym_table(P: Any) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten the dict to arrays (row x = s·A + a, next, prob, reward, terminated), checking every entry."""
    if not isinstance(P, Mapping) or not P:
        raise ValidationError("P must be a non-empty dict {state: {action: [(prob, next, reward, "
                              "terminated), ...]}}", argument="P", value=type(P).__name__)
    S = len(P)
    if set(P) != set(range(S)):
        raise ValidationError(f"the states of P are not 0..{S - 1}", argument="P",
                              value=sorted(P, key=str)[:5])
    A = len(P[0]) if isinstance(P[0], Mapping) else 0
    rows, nxt, prob, rew, term = [], [], [], [], []
    for s in range(S):
        acts = P[s]
        if not isinstance(acts, Mapping) or not acts:
            raise ValidationError(f"P[{s}] is not a non-empty dict of actions", argument="P", index=(s,))
        if set(acts) != set(range(A)):
            raise ValidationError(f"P[{s}] has actions {sorted(acts, key=str)}; expected 0..{A - 1} "
                                  "like state 0", argument="P", index=(s,), value=len(acts))
        for a in range(A):
            trans = acts[a]
            if isinstance(trans, (str, bytes)) or not isinstance(trans, Sequence) or not trans:
                raise ValidationError(f"P[{s}][{a}] is not a non-empty list of transitions",
                                      argument="P", index=(s, a))
            for k, t in enumerate(trans):
                if not isinstance(t, Sequence) or len(t) != 4:
                    raise ValidationError(f"P[{s}][{a}][{k}] is {t!r}; expected (prob, next_state, "
                                          "reward, terminated)", argument="P", index=(s, a, k), value=t)
                p, s2, rw, done = t
                if not _is_real(p) or not _is_real(rw):
                    raise ValidationError(f"P[{s}][{a}][{k}] has prob {p!r} and reward {rw!r}; expected "
                                          "real numbers", argument="P", index=(s, a, k), value=t)
                if (isinstance(s2, (bool, np.bool_)) or not isinstance(s2, (numbers.Integral, np.integer))
                        or not 0 <= s2 < S):
                    raise ValidationError(f"P[{s}][{a}][{k}] has next state {s2!r}; expected an int in "
                                          f"0..{S - 1}", argument="P", index=(s, a, k), value=s2)
                if not isinstance(done, (bool, np.bool_)):
                    raise ValidationError(f"P[{s}][{a}][{k}] has terminated={done!r}; expected a bool",
                                          argument="P", index=(s, a, k), value=done)
                rows.append(s * A + a)
                nxt.append(int(s2))
                prob.append(float(p))
                rew.append(float(rw))
                term.append(bool(done))
    prob_a, rew_a = np.array(prob), np.array(rew)
    for name, arr in (("probability", prob_a), ("reward", rew_a)):
        bad = ~np.isfinite(arr) | ((arr < 0) if name == "probability" else False)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValidationError(f"a transition of P[{rows[i] // A}][{rows[i] % A}] has {name} {arr[i]!r}",
                                  argument="P", index=(rows[i] // A, rows[i] % A), value=float(arr[i]))
    rows_a = np.array(rows)
    sums = np.bincount(rows_a, weights=prob_a, minlength=S * A)
    off = np.abs(sums - 1.0) > DEFAULT_ATOL
    if off.any():
        x = int(np.argmax(off))
        raise ValidationError(f"the probabilities of P[{x // A}][{x % A}] sum to {sums[x]!r}; expected 1 "
                              f"within atol={DEFAULT_ATOL:g}", argument="P", index=(x // A, x % A),
                              value=float(sums[x]))
    return S, A, rows_a, np.array(nxt, dtype=np.int64), prob_a, rew_a, np.array(term, dtype=bool)


def convert_gymnasium(P: Any, *, gamma: float, rho0: Any = None,
                      sparse: bool = False) -> GymnasiumConversion:
    """Convert Gymnasium's ``env.unwrapped.P`` and say which termination rule applied.

    Input: ``P[s][a]`` is a list of ``(prob, next_state, reward, terminated)``
    (the toy-text environments: FrozenLake, CliffWalking, Taxi).  Conversion:

    1. repeated next states of one (s, a) are summed;
    2. rewards are reduced to expectations r(s, a) = Σ prob · reward, including
       the reward of a terminating transition;
    3. termination, per entered state s' (Gymnasium does not make its
       terminal states absorbing, so this is where the conversion decides):

       * s' entered **only** by ``terminated=True`` transitions becomes a
         terminal state: absorbing, zero reward; its own outgoing transitions
         in the dict (never used in an episode) are dropped after being
         checked like every other row;
       * s' entered by both kinds: the ``terminated=True`` transitions into it
         are redirected to one absorbing terminal state appended at index S
         (the MDP then has S + 1 states); the ``False`` ones are kept.

    Nothing else is changed: a row whose probabilities do not sum to 1, a
    negative or non-finite number, or a malformed entry raises.

    Parameters
    ----------
    P : dict
        ``{s: {a: [(prob, next_state, reward, terminated), ...]}}`` with states
        0..S−1 and the same actions 0..A−1 in every state.
    gamma : float
        Discount (Gymnasium has none; γ = 1 is allowed for episodic tasks).
    rho0 : array_like, shape (S,), optional
        Start distribution over the original states (e.g. FrozenLake's
        ``env.unwrapped.initial_state_distrib``); extended by 0 for an appended
        terminal.  Default: uniform over the non-terminal states.
    sparse : bool, optional
        Store P as a csr_array (default dense).

    Returns
    -------
    GymnasiumConversion

    Examples
    --------
    A one-step "bandit": action 0 ends the episode in state 1 with reward 1.

    >>> P = {0: {0: [(1.0, 1, 1.0, True)], 1: [(0.5, 0, 0.0, False), (0.5, 0, 0.0, False)]},
    ...      1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]}}
    >>> c = convert_gymnasium(P, gamma=1.0)
    >>> c.terminal_states, c.mdp.P[0, 1].tolist(), c.rules
    ((1,), [1.0, 0.0], 'states [1] entered only on termination made terminal')
    """
    S, A, rows, nxt, prob, rew, term = _gym_table(P)
    r = np.bincount(rows, weights=prob * rew, minlength=S * A).reshape(S, A)
    entered_term = np.zeros(S, dtype=bool)
    entered_cont = np.zeros(S, dtype=bool)
    entered_term[nxt[term]] = True
    entered_cont[nxt[~term]] = True
    only_term = entered_term & ~entered_cont
    mixed = entered_term & entered_cont
    extra = S if mixed.any() else None
    S_out = S + 1 if extra is not None else S
    terminal = np.zeros(S_out, dtype=bool)
    terminal[:S] = only_term
    if extra is not None:
        terminal[extra] = True
        nxt = np.where(term & mixed[nxt], extra, nxt)
    # rows of terminal states: absorbing with zero reward (their dict entries are dropped)
    keep = ~terminal[rows // A]
    t_states = np.flatnonzero(terminal)
    t_rows = (t_states[:, None] * A + np.arange(A)[None, :]).ravel()
    all_rows = np.concatenate([rows[keep], t_rows])
    all_cols = np.concatenate([nxt[keep], np.repeat(t_states, A)])
    all_p = np.concatenate([prob[keep], np.ones(t_rows.size)])
    r_out = np.zeros((S_out, A))
    r_out[:S] = r
    r_out[terminal] = 0.0
    Pm = sp.csr_array(sp.coo_array((all_p, (all_rows, all_cols)), shape=(S_out * A, S_out)))
    Pm.sum_duplicates()
    if rho0 is not None:
        try:
            rho0 = np.asarray(rho0, dtype=float)
        except (TypeError, ValueError):
            raise ValidationError(f"rho0 is {rho0!r}; expected ({S},) numbers", argument="rho0") from None
        if rho0.shape != (S,):
            raise ValidationError(f"rho0 has shape {rho0.shape}; expected ({S},)", argument="rho0",
                                  value=rho0.shape)
        if extra is not None:
            rho0 = np.append(rho0, 0.0)
    P_out: Any = Pm if sparse else Pm.toarray().reshape(S_out, A, S_out)
    mdp = MDP(P_out, r_out, gamma, rho0=rho0, terminal=terminal)
    return GymnasiumConversion(mdp=mdp, terminal_states=tuple(int(s) for s in np.flatnonzero(only_term)),
                               redirected_states=tuple(int(s) for s in np.flatnonzero(mixed)),
                               extra_terminal=extra)


def from_gymnasium(P: Any, *, gamma: float, rho0: Any = None, sparse: bool = False) -> MDP:
    """An MDP from Gymnasium's ``env.unwrapped.P`` (see :func:`convert_gymnasium` for the rules).

    Examples
    --------
    >>> P = {0: {0: [(1.0, 1, 1.0, True)]}, 1: {0: [(1.0, 1, 0.0, True)]}}
    >>> from_gymnasium(P, gamma=1.0).terminal.tolist()
    [False, True]
    """
    return convert_gymnasium(P, gamma=gamma, rho0=rho0, sparse=sparse).mdp


def _toolbox_stack(P: Any, name: str) -> tuple[list[Any], bool]:
    """pymdptoolbox's P or R given as an (A, S, S) array or a sequence of A (S, S) matrices."""
    if sp.issparse(P):
        raise ValidationError(f"{name} is a single sparse matrix; expected A matrices of shape (S, S)",
                              argument=name, value=P.shape)
    if isinstance(P, np.ndarray) and P.dtype != object:
        mats = list(P)
    elif isinstance(P, (Sequence, np.ndarray)) and not isinstance(P, (str, bytes)):
        mats = list(P)
    else:
        raise ValidationError(f"{name} is a {type(P).__name__}; expected an (A, S, S) array",
                              argument=name, value=type(P).__name__)
    return mats, any(sp.issparse(m) for m in mats)


def from_mdptoolbox(P: Any, R: Any, gamma: float) -> MDP:
    """An MDP from pymdptoolbox's layout (Chadès et al. 2014, ``mdptoolbox.mdp``).

    Parameters
    ----------
    P : ndarray, shape (A, S, S), or sequence of A (S, S) matrices (dense or scipy.sparse)
        ``P[a][s, s'] = Pr(s'|s, a)``, action first.  Sparse input gives a
        sparse MDP.
    R : ndarray, shape (S,), (S, A) or (A, S, S) (or a sequence of A (S, S) matrices)
        Reward of the state, of the pair, or of the transition; reduced to
        r(s, a) = R[s], R[s, a] or Σ_s' P[a][s, s'] R[a][s, s'].
    gamma : float
        pymdptoolbox's ``discount``.

    Examples
    --------
    >>> P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]])
    >>> from_mdptoolbox(P, np.array([0.0, 1.0]), 0.9).r.tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    """
    mats, is_sparse = _toolbox_stack(P, "P")
    A = len(mats)
    if A == 0:
        raise ValidationError("P holds no action", argument="P", value=0)
    shapes = {tuple(getattr(m, "shape", np.shape(m))) for m in mats}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or len(set(next(iter(shapes)))) != 1:
        raise ValidationError(f"P holds matrices of shapes {sorted(shapes)}; expected A matrices (S, S)",
                              argument="P", value=sorted(shapes))
    S = next(iter(shapes))[0]
    if is_sparse:
        stacked = sp.csr_array(sp.vstack([sp.csr_array(m, dtype=np.float64) for m in mats]))
        order = (np.arange(A)[None, :] * S + np.arange(S)[:, None]).ravel()  # row s·A + a <- a·S + s
        P_out: Any = sp.csr_array(stacked[order])
    else:
        P_out = np.stack([np.asarray(m) for m in mats]).transpose(1, 0, 2)
    R_is_sparse = sp.issparse(R) or (isinstance(R, (list, tuple)) and any(sp.issparse(m) for m in R))
    if R_is_sparse or (isinstance(R, (list, tuple)) and len(R) == A and np.ndim(R[0]) == 2):
        rmats, _ = _toolbox_stack(R, "R")
        if len(rmats) != A:
            raise ValidationError(f"R holds {len(rmats)} matrices; expected {A}", argument="R",
                                  value=len(rmats))
        bad = [a for a, m in enumerate(rmats) if tuple(getattr(m, "shape", np.shape(m))) != (S, S)]
        if bad:
            raise ValidationError(f"R[{bad[0]}] is not of shape ({S}, {S})", argument="R", index=(bad[0],))
        r = np.empty((S, A))
        for a, (pm, rm) in enumerate(zip(mats, rmats, strict=True)):
            prod = (sp.csr_array(pm).multiply(sp.csr_array(rm)) if sp.issparse(pm) or sp.issparse(rm)
                    else np.asarray(pm) * np.asarray(rm))
            r[:, a] = np.asarray(prod.sum(axis=1)).ravel()
        return MDP(P_out, r, gamma)
    R_arr = np.asarray(R)
    if R_arr.shape == (S,):
        r_in: Any = np.repeat(R_arr[:, None], A, axis=1)
    elif R_arr.shape == (S, A):
        r_in = R_arr
    elif R_arr.shape == (A, S, S):
        r_in = R_arr.transpose(1, 0, 2)  # MDP reduces (S, A, S) with P
    else:
        raise ValidationError(f"R has shape {R_arr.shape}; expected ({S},), ({S}, {A}) or ({A}, {S}, {S})",
                              argument="R", value=R_arr.shape)
    return MDP(P_out, r_in, gamma)
