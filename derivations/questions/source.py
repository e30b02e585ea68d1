"""Reading a question file: YAML through a safe loader that remembers where everything was.

``yaml.SafeLoader`` builds only plain data (no Python objects, no tags that run code); the
subclass here only records, for every mapping and list, the line of each key and item, so a
message can say ``beta_vae.yaml:14``. A key written twice in one mapping is an error (plain
``safe_load`` keeps the last silently).
"""
from __future__ import annotations

from pathlib import Path

import yaml


class QuestionError(ValueError):
    """A problem with a question file, at a line (1-based; 0 when the whole file is meant)."""

    def __init__(self, path, line: int, message: str):
        self.path, self.line, self.message = str(path), int(line or 0), message
        super().__init__(f"{self.where}: {message}")

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class Map(dict):
    """A YAML mapping with the line of the mapping, of each key and of each value."""

    line: int = 0

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.key_lines: dict = {}
        self.value_lines: dict = {}

    def line_of(self, key) -> int:
        """The line of ``key``'s value (or of the mapping, when the key is absent)."""
        return self.value_lines.get(key, self.key_lines.get(key, self.line))


class Seq(list):
    """A YAML list with the line of the list and of each item."""

    line: int = 0

    def __init__(self, *a):
        super().__init__(*a)
        self.item_lines: list = []

    def line_of(self, i: int) -> int:
        return self.item_lines[i] if 0 <= i < len(self.item_lines) else self.line


def line_of(container, key, default: int = 0) -> int:
    if isinstance(container, (Map, Seq)):
        return container.line_of(key)
    return default


class _Loader(yaml.SafeLoader):
    """SafeLoader that builds ``Map`` / ``Seq`` with lines; nothing else is changed."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Map:
    loader.flatten_mapping(node)
    out = Map()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise QuestionError(loader.name, line, "a mapping key must be a plain value") from None
        if key in out:
            raise QuestionError(loader.name, line, f"the key {key!r} is written twice in this mapping "
                                f"(first on line {out.key_lines[key]})")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
        out.value_lines[key] = value_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> Seq:
    out = Seq()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.item_lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def read(path) -> Map:
    """The question file at ``path`` as a ``Map``; ``QuestionError`` (with the line) when it
    cannot be read or is not a mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionError(path, 0, f"cannot read the file ({exc})") from None
    return loads(text, str(path))


def loads(text: str, name: str = "<question>") -> Map:
    loader = _Loader(text)
    loader.name = name
    try:
        data = loader.get_single_data()
    except QuestionError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise QuestionError(name, line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise QuestionError(name, 0, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, Map):
        raise QuestionError(name, 1, "a question file is a YAML mapping (id:, title:, slots:)")
    return data
