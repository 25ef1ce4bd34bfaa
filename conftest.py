"""pytest at the repository root: the framework adapters are collected (for their doctests) only when
their optional extra is installed; without it, importing them is an ImportError by design."""

import importlib.util

collect_ignore = [f"mdpgrad/{name}" for name in ("torch", "jax") if importlib.util.find_spec(name) is None]
