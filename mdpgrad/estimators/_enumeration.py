"""Exact enumeration of return distributions and whole episodes, with size limits.

The clipped (PPO) and group-normalised (GRPO) estimators are non-linear in the
sampled returns, so their exact expectations need the distribution of returns
(atoms per (t, s, a)) or every episode with its probability.  Beyond the limits
below a :class:`~mdpgrad.ValidationError` is raised instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._errors import ValidationError
from ._contract import ExactModel

__all__ = ["MAX_ATOMS", "MAX_COMBOS", "MAX_COMBO_TABLE", "MAX_ENUM_STEPS", "MAX_PATHS", "MAX_PATH_TABLE",
           "Paths", "enumerate_paths", "return_atoms"]

# --------------------------------------------------------------------------- enumeration helpers

#: Largest number of atoms of one return distribution (PPO with sampled advantages).
MAX_ATOMS = 100_000
#: Largest number of enumerated episodes (GRPO), and of episode × (S·A) table entries.
MAX_PATHS = 200_000
MAX_PATH_TABLE = 20_000_000
#: Longest episode enumerated under "terminal" (GRPO).
MAX_ENUM_STEPS = 200
#: Largest number of multisets of group partners (GRPO), and of multisets × return atoms.
MAX_COMBOS = 200_000
MAX_COMBO_TABLE = 20_000_000


def _merge_atoms(vals: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, inv = np.unique(vals, return_inverse=True)
    return u, np.bincount(inv.ravel(), weights=probs, minlength=u.size)


def return_atoms(m: ExactModel) -> list[dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]]:
    """Exact law of the truncated return G⁽ᵏ⁾ given (s, a), k = 1..H, as atoms (values, probs).

    G⁽ᵏ⁾(s, a) = r(s, a) + γ G⁽ᵏ⁻¹⁾(s'), s' ∼ P(·|s, a), a' ∼ π; 0 at terminal
    states.  Raises ValidationError when a law has more than MAX_ATOMS atoms.
    """
    mdp, S, A = m.mdp, m.mdp.n_states, m.mdp.n_actions
    P = sp.csr_array(mdp.P_flat)
    zero = (np.zeros(1), np.ones(1))
    dv = [zero] * S
    out: list[dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]] = [{}]
    for k in range(1, m.H + 1):
        dq: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        new_dv = []
        for s in range(S):
            if m.keep[s] == 0:
                new_dv.append(zero)
                continue
            vs, ps = [], []
            for a in range(A):
                seg = slice(P.indptr[s * A + a], P.indptr[s * A + a + 1])
                nxt, p = P.indices[seg], P.data[seg]
                nxt, p = nxt[p > 0], p[p > 0]
                vals = np.concatenate([mdp.r[s, a] + m.gamma * dv[t][0] for t in nxt])
                probs = np.concatenate([p_t * dv[t][1] for t, p_t in zip(nxt, p, strict=True)])
                atoms = _merge_atoms(vals, probs)
                if atoms[0].size > MAX_ATOMS:
                    raise ValidationError(
                        f"the return law of (s, a) = ({s}, {a}) over {k} steps has {atoms[0].size} atoms, "
                        f"more than MAX_ATOMS={MAX_ATOMS}; use a smaller horizon or an advantage table",
                        argument="horizon", index=(s, a), value=atoms[0].size)
                dq[(s, a)] = atoms
                if m.pi[s, a] > 0:
                    vs.append(atoms[0])
                    ps.append(m.pi[s, a] * atoms[1])
            new_dv.append(_merge_atoms(np.concatenate(vs), np.concatenate(ps)))
        dv = new_dv
        out.append(dq)
    return out


@dataclass(frozen=True, eq=False)
class Paths:
    """m enumerated episodes.

    Attributes
    ----------
    start : ndarray of int, shape (m,)
        Start state s₀.
    prob : ndarray, shape (m,)
        Probability of the episode given s₀.
    ret : ndarray, shape (m,)
        Its return Σₜ γᵗ rₜ.
    counts : ndarray, shape (m, S·A)
        Its visits of each pair x = s·A + a.
    """

    start: np.ndarray
    prob: np.ndarray
    ret: np.ndarray
    counts: np.ndarray


def enumerate_paths(m: ExactModel) -> Paths:
    """Every episode (with its probability) from every start state with ρ₀ > 0.

    Finite only under "horizon", or under "terminal" when every episode ends
    within MAX_ENUM_STEPS; limits MAX_PATHS and MAX_PATH_TABLE.
    """
    mdp, S, A = m.mdp, m.mdp.n_states, m.mdp.n_actions
    if m.protocol == "geometric":
        raise ValidationError("exact enumeration of episodes needs a bounded length: use protocol 'horizon' "
                              "(or 'terminal' on an MDP whose episodes end within "
                              f"MAX_ENUM_STEPS={MAX_ENUM_STEPS} steps)",
                              argument="protocol", value=m.protocol)
    P = sp.csr_array(mdp.P_flat)
    row = np.repeat(np.arange(S * A), np.diff(P.indptr))
    w = m.pi.ravel()[row] * P.data
    ok = (w > 0) & (m.keep[row // A] > 0)
    row, nxt, w = row[ok], P.indices[ok], w[ok]
    K = np.bincount(row // A, minlength=S)
    first = np.concatenate(([0], np.cumsum(K)))[:-1]
    starts = np.flatnonzero(mdp.rho0 > 0)
    active = Paths(start=starts, prob=np.ones(starts.size), ret=np.zeros(starts.size),
                   counts=np.zeros((starts.size, S * A)))
    state, disc = starts.copy(), np.ones(starts.size)
    done: list[Paths] = []
    n_done = 0
    limit = m.H if m.protocol == "horizon" else MAX_ENUM_STEPS
    for step in range(limit + 1):
        fin = m.keep[state] == 0
        if fin.any():
            done.append(Paths(active.start[fin], active.prob[fin], active.ret[fin], active.counts[fin]))
            n_done += int(fin.sum())
            keep = ~fin
            active = Paths(active.start[keep], active.prob[keep], active.ret[keep], active.counts[keep])
            state, disc = state[keep], disc[keep]
        if not state.size:
            break
        if step == limit:
            if m.protocol == "horizon":
                done.append(active)
                break
            raise ValidationError(f"some episodes are longer than MAX_ENUM_STEPS={MAX_ENUM_STEPS} steps; "
                                  "exact enumeration needs protocol 'horizon'", argument="protocol",
                                  value=m.protocol)
        rep = K[state]
        total = int(rep.sum())
        if n_done + total > MAX_PATHS or total * S * A > MAX_PATH_TABLE:
            raise ValidationError(f"exact enumeration needs more than MAX_PATHS={MAX_PATHS} episodes "
                                  f"(or {MAX_PATH_TABLE} table entries); use a smaller MDP or horizon",
                                  argument="horizon", value=n_done + total)
        parent = np.repeat(np.arange(state.size), rep)
        e = first[state][parent] + (np.arange(total) - np.repeat(np.cumsum(rep) - rep, rep))
        counts = active.counts[parent]
        counts[np.arange(total), row[e]] += 1.0
        active = Paths(active.start[parent], active.prob[parent] * w[e],
                        active.ret[parent] + disc[parent] * mdp.r.ravel()[row[e]], counts)
        state, disc = nxt[e], disc[parent] * m.gamma
    fields = ("start", "prob", "ret", "counts")
    return Paths(*(np.concatenate([getattr(p, f) for p in done]) for f in fields))
