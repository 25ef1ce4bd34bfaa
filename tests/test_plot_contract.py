"""What every picture function of mdpgrad.plot promises, checked across the module.

* the core install does not need matplotlib: ``import mdpgrad`` (and every
  computation) never imports it, and ``import mdpgrad.plot`` without it fails
  with an ImportError naming the extra to install;
* drawing never touches pyplot's global state: after every function has drawn,
  ``matplotlib.pyplot`` has not been imported;
* every function takes ``ax=``, draws on the axes it is given, and refuses
  something that is not an Axes with a ValidationError naming ``ax``.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from matplotlib.figure import Figure

import mdpgrad as mg
import mdpgrad.plot as mplot

#: The functions that draw (style and figure_problems set up and check figures, they draw nothing).
FUNCTIONS = sorted(name for name in mplot.__all__ if inspect.isfunction(getattr(mplot, name))
                   and name not in ("figure_problems", "style"))


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_the_core_does_not_import_matplotlib():
    done = _python("""
        import sys
        import mdpgrad as mg
        mdp = mg.get_example("gridworld")
        mg.evaluate(mdp, mg.uniform_policy(mdp.n_states, mdp.n_actions))
        mg.td_symmetry(mg.get_example("two-state"), mg.uniform_policy(2, 2))
        from mdpgrad import cli
        print(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib"))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_matplotlib_the_import_error_names_the_extra():
    done = _python("""
        import sys
        sys.modules["matplotlib"] = None          # what an install without the extra looks like
        try:
            import mdpgrad.plot
        except ImportError as exc:
            print("ImportError:", exc)
        else:
            print("imported")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ImportError:")
    assert "pip install 'mdpgrad[plot]'" in done.stdout


def _draw_everything(mplot, mg, np, Figure):
    """One call of every picture function on small models; returns the names called."""
    called = set()

    def ax():
        return Figure().add_subplot()

    grid = mg.get_example("gridworld-episodic")
    pi = mg.uniform_policy(grid.n_states, grid.n_actions)
    v = mg.evaluate(grid, pi).v
    mplot.grid_values(grid, v, policy=pi, ax=ax())
    mplot.action_directions(grid)
    called |= {"grid_values", "action_directions"}

    two = mg.get_example("two-state")
    policy = mg.TabularSoftmax(2, 2)
    theta = np.zeros((2, 2))
    u, w = np.eye(4)[0].reshape(2, 2), np.eye(4)[1].reshape(2, 2)
    mplot.slice_contour(lambda t: mg.objective(two, policy, t), theta, u, w, n=5, ax=ax())
    mplot.slice_field(lambda t: mg.policy_gradient(two, policy, t), theta, u, w, n=5, ax=ax())
    mplot.slice_loop(lambda t: mg.expected_update_without_discount(two, policy, t), theta, u, w,
                     radius=0.5, ax=ax())
    mplot.landscape(two, policy, theta, n=5, ax=ax())
    called |= {"slice_contour", "slice_field", "slice_loop", "landscape"}

    picture = mplot.value_polytope(two, ax=ax())
    mplot.trajectory(np.array([[0.0, 0.0], [1.0, 1.0]]), ax=picture.ax)
    called |= {"value_polytope", "trajectory"}

    M = np.array([[-1.0, 2.0], [0.0, -1.0]])
    mplot.matrix(M, antisymmetric=True, witness=(0, 1), ax=ax())
    mplot.eigenvalues(M, step_size=0.1, ax=ax())
    called |= {"matrix", "eigenvalues"}

    mplot.trace([1.0, float("nan"), 2.0], ax=ax())
    samples = np.random.default_rng(0).normal(size=(50, 2))
    mplot.estimator_histogram(samples, [0.0, 0.0], [0.1, 0.1], ax=ax())
    mplot.estimator_scatter(samples, [0.0, 0.0], [0.1, 0.1], ax=ax())
    called |= {"trace", "estimator_histogram", "estimator_scatter"}
    return called


def test_every_function_draws_without_pyplot():
    done = _python(f"""
        import sys
        import numpy as np
        from matplotlib.figure import Figure
        import mdpgrad as mg
        import mdpgrad.plot as mplot
        {textwrap.indent(inspect.getsource(_draw_everything), " " * 8).strip()}
        called = _draw_everything(mplot, mg, np, Figure)
        print(sorted(called))
        print("pyplot" if "matplotlib.pyplot" in sys.modules else "no pyplot")
    """)
    assert done.returncode == 0, done.stderr
    called, pyplot = done.stdout.strip().splitlines()
    assert called == str(FUNCTIONS)
    assert pyplot == "no pyplot"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_picture_function_takes_ax(name):
    if name == "action_directions":               # a number, not a picture
        assert "ax" not in inspect.signature(getattr(mplot, name)).parameters
        return
    parameter = inspect.signature(getattr(mplot, name)).parameters["ax"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is None


def test_a_picture_lands_on_the_axes_it_is_given_and_a_new_one_otherwise():
    fig = Figure()
    ax = fig.add_subplot()
    picture = mplot.matrix([[1.0, 0.0], [0.0, 1.0]], ax=ax)
    assert picture.ax is ax and len(ax.images) == 1
    alone = mplot.matrix([[1.0, 0.0], [0.0, 1.0]])
    assert alone.ax is not ax and alone.ax.figure is not fig


@pytest.mark.parametrize("bad", ["axes", 3, Figure()])
def test_something_that_is_not_axes_is_refused(bad):
    with pytest.raises(mg.ValidationError) as info:
        mplot.trace([1.0, 2.0], ax=bad)
    assert info.value.argument == "ax"


# -- figures a reader can read -------------------------------------------------------------------

def test_a_figure_made_by_mdpgrad_plot_has_150_dpi_and_text_of_at_least_10_pt():
    from mdpgrad.plot._axes import DPI, TEXT_SIZE
    assert DPI >= 150 and TEXT_SIZE >= 10
    pic = mplot.trace([1.0, np.nan, 2.0], label="J")
    assert pic.ax.figure.get_dpi() == DPI
    assert pic.note.get_fontsize() >= 10
    assert all(t.get_fontsize() >= 10 for t in pic.ax.get_legend().get_texts())
    hist = mplot.estimator_histogram(np.arange(12.0).reshape(6, 2), [1.0, 2.0], [1.0, 2.0])
    assert all(t.get_fontsize() >= 10 for t in hist.artists["legend"].get_texts())
    eig = mplot.eigenvalues([[-1.0, 0.0], [0.0, -2.0]], step_size=0.5)
    assert all(t.get_fontsize() >= 10 for t in eig.ax.get_legend().get_texts())
