"""The memory of sampled episodes: padded sizes, expected lengths, and buffers grown within the limit.

Episodes are padded to the longest one (16 bytes per episode and
step), so n episodes of expected length ℓ take about 16·n·ℓ·(1 + ln n) bytes
when lengths have geometric tails.  A request whose padded arrays are expected
to exceed the memory limit is refused before sampling (the length is known
in advance without terminal states; with them the expected length ℓ(s₀) is
solved for), and buffers that would outgrow the limit while episodes run are
refused too; nothing is truncated silently.
"""

from __future__ import annotations

import math

import numpy as np

from .._chains import bellman_matrix, chain_and_reward, masked_chain, validate_termination
from .._linalg import factorize
from .._model import MDP
from .._validation import check_memory, memory_limit
from ._protocols import StoppingProtocol

__all__ = ["BYTES_PER_STEP", "Buffers", "check_sample_memory", "expected_lengths", "padded_bytes"]


#: Bytes of one padded time step of one episode: a state and an action (int32) and a reward (float64).
BYTES_PER_STEP = 16


def padded_bytes(n_episodes: int, n_steps: float) -> float:
    """Bytes of the padded arrays of ``n_episodes`` episodes of up to ``n_steps`` actions."""
    return float(min(n_episodes, 2**62)) * (BYTES_PER_STEP * float(min(n_steps, 2**62)) + 4)


def expected_lengths(mdp: MDP, pi: np.ndarray, discount: float) -> np.ndarray:
    """ℓ(s) = E[number of actions from s], ℓ = (I − c P̃^π)⁻¹ 1 off terminal states, shape (S,).

    c = 1 for episodes that run until a terminal state, c = γ when they also stop with probability
    1 − γ after every step (Puterman 1994, §5.3; Kemeny & Snell 1960, §3.2, fundamental matrix).
    With c = 1 every policy path must reach a terminal state (else :class:`NonTerminatingPolicyError`).
    """
    chain = chain_and_reward(mdp, pi)[0]
    if discount == 1.0:
        validate_termination(mdp, chain)
    P_pi = masked_chain(mdp, chain)
    keep = (~mdp.terminal).astype(float)
    return np.asarray(factorize(bellman_matrix(mdp, P_pi, discount)).solve(keep), dtype=float)


def check_sample_memory(mdp: MDP, pi: np.ndarray, resolved: StoppingProtocol, caps: np.ndarray,
                         starts: np.ndarray, never: int) -> None:
    """Refuse, before sampling, a request whose padded arrays are expected to exceed the memory limit.

    Without terminal states the padded length is known in advance (H, or the longest geometric
    stop).  With terminal states it is at least the expected length of the longest-lasting start,
    max ℓ(s₀) (``expected_lengths``), which is computed only when the cap-based bound is too big.
    """
    n = starts.size
    finite = caps[caps < never]
    bound = float(finite.max()) if finite.size == n else math.inf
    if padded_bytes(n, bound) <= memory_limit():
        return
    if not mdp.terminal.any():
        check_memory(padded_bytes(n, bound), f"sampling {n} episode(s) of {bound:.0f} steps (padded to the "
                     "longest)", "n_episodes")
    if resolved == "horizon":
        return  # truncated: the buffers grow only as far as the episodes run (checked while growing)
    ell = expected_lengths(mdp, pi, mdp.gamma if resolved == "geometric" else 1.0)
    longest = float(np.max(ell[starts]))
    expected = min(bound, longest)
    check_memory(padded_bytes(n, expected), f"sampling {n} episode(s) of expected length up to {longest:.4g} "
                 "steps (padded to the longest)", "n_episodes")


class Buffers:
    """Time-major output arrays of one chunk (rows = time steps), grown when an episode runs long.

    Rows are allocated uninitialised and each row is filled with padding just
    before it is written: sequential first touches of memory are much cheaper
    than the scattered writes of the few episodes still running.
    """

    def __init__(self, rows: int, n: int) -> None:
        self.n = n
        rows = max(1, min(rows, int((memory_limit() / n - 4) // BYTES_PER_STEP)))
        self.states = np.empty((rows + 1, n), dtype=np.int32)
        self.actions = np.empty((rows, n), dtype=np.int32)
        self.rewards = np.empty((rows, n))

    def row(self, t: int, full: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row t, filled with padding unless ``full`` (every entry is about to be written)."""
        rows = self.actions.shape[0]
        if t >= rows:
            fit = int((memory_limit() / self.n - 4) // BYTES_PER_STEP)   # rows within the memory limit
            new = max(t + 1, min(4 * rows, fit))
            check_memory(padded_bytes(self.n, new), f"sampling: {self.n} episode(s) still running after "
                         f"{t} steps (padded arrays)", "n_episodes")
            for name in ("states", "actions", "rewards"):
                old = getattr(self, name)
                grown = np.empty((new + (name == "states"), self.n), dtype=old.dtype)
                grown[:t] = old[:t]
                setattr(self, name, grown)
        st, ac, rw = self.states[t], self.actions[t], self.rewards[t]
        if not full:
            st.fill(-1)
            ac.fill(-1)
            rw.fill(0.0)
        return st, ac, rw

    def finish(self, lengths: np.ndarray, finals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Trim to T = max length, write the final states; (states, actions, rewards), time-major."""
        T = int(lengths.max(initial=0))
        states, actions, rewards = self.states[:T + 1], self.actions[:T], self.rewards[:T]
        states[T] = -1
        states[lengths, np.arange(self.n)] = finals
        return states, actions, rewards
