"""MDP files: .npz and .json, exact round trip, never executing code.

Files
-----
:func:`save` and :func:`load` pick the format from the suffix.  Both formats
hold the same fields and round-trip an :class:`~mdpgrad.MDP` exactly,
bit for bit, dense or sparse:

* ``.npz`` (``numpy.savez_compressed``): plain numeric arrays ``r`` (S, A),
  ``rho0`` (S,), ``terminal`` (S,) bool, ``gamma`` (0-d), and either ``P``
  (S, A, S) or the CSR components ``P_data``, ``P_indices``, ``P_indptr`` of the
  (S·A, S) matrix, plus the string tags ``format`` = ``"mdpgrad.mdp"`` and
  ``layout`` (``"dense"`` or ``"sparse"``) and the integer ``version`` = 1.  It
  is read with ``allow_pickle=False``: an object array is refused.  An
  optional integer array ``grid_shape`` (2,) holds a gridworld's layout;
  from version 2 an optional bool array ``actions`` (S, A) the action sets.
* ``.json``, schema version 1 (2 with ``"actions"``)::

      {"format": "mdpgrad.mdp", "version": 1,
       "n_states": S, "n_actions": A, "gamma": γ, "layout": "dense" | "sparse",
       "P": [[[P(s'|s, a) for s'] for a] for s]            (dense)
          | {"data": [...], "indices": [...], "indptr": [...]}  (sparse: CSR of (S·A, S)),
       "r": [[r(s, a) for a] for s], "rho0": [ρ₀(s) for s], "terminal": [true/false for s],
       "grid_shape": [n_rows, n_cols],                       (optional)
       "actions": [[true/false for a] for s]}                (optional, version 2)

  Versions.  A model with action sets (``mdp.has_action_sets``) is written
  as version 2 with its mask; any other as version 1, which readers without
  action sets also read.  Both versions load; a version-1 file has every
  action available, and ``actions`` in a version-1 file is refused (a
  reader of version 1 would drop it silently).

  Floats are written with Python's shortest round-trip representation
  (``repr``), which reads back as the same double (e.g. ``0.1``,
  ``0.3333333333333333``, ``1e-300``, ``5e-324``), so the round trip is exact.

Loading never executes code and never repairs anything: a wrong format tag,
a missing or unknown key, a key (JSON) or member (.npz) given twice, a wrong
shape or type, or a non-numeric entry raises
:class:`~mdpgrad.ValidationError` naming the field; the model itself is
then validated by :class:`~mdpgrad.MDP`.

Converters from other layouts are in :mod:`mdpgrad.io` too.
"""

from __future__ import annotations

import json
import numbers
import os
import stat
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._errors import ValidationError
from .._model import MDP, validate_mdp
from .._validation import check_memory, check_real

__all__ = [
    "FORMAT",
    "VERSION",
    "VERSIONS",
    "load",
    "mdp_from_dict",
    "mdp_to_dict",
    "save",
]

FORMAT = "mdpgrad.mdp"
#: The newest version written (a model with action sets); a model without them is written as 1.
VERSION = 2
#: Every version this reader loads.
VERSIONS = (1, 2)

_WHAT_A_FILE_IS = ("An mdpgrad file is an .npz or .json file written by mdpgrad.save(mdp, path); "
                   "see the mdpgrad.io documentation for its fields.")

_COMMON_KEYS = {"format", "version", "layout", "gamma", "r", "rho0", "terminal"}
_NPZ_KEYS = {"dense": _COMMON_KEYS | {"P"},
             "sparse": _COMMON_KEYS | {"P_data", "P_indices", "P_indptr"}}


