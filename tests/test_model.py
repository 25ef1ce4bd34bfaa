"""The MDP model: construction, layouts, and a table of malformed inputs."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
import sympy

from mdpgrad import MDP, ValidationError


def tiny():
    P = np.array([[[0.5, 0.5], [1.0, 0.0]],
                  [[0.0, 1.0], [0.25, 0.75]]])
    r = np.array([[1.0, 0.0], [0.0, 2.0]])
    return P, r


def test_defaults_and_views():
    P, r = tiny()
    m = MDP(P, r, 0.9)
    assert (m.n_states, m.n_actions) == (2, 2)
    np.testing.assert_array_equal(m.rho0, [0.5, 0.5])
    np.testing.assert_array_equal(m.terminal, [False, False])
    np.testing.assert_array_equal(m.P_flat, P.reshape(4, 2))
    assert not m.is_sparse


def test_arrays_are_immutable():
    P, r = tiny()
    m = MDP(P, r, 0.9)
    with pytest.raises(ValueError):
        m.P[0, 0, 0] = 0.3
    with pytest.raises(ValueError):
        m.r[0, 0] = 5.0
    with pytest.raises(AttributeError):
        m.gamma = 0.5  # frozen dataclass
    P[0, 0, 0] = 0.9  # the caller's array is not shared
    assert m.P[0, 0, 0] == 0.5


def test_sparse_layout_matches_dense():
    P, r = tiny()
    m = MDP(sp.csr_matrix(P.reshape(4, 2)), r, 0.9)
    assert m.is_sparse and isinstance(m.P, sp.csr_array)
    np.testing.assert_array_equal(m.P_dense(), P)


def test_reward_tensor_is_reduced_with_P():
    P, _ = tiny()
    r3 = np.zeros((2, 2, 2))
    r3[0, 0] = [2.0, 4.0]        # 0.5·2 + 0.5·4 = 3
    r3[1, 1] = [8.0, 4.0]        # 0.25·8 + 0.75·4 = 5
    expected = np.array([[3.0, 0.0], [0.0, 5.0]])
    np.testing.assert_allclose(MDP(P, r3, 0.9).r, expected, rtol=0, atol=1e-15)
    dense_from_sparse = MDP(sp.csr_array(P.reshape(4, 2)), r3, 0.9).r
    np.testing.assert_allclose(dense_from_sparse, expected, rtol=0, atol=1e-15)


def test_rho0_default_excludes_terminal_states():
    P = np.zeros((3, 1, 3))
    P[0, 0, 1] = P[1, 0, 2] = P[2, 0, 2] = 1.0
    m = MDP(P, np.zeros((3, 1)), 1.0, terminal=np.array([False, False, True]))
    np.testing.assert_array_equal(m.rho0, [0.5, 0.5, 0.0])


def test_exact_inputs_are_checked_exactly():
    half, third = Fraction(1, 2), Fraction(1, 3)
    P = np.array([[[half, half]], [[third, 2 * third]]], dtype=object)
    m = MDP(P, [[1], [0]], sympy.Rational(9, 10))
    assert m.P[1, 0, 1] == pytest.approx(2 / 3, rel=1e-16)
    bad = np.array([[[half, half]], [[third, third]]], dtype=object)
    with pytest.raises(ValidationError, match=r"P\[1, 0, :\] sums to 2/3 exactly"):
        MDP(bad, [[1], [0]], 0.9)


def test_atol_is_an_argument():
    P, r = tiny()
    P = P.copy()
    P[0, 0] = [0.5, 0.5 + 1e-7]
    with pytest.raises(ValidationError):
        MDP(P, r, 0.9)
    assert MDP(P, r, 0.9, atol=1e-6).P[0, 0, 1] == 0.5 + 1e-7


def test_replace_validates_again():
    P, r = tiny()
    m = MDP(P, r, 0.9)
    assert m.replace(gamma=0.5).gamma == 0.5
    with pytest.raises(ValidationError, match="gamma"):
        m.replace(gamma=1.5)


# --- the table of bad inputs --------------------------------------------------
P0, R0 = tiny()
NAN_P = P0.copy(); NAN_P[1, 0] = [np.nan, 1.0]                     # noqa: E702
NEG_P = P0.copy(); NEG_P[1, 1] = [-0.25, 1.25]                     # noqa: E702
SHORT_P = P0.copy(); SHORT_P[1, 1] = [0.25, 0.72]                  # noqa: E702
INF_R = R0.copy(); INF_R[0, 1] = np.inf                            # noqa: E702
ABSORB = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
LEAKY = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])

BAD_INPUTS = [
    # (description, kwargs, argument, message fragment)
    ("P not 3-D", dict(P=np.ones((2, 2)) / 2, r=R0, gamma=0.9), "P", r"shape \(2, 2\)"),
    ("P not square in states", dict(P=np.ones((2, 2, 3)) / 3, r=R0, gamma=0.9), "P", r"shape \(2, 2, 3\)"),
    ("no states", dict(P=np.zeros((0, 2, 0)), r=np.zeros((0, 2)), gamma=0.9), "P", "S, A >= 1"),
    ("no actions", dict(P=np.zeros((2, 0, 2)), r=np.zeros((2, 0)), gamma=0.9), "P", "S, A >= 1"),
    ("NaN in P", dict(P=NAN_P, r=R0, gamma=0.9), "P", r"P\[1, 0, 0\] is nan"),
    ("negative P", dict(P=NEG_P, r=R0, gamma=0.9), "P", r"P\[1, 1, 0\] is -0.25"),
    ("row not summing to 1", dict(P=SHORT_P, r=R0, gamma=0.9), "P",
     r"P\[1, 1, :\] sums to 0.97.*atol=1e-10"),
    ("sparse row not summing to 1", dict(P=sp.csr_array(SHORT_P.reshape(4, 2)), r=R0, gamma=0.9), "P",
     r"P\[1, 1, :\] sums to 0.97"),
    ("sparse negative", dict(P=sp.csr_array(NEG_P.reshape(4, 2)), r=R0, gamma=0.9), "P", r"P\[1, 1, 0\]"),
    ("sparse wrong shape", dict(P=sp.csr_array(np.ones((3, 2)) / 2), r=R0, gamma=0.9), "P", r"\(3, 2\)"),
    ("P not numeric", dict(P=np.array([[["a", "b"]]]), r=[[0.0]], gamma=0.9), "P", "real numbers"),
    ("r wrong shape", dict(P=P0, r=np.zeros((2, 3)), gamma=0.9), "r", r"r has shape \(2, 3\)"),
    ("r infinite", dict(P=P0, r=INF_R, gamma=0.9), "r", r"r\[0, 1\] is inf"),
    ("gamma above 1", dict(P=P0, r=R0, gamma=1.01), "gamma", "gamma is 1.01"),
    ("gamma negative", dict(P=P0, r=R0, gamma=-0.1), "gamma", "gamma is -0.1"),
    ("gamma NaN", dict(P=P0, r=R0, gamma=float("nan")), "gamma", "gamma is nan"),
    ("gamma not a number", dict(P=P0, r=R0, gamma="high"), "gamma", "gamma is 'high'"),
    ("gamma 1 without terminal states", dict(P=P0, r=R0, gamma=1.0), "gamma", "needs terminal states"),
    ("rho0 not summing to 1", dict(P=P0, r=R0, gamma=0.9, rho0=[0.5, 0.6]), "rho0", "rho0 sums to 1.1"),
    ("rho0 negative", dict(P=P0, r=R0, gamma=0.9, rho0=[1.5, -0.5]), "rho0", r"rho0\[1\] is -0.5"),
    ("rho0 wrong length", dict(P=P0, r=R0, gamma=0.9, rho0=[1.0]), "rho0", r"shape \(1,\)"),
    ("terminal not bool", dict(P=P0, r=R0, gamma=0.9, terminal=[0, 1]), "terminal", "bool array"),
    ("terminal not absorbing", dict(P=LEAKY, r=[[0.0], [0.0]], gamma=0.9, terminal=np.array([False, True])),
     "terminal", r"terminal state 1 is not absorbing: P\[1, 0, 1\] is 0.5"),
    ("terminal pays reward", dict(P=ABSORB, r=[[0.0], [3.0]], gamma=0.9, terminal=np.array([False, True])),
     "terminal", r"r\[1, 0\] is 3; expected 0"),
    ("all states terminal", dict(P=ABSORB, r=[[0.0], [0.0]], gamma=0.9, terminal=np.array([True, True])),
     "terminal", "every state is terminal"),
    ("rho0 only on terminal", dict(P=ABSORB, r=[[0.0], [0.0]], gamma=0.9, rho0=[0.0, 1.0],
                                   terminal=np.array([False, True])), "rho0", "all its mass on terminal"),
]


@pytest.mark.parametrize("kwargs, argument, fragment",
                         [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_raises_named_error(kwargs, argument, fragment):
    with pytest.raises(ValidationError, match=fragment) as info:
        MDP(**kwargs)
    assert isinstance(info.value, ValueError)
    assert info.value.argument == argument


# -- the model owns its arrays ----------------------------------------------------------------

def test_a_sparse_model_owns_a_read_only_copy():
    import scipy.sparse as sp

    P = sp.csr_array(np.array([[0.5, 0.5], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]))
    before = P.copy()
    mdp = MDP(P, [[1.0, 0.0], [0.0, 0.0]], 0.9)
    P.data[:] = 1.0                                    # the caller edits its matrix afterwards
    assert np.array_equal(mdp.P.toarray(), before.toarray())
    for part in (mdp.P.data, mdp.P.indices, mdp.P.indptr):
        with pytest.raises(ValueError):
            part[0] = part[0]


def test_construction_does_not_reorder_the_callers_matrix():
    import scipy.sparse as sp

    data, indices, indptr = np.array([0.5, 0.5, 1.0]), np.array([1, 0, 1]), np.array([0, 2, 3])
    P = sp.csr_array((data, indices, indptr), shape=(2, 2))           # row 0 unsorted
    MDP(P, [[0.0], [0.0]], 0.9)
    assert P.indices.tolist() == [1, 0, 1]


def test_a_dense_model_owns_a_read_only_copy():
    P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    mdp = MDP(P, [[1.0], [0.0]], 0.9)
    P[0, 0] = [1.0, 0.0]
    assert mdp.P[0, 0].tolist() == [0.5, 0.5] and not mdp.P.flags.writeable


@pytest.mark.parametrize("make", [
    lambda: MDP(np.array([[[0.5 + 0j, 0.5]], [[0.0, 1.0]]]), [[0.0], [0.0]], 0.9),
    lambda: MDP(np.array([[[0.5, 0.5]], [[0.0, 1.0]]]), [[1j], [0.0]], 0.9),
    lambda: MDP(__import__("scipy.sparse").sparse.csr_array(np.array([[0.5 + 1j, 0.5], [0, 1.0]])),
                [[0.0], [0.0]], 0.9),
])
def test_complex_input_is_refused_not_truncated(make):
    with pytest.raises(ValidationError):
        make()


@pytest.mark.parametrize("atol", [float("nan"), float("inf"), -1e-3])
def test_a_tolerance_that_would_switch_the_row_check_off_is_refused(atol):
    with pytest.raises(ValidationError) as err:
        MDP(np.array([[[0.5, 0.4]], [[0.0, 1.0]]]), [[0.0], [0.0]], 0.9, atol=atol)
    assert err.value.argument == "atol"
