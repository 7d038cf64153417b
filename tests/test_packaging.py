"""Packaging: the environment files agree, the docs match the schema, the entry points run."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from needling_analytics.datadict import render_data_dictionary
from needling_analytics.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]


def _requirement(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", text)
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = dict(map(_requirement, project["dependencies"] + project["optional-dependencies"]["dev"]))
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_side = dict(
        _requirement(d) for d in conda["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))
    )
    assert conda_side == pip_side
    assert "conda-forge" in conda["channels"]


def test_required_runtime_dependencies_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_requirement(d)[0] for d in project["dependencies"]}
    wanted = {
        "pandas",
        "matplotlib",
        "seaborn",
        "statsmodels",
        "papermill",
        "ipykernel",
        "nbconvert",
        "jupyterlab",
        "pandera",
        "pyarrow",
        "openpyxl",
    }
    assert wanted <= names
    assert project["scripts"]["needling-analytics"] == "needling_analytics.cli:main"


def test_data_dictionary_is_up_to_date():
    committed = (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    assert committed == render_data_dictionary(), "run: python -m needling_analytics.datadict > docs/data-dictionary.md"
    for spec in TABLES.values():
        for column in spec.columns:
            assert f"| `{column.name}` |" in committed


def test_python_dash_m_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "needling_analytics", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0
    assert result.stdout.startswith("needling-analytics ")


def test_layout_is_in_place():
    for name in [
        "needling_analytics",
        "notebooks",
        "data",
        "reports/README.md",
        "tests",
        "benchmarks",
        "docs",
        "environment.yml",
        "pyproject.toml",
        "Makefile",
        "README.md",
        ".ci/run",
    ]:
        assert (ROOT / name).exists(), name
    ignored = (ROOT / ".gitignore").read_text()
    assert "reports/*" in ignored and "data/demo/" in ignored


def test_every_public_metric_name_is_the_function_not_its_module():
    import importlib
    import pkgutil
    import types

    from needling_analytics import metrics

    for module in pkgutil.iter_modules(metrics.__path__):
        importlib.import_module(f"needling_analytics.metrics.{module.name}")  # as other code may
    for name in metrics.__all__:
        assert not isinstance(getattr(metrics, name), types.ModuleType), name


def test_the_lazy_metrics_table_names_where_each_public_name_is_defined():
    import importlib

    from needling_analytics import metrics

    assert metrics.__all__ == sorted(metrics._WHERE)
    for name, module in metrics._WHERE.items():
        value = getattr(importlib.import_module(f"needling_analytics.metrics.{module}"), name)
        defined = getattr(value, "__module__", None) if callable(value) else None
        assert defined in (None, f"needling_analytics.metrics.{module}"), (name, module, defined)


def test_importing_metrics_or_plots_imports_neither_pandera_nor_the_loader():
    code = (
        "import sys, needling_analytics.metrics as m, needling_analytics.plots; "
        "m.episode_pain; m.kaplan_meier; m.analyze_frequency; m.practitioner_comparison; "
        "print(sorted(x for x in sys.modules if 'pandera' in x or x.startswith('needling_analytics.load')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_every_error_and_warning_of_the_package_derives_from_its_base_class():
    import importlib
    import inspect
    import pkgutil

    import needling_analytics
    from needling_analytics.errors import NeedlingAnalyticsError, NeedlingAnalyticsWarning

    found = 0
    for module in pkgutil.walk_packages(needling_analytics.__path__, "needling_analytics."):
        if module.name.endswith("__main__"):
            continue
        for name, value in vars(importlib.import_module(module.name)).items():
            # private classes (e.g. a parser's internal signal) never leave their module
            if not inspect.isclass(value) or value.__module__ != module.name or name.startswith("_"):
                continue
            if issubclass(value, Warning):
                assert issubclass(value, NeedlingAnalyticsWarning), f"{module.name}.{name}"
                found += 1
            elif issubclass(value, BaseException):
                assert issubclass(value, NeedlingAnalyticsError), f"{module.name}.{name}"
                found += 1
    assert found >= 10
