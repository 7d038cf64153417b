"""Reading a mapping file: the templates and files it ``extends``, merged layer by layer into a :class:`Mapping`."""

from __future__ import annotations

from pathlib import Path

from ...schema import TABLES
from .model import Mapping, TableMapping, check_timezone, mapping_error
from .tables import READ_OPTIONS, WHERE_KEYS, TableParser
from .yaml_lines import Lined, line_of, load_yaml

_TOP_KEYS = {*READ_OPTIONS, "tables", "extends", "source", "timezone", "dictionary", "password_env"}
#: Where the shipped templates live.
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"

#: The mapping file a data folder may hold for itself, used when no other is given.
DEFAULT_MAPPING_NAME = "mapping.yaml"


def default_mapping(data_path: str | Path) -> Path | None:
    """``<data folder>/mapping.yaml`` when it exists (a folder's own mapping), else None."""
    candidate = Path(data_path) / DEFAULT_MAPPING_NAME
    return candidate if Path(data_path).is_dir() and candidate.is_file() else None


def mapping_fingerprint(path: str | Path | None) -> str:
    """A hash of a mapping file and of every file it extends: what it says, not where it is."""
    import hashlib

    if path is None:
        return ""
    digest = hashlib.sha256()
    for _, file, _ in _layers(load_yaml(Path(path)), Path(path)):
        digest.update(Path(file).read_bytes())
    return digest.hexdigest()


def template_names() -> list[str]:
    """The templates shipped with the package (``extends: NAME``)."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


def _resolve_extends(name: str, path: Path | None, line) -> Path:
    if name in template_names():
        return TEMPLATE_DIR / f"{name}.yaml"
    base = (path.parent if path else Path.cwd()) / name
    if base.is_file():
        return base
    raise mapping_error(
        path, f"`extends: {name}` is neither a template ({', '.join(template_names())}) nor a file", line
    )


def _layers(raw: dict, path: Path | None, seen: tuple = ()) -> list[tuple[dict, Path | None, bool]]:
    """``raw`` and everything it extends, outermost template first: (content, file, is a template)."""
    if "extends" not in raw:
        return [(raw, path, False)]
    line = line_of(raw, "extends")
    base_path = _resolve_extends(str(raw["extends"]), path, line)
    if base_path in seen:
        raise mapping_error(path, f"`extends` goes round in a circle through {base_path.name}", line)
    base = _layers(load_yaml(base_path), base_path, (*seen, base_path))
    is_template = base_path.parent == TEMPLATE_DIR
    return [(c, p, t or is_template) for c, p, t in base] + [(raw, path, False)]


def read_mapping(path: str | Path | dict | None) -> Mapping:
    """Read a mapping file (or an already-parsed dict) into a :class:`Mapping`.

    Layers named by ``extends`` are applied first; each later layer
    overrides the earlier ones key by key (a table's ``columns``,
    ``constants``, ``compute`` and ``values`` are merged, anything else is
    replaced).

    Raises
    ------
    MappingError
        When the file cannot be parsed, has an unknown or duplicate key, or
        names unknown tables or columns; the message names the line.
    """
    if path is None:
        return Mapping()
    if isinstance(path, dict):
        raw, source = path, None
    else:
        source = Path(path)
        raw = load_yaml(source)
    layers = _layers(raw, source)
    top: dict = {}
    tables: dict[str, list] = {}
    for content, file, template in layers:
        unknown = set(content) - _TOP_KEYS
        if unknown:
            key = sorted(unknown)[0]
            raise mapping_error(
                file, f"unknown top-level key {key!r}; allowed: {sorted(_TOP_KEYS)}", line_of(content, key)
            )
        for key, value in content.items():
            if key not in ("tables", "extends"):
                top[key] = (value, file, line_of(content, key))
        node = content.get("tables") or {}
        if not isinstance(node, dict):
            raise mapping_error(file, "`tables` must map table names to their mappings", line_of(content, "tables"))
        for name, spec in node.items():
            if name not in TABLES:
                raise mapping_error(file, f"unknown table {name!r}; tables are {list(TABLES)}", line_of(node, name))
            if spec is not None and not isinstance(spec, dict):
                raise mapping_error(file, f"table {name!r} must be a mapping of keys", line_of(node, name))
            tables.setdefault(name, []).append((spec or Lined(), file, template))
    defaults = {k: v for k, (v, _, _) in top.items() if k in READ_OPTIONS}
    built = {"*": TableParser("*", {}, source, False).build(defaults)}
    for name, layered in tables.items():
        built[name] = _merge_layers(name, layered, defaults)
    timezone = top.get("timezone")
    return Mapping(
        tables=built,
        source=source,
        kind=str(top["source"][0]) if "source" in top else None,
        timezone=check_timezone(timezone[0], timezone[1], timezone[2]) if timezone else None,
        dictionary=str(top["dictionary"][0]) if "dictionary" in top else None,
        password_env=str(top["password_env"][0]) if "password_env" in top else None,
        extends=tuple(str(p) for _, p, t in layers[:-1]),
    )


_MERGED_KEYS = ("columns", "constants", "compute", "values")


def _merge_layers(name: str, layered: list, defaults: dict) -> TableMapping:
    """One table's mapping from its layers: each parsed in its own file (for lines), then merged."""
    parts = [TableParser(name, spec, file, template) for spec, file, template in layered]
    built = [part.build(defaults, with_derive=i == 0) for i, part in enumerate(parts)]
    if len(built) == 1:
        return built[0]
    from dataclasses import replace

    result = built[0]
    derive = parts[0].spec.get("derive")
    for part, table in zip(parts[1:], built[1:], strict=True):
        changes = {}
        for key in WHERE_KEYS + ("measurements",):
            if key in part.spec:
                changes[key] = getattr(table, key)
        if "derive" in part.spec:  # merged key by key; `derive: null` drops an inherited rule
            node = part.spec["derive"]
            derive = None if node is None else {**(derive or {}), **node}
            merged = TableParser(name, Lined(derive=derive), part.path, part.template)
            merged.spec.lines = {"derive": part.line("derive")}
            changes["derive"] = merged.derive()
        for key in READ_OPTIONS:
            if key in part.spec:
                attribute = "date_formats" if key == "date_format" else key
                changes[attribute] = getattr(table, attribute)
        for key in _MERGED_KEYS:
            if key in part.spec:
                merged = dict(getattr(result, key))
                if key == "values":
                    for column, labels in table.values.items():
                        merged[column] = {**merged.get(column, {}), **labels}
                else:
                    merged.update(getattr(table, key))
                changes[key] = merged
        changes["origin"] = {**result.origin, **table.origin}
        changes["spelled"] = {**result.spelled, **table.spelled}
        result = replace(result, **changes)
    return result
