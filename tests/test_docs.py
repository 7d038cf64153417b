"""The examples in docs/api.md run on a generated clinic."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from needling_analytics.demo import write_clinic

from .conftest import demo_tables

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_api_examples_run(tmp_path, capsys):
    folder = tmp_path / "demo"
    write_clinic(demo_tables(n_patients=200, seed=0), folder)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), flags=re.S)
    assert len(blocks) >= 6
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the documented calls run without warnings
        for block in blocks:
            exec(compile(block.replace('"data/demo"', repr(str(folder))), "docs/api.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "pain down by at least 2 points and at least 30%" in printed
    assert "association" in printed
    assert namespace["fit"].fixed_effects.index.tolist() == [
        "Intercept",
        "weeks_since_start",
        "weeks_since_start_after_7",
    ]
