"""The README's PyTorch example runs as printed and says what it claims (needs the torch extra)."""

from __future__ import annotations

import pathlib
import re

import pytest

pytest.importorskip("torch")

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_torch_example_runs_and_catches_the_dropped_discount(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    (code,) = [b for b in blocks if "from mdpgrad.torch import" in b]
    exec(compile(code, "README.md (torch example)", "exec"), {})
    assert capsys.readouterr().out.split() == ["False", "True"]
