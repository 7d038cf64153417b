"""The package's structure: every import goes down the layer order, and no private name leaves its module.

Every module of the package and every notebook twin (``notebooks/*.py``) is
parsed with :mod:`ast`; all its imports count, including those inside
functions and relative ones. A module imports the layers below it and its
own layer, never one above. A module that no row of :data:`LAYERS` names is
itself an error: add it to the table, with its reason.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "needling_analytics"

#: The layer order, lowest first: (layer, module prefixes, why it sits there). A prefix names a module and
#: its submodules; the longest matching prefix wins; the package itself (its ``__init__``) matches only itself.
LAYERS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "base",
        (
            "needling_analytics.errors",
            "needling_analytics.clinic",
            "needling_analytics.schema",
            "needling_analytics.periods",
            "needling_analytics.spreadsheet",
            "needling_analytics.reference",
            "needling_analytics.templates",
        ),
        "the vocabulary every layer shares (errors, the Clinic, tables, months, plausible limits): imports no layer",
    ),
    ("load", ("needling_analytics.load",), "files and a mapping in, a typed Clinic out: needs only the vocabulary"),
    (
        "demo",
        ("needling_analytics.demo",),
        "the synthetic clinic and its exports: written with the schema and load's codes, run only by the cli",
    ),
    (
        "datadict",
        ("needling_analytics.datadict",),
        "writes docs/data-dictionary.md from the schema and load's rules (python -m); nothing imports it",
    ),
    (
        "package",
        ("needling_analytics",),
        "the top-level facade: the version, the errors, Clinic and load_clinic",
    ),
    (
        "privacy",
        ("needling_analytics.privacy",),
        "keys, pseudonyms, small-cell suppression, file permissions, the research export: before anything is shown",
    ),
    ("metrics", ("needling_analytics.metrics",), "one module per metric family: a Clinic or a frame in, a frame out"),
    ("cohort", ("needling_analytics.cohort",), "which courses of care an analysis counts: windows, cohorts, outcomes"),
    ("plots", ("needling_analytics.plots",), "one plot per metric view: draws what the metrics return"),
    ("reporting", ("needling_analytics.reporting",), "the metrics cache, plain-language text and tables for readers"),
    ("notebooks", ("notebooks",), "thin report notebooks: call the public facades, nothing else (NOTEBOOK_FACADES)"),
    ("runner", ("needling_analytics.runner",), "executes the notebooks: one report, or the whole month"),
    (
        "cli",
        ("needling_analytics.cli", "needling_analytics.__main__"),
        "the command line: wires every layer together, and the only one that runs the demo",
    ),
]

#: Layers a layer may not import although they sit below it: (layer, lower layer) -> the modules exempt.
SKIPPED: dict[tuple[str, str], tuple[str, ...]] = {
    # privacy's core (keys, pseudonyms, suppression, permissions) works on plain values and frames;
    # only the research export loads a clinic itself.
    ("privacy", "load"): ("needling_analytics.privacy.export",),
}

#: Layers only some layers may import: the demo is run by the command line (and the tests), never by a report.
IMPORTED_ONLY_BY: dict[str, tuple[str, ...]] = {"demo": ("demo", "cli")}

#: What a notebook may import from the package: its public facades only.
NOTEBOOK_FACADES = {
    "needling_analytics",
    "needling_analytics.cohort",
    "needling_analytics.metrics",
    "needling_analytics.plots",
    "needling_analytics.privacy",
    "needling_analytics.reporting",
}

#: Imports against the rules above, each with its reason: (importer, imported module).
LAYER_EXCEPTIONS: set[tuple[str, str]] = {
    # Clinic.from_frames types frames in memory as the loader types files: it imports the loader when called,
    # so importing Clinic (and the metrics and plots that take one) still imports neither the loader nor pandera.
    ("needling_analytics.clinic", "needling_analytics.load.clinic"),
}

#: Private names used outside their module, each with its reason: (importer, "module:name" or a private module path).
PRIVATE_EXCEPTIONS: set[tuple[str, str]] = set()


# ------------------------------------------------------------------ reading the imports


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, e.g. "needling_analytics.plots.clinic" or "notebooks.clinic_report"
    line: int
    module: str  # the module imported (a submodule when ``from package import submodule``)
    name: str | None  # the name taken from it (``from module import name``); None for a module
    local: str = ""  # the name it is bound to in the importer

    @property
    def where(self) -> str:
        return f"{self.importer} (line {self.line})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@cache
def _sources() -> dict[str, tuple[Path, ast.Module]]:
    """Every module of the package and every notebook twin, parsed."""
    paths = sorted((ROOT / PACKAGE).rglob("*.py")) + sorted((ROOT / "notebooks").glob("*.py"))
    return {_module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))) for p in paths}


def _for_type_checkers(tree: ast.Module) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:``: imports for annotations only, never run."""
    skipped = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and (getattr(test, "id", None) or getattr(test, "attr", None)) == "TYPE_CHECKING":
            skipped |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return skipped


