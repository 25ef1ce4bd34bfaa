"""symbolic.estimator_moments: exact moments of one episode's estimate, checked three ways.

* against every episode enumerated with its exact probability (Σ p·ĝĝᵀ in sympy), exact equality,
  on an acyclic three-state model under each protocol and on the cyclic two-state model under a horizon;
* against the numeric :func:`mdpgrad.estimators.estimator_moments` (a different derivation: resolvents
  of the pair chain) on the two-state models, for every kind and protocol;
* against the one-decision bandit, whose variance 1/16 is computed by hand.
"""

import numpy as np
import pytest
import sympy

import mdpgrad as mg
from mdpgrad import ValidationError
from mdpgrad import symbolic as sy
from mdpgrad.estimators import (
    baseline_estimator,
    reinforce_estimator,
    reinforce_without_discount_estimator,
    whole_return_estimator,
)
from mdpgrad.estimators import estimator_moments as numeric_moments

R = sympy.Rational
KINDS = ["reinforce", "without_discount", "whole_return", "baseline"]


# -- the reference: every episode with its probability ----------------------------------------------

def _scores(policy, theta):
    """ψ(s, a) = ∇log π(a|s) at θ by sympy's own derivative of log π (not the code under test)."""
    syms = policy.symbols("u")
    logp = policy.probabilities(syms).applyfunc(sympy.log)
    point = dict(zip(list(syms), list(sympy.Matrix(theta)), strict=True))
    S, A = logp.shape
    pi = policy.probabilities(syms).subs(point).applyfunc(sympy.simplify)
    psi = [[[sympy.simplify(sympy.diff(logp[s, a], u).subs(point)) for u in syms] for a in range(A)]
           for s in range(S)]
    return pi, psi


def _episodes(mdp, pi, protocol, H):
    """(probability, [(s, a, r)]) for every episode, by brute force over every branch."""
    S, A = mdp.n_states, mdp.n_actions
    out = []

    def walk(s, prob, path):
        for a in range(A):
            pa = prob * pi[s, a]
            if pa == 0:
                continue
            step = path + [(s, a, mdp.r[s, a])]
            if protocol == "horizon" and len(step) == H:
                out.append((pa, step))
                continue
            for t in range(S):
                pt = pa * mdp.P[s, a, t]
                if pt == 0:
                    continue
                if mdp.terminal[t]:
                    out.append((pt, step))
                elif protocol == "geometric":
                    out.append((pt * (1 - mdp.gamma), step))
                    walk(t, pt * mdp.gamma, step)
                else:
                    walk(t, pt, step)

    for s in range(S):
        if mdp.rho0[s] != 0 and not mdp.terminal[s]:
            walk(s, mdp.rho0[s], [])
    return out


def _estimate(path, psi, kind, d, b):
    """ĝ of one episode written from the estimators' definitions (Williams 1992; Sutton & Barto §13.3)."""
    n = len(psi[0][0])
    T = len(path)
    G = [sum(d ** (k - t) * path[k][2] for k in range(t, T)) for t in range(T)]
    g = [sympy.Integer(0)] * n
    for t, (s, a, _) in enumerate(path):
        if kind == "reinforce":
            c = d ** t * G[t]
        elif kind == "without_discount":
            c = G[t]
        elif kind == "baseline":
            c = d ** t * (G[t] - b[s])
        else:
            c = G[0]
        g = [g[i] + c * psi[s][a][i] for i in range(n)]
    return g


def _enumerated(mdp, policy, theta, kind, protocol, H=None, b=None):
    pi, psi = _scores(policy, theta)
    d = 1 if protocol == "geometric" else mdp.gamma
    n = len(psi[0][0])
    mean = [sympy.Integer(0)] * n
    second = [[sympy.Integer(0)] * n for _ in range(n)]
    total = sympy.Integer(0)
    for p, path in _episodes(mdp, pi, protocol, H):
        g = _estimate(path, psi, kind, d, b)
        total += p
        for i in range(n):
            mean[i] += p * g[i]
            for j in range(n):
                second[i][j] += p * g[i] * g[j]
    assert sympy.simplify(total - 1) == 0            # every episode counted once
    return mean, second


