"""mdpgrad.plot gridworlds: the heatmap holds the values, the arrows the policy, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

import mdpgrad as mg
import mdpgrad.plot as mplot

UP_RIGHT_DOWN_LEFT = [[-1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, -1.0]]


def new_ax():
    return Figure().add_subplot()


# -- action_directions ---------------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    mg.examples.gridworld_example_3_5,
    mg.examples.gridworld_example_4_1,
    mg.examples.cliff_walking,
    lambda: mg.examples.slippery_gridworld(4, 5),                    # sparse P, slip 0.2
    lambda: mg.examples.slippery_gridworld(3, 3, slip=2 / 3, sparse=False),
])
def test_builtin_grids_move_up_right_down_left(build):
    assert mplot.action_directions(build()).tolist() == UP_RIGHT_DOWN_LEFT


def one_row_grid():
    """1×3 grid, action 0 stays, action 1 moves right (the last cell is terminal), action 2 moves left."""
    P = np.zeros((3, 3, 3))
    for s in range(3):
        P[s, 0, s] = 1.0
        P[s, 1, min(s + 1, 2)] = 1.0
        P[s, 2, max(s - 1, 0)] = 1.0
    P[2, :, :] = 0.0
    P[2, :, 2] = 1.0
    return mg.MDP(P, np.zeros((3, 3)), 0.9, terminal=[False, False, True], grid_shape=(1, 3))


def test_a_standing_action_has_no_direction_and_terminal_cells_do_not_vote():
    # over the non-terminal cells 0 and 1: "right" always moves one column, "left" moves in cell 1 only
    # (a median of (0, -1) over two cells is -0.5, normalised to -1)
    assert mplot.action_directions(one_row_grid()).tolist() == [[0.0, 0.0], [0.0, 1.0], [0.0, -1.0]]


def test_action_directions_refuses_a_model_without_a_grid():
    with pytest.raises(mg.ValidationError, match=r"grid_shape=\(rows, cols\)") as err:
        mplot.action_directions(mg.get_example("two-state"))
    assert err.value.argument == "mdp"
    with pytest.raises(mg.ValidationError) as err:
        mplot.action_directions("gridworld")
    assert err.value.argument == "mdp"


# -- grid_values -----------------------------------------------------------------------------------

def test_the_heatmap_holds_the_values_row_major():
    mdp = mg.get_example("gridworld")
    v = mg.evaluate(mdp, mg.uniform_policy(25, 4)).v
    ax = new_ax()
    pic = mplot.grid_values(mdp, v, ax=ax, title="random policy")
    assert pic.ax is ax
    np.testing.assert_array_equal(np.asarray(pic.image.get_array()), v.reshape(5, 5))
    np.testing.assert_array_equal(pic.values, v.reshape(5, 5))
    assert pic.values[0, 1] == v[1] and pic.values[4, 1] == v[21]         # A = (0, 1), A' = (4, 1)
    assert pic.colorbar.ax.get_ylabel() == "v(s)"
    assert list(ax.get_xticks()) == [0, 1, 2, 3, 4] and list(ax.get_yticks()) == [0, 1, 2, 3, 4]
    assert ax.get_xlabel() == "column" and ax.get_ylabel() == "row"
    assert ax.get_title() == "random policy"
    assert ax.get_ylim() == (4.5, -0.5)                                    # row 0 at the top
    assert pic.arrows is None and pic.terminal_marks == []
    assert [t.get_text() for t in pic.texts] == [f"{x:.1f}" for x in v]
    assert [t.get_position() for t in pic.texts] == [(s % 5, s // 5) for s in range(25)]


def test_text_colour_is_readable_on_the_cell_colour():
    mdp = mg.get_example("gridworld")
    v = np.zeros(25)
    v[7] = 1.0                                         # the brightest viridis cell: yellow
    pic = mplot.grid_values(mdp, v, ax=new_ax(), fmt="{:.0f}")
    assert to_rgba(pic.texts[7].get_color()) == to_rgba("black")
    assert to_rgba(pic.texts[0].get_color()) == to_rgba("white")          # dark purple
    assert pic.texts[7].get_text() == "1" and pic.texts[0].get_text() == "0"


def test_no_annotation_when_asked():
    mdp = mg.get_example("gridworld")
    pic = mplot.grid_values(mdp, np.arange(25.0), ax=new_ax(), annotate=False, label="η(s)")
    assert pic.texts == [] and pic.colorbar.ax.get_ylabel() == "η(s)"


def test_arrows_are_the_policy_and_terminal_cells_are_marked():
    mdp = mg.get_example("gridworld-episodic")                             # corners 0 and 15 terminal
    pi = np.full((16, 4), 0.25)
    pi[5] = [0.5, 0.5, 0.0, 0.0]                                           # up and right only
    pi[6] = [0.0, 0.0, 1.0, 0.0]                                           # down only
    v = mg.evaluate(mdp, pi).v
    pic = mplot.grid_values(mdp, v, policy=pi, ax=new_ax())
    q = pic.arrows
    assert q is not None
    tails = np.asarray(q.get_offsets())
    U, V = np.asarray(q.U), np.asarray(q.V)
    # expected arrows, written from the picture's rule: 0.4·π(a|s) cells along (d_col, d_row)
    expected = []
    for s in range(1, 15):
        for a, (dr, dc) in enumerate(UP_RIGHT_DOWN_LEFT):
            if pi[s, a] > 0:
                expected.append((s % 4, s // 4, 0.4 * pi[s, a] * dc, 0.4 * pi[s, a] * dr))
    got = list(zip(tails[:, 0], tails[:, 1], U, V, strict=True))
    assert len(got) == len(expected) == 12 * 4 + 2 + 1
    np.testing.assert_allclose(np.array(got), np.array(expected), rtol=0, atol=1e-15)
    assert (0, 0) not in {(x, y) for x, y in tails} and (3, 3) not in {(x, y) for x, y in tails}
    # state 6 = (1, 2) goes down by 0.4 cells, i.e. +0.4 in row (the y axis is inverted)
    k = [i for i, (x, y) in enumerate(tails) if (x, y) == (2, 1)]
    assert len(k) == 1 and (U[k[0]], V[k[0]]) == (0.0, 0.4)
    patches = [m for m in pic.terminal_marks if hasattr(m, "get_xy")]
    assert sorted(p.get_xy() for p in patches) == [(-0.5, -0.5), (2.5, 2.5)]
    letters = [m for m in pic.terminal_marks if hasattr(m, "get_text")]
    assert [t.get_text() for t in letters] == ["T", "T"]
    assert len(pic.texts) == 14                                            # the non-terminal cells only
    np.testing.assert_array_equal(pic.policy, pi)
    assert pic.directions.tolist() == UP_RIGHT_DOWN_LEFT


def test_directions_can_be_given():
    mdp = mg.get_example("gridworld")
    pi = np.zeros((25, 4))
    pi[:, 1] = 1.0
    dirs = [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]                 # draw "right" pointing down
    pic = mplot.grid_values(mdp, np.zeros(25), policy=pi, directions=dirs, ax=new_ax())
    assert np.all(np.asarray(pic.arrows.U) == 0.0) and np.all(np.asarray(pic.arrows.V) == 0.4)
    assert len(pic.arrows.U) == 25


def test_a_large_grid_gets_no_numbers_and_fewer_ticks():
    mdp = mg.examples.slippery_gridworld(21, 40)                             # 840 cells > 400
    v = np.arange(840.0)
    pic = mplot.grid_values(mdp, v, ax=new_ax())
    assert pic.texts == [] and pic.values[20, 39] == 839.0
    ticks = pic.ax.get_xticks()
    assert len(ticks) < 40 and np.all(ticks == np.round(ticks))            # integer column indices
    assert list(pic.ax.get_yticks()) == list(range(21))
    small = mplot.grid_values(mg.examples.slippery_gridworld(20, 20), np.zeros(400), ax=new_ax())
    assert len(small.texts) == 399                                          # the goal is terminal


def test_without_ax_it_makes_its_own_figure():
    pic = mplot.grid_values(mg.get_example("cliff-walking"), np.zeros(48))
    assert isinstance(pic.ax.figure, Figure) and pic.values.shape == (4, 12)


def test_grid_values_refuses_a_model_without_a_grid():
    with pytest.raises(mg.ValidationError, match=r"grid_shape=\(rows, cols\)") as err:
        mplot.grid_values(mg.get_example("two-state"), [1.0, 2.0], ax=new_ax())
    assert err.value.argument == "mdp"


@pytest.mark.parametrize("kwargs, argument", [
    (dict(values=np.zeros(24)), "values"),
    (dict(values=np.r_[np.zeros(24), np.nan]), "values"),
    (dict(values=np.zeros(25) + 0j), "values"),
    (dict(policy=np.full((25, 4), 0.3)), "policy"),
    (dict(policy=np.full((2, 25, 4), 0.25)), "policy"),
    (dict(policy=np.full((25, 4), 0.25), directions=np.zeros((4, 3))), "directions"),
    (dict(cmap="no-such-map"), "cmap"),
    (dict(fmt="{:d}"), "fmt"),
    (dict(fmt=3), "fmt"),
    (dict(fmt="{0[0]}"), "fmt"),                                           # a float is not subscriptable
    (dict(annotate=1), "annotate"),
    (dict(label=None), "label"),
    (dict(ax="axes"), "ax"),
])
def test_bad_input_names_the_argument(kwargs, argument):
    args = dict(values=np.zeros(25), ax=new_ax())
    args.update(kwargs)
    values = args.pop("values")
    with pytest.raises(mg.ValidationError) as err:
        mplot.grid_values(mg.get_example("gridworld"), values, **args)
    assert err.value.argument == argument
