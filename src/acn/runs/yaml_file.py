"""YAML files and values read safely: a regular file of bounded size, safe types only, and a
document whose aliases would expand beyond any config (an "alias bomb") refused before it is
built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..utils import read_text

MAX_CONFIG_BYTES = 1 << 20  # a config is a few kB; a file near this is not one
# Values a YAML document may hold once its aliases are expanded: a config has a few hundred. An
# "alias bomb" (each anchor a list of the previous one, nine deep) holds 10^9 in a few hundred bytes.
MAX_YAML_VALUES = 100_000


def parse_yaml(text: str, where: str) -> Any:
    """The value of one YAML document (safe types only), refused in one line if it is invalid, or
    nested or expanded (through aliases) beyond what any config holds, before it is built."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise ConfigError(f"invalid YAML in {where}{at}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"invalid YAML in {where}: nested too deeply") from None
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, where: str) -> None:
    """ConfigError if the node graph of a document, with every alias expanded, holds more than
    :data:`MAX_YAML_VALUES` values or refers to itself. Counted on the graph (each node once),
    so the check costs what the document's text does, not what it would expand to."""
    sizes: dict[int, int] = {}
    pending: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in pending:
            raise ConfigError(f"invalid YAML in {where}: an alias refers to its own anchor")
        pending.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        pending.discard(key)
        if total > MAX_YAML_VALUES:
            raise ConfigError(
                f"{where} expands to more than {MAX_YAML_VALUES:,} values through YAML aliases; "
                "not a config acn reads"
            )
        sizes[key] = total
        return total

    size(root)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML file; one-line ConfigError if missing, not a regular file, too
    large, unreadable, an alias bomb or not a mapping."""
    p = Path(path).expanduser()
    values = parse_yaml(read_text(p, "config file", MAX_CONFIG_BYTES, ConfigError), str(p))
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {p} must hold a mapping, got {type(values).__name__}")
    return values
