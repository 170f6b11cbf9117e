"""Strict YAML reading for config files: syntax errors with file and line, duplicate keys rejected.

PyYAML silently keeps the last of two equal keys; a config where `rows:` appears twice
would then run with a value the user may not have meant. We compose the node tree
first, reject duplicates, and remember the line of every key so that later schema
errors can point at the line too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cosim.common.errors import UserError
from cosim.hw.issues import KeyPath, format_key


class NumberLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading numbers as YAML 1.2 does.

    PyYAML follows YAML 1.1, where ``1.0e300`` and ``1e6`` (no sign after the ``e``, or no
    dot) are strings; a user writing them means a number, and a range check then explains
    what is allowed, instead of "found '1.0e300'".
    """


NumberLoader.yaml_implicit_resolvers = {  # without YAML 1.1's float pattern, replaced below
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
NumberLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)
        |[-+]?(?:[0-9][0-9_]*)\.[0-9_]*
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml_value(text: str) -> Any:
    """One YAML value from `text`, numbers read as `NumberLoader` reads them."""
    return yaml.load(text, Loader=NumberLoader)  # a SafeLoader subclass: no arbitrary objects


@dataclass
class YamlDocument:
    """The data of one YAML file plus the line (1-based) where each key path starts."""

    path: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, key: KeyPath) -> int | None:
        """Line of `key`, or of its nearest enclosing key that exists in the file."""
        for end in range(len(key), -1, -1):
            line = self.lines.get(tuple(key[:end]))
            if line is not None:
                return line
        return None

    def where(self, key: KeyPath) -> str:
        """'file:line' for messages (just 'file' when the line is unknown)."""
        line = self.line_of(key)
        return f"{self.path}:{line}" if line else self.path

    def error(self, key: KeyPath, expected: str, found: Any, *, found_is_text: bool = False) -> UserError:
        """A `UserError` at `key` of this file."""
        return UserError(self.where(key), format_key(key) or None, expected, found, found_is_text=found_is_text)


def read_yaml(path: str | Path) -> YamlDocument:
    """Read one YAML document whose top level is a mapping; raise `UserError` otherwise."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(shown, None, "an existing YAML file", "no such file", found_is_text=True) from None
    except IsADirectoryError:
        raise UserError(shown, None, "a YAML file", "a directory", found_is_text=True) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(shown, None, "a readable UTF-8 YAML file", str(error), found_is_text=True) from None
    return parse_yaml(text, shown)


def parse_yaml(text: str, shown: str) -> YamlDocument:
    """Parse `text` (reported as file `shown`) like `read_yaml`."""
    try:
        node = yaml.compose(text, Loader=NumberLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        found = f"a syntax error: {error.problem or 'unparsable text'}"
        if error.context and error.context_mark:
            found += f" ({error.context} at line {error.context_mark.line + 1})"
        raise UserError(where, None, "valid YAML", found, found_is_text=True) from None
    except yaml.YAMLError as error:
        raise UserError(shown, None, "valid YAML", str(error).splitlines()[0], found_is_text=True) from None
    if node is None:
        raise UserError(shown, None, "a YAML mapping of keys to values", "an empty file", found_is_text=True)
    if not isinstance(node, yaml.MappingNode):
        raise UserError(
            f"{shown}:{node.start_mark.line + 1}",
            None,
            "a YAML mapping of keys to values",
            f"a {_node_kind(node)}",
            found_is_text=True,
        )
    document = YamlDocument(shown, None)
    _index(node, (), document)
    document.data = NumberLoader(text).get_single_data()
    return document


def _index(node: yaml.Node, key: KeyPath, document: YamlDocument) -> None:
    document.lines.setdefault(key, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                _index(value_node, key, document)
                continue
            name = _key_value(key_node)
            line = key_node.start_mark.line + 1
            if name in first_line:
                raise UserError(
                    f"{document.path}:{line}",
                    format_key(key) or None,
                    "each key once",
                    f"{name!r} again (first at line {first_line[name]})",
                    found_is_text=True,
                )
            first_line[name] = line
            document.lines[(*key, name)] = line
            _index(value_node, (*key, name), document)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            document.lines[(*key, index)] = item.start_mark.line + 1
            _index(item, (*key, index), document)


def _key_value(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value = NumberLoader("").construct_object(node)
        return value if isinstance(value, (str, int, float, bool)) or value is None else node.value
    return f"<{_node_kind(node)}>"


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return f"single value ({node.value!r})"
