"""The package's types are part of its contract (it ships ``py.typed``): mypy must accept it.

Runs mypy with the settings in pyproject.toml ([tool.mypy]) on the whole package.
"""

import pathlib

from mypy import api

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_mypy_accepts_the_package():
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), str(ROOT / "mdpgrad")])
    assert status == 0, stdout + stderr