def _acyclic():
    """Three states, state 2 terminal: 0 → {1, 2}, 1 → {2}; rational numbers, γ = 2/3."""
    P = [[[0, R(1, 3), R(2, 3)], [0, R(3, 4), R(1, 4)]],
         [[0, 0, 1], [0, 0, 1]],
         [[0, 0, 1], [0, 0, 1]]]
    r = [[1, R(-1, 2)], [2, 0], [0, 0]]
    return sy.MDP(P, r, R(2, 3), [R(3, 5), R(2, 5), 0], [False, False, True])


def _two_state():
    t = mg.examples.two_state_tables()
    return sy.MDP(t["P"], t["r"], t["gamma"], t["rho0"])


THETA = [[0, sympy.log(2)], [sympy.log(3), 0], [0, 0]]
BASE3 = [R(1, 2), R(-3, 2), 0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("protocol, H", [("terminal", None), ("geometric", None), ("horizon", 1),
                                         ("horizon", 2)])
def test_equals_the_sum_over_every_episode_exactly(kind, protocol, H):
    mdp, pol = _acyclic(), sy.TabularSoftmax(3, 2)
    b = BASE3 if kind == "baseline" else None
    mom = sy.estimator_moments(mdp, pol, THETA, kind, baseline=b, protocol=protocol, horizon=H)
    mean, second = _enumerated(mdp, pol, THETA, kind, protocol, H, BASE3)
    assert all(sympy.simplify(x - y) == 0 for x, y in zip(list(mom.mean), mean, strict=True))
    assert all(sympy.simplify(mom.second_moment[i, j] - second[i][j]) == 0
               for i in range(6) for j in range(6))
    cov = [[second[i][j] - mean[i] * mean[j] for j in range(6)] for i in range(6)]
    assert all(sympy.simplify(mom.covariance[i, j] - cov[i][j]) == 0 for i in range(6) for j in range(6))


@pytest.mark.parametrize("kind", KINDS)
def test_equals_every_episode_on_the_cyclic_two_state_model_under_a_horizon(kind):
    mdp, pol, th = _two_state(), sy.TabularSoftmax(2, 2), [[0, sympy.log(2)], [sympy.log(3), 0]]
    b = [R(1, 2), R(-3, 2)]
    mom = sy.estimator_moments(mdp, pol, th, kind, baseline=b if kind == "baseline" else None,
                               protocol="horizon", horizon=3)
    mean, second = _enumerated(mdp, pol, th, kind, "horizon", 3, b)
    assert all(sympy.simplify(x - y) == 0 for x, y in zip(list(mom.mean), mean, strict=True))
    assert all(sympy.simplify(mom.second_moment[i, j] - second[i][j]) == 0
               for i in range(4) for j in range(4))


def test_a_changed_probability_changes_the_result():
    """The enumeration check can fail: the moments of a different model differ from these."""
    mdp, pol = _acyclic(), sy.TabularSoftmax(3, 2)
    other = sy.MDP(mdp.P.subs({R(1, 3): R(1, 4), R(2, 3): R(3, 4)}), mdp.r, mdp.gamma, list(mdp.rho0),
                   list(mdp.terminal))
    a = sy.estimator_moments(mdp, pol, THETA).covariance
    c = sy.estimator_moments(other, pol, THETA).covariance
    assert a != c


# -- the numeric engine, a different derivation -------------------------------------------------------

NUMERIC = {"reinforce": reinforce_estimator(), "without_discount": reinforce_without_discount_estimator(),
           "whole_return": whole_return_estimator(), "baseline": baseline_estimator(np.array([0.5, -1.5]))}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("example, protocol, H", [("two-state", "geometric", None),
                                                  ("two-state", "horizon", 4),
                                                  ("two-state-episodic", "terminal", None),
                                                  ("two-state-episodic", "geometric", None),
                                                  ("two-state-episodic", "horizon", 3)])
def test_agrees_with_the_numeric_engine(kind, example, protocol, H):
    """Relative 1e-12: the numeric side is a few LU solves of side ≤ 16 with condition numbers below
    10³ here, so its error is ≲ 10³·16·1.1e-16 ≈ 2e-12 at worst and 4e-16 measured; float 0.9 differs
    from 9/10 by 2e-17 relative.  A dropped term moves entries by more than 1e-3 relative."""
    nmdp = mg.get_example(example)
    smdp = sy.rationalize(nmdp)
    th_num = np.array([[0.0, np.log(2)], [np.log(3), 0.0]])
    th = [[0, sympy.log(2)], [sympy.log(3), 0]]
    b = [R(1, 2), R(-3, 2)] if kind == "baseline" else None
    mom = sy.estimator_moments(smdp, sy.TabularSoftmax(2, 2), th, kind, baseline=b, protocol=protocol,
                               horizon=H)
    ref = numeric_moments(nmdp, mg.TabularSoftmax(2, 2), th_num, NUMERIC[kind], protocol=protocol, horizon=H)
    cov = np.array(mom.covariance.evalf(30).tolist(), dtype=float)
    second = np.array(mom.second_moment.evalf(30).tolist(), dtype=float)
    mean = np.array(mom.mean.evalf(30).tolist(), dtype=float)
    scale = np.abs(ref.second_moment).max()
    assert scale > 0
    assert np.abs(cov - ref.covariance).max() <= 1e-12 * scale
    assert np.abs(second - ref.second_moment).max() <= 1e-12 * scale
    assert np.abs(mean - ref.mean).max() <= 1e-12 * max(np.abs(ref.mean).max(), 1.0)
    assert mom.protocol == protocol and mom.horizon == H


# -- the hand-computed case ---------------------------------------------------------------------------

def test_the_one_decision_bandit_has_variance_one_sixteenth():
    """π = (½, ½), rewards (0, 1): ĝ[0] = (−½, ½) w.p. ½ and 0 otherwise; Var ĝ[0, 0] = ⅛ − 1/16."""
    mdp = sy.MDP([[[0, 1], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], 1, rho0=[1, 0],
                 terminal=[False, True])
    for kind in ("reinforce", "without_discount", "whole_return"):
        mom = sy.estimator_moments(mdp, sy.TabularSoftmax(2, 2), [[0, 0], [0, 0]], kind)
        assert list(mom.mean) == [R(-1, 4), R(1, 4), 0, 0]
        assert mom.covariance[0, 0] == R(1, 16) and mom.covariance[0, 1] == R(-1, 16)
        assert mom.second_moment[0, 0] == R(1, 8)
        assert mom.total_variance == R(1, 8)
    base = sy.estimator_moments(mdp, sy.TabularSoftmax(2, 2), [[0, 0], [0, 0]], "baseline",
                                baseline=[R(1, 2), 0])
    assert base.covariance[0, 0] == 0                # b = v(0) = ½: ĝ[0] = (G − ½)(e_a − π) = (−¼, ¼) always
    assert base.second_moment[0, 0] == R(1, 16)


def test_symbolic_theta_and_model_symbols_give_the_function_whose_value_is_the_exact_result():
    p = sympy.Symbol("p", positive=True)
    mdp = sy.MDP([[[0, 1], [p, 1 - p]], [[0, 1], [0, 1]]], [[1, 0], [0, 0]], 1, rho0=[1, 0],
                 terminal=[False, True])
    pol = sy.TabularSoftmax(2, 2)
    th = pol.symbols()
    general = sy.estimator_moments(mdp, pol, th)
    point = {x: 0 for x in th}
    at = sy.estimator_moments(mdp.subs({p: R(1, 2)}), pol, [[0, 0], [0, 0]])
    diff = (general.covariance.subs(point).subs(p, R(1, 2)) - at.covariance).applyfunc(sympy.simplify)
    assert diff == sympy.zeros(4, 4)
    assert general.covariance[0, 0].has(p) and general.covariance[0, 0].has(sympy.exp(th[0, 0]))


def test_direct_and_log_linear_policies_match_enumeration():
    mdp = _acyclic()
    for pol, th in [(sy.Direct(3, 2), [[R(1, 3), R(2, 3)], [R(1, 2), R(1, 2)], [R(1, 2), R(1, 2)]]),
                    (sy.LogLinear(np.array([[[1], [0]], [[0], [1]], [[0], [0]]])), [[sympy.log(2)]])]:
        mom = sy.estimator_moments(mdp, pol, th)
        mean, second = _enumerated(mdp, pol, th, "reinforce", "terminal")
        n = len(mean)
        assert all(sympy.simplify(mom.second_moment[i, j] - second[i][j]) == 0
                   for i in range(n) for j in range(n))


# -- input validation ----------------------------------------------------------------------------------

def _bandit():
    return sy.MDP([[[0, 1], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], 1, rho0=[1, 0],
                  terminal=[False, True])


@pytest.mark.parametrize("kwargs, argument", [
    (dict(theta=[[0.5, 0], [0, 0]]), "theta"),
    (dict(kind="gae"), "kind"),
    (dict(kind="baseline"), "baseline"),
    (dict(baseline=[0, 0]), "baseline"),
    (dict(kind="baseline", baseline=[0.5, 0]), "baseline"),
    (dict(protocol="horizon"), "horizon"),
    (dict(protocol="terminal", horizon=2), "horizon"),
    (dict(policy=sy.TabularSoftmax(3, 2)), "policy"),
    (dict(policy=mg.TabularSoftmax(2, 2)), "policy"),
    (dict(mdp=mg.get_example("two-state-episodic")), "mdp"),
])
def test_bad_arguments_are_named(kwargs, argument):
    args = dict(mdp=_bandit(), policy=sy.TabularSoftmax(2, 2), theta=[[0, 0], [0, 0]])
    args.update(kwargs)
    mdp, pol, th = args.pop("mdp"), args.pop("policy"), args.pop("theta")
    with pytest.raises(ValidationError) as err:
        sy.estimator_moments(mdp, pol, th, **args)
    assert err.value.argument == argument


def test_terminal_protocol_needs_terminal_states():
    with pytest.raises(ValidationError) as err:
        sy.estimator_moments(_two_state(), sy.TabularSoftmax(2, 2), [[0, 0], [0, 0]], protocol="terminal")
    assert err.value.argument == "protocol"


def test_a_string_theta_or_baseline_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()*0"
    with pytest.raises(ValidationError):
        sy.estimator_moments(_bandit(), sy.TabularSoftmax(2, 2), [[payload, 0], [0, 0]])
    with pytest.raises(ValidationError):
        sy.estimator_moments(_bandit(), sy.TabularSoftmax(2, 2), [[0, 0], [0, 0]], "baseline",
                             baseline=[payload, 0])
    assert not marker.exists()


def test_the_size_limit_at_its_boundary(monkeypatch):
    """S·d²·H entries: 2·16·3 = 96 is allowed at a limit of 96, 2·16·4 = 128 refused with its size."""
    import mdpgrad.symbolic._model as model

    monkeypatch.setattr(model, "MAX_SYMBOLIC_ENTRIES", 96)
    mdp, pol = _two_state(), sy.TabularSoftmax(2, 2)
    sy.estimator_moments(mdp, pol, [[0, 0], [0, 0]], protocol="horizon", horizon=3)
    with pytest.raises(ValidationError) as err:
        sy.estimator_moments(mdp, pol, [[0, 0], [0, 0]], protocol="horizon", horizon=4)
    assert err.value.argument == "mdp" and err.value.value == 128


def test_a_policy_that_never_terminates_is_reported():
    mdp = sy.MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[1, 0], [0, 0]], 1, rho0=[1, 0],
                 terminal=[False, True])
    with pytest.raises(mg.NonTerminatingPolicyError):
        sy.estimator_moments(mdp, sy.Direct(2, 2), [[1, 0], [1, 0]])


def test_probabilities_of_zero_are_never_scored():
    """A Direct policy with π(1|0) = 0: the estimate never uses that score (no division by zero)."""
    mom = sy.estimator_moments(_bandit(), sy.Direct(2, 2), [[1, 0], [1, 0]])
    assert mom.covariance == sympy.zeros(4, 4)

