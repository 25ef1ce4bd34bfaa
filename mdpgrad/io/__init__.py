"""mdpgrad.io: MDP files and converters from other layouts.

``mg.save`` and ``mg.load`` (top level) write and read ``.npz`` and ``.json``
files exactly; loading never unpickles or evaluates anything. This namespace
holds the dictionary form of a file (``mdp_to_dict``, ``mdp_from_dict``) and
the converters from Gymnasium's ``env.unwrapped.P`` and from pymdptoolbox's
(A, S, S) arrays.
"""

from ._convert import GymnasiumConversion, convert_gymnasium, from_gymnasium, from_mdptoolbox
from ._files import mdp_from_dict, mdp_to_dict

__all__ = [
    "GymnasiumConversion",
    "convert_gymnasium",
    "from_gymnasium",
    "from_mdptoolbox",
    "mdp_from_dict",
    "mdp_to_dict",
]
