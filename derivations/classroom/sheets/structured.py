"""YAML and JSON sheets parsed safely: no aliases (alias bombs), bounded nesting, a key given
twice kept visible (PyYAML silently keeps the last), numbers kept as the student wrote them."""
from __future__ import annotations

import json

import yaml

from .model import _DUPLICATED, MAX_NESTING, MalformedYaml, SheetError


class _SheetLoader(yaml.SafeLoader):
    """Safe YAML without aliases (no alias bombs), bounded nesting, duplicated keys kept as
    ``_DUPLICATED`` and listed in ``dups`` (PyYAML silently keeps the last one)."""

    def __init__(self, stream):
        super().__init__(stream)
        self.depth, self.dups = 0, []

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise MalformedYaml(f"YAML aliases (*{event.anchor}) are not allowed in answer sheets "
                                f"(line {event.start_mark.line + 1})")
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise MalformedYaml(f"the YAML is nested too deeply (line {self.peek_event().start_mark.line + 1})")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        out = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise SheetError(f"a mapping key at line {key_node.start_mark.line + 1} is not text") from None
            value = self.construct_object(value_node, deep=True)
            if key in out:
                self.dups.append((str(key), key_node.start_mark.line + 1))
                out[key] = _DUPLICATED
            else:
                out[key] = value
        return out


_SheetLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _SheetLoader.construct_mapping)
# numbers stay as written: an answer "1e-3" or "0.50" is the student's text, and a 5000-digit
# integer is not converted (Python refuses that conversion)
NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
for _tag in NUMBER_TAGS:
    _SheetLoader.add_constructor(_tag, yaml.SafeLoader.construct_scalar)


_CLoader = getattr(yaml, "CSafeLoader", None)


if _CLoader is not None:
    class _FastSheetLoader(_CLoader):
        """libyaml's parser (about 8x faster), used only after ``_fast_loader`` has walked the
        event stream: no aliases, bounded nesting -- its composer is recursive C code."""

        def __init__(self, stream):
            super().__init__(stream)
            self.dups = []

        construct_mapping = _SheetLoader.construct_mapping

    _FastSheetLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                     _FastSheetLoader.construct_mapping)
    for _tag in NUMBER_TAGS:
        _FastSheetLoader.add_constructor(_tag, _CLoader.construct_scalar)


def _fast_loader(text: str):
    """A libyaml loader for ``text`` once its events are known safe (None without libyaml)."""
    if _CLoader is None:
        return None
    depth = 0
    opens = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    closes = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    for event in yaml.parse(text, Loader=_CLoader):   # libyaml's event parser is iterative
        if isinstance(event, yaml.AliasEvent):
            raise MalformedYaml(f"YAML aliases (*{event.anchor}) are not allowed in answer sheets "
                                f"(line {event.start_mark.line + 1})")
        if isinstance(event, opens):
            depth += 1
            if depth > MAX_NESTING:
                raise MalformedYaml(f"the YAML is nested too deeply (line {event.start_mark.line + 1})")
        elif isinstance(event, closes):
            depth -= 1
    return _FastSheetLoader(text)


def _depth(obj, limit=MAX_NESTING) -> int:
    stack, deepest = [(obj, 1)], 0
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def load_structured(text: str, suffix: str) -> tuple[object, list[tuple[str, int | None]]]:
    """Parse YAML or JSON; returns (data, duplicated keys with their line)."""
    if suffix == ".json":
        dups: list[tuple[str, int | None]] = []

        def pairs(items):
            out = {}
            for k, v in items:
                if k in out:
                    dups.append((k, None))
                    out[k] = _DUPLICATED
                else:
                    out[k] = v
            return out
        try:
            data = json.loads(text, object_pairs_hook=pairs, parse_int=str, parse_float=str,
                              parse_constant=str)   # numbers as written (see NUMBER_TAGS)
        except json.JSONDecodeError as exc:
            raise SheetError(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        except RecursionError:
            raise SheetError("the JSON is nested too deeply") from None
        return data, dups
    loader = None
    try:
        loader = _fast_loader(text) or _SheetLoader(text)
        return loader.get_single_data(), loader.dups
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MalformedYaml(f"malformed YAML: {what}{where}") from None
    except RecursionError:
        raise MalformedYaml("the YAML is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
