"""The shape of the reporting layer: one facade for the notebooks, no private names across modules, cohort below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from needling_analytics import reporting
from needling_analytics.reporting import text

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "needling_analytics"
NOTEBOOKS = ("clinic_report", "patient_report", "treatment_response")
#: Modules of this layer and the ones around it; suppression and pseudonyms move to the privacy package.
OWN = [
    *sorted(p for p in (PACKAGE / "reporting").rglob("*.py") if p.name not in ("suppression.py", "pseudonyms.py")),
    PACKAGE / "cohort.py",
    *sorted((PACKAGE / "runner").glob("*.py")),
    PACKAGE / "cli.py",
]


def _imports(path: Path) -> list[ast.ImportFrom]:
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.ImportFrom)]


def test_the_facade_exports_public_names_only_and_every_one_resolves():
    assert len(reporting.__all__) == len(set(reporting.__all__))
    assert not [n for n in reporting.__all__ if n.startswith("_")]
    assert all(getattr(reporting, n) is not None for n in reporting.__all__)
    assert not [n for n in text.__all__ if n.startswith("_")]
    assert set(text.__all__) <= set(reporting.__all__)  # every sentence is reachable as reporting.<name>


@pytest.mark.parametrize("path", OWN, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_another_modules_private_names(path):
    names = [f"{n.module}.{a.name}" for n in _imports(path) for a in n.names]
    private = [n for n in names if n.rpartition(".")[2].startswith("_") and not n.endswith("__")]
    assert not private


def test_cohort_sits_below_reporting():
    modules = {n.module or "" for n in _imports(PACKAGE / "cohort.py")}
    assert not [m for m in modules if m.split(".")[0] in ("plots", "reporting", "runner", "privacy", "cli")]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_use_the_reporting_facade_only(name):
    tree = ast.parse((ROOT / "notebooks" / f"{name}.py").read_text(encoding="utf-8"))
    ours = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("needling")]
    assert all(n.module == "needling_analytics" for n in ours), [n.module for n in ours]  # no submodule imports
    used = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "reporting"
    }
    assert used and used <= set(reporting.__all__), sorted(used - set(reporting.__all__))