def _imports(importer: str, path: Path, tree: ast.Module) -> list[Import]:
    """The package's modules and names ``importer`` imports, anywhere in its file except under ``TYPE_CHECKING``."""
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found = []
    skipped = _for_type_checkers(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                found.append(Import(importer, node.lineno, a.name, None, a.asname or a.name.split(".")[0]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if _is_module(submodule):
                    found.append(Import(importer, node.lineno, submodule, None, alias.asname or alias.name))
                else:
                    found.append(Import(importer, node.lineno, source, alias.name, alias.asname or alias.name))
    return [i for i in found if i.module == PACKAGE or i.module.startswith(PACKAGE + ".")]


@cache
def _all_imports() -> list[Import]:
    return [i for name, (path, tree) in _sources().items() for i in _imports(name, path, tree)]


def layer_of(module: str) -> str | None:
    """The layer of the longest prefix in :data:`LAYERS` naming ``module`` (None: in no row)."""
    best, length = None, -1
    for layer, prefixes, _ in LAYERS:
        for prefix in prefixes:
            matches = module == prefix or (prefix != PACKAGE and module.startswith(prefix + "."))
            if matches and len(prefix) > length:
                best, length = layer, len(prefix)
    return best


RANK = {layer: rank for rank, (layer, _, _) in enumerate(LAYERS)}


# ------------------------------------------------------------------ the layers


def test_the_layer_table_is_well_formed():
    assert len(RANK) == len(LAYERS), "a layer is listed twice"
    prefixes = [p for _, row, _ in LAYERS for p in row]
    assert len(prefixes) == len(set(prefixes)), "a prefix is in two layers"
    assert all(reason.strip() for _, _, reason in LAYERS), "every layer says why it sits where it does"
    for lower, upper in [*SKIPPED, *((layer, None) for layer in IMPORTED_ONLY_BY)]:
        assert lower in RANK and (upper is None or upper in RANK)
    assert all(layer in RANK for allowed in IMPORTED_ONLY_BY.values() for layer in allowed)


def test_every_module_is_in_the_layer_table():
    missing = [name for name in _sources() if layer_of(name) is None]
    assert not missing, f"add it to the layer table (LAYERS in {Path(__file__).name}): {missing}"


def _breaks_the_layers(imp: Import) -> str | None:
    """Why ``imp`` goes against the layer order (None: it does not)."""
    own, other = layer_of(imp.importer), layer_of(imp.module)
    if other is None:
        return f"imports {imp.module}, which is in no layer: add it to the layer table"
    if own == "notebooks":
        if imp.module not in NOTEBOOK_FACADES:
            return f"a notebook imports {imp.module}; notebooks use only the facades {sorted(NOTEBOOK_FACADES)}"
        return None
    if RANK[other] > RANK[own]:
        return f"layer {own!r} imports {imp.module} from layer {other!r}, above it"
    exempt = SKIPPED.get((own, other))
    if exempt is not None and not any(imp.importer == m or imp.importer.startswith(m + ".") for m in exempt):
        return f"layer {own!r} may not import layer {other!r} ({imp.module}); only {list(exempt)} may"
    if other in IMPORTED_ONLY_BY and own not in IMPORTED_ONLY_BY[other]:
        return f"layer {own!r} imports {imp.module}; only {list(IMPORTED_ONLY_BY[other])} may import {other!r}"
    return None


def test_every_import_goes_down_the_layer_order():
    wrong = {}
    for imp in _all_imports():
        why = _breaks_the_layers(imp)
        if why and (imp.importer, imp.module) not in LAYER_EXCEPTIONS:
            wrong.setdefault(imp.where, why)
    assert not wrong, "\n".join(f"{where}: {why}" for where, why in sorted(wrong.items()))


def test_the_layer_exceptions_are_still_needed():
    """An exception that no import needs any more is taken off the list."""
    needed = {(i.importer, i.module) for i in _all_imports() if _breaks_the_layers(i)}
    assert not LAYER_EXCEPTIONS - needed, f"no longer needed, remove: {sorted(LAYER_EXCEPTIONS - needed)}"


@pytest.mark.parametrize(
    ("importer", "module", "name", "broken"),
    [
        ("needling_analytics.metrics.pain", "needling_analytics.schema", "TABLES", False),  # down: fine
        ("needling_analytics.metrics.pain", "needling_analytics.metrics._common", None, False),  # own layer: fine
        ("needling_analytics.metrics.pain", "needling_analytics.plots.theme", None, True),  # up
        ("needling_analytics.load.clinic", "needling_analytics.privacy.keys", "read_key", True),  # up
        ("needling_analytics.reporting.cache", "needling_analytics.demo", "generate_clinic", True),  # demo: cli only
        ("needling_analytics.cli", "needling_analytics.demo", "generate_clinic", False),
        ("needling_analytics.privacy.keys", "needling_analytics.load", "load_clinic", True),  # privacy core: no load
        ("needling_analytics.privacy.export", "needling_analytics.load", "load_clinic", False),
        ("needling_analytics.demo.generator", "needling_analytics.metrics", "episode_pain", True),  # demo: base + load
        ("notebooks.clinic_report", "needling_analytics.reporting", "write_cache", False),
        ("notebooks.clinic_report", "needling_analytics.reporting.text", None, True),  # not a facade
        ("notebooks.clinic_report", "needling_analytics.cohort", "select_cohort", False),  # a facade
        ("needling_analytics.cohort", "needling_analytics.reporting", "write_cache", True),  # cohort is below reporting
        ("needling_analytics.metrics.pain", "needling_analytics.nowhere", None, True),  # unknown module
    ],
)
def test_the_layer_rule_itself(importer, module, name, broken):
    assert bool(_breaks_the_layers(Import(importer, 1, module, name))) is broken


def test_a_module_outside_the_table_is_reported():
    assert layer_of("needling_analytics.nowhere") is None
    assert layer_of("needling_analytics") == "package"
    assert layer_of("needling_analytics.privacy.suppression") == "privacy"
    assert layer_of("needling_analytics.load.sources._fhir.care") == "load"


# ------------------------------------------------------------------ private names


def _private_part(module: str, importer: str) -> str | None:
    """The private component of ``module``'s path that ``importer`` has no access to (None: all accessible).

    A private module (``metrics/_common.py``) belongs to its package: modules inside that package use it.
    """
    parts = module.split(".")
    for k, part in enumerate(parts):
        owner = ".".join(parts[:k])
        if _is_private(part) and not (importer == owner or importer.startswith(owner + ".")):
            return part
    return None


def _module_aliases(importer: str, path: Path, tree: ast.Module) -> dict[str, str]:
    """Local names bound to the package's modules: ``import a.b`` binds a, ``import a.b as x`` binds x to a.b."""
    bound = {}
    for imp in _imports(importer, path, tree):
        if imp.name is None:
            bound[imp.local] = imp.module if imp.local != PACKAGE else PACKAGE
    return bound


def _private_uses(importer: str, path: Path, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, "module:name" or module) for every private name ``importer`` takes from another module."""
    uses = []
    for imp in _imports(importer, path, tree):
        part = _private_part(imp.module, importer)
        if part is not None:
            uses.append((imp.line, imp.module))
        elif imp.name is not None and _is_private(imp.name):
            uses.append((imp.line, f"{imp.module}:{imp.name}"))
    aliases = _module_aliases(importer, path, tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain, inner = [node.attr], node.value
        while isinstance(inner, ast.Attribute):
            chain.insert(0, inner.attr)
            inner = inner.value
        if not isinstance(inner, ast.Name) or inner.id not in aliases:
            continue
        module = aliases[inner.id]
        for attr in chain:
            if _is_module(f"{module}.{attr}"):
                module = f"{module}.{attr}"
                continue
            if _is_private(attr) and module != importer:
                uses.append((node.lineno, f"{module}:{attr}"))
            break
    return uses


@cache
def _all_private_uses() -> dict[tuple[str, str], int]:
    found = {}
    for importer, (path, tree) in _sources().items():
        for line, what in _private_uses(importer, path, tree):
            found.setdefault((importer, what), line)
    return found


def test_no_module_uses_another_modules_private_names():
    wrong = {key: line for key, line in _all_private_uses().items() if key not in PRIVATE_EXCEPTIONS}
    assert not wrong, "\n".join(f"{importer} (line {line}) uses {what}" for (importer, what), line in wrong.items())


def test_the_private_exceptions_are_still_needed():
    stale = PRIVATE_EXCEPTIONS - set(_all_private_uses())
    assert not stale, f"no longer needed, remove: {sorted(stale)}"


def test_no_init_re_exports_a_private_name():
    wrong = []
    for name, (path, tree) in _sources().items():
        if path.name != "__init__.py":
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                wrong += [f"{name}: imports {a.name}" for a in node.names if _is_private(a.asname or a.name)]
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
                exported = [e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)]
                wrong += [f"{name}: __all__ lists {e}" for e in exported if isinstance(e, str) and _is_private(e)]
    assert not wrong, wrong


@pytest.mark.parametrize(
    ("source", "importer", "expected"),
    [
        ("from .calendar import _dates", "needling_analytics.demo.sessions", ["needling_analytics.demo.calendar:_dates"]),
        ("from ._common import attended_sessions", "needling_analytics.metrics.pain", []),  # its own package's
        ("from ..load.sources._fhir import care", "needling_analytics.demo.x", ["needling_analytics.load.sources._fhir.care"]),
        ("from needling_analytics.metrics import pain\npain._check(1)", "needling_analytics.plots.x", ["needling_analytics.metrics.pain:_check"]),
        ("import needling_analytics.metrics.pain as p\np._x", "needling_analytics.plots.x", ["needling_analytics.metrics.pain:_x"]),
        ("import needling_analytics\nneedling_analytics.metrics.pain._x", "notebooks.x", ["needling_analytics.metrics.pain:_x"]),
        ("import needling_analytics\nneedling_analytics.__version__", "notebooks.x", []),  # dunder: public
        ("from .theme import show_no_data as _no_data", "needling_analytics.plots.clinic", []),  # a public name
        ("def f():\n    from needling_analytics.runner.monthly import _jobs", "needling_analytics.cli", ["needling_analytics.runner.monthly:_jobs"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .x import _T", "needling_analytics.plots.y", []),  # annotations only
    ],
)  # fmt: skip
def test_the_private_rule_itself(source, importer, expected):
    path = ROOT.joinpath(*importer.split(".")).with_suffix(".py")
    found = [what for _, what in _private_uses(importer, path, ast.parse(source))]
    assert found == expected
