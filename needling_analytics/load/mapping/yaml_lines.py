"""YAML with the line of every key and no duplicate keys, for messages that name the line."""

from __future__ import annotations

from pathlib import Path

import yaml

from ...errors import MappingError
from .model import mapping_error


class Lined(dict):
    """A YAML mapping that remembers the line of each key."""

    lines: dict


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Lined:
    loader.flatten_mapping(node)
    out, lines = Lined(), {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool):  # `yes:` or `no:` as a label, not a truth value
            key = key_node.value
        if key in out:
            raise MappingError(
                f"line {key_node.start_mark.line + 1}: key {key!r} appears twice (first on line {lines[key]})",
                path=getattr(loader, "path", None),
                hint="keep one of them: YAML would silently use the last one.",
            )
        out[key] = loader.construct_object(value_node, deep=True)
        lines[key] = key_node.start_mark.line + 1
    out.lines = lines
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def line_of(node, key) -> int | None:
    return getattr(node, "lines", {}).get(key)


def load_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise mapping_error(path, "mapping file not found") from None
    loader = _Loader(text)
    loader.path = path
    try:
        raw = loader.get_single_data() or {}
    except yaml.YAMLError as exc:
        raise mapping_error(path, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise mapping_error(path, "a mapping file must be a YAML mapping of options and `tables`")
    return raw
