"""TD results that say what they mean: stability on the non-terminal block, the fixed point's target.

Known numbers: the 5-state random walk of Sutton & Barto (Example 6.2; 7 states with the two
terminal ones), v^π = (1/6, …, 5/6) under the uniform policy, and on-policy TD(0) on it converges
(Sutton & Barto 2018, §6.2; Tsitsiklis & Van Roy 1997).
"""

from __future__ import annotations

import numpy as np
import pytest

import mdpgrad as mg

WALK_V = np.array([0.0, 1, 2, 3, 4, 5, 0.0]) / 6.0


@pytest.fixture
def walk():
    mdp = mg.get_example("random-walk-5")
    return mdp, mg.uniform_policy(mdp.n_states, mdp.n_actions)


@pytest.mark.parametrize("values", ["v", "q"])
def test_on_policy_td0_converges_on_the_random_walk(walk, values):
    mdp, pi = walk
    J = (mg.td.td_jacobian_v if values == "v" else mg.td.td_jacobian)(mdp, pi, D="occupancy")
    st = mg.td.stability(J)
    assert st.converges and not st.diverges
    assert st.n_neutral == 0 and st.max_real < 0
    terminal = np.flatnonzero(mdp.terminal)
    expected = tuple(terminal) if values == "v" else \
        tuple(int(s * mdp.n_actions + a) for s in terminal for a in range(mdp.n_actions))
    assert st.fixed_directions == expected
    assert st.eigenvalues.size == J.shape[0] and np.sum(st.eigenvalues == 0) == len(expected)
    assert f"{len(expected)} fixed directions set aside" in str(st)


def test_a_neutral_direction_that_moves_something_is_not_set_aside():
    # row 0 is zero but column 0 is not: coordinate 0 feeds coordinate 1, so it is not fixed
    st = mg.td.stability(np.array([[0.0, 0.0], [1.0, -1.0]]))
    assert st.fixed_directions == () and st.n_neutral == 1 and not st.converges


def test_fixed_point_target_is_explicit(walk):
    mdp, pi = walk
    q = mg.td.td_fixed_point(mdp, pi, None)                 # the default: action values, S·A of them
    assert q.shape == (14,)
    np.testing.assert_allclose(q, mg.evaluate(mdp, pi).q.ravel(), atol=1e-12)
    v = mg.td.td_fixed_point(mdp, pi, None, values="v")
    np.testing.assert_allclose(v, WALK_V, atol=1e-12)
    np.testing.assert_allclose(mg.td.regression_solution(mdp, pi, None, values="v"), WALK_V, atol=1e-12)


def test_mismatched_w0_is_refused_by_name(walk):
    mdp, pi = walk
    with pytest.raises(mg.ValidationError) as exc:
        mg.td.iterate_expected_update(mdp, pi, None, np.zeros(7), step_size=0.1, n_steps=2)
    assert exc.value.argument == "w0"
    assert "w0 has 7 entries; expected 14" in str(exc.value) and "values='v'" in str(exc.value)
    ws = mg.td.iterate_expected_update(mdp, pi, None, np.zeros(7), step_size=0.1, n_steps=2, values="v")
    assert ws.shape == (3, 7)
    with pytest.raises(mg.ValidationError) as exc:
        mg.td.linear_td_update(mdp, pi, np.ones((7, 2)), np.zeros(3))
    assert exc.value.argument == "w" and "one per column of phi" in str(exc.value)


def test_values_must_agree_with_the_rows_of_phi(walk):
    mdp, pi = walk
    with pytest.raises(mg.ValidationError) as exc:
        mg.td.td_fixed_point(mdp, pi, np.eye(7), values="q")
    assert exc.value.argument == "values"
    with pytest.raises(mg.ValidationError, match="values"):
        mg.td.td_fixed_point(mdp, pi, None, values="x")
    np.testing.assert_allclose(mg.td.td_fixed_point(mdp, pi, np.eye(7), values="v"), WALK_V, atol=1e-12)
