"""mdpgrad.examples: named MDPs with known numbers.

``mg.get_example(name)`` (top level) builds one by name; ``EXAMPLES`` maps
each name to its builder and a one-line description. The builders take their
parameters: Sutton & Barto's gridworlds (Examples 3.5 and 4.1), random walks,
cliff walking, the short corridor of Example 13.1, Baird's counterexample,
two-state teaching MDPs, seeded Garnet MDPs and a slippery gridworld of any
size, built sparse; and, with action sets, the gambler's problem
(Example 4.3), Jack's car rental (Example 4.2) and the access-control queuing
task (Example 10.2).
"""

from ._catalogue import (
    EXAMPLES,
    BairdCounterexample,
    baird_counterexample,
    cliff_walking,
    garnet,
    gridworld_example_3_5,
    gridworld_example_4_1,
    random_walk,
    short_corridor,
    slippery_gridworld,
    two_state,
    two_state_episodic,
    two_state_reversible,
    two_state_tables,
)
from ._sutton_barto import access_control_queuing, gamblers_problem, jacks_car_rental

__all__ = [
    "BairdCounterexample",
    "EXAMPLES",
    "access_control_queuing",
    "baird_counterexample",
    "cliff_walking",
    "gamblers_problem",
    "garnet",
    "gridworld_example_3_5",
    "gridworld_example_4_1",
    "jacks_car_rental",
    "random_walk",
    "short_corridor",
    "slippery_gridworld",
    "two_state",
    "two_state_episodic",
    "two_state_reversible",
    "two_state_tables",
]