def _suffix(path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError(f"path is a {type(path).__name__}; expected a str or a path-like object",
                              argument="path", value=type(path).__name__)
    try:
        suffix = os.path.splitext(os.fspath(path))[1].lower()
    except TypeError:       # a PathLike whose __fspath__ returns bytes
        raise ValidationError(f"path {path!r} is not a text path", argument="path") from None
    if suffix not in (".npz", ".json"):
        raise ValidationError(f"path {os.fspath(path)!r} has suffix {suffix!r}; expected .npz or .json",
                              argument="path", value=os.fspath(path))
    return suffix


# -- writing --------------------------------------------------------------------

def mdp_to_dict(mdp: MDP) -> dict[str, Any]:
    """The JSON document of an MDP, as plain Python objects.

    The schema is version 1, or version 2 for a model with action sets (see the module notes).

    Parameters
    ----------
    mdp : MDP
        The model to write.

    Examples
    --------
    >>> from mdpgrad.io import mdp_to_dict
    >>> from mdpgrad.examples import two_state
    >>> d = mdp_to_dict(two_state())
    >>> d["format"], d["layout"], d["P"][1][1]
    ('mdpgrad.mdp', 'dense', [0.0, 1.0])
    """
    mdp = validate_mdp(mdp)
    doc: dict[str, Any] = {"format": FORMAT, "version": _version_of(mdp), "n_states": mdp.n_states,
                           "n_actions": mdp.n_actions, "gamma": float(mdp.gamma)}
    P = mdp.P
    if isinstance(P, np.ndarray):
        doc["layout"] = "dense"
        doc["P"] = P.tolist()
    else:
        doc["layout"] = "sparse"
        doc["P"] = {"data": P.data.tolist(), "indices": P.indices.tolist(), "indptr": P.indptr.tolist()}
    doc["r"] = mdp.r.tolist()
    doc["rho0"] = mdp.rho0.tolist()
    doc["terminal"] = mdp.terminal.tolist()
    if mdp.grid_shape is not None:
        doc["grid_shape"] = list(mdp.grid_shape)
    if mdp.has_action_sets:
        doc["actions"] = mdp.actions.tolist()
    return doc


def _version_of(mdp: MDP) -> int:
    """2 for a model with action sets, else 1 (readable by readers that predate them)."""
    return 2 if mdp.has_action_sets else 1


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
        For any other suffix, or when ``path`` exists and is not a regular file (a directory, a
        FIFO, a device), argument ``"path"``.
    """
    if not isinstance(mdp, MDP):
        raise ValidationError(f"mdp is a {type(mdp).__name__}; expected an MDP", argument="mdp",
                              value=type(mdp).__name__)
    suffix = _suffix(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        pass                                 # a new file (a dangling symlink fails in open, below)
    else:
        _check_regular(st, path)             # a FIFO would block forever, a device would be written to
    if suffix == ".json":
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(mdp_to_dict(mdp), fh, allow_nan=False)
            fh.write("\n")
        return
    arrays: dict[str, Any] = {
        "format": np.array(FORMAT), "version": np.array(_version_of(mdp), dtype=np.int64),
        "gamma": np.array(mdp.gamma, dtype=np.float64), "r": mdp.r, "rho0": mdp.rho0,
        "terminal": mdp.terminal}
    if mdp.grid_shape is not None:
        arrays["grid_shape"] = np.array(mdp.grid_shape, dtype=np.int64)
    if mdp.has_action_sets:
        arrays["actions"] = mdp.actions
    P = mdp.P
    if isinstance(P, np.ndarray):
        arrays.update(layout=np.array("dense"), P=P)
    else:
        arrays.update(layout=np.array("sparse"), P_data=P.data, P_indices=P.indices, P_indptr=P.indptr)
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
        raise ValidationError(f"field 'format' is {fmt!r}; expected {FORMAT!r}. {_WHAT_A_FILE_IS}",
                              argument="format", value=fmt)
    if isinstance(version, bool) or not isinstance(version, numbers.Integral) or version not in VERSIONS:
        raise ValidationError(f"field 'version' is {version!r}; this reader knows versions "
                              f"{', '.join(map(str, VERSIONS))}", argument="version", value=version)
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

#: Deflate expands at most 1032-fold (RFC 1951: a 258-byte match costs at least 2 bits), so a
#: member whose directory entry claims more is forged.
DEFLATE_MAX_RATIO = 1032


def _npz_header(f: Any, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype a member claims in its .npy header, checked against the member's size.

    The .npy header is read without reading the data; the data it announces must be exactly what
    the zip directory says the member holds (numpy writes header + data and nothing else), and the
    member cannot decompress to more than deflate allows.  So a few hundred bytes cannot make
    :func:`load` allocate gigabytes.
    """
    try:
        info = f.zip.getinfo(key + ".npy")
        with f.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            header_bytes = member.tell()
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValidationError(f"field {key!r} has an unreadable .npy header: {exc}", argument=key) from None
    claimed = float(np.prod(shape, dtype=float)) * dtype.itemsize
    ratio_ok = info.compress_type == zipfile.ZIP_STORED or info.file_size <= DEFLATE_MAX_RATIO * max(
        info.compress_size, 1) + 1024
    if header_bytes + claimed != info.file_size or not ratio_ok:
        raise ValidationError(f"field {key!r} claims shape {shape} ({claimed:.0f} bytes of data) but the "
                              f"archive holds {info.file_size - header_bytes} bytes for it; refused",
                              argument=key, value=shape)
    return shape, dtype


def _npz_get(f: Any, key: str) -> np.ndarray:
    shape, dtype = _npz_header(f, key)
    if dtype.hasobject:
        raise ValidationError(f"field {key!r} holds Python objects and cannot be read without unpickling; "
                              "refused", argument=key, value=str(dtype))
    check_memory(float(np.prod(shape, dtype=float)) * dtype.itemsize,
                 f"field {key!r} (shape {shape}, dtype {dtype})", key)   # an honest but huge file
    try:
        return f[key]
    except ValueError as exc:  # object arrays under allow_pickle=False, or data shorter than the header
        raise ValidationError(f"field {key!r} cannot be read as a plain array ({exc}); refused",
                              argument=key) from None
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ValidationError(f"field {key!r} is corrupt: {exc}", argument=key) from None


def _npz_str(f: Any, key: str, header: tuple[tuple[int, ...], np.dtype]) -> Any:
    shape, dtype = header
    if shape != () or dtype.kind != "U":          # described from its header, never read
        return f"<array of dtype {dtype}, shape {shape}>"
    return str(_npz_get(f, key)[()])


def _npz_expected(layout: str, headers: dict[str, tuple[tuple[int, ...], np.dtype]]
                  ) -> dict[str, tuple[tuple[int, ...], str]]:
    """The shape and kind every field must have, from the headers of 'r' (S, A) and 'P_data' (nnz,)."""
    r_shape = headers["r"][0]
    if len(r_shape) != 2:
        raise ValidationError(f"field 'r' has shape {r_shape}; expected (S, A)", argument="r", value=r_shape)
    S, A = r_shape
    expected = {"r": ((S, A), "float"), "gamma": ((), "float"), "rho0": ((S,), "float"),
                "terminal": ((S,), "bool"), "grid_shape": ((2,), "int"), "actions": ((S, A), "bool")}
    if layout == "dense":
        expected["P"] = ((S, A, S), "float")
    else:
        data_shape = headers["P_data"][0]
        if len(data_shape) != 1:
            raise ValidationError(f"field 'P_data' has shape {data_shape}; expected (nnz,)",
                                  argument="P_data", value=data_shape)
        expected.update(P_data=(data_shape, "float"), P_indices=(data_shape, "int"),
                        P_indptr=((S * A + 1,), "int"))
    return expected


def _load_npz(path: Any) -> MDP:
    try:
        f = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValidationError(f"{os.fspath(path)!r} is not a readable .npz file without unpickling: {exc}",
                              argument="path", value=os.fspath(path)) from None
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ValidationError(f"{os.fspath(path)!r} is not a valid .npz file: {exc}. {_WHAT_A_FILE_IS}",
                              argument="path", value=os.fspath(path)) from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise ValidationError(f"{os.fspath(path)!r} holds a single array, not an .npz archive",
                              argument="path", value=os.fspath(path))
    with f:
        seen: set[str] = set()
        archive: Any = f.zip
        for member in archive.namelist():     # a zip may hold one name twice; np.load keeps the last
            if member in seen:
                key = member.removesuffix(".npy")
                raise ValidationError(f"field {key!r} is stored more than once in the archive; refused "
                                      "(which copy is meant is ambiguous)", argument=key, value=member)
            seen.add(member)
        keys = set(f.files)
        for key in ("format", "version", "layout"):
            if key not in keys:
                raise ValidationError(f"missing field {key!r}", argument=key)
        # every header first (a few hundred bytes each): no data is decompressed before every
        # member's shape and dtype agree with the others
        headers = {key: _npz_header(f, key) for key in sorted(keys)}
        v_shape, v_dtype = headers["version"]
        version_v = (int(_npz_get(f, "version")[()]) if v_shape == () and v_dtype.kind in "iu"
                     else f"<array of dtype {v_dtype}, shape {v_shape}>")
        layout = _check_tags(_npz_str(f, "format", headers["format"]), version_v,
                             _npz_str(f, "layout", headers["layout"]))
        expected = _NPZ_KEYS[layout]
        for key in sorted(expected - keys):
            raise ValidationError(f"missing field {key!r} (layout {layout!r})", argument=key)
        for key in sorted(keys - expected - _optional_keys(int(version_v))):
            raise ValidationError(f"unknown field {key!r} (layout {layout!r}, version {version_v})",
                                  argument=key)
        want = _npz_expected(layout, headers)
        for key in sorted(keys - {"format", "version", "layout"}):
            shape, dtype = headers[key]
            w_shape, kind = want[key]
            if dtype.hasobject:
                raise ValidationError(f"field {key!r} holds Python objects and cannot be read without "
                                      "unpickling; refused", argument=key, value=str(dtype))
            if dtype.kind not in _KINDS[kind]:
                raise ValidationError(f"field {key!r} has dtype {dtype}; expected {kind} numbers",
                                      argument=key, value=str(dtype))
            if shape != w_shape:
                raise ValidationError(f"field {key!r} has shape {shape}; expected {w_shape}", argument=key,
                                      value=shape)
            check_memory(float(np.prod(shape, dtype=float)) * dtype.itemsize,
                         f"field {key!r} (shape {shape}, dtype {dtype})", key)
        claimed = sum(float(np.prod(shape, dtype=float)) * dtype.itemsize for shape, dtype in
                      headers.values())
        check_memory(claimed, f"the arrays of {os.fspath(path)!r} together", "path")   # all held at once
        S, A = want["r"][0]
        r = _field(_npz_get(f, "r"), "r", (S, A), "float")
        gamma = _field(_npz_get(f, "gamma"), "gamma", (), "float")
        rho0 = _field(_npz_get(f, "rho0"), "rho0", (S,), "float")
        terminal = _field(_npz_get(f, "terminal"), "terminal", (S,), "bool")
        if layout == "dense":
            P: Any = _field(_npz_get(f, "P"), "P", (S, A, S), "float")
        else:
            P = _csr(_field(_npz_get(f, "P_data"), "P_data", None, "float"),
                     _field(_npz_get(f, "P_indices"), "P_indices", None, "int"),
                     _field(_npz_get(f, "P_indptr"), "P_indptr", None, "int"), S, A, "P_")
        grid = (tuple(int(n) for n in _field(_npz_get(f, "grid_shape"), "grid_shape", (2,), "int"))
                if "grid_shape" in keys else None)
        actions = _field(_npz_get(f, "actions"), "actions", (S, A), "bool") if "actions" in keys else None
    return MDP(P, r, float(gamma), rho0=rho0, terminal=terminal, grid_shape=grid, actions=actions)


def _optional_keys(version: int) -> set[str]:
    """The optional fields of a file of ``version``: the action sets came with version 2."""
    return {"grid_shape", "actions"} if version >= 2 else {"grid_shape"}


def _check_regular(st: os.stat_result, path: Any) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise ValidationError(f"{os.fspath(path)!r} is not a regular file", argument="path",
                              value=os.fspath(path))


#: Files are read in chunks of this size, so that reading reserves memory for what the file holds,
#: not for the largest file the memory limit would allow.
READ_CHUNK = 1 << 20


def _read_limited(path: Any) -> bytes:
    """The bytes of a regular file no larger than the memory limit (never a device or a pipe).

    The size is taken from ``stat`` and checked first; the file is then read in chunks of
    :data:`READ_CHUNK` bytes, and a file that grows while it is read is refused once it passes the
    limit.
    """
    st = os.stat(path)
    _check_regular(st, path)
    what = f"the file {os.fspath(path)!r}"
    check_memory(st.st_size, what, "path")
    chunks: list[bytes] = []
    total = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            chunks.append(chunk)
            total += len(chunk)
            if total > st.st_size:
                check_memory(total, what, "path")
    return b"".join(chunks)


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


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a repeated key (a plain dict would keep its last value)."""
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise ValidationError(f"field {key!r} appears more than once in a JSON object; refused (which "
                                  "value is meant is ambiguous)", argument=key, value=key)
        doc[key] = value
    return doc


def mdp_from_dict(doc: Any) -> MDP:
    """Build an MDP from a JSON document (schema version 1, see module notes), checking every field.

    Parameters
    ----------
    doc : dict
        The JSON document, as loaded by ``json.load``.

    Raises
    ------
    ValidationError
        Naming the first malformed field.

    Examples
    --------
    >>> from mdpgrad.io import mdp_from_dict, mdp_to_dict
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
    for key in sorted(set(doc) - base - _optional_keys(int(doc["version"])), key=str):
        raise ValidationError(f"unknown field {key!r} (version {doc['version']})", argument=str(key))
    S, A = doc["n_states"], doc["n_actions"]
    for name, n in (("n_states", S), ("n_actions", A)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValidationError(f"field {name!r} is {n!r}; expected an integer >= 1", argument=name,
                                  value=n)
    gamma = doc["gamma"]
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        raise ValidationError(f"field 'gamma' is {gamma!r}; expected a JSON number", argument="gamma",
                              value=gamma)
    gamma = check_real(gamma, "gamma", min_value=0.0, max_value=1.0)
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
    grid = (tuple(int(n) for n in _json_array(doc["grid_shape"], "grid_shape", (2,), "int"))
            if "grid_shape" in doc else None)
    actions = _json_array(doc["actions"], "actions", (S, A), "bool") if "actions" in doc else None
    return MDP(P, r, float(gamma), rho0=rho0, terminal=terminal, grid_shape=grid, actions=actions)


def load(path: str | os.PathLike[str]) -> MDP:
    """Read an MDP written by :func:`save`; the suffix (.npz or .json) chooses the format.

    Nothing in the file is executed: .npz files are read with
    ``allow_pickle=False``, every member's shape and dtype checked from its .npy header before
    any data is decompressed; JSON is read in chunks up to the size ``stat`` gave and parsed as
    data.  Only regular files are read (a FIFO or a device is refused).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` or ``.json`` file written by :func:`save`.

    Raises
    ------
    ValidationError
        If the file is malformed; the message names the field.
    OSError
        If the file cannot be opened.

    Examples
    --------
    >>> from mdpgrad import load, save
    >>> import tempfile, pathlib
    >>> from mdpgrad.examples import two_state
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d) / "m.json"
    ...     save(two_state(), p)
    ...     load(p).r.tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    if _suffix(path) == ".npz":
        _check_regular(os.stat(path), path)
        return _load_npz(path)
    raw = _read_limited(path)
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except ValidationError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:   # JSONDecodeError is a ValueError,
        raise ValidationError(f"{os.fspath(path)!r} is not valid UTF-8 JSON: {exc}. {_WHAT_A_FILE_IS}",
                              argument="path", value=os.fspath(path)) from None   # as are 4301-digit ints
    return mdp_from_dict(doc)
